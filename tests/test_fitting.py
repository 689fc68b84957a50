"""`bot eval --fit` / `--cross` on small labeled sets written here, with the real embedder and pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.config import Settings, ThemeConfig
from bot.core.params import Params
from bot.eval.evaluate import CachedEmbedder
from bot.eval.fitting import THEME_GRID, Fitter, _f1_at, cross_report
from bot.ingest.dedup import SIGNALS, DedupParams

THEMES = {
    "robotics": ThemeConfig(
        description="Robots: manipulation, locomotion, humanoids, robot learning.",
        keywords={"en": ["robot", "humanoid"], "zh": ["机器人", "人形"]},
        examples=("A humanoid robot learns to fold laundry", "机器人学会用双手组装零件"),
    ),
    "other": ThemeConfig(description="AI news that fits no other theme: policy, business, science."),
}

# (story, source, hours after the start, title, summary): each event told by two or three outlets
EVENTS = [
    (
        "talon",
        "robot_news",
        0,
        "Kestrel Robotics unveils Talon-2, a humanoid that sorts parcels",
        "The humanoid robot Talon-2 picks and sorts parcels in warehouses for eight hours.",
    ),
    (
        "talon",
        "cn_tech",
        5,
        "Kestrel Robotics 发布人形机器人 Talon-2：可在仓库分拣包裹",
        "这款人形机器人能连续工作八小时，在仓库中拣选和分拣包裹。",
    ),
    (
        "talon",
        "daily_ai",
        9,
        "Talon-2 humanoid from Kestrel sorts warehouse parcels",
        "Kestrel's Talon-2 robot works eight-hour shifts sorting parcels.",
    ),
    (
        "tide",
        "sea_news",
        30,
        "Marlin Lab releases TideNet, a model that forecasts ocean currents",
        "TideNet predicts ocean currents ten days ahead from satellite data.",
    ),
    ("tide", "cn_tech", 34, "Marlin Lab 发布洋流预测模型 TideNet", "TideNet 可以根据卫星数据提前十天预测洋流。"),
    (
        "quill",
        "pen_times",
        60,
        "Quillon launches a handwriting robot arm for calligraphy",
        "The arm reproduces brush calligraphy strokes from a photo.",
    ),
    ("quill", "cn_tech", 66, "Quillon 推出书法机器人手臂", "这款机械臂可以根据照片复现毛笔书法笔画。"),
]
# the same outlet, the same hours, the same field, but each its own event
SAME_OUTLET_OTHER_EVENTS = [
    ("talon-b", "robot_news", 2, "Kestrel Robotics opens a Talon-2 parcel-sorting pilot in Rotterdam",
     "A warehouse in Rotterdam will test Talon-2 humanoids sorting parcels."),
    ("tide-b", "sea_news", 31, "Marlin Lab shares TideNet training data for ocean current forecasts",
     "The lab releases the satellite data used to train its ocean current model."),
    ("quill-b", "pen_times", 61, "Quillon's calligraphy robot arm goes on sale in Japan",
     "The robot arm for brush calligraphy is now sold in Japanese stores."),
]  # fmt: skip

# one company's generic posts, relayed by three digests a week apart: each its own event, all alike
CROWDED_FEED = [
    (f"generic-{n}", f"digest_{n % 3}", 1 + 7 * n, title, summary)
    for n, (title, summary) in enumerate(
        [
            ("Team update from Kestrel Robotics", "News from our team this week."),
            ("Leadership updates at Kestrel Robotics", "Changes to our leadership team."),
            ("Kestrel Robotics weekly roundup", "What our team shipped this week."),
            ("Kestrel Robotics team news", "An update from the team."),
            ("Our team at Kestrel Robotics this month", "A monthly note from the team."),
            ("Kestrel Robotics: notes from the team", "What the team has been up to."),
            ("Kestrel Robotics company update", "An update on the company."),
            ("A message from the Kestrel Robotics team", "A short note from our team."),
            ("Kestrel Robotics newsletter", "This week's newsletter from the team."),
            ("Kestrel Robotics quarterly update", "Our quarter in review."),
        ]
    )
]


def write_set(folder: Path, events, start: str = "2025-03-03", queries=()) -> Path:
    folder.mkdir(parents=True)
    rows = []
    for number, (story, source, hours, title, summary) in enumerate(events):
        day, hour = divmod(hours, 24)
        rows.append(
            {
                "id": f"{folder.name}-{number}",
                "story": f"{folder.name}-{story}",
                "lang": "zh" if any("\u4e00" <= c <= "\u9fff" for c in title) else "en",
                "source": source,
                "url": f"https://{source}.example/{folder.name}/{number}",
                "published": f"{start[:8]}{int(start[8:]) + day:02d}T{hour:02d}:00:00+00:00",
                "title": title,
                "summary": summary,
                "theme": "robotics" if "robot" in title.lower() or "机器人" in title else "other",
                "themes": [],
            }
        )
    (folder / "items.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    if queries:
        lines = [
            json.dumps({**q, "relevant_stories": [f"{folder.name}-{s}" for s in q["relevant_stories"]]})
            for q in queries
        ]
        (folder / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


QUERIES = [
    {"qid": "q1", "lang": "en", "query": "humanoid robot sorting parcels", "relevant_stories": ["talon"]},
    {"qid": "q2", "lang": "zh", "query": "洋流预测模型", "relevant_stories": ["tide"], "kind": "crosslingual"},
]


@pytest.fixture
def cached(embedder) -> CachedEmbedder:
    return CachedEmbedder(embedder)


def test_the_fit_is_deterministic_and_records_its_sets(tmp_path: Path, capsys) -> None:
    first = write_set(tmp_path / "eval-a", EVENTS + SAME_OUTLET_OTHER_EVENTS, queries=QUERIES)
    second = write_set(tmp_path / "eval-b", EVENTS, start="2025-06-02", queries=QUERIES)
    config = tmp_path / "sources.yaml"
    config.write_text("embedding:\n  backend: use\n  threads: 1\n", encoding="utf-8")
    outputs = [tmp_path / "one.json", tmp_path / "two.json"]
    for out, order in zip(outputs, ([first, second], [second, first]), strict=True):
        assert main(["--config", str(config), "eval", "--fit", *map(str, order), "--out", str(out)]) == 0
    assert outputs[0].read_bytes() == outputs[1].read_bytes()  # same sets, same bytes, whatever the order
    params = Params.from_json(outputs[0].read_text(encoding="utf-8"))
    assert params.fitted_on == ("eval-a", "eval-b")
    assert set(params.dedup["weights"]) >= {"vectors", "names", "sources", "time"}
    assert "wrote" in capsys.readouterr().out


def test_same_outlet_follow_ups_teach_a_same_outlet_penalty(tmp_path: Path, cached: CachedEmbedder) -> None:
    """Adding events that one outlet reports twice as separate stories must lower the same-outlet weight."""
    fitter = Fitter(Settings(themes=THEMES), cached)
    plain = fitter.fit_pair_model([write_set(tmp_path / "plain", EVENTS)])
    follow_ups = fitter.fit_pair_model([write_set(tmp_path / "follow", EVENTS + SAME_OUTLET_OTHER_EVENTS)])
    assert follow_ups.weights["sources"] < plain.weights["sources"]
    assert follow_ups.weights["vectors"] > 0  # meaning stays evidence for the same event


def test_cross_report_on_two_tiny_periods(tmp_path: Path, cached: CachedEmbedder) -> None:
    first = write_set(tmp_path / "eval-a", EVENTS + SAME_OUTLET_OTHER_EVENTS, queries=QUERIES)
    second = write_set(tmp_path / "eval-b", EVENTS, start="2025-06-02", queries=QUERIES)
    report = cross_report([first, second], Settings(themes=THEMES), cached)
    assert set(report) == {"eval-a", "eval-b", "worst", "mean"}
    assert report["eval-a"]["fitted_on"] == ["eval-b"] and report["eval-b"]["fitted_on"] == ["eval-a"]
    assert report["eval-a"]["params"]["fitted_on"] == ["eval-b"]
    f1 = [report[name]["dedup"]["pairwise_f1"] for name in ("eval-a", "eval-b")]
    assert report["worst"]["dedup"]["pairwise_f1"] == min(f1)
    assert report["worst"]["search"]["recall@5"] <= report["mean"]["search"]["recall@5"]
    with pytest.raises(ValueError, match="at least two"):
        cross_report([first], Settings(themes=THEMES), cached)


def test_volume_mix_moves_the_other_sets_into_its_dates_as_other_events(tmp_path: Path, cached: CachedEmbedder) -> None:
    first = write_set(tmp_path / "eval-a", EVENTS)
    second = write_set(tmp_path / "eval-b", EVENTS, start="2025-06-02")
    fitter = Fitter(Settings(themes=THEMES), cached)
    alone, mixed = fitter.pairs(first), fitter.mixed(first, [first, second])
    assert len(mixed.stories) == 2 * len(EVENTS)
    assert len(mixed.same) > len(alone.same)  # June's items now fall within March's window
    assert mixed.same.sum() == 2 * alone.same.sum()  # each set's own stories, and nothing across sets
    pairs = zip(mixed.later, mixed.earlier, strict=True)
    across = {(mixed.stories[i].split("/")[0], mixed.stories[j].split("/")[0]) for i, j in pairs}
    assert {("eval-a", "eval-b"), ("eval-b", "eval-a")} & across


def test_outlet_negatives_are_one_outlets_other_stories_at_one_moment(tmp_path: Path, cached: CachedEmbedder) -> None:
    folder = write_set(tmp_path / "eval-a", EVENTS + SAME_OUTLET_OTHER_EVENTS)
    negatives = Fitter(Settings(themes=THEMES), cached).outlet_negatives(folder)
    sources = [source for _, source, *_ in EVENTS + SAME_OUTLET_OTHER_EVENTS]
    stories = [story for story, *_ in EVENTS + SAME_OUTLET_OTHER_EVENTS]
    expected = sum(sources[i] == sources[j] and stories[i] != stories[j] for i in range(len(stories)) for j in range(i))
    assert len(negatives) == expected > 0
    assert (negatives[:, SIGNALS.index("sources")] == 1.0).all()
    assert (negatives[:, SIGNALS.index("time")] == 0.0).all()  # as if published together


def test_theme_fit_takes_the_decision_that_says_other_among_equals(tmp_path: Path, cached: CachedEmbedder) -> None:
    """The tiny set is classified perfectly by many grid points; the fit must take the most conservative."""
    folder = write_set(tmp_path / "eval-a", EVENTS)
    params = Fitter(Settings(themes=THEMES), cached).fit_theme_decision([folder])
    assert params.confidence_floor == max(THEME_GRID["confidence_floor"])


def test_the_fit_keeps_the_hand_set_score_unless_it_does_as_well_everywhere(
    tmp_path: Path, cached: CachedEmbedder
) -> None:
    """The shipped rule "nothing worse than before": a fitted model replaces the prior only when it
    scores at least the prior's F1 on every training set and volume mix, and then the best on average."""
    first = write_set(tmp_path / "eval-a", EVENTS + SAME_OUTLET_OTHER_EVENTS + CROWDED_FEED)
    second = write_set(tmp_path / "eval-b", EVENTS, start="2025-06-02")
    fitter = Fitter(Settings(themes=THEMES), cached)
    sets = [first, second]
    chosen, prior = fitter.fit_dedup(sets), DedupParams.prior()
    judged = fitter.judged(sets)
    assert len(judged) == 4  # two sets, each also at volume
    allowed = [prior] + [
        model
        for model in (fitter.fit_pair_model(sets), fitter.fit_crowding(sets))
        if all(_f1_at(p, model) >= _f1_at(p, prior) for p in judged)
    ]
    assert chosen == max(allowed, key=lambda model: sum(_f1_at(p, model) for p in judged))
    assert all(_f1_at(p, chosen) >= _f1_at(p, prior) for p in judged)


def test_a_crowded_feed_teaches_a_crowding_correction(tmp_path: Path, cached: CachedEmbedder) -> None:
    """A feed of generic posts that all look alike (team updates, roundups), each its own event: the
    hand-set score merges them; the fit learns to discount a cosine in a crowded neighbourhood,
    and only where the training data hold such a crowd."""
    fitter = Fitter(Settings(themes=THEMES), cached)
    plain = fitter.fit_crowding([write_set(tmp_path / "eval-a", EVENTS + SAME_OUTLET_OTHER_EVENTS)])
    crowded_set = write_set(tmp_path / "eval-c", EVENTS + SAME_OUTLET_OTHER_EVENTS + CROWDED_FEED)
    crowded = fitter.fit_crowding([crowded_set])
    assert plain.weights["crowding"] == 0.0  # nothing crowded to learn from: no correction
    assert crowded.weights["crowding"] < 0.0
    assert _f1_at(fitter.pairs(crowded_set), crowded) > _f1_at(fitter.pairs(crowded_set), DedupParams.prior())


def test_cross_report_at_volume_scores_each_left_out_set_under_its_own_fit(
    tmp_path: Path, cached: CachedEmbedder
) -> None:
    first = write_set(tmp_path / "eval-a", EVENTS + SAME_OUTLET_OTHER_EVENTS, queries=QUERIES)
    second = write_set(tmp_path / "eval-b", EVENTS, start="2025-06-02", queries=QUERIES)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    entries = "".join(
        f"<item><title>{title}</title><link>https://lab.example/{n}</link><description>{title}.</description></item>"
        for n, title in enumerate(["Robots sort parcels at a new depot", "Ocean model forecasts storms", "Pens"])
    )
    (feeds / "lab.xml").write_text(f"<rss version='2.0'><channel><title>L</title>{entries}</channel></rss>")
    report = cross_report([first, second], Settings(themes=THEMES), cached, distractors=feeds)
    for name in ("eval-a", "eval-b"):
        volume = report[name]["at_volume"]
        assert volume["distractors"] == 2  # "Pens" is too short to be an entry
        assert set(volume["dedup"]) >= {"pairwise_precision", "bcubed_f1"}
        assert volume["search"] is not None
