"""Hybrid story search on a real store: vectors across languages, full text for names, filters."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.config import Settings, ThemeConfig, resolve_paths
from bot.core.models import RawEntry
from bot.ingest.pipeline import open_pipeline
from bot.query.search import TEXT_ONLY, Filters, fuse, query_terms, query_year, search_stories

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

THEMES = {
    "robotics": ThemeConfig(
        description="Robots: manipulation, locomotion, humanoids, robot learning.",
        keywords={"en": ["robot", "humanoid", "manipulation"], "zh": ["机器人", "人形"]},
        examples=("A humanoid robot learns to fold laundry", "机器人学会用双手组装零件"),
    ),
    "chips": ThemeConfig(
        description="AI chips and accelerators, data centers, compute supply.",
        keywords={"en": ["chip", "GPU", "accelerator"], "zh": ["芯片", "算力"]},
        examples=("A new AI accelerator doubles training throughput", "国产 AI 芯片量产"),
    ),
    "other": ThemeConfig(description="AI news that fits no other theme: policy, business, science."),
}


def entry(source, title, summary, days_ago, link):
    return RawEntry(
        source=source,
        title=title,
        link=link,
        summary_html=summary,
        fetched_at=NOW,
        published=NOW - timedelta(days=days_ago),
    )


ENTRIES = [
    entry(
        "robot_news",
        "Kestrel Robotics unveils Talon-2, a humanoid that sorts parcels",
        "The humanoid robot Talon-2 picks and sorts parcels in warehouses for eight hours.",
        2,
        "https://robot.example/talon-2",
    ),
    entry(
        "cn_tech",
        "Kestrel Robotics 发布人形机器人 Talon-2：可在仓库分拣包裹",
        "这款人形机器人能连续工作八小时，在仓库中拣选和分拣包裹。",
        1,
        "https://cn.example/talon-2",
    ),
    entry(
        "chip_wire",
        "Arcadia launches the A9 accelerator for training large models",
        "The A9 chip doubles training throughput and ships to data centers next quarter.",
        3,
        "https://chips.example/a9",
    ),
    entry(
        "chip_wire",
        "Arcadia A7 accelerator review, one year on",
        "An old accelerator revisited: the A7 chip still runs many inference clusters.",
        300,
        "https://chips.example/a7",
    ),
    entry(
        "policy_daily",
        "Regulators publish draft rules for AI model audits",
        "The draft requires audits of large AI models before release.",
        4,
        "https://policy.example/audits",
    ),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder):
    settings = Settings(themes=THEMES)
    pipe, _ = open_pipeline(settings, resolve_paths(tmp_path_factory.mktemp("search")), embedder)
    pipe.ingest(ENTRIES)
    yield pipe
    pipe.store.close()


def test_translation_pair_is_one_story_found_from_either_language(pipeline):
    en = search_stories(pipeline, "humanoid robot for warehouse parcel sorting", k=1)[0]
    zh = search_stories(pipeline, "仓库分拣包裹的人形机器人", k=1)[0]
    assert en.story.id == zh.story.id
    assert set(en.items) == {"en", "zh"}  # the best item in each language
    assert {source for source, _ in en.links} == {"robot_news", "cn_tech"}


def test_names_are_matched_exactly_by_the_text_index(pipeline):
    hits = search_stories(pipeline, "Arcadia A9", k=2)
    assert hits[0].items["en"].url == "https://chips.example/a9"


def test_theme_filter_keeps_only_that_theme(pipeline):
    hits = search_stories(pipeline, "a new accelerator chip for training", k=5, filters=Filters(theme="chips"))
    assert hits and all("chips" in hit.story.themes or hit.story.primary_theme == "chips" for hit in hits)


def test_time_window_filter(pipeline):
    recent = search_stories(pipeline, "Arcadia accelerator", k=5, filters=Filters(since=timedelta(days=30), now=NOW))
    urls = [hit.items["en"].url for hit in recent]
    assert urls[0] == "https://chips.example/a9"
    assert "https://chips.example/a7" not in urls  # 300 days old
    everything = [hit.items["en"].url for hit in search_stories(pipeline, "Arcadia accelerator", k=5)]
    assert "https://chips.example/a7" in everything


def test_query_terms_keep_names_and_quoted_phrases():
    assert query_terms("Stable Diffusion 系列新模型") == ["Stable Diffusion"]
    assert query_terms("what did Kestrel Robotics and OpenAI announce about Talon-2?") == [
        "Kestrel Robotics",
        "OpenAI",
        "Talon-2",
    ]
    assert query_terms("“world model” for games") == ["world model"]
    assert query_terms("仓库分拣包裹的人形机器人") == []


def test_query_year():
    assert query_year("OpenAI researchers who resigned in 2024") == 2024
    assert query_year("2023年发布的模型") == 2023
    assert query_year("a 12000-token context") is None


def test_fuse_rewards_agreement_between_rankings():
    scores = fuse([[1, 2, 3], [3, 1]], [1.0, 0.5])
    assert max(scores, key=scores.get) == 1
    assert scores[3] > scores[2]  # found by both beats found by one


def test_off_topic_questions_find_nothing(pipeline):
    assert search_stories(pipeline, "recipe for banana bread") == []
    assert search_stories(pipeline, "今天天气怎么样") == []


ARCHIVE = [  # a lab's back catalogue: every post names the lab, most of them briefly
    ("Quillon opens a new office in Lisbon", "https://quillon.example/lisbon"),
    ("Quillon publishes its annual report", "https://quillon.example/report"),
    ("Quillon partners with a cloud provider", "https://quillon.example/cloud"),
    ("Quillon model card for Q-3", "https://quillon.example/q3-card"),
    ("Quillon at NeurIPS", "https://quillon.example/neurips"),
    ("Quillon's approach to safety evaluations", "https://quillon.example/safety"),
    ("Quillon API pricing update", "https://quillon.example/pricing"),
    ("Quillon Q-3 now available in Europe", "https://quillon.example/europe"),
]
MOVE = (
    "Former Vega AI research lead Maya Torres joins Quillon",
    "Maya Torres, who ran the alignment team at Vega AI for four years, has joined Quillon, where she"
    " will build a new research group focused on interpretability; she starts next month.",
    "https://news.example/torres-joins-quillon",
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, embedder):
    pipe, _ = open_pipeline(Settings(themes=THEMES), resolve_paths(tmp_path_factory.mktemp("archive")), embedder)
    pipe.ingest([entry("quillon_blog", title, title + ".", 10 + n, link) for n, (title, link) in enumerate(ARCHIVE)])
    pipe.ingest([entry("tech_daily", MOVE[0], MOVE[1], 3, MOVE[2])])
    yield pipe
    pipe.store.close()


def test_name_matches_are_ordered_by_what_the_question_asks_about_the_name(archive):
    """Every item names Quillon; BM25 would put the shortest posts first. What is asked decides."""
    by_text = search_stories(archive, "who joined Quillon?", k=3, weights=TEXT_ONLY)
    assert by_text[0].items["en"].url == MOVE[2]
    assert search_stories(archive, "Quillon pricing", k=1, weights=TEXT_ONLY)[0].items["en"].url.endswith("/pricing")


def test_a_title_only_item_does_not_outrank_items_with_text(tmp_path, embedder):
    """Archive listings carry a headline and nothing else; a few matching words must not put them first."""
    pipe, _ = open_pipeline(Settings(themes=THEMES), resolve_paths(tmp_path / "data"), embedder)
    try:
        bare = [
            ("World models for autonomous driving robots", "https://robots.example/a"),
            ("Autonomous driving world models: a robotics reading list", "https://robots.example/b"),
            ("World models and autonomous driving for warehouse robots", "https://robots.example/c"),
        ]
        pipe.ingest([entry("robot_archive", title, "", 3 + n, link) for n, (title, link) in enumerate(bare)])
        gaia = entry(
            "lab_blog",
            "GAIA-1: a generative model of traffic scenes",
            "The lab trains a 9-billion-parameter generative world model on driving video, text and actions;"
            " it predicts plausible futures of a traffic scene for testing self-driving cars.",
            2,
            "https://lab.example/gaia-1",
        )
        pipe.ingest([gaia])
        hits = search_stories(pipe, "world models for autonomous driving", k=4)
        assert hits[0].items["en"].url == "https://lab.example/gaia-1"
        assert {hit.items["en"].url for hit in hits[1:]} == {link for _, link in bare}  # still found, after it
    finally:
        pipe.store.close()
