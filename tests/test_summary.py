"""Story summaries: sentence splitting and the extractive choice on hand-written stories (real embedder),
then the store-backed path on a real data dir (real pipeline, SQLite, FAISS) with the cache, and the
LLM path against a real OpenAI-compatible HTTP server on 127.0.0.1 replying with canned completions."""

from __future__ import annotations

import logging
import shutil
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from llmserver import LlmServer, Reply, completion

from bot.core.config import Settings, resolve_paths
from bot.core.models import Item, RawEntry
from bot.ingest.normalize import detect_language
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.query.llm import LlmClient
from bot.query.summary import (
    SUMMARY_CHARS,
    Candidate,
    clip,
    extractive_texts,
    is_boilerplate,
    pick_central,
    split_sentences,
    story_version,
    summarize_stories,
    summarize_story,
)
from bot.storage import StorySummary

NOW = datetime.now(UTC).replace(microsecond=0)
KEY = "sk-test-summary-5ecret"

# -- one story in four outlets, two languages: the shared fact, peripheral lines, boilerplate ---------

AURORA = [  # (source, lang, title, paragraphs, hours before now)
    (
        "lab_wire",
        "en",
        "Aurora Labs releases Zephyr-7, an open-weight reasoning model",
        [
            "Subscribe to our newsletter for the latest AI news.",
            "The company was founded in 2019 in Toronto by two former university researchers."
            " Aurora Labs on Tuesday released Zephyr-7, an open-weight reasoning model with 70 billion parameters,"
            " under an Apache 2.0 license.",
            "Read more: https://lab.example/zephyr-7",
        ],
        30,
    ),
    (
        "tech_daily",
        "en",
        "Zephyr-7: Aurora Labs opens the weights of its new reasoning model",
        [
            "Shares of chip makers were little changed in afternoon trading on Wall Street.",
            "Aurora Labs has published the weights of Zephyr-7, a 70-billion-parameter reasoning model,"
            " for anyone to download.",
            "We use cookies to improve your experience.",
        ],
        28,
    ),
    (
        "ai_cn",
        "zh",
        "Aurora Labs 发布开源推理模型 Zephyr-7",
        [
            "多伦多今天天气晴朗，最高气温十五度，适合出门散步。"
            "Aurora Labs 周二发布开源推理模型 Zephyr-7，参数量为 700 亿，采用 Apache 2.0 许可证。",
            "本文来自机器之心，转载请联系授权。",
        ],
        27,
    ),
    (
        "tech_cn",
        "zh",
        "700 亿参数推理模型 Zephyr-7 开源",
        [
            "原文链接：https://tech.example/a/1",
            "Aurora Labs 开源了 700 亿参数的推理模型 Zephyr-7，任何人都可以下载模型权重。",
        ],
        26,
    ),
]
AURORA_FACTS = {
    "en": (
        "Aurora Labs on Tuesday released Zephyr-7, an open-weight reasoning model with 70 billion parameters,"
        " under an Apache 2.0 license.",
        "Aurora Labs has published the weights of Zephyr-7, a 70-billion-parameter reasoning model,"
        " for anyone to download.",
    ),
    "zh": (
        "Aurora Labs 周二发布开源推理模型 Zephyr-7，参数量为 700 亿，采用 Apache 2.0 许可证。",
        "Aurora Labs 开源了 700 亿参数的推理模型 Zephyr-7，任何人都可以下载模型权重。",
    ),
}
OTHERS = [
    (
        "money_news",
        "en",
        "Nimbus Robotics raises $300 million to build humanoid robots for warehouses",
        [
            "Humanoid robot start-up Nimbus Robotics raised $300 million in a Series C round led by Granite Ventures,"
            " valuing the company at $2 billion."
        ],
        50,
    ),
    (
        "tech_cn",
        "zh",
        "人形机器人公司 Nimbus Robotics 完成 3 亿美元 C 轮融资",
        ["人形机器人初创公司 Nimbus Robotics 宣布完成 3 亿美元 C 轮融资，由 Granite Ventures 领投，估值 20 亿美元。"],
        48,
    ),
    (
        "policy_post",
        "en",
        "EU lawmakers approve transparency rules for general-purpose AI models",
        [
            "The European Parliament approved rules requiring providers of general-purpose AI models to publish"
            " summaries of their training data."
        ],
        120,
    ),
]
LATE_AURORA = (
    "wire_asia",
    "en",
    "Aurora Labs' Zephyr-7 reasoning model draws developers after open release",
    ["Developers downloaded Aurora Labs' open-weight Zephyr-7 reasoning model more than a million times in a day."],
    2,
)
OTHER_TITLES = [title for _, _, title, _, _ in OTHERS]


def item(position: int, source: str, lang: str, title: str, paragraphs: list[str], hours: float) -> Item:
    published = NOW - timedelta(hours=hours)
    url = f"https://{source}.example/{position}"
    return Item(source, url, url, title, "\n".join(paragraphs), lang, published, NOW, f"h{position}", id=position)


def items(rows) -> list[Item]:
    return [item(position, *row) for position, row in enumerate(rows, start=1)]


def raw(source: str, lang: str, title: str, paragraphs: list[str], hours: float) -> RawEntry:
    link = f"https://{source}.example/{zlib.crc32(title.encode())}"
    html = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return RawEntry(source, title, link, NOW, guid=link, summary_html=html, published=NOW - timedelta(hours=hours))


# -- sentences -----------------------------------------------------------------------------------


def test_english_sentences_keep_abbreviations_versions_and_links_whole():
    text = (
        "The U.S. Commerce Dept. said on Monday that OpenAI's GPT-3.5 Turbo, e.g. the chat model, costs $0.002 per"
        " 1K tokens. Dr. Li Wei, who leads the team at Tsinghua Univ., agreed! Was it worth it? The docs are at"
        " https://platform.openai.com/docs/models/gpt-3.5-turbo. Shares of Yahoo! rose 3.5% in early trading.\n"
        "A second paragraph without a full stop"
    )
    assert split_sentences(text) == [
        "The U.S. Commerce Dept. said on Monday that OpenAI's GPT-3.5 Turbo, e.g. the chat model, costs $0.002 per"
        " 1K tokens.",
        "Dr. Li Wei, who leads the team at Tsinghua Univ., agreed!",
        "Was it worth it?",
        "The docs are at https://platform.openai.com/docs/models/gpt-3.5-turbo.",
        "Shares of Yahoo! rose 3.5% in early trading.",
        "A second paragraph without a full stop",
    ]


def test_chinese_and_mixed_sentences_split_at_full_width_marks():
    text = (
        "OpenAI 发布 GPT-4o，支持语音与图像输入。价格比 GPT-4 Turbo 便宜一半！这意味着什么？"
        "“这是一个里程碑。”Altman 说。Sam Altman said the model is free. 免费用户也能使用 GPT-4o."
        "本文来自量子位。"
    )
    assert split_sentences(text) == [
        "OpenAI 发布 GPT-4o，支持语音与图像输入。",
        "价格比 GPT-4 Turbo 便宜一半！",
        "这意味着什么？",
        "“这是一个里程碑。”",
        "Altman 说。",
        "Sam Altman said the model is free.",
        "免费用户也能使用 GPT-4o.",
        "本文来自量子位。",
    ]


@pytest.mark.parametrize(
    ("sentence", "lang"),
    [
        ("Read more: https://example.com/story", "en"),
        ("Subscribe to our newsletter for daily AI news.", "en"),
        ("We use cookies to improve your experience on our site.", "en"),
        ("The post Zephyr-7 is here appeared first on Lab Wire.", "en"),
        ("Photo: Reuters", "en"),
        ("原文链接：https://tech.example/a/1", "zh"),
        ("本文来自机器之心，转载请联系授权。", "zh"),
        ("点击查看原文>", "zh"),
        ("欢迎关注我们的微信公众号，获取更多资讯。", "zh"),
        ("详见下文。", "zh"),
    ],
)
def test_boilerplate_and_fragments_are_dropped(sentence, lang):
    assert is_boilerplate(sentence, lang)


@pytest.mark.parametrize(
    ("sentence", "lang"),
    [
        ("Netflix said its subscribers grew by 9 million in the quarter.", "en"),
        ("The New York Times sued OpenAI and Microsoft over copyright infringement.", "en"),
        ("新算法让广告点击率提升了 12%，转化成本下降 8%。", "zh"),
        ("多家出版商就版权问题起诉 OpenAI。", "zh"),
    ],
)
def test_news_that_mentions_those_words_is_kept(sentence, lang):
    assert not is_boilerplate(sentence, lang)


def test_clip_cuts_at_a_word_and_never_inside_a_latin_name():
    english = "Aurora Labs released Zephyr-7, an open-weight reasoning model, " * 6
    clipped = clip(english, "en")
    assert len(clipped) <= SUMMARY_CHARS["en"] and clipped.endswith("…")
    assert english.startswith(clipped[:-1]) and english[len(clipped) - 1] in " ,"
    chinese = "谷歌发布新模型，" * 12 + "由 AlphaFold Server 开放。"  # the cut at 99 falls inside "AlphaFold"
    assert clip(chinese, "zh") == "谷歌发布新模型，" * 12 + "由…"
    assert clip("Short enough.", "en") == "Short enough."


# -- the extractive choice -------------------------------------------------------------------------


def test_extractive_picks_the_fact_the_outlets_share(embedder):
    (english,) = extractive_texts([items(AURORA)], "en", embedder)
    (chinese,) = extractive_texts([items(AURORA)], "zh", embedder)
    assert english in AURORA_FACTS["en"] and chinese in AURORA_FACTS["zh"]


def test_reader_language_wins_when_the_story_has_it_else_the_best_sentence_of_any(embedder):
    english_only = items(AURORA[:2])
    chinese_only = items(AURORA[2:])
    texts = extractive_texts([english_only, chinese_only, english_only, chinese_only], "zh", embedder)
    assert texts[0] in AURORA_FACTS["en"]  # a zh reader, no zh item: the English fact
    assert texts[1] in AURORA_FACTS["zh"]
    assert extractive_texts([chinese_only], "en", embedder)[0] in AURORA_FACTS["zh"]
    assert detect_language(texts[1]) == "zh"


def test_extractive_is_deterministic_and_batching_does_not_change_the_choice(embedder):
    one_by_one = [extractive_texts([items(rows)], "en", embedder)[0] for rows in (AURORA, OTHERS)]
    assert extractive_texts([items(AURORA), items(OTHERS)], "en", embedder) == one_by_one


def test_a_headline_only_when_no_body_sentence_is_left():
    vectors = np.eye(3, dtype=np.float32)
    headline = Candidate("Aurora Labs releases Zephyr-7", "en", 0, "en", headline=True)
    body = Candidate("An unrelated line about the weather in Toronto today.", "en", 1, "en")
    chinese = Candidate("Aurora Labs 发布开源推理模型 Zephyr-7 的正文。", "zh", 2, "zh")
    assert pick_central([headline, body, chinese], vectors, "en") == body
    assert pick_central([headline, chinese], vectors[[0, 2]], "en") == headline  # nothing better in English
    assert pick_central([headline, body], vectors[:2], "zh") == body  # no zh item: any language
    assert pick_central([], np.zeros((0, 3), dtype=np.float32), "en") is None


# -- the store, the cache and the LLM --------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    """A data dir with the stories ingested through the real pipeline, built once and copied per test."""
    data = tmp_path_factory.mktemp("summary") / "data"
    pipeline, _ = open_pipeline(Settings(), resolve_paths(data), embedder=embedder)
    pipeline.ingest([raw(*row) for row in AURORA + OTHERS])
    pipeline.close()
    return data


@pytest.fixture
def pipeline(built, tmp_path, embedder) -> Iterator[Pipeline]:
    data = tmp_path / "data"
    shutil.copytree(built, data)
    opened, _ = open_pipeline(Settings(), resolve_paths(data), embedder=embedder)
    yield opened
    opened.close()


@pytest.fixture
def llm(llm_server: LlmServer) -> Iterator[LlmClient]:
    with LlmClient(llm_server.base_url, "tiny-summarizer", api_key=KEY, timeout=0.5) as client:
        yield client


def stories(pipeline: Pipeline) -> list[StorySummary]:
    return pipeline.store.stories_updated_since(datetime(2000, 1, 1, tzinfo=UTC))


def aurora(pipeline: Pipeline) -> StorySummary:
    return next(story for story in stories(pipeline) if "Zephyr" in story.title)


def extractive(pipeline: Pipeline, embedder, lang: str = "en") -> str:
    return extractive_texts([pipeline.store.story_items(aurora(pipeline).id)], lang, embedder)[0]


GOOD = "Aurora Labs released Zephyr-7, a 70-billion-parameter open-weight reasoning model, under an Apache license."


def test_the_pipeline_told_one_story_in_four_outlets(pipeline):
    story = aurora(pipeline)
    assert (story.items, story.outlets, story.langs) == (4, 4, ("en", "zh"))
    assert len(stories(pipeline)) == 3


def test_without_llm_the_extractive_summary_is_cached_for_the_version(pipeline, embedder):
    story = aurora(pipeline)
    summary = summarize_story(pipeline.store, story, "en", embedder, None)
    assert (summary.method, summary.lang) == ("extractive", "en") and summary.text in AURORA_FACTS["en"]
    version = story_version(pipeline.store.story_items(story.id))
    assert pipeline.store.cached_summary(story.id, "en", version) == ("extractive", summary.text)
    assert pipeline.store.cached_summary(story.id, "zh", version) is None
    assert summarize_story(pipeline.store, story, "en", embedder, None) == summary


def test_a_digest_of_stories_in_both_languages(pipeline, embedder):
    listed = stories(pipeline)
    for lang in ("en", "zh"):
        summaries = summarize_stories(pipeline.store, listed, lang, embedder, None)
        assert list(summaries) == [story.id for story in listed]
        for story in listed:
            expected = lang if lang in story.langs else story.langs[0]
            assert detect_language(summaries[story.id].text) == expected, summaries[story.id]
            assert summaries[story.id].text


def test_llm_summary_is_used_then_reused_until_the_story_changes(pipeline, embedder, llm_server, llm):
    story = aurora(pipeline)
    llm_server.queue(completion(f"“{GOOD}”"))
    summary = summarize_story(pipeline.store, story, "en", embedder, llm)
    assert (summary.method, summary.text) == ("llm", GOOD)
    assert summarize_story(pipeline.store, story, "en", embedder, llm) == summary
    assert len(llm_server.requests) == 1  # the second call came from the cache

    pipeline.ingest([raw(*row) for row in AURORA + OTHERS])  # a feed listing the same entries again
    assert summarize_story(pipeline.store, story, "en", embedder, llm) == summary
    assert len(llm_server.requests) == 1

    pipeline.ingest([raw(*LATE_AURORA)])  # a new outlet joins the story: a new version
    assert aurora(pipeline).items == 5
    newer = "Aurora Labs opened the weights of Zephyr-7, which developers downloaded a million times in a day."
    llm_server.queue(completion(newer))
    assert summarize_story(pipeline.store, story, "en", embedder, llm).text == newer
    assert len(llm_server.requests) == 2 and LATE_AURORA[2] in llm_server.requests[1].prompt


def test_llm_summary_in_chinese_for_a_chinese_reader(pipeline, embedder, llm_server, llm):
    reply = "Aurora Labs 发布了 700 亿参数的开源推理模型 Zephyr-7，采用 Apache 2.0 许可证。"
    llm_server.queue(completion(reply))
    summary = summarize_story(pipeline.store, aurora(pipeline), "zh", embedder, llm)
    assert (summary.method, summary.lang, summary.text) == ("llm", "zh", reply)
    assert "Simplified Chinese (简体中文)" in llm_server.requests[0].prompt


def test_the_prompt_holds_only_this_storys_items_without_links_or_boilerplate(pipeline, embedder, llm_server, llm):
    llm_server.queue(completion(GOOD))
    summarize_story(pipeline.store, aurora(pipeline), "en", embedder, llm)
    (request,) = llm_server.requests
    prompt = request.prompt
    assert request.body["model"] == "tiny-summarizer" and request.headers["authorization"] == f"Bearer {KEY}"
    for _, _, title, _, _ in AURORA:
        assert title in prompt
    for fact in AURORA_FACTS["en"] + AURORA_FACTS["zh"]:
        assert fact in prompt
    assert not any(title in prompt for title in OTHER_TITLES)
    assert not any(word in prompt for word in ("Nimbus", "European Parliament", "https://", "Subscribe", "原文链接"))
    assert "English" in prompt and "{" not in prompt and "at most 300 characters" in prompt


def test_a_failed_llm_call_falls_back_and_waits_for_the_next_version(pipeline, embedder, llm_server, llm, caplog):
    caplog.set_level(logging.INFO, logger="bot.query.summary")
    story = aurora(pipeline)
    llm_server.queue(Reply(body=b"{}", delay=3.0))
    summary = summarize_story(pipeline.store, story, "en", embedder, llm)
    assert (summary.method, summary.text) == ("fallback", extractive(pipeline, embedder))
    assert "did not answer within 0.5s" in caplog.text and KEY not in caplog.text
    assert summarize_story(pipeline.store, story, "en", embedder, llm) == summary
    assert len(llm_server.requests) == 1  # a broken endpoint costs one timeout per story version

    pipeline.ingest([raw(*LATE_AURORA)])
    llm_server.queue(completion(GOOD))
    assert summarize_story(pipeline.store, story, "en", embedder, llm).method == "llm"
    assert len(llm_server.requests) == 2


def test_a_failed_call_spares_the_rest_of_the_batch_which_is_asked_next_time(pipeline, embedder, llm_server, llm):
    listed = stories(pipeline)
    llm_server.queue(Reply(body=b"{}", delay=3.0))
    first = summarize_stories(pipeline.store, listed, "en", embedder, llm)
    assert [first[story.id].method for story in listed] == ["fallback", "extractive", "extractive"]
    assert len(llm_server.requests) == 1  # one timeout for the whole digest

    llm_server.queue(completion(GOOD), completion(GOOD))
    second = summarize_stories(pipeline.store, listed, "en", embedder, llm)
    assert [second[story.id].method for story in listed] == ["fallback", "llm", "llm"]
    assert second[listed[0].id] == first[listed[0].id] and len(llm_server.requests) == 3


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(body=b"<html>Bad gateway</html>"), "not JSON"),
        (Reply(status=500, body=b'{"error": "overloaded"}'), "HTTP 500"),
        (completion(""), "empty"),
        (completion("Aurora Labs 发布了开源推理模型 Zephyr-7，参数量为 700 亿。"), "is in zh, not en"),
        (completion(GOOD + " " + GOOD + " " + GOOD), "too long"),
        (completion("Aurora Labs released Zephyr-7. It is open. It has 70B parameters."), "3 sentences"),
        (completion("Aurora Labs released Zephyr-7; see https://lab.example/zephyr-7 for details."), "link"),
        (completion("**Zephyr-7**: Aurora Labs released an open-weight reasoning model."), "Markdown"),
        (completion("- Aurora Labs released Zephyr-7\n- It is open-weight"), "Markdown"),
        (completion("Aurora Labs released Zephyr-7, an open-weight reasoning model [1]."), "citation"),
    ],
    ids=[
        "not-json",
        "http-500",
        "empty",
        "wrong-language",
        "too-long",
        "three-sentences",
        "url",
        "bold",
        "list",
        "cite",
    ],
)
def test_an_unusable_reply_falls_back_to_the_extractive_summary(
    pipeline, embedder, llm_server, llm, caplog, reply, reason
):
    caplog.set_level(logging.INFO, logger="bot.query.summary")
    llm_server.queue(reply)
    summary = summarize_story(pipeline.store, aurora(pipeline), "en", embedder, llm)
    assert (summary.method, summary.text) == ("fallback", extractive(pipeline, embedder))
    assert reason in caplog.text and f"story {aurora(pipeline).id} (en)" in caplog.text


def test_extractive_made_without_an_llm_gets_an_llm_attempt_and_an_llm_text_is_not_shown_without_one(
    pipeline, embedder, llm_server, llm
):
    story = aurora(pipeline)
    assert summarize_story(pipeline.store, story, "en", embedder, None).method == "extractive"
    llm_server.queue(completion(GOOD))
    assert summarize_story(pipeline.store, story, "en", embedder, llm).method == "llm"
    assert len(llm_server.requests) == 1
    without = summarize_story(pipeline.store, story, "en", embedder, None)
    assert (without.method, without.text) == ("extractive", extractive(pipeline, embedder))
