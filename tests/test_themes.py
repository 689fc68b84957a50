"""The theme classifier with the real multilingual embedder and themes written here, plus the shipped config.

Themes in most tests are our own small ones (robotics, chips, other), so what is tested is the
mechanism — config in, labels out — not the wording of sources.yaml.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.core.config import Keywords, ThemeConfig, load_settings
from bot.core.models import Item
from bot.ingest.embed import UseEmbedder
from bot.ingest.normalize import normalize
from bot.ingest.sources.rss import parse_feed
from bot.ingest.themes import LEAD_CHARS, ThemeClassifier, ThemeScores, story_themes

REPO_ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)

ROBOTICS = ThemeConfig(
    description="Robotics: robot arms, humanoid and legged robots, grasping and manipulation, robot "
    "control and navigation. 机器人：机械臂、人形机器人、四足机器人、抓取与导航。",
    keywords=Keywords(
        en=("robot", "robotic", "humanoid", "manipulation", "grasping", "quadruped"),
        zh=("机器人", "机械臂", "人形", "四足", "灵巧手"),
    ),
    examples=(
        "Humanoid robot learns to fold laundry from a few human demonstrations",
        "Legged robot keeps its balance on ice and loose gravel",
        "Warehouse robot arm picks thousands of unfamiliar objects per hour",
        "人形机器人学会端茶倒水，灵巧手可抓取易碎物品",
        "四足机器人爬楼梯、越障碍，步态控制更稳定",
    ),
)
CHIPS = ThemeConfig(
    description="Semiconductors: AI chips and accelerators, GPUs, chip design, foundries and "
    "lithography, memory bandwidth. 芯片：AI 芯片、GPU、晶圆代工、光刻与存储。",
    keywords=Keywords(
        en=("chip", "GPU", "semiconductor", "accelerator", "foundry", "lithography", "wafer"),
        zh=("芯片", "半导体", "晶圆", "光刻", "算力卡", "制程"),
    ),
    examples=(
        "New AI accelerator doubles memory bandwidth for training clusters",
        "Foundry begins volume production on its most advanced process node",
        "Start-up tapes out an inference chip that runs on a few watts",
        "国产 AI 芯片量产，算力对标主流数据中心 GPU",
        "晶圆厂扩产：先进制程产能明年翻倍",
    ),
)
OTHER = ThemeConfig(
    description="Everything else: sports, weather, travel, food, politics and general news that is "
    "not about robots or chips. 其他：体育、天气、旅游、美食、政治与社会新闻。",
    keywords=Keywords(en=("football", "election", "recipe"), zh=("足球", "选举", "菜谱")),
    examples=(
        "Home team wins the football final in extra time",
        "Heavy rain expected across the region this weekend",
        "A simple recipe for a weeknight noodle soup",
        "周末气温骤降，北方多地迎来降雪",
        "城市马拉松鸣枪开跑，三万名跑者参赛",
    ),
)
SPACE = ThemeConfig(
    description="Spaceflight: rockets, launches, satellites, space stations and missions to the "
    "Moon and Mars. 航天：火箭发射、卫星、空间站、探月与火星任务。",
    keywords=Keywords(en=("rocket", "satellite", "spacecraft", "orbit"), zh=("火箭", "卫星", "航天", "空间站")),
    examples=(
        "Reusable rocket lands on a drone ship after delivering satellites to orbit",
        "Crew docks with the space station for a six-month mission",
        "可回收火箭成功发射，一箭多星送入轨道",
        "探月任务着陆月球背面，开始采样",
    ),
)
PEOPLE = ThemeConfig(
    description="People moves: engineers and executives joining, leaving or founding companies. "
    "人事变动：加盟、离职、创业。",
    keywords=Keywords(en=("joins", "leaves", "hired"), zh=("加盟", "离职")),
    examples=("Veteran engineer leaves to start a company", "资深工程师离职创业"),
)

THEMES = {"robotics": ROBOTICS, "chips": CHIPS, "other": OTHER}


def make_item(title: str, text: str = "", lang: str = "en") -> Item:
    return Item(
        source="test",
        guid=title,
        url=f"https://example.org/{abs(hash(title))}",
        title=title,
        text=text,
        lang=lang,
        published=NOW,
        fetched_at=NOW,
        content_hash=str(abs(hash((title, text)))),
    )


@pytest.fixture(scope="module")
def classifier(embedder: UseEmbedder) -> ThemeClassifier:
    return ThemeClassifier(THEMES, embedder)


def classify(classifier: ThemeClassifier, embedder: UseEmbedder, items: list[Item], **kwargs) -> list[ThemeScores]:
    vectors = embedder.encode([item.embed_text for item in items])
    return classifier.classify(items, vectors, **kwargs)


@pytest.mark.parametrize(
    ("title", "text", "lang", "expected"),
    [
        ("A two-armed robot ties shoelaces after watching videos", "The robot uses two grippers.", "en", "robotics"),
        ("双臂机器人看视频学会系鞋带", "研究团队让机械臂模仿人类动作。", "zh", "robotics"),
        ("Chipmaker unveils a GPU with twice the memory bandwidth", "The part targets data centers.", "en", "chips"),
        ("新一代光刻机交付，芯片制程再进一步", "晶圆厂计划明年量产。", "zh", "chips"),
        ("Snowstorm closes mountain roads for the weekend", "Drivers are told to stay home.", "en", "other"),
        ("春节假期旅游人数创新高，热门景区一票难求", "多地景区提前发布限流通知。", "zh", "other"),
    ],
)
def test_items_in_both_languages_get_the_right_primary(classifier, embedder, title, text, lang, expected):
    [result] = classify(classifier, embedder, [make_item(title, text, lang)])
    assert result.primary == expected
    assert result.labels[0] == expected
    assert set(result.scores) == set(THEMES)


def test_a_theme_added_in_config_takes_effect_without_code(embedder):
    item = make_item("Heavy rocket puts a weather satellite into orbit", "Liftoff was on schedule.")
    zh_item = make_item("长征火箭发射成功，将两颗卫星送入预定轨道", "发射任务取得圆满成功。", "zh")
    before = classify(ThemeClassifier(THEMES, embedder), embedder, [item, zh_item])
    assert all("space" not in r.scores for r in before)
    with_space = ThemeClassifier({**THEMES, "space": SPACE}, embedder)
    after = classify(with_space, embedder, [item, zh_item])
    assert [r.primary for r in after] == ["space", "space"]
    assert "space" in after[0].scores


class CountingEmbedder:
    """The real embedder, counting calls: the classifier embeds its config once, never the items."""

    def __init__(self, inner: UseEmbedder) -> None:
        self.inner, self.name, self.calls = inner, inner.name, 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts):
        self.calls += 1
        return self.inner.encode(texts)


def test_config_is_embedded_once_and_items_are_not_re_embedded(embedder):
    counting = CountingEmbedder(embedder)
    classifier = ThemeClassifier(THEMES, counting)
    items = [make_item("Humanoid robot climbs stairs"), make_item("晶圆厂扩产", "", "zh")]
    vectors = embedder.encode([item.embed_text for item in items])
    assert [r.primary for r in classifier.classify(items, vectors)] == ["robotics", "chips"]
    assert counting.calls == 1


def test_keyword_in_the_title_beats_a_weak_prototype(classifier, embedder):
    bland = embedder.encode(["Weekly update from the team"])  # a vector that points nowhere in particular
    with_keyword = make_item("Weekly update: the lithography line is running", "Notes from the team.")
    without_keyword = make_item("Weekly update from the team", "Notes from the team.")
    keyword_result, plain_result = classifier.classify([with_keyword, without_keyword], np.vstack([bland, bland]))
    assert keyword_result.primary == "chips"
    assert plain_result.primary != "chips"


def test_chinese_keywords_match_as_substrings_and_english_on_word_boundaries(classifier, embedder):
    bland = np.vstack([embedder.encode(["本周简报"])] * 3)
    items = [
        make_item("本周简报：国产晶圆产能", "", "zh"),  # 晶圆 inside a longer phrase
        make_item("Weekly notes: chipotle burrito review", ""),  # "chip" is not a word here
        make_item("Weekly notes: new WAFERS shipped", ""),  # case and plural
    ]
    results = classifier.classify(items, bland)
    assert results[0].primary == "chips"
    assert results[1].primary != "chips"
    assert results[2].primary == "chips"


def test_keyword_evidence_counts_only_in_the_headline_and_the_lead(classifier, embedder):
    bland = np.vstack([embedder.encode(["Weekly notes"])] * 2)
    filler = "Nothing much happened this week. " * (LEAD_CHARS // 20)
    early = make_item("Weekly notes", "The semiconductor plant and its foundry expansion. " + filler)
    late = make_item("Weekly notes", filler + "The semiconductor plant and its foundry expansion.")
    early_result, late_result = classifier.classify([early, late], bland)
    assert early_result.primary == "chips"
    assert late_result.primary != "chips"


def test_an_item_about_two_themes_gets_both_labels(classifier, embedder):
    [result] = classify(
        classifier,
        embedder,
        [make_item("Robot arm maker designs its own AI chip", "The robot runs vision models on the new chip.")],
    )
    assert set(result.labels) == {"robotics", "chips"}
    assert result.labels[0] == result.primary
    assert "other" not in result.labels


def test_an_off_topic_item_gets_other_alone(classifier, embedder):
    [result] = classify(classifier, embedder, [make_item("Local bakery wins a prize for its sourdough")])
    assert result.primary == "other"
    assert result.labels == ("other",)


def test_config_without_other_still_labels_every_item(embedder):
    classifier = ThemeClassifier({"robotics": ROBOTICS, "chips": CHIPS}, embedder)
    items = [make_item("Local bakery wins a prize for its sourdough"), make_item("人形机器人跑完半程马拉松", "", "zh")]
    results = classify(classifier, embedder, items)
    assert all(r.primary in ("robotics", "chips") for r in results)
    assert results[1].primary == "robotics"
    assert all(r.labels[0] == r.primary for r in results)


def test_a_people_move_signal_lifts_the_people_theme(embedder):
    classifier = ThemeClassifier({**THEMES, "people_moves": PEOPLE}, embedder)
    item = make_item("A lab's head of research starts a new role in March", "She was there for ten years.")
    [without], [with_move] = (
        classify(classifier, embedder, [item]),
        classify(classifier, embedder, [item], people_move=[True]),
    )
    assert with_move.primary == "people_moves"
    assert with_move.scores["people_moves"] > without.scores["people_moves"]


def test_empty_input(classifier):
    assert classifier.classify([], np.zeros((0, 512), dtype=np.float32)) == []
    assert classifier.classify([], np.zeros((0, 512), dtype=np.float32), people_move=[]) == []
    with pytest.raises(ValueError):
        story_themes([])
    with pytest.raises(ValueError):
        ThemeClassifier({}, UseEmbedder())


def scored(primary: str, labels: tuple[str, ...], **scores: float) -> ThemeScores:
    return ThemeScores(primary, labels, {"robotics": 0.0, "chips": 0.0, "other": 0.0, **scores})


def test_story_themes_is_a_vote_of_its_items():
    members = [
        scored("robotics", ("robotics", "chips"), robotics=1.2, chips=0.9),
        scored("robotics", ("robotics",), robotics=1.1, chips=0.2),
        scored("chips", ("chips", "robotics"), robotics=0.8, chips=1.5),
    ]
    story = story_themes(members)
    assert story.primary == "robotics"
    assert story.labels == ("robotics", "chips")  # chips is listed by two of three items
    assert story.scores["robotics"] == pytest.approx(1.0333, abs=1e-3)


def test_story_themes_breaks_a_tie_by_mean_score_and_keeps_a_singleton():
    tie = [
        scored("robotics", ("robotics",), robotics=0.6, chips=0.1),
        scored("chips", ("chips",), robotics=0.1, chips=1.4),
    ]
    assert story_themes(tie).primary == "chips"
    single = scored("other", ("other",), other=0.9)
    assert story_themes([single]) == ThemeScores("other", ("other",), single.scores)


# The shipped config, on headlines of our own (general news of each kind, not dev-set events).
SHIPPED_HEADLINES = {
    "llm": [
        ("Open-source language model tops a leaderboard for instruction following", "en"),
        ("New fine-tuning recipe cuts the cost of adapting chatbots to customer support", "en"),
        ("大语言模型推理成本再降：新方法让长上下文对话更省显存", "zh"),
        ("国产开源大模型发布新版本，数学与编程能力显著增强", "zh"),
    ],
    "multimodal": [
        ("Text-to-image model now generates consistent characters across a comic strip", "en"),
        ("Video generation model adds camera controls for filmmakers", "en"),
        ("文生视频模型上线：输入一句话生成十秒高清短片", "zh"),
        ("多模态大模型能读懂医学影像与化验单", "zh"),
    ],
    "world_models": [
        ("World model lets an agent practice driving in simulated cities", "en"),
        ("A playable game world generated frame by frame from player actions", "en"),
        ("世界模型让机器人在虚拟厨房里学会做饭", "zh"),
        ("可交互世界模型发布：输入一张图生成可探索的三维场景", "zh"),
    ],
    "bidding": [
        ("Reinforcement learning bidder keeps advertisers within their daily budget", "en"),
        ("Ad auction study shows how autobidders change reserve prices", "en"),
        ("电商广告自动出价新算法：在 ROI 约束下提升转化", "zh"),
        ("竞价广告预算分配：用强化学习平衡曝光与成本", "zh"),
    ],
    "people_moves": [
        ("Head of AI research at a search giant departs to found a start-up", "en"),
        ("Robotics company hires a former lab director as chief scientist", "en"),
        ("知名 AI 研究员离职，加盟一家大模型创业公司", "zh"),
        ("创业公司联合创始人回归老东家，出任研究负责人", "zh"),
    ],
    "other": [
        ("Government announces new rules on AI-generated content labels", "en"),
        ("AI start-up's annual revenue triples as enterprise sales grow", "en"),
        ("AI 药物发现公司完成新一轮融资", "zh"),
        ("数据中心用电激增，多地出台算力基础设施规划", "zh"),
    ],
}


@pytest.fixture(scope="module")
def shipped(embedder: UseEmbedder) -> ThemeClassifier:
    return ThemeClassifier(load_settings(REPO_ROOT / "sources.yaml").themes, embedder)


@pytest.mark.parametrize("theme", list(SHIPPED_HEADLINES))
def test_shipped_themes_classify_invented_headlines(shipped, embedder, theme):
    items = [make_item(title, "", lang) for title, lang in SHIPPED_HEADLINES[theme]]
    results = classify(shipped, embedder, items)
    assert [r.primary for r in results] == [theme] * len(items)


def _feed_items(path: Path) -> list[Item]:
    """Every entry of a recorded feed document, parsed and normalized by the bot's own code."""
    entries, _ = parse_feed(path.read_bytes(), {}, path.stem, NOW)
    return [normalize(entry) for entry in entries]


@pytest.mark.parametrize(
    "feed",
    [
        "real-world/rss-parser/giantbomb-podcast.rss",  # a video-game podcast: "game", "world", "joined by"
        "chinese/rssant/https-mlog-club-topic-atom-xml.xml",  # Go and web-development tutorials in Chinese
    ],
)
def test_real_feeds_that_are_not_ai_news_stay_other(shipped, embedder, shared_feeds, feed):
    """Whole real feeds of a kind a user adds beside AI sources: near a theme in the embedding
    space now and then (a podcast about games, a tutorial about code), never of the field.

    Without `other`'s scope a third of these entries landed in some theme's digest (214 of the
    podcast's 730, 64 of the blog's 185); with it, under one in ten (a word of the field in a
    non-AI sense, "the deluxe model of the Bombcast", "数据同步模型", still lets a few through).
    """
    items = _feed_items(shared_feeds / feed)
    assert len(items) >= 100
    named = [
        item.title for item, r in zip(items, classify(shipped, embedder, items), strict=True) if r.primary != "other"
    ]
    assert len(named) < len(items) / 10, named


def test_a_real_ai_lab_feed_still_gets_named_themes(shipped, embedder, shared_feeds):
    """The scope is a gate for posts of no theme, not a wall: a lab's own feed keeps its model news."""
    items = _feed_items(shared_feeds / "ai-labs/AI-News-Direct/google_deepmind_feeds.xml")
    primaries = Counter(r.primary for r in classify(shipped, embedder, items))
    assert primaries["llm"] >= 5 and primaries["multimodal"] >= 1


def test_an_item_without_a_word_of_the_field_is_not_claimed_by_nearness_alone(embedder):
    """`other`'s scope: the same off-topic headline, near robotics in the embedding space, is
    robotics-free once a scope is configured, while a robot headline keeps its theme."""
    scoped = {**THEMES, "other": OTHER.model_copy(update={"scope": Keywords(en=("robot",), zh=("机器人",))})}
    near = make_item("Assembly line workers learn to fold boxes faster with new hand movements")
    robot = make_item("Warehouse robot learns to fold boxes from a few demonstrations")
    without = classify(ThemeClassifier(THEMES, embedder), embedder, [near, robot])
    with_scope = classify(ThemeClassifier(scoped, embedder), embedder, [near, robot])
    assert [r.primary for r in without] == ["robotics", "robotics"]
    assert [r.primary for r in with_scope] == ["other", "robotics"]


GENERAL_NEWS_WITH_MOVE_WORDS = [
    ("谨以这段视频献给离开这个世界的人们", "zh"),  # "leaving this world": an obituary video
    ("阔别六十年，老人重返故乡小镇", "zh"),  # "returns" to a hometown
    ("Ten thousand runners join the city marathon despite the rain", "en"),
    ("Longtime bakery owner leaves the high street after forty years", "en"),
]


def test_general_news_with_a_move_word_is_no_people_move_unless_someone_moved(shipped, embedder):
    """A move word names no one who moved: outside the field (no word of it), an item is a people move
    only when the people extractor finds one. Before, a headline keyword alone ("离开", "重返", "join",
    "leaves") put obituaries, marathons and shop closures in the people-moves digest."""
    items = [make_item(title, "", lang) for title, lang in GENERAL_NEWS_WITH_MOVE_WORDS]
    extracted_none = classify(shipped, embedder, items, people_move=[False] * len(items))
    assert [r.primary for r in extracted_none] == ["other"] * len(items)
    assert all("people_moves" not in r.labels for r in extracted_none)
    moved = classify(shipped, embedder, items, people_move=[True] * len(items))
    assert [r.primary for r in moved] == ["people_moves"] * len(items)  # someone did move: the extractor says so


def test_a_move_of_the_field_counts_its_words_without_a_name(shipped, embedder):
    """In the field, the words still count: a headline can report a founding without naming anyone,
    and a question has no extraction at all."""
    nameless = make_item("Former OpenAI research VP's new startup raises $124M for AI safety research")
    [item] = classify(shipped, embedder, [nameless], people_move=[False])
    assert item.primary == "people_moves"
    question = make_item("谁离开了 OpenAI？", "", "zh")
    [asked] = classify(shipped, embedder, [question])  # a question: no extraction
    assert asked.primary == "people_moves"
