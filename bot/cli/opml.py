"""`sources import-opml` and `sources export-opml`: move subscriptions to and from feed readers.

Why here and not in `ingest`: these two handlers only touch files (the OPML file, the config, the
runtime overlay), never the store or the network. The rules live in `bot.ingest.opml`; imported feeds go
to the overlay through `bot.ingest.overlay.add_source`, so the user's sources.yaml is never rewritten.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from bot.core.config import SourceConfig
from bot.core.errors import UsageError
from bot.ingest.opml import ImportPlan, OpmlError, exportable, parse_opml, plan_import, render_opml
from bot.ingest.overlay import OverlayError, add_source


def cmd_sources_import_opml(args: argparse.Namespace) -> int:
    """Add the OPML file's feeds that are not configured yet to the runtime overlay."""
    path = Path(args.file)
    try:
        feeds = parse_opml(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except OpmlError as exc:
        raise UsageError(f"{path}: not a usable OPML file: {exc}") from None
    app = App.from_cli(args.config, args.data_dir)
    paths, settings = app.paths, app.settings
    plan = plan_import(feeds, settings.sources)
    added: list[SourceConfig] = []
    for source in plan.new:
        try:
            add_source(paths, source, settings)
        except OverlayError:  # added meanwhile by the bot itself: already present after all
            continue
        added.append(source)
    skipped = len(plan.present) + len(plan.new) - len(added)
    _report_import(plan, added, skipped, as_json=args.json)
    return 0


def _report_import(plan: ImportPlan, added: list[SourceConfig], skipped: int, *, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "imported": len(added),
                    "skipped": skipped,
                    "invalid": len(plan.invalid),
                    "sources": [{"name": s.name, "url": s.url, "tags": list(s.tags)} for s in added],
                    "invalid_feeds": [{"url": i.url, "reason": i.reason} for i in plan.invalid],
                },
                ensure_ascii=False,
            )
        )
        return
    for invalid in plan.invalid:
        print(f"invalid: {invalid.url}: {invalid.reason}", file=sys.stderr)
    for source in added:
        print(f"  + {source.name}  {source.url}")
    print(f"imported {len(added)}, skipped {skipped} (already present), {len(plan.invalid)} invalid")


def cmd_sources_export_opml(args: argparse.Namespace) -> int:
    """Write every configured and overlay rss source as OPML 2.0 to FILE, or to stdout."""
    settings = App.from_cli(args.config, args.data_dir).settings
    body = render_opml(settings.sources, datetime.now(UTC))
    feeds = len(exportable(settings.sources))
    arxiv = sum(source.kind == "arxiv" for source in settings.sources)
    left_out = sum(source.kind == "rss" for source in settings.sources) - feeds
    if args.file and args.file != "-":
        try:
            Path(args.file).write_bytes(body)
        except OSError as exc:
            raise UsageError(f"{args.file}: cannot write: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(body.decode("utf-8"))
    note = f"exported {feeds} feeds; {arxiv} arXiv query sources written as comments (not feeds)"
    if left_out:
        note += f"; {left_out} non-http (file:) sources left out"
    print(note, file=sys.stderr)
    return 0
