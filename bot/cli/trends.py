"""`bot trends`: stories per theme per week (or day) as a table with sparklines, and the chart with `--out`.

It only reads the store (no pipeline, no embedding model, no config file: the theme names come
from the digest's headings), and matplotlib is loaded only when `--out` asks for a picture.
The table and chart are in English; the handler honours a `lang` argument when the parser has one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.cli.render import parse_now, require_data
from bot.core.config import resolve_paths
from bot.core.errors import UsageError
from bot.insight.trends import MAX_WEEKS, Trends, load_trends, render_table
from bot.storage import Store


def cmd_trends(args: argparse.Namespace) -> int:
    """Print the trend table (or one JSON object) and write the chart when `--out` names a file."""
    paths = resolve_paths(args.data_dir)
    if not 1 <= args.weeks <= MAX_WEEKS:
        raise UsageError(f"--weeks must be between 1 and {MAX_WEEKS}, got {args.weeks}")
    require_data(paths)
    now = parse_now(args.now)
    lang = getattr(args, "lang", None) or "en"
    store = Store.open(paths.db)
    try:
        trends = load_trends(store, now, args.weeks, "day" if args.days else "week", args.breadth)
    finally:
        store.close()
    chart = _write_chart(trends, lang, Path(args.out)) if args.out else None
    if args.json:
        print(json.dumps(_trends_json(trends, chart), ensure_ascii=False))
    else:
        print(render_table(trends, lang))
        if chart:
            print(f"\nchart: {chart['path']} ({chart['bytes']} bytes, font {chart['font']})")
    return 0


def _write_chart(trends: Trends, lang: str, path: Path) -> dict[str, Any]:
    from bot.render.chart import render_chart  # matplotlib is loaded only for a picture

    chart = render_chart(trends, lang)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chart.png)
    except OSError as exc:
        raise UsageError(f"cannot write the chart to {path}: {exc.strerror or exc}") from None
    return {
        "path": str(path),
        "bytes": len(chart.png),
        "lang": chart.lang_used,
        "font": chart.font_name,
        "warning": chart.warning,
    }


def _trends_json(trends: Trends, chart: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "unit": trends.unit,
        "breadth": trends.breadth,
        "end": trends.end.isoformat(timespec="seconds"),
        "buckets": [start.isoformat(timespec="seconds") for start in trends.buckets],
        "themes": trends.themes,
        "counts": trends.counts,
        "totals": trends.totals,
        "chart": chart,
    }
