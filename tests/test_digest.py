"""Digests: pure selection and rendering with hand-built stories and a fixed clock, then the glue on
a real data dir (real embedder, SQLite, FAISS) and the `bot digest` command."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.core.config import Keywords, Settings, SourceConfig, ThemeConfig, load_settings, resolve_paths
from bot.core.models import RawEntry, Subscriber
from bot.deliver.digest import (
    FOLLOW_PREFIX,
    MESSAGE_BUDGET,
    PEOPLE_THEME,
    Digest,
    mark_sent,
    prepare_digest,
    render_digest,
    select_digest,
    story_score,
    utf16_len,
)
from bot.ingest.pipeline import open_pipeline
from bot.storage import StorySummary

NOW = datetime(2024, 12, 11, 9, 0, tzinfo=UTC)
THEME_ORDER = ("llm", "multimodal", "bidding", PEOPLE_THEME, "other")
ALLOWED_TAGS = {"b", "i", "a", "code"}


def story(
    story_id: int,
    *,
    theme: str = "llm",
    themes: tuple[str, ...] = (),
    outlets: int = 1,
    langs: tuple[str, ...] = ("en",),
    hours: float = 1,
    title: str = "",
    title_zh: str = "",
    moves: tuple[dict[str, str], ...] = (),
) -> StorySummary:
    title = title or f"Story {story_id}"
    published = NOW - timedelta(hours=hours)
    return StorySummary(
        id=story_id,
        items=outlets,
        outlets=outlets,
        langs=langs,
        title=title,
        title_en=title if "en" in langs else "",
        title_zh=title_zh,
        primary_theme=theme,
        themes=themes or (theme,),
        first_published=published,
        last_published=published,
        moves=moves,
        updated_at=NOW,
    )


def select(candidates, *, themes=(), delivered=(), follows=None, texts=None, weights=None, sources=None, limit=30):
    return select_digest(
        candidates,
        set(delivered),
        Subscriber(chat_id=7, themes=tuple(themes)),
        follows or {},
        weights,
        NOW,
        limit,
        follow_texts=texts,
        story_sources=sources,
        theme_order=THEME_ORDER,
    )


def ids_by_section(digest: Digest) -> dict[str, list[int]]:
    return {key: [entry.story.id for entry in entries] for key, entries in digest.sections}


def move(person: str, from_org: str = "", to_org: str = "", role: str = "", action: str = "join") -> dict[str, str]:
    return {"person": person, "from_org": from_org, "to_org": to_org, "role": role, "action": action}


# -- selection ------------------------------------------------------------------------------


def test_chosen_themes_filter_by_primary_or_any_theme_and_empty_means_all():
    candidates = [
        story(1, theme="llm"),
        story(2, theme="bidding"),
        story(3, theme="multimodal", themes=("multimodal", "bidding")),
        story(4, theme="other"),
    ]
    digest = select(candidates, themes=["bidding"])
    assert sorted(digest.story_ids) == [2, 3]
    assert ids_by_section(digest) == {"bidding": [2, 3]} or ids_by_section(digest) == {"bidding": [3, 2]}
    assert sorted(select(candidates).story_ids) == [1, 2, 3, 4]


def test_a_story_whose_primary_theme_is_other_is_in_no_named_theme_digest():
    """As the classifier leaves a lab's partnership post: primary `other`, and `people_moves` among its
    weaker labels (near in meaning, no move). "None of the named themes" wins."""
    candidates = [
        story(1, theme="other", themes=("other", "people_moves")),
        story(2, theme="people_moves"),
    ]
    assert select(candidates, themes=["people_moves"]).story_ids == [2]
    assert select(candidates, themes=["other"]).story_ids == [1]


def test_already_delivered_stories_are_left_out():
    digest = select([story(1), story(2), story(3)], delivered=[2])
    assert sorted(digest.story_ids) == [1, 3]


def test_followed_story_joins_whatever_its_theme_and_comes_first():
    candidates = [story(1, theme="bidding", outlets=5), story(2, theme="other"), story(3, theme="multimodal")]
    follows = {2: 0.62, 3: 0.31}
    digest = select(candidates, themes=["bidding"], follows=follows, texts={2: "humanoid robots", 3: "humanoid robots"})
    assert digest.story_ids == [2, 1]  # 3 is below the threshold
    key, entries = digest.sections[0]
    assert key == FOLLOW_PREFIX + "humanoid robots"
    assert entries[0].followed and entries[0].follow == "humanoid robots" and entries[0].follow_score == 0.62
    assert not digest.sections[1][1][0].followed


def test_ranking_by_breadth_then_recency():
    narrow = story(1, outlets=1, langs=("en",), hours=1)
    broad = story(2, outlets=3, langs=("en", "zh"), hours=1)
    older = story(3, outlets=3, langs=("en", "zh"), hours=30)
    digest = select([narrow, older, broad])
    assert digest.story_ids == [2, 3, 1]  # 6 × 0.97 > 6 × 0.42 > 1 × 0.97
    assert story_score(broad, NOW) == pytest.approx(6 * 0.5 ** (1 / 24))
    assert story_score(story(4, hours=-2), NOW) == 1.0  # a date in the future is not a bonus
    stale = story(5, outlets=6, langs=("en", "zh"), hours=24 * 5)  # 12 × 1/32: breadth does not live forever
    assert select([stale, narrow]).story_ids == [1, 5]


def test_source_weight_lifts_a_story_from_a_trusted_outlet():
    candidates = [story(1), story(2)]
    sources = {1: ["blog"], 2: ["lab"]}
    assert select(candidates, weights={"lab": 2.0}, sources=sources).story_ids == [2, 1]
    assert select(candidates, weights={"lab": 0.5}, sources=sources).story_ids == [1, 2]


def test_cap_keeps_the_best_and_counts_the_rest():
    candidates = [story(i, outlets=i) for i in range(1, 41)]
    digest = select(candidates, limit=30)
    assert digest.overflow == 10
    assert len(digest.story_ids) == 30
    assert set(digest.story_ids) == set(range(11, 41))  # only what is shown counts as delivered


def test_sections_follow_config_order_with_other_last():
    candidates = [story(1, theme="other"), story(2, theme="bidding"), story(3, theme="llm"), story(4, theme="mystery")]
    assert [key for key, _ in select(candidates).sections] == ["llm", "bidding", "other", "mystery"]


def test_people_moves_are_collected_once_each_and_get_their_section():
    candidates = [
        story(1, theme="llm", moves=(move("Jane Doe", "OpenAI", "Anthropic", "chief scientist"),)),
        story(2, theme=PEOPLE_THEME, moves=(move("jane  doe", "OpenAI", "Anthropic"), move("Li Wei", "", "字节跳动"))),
        story(3, theme="llm", moves=(move("Sam Roe", "DeepMind", "", action="leave"),)),
    ]
    digest = select(candidates)
    assert [line.sentence("en") for line in digest.moves] == [
        "Jane Doe left OpenAI for Anthropic, as chief scientist",
        "Li Wei joined ByteDance",
        "Sam Roe left DeepMind",
    ]
    assert [line.sentence("zh") for line in digest.moves] == [
        "Jane Doe 离开 OpenAI，加入 Anthropic",  # an English role is left out of a Chinese sentence
        "Li Wei 加入字节跳动",
        "Sam Roe 离开 DeepMind",
    ]
    assert PEOPLE_THEME in ids_by_section(digest)
    only_llm = select([candidates[0]], themes=["llm"])  # a move in a story of another theme still gets a section
    assert [key for key, _ in only_llm.sections] == ["llm", PEOPLE_THEME]
    message = render_digest(only_llm, "en", {})[0]
    assert "People moves" in message and "Jane Doe left OpenAI for Anthropic, as chief scientist" in message


def test_move_lines_never_show_an_empty_arrow_or_one_person_twice():
    """What a user met: "Robin Rombach: ", "Jan Leike: OpenAI →", "微软 → 微软", a Chinese role in English,
    and one person twice in one story under two spellings."""
    candidates = [
        story(1, moves=(move("Robin Rombach", "", ""),)),
        story(
            2,
            moves=(
                move("Jan Leike", "OpenAI", "", action="leave"),
                move("Leike", "OpenAI", "Anthropic", "lead superalignment"),
            ),
        ),
        story(3, moves=(move("Sam Altman", "微软", "微软", "lead a new AI research"),)),
        story(4, moves=(move("贾扬清", "阿里", "", "首席执行官", action="found"),)),
    ]
    digest = select(candidates)
    english = render_digest(digest, "en", {})[0]
    chinese = render_digest(digest, "zh", {})[0]
    assert "Robin Rombach" not in english and "→" not in english
    assert english.count("Leike") == 1 and "• Jan Leike left OpenAI for Anthropic, to lead superalignment" in english
    assert "• Sam Altman took a new role at Microsoft, to lead a new AI research" in english
    assert "• 贾扬清 left Alibaba to start a company\n" in english + "\n"  # the Chinese role is left out
    assert "• 贾扬清离开阿里创业，任首席执行官" in chinese
    assert "• Sam Altman 在微软出任新职" in chinese


# -- rendering ------------------------------------------------------------------------------


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open.pop() == tag

    def handle_data(self, data):
        self.text.append(data)


def parse(message: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(message)
    parser.close()
    assert not parser.open, "every tag is closed"
    return parser


def assert_safe_html(message: str) -> TagCollector:
    parsed = parse(message)
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS
        assert (tag == "a" and [name for name, _ in attrs] == ["href"]) or not attrs
    for ampersand in re.finditer("&", message):  # every & starts a whole entity Telegram knows
        assert re.match(r"&(lt|gt|amp|quot|#x?[0-9a-fA-F]+);", message[ampersand.start() :])
    return parsed


def test_every_dynamic_string_is_escaped():
    nasty = story(1, title="<script>alert('x')</script> & \"Q\" <b>bold</b>", outlets=2, langs=("en", "zh"))
    links = {1: [("a<b>&c", 'https://x.example/p?q="a"&b=<c>'), ("evil", "javascript:alert(1)")]}
    message = render_digest(select([nasty]), "en", links)[0]
    assert "<script>" not in message and "<b>bold" not in message
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Q&quot;" in message
    parsed = assert_safe_html(message)
    hrefs = [dict(attrs)["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert hrefs == ['https://x.example/p?q="a"&b=<c>']  # the javascript: link is dropped
    text = "".join(parsed.text)
    assert "<script>alert('x')</script> & \"Q\" <b>bold</b>" in text and "a<b>&c" in text
    assert "2 outlets · en/zh" in text


def test_follow_heading_and_theme_names_are_escaped():
    digest = select([story(1, theme="<odd>&theme")], follows={1: 0.9}, texts={1: "<i>robots</i> & co"})
    message = render_digest(digest, "en", {})[0]
    assert_safe_html(message)
    assert "Following: &lt;i&gt;robots&lt;/i&gt; &amp; co" in message


def test_titles_headings_and_counts_in_the_subscribers_language():
    both = story(
        1, theme="bidding", title="Diffusion for auto-bidding", title_zh="扩散模型用于自动出价", langs=("en", "zh")
    )
    english_only = story(2, theme="bidding", title="Only in English", outlets=3)
    digest = select([both, english_only])
    zh = render_digest(digest, "zh", {})[0]
    en = render_digest(digest, "en", {})[0]
    assert "扩散模型用于自动出价" in zh and "Only in English" in zh and "智能出价与广告" in zh and "3 家媒体" in zh
    assert "Diffusion for auto-bidding" in en and "Auto-bidding and ads" in en and "1 outlet ·" in en


def test_overflow_line_and_empty_digest_in_both_languages():
    digest = select([story(i) for i in range(1, 6)], limit=2)
    assert "Also new: 3 more" in render_digest(digest, "en", {})[-1]
    assert "另有 3 条新动态" in render_digest(digest, "zh", {})[-1]
    empty = select([story(1)], delivered=[1])
    assert empty.story_ids == [] and empty.overflow == 0
    assert render_digest(empty, "en", {}) == ["Nothing new since your last digest."]
    assert render_digest(empty, "zh", {}) == ["自上次摘要以来暂无新动态。"]


def long_digest() -> tuple[Digest, dict[int, list[tuple[str, str]]]]:
    themes = ("llm", "bidding", "other", PEOPLE_THEME)
    candidates = [
        story(
            i,
            theme=themes[i % 4],
            outlets=1 + i % 7,
            langs=("en", "zh"),
            hours=i % 48,
            title=f"Story {i} 🚀🤖 " + "A <very> long & winding headline with emoji 🧠 " * 6,
            title_zh=f"第 {i} 条 🚀 " + "中文标题很长很长，包含表情符号🤖和“引号” & <标签> " * 8,
            moves=(move(f"Person {i}", "OpenAI", "字节跳动", "研究员"),) if i % 10 == 0 else (),
        )
        for i in range(1, 201)
    ]
    links = {
        i: [(f"src{j}", f"https://news{j}.example/{i}/article?ref=rss&id={i}") for j in range(4)] for i in range(1, 201)
    }
    return select(candidates, limit=200), links


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_long_digest_splits_under_the_limit_at_story_boundaries_and_loses_nothing(lang):
    digest, links = long_digest()
    messages = render_digest(digest, lang, links)
    whole = render_digest(digest, lang, links, budget=10**9)
    assert len(whole) == 1 and len(messages) > 5
    for message in messages:
        assert utf16_len(message) <= MESSAGE_BUDGET < 4096
        assert_safe_html(message)
        first = message.split("\n")[0]
        assert first.startswith(("📰", "•", "<b>", "<i>"))  # a message starts with a block, never mid-line
        assert not message.rstrip().endswith("</b>")  # a heading is never left at the end of a message
    continued = "(continued)" if lang == "en" else "（续）"
    for message in messages[1:]:  # a message that opens mid-section first repeats that section's heading
        first = message.split("\n")[0]
        assert not first.startswith("• ") and (first.startswith(("<b>", "<i>")) or first == "")
    repeats = [m.split("\n")[0] for m in messages[1:] if m.split("\n")[0].endswith(f"<i>{continued}</i>")]
    assert repeats and all(heading.startswith("<b>") for heading in repeats)
    split_lines = [line for message in messages for line in message.split("\n") if line and line not in repeats]
    assert split_lines == [line for line in whole[0].split("\n") if line]
    shown = [int(m) for m in re.findall(r'href="https://news0\.example/(\d+)/', "\n".join(messages))]
    assert sorted(shown) == list(range(1, 201))  # every story once, with its links
    assert all(line.count('<a href="') == 3 for line in split_lines if line.startswith("• ") and "href" in line)


def test_every_story_line_carries_the_date_it_broke():
    digest = select([story(1, hours=2), story(2, hours=50, outlets=3)])
    for lang, outlets in (("en", "3 outlets"), ("zh", "3 家媒体")):
        message = render_digest(digest, lang, {})[0]
        assert f"— {NOW - timedelta(hours=50):%Y-%m-%d} · {outlets} · en" in message
        assert f"— {NOW - timedelta(hours=2):%Y-%m-%d} · " in message


def test_an_overlong_story_line_is_shortened_safely():
    title = "&<Ω>😀" * 3000
    links = {1: [("huge", "https://x.example/" + "a" * 5000), ("ok", "https://ok.example/a?b=1&c=2")]}
    digest = select([story(1, title=title)])
    for budget in (MESSAGE_BUDGET, 120):
        messages = render_digest(digest, "en", links, budget=budget)
        line = next(line for message in messages for line in message.split("\n") if line.startswith("• "))
        assert utf16_len(line) <= budget
        assert_safe_html(line)
        assert "…" in line and "a" * 5000 not in line
        assert "\ud83d" not in line  # never half of a surrogate pair


# -- glue on a real data dir ----------------------------------------------------------------

THEMES = {
    "llm": {
        "description": "Large language models: releases, reasoning models, training and evaluation. 大语言模型。",
        "keywords": {"en": ["language model", "LLM", "reasoning model"], "zh": ["大模型", "语言模型"]},
        "examples": ["An AI lab releases an open-weight language model", "开源大模型发布"],
    },
    "bidding": {
        "description": "Auto-bidding and online advertising: bid optimization, ad auctions. 广告出价与竞价。",
        "keywords": {"en": ["auto-bidding", "advertising", "ad auction"], "zh": ["出价", "广告"]},
        "examples": ["Reinforcement learning for auto-bidding in ad auctions", "广告自动出价新方法"],
    },
    "other": {
        "description": "Other AI news: robotics, chips, policy and business. 其他人工智能新闻。",
        "keywords": {"en": ["robot", "chip", "policy"], "zh": ["机器人", "芯片"]},
        "examples": ["A startup shows a new robot", "芯片公司发布新产品"],
    },
}


def settings_with_themes() -> Settings:
    return Settings(
        themes={
            name: ThemeConfig(
                description=spec["description"],
                keywords=Keywords(**spec["keywords"]),
                examples=tuple(spec["examples"]),
            )
            for name, spec in THEMES.items()
        }
    )


def raw(source: str, title: str, link: str, summary: str, hours: float) -> RawEntry:
    fetched = datetime.now(UTC).replace(microsecond=0)
    return RawEntry(
        source=source,
        title=title,
        link=link,
        guid=link,
        summary_html=summary,
        fetched_at=fetched,
        published=fetched - timedelta(hours=hours),
    )


ENTRIES = [
    raw(
        "papers",
        "Diffusion Models for Auto-Bidding in Online Advertising",
        "https://arxiv.org/abs/2412.04321",
        "We model auto-bidding in ad auctions as trajectory generation with a diffusion model.",
        3,
    ),
    raw(
        "cn_media",
        "广告自动出价的新方法：用扩散模型生成出价轨迹",
        "https://cn.example/a/1002",
        "研究者将广告自动出价建模为轨迹生成问题，用扩散模型生成出价轨迹。",
        2,
    ),
    raw(
        "lab_blog",
        "A lab releases an open-weight reasoning language model",
        "https://lab.example/blog/reasoning",
        "The reasoning model, trained with reinforcement learning, tops math and code benchmarks.",
        4,
    ),
    raw(
        "tech_news",
        "Startup unveils a humanoid robot that folds laundry",
        "https://tech.example/robots/laundry",
        "The two-legged humanoid robot walks, grasps and folds clothes in a home demo.",
        1,
    ),
]


@pytest.fixture
def pipeline(tmp_path, embedder):
    opened, _ = open_pipeline(settings_with_themes(), resolve_paths(tmp_path / "data"), embedder=embedder)
    opened.ingest(ENTRIES)
    yield opened
    opened.close()


def story_of(pipeline, url: str) -> StorySummary:
    stories = pipeline.store.stories_updated_since(datetime(2000, 1, 1, tzinfo=UTC))
    return next(s for s in stories if any(u == url for _, u in pipeline.store.story_links(s.id)))


def test_prepare_mark_sent_then_nothing_new_and_a_follow_crosses_themes(pipeline, embedder):
    settings = settings_with_themes()
    store = pipeline.store
    bidding = story_of(pipeline, "https://arxiv.org/abs/2412.04321")
    robot = story_of(pipeline, "https://tech.example/robots/laundry")
    reasoning = story_of(pipeline, "https://lab.example/blog/reasoning")
    assert bidding.primary_theme == "bidding" and bidding.outlets == 2 and bidding.langs == ("en", "zh")
    assert "bidding" not in (robot.primary_theme, *robot.themes)
    store.save_subscriber(Subscriber(chat_id=42, lang="zh", themes=("bidding",), subscribed=True))
    subscriber = store.subscriber(42)
    now = datetime.now(UTC)

    digest, links = prepare_digest(pipeline, subscriber, settings, now)
    assert bidding.id in digest.story_ids and robot.id not in digest.story_ids
    assert reasoning.id not in digest.story_ids
    assert {url for _, url in links[bidding.id]} == {"https://arxiv.org/abs/2412.04321", "https://cn.example/a/1002"}
    assert "广告自动出价的新方法" in render_digest(digest, "zh", links)[0]

    store.add_follow(42, "humanoid robots", embedder.encode(["humanoid robots"])[0], embedder.name)
    digest, links = prepare_digest(pipeline, subscriber, settings, now)
    assert digest.sections[0][0] == FOLLOW_PREFIX + "humanoid robots"
    assert [entry.story.id for entry in digest.sections[0][1]] == [robot.id]
    assert digest.sections[0][1][0].follow_score >= 0.5
    assert set(digest.story_ids) == {robot.id, bidding.id} and set(links) == set(digest.story_ids)

    mark_sent(store, digest, now)
    assert store.delivered(42, digest.story_ids) == set(digest.story_ids)
    assert store.subscriber(42).last_digest_at == now.replace(microsecond=0)
    again, _ = prepare_digest(pipeline, subscriber, settings, now)  # even with the old last_digest_at
    assert again.story_ids == [] and again.overflow == 0
    assert prepare_digest(pipeline, store.subscriber(42), settings, now)[0].empty


def test_an_adhoc_reader_sees_everything_and_weights_come_from_settings(pipeline):
    subscriber = Subscriber(chat_id=0, lang="en")
    now = datetime.now(UTC)
    digest, links = prepare_digest(pipeline, subscriber, settings_with_themes(), now)
    assert len(digest.story_ids) == 3 and set(links) == set(digest.story_ids)
    assert [key for key, _ in digest.sections] == ["llm", "bidding", "other"]  # config order
    top, _ = prepare_digest(pipeline, subscriber, settings_with_themes(), now, limit=1)
    assert top.story_ids == [story_of(pipeline, "https://arxiv.org/abs/2412.04321").id] and top.overflow == 2
    trusted = SourceConfig(name="tech_news", kind="rss", url="https://tech.example/feed", weight=10)
    weighted = settings_with_themes().model_copy(update={"sources": (trusted,)})
    top, _ = prepare_digest(pipeline, subscriber, weighted, now, limit=1)
    assert top.story_ids == [story_of(pipeline, "https://tech.example/robots/laundry").id]


# -- the command ----------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data_dir(tmp_path, embedder) -> tuple[Path, Path]:
    config = tmp_path / "sources.yaml"
    config.write_text(yaml.safe_dump({"themes": THEMES}, allow_unicode=True), encoding="utf-8")
    data = tmp_path / "data"
    pipeline, _ = open_pipeline(load_settings(config), resolve_paths(data), embedder=embedder)
    try:
        pipeline.ingest(ENTRIES)
        pipeline.store.save_subscriber(Subscriber(chat_id=7, lang="en", themes=("bidding",)))
    finally:
        pipeline.close()
    return config, data


def deliveries(data: Path) -> int:
    with sqlite3.connect(data / "bot.db") as db:
        return db.execute("SELECT count(*) FROM deliveries").fetchone()[0]


def test_cli_digest_json_records_nothing_unless_mark_sent(capsys, data_dir):
    config, data = data_dir
    base = ("--config", str(config), "--data-dir", str(data), "digest")
    code, out, _ = run(capsys, *base, "--json", "--themes", "bidding", "--lang", "zh")
    assert code == 0
    adhoc = json.loads(out)
    assert adhoc["chat_id"] == 0 and adhoc["lang"] == "zh" and adhoc["marked_sent"] is False
    assert len(adhoc["story_ids"]) == 1 and adhoc["sections"] == ["bidding"]
    assert "广告自动出价的新方法" in adhoc["messages"][0] and "<b>智能出价与广告</b>" in adhoc["messages"][0]
    assert deliveries(data) == 0

    code, out, _ = run(capsys, *base, "--chat", "7", "--json")
    assert code == 0 and json.loads(out)["story_ids"] == adhoc["story_ids"] and deliveries(data) == 0
    code, out, _ = run(capsys, *base, "--chat", "7", "--json", "--mark-sent")
    assert code == 0 and json.loads(out)["marked_sent"] is True and deliveries(data) == 1
    code, out, _ = run(capsys, *base, "--chat", "7", "--json", "--since", "7d")
    assert code == 0 and json.loads(out)["story_ids"] == []
    assert json.loads(out)["messages"] == ["Nothing new since your last digest."]

    code, out, _ = run(capsys, *base)  # plain text: the HTML as Telegram would get it
    assert code == 0 and out.startswith("📰 <b>AI news digest</b> · 3 new")


def test_cli_digest_usage_errors(capsys, data_dir, tmp_path):
    config, data = data_dir
    base = ("--config", str(config), "--data-dir", str(data), "digest")
    code, _, err = run(capsys, *base, "--mark-sent")
    assert code == 2 and "--mark-sent needs --chat" in err
    code, _, err = run(capsys, *base, "--themes", "llm,nope")
    assert code == 2 and "unknown theme nope" in err
    code, _, err = run(capsys, *base, "--chat", "999")
    assert code == 2 and "no subscriber with chat id 999" in err
    code, _, err = run(capsys, "--config", str(config), "--data-dir", str(tmp_path / "none"), "digest")
    assert code == 2 and "no data at" in err
    assert deliveries(data) == 0
