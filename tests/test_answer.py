"""Answers end to end: a real data dir (real embedder, SQLite, FAISS), real search, and for the LLM
path a real OpenAI-compatible HTTP server on 127.0.0.1 replying with canned completions."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from llmserver import LlmServer, Reply, completion

from bot.cli import main
from bot.core.config import Settings, load_settings, resolve_paths
from bot.core.models import RawEntry
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.query.answer import (
    NOT_FOUND,
    NOTHING_FOUND,
    Answer,
    answer_question,
    build_prompt,
    checked_answer,
)
from bot.query.llm import LlmClient, LlmError, make_llm
from bot.query.search import StoryHit, search_stories

REPO = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)
KEY = "sk-test-5ecret-never-log-me"
MODEL = "tiny-answerer"


def raw(source: str, title: str, link: str, summary: str, hours: float) -> RawEntry:
    published = NOW - timedelta(hours=hours)
    return RawEntry(source, title, link, NOW, guid=link, summary_html=summary, published=published)


# Four invented events in both languages, one English-only and one Chinese-only story:
# (source, title, link, summary, hours before now).
EVENTS = [
    (
        "lab_wire",
        "Aurora Labs releases Zephyr-7, an open-weight reasoning model",
        "https://aurora.example/zephyr-7",
        "Aurora Labs released Zephyr-7, a 70-billion-parameter open-weight reasoning model under an Apache license."
        " The company says Zephyr-7 matches larger models on math benchmarks.",
        30,
    ),
    (
        "tech_daily",
        "Zephyr-7: Aurora Labs opens the weights of its new reasoning model",
        "https://techdaily.example/aurora-zephyr-7",
        "Aurora Labs published the weights of Zephyr-7, a reasoning model that spends more compute at test time.",
        28,
    ),
    (
        "ai_cn",
        "Aurora Labs 发布开源推理模型 Zephyr-7",
        "https://aicn.example/2025/zephyr-7",
        "Aurora Labs 发布了开源推理大模型 Zephyr-7，参数量 700 亿，采用 Apache 许可证，在数学评测上比肩更大的模型。",
        27,
    ),
    (
        "money_news",
        "Nimbus Robotics raises $300 million to build humanoid robots for warehouses",
        "https://money.example/nimbus-300m",
        "Humanoid robot start-up Nimbus Robotics raised $300 million in a Series C round led by Granite Ventures,"
        " valuing the company at $2 billion.",
        50,
    ),
    (
        "tech_cn",
        "人形机器人公司 Nimbus Robotics 完成 3 亿美元 C 轮融资",
        "https://techcn.example/nimbus-robotics",
        "人形机器人初创公司 Nimbus Robotics 宣布完成 3 亿美元 C 轮融资，由 Granite Ventures 领投，估值 20 亿美元。",
        48,
    ),
    (
        "tech_daily",
        "Orion AI chief scientist Dana Whitfield leaves to join Helix",
        "https://techdaily.example/whitfield-helix",
        "Dana Whitfield, chief scientist at Orion AI, has left the company and will join Helix as head of research.",
        70,
    ),
    (
        "ai_cn",
        "Orion AI 首席科学家 Dana Whitfield 离职，加盟 Helix",
        "https://aicn.example/2025/whitfield",
        "Orion AI 首席科学家 Dana Whitfield 已离职，将加入 Helix 担任研究负责人。",
        66,
    ),
    (
        "policy_post",
        "EU lawmakers approve transparency rules for general-purpose AI models",
        "https://policy.example/eu-gpai-rules",
        "The European Parliament approved rules requiring providers of general-purpose AI models to publish"
        " summaries of their training data.",
        120,
    ),
    (
        "tech_cn",
        "北京发布人工智能算力券政策，支持中小企业使用智算中心",
        "https://techcn.example/beijing-compute-vouchers",
        "北京市发布人工智能算力券政策，中小企业使用智算中心的算力可获得最高 50% 补贴。",
        90,
    ),
]
ENTRIES = [raw(*event) for event in EVENTS]

AURORA_EN = "Aurora Labs releases Zephyr-7, an open-weight reasoning model"
AURORA_ZH = "Aurora Labs 发布开源推理模型 Zephyr-7"
EU_EN = "EU lawmakers approve transparency rules for general-purpose AI models"


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """A config with the repo's real themes and no sources (ask never fetches)."""
    themes = yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))["themes"]
    path = tmp_path_factory.mktemp("config") / "sources.yaml"
    path.write_text(yaml.safe_dump({"themes": themes}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def settings(config: Path) -> Settings:
    return load_settings(config)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("answer") / "data"


@pytest.fixture(scope="module")
def pipeline(settings: Settings, data_dir: Path, embedder) -> Iterator[Pipeline]:
    """The data dir, built once: every entry ingested through the real pipeline, index saved."""
    pipeline, _ = open_pipeline(settings, resolve_paths(data_dir), embedder=embedder)
    pipeline.ingest(ENTRIES)
    pipeline.save_index()
    yield pipeline
    pipeline.close()


@pytest.fixture
def llm_settings(settings: Settings, llm_server: LlmServer, monkeypatch) -> Settings:
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    llm = {"base_url": llm_server.base_url, "model": MODEL, "api_key_env": "TEST_LLM_KEY", "timeout": 0.5}
    return Settings.model_validate({**settings.model_dump(), "llm": llm})


@pytest.fixture
def llm(llm_settings: Settings) -> Iterator[LlmClient]:
    client = make_llm(llm_settings)
    assert client is not None
    yield client
    client.close()


def hits_for(pipeline: Pipeline, question: str, k: int = 3) -> list[StoryHit]:
    """k stories, best first, with no relevance floor: these tests need several to cite."""
    return search_stories(pipeline, question, k=k, min_cosine=-1.0)


def ask_llm(pipeline, llm_server, llm, settings, reply: Reply, question: str = "What did Aurora Labs release?"):
    llm_server.queue(reply)
    hits = hits_for(pipeline, question)
    return answer_question(question, hits, settings, llm), hits


def assert_only_these_stories(prompt: str, hits: list[StoryHit], pipeline: Pipeline) -> None:
    """Every retrieved story's titles are in the prompt; no other stored story's title is."""
    retrieved = {hit.story.id for hit in hits}
    stories = list(pipeline.store.stories(range(1, 100)).values())
    assert len(stories) > len(retrieved)
    for story in stories:
        for lang in story.langs:
            assert (story.title_in(lang) in prompt) == (story.id in retrieved), story.title_in(lang)


# -- the prompt template ---------------------------------------------------------------------------


def test_prompt_holds_only_the_retrieved_stories_numbered_in_both_languages(pipeline):
    hits = hits_for(pipeline, "Which reasoning model did Aurora Labs release?", k=2)
    prompt = build_prompt("Which reasoning model did Aurora Labs release?", hits, "en")
    assert hits[0].story.title_en == AURORA_EN
    assert f"[1] {hits[0].story.first_published:%Y-%m-%d} · 3 outlets" in prompt
    assert f"en: {AURORA_EN} — Aurora Labs" in prompt and f"zh: {AURORA_ZH} — Aurora Labs" in prompt
    assert "[2] " in prompt and "[3] " not in prompt
    assert_only_these_stories(prompt, hits, pipeline)
    assert "English" in prompt and NOT_FOUND["en"] in prompt and "{" not in prompt


# -- extractive ----------------------------------------------------------------------------------


def test_extractive_english_question(pipeline, settings):
    question = "Which reasoning model did Aurora Labs release?"
    answer = answer_question(question, hits_for(pipeline, question), settings, None)
    assert (answer.mode, answer.lang, answer.fallback_reason) == ("extractive", "en", "")
    first = answer.citations[0]
    assert first.number == 1 and first.title == AURORA_EN
    assert first.url in {"https://aurora.example/zephyr-7", "https://techdaily.example/aurora-zephyr-7"}
    lines = answer.text.splitlines()
    assert lines[0] == "Top stories in the monitored sources:"
    assert lines[1] == f"[1] {AURORA_EN} — 3 outlets · en/zh"
    assert lines[2] == f"    {first.url}"
    assert all(c.url.startswith("https://") for c in answer.citations)


def test_extractive_chinese_question_gets_chinese_titles(pipeline, settings):
    question = "Aurora Labs 发布了什么推理模型？"
    answer = answer_question(question, hits_for(pipeline, question), settings, None)
    assert answer.lang == "zh" and answer.mode == "extractive"
    assert answer.citations[0].title == AURORA_ZH
    assert answer.citations[0].url == "https://aicn.example/2025/zephyr-7"
    assert answer.text.splitlines()[0] == "监控的来源中最相关的报道："
    assert f"[1] {AURORA_ZH} — 3 家来源 · en/zh" in answer.text


def test_extractive_title_falls_back_to_the_language_the_story_has(pipeline, settings):
    question = "欧盟通过了哪些通用人工智能规则？"
    answer = answer_question(question, hits_for(pipeline, question), settings, None)
    assert answer.lang == "zh"
    assert answer.citations[0].title == EU_EN  # English-only coverage: its English headline
    assert answer.citations[0].url == "https://policy.example/eu-gpai-rules"


@pytest.mark.parametrize(("question", "lang"), [("Who won the chess match?", "en"), ("谁赢了象棋比赛？", "zh")])
def test_no_hits_says_not_found_in_the_askers_language(settings, question, lang):
    answer = answer_question(question, [], settings, None)
    assert answer == Answer(NOTHING_FOUND[lang], lang, [], "extractive", "")
    assert ("Nothing found in the monitored sources" if lang == "en" else "监控的来源中没有找到相关内容") in answer.text


# -- the LLM path, over HTTP -------------------------------------------------------------------------


def test_llm_cited_answer_maps_citations_to_stories(pipeline, llm_server, llm, llm_settings):
    text = "Aurora Labs released Zephyr-7, an open-weight reasoning model [1]. It has 70 billion parameters [1][2]."
    answer, hits = ask_llm(pipeline, llm_server, llm, llm_settings, completion(text))
    assert (answer.mode, answer.fallback_reason, answer.text) == ("llm", "", text)
    assert [(c.number, c.story_id) for c in answer.citations] == [(1, hits[0].story.id), (2, hits[1].story.id)]
    assert answer.citations[0].title == AURORA_EN

    (request,) = llm_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == MODEL and request.body["max_tokens"] == 400
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert "What did Aurora Labs release?" in request.prompt and AURORA_EN in request.prompt
    assert_only_these_stories(request.prompt, hits, pipeline)


def test_llm_answer_cites_only_what_it_cited(pipeline, llm_server, llm, llm_settings):
    answer, hits = ask_llm(pipeline, llm_server, llm, llm_settings, completion("Zephyr-7 is open-weight [2]."))
    assert answer.mode == "llm"
    assert [(c.number, c.story_id) for c in answer.citations] == [(2, hits[1].story.id)]


def test_llm_citing_a_story_it_was_not_given_falls_back(pipeline, llm_server, llm, llm_settings):
    reply = completion("Aurora Labs released Zephyr-7 [1]. It beat every rival [7].")
    answer, hits = ask_llm(pipeline, llm_server, llm, llm_settings, reply)
    assert len(hits) == 3 and answer.mode == "extractive"
    assert "[7]" in answer.fallback_reason and "3 stories" in answer.fallback_reason
    assert answer.citations[0].title == AURORA_EN  # the extractive answer, all retrieved stories


def test_llm_timeout_falls_back(pipeline, llm_server, llm, llm_settings):
    answer, _ = ask_llm(pipeline, llm_server, llm, llm_settings, Reply(body=b"{}", delay=3.0))
    assert answer.mode == "extractive"
    assert "did not answer within 0.5s" in answer.fallback_reason


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(body=b"<html>Bad gateway</html>"), "not JSON"),
        (Reply(body=b'{"id": "x", "object": "chat.completion"}'), "no `choices`"),
        (Reply(body=b'{"choices": [{"message": {"role": "assistant"}}]}'), "no `choices[0].message.content`"),
        (Reply(status=503, body=b'{"error": "overloaded"}'), "HTTP 503"),
        (completion("Aurora Labs released Zephyr-7 [1", finish_reason="length"), "cut off"),
        (completion(""), "empty"),
        (completion("Zephyr-7 is open [1]. " * 200), "too long"),
    ],
    ids=["not-json", "no-choices", "no-content", "http-503", "truncated", "empty", "too-long"],
)
def test_llm_unusable_reply_falls_back(pipeline, llm_server, llm, llm_settings, reply, reason):
    answer, _ = ask_llm(pipeline, llm_server, llm, llm_settings, reply)
    assert answer.mode == "extractive" and reason in answer.fallback_reason


@pytest.mark.parametrize(
    "text",
    [
        "Aurora Labs released Zephyr-7 [1]. The company plans to go public next year.",
        "Aurora Labs released Zephyr-7, an open-weight reasoning model.",
    ],
    ids=["one-uncited-sentence", "no-citation-at-all"],
)
def test_llm_uncited_claim_falls_back(pipeline, llm_server, llm, llm_settings, text):
    answer, _ = ask_llm(pipeline, llm_server, llm, llm_settings, completion(text))
    assert answer.mode == "extractive"
    assert "without a citation" in answer.fallback_reason or "cites no story" in answer.fallback_reason


@pytest.mark.parametrize(
    ("question", "reply", "lang"),
    [
        ("Who won the chess match?", "Not found in the monitored sources.", "en"),
        ("谁赢了象棋比赛？", "监控的来源中没有找到相关内容。", "zh"),
        ("谁赢了象棋比赛？", "not found in the monitored sources", "zh"),
    ],
)
def test_llm_not_found_is_an_llm_answer_without_citations(
    pipeline, llm_server, llm, llm_settings, question, reply, lang
):
    answer, _ = ask_llm(pipeline, llm_server, llm, llm_settings, completion(reply), question=question)
    assert answer == Answer(NOT_FOUND[lang], lang, [], "llm", "")
    if lang == "zh":
        assert "简体中文" in llm_server.requests[0].prompt and NOT_FOUND["zh"] in llm_server.requests[0].prompt


def test_llm_chinese_answer_with_fullwidth_brackets_and_trailing_citations(pipeline, llm_server, llm, llm_settings):
    text = "Aurora Labs 发布了开源推理模型 Zephyr-7。【1】参数量为 700 亿。[1, 2]"
    answer, hits = ask_llm(
        pipeline, llm_server, llm, llm_settings, completion(text), question="Aurora Labs 发布了什么？"
    )
    assert answer.mode == "llm" and answer.lang == "zh", answer.fallback_reason
    assert answer.text.startswith("Aurora Labs 发布了开源推理模型 Zephyr-7。[1]")
    assert [c.story_id for c in answer.citations] == [hits[0].story.id, hits[1].story.id]
    assert answer.citations[0].title == AURORA_ZH


def test_the_key_never_reaches_logs_or_messages(pipeline, llm_server, llm, llm_settings, caplog):
    caplog.set_level(logging.DEBUG)
    echo = json.dumps({"error": f"bad key Bearer {KEY}"}).encode()  # a server that echoes the header back
    leak = completion(f"Zephyr-7 is open [1]. Your key is {KEY} by the way.")
    llm_server.queue(completion("Zephyr-7 is open [1]."), Reply(status=401, body=echo), leak)
    hits = hits_for(pipeline, "Aurora")
    answers = [answer_question("What did Aurora release?", hits, llm_settings, llm) for _ in range(3)]
    assert [a.mode for a in answers] == ["llm", "extractive", "extractive"]
    assert "HTTP 401" in answers[1].fallback_reason and "Bearer ***" in answers[1].fallback_reason
    assert "without a citation" in answers[2].fallback_reason and "key is ***" in answers[2].fallback_reason
    assert all(KEY not in a.fallback_reason + a.text for a in answers)
    assert caplog.records and KEY not in caplog.text
    assert all(request.headers["authorization"] == f"Bearer {KEY}" for request in llm_server.requests)


# -- the client and config on their own ---------------------------------------------------------------


def test_make_llm_is_none_without_base_url(settings):
    assert settings.llm.base_url is None and make_llm(settings) is None


def test_client_without_key_sends_no_authorization(llm_server):
    llm_server.queue(completion("hello"))
    with LlmClient(llm_server.base_url, MODEL) as client:
        assert client.complete([{"role": "user", "content": "hi"}]) == "hello"
    assert "authorization" not in llm_server.requests[0].headers


def test_client_refused_connection_is_an_llm_error():
    with LlmClient("http://127.0.0.1:9/v1", MODEL, api_key=KEY, timeout=0.5) as client, pytest.raises(LlmError) as err:
        client.complete([{"role": "user", "content": "hi"}])
    assert "could not reach" in str(err.value) and KEY not in str(err.value)


def test_checked_answer_accepts_a_lead_in_and_cited_bullets(pipeline):
    hits = hits_for(pipeline, "Aurora Labs")
    text = "Here is what the sources say:\n- Aurora Labs released Zephyr-7 [1]\n- Its weights are open [1, 2]"
    answer = checked_answer(text, hits, "en", max_chars=1600)
    assert [c.number for c in answer.citations] == [1, 2]


# -- the CLI -------------------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_ask_json(pipeline, config, data_dir, capsys):
    base = ("--config", str(config), "--data-dir", str(data_dir), "ask")
    code, out, _ = run(capsys, *base, "Who left Orion AI?", "--theme", "people_moves", "--since", "7d", "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"question", "lang", "mode", "answer", "fallback_reason", "citations", "stories"}
    assert (result["lang"], result["mode"], result["fallback_reason"]) == ("en", "extractive", "")
    first = result["stories"][0]
    assert first["title"] == "Orion AI chief scientist Dana Whitfield leaves to join Helix"
    assert first["outlets"] == 2 and first["langs"] == ["en", "zh"]
    assert {link["url"] for link in first["links"]} == {
        "https://techdaily.example/whitfield-helix",
        "https://aicn.example/2025/whitfield",
    }
    assert result["citations"][0] == {
        "number": 1,
        "story_id": first["id"],
        "title": first["title"],
        "url": "https://techdaily.example/whitfield-helix",
    }
    assert first["title"] in result["answer"]

    code, out, _ = run(capsys, *base, "Who left Orion AI?", "--since", "2d", "--json")  # 70 hours old: filtered out
    assert code == 0 and first["id"] not in [story["id"] for story in json.loads(out)["stories"]]


def test_cli_ask_with_llm_prints_answer_and_sources(
    pipeline, config, data_dir, llm_server, capsys, monkeypatch, tmp_path
):
    raw_config = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw_config["llm"] = {"base_url": llm_server.base_url, "model": MODEL, "api_key_env": "TEST_LLM_KEY"}
    llm_config = tmp_path / "sources.yaml"
    llm_config.write_text(yaml.safe_dump(raw_config, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    llm_server.queue(completion("Dana Whitfield left Orion AI to join Helix as head of research [1]."))
    code, out, err = run(capsys, "--config", str(llm_config), "--data-dir", str(data_dir), "ask", "Who left Orion AI?")
    assert code == 0, err
    assert out.startswith(
        "Dana Whitfield left Orion AI to join Helix as head of research [1].\n\nSources:\n[1] Orion AI"
    )
    assert "https://techdaily.example/whitfield-helix" in out and KEY not in out + err


def test_cli_ask_unknown_theme_exits_2_listing_themes(config, data_dir, capsys):
    code, out, err = run(
        capsys, "--config", str(config), "--data-dir", str(data_dir), "ask", "anything", "--theme", "nope"
    )
    assert code == 2 and out == ""
    assert "unknown theme 'nope'" in err and "people_moves" in err and "llm" in err


def test_cli_ask_without_data_exits_2(config, tmp_path, capsys):
    code, _, err = run(capsys, "--config", str(config), "--data-dir", str(tmp_path / "empty"), "ask", "anything")
    assert code == 2 and "no data at" in err


def test_cli_ask_bad_since_is_a_usage_error(config, data_dir, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config), "--data-dir", str(data_dir), "ask", "anything", "--since", "soon"])
    assert exit_.value.code == 2 and "expected a duration like 30m" in capsys.readouterr().err


def test_the_prompts_ship_inside_the_installed_package():
    """One copy of each prompt, as package data: an install without the repo has them too."""
    import importlib.resources

    prompts = importlib.resources.files("bot.query") / "prompts"
    assert {"answer.txt", "summary.txt"} <= {entry.name for entry in prompts.iterdir()}
    assert "{question}" in (prompts / "answer.txt").read_text(encoding="utf-8")
