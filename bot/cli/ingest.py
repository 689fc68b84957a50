"""Commands that fill the store: `demo` and `fetch`."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.app import App, demo_paths
from bot.cli.render import clip, counted, iso, langs, table, when
from bot.core.config import (
    Paths,
    Settings,
    SourceConfig,
    StorageConfig,
    load_settings,
    resolve_config_path,
)
from bot.core.errors import ConfigError
from bot.core.models import FetchStatus
from bot.demo import DEMO_MARK, dated_demo_sources
from bot.ingest.harvest import SourceOutcome, due_sources, fetch_pass
from bot.ingest.normalize import detect_language
from bot.ingest.pipeline import Pipeline
from bot.storage.writer import exclusive_writer

DEMO_QUESTIONS = ("world models that generate playable game environments", "谁离开了 OpenAI？")
DEMO_NEXT = (
    ("ask", "Who left OpenAI?"),
    ("digest", "--since", "7d"),
    ("trends",),
    ("topics",),
    ("digest", "--weekly"),
    ("status", "--no-scheduler"),
)

# -- demo ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Ingest the bundled feeds into a fresh demo data dir and report what was stored."""
    started = time.monotonic()
    base = load_settings(args.config) if resolve_config_path(args.config).exists() else Settings()
    paths = demo_paths(Path(args.data_dir or "data"))
    with exclusive_writer(paths.data_dir, fresh=True):
        return _demo(base, paths, started)


def _demo(base: Settings, paths: Paths, started: float) -> int:
    now = datetime.now(UTC)
    sources = dated_demo_sources(paths.data_dir / "feeds", now)  # moved to end today, their spacing kept
    # The set spans 18 months: a retention shorter than that would drop its first part, so the demo keeps all.
    settings = base.model_copy(update={"sources": tuple(sources), "storage": StorageConfig()})
    print(f"Ingesting {len(settings.sources)} bundled sample feeds into {paths.data_dir} (offline)…\n")
    app = App(paths, settings=settings)
    pipeline = app.pipeline
    try:
        outcomes = asyncio.run(fetch_pass(settings, pipeline, settings.sources))
        pipeline.store.set_meta(DEMO_MARK, now.isoformat())  # `bot run` on this data dir applies no retention
        _print_store_summary(pipeline, outcomes)
        _print_largest_stories(pipeline)
        for question in DEMO_QUESTIONS:
            _print_search(pipeline, question)
    finally:
        app.close()
    print(f"\nDone in {time.monotonic() - started:.1f}s. Data: {paths.db}, index: {paths.index_dir}")
    print("\nTry it on the demo's data next:")
    for command in DEMO_NEXT:
        print(f"  {shlex.join(['bot', '--data-dir', str(paths.data_dir), *command])}")
    return 0 if any(outcome.status is FetchStatus.OK for outcome in outcomes) else 1


def _print_store_summary(pipeline: Pipeline, outcomes: list[SourceOutcome]) -> None:
    by_source: dict[str, dict[str, int]] = defaultdict(dict)
    for source, lang, count in pipeline.store.counts_by_source_lang():
        by_source[source][lang] = count
    rows = [
        [o.source, o.status.value, str(o.report.new), str(o.report.duplicate), langs(by_source[o.source])]
        for o in outcomes
    ]
    print(table(["source", "fetch", "new", "duplicate", "stored by language"], rows))
    totals: dict[str, int] = defaultdict(int)
    for counts in by_source.values():
        for lang, count in counts.items():
            totals[lang] += count
    print(f"\nStored {pipeline.store.count_items()} items ({langs(totals)}), {len(pipeline.index)} vectors indexed.")


def _print_largest_stories(pipeline: Pipeline, limit: int = 5) -> None:
    stories = pipeline.store.count_stories()
    print(f"\nLargest stories ({stories} stories in all; one event, many outlets and languages):")
    for story in pipeline.store.largest_stories(limit):
        outlets = ", ".join(pipeline.store.story_outlets(story.id))
        theme = f" · {story.primary_theme}" if story.primary_theme else ""
        print(f"  {counted(story.items, 'item')} · {counted(story.outlets, 'outlet')} · {'/'.join(story.langs)}{theme}")
        for lang in story.langs:
            print(f"      [{lang}] {clip(story.title_in(lang), 72)}")
        print(f"      {clip(outlets, 90)}")


def _print_search(pipeline: Pipeline, question: str) -> None:
    from bot.query.search import search_stories  # the demo's searches; `bot fetch` never loads it

    print(f"\nSearch: {question}")
    for hit in search_stories(pipeline, question, k=3):
        lang = detect_language(question)
        item = hit.items.get(lang) or next(iter(hit.items.values()))
        breadth = f"{counted(hit.story.outlets, 'outlet')} · {'/'.join(hit.story.langs)}"
        print(f"  [{item.lang}] {clip(item.title, 70)}  ({breadth})")


# -- fetch -----------------------------------------------------------------------------------


def cmd_fetch(args: argparse.Namespace) -> int:
    """One pass over due (or named) sources with a progress bar and a line per source."""
    app = App.from_cli(args.config, args.data_dir)
    with exclusive_writer(app.paths.data_dir):
        settings, pipeline = app.settings, app.pipeline
        try:
            chosen = _chosen_sources(settings, pipeline, args)
            with tqdm(total=len(chosen), unit="source", file=sys.stderr, disable=args.json or not chosen) as bar:
                progress = _Progress(bar)
                outcomes = asyncio.run(
                    fetch_pass(settings, pipeline, chosen, on_done=progress.source_done, on_stored=progress.stored)
                )
        finally:
            app.close()
    if args.json:
        print(json.dumps(_fetch_json(outcomes), ensure_ascii=False))
    else:
        _print_fetch(outcomes)
    failed = [o for o in outcomes if o.status is FetchStatus.ERROR]
    return 1 if outcomes and len(failed) == len(outcomes) else 0


class _Progress:
    """The fetch bar's note: new items stored so far (a huge feed moves it chunk by chunk, long before
    its one source is done) and the source recorded last."""

    def __init__(self, bar: tqdm) -> None:
        self.bar, self.new, self.last = bar, 0, ""

    def source_done(self, outcome: SourceOutcome) -> None:
        self.last = outcome.source
        self.bar.update(1)
        self._show()

    def stored(self, new: int) -> None:
        self.new = new
        self._show()

    def _show(self) -> None:
        self.bar.set_postfix_str(", ".join(part for part in (counted(self.new, "new item"), self.last) if part))


def _chosen_sources(settings: Settings, pipeline: Pipeline, args: argparse.Namespace) -> list[SourceConfig]:
    if args.source:
        unknown = [name for name in args.source if name not in {s.name for s in settings.sources}]
        if unknown:
            raise ConfigError(f"no source named {', '.join(unknown)} in the config")
        return [s for s in settings.sources if s.name in args.source]
    if args.all:
        return [s for s in settings.sources if s.enabled]
    return due_sources(settings, pipeline.store.source_states(), datetime.now(UTC))


def _print_fetch(outcomes: list[SourceOutcome]) -> None:
    if not outcomes:
        print("Nothing is due. `bot fetch --all` fetches every enabled source now.")
        return
    for o in outcomes:
        if o.status is FetchStatus.ERROR:
            detail = f"error: {o.error} (next try {when(o.next_due)})"
        elif o.status is FetchStatus.NOT_MODIFIED:
            detail = "not modified"
        else:
            detail = f"new {o.report.new}, duplicate {o.report.duplicate}, updated {o.report.updated}"
        fallback = " [fallback]" if o.used_fallback else ""
        print(f"{o.source:<28} {detail}{fallback}  ({o.seconds:.1f}s)")
    new = sum(o.report.new for o in outcomes)
    errors = sum(o.status is FetchStatus.ERROR for o in outcomes)
    print(f"\n{len(outcomes)} sources, {new} new items, {errors} errors")


def _fetch_json(outcomes: list[SourceOutcome]) -> dict[str, Any]:
    return {
        "sources": [
            {
                "name": o.source,
                "status": o.status.value,
                "new": o.report.new,
                "duplicate": o.report.duplicate,
                "updated": o.report.updated,
                "error": o.error,
                "used_fallback": o.used_fallback,
                "next_due": iso(o.next_due),
                "seconds": round(o.seconds, 3),
            }
            for o in outcomes
        ],
        "new": sum(o.report.new for o in outcomes),
        "errors": sum(o.status is FetchStatus.ERROR for o in outcomes),
    }
