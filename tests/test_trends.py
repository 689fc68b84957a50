"""Trends: counting and the text table on hand-built stories with a fixed clock; the chart as a real PNG with
real Chinese glyphs (rasterised and compared with matplotlib's missing-glyph boxes); `bot trends` on a data
dir filled through the real pipeline."""

from __future__ import annotations

import io
import json
import unicodedata
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.core.config import Settings, load_settings, resolve_paths
from bot.core.models import RawEntry
from bot.ingest.pipeline import open_pipeline
from bot.insight.trends import MAX_TABLE_BUCKETS, SPARK_BARS, change, count_trends, render_table, sparkline
from bot.render.chart import LATIN_FAMILY, NO_CJK_FONT, find_cjk_font, render_chart
from bot.storage import StorySummary

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 12, 11, 9, 0, tzinfo=UTC)  # a Wednesday: buckets are not calendar weeks
WEEK = timedelta(days=7)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NO_FONT_REASON = "no CJK font installed (install fonts-wqy-microhei)"


def story(
    story_id: int,
    ago: timedelta,
    theme: str = "llm",
    themes: tuple[str, ...] = (),
    outlets: int = 1,
    langs: tuple[str, ...] = ("en",),
) -> StorySummary:
    published = NOW - ago
    return StorySummary(
        id=story_id,
        items=outlets,
        outlets=outlets,
        langs=langs,
        title=f"Story {story_id}",
        title_en=f"Story {story_id}",
        title_zh="",
        primary_theme=theme,
        themes=themes or (theme,),
        first_published=published,
        last_published=published + timedelta(hours=5),
    )


STORIES = [
    story(1, timedelta(hours=1), "llm", themes=("llm", "multimodal"), outlets=3, langs=("en", "zh")),
    story(2, timedelta(days=6, hours=23), "llm"),
    story(3, WEEK + timedelta(hours=1), "bidding", outlets=2),
    story(4, 3 * WEEK + timedelta(days=2), "multimodal"),
    story(5, 4 * WEEK, "llm"),  # exactly at the start of the first bucket: counted
    story(6, 4 * WEEK + timedelta(seconds=1), "llm"),  # just before the window: not counted
    story(7, timedelta(hours=-1), "llm"),  # published after `now`: not counted
    story(8, timedelta(days=2), ""),  # no primary theme: counted as other
]


def has_ink(image: np.ndarray) -> bool:
    return bool(image.any())


# -- counting -------------------------------------------------------------------------------


def test_weekly_buckets_end_at_now_and_count_each_story_once_under_its_primary_theme():
    trends = count_trends(STORIES, NOW, weeks=4)
    assert trends.unit == "week" and trends.end == NOW and not trends.breadth
    assert trends.buckets == [NOW - 4 * WEEK, NOW - 3 * WEEK, NOW - 2 * WEEK, NOW - WEEK]
    assert trends.themes == ["llm", "multimodal", "bidding", "other"]  # digest order, other last
    assert trends.counts == {
        "llm": [1, 0, 0, 2],  # story 1 counts once, under llm only, though it is also multimodal
        "multimodal": [1, 0, 0, 0],
        "bidding": [0, 0, 1, 0],
        "other": [0, 0, 0, 1],
    }
    assert trends.totals == [2, 0, 1, 3]  # the empty week is a zero, not a gap


def test_breadth_weights_each_story_by_outlets_times_languages():
    trends = count_trends(STORIES, NOW, weeks=4, breadth=True)
    assert trends.breadth
    assert trends.counts["llm"] == [1, 0, 0, 3 * 2 + 1]
    assert trends.counts["bidding"] == [0, 0, 2, 0]


def test_themes_choose_the_rows_and_their_order_and_leave_other_stories_out():
    trends = count_trends(STORIES, NOW, weeks=2, themes=["bidding", "world_models", "llm"])
    assert trends.themes == ["bidding", "world_models", "llm"]
    assert trends.counts == {"bidding": [1, 0], "world_models": [0, 0], "llm": [0, 2]}
    assert trends.totals == [1, 2]


def test_daily_buckets_cover_the_same_span_and_no_stories_gives_no_rows():
    trends = count_trends(STORIES, NOW, weeks=1, unit="day")
    assert len(trends.buckets) == 7
    assert trends.buckets[0] == NOW - WEEK and trends.buckets[-1] == NOW - timedelta(days=1)
    assert trends.counts["llm"] == [1, 0, 0, 0, 0, 0, 1] and trends.counts["other"] == [0, 0, 0, 0, 0, 1, 0]
    empty = count_trends([], NOW, weeks=3)
    assert empty.themes == [] and empty.counts == {} and empty.totals == [0, 0, 0]
    with pytest.raises(ValueError, match="weeks"):
        count_trends(STORIES, NOW, weeks=0)


# -- text -----------------------------------------------------------------------------------


def test_sparkline_scales_from_zero_and_handles_the_edges():
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([5]) == "█"
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([7, 7]) == "██"  # a flat series is high when its values are, not at the bottom


def test_change_compares_the_last_bucket_with_the_one_before():
    assert change([3, 2, 4]) == "+2 (+100%)"
    assert change([5, 2]) == "-3 (-60%)"
    assert change([0, 4]) == "+4 (new)" and change([0, 4], "zh") == "+4 (新)"
    assert change([2, 2]) == "0" and change([9]) == "-"


def display_column(line: str, cell: str) -> int:
    prefix = line[: line.index(cell)]
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in prefix)


def sparkline_column(row: str) -> int:
    return display_column(row, next(cell for cell in row.split() if set(cell) <= set(SPARK_BARS)))


def test_table_has_counts_totals_sparklines_and_change_aligned():
    trends = count_trends(STORIES, NOW, weeks=4)
    lines = render_table(trends).splitlines()
    assert lines[0] == "Stories per theme per week · 4 weeks to 2024-12-11 09:00 UTC"
    header, *rows = lines[2:]
    assert header.split() == ["theme", "11-13", "11-20", "11-27", "12-04", "total", "trend", "change"]
    by_name = {row.split("  ")[0]: row for row in rows}
    assert by_name["Language models"].split()[2:] == ["1", "0", "0", "2", "3", "▅▁▁█", "+2", "(new)"]
    assert by_name["Multimodal"].split()[1:] == ["1", "0", "0", "0", "1", "█▁▁▁", "0"]
    assert by_name["all"].split()[1:] == ["2", "0", "1", "3", "6", "▆▁▃█", "+2", "(+200%)"]
    assert {sparkline_column(row) for row in rows} == {display_column(header, "trend")}


def test_chinese_table_keeps_columns_aligned_under_wide_characters():
    lines = render_table(count_trends(STORIES, NOW, weeks=4, breadth=True), "zh").splitlines()
    assert lines[0].startswith("每周各主题报道数（按媒体数×语言数加权）")
    header, *rows = lines[2:]
    assert header.split()[0] == "主题" and header.split()[-3:] == ["合计", "走势", "环比"]
    assert rows[0].startswith("大模型") and rows[-1].startswith("全部")
    assert {sparkline_column(row) for row in rows} == {display_column(header, "走势")}


def test_a_long_daily_table_shows_the_latest_columns_and_summarises_all():
    trends = count_trends(STORIES, NOW, weeks=4, unit="day")
    lines = render_table(trends).splitlines()
    assert f"the latest {MAX_TABLE_BUCKETS} of 28 columns shown" in lines[1]
    header, *rows = lines[2:]
    assert len(header.split()) == 1 + MAX_TABLE_BUCKETS + 3 and header.split()[1] == "11-29"
    llm = next(row for row in rows if row.startswith("Language models")).removeprefix("Language models").split()
    assert llm[MAX_TABLE_BUCKETS] == "3" and len(llm[MAX_TABLE_BUCKETS + 1]) == 28  # total and sparkline: all days
    assert render_table(count_trends([], NOW)).endswith("No stories in this period.")


# -- the chart ------------------------------------------------------------------------------


def decoded(png: bytes) -> np.ndarray:
    from matplotlib.image import imread

    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
    return imread(io.BytesIO(png), format="png")


def missing_glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(warning.message) for warning in caught if "missing from font" in str(warning.message)]


def test_the_english_chart_is_a_real_png_of_telegram_size():
    result = render_chart(count_trends(STORIES, NOW, weeks=4))
    assert decoded(result.png).shape == (700, 1200, 4)
    assert result.lang_used == "en" and result.font_name == LATIN_FAMILY and result.warning == ""
    empty = render_chart(count_trends([], NOW))
    assert decoded(empty.png).shape == (700, 1200, 4)


@pytest.fixture(scope="module")
def cjk_font():
    font = find_cjk_font()
    if font is None:
        pytest.skip(NO_FONT_REASON)
    return font


def test_the_chinese_chart_draws_with_the_cjk_font_and_no_missing_glyph(cjk_font):
    trends = count_trends(STORIES, NOW, weeks=4, breadth=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = render_chart(trends, "zh")
    assert result.lang_used == "zh" and result.font_name == cjk_font.name and result.warning == ""
    assert missing_glyph_warnings(caught) == []
    assert not np.array_equal(decoded(result.png), decoded(render_chart(trends, "en").png))


def rasterise(text: str, families: list[str]) -> np.ndarray:
    """The text drawn in black at 48 px on white, as a boolean ink mask (the way the chart draws text)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context({"font.family": families}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the box rendering warns about its missing glyphs, which is the point
        figure = Figure(figsize=(3, 1), dpi=100)
        canvas = FigureCanvasAgg(figure)
        figure.text(0.05, 0.2, text, fontsize=48)
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].min(axis=2) < 128


def test_chinese_labels_render_real_cjk_glyphs_not_missing_glyph_boxes(cjk_font):
    chars = "大模型"
    boxes = [rasterise(char, [LATIN_FAMILY]) for char in chars]  # DejaVu Sans has no Han glyph
    assert all(has_ink(box) for box in boxes)
    assert all(np.array_equal(boxes[0], box) for box in boxes)  # a missing glyph is one box whatever the character
    glyphs = [rasterise(char, [LATIN_FAMILY, cjk_font.name]) for char in chars]  # as the chart orders its fonts
    assert all(has_ink(glyph) for glyph in glyphs)
    assert all(not np.array_equal(glyph, boxes[0]) for glyph in glyphs)
    assert len({glyph.tobytes() for glyph in glyphs}) == len(chars)  # three characters, three different shapes
    whole, boxed = rasterise(chars, [LATIN_FAMILY, cjk_font.name]), rasterise(chars, [LATIN_FAMILY])
    assert (whole != boxed).sum() > 0.2 * boxed.sum()


def test_a_family_without_the_characters_is_passed_over(cjk_font):
    assert find_cjk_font("大模型", families=(LATIN_FAMILY,)) is None  # installed, but no Han glyphs
    assert find_cjk_font("大模型", families=("No Such Font", LATIN_FAMILY, cjk_font.name)) == cjk_font
    assert find_cjk_font("大模型", families=()) is None


def test_without_a_cjk_font_the_chart_falls_back_to_english_and_says_so(caplog):
    trends = count_trends(STORIES, NOW, weeks=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = render_chart(trends, "zh", families=())
    assert result.lang_used == "en" and result.font_name == LATIN_FAMILY
    assert result.warning == NO_CJK_FONT and "fonts-wqy-microhei" in result.warning
    assert NO_CJK_FONT in caplog.text
    assert missing_glyph_warnings(caught) == []  # English labels: nothing drawn as a box
    assert decoded(result.png).shape == (700, 1200, 4)


# -- the command ----------------------------------------------------------------------------


def raw(source: str, title: str, link: str, summary: str, ago: timedelta) -> RawEntry:
    published = NOW - ago
    return RawEntry(
        source=source,
        title=title,
        link=link,
        guid=link,
        summary_html=summary,
        fetched_at=published + timedelta(hours=2),
        published=published,
    )


ENTRIES = [
    raw(
        "papers",
        "Diffusion Models for Auto-Bidding in Online Advertising",
        "https://arxiv.org/abs/2412.04321",
        "We model auto-bidding in ad auctions as trajectory generation with a diffusion model.",
        timedelta(days=2, hours=1),
    ),
    raw(
        "cn_media",
        "广告自动出价的新方法：用扩散模型生成出价轨迹",
        "https://cn.example/a/1002",
        "研究者将广告自动出价建模为轨迹生成问题，用扩散模型生成出价轨迹。",
        timedelta(days=2),
    ),
    raw(
        "lab_blog",
        "A lab releases an open-weight reasoning language model",
        "https://lab.example/blog/reasoning",
        "The reasoning model, trained with reinforcement learning, tops math and code benchmarks.",
        timedelta(days=3),
    ),
    raw(
        "tech_news",
        "Chatbot maker ships a larger language model with a million-token context",
        "https://tech.example/llm/context",
        "The new large language model reads a million tokens of context and answers questions about long documents.",
        timedelta(days=20),
    ),
    raw(
        "ads_weekly",
        "Ad platform adopts reinforcement learning for real-time bidding",
        "https://ads.example/rtb",
        "Auto-bidding agents trained with reinforcement learning set bids in each ad auction.",
        timedelta(days=40),  # outside four weeks, inside eight
    ),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder) -> Path:
    """A data dir filled by the real pipeline (embedder, dedup, theme labels, SQLite, FAISS)."""
    data = tmp_path_factory.mktemp("trends") / "data"
    settings = Settings(themes=load_settings(REPO / "sources.yaml").themes)
    pipeline, _ = open_pipeline(settings, resolve_paths(data), embedder=embedder)
    try:
        pipeline.ingest(ENTRIES)
    finally:
        pipeline.close()
    return data


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_trends_json_and_chart_from_a_real_ingest(capsys, data_dir, tmp_path):
    out = tmp_path / "charts" / "x.png"
    base = ("--data-dir", str(data_dir), "trends", "--now", "2024-12-11T09:00:00Z")
    code, stdout, _ = run(capsys, *base, "--weeks", "4", "--out", str(out))
    assert code == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE) and decoded(out.read_bytes()).shape == (700, 1200, 4)
    assert "Auto-bidding and ads" in stdout and f"chart: {out}" in stdout

    code, stdout, _ = run(capsys, *base, "--weeks", "4", "--json")
    assert code == 0
    figures = json.loads(stdout)
    assert figures["unit"] == "week" and figures["breadth"] is False and figures["chart"] is None
    assert figures["end"] == "2024-12-11T09:00:00+00:00"
    assert figures["buckets"][0] == "2024-11-13T09:00:00+00:00" and len(figures["buckets"]) == 4
    assert figures["counts"]["bidding"] == [0, 0, 0, 1]  # the English paper and the Chinese report: one story
    assert figures["counts"]["llm"] == [0, 1, 0, 1]
    assert figures["totals"] == [0, 1, 0, 2]

    code, stdout, _ = run(capsys, *base, "--breadth", "--json", "--out", str(out))
    assert code == 0
    weighted = json.loads(stdout)
    assert len(weighted["buckets"]) == 8 and weighted["breadth"] is True
    assert weighted["counts"]["bidding"] == [0, 0, 1, 0, 0, 0, 0, 4]  # 2 outlets × 2 languages; the older story
    assert weighted["chart"]["path"] == str(out) and weighted["chart"]["bytes"] == len(out.read_bytes())
    assert weighted["chart"]["lang"] == "en" and weighted["chart"]["warning"] == ""


def test_cli_trends_usage_errors(capsys, data_dir, tmp_path):
    code, _, err = run(capsys, "--data-dir", str(data_dir), "trends", "--weeks", "0")
    assert code == 2 and "--weeks must be between 1" in err
    code, _, err = run(capsys, "--data-dir", str(data_dir), "trends", "--now", "last tuesday")
    assert code == 2 and "--now must be an ISO date-time" in err
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "none"), "trends")
    assert code == 2 and "no data at" in err
