"""Trends: how many stories each theme had per week (or day), as figures, sparklines and a text table.

A story is counted once, under its primary theme, in the bucket of its first item's publication:
the rows of a bucket then add up to the stories published in it, so a stacked chart or a total
means something, and a story that spans themes is not counted twice. A story whose primary theme
is empty counts as `other`, as the digest files it.

Buckets are equal windows that end at `now` ([now - n·width, now), oldest first), not calendar
weeks: the last bucket is always whole, so a weekly report sent on any weekday compares seven days
with the seven before and never shows a falling "partial week". A bucket is labelled by the UTC
date it starts on; the exact bounds are `Trends.buckets` and `Trends.end`.

Breadth weighting counts a story as outlets × languages (each at least 1), the same breadth the
digest ranks by; it reads the story's aggregates as stored now, so a story that grew since its
week adds its present breadth there.

Counting and rendering are pure (fixed `now`, hand-built stories in tests); `load_trends` is the
only function that reads the store. The chart lives in `trend_chart` so that this module, and the
commands that only print, never import matplotlib.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.core.models import OTHER_THEME
from bot.core.words import KNOWN_THEMES, theme_heading, word
from bot.storage import Store, StorySummary

Unit = Literal["week", "day"]

UNIT_LENGTH: dict[str, timedelta] = {"week": timedelta(days=7), "day": timedelta(days=1)}
SPARK_BARS = "▁▂▃▄▅▆▇█"
MAX_TABLE_BUCKETS = 12  # count columns the table shows (the latest); the sparkline and total cover every bucket
MAX_WEEKS = 520


@dataclass(frozen=True, slots=True)
class Trends:
    """Counts per theme per bucket; `counts[theme][i]` belongs to [buckets[i], buckets[i] + UNIT_LENGTH[unit])."""

    buckets: list[datetime]  # bucket starts, oldest first
    themes: list[str]  # display order
    counts: dict[str, list[int]]
    breadth: bool
    unit: Unit
    end: datetime  # the `now` the buckets end at

    @property
    def totals(self) -> list[int]:
        """Per bucket, over every counted theme."""
        return [sum(column) for column in zip(*self.counts.values(), strict=True)] or [0] * len(self.buckets)


def count_trends(
    stories: Iterable[StorySummary],
    now: datetime,
    weeks: int = 8,
    unit: Unit = "week",
    breadth: bool = False,
    themes: Sequence[str] | None = None,
) -> Trends:
    """Count `stories` into the buckets of the `weeks` before `now` (weekly, or daily with unit="day").

    `themes` picks the rows and their order; a story whose primary theme is not among them is left
    out. None means every primary theme seen in the window, known themes first in the digest's order.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_WEEKS}, got {weeks}")
    width = UNIT_LENGTH[unit]
    size = weeks * timedelta(days=7) // width
    start = now - size * width
    inside = [story for story in stories if start <= story.first_published < now]
    rows = list(themes) if themes is not None else themes_seen(inside)
    counts = {theme: [0] * size for theme in rows}
    for story in inside:
        row = counts.get(theme_of(story))
        if row is not None:
            row[(story.first_published - start) // width] += story_weight(story) if breadth else 1
    return Trends(
        buckets=[start + index * width for index in range(size)],
        themes=rows,
        counts=counts,
        breadth=breadth,
        unit=unit,
        end=now,
    )


def load_trends(
    store: Store,
    now: datetime,
    weeks: int = 8,
    unit: Unit = "week",
    breadth: bool = False,
    themes: Sequence[str] | None = None,
) -> Trends:
    """`count_trends` over the stories the store has first published in the window."""
    span = timedelta(days=7 * weeks)
    return count_trends(store.stories_published_between(now - span, now), now, weeks, unit, breadth, themes)


def theme_of(story: StorySummary) -> str:
    return story.primary_theme or OTHER_THEME


def story_weight(story: StorySummary) -> int:
    """Breadth: outlets × languages, as the digest ranks by."""
    return max(story.outlets, 1) * max(len(story.langs), 1)


def themes_seen(stories: Iterable[StorySummary]) -> list[str]:
    """Primary themes present: the digest's known themes in its order, themes it does not know by name, `other` last."""
    known = [theme for theme in KNOWN_THEMES if theme != OTHER_THEME]
    seen = {theme_of(story) for story in stories}
    ordered = [theme for theme in known if theme in seen] + sorted(seen.difference(known, {OTHER_THEME}))
    return ordered + ([OTHER_THEME] if OTHER_THEME in seen else [])


def phrase(key: str, lang: str, **values: object) -> str:
    """A fixed phrase of the trends table or chart in English or Chinese."""
    return word(f"trends.{key}", lang, **values)


def title(trends: Trends, lang: str) -> str:
    """The chart's and the table's title, naming the weighting when there is one."""
    weighted = phrase("weighted", lang) if trends.breadth else ""
    return phrase(f"title_{trends.unit}", lang) + weighted


def window(trends: Trends, lang: str) -> str:
    """How many buckets, ending when, e.g. "8 weeks to 2024-12-11 09:00 UTC"."""
    return phrase(f"window_{trends.unit}", lang, n=len(trends.buckets), end=trends.end.strftime("%Y-%m-%d %H:%M"))


def bucket_label(start: datetime) -> str:
    return start.strftime("%m-%d")


# -- text ------------------------------------------------------------------------------------


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled from zero (not from the minimum) so heights compare honestly."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK_BARS[0] * len(values)
    steps = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[int(max(value, 0) / top * steps + 0.5)] for value in values)  # half rounds up


def change(values: Sequence[int], lang: str = "en") -> str:
    """The last bucket against the one before: "+3 (+50%)", "-2 (-40%)", "+4 (new)", "0"; "-" with one bucket."""
    if len(values) < 2:
        return "-"
    previous, latest = values[-2], values[-1]
    difference = latest - previous
    if difference == 0:
        return "0"
    if previous == 0:
        return f"{difference:+d} ({phrase('new', lang)})"
    return f"{difference:+d} ({difference / previous:+.0%})"


def render_table(trends: Trends, lang: str = "en") -> str:
    """Plain text for a terminal or a Telegram <pre>: a title, then one row per theme and a total row.

    Columns: the latest MAX_TABLE_BUCKETS buckets' counts, the total over every bucket, a sparkline
    over every bucket and the change of the last bucket against the one before.
    """
    head = [f"{title(trends, lang)} · {window(trends, lang)}"]
    if not trends.themes:
        return "\n".join([*head, phrase("empty", lang)])
    shown = min(len(trends.buckets), MAX_TABLE_BUCKETS)
    notes = [phrase("starts", lang, unit=phrase(trends.unit, lang))]
    if shown < len(trends.buckets):
        notes.append(phrase("shown", lang, shown=shown, n=len(trends.buckets)))
    header = [phrase("theme", lang), *(bucket_label(start) for start in trends.buckets[-shown:])]
    header += [phrase("total", lang), phrase("trend", lang), phrase("change", lang)]
    rows = [_table_row(theme_heading(theme, lang), trends.counts[theme], shown, lang) for theme in trends.themes]
    rows.append(_table_row(phrase("all", lang), trends.totals, shown, lang))
    return "\n".join([*head, "; ".join(notes), _aligned(header, rows, numeric=range(1, shown + 2))])


def _table_row(name: str, values: list[int], shown: int, lang: str) -> list[str]:
    return [name, *(str(value) for value in values[-shown:]), str(sum(values)), sparkline(values), change(values, lang)]


def _aligned(header: list[str], rows: list[list[str]], numeric: Iterable[int]) -> str:
    """Columns two spaces apart, numbers right-aligned, widths by display width (a CJK character is two)."""
    right = set(numeric)
    table = [header, *rows]
    widths = [max(_display_width(cell) for cell in column) for column in zip(*table, strict=True)]
    lines = []
    for row in table:
        cells = [
            _pad(cell, size, at_left=index in right) for index, (cell, size) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _pad(cell: str, size: int, at_left: bool) -> str:
    blank = " " * (size - _display_width(cell))
    return blank + cell if at_left else cell + blank


def _display_width(cell: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in cell)
