"""The trend chart: stories per theme per week as a PNG, for `bot trends --out` and the weekly report's photo.

matplotlib is imported inside the functions, so that importing this module (or `bot.insight.trends`) costs
nothing to the commands that never draw. The chart is drawn on a bare `Figure` with the Agg canvas,
never through pyplot: no display, no global backend switch, no figure registry to leak, and the
font and size settings live only in an `rc_context` around the drawing.

Chinese labels need a font with CJK glyphs; a glyph missing from every font is drawn as a box. The
font is therefore chosen at run time: the first installed family of `CJK_FAMILIES` whose character
map has every wide character the chart will draw, as FreeType (the renderer matplotlib uses) reads
it, so a font that is present but lacks a character is passed over. DejaVu Sans (bundled with
matplotlib) stays first in the family list, so digits and Latin text look the same in both
languages and matplotlib takes only the Chinese glyphs from the CJK font. Without such a font the
chart is drawn with English labels, and `ChartResult.warning` says so (it is logged too): a
readable English chart beats a Chinese one made of boxes.
"""

from __future__ import annotations

import io
import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.words import theme_heading
from bot.insight.trends import KNOWN_THEMES, Trends, bucket_label, phrase, title, window

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

CJK_FAMILIES: tuple[str, ...] = (  # preferred first; Debian's small fonts-wqy-microhei is the one we install
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
)
LATIN_FAMILY = "DejaVu Sans"  # ships with matplotlib, so it is always there
WIDTH_PX, HEIGHT_PX, DPI = 1200, 700, 100  # legible as a Telegram photo
MAX_TICKS = 14
NO_CJK_FONT = (
    "no installed font has the Chinese glyphs (install fonts-wqy-microhei); the chart uses English labels instead"
)
FALLBACK_NOTE = "English labels: no font with Chinese glyphs is installed"  # on the picture itself


@dataclass(frozen=True, slots=True)
class CjkFont:
    """An installed font that covers the text asked for; `index` is the face within a .ttc collection."""

    name: str
    path: str
    index: int


@dataclass(frozen=True, slots=True)
class ChartResult:
    """The PNG and how it was drawn: `lang_used` is "en" when Chinese was asked for but no font had the glyphs."""

    png: bytes
    lang_used: str
    font_name: str
    warning: str = ""


@dataclass(frozen=True, slots=True)
class _Labels:
    title: str
    subtitle: str
    xlabel: str
    ylabel: str
    themes: list[str]
    empty: str

    def all_text(self) -> str:
        return "".join([self.title, self.subtitle, self.xlabel, self.ylabel, *self.themes, self.empty])


def render_chart(trends: Trends, lang: str = "en", families: Sequence[str] = CJK_FAMILIES) -> ChartResult:
    """One line per theme over the buckets, 1200×700 px; Chinese labels when `lang="zh"` and a font allows.

    `families` are the CJK font families to try, in order (an empty list means: draw no Chinese).
    """
    font = None
    if lang == "zh":
        font = find_cjk_font(_labels(trends, "zh").all_text(), families)
        if font is None:
            log.warning(NO_CJK_FONT)
    fell_back = lang == "zh" and font is None
    used = "zh" if font is not None else "en"
    png = _draw(trends, _labels(trends, used), font, FALLBACK_NOTE if fell_back else "")
    warning = NO_CJK_FONT if fell_back else ""
    return ChartResult(png=png, lang_used=used, font_name=font.name if font else LATIN_FAMILY, warning=warning)


def find_cjk_font(text: str = "大模型", families: Sequence[str] = CJK_FAMILIES) -> CjkFont | None:
    """The first of `families` installed with a glyph for every wide (CJK) character of `text`, or None."""
    from matplotlib import font_manager

    needed = {char for char in text if unicodedata.east_asian_width(char) in "WF"}
    installed = font_manager.fontManager.ttflist
    for family in families:
        for entry in installed:
            if entry.name == family and _has_glyphs(entry.fname, entry.index, needed):
                return CjkFont(name=entry.name, path=entry.fname, index=entry.index)
    return None


def _has_glyphs(path: str, index: int, chars: set[str]) -> bool:
    """Whether FreeType finds each character in the font's character map (glyph 0 is the missing-glyph box)."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path, face_index=index)
    except (OSError, RuntimeError, ValueError) as exc:  # a broken or unreadable font file: not a candidate
        log.debug("skipping font %s: %s", path, exc)
        return False
    return all(font.get_char_index(ord(char)) for char in chars)


def _labels(trends: Trends, lang: str) -> _Labels:
    return _Labels(
        title=title(trends, lang),
        subtitle=window(trends, lang),
        xlabel=phrase(f"axis_{trends.unit}", lang),
        ylabel=phrase("axis_breadth" if trends.breadth else "axis_count", lang),
        themes=[theme_heading(theme, lang) for theme in trends.themes],
        empty=phrase("empty", lang),
    )


def _draw(trends: Trends, labels: _Labels, font: CjkFont | None, note: str) -> bytes:
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families = [LATIN_FAMILY, font.name] if font else [LATIN_FAMILY]
    with rc_context({"font.family": families, "font.size": 15, "axes.spines.top": False, "axes.spines.right": False}):
        figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
        canvas = FigureCanvasAgg(figure)
        figure.suptitle(labels.title, fontsize=22)  # not bold: a CJK font often has no bold face
        axes = figure.add_subplot()
        axes.set_title(labels.subtitle, fontsize=14, color="dimgray")
        _plot(axes, trends, labels)
        if note:
            figure.text(0.995, 0.005, note, ha="right", va="bottom", fontsize=11, color="dimgray")
        buffer = io.BytesIO()
        canvas.print_png(buffer)
    return buffer.getvalue()


def _plot(axes: Axes, trends: Trends, labels: _Labels) -> None:
    from matplotlib.ticker import MaxNLocator

    positions = list(range(len(trends.buckets)))
    colors = _colors(trends.themes)
    for theme, name in zip(trends.themes, labels.themes, strict=True):
        axes.plot(
            positions, trends.counts[theme], marker="o", linewidth=2.8, markersize=7, label=name, color=colors[theme]
        )
    step = math.ceil(len(positions) / MAX_TICKS)
    ticks = positions[::-1][::step][::-1]  # every step-th bucket, counted back from the latest so it is labelled
    axes.set_xticks(ticks, [bucket_label(trends.buckets[index]) for index in ticks])
    axes.set_xlim(-0.3, len(positions) - 0.7)
    axes.set_ylim(0, _top(trends) * 1.08)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    axes.set_xlabel(labels.xlabel)
    axes.set_ylabel(labels.ylabel)
    if trends.themes:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    else:
        axes.text(0.5, 0.5, labels.empty, transform=axes.transAxes, ha="center", va="center", fontsize=20)


def _top(trends: Trends) -> int:
    """The highest count, at least 1: an all-zero chart still gets a y axis."""
    return max([1, *(max(counts, default=0) for counts in trends.counts.values())])


def _colors(themes: Sequence[str]) -> dict[str, str]:
    """A fixed colour per known theme, so a theme keeps its colour from one week's chart to the next."""
    unknown = [theme for theme in themes if theme not in KNOWN_THEMES]
    slots = {theme: index for index, theme in enumerate([*KNOWN_THEMES, *unknown])}
    return {theme: f"C{slots[theme] % 10}" for theme in themes}
