"""Topics inside themes: clustering and labels on hand-written bilingual stories (real embedder), emerging
topics with a driven clock, the incremental path and its saved state on a real store, `themes suggest` as
valid config, and the two commands on a real data dir."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.cli import main
from bot.core.config import ThemeConfig, load_settings, parse_settings
from bot.core.models import Item
from bot.insight.topics import (
    assign_new,
    emerging,
    find_topics,
    load_state,
    placeable,
    recompute_topics,
    refresh_topics,
    relabel,
    stale_labels,
    state_from_json,
    state_to_json,
    suggest_themes,
    topic_line,
)
from bot.storage import Labels, NewItem, Store, StorySummary

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 6, 28, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HAN = re.compile("[\u4e00-\u9fff]")

# (id, theme, English headline, Chinese headline, days before NOW)
SORA = [
    (1, "multimodal", "OpenAI unveils Sora, a text-to-video model that makes minute-long clips", "", 6),
    (2, "multimodal", "", "OpenAI 发布文生视频模型 Sora，可生成一分钟高清视频", 5),
    (3, "multimodal", "Sora video generator opens to visual artists and filmmakers", "", 4),
    (4, "multimodal", "", "Sora 视频生成模型向艺术家和电影人开放测试", 2),
    (5, "multimodal", "Hands-on with Sora: OpenAI's video model still struggles with physics",
     "上手体验 Sora：OpenAI 视频生成模型仍不懂物理", 1),
]  # fmt: skip
SD3 = [
    (6, "multimodal", "Stability AI announces Stable Diffusion 3 for text-to-image generation", "", 3),
    (8, "multimodal", "Stable Diffusion 3 Medium weights released for image generation", "", 3),
    (9, "multimodal", "", "Stable Diffusion 3 开放下载，文生图效果大幅提升", 2),
]
ROBOTS = [
    (12, "other", "Figure's humanoid robot starts work at a BMW car plant", "", 5),
    (13, "other", "Tesla shows its Optimus humanoid robot folding laundry", "", 4),
    (14, "other", "", "特斯拉人形机器人 Optimus 展示叠衣服能力", 3),
    (15, "other", "", "Figure 人形机器人进入宝马工厂打工", 2),
    (16, "other", "Humanoid robot startup Figure raises $675 million", "", 1),
    (17, "other", "", "人形机器人创业公司 Figure 融资 6.75 亿美元", 1),
]
LOOSE = [
    (7, "multimodal", "", "Stable Diffusion 3 论文公开：文生图模型采用新架构", 3),
    (10, "multimodal", "Meta's Segment Anything cuts out objects in any image", "", 4),
    (11, "multimodal", "", "语音合成新模型能模仿任何人的声音", 2),
    (18, "other", "EU lawmakers approve the AI Act", "", 3),
    (19, "other", "Nvidia unveils Blackwell B200 GPU", "", 6),
]
SPECS = SORA + SD3 + ROBOTS + LOOSE


def summary(spec: tuple[int, str, str, str, float], now: datetime = NOW) -> StorySummary:
    story_id, theme, english, chinese, days = spec
    published = now - timedelta(days=days)
    langs = tuple(lang for lang, title in (("en", english), ("zh", chinese)) if title)
    return StorySummary(
        id=story_id,
        items=len(langs),
        outlets=len(langs),
        langs=langs,
        title=english or chinese,
        title_en=english,
        title_zh=chinese,
        primary_theme=theme,
        themes=(theme,),
        first_published=published,
        last_published=published,
    )


@pytest.fixture(scope="module")
def vectors(embedder) -> dict[int, np.ndarray]:
    """Each story's item vectors (rows), one item per headline, as the store gives them back."""
    return {spec[0]: embedder.encode([title for title in spec[2:4] if title]) for spec in SPECS}


@pytest.fixture(scope="module")
def topics(vectors):
    return find_topics([summary(spec) for spec in SPECS], vectors, NOW)


def ids(specs) -> set[int]:
    return {spec[0] for spec in specs}


def topic_with(topics, story_id):
    return next(topic for theme in topics.values() for topic in theme if story_id in topic.story_ids)


# -- clustering and labels -------------------------------------------------------------------


def test_each_subject_is_one_topic_and_loose_stories_are_noise(topics):
    sora, sd3 = topic_with(topics, 1), topic_with(topics, 6)
    assert set(sora.story_ids) == ids(SORA)  # English, Chinese and bilingual reports of one subject
    assert ids(SD3) <= set(sd3.story_ids) <= ids(SD3) | {7}
    assert set(topic_with(topics, 12).story_ids) == ids(ROBOTS)
    assert len(topics["multimodal"]) == 2 and len(topics["other"]) == 1
    clustered = {i for theme in topics.values() for topic in theme for i in topic.story_ids}
    assert not clustered & (ids(LOOSE) - {7})
    assert all(topic.theme == "multimodal" for topic in topics["multimodal"])
    assert 0.7 < sora.tightness <= 1.0


def test_labels_read_in_both_languages_with_names_whole(topics):
    sora, sd3, robots = topic_with(topics, 1), topic_with(topics, 6), topic_with(topics, 12)
    assert sora.label_terms[0] == "Sora"  # a name outranks common words
    assert "OpenAI" in sora.label_terms and any(HAN.search(term) for term in sora.label_terms)
    assert "Stable Diffusion 3" in sd3.label_terms  # a model name and its version stay one term
    # the whole Chinese word, not its n-grams; names before "humanoid robot", "Figure" (mid-sentence) among them
    assert set(robots.label_terms) == {"Figure", "Optimus", "人形机器人"}
    stop_words = {"the", "a", "with", "unveils", "ai", "model", "发布", "模型"}
    for topic in (sora, sd3, robots):
        assert len(topic.label_terms) <= 3
        assert not stop_words & {term.lower() for term in topic.label_terms}
    assert sora.label == " · ".join(sora.label_terms)


def test_the_representative_story_is_the_closest_to_the_centre(topics, vectors):
    sora = topic_with(topics, 1)
    matrix = np.stack([vectors[i].mean(axis=0) for i in sora.story_ids])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    assert sora.representative_id == sora.story_ids[int(np.argmax(matrix @ sora.centroid))]


def test_a_topic_line_for_reports_in_each_language(topics):
    stories = {spec[0]: summary(spec) for spec in SPECS}
    sora = topic_with(topics, 1)
    english, chinese = topic_line(sora, stories, "en"), topic_line(sora, stories, "zh")
    assert english.startswith(f"▲ {sora.label}: 5 stories this week, 0 the week before. E.g. “")
    assert chinese.startswith(f"▲ {sora.label}：本周 5 条，上周 0 条。例：“")
    assert stories[sora.representative_id].title_in("zh") in chinese


def test_too_few_stories_make_no_topic(vectors):
    pair = [summary(spec) for spec in SORA[:2]]
    assert find_topics(pair, vectors, NOW) == {"multimodal": []}
    assert find_topics([], vectors, NOW) == {}


# -- emerging --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("this_week", "last_week", "expected"),
    [(3, 0, True), (2, 0, False), (4, 1, True), (3, 1, False), (5, 2, False), (6, 2, True), (7, 1, True)],
)
def test_the_emerging_rule(this_week, last_week, expected):
    assert emerging(this_week, last_week) is expected


def test_emerging_follows_the_clock(vectors):
    """One Sora story ten days back and four in the last week: emerging now, no longer a week later."""
    stories = [summary((1, "multimodal", SORA[0][2], "", 10))] + [summary(spec) for spec in SORA[1:]]
    assert find_topics(stories, vectors, NOW - 4.5 * DAY)["multimodal"] == []  # two stories by then

    (current,) = find_topics(stories, vectors, NOW)["multimodal"]
    assert (current.this_week, current.last_week, current.emerging) == (4, 1, True)
    assert current.trend("en") == "4 stories this week, 1 the week before"
    assert current.trend("zh") == "本周 4 条，上周 1 条"

    (later,) = find_topics(stories, vectors, NOW + 7 * DAY)["multimodal"]
    assert (later.this_week, later.last_week, later.emerging) == (0, 4, False)
    assert set(later.story_ids) == {2, 3, 4, 5}  # the story of ten days before NOW left the window


def test_emerging_topics_come_first(vectors):
    """The robots are all of last week, the Sora stories all of this one."""
    stories = [summary(spec) for spec in SORA] + [
        summary((i, "multimodal", en, zh, d + 7)) for i, _, en, zh, d in ROBOTS
    ]
    ordered = find_topics(stories, vectors, NOW)["multimodal"]
    assert [topic.emerging for topic in ordered] == [True, False]
    assert ordered[1].trend("en") == "0 stories this week, 6 the week before"


# -- the incremental path --------------------------------------------------------------------


def test_assign_new_places_new_stories_and_clusters_the_leftovers(vectors):
    yesterday = NOW - DAY
    before = [summary(spec) for spec in SORA[:4] + ROBOTS[:2] + LOOSE]
    state = recompute_topics(before, vectors, yesterday)
    assert [set(t.story_ids) for t in state.topics["multimodal"]] == [ids(SORA[:4])]
    assert state.topics["other"] == [] and set(state.unassigned["other"]) == ids(ROBOTS[:2]) | {18, 19}

    changed = [summary(spec) for spec in SORA[4:] + SD3 + ROBOTS[2:]]
    needed = placeable(state, changed, NOW)
    assert set(needed) == ids(SORA[4:] + SD3 + ROBOTS) | ids(LOOSE)  # topic members are not read again
    advanced = assign_new(state, changed, {i: vectors[i] for i in needed}, NOW)

    assert advanced.recomputed_at == yesterday and advanced.computed_at == NOW
    assert set(topic_with(advanced.topics, 1).story_ids) == ids(SORA)  # story 5 joined the nearest centroid
    robots = topic_with(advanced.topics, 12)
    assert set(robots.story_ids) == ids(ROBOTS)  # a new topic from the leftovers, old and new
    assert ids(SD3) <= set(topic_with(advanced.topics, 6).story_ids)
    assert 18 in advanced.unassigned["other"]
    assert robots.emerging and robots.label_terms == ()  # labelled by `relabel`, from the headlines
    assert set(stale_labels(advanced)) == set(robots.story_ids) | set(topic_with(advanced.topics, 6).story_ids)

    labelled = relabel(advanced, {spec[0]: summary(spec) for spec in SPECS})
    assert "人形机器人" in topic_with(labelled.topics, 12).label_terms
    assert topic_with(labelled.topics, 1).label_terms == topic_with(state.topics, 1).label_terms  # 5 < 1.5 × 4
    assert stale_labels(labelled) == []


def test_a_story_that_changes_theme_moves(vectors):
    state = recompute_topics([summary(spec) for spec in SORA], vectors, NOW)
    moved = summary((5, "world_models", SORA[4][2], SORA[4][3], 1))
    advanced = assign_new(state, [moved], {5: vectors[5]}, NOW)
    assert set(topic_with(advanced.topics, 1).story_ids) == ids(SORA[:4])
    assert advanced.unassigned["world_models"] == (5,)


def test_members_leave_with_the_window_and_small_topics_dissolve(vectors):
    stories = [summary(spec) for spec in SORA]
    state = recompute_topics(stories, vectors, NOW)
    later = assign_new(state, [], {}, NOW + 8.5 * DAY)  # story 1 (six days before NOW) has left
    assert set(topic_with(later.topics, 2).story_ids) == {2, 3, 4, 5}
    assert (topic_with(later.topics, 2).this_week, topic_with(later.topics, 2).last_week) == (0, 4)
    much_later = assign_new(state, [], {}, NOW + 10.5 * DAY)  # and 2 and 3: two are no topic
    assert much_later.topics["multimodal"] == []
    assert set(much_later.unassigned["multimodal"]) == {4, 5}


def test_the_state_survives_json(vectors):
    state = recompute_topics([summary(spec) for spec in SPECS], vectors, NOW)
    again = state_from_json(state_to_json(state))
    assert again.topics == state.topics  # everything but the centroids, which are float16 on the way
    for theme, topics in state.topics.items():
        for before, after in zip(topics, again.topics[theme], strict=True):
            assert float(before.centroid @ after.centroid) > 0.999
    assert again.unassigned == state.unassigned and again.window == state.window
    assert again.computed_at == state.computed_at and again.term_frequency == state.term_frequency
    assert again.published == state.published and len(again.published) == len(SPECS)


def write_stories(db: Path, specs, vectors, model: str, now: datetime = NOW) -> dict[int, int]:
    """Store each spec as one story of one item per headline (theme labels set); spec id → story id."""
    store = Store.open(db)
    try:
        mapping = {}
        for spec in specs:
            story = summary(spec, now)
            titles = [(lang, title) for lang, title in (("en", story.title_en), ("zh", story.title_zh)) if title]
            labels = Labels(themes={"primary": story.primary_theme, "labels": [story.primary_theme]})
            new = [
                NewItem(_item(spec[0], lang, title, story.first_published), vectors[spec[0]][row], -1, labels)
                for row, (lang, title) in enumerate(titles)
            ]
            batch = store.write_batch(new, [], model, {-1: labels})
            mapping[spec[0]] = batch.stories[-1]
    finally:
        store.close()
    return mapping


def _item(number: int, lang: str, title: str, published: datetime) -> Item:
    return Item(
        source=f"outlet-{lang}",
        guid=f"{number}-{lang}",
        url=f"https://news.example/{number}/{lang}",
        title=title,
        text=title,
        lang=lang,
        published=published,
        fetched_at=published,
        content_hash=f"{number:016x}{lang}",
    )


def test_refresh_topics_recomputes_then_advances_from_the_saved_state(tmp_path, vectors, embedder):
    db = tmp_path / "bot.db"
    mapping = write_stories(db, SORA + SD3 + LOOSE, vectors, embedder.name)
    store = Store.open(db)
    try:
        first = refresh_topics(store, embedder.name, embedder.dim, NOW - 0.5 * DAY)
        assert first.recomputed_at == NOW - 0.5 * DAY and first.read_at is not None
        assert "other" not in first.topics or first.topics["other"] == []
        mapping |= write_stories(db, ROBOTS, vectors, embedder.name)  # late: published before the state's now
        second = refresh_topics(store, embedder.name, embedder.dim, NOW)
        assert second.recomputed_at == first.recomputed_at and second.computed_at == NOW  # incremental
        robots = topic_with(second.topics, mapping[12])
        assert set(robots.story_ids) == {mapping[i] for i in ids(ROBOTS)}
        assert "人形机器人" in robots.label_terms
        assert load_state(store, embedder.name) == second
        assert load_state(store, "another-model") is None
        weekly = refresh_topics(store, embedder.name, embedder.dim, NOW + 7 * DAY)
        assert weekly.recomputed_at == NOW + 7 * DAY  # the state was a week old: recomputed in full
    finally:
        store.close()


def test_a_damaged_saved_state_is_recomputed_not_trusted(tmp_path, vectors, embedder):
    db = tmp_path / "bot.db"
    write_stories(db, SORA + SD3, vectors, embedder.name)
    store = Store.open(db)
    try:
        text = state_to_json(refresh_topics(store, embedder.name, embedder.dim, NOW))
        theme = next(name for name, saved in json.loads(text)["themes"].items() if saved["topics"])
        damages = (
            lambda doc: doc["themes"][theme].update(centroids=""),  # an older packing: a string, not two
            lambda doc: doc["themes"][theme].update(dim=7),  # rows that do not fit the width
            lambda doc: doc.update(version=0),  # another format
        )
        for damage in damages:
            document = json.loads(text)
            damage(document)
            store.set_meta(f"topics.state.{embedder.name}", json.dumps(document))
            assert load_state(store, embedder.name) is None
            assert refresh_topics(store, embedder.name, embedder.dim, NOW + DAY).recomputed_at == NOW + DAY
    finally:
        store.close()


# -- theme suggestions -----------------------------------------------------------------------


def test_suggestions_paste_into_config_as_valid_themes(topics):
    stories = {spec[0]: summary(spec) for spec in SPECS}
    shipped = load_settings(REPO / "sources.yaml").themes
    text = suggest_themes(topics["other"], stories, existing=shipped)
    entries = yaml.safe_load(text)
    assert list(entries) == ["humanoid_robot"]
    theme = ThemeConfig.model_validate(entries["humanoid_robot"])
    assert "humanoid robot" in theme.keywords.en and "人形机器人" in theme.keywords.zh
    assert set(theme.examples) <= {title for spec in ROBOTS for title in spec[2:4] if title}
    assert len(theme.examples) == 4 and theme.description
    pasted = yaml.safe_load("themes:\n" + text)  # indented to sit under `themes:`
    settings = parse_settings({"themes": {**_raw_themes(), **pasted["themes"]}}, REPO / "sources.yaml")
    assert "humanoid_robot" in settings.themes and "llm" in settings.themes


def _raw_themes() -> dict:
    return yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))["themes"]


def test_suggestions_avoid_taken_names_and_skip_loose_topics(topics):
    stories = {spec[0]: summary(spec) for spec in SPECS}
    renamed = yaml.safe_load(suggest_themes(topics["other"], stories, existing={"humanoid_robot"}))
    assert list(renamed) == ["humanoid_robot_2"]
    assert suggest_themes(topics["multimodal"][1:], stories) == ""  # three stories: too small to suggest


# -- the commands ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, vectors, embedder) -> Path:
    directory = tmp_path_factory.mktemp("topics-data")
    write_stories(directory / "bot.db", SPECS, vectors, embedder.name)
    return directory


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bot_topics_json(capsys, data_dir):
    config = str(REPO / "sources.yaml")
    code, out, _ = run(
        capsys, "--config", config, "--data-dir", str(data_dir), "topics", "--now", NOW.isoformat(), "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["window_days"] == 14 and result["stories"] == len(SPECS)
    assert [len(topic["story_ids"]) for topic in result["themes"]["multimodal"]["topics"]] == [5, 3]
    sora = result["themes"]["multimodal"]["topics"][0]
    assert sora["label_terms"][0] == "Sora" and sora["trend"]["zh"] == "本周 5 条，上周 0 条"
    assert sora["representative"]["title"]
    assert {topic["label"] for topic in result["emerging"]} >= {sora["label"]}
    assert result["themes"]["other"]["unassigned"] == 2


def test_bot_topics_text_for_one_theme(capsys, data_dir):
    config = str(REPO / "sources.yaml")
    code, out, _ = run(
        capsys,
        "--config",
        config,
        "--data-dir",
        str(data_dir),
        "topics",
        "--theme",
        "other",
        "--now",
        "2024-06-28T12:00:00+00:00",
    )
    assert code == 0
    assert "other — 8 stories, 1 topic" in out and "multimodal" not in out
    assert "▲" in out and "6 stories this week, 0 the week before" in out


def test_bot_topics_before_the_stories_and_bad_usage(capsys, data_dir):
    config = str(REPO / "sources.yaml")
    base = ("--config", config, "--data-dir", str(data_dir), "topics")
    code, out, _ = run(capsys, *base, "--now", "2024-01-01", "--json")
    assert code == 0 and json.loads(out)["stories"] == 0
    assert run(capsys, *base, "--now", "yesterday")[0] == 2
    assert run(capsys, *base, "--theme", "robots")[0] == 2


def test_bot_themes_suggest(capsys, data_dir, tmp_path):
    config = str(REPO / "sources.yaml")
    code, out, _ = run(
        capsys, "--config", config, "--data-dir", str(data_dir), "themes", "suggest", "--now", NOW.isoformat()
    )
    assert code == 0
    assert ThemeConfig.model_validate(yaml.safe_load(out)["humanoid_robot"])
    code, out, _ = run(
        capsys, "--config", config, "--data-dir", str(data_dir), "themes", "suggest", "--now", "2024-07-30"
    )
    assert code == 0 and out.startswith("No theme to suggest:")
