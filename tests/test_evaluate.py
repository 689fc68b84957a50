"""`bot eval` end to end on a small labeled set written here, with and without distractor feeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.config import Settings, ThemeConfig
from bot.eval.evaluate import discover_sets, evaluate, load_distractors, load_items, summarize

THEMES = {
    "robotics": ThemeConfig(
        description="Robots: manipulation, locomotion, humanoids, robot learning.",
        keywords={"en": ["robot", "humanoid"], "zh": ["机器人", "人形"]},
        examples=("A humanoid robot learns to fold laundry", "机器人学会用双手组装零件"),
    ),
    "people_moves": ThemeConfig(
        description="People joining, leaving or founding AI labs and companies.",
        keywords={"en": ["joins", "leaves", "hired"], "zh": ["加入", "离职"]},
        examples=("Chief scientist leaves to found a startup", "前首席科学家加入新公司"),
    ),
    "other": ThemeConfig(description="AI news that fits no other theme: policy, business, science."),
}

LABELED = [
    {
        "id": "talon-en",
        "story": "talon",
        "lang": "en",
        "source": "robot_news",
        "url": "https://robot.example/talon-2",
        "published": "2025-03-03T09:00:00+00:00",
        "title": "Kestrel Robotics unveils Talon-2, a humanoid that sorts parcels",
        "summary": "The humanoid robot Talon-2 picks and sorts parcels in warehouses for eight hours.",
        "theme": "robotics",
        "themes": ["robotics"],
    },
    {
        "id": "talon-zh",
        "story": "talon",
        "lang": "zh",
        "source": "cn_tech",
        "url": "https://cn.example/talon-2",
        "published": "2025-03-03T15:00:00+00:00",
        "title": "Kestrel Robotics 发布人形机器人 Talon-2：可在仓库分拣包裹",
        "summary": "这款人形机器人能连续工作八小时，在仓库中拣选和分拣包裹。",
        "theme": "robotics",
        "themes": ["robotics"],
    },
    {
        "id": "torres-en",
        "story": "torres",
        "lang": "en",
        "source": "tech_daily",
        "url": "https://tech.example/torres-joins-quillon",
        "published": "2025-04-20T10:00:00+00:00",
        "title": "Maya Torres leaves Vega AI and joins Quillon as chief scientist",
        "summary": "Maya Torres, who led research at Vega AI, joins Quillon as its chief scientist.",
        "theme": "people_moves",
        "themes": ["people_moves"],
        "people_moves": [{"person": "Maya Torres", "from": "Vega AI", "to": "Quillon"}],
    },
]

QUERIES = [
    {"qid": "q1", "lang": "en", "query": "humanoid robots sorting parcels", "relevant_stories": ["talon"]},
    {"qid": "q2", "lang": "zh", "query": "谁加入了 Quillon？", "relevant_stories": ["torres"], "kind": "crosslingual"},
]

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lab archive</title><link>https://lab.example/</link>
{items}
</channel></rss>
"""


def rss_item(title: str, link: str) -> str:
    return f"<item><title>{title}</title><link>{link}</link><description>{title}.</description></item>"


@pytest.fixture
def labeled(tmp_path: Path) -> Path:
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "items.jsonl").write_text("\n".join(json.dumps(row) for row in LABELED) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(row) for row in QUERIES) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    """Two archives sharing one entry, an HTML page, a note and a too-short title: 3 distractors."""
    folder = tmp_path / "feeds"
    (folder / "labs").mkdir(parents=True)
    shared = rss_item("Quillon opens a new office in Lisbon", "https://lab.example/lisbon")
    (folder / "labs" / "quillon.xml").write_text(
        FEED.format(
            items=shared
            + rss_item("Quillon publishes its annual report", "https://lab.example/report")
            + rss_item("Hi", "https://lab.example/hi")
        ),
        encoding="utf-8",
    )
    (folder / "mirror.xml").write_text(
        FEED.format(items=shared + rss_item("A garden robot that weeds by itself", "https://lab.example/weeds")),
        encoding="utf-8",
    )
    (folder / "page.html").write_text("<!doctype html><html><body>Not a feed</body></html>", encoding="utf-8")
    (folder / "NOTES.md").write_text("# where these came from\n", encoding="utf-8")
    return folder


def test_distractors_are_each_entry_once_unlabeled_inside_the_labeled_period(labeled: Path, feeds: Path) -> None:
    items = load_items(labeled)
    noise = load_distractors(feeds, items)
    assert sorted(item.raw.title for item in noise) == [
        "A garden robot that weeds by itself",
        "Quillon opens a new office in Lisbon",
        "Quillon publishes its annual report",
    ]
    assert all(item.theme is None and not item.themes and not item.moves for item in noise)
    assert len({item.story for item in noise}) == 3  # each its own story
    first, last = min(i.raw.published for i in items), max(i.raw.published for i in items)
    assert all(first <= item.raw.published <= last for item in noise)  # type: ignore[operator]
    again = load_distractors(feeds, items)
    assert [i.raw.published for i in again] == [i.raw.published for i in noise]  # the same run every time


def test_evaluate_scores_the_labeled_items_and_counts_distractors_in_dedup_only(
    labeled: Path, feeds: Path, embedder
) -> None:
    clean = evaluate(labeled, Settings(themes=THEMES), embedder=embedder)
    noise = load_distractors(feeds, load_items(labeled))
    noisy = evaluate(labeled, Settings(themes=THEMES), embedder=embedder, noise=noise)
    assert (clean["items"], clean["distractors"]) == (3, 0)
    assert (noisy["items"], noisy["distractors"]) == (6, 3)
    assert clean["stories_true"] == 2 and noisy["stories_true"] == 5
    assert clean["dedup"]["pairwise_precision"] == clean["dedup"]["pairwise_recall"] == 1.0  # the translation pair
    assert noisy["themes"] == clean["themes"]  # unlabeled items are not scored for themes
    assert clean["people_moves"]["f1"] == 1.0
    assert clean["search"]["recall@5"] == 1.0 and clean["search"]["crosslingual_recall@5"] == 1.0
    assert noisy["search"]["mrr"] > 0


def test_cli_prints_how_many_distractors_it_mixed_in(labeled: Path, feeds: Path, capsys, tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("embedding:\n  backend: use\n  threads: 1\n", encoding="utf-8")
    code = main(["--config", str(config), "eval", "--data", str(labeled), "--distractors", str(feeds)])
    out = capsys.readouterr().out
    assert code == 0
    assert "items 6 (3 of them unlabeled distractors)" in out
    assert "search         recall@5" in out


def test_a_folder_without_feeds_is_a_clear_error(labeled: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    code = main(["eval", "--data", str(labeled), "--distractors", str(empty)])
    assert code == 2
    assert "no feed documents found" in capsys.readouterr().err


def test_several_sets_print_one_row_each_and_the_worst_and_mean(labeled: Path, tmp_path: Path, capsys) -> None:
    themes_only = tmp_path / "eval-real"
    themes_only.mkdir()
    rows = [dict(LABELED[0], id="solo", story="solo", url="https://robot.example/solo")]
    (themes_only / "items.jsonl").write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    config = tmp_path / "sources.yaml"
    config.write_text("embedding:\n  backend: use\n  threads: 1\n", encoding="utf-8")
    code = main(["--config", str(config), "eval", "--data", str(labeled), "--data", str(themes_only), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(result["sets"]) == {"eval", "eval-real"}
    real = result["sets"]["eval-real"]
    assert real["search"] is None and real["people_moves"] is None  # no queries, no labeled moves: skipped
    assert set(real["themes"]["per_theme_precision"]) == set(real["themes"]["per_theme_recall"]) >= {"other"}
    # search and people come from the one set that has them; dedup is the worse of the two
    assert result["worst"]["search"] == {k: v for k, v in result["sets"]["eval"]["search"].items()}
    worst_f1 = min(s["dedup"]["pairwise_f1"] for s in result["sets"].values())
    assert result["worst"]["dedup"]["pairwise_f1"] == worst_f1
    code = main(["--config", str(config), "eval", "--data", str(labeled), "--data", str(themes_only)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["eval", "eval-real", "worst", "mean"]


def test_the_default_sets_are_the_eval_folders(tmp_path: Path) -> None:
    for name in ("eval-b", "eval", "evaluation-notes", "fixtures"):
        (tmp_path / name).mkdir()
    for name in ("eval-b", "eval", "fixtures"):
        (tmp_path / name / "items.jsonl").write_text("", encoding="utf-8")
    assert [path.name for path in discover_sets(tmp_path)] == ["eval", "eval-b"]


def test_summary_skips_missing_blocks_rather_than_counting_zero() -> None:
    sets = {
        "a": {"dedup": {"pairwise_f1": 0.9}, "search": {"mrr": 0.5}, "themes": None},
        "b": {"dedup": {"pairwise_f1": 0.7}, "search": {"mrr": 0.7}, "themes": {"macro_f1": 0.8, "per_theme": {}}},
        # no questions: real feed entries labeled with themes, not a period; only its themes count
        "real": {"dedup": {"pairwise_f1": 0.1}, "search": None, "themes": {"macro_f1": 0.6, "per_theme": {}}},
    }
    summary = summarize(sets)
    assert summary["worst"] == {"dedup": {"pairwise_f1": 0.7}, "themes": {"macro_f1": 0.6}, "search": {"mrr": 0.5}}
    assert summary["mean"]["dedup"] == {"pairwise_f1": 0.8}
