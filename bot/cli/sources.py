"""Commands about the configured sources that never fetch: `sources list` (health) and `sources check`.

They read the config and the store only, so they load neither the embedding model nor FAISS nor an
HTTP client (a test holds them to that).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

from bot.app import App
from bot.cli.render import clip, iso, table, when
from bot.core.config import Paths, SourceConfig, load_settings, resolve_config_path
from bot.core.models import SourceState
from bot.storage import Store


def cmd_sources_list(args: argparse.Namespace) -> int:
    """The configured sources with their health from the store."""
    app = App.from_cli(args.config, args.data_dir)
    settings, states = app.settings, _read_states(app.paths)
    rows = [(source, states.get(source.name) or SourceState(name=source.name)) for source in settings.sources]
    if args.json:
        print(json.dumps({"sources": [_source_json(s, st) for s, st in rows]}, ensure_ascii=False))
        return 0
    header = ["source", "kind", "enabled", "last success", "errors", "next due", "items", "last error"]
    print(table(header, [_source_row(source, state) for source, state in rows]))
    return 0


def _read_states(paths: Paths) -> dict[str, SourceState]:
    if not paths.db.exists():
        return {}
    store = Store.open(paths.db)
    try:
        return store.source_states()
    finally:
        store.close()


def _source_row(source: SourceConfig, state: SourceState) -> list[str]:
    return [
        source.name,
        source.kind,
        "yes" if source.enabled else "no",
        when(state.last_success),
        str(state.consecutive_errors),
        when(state.next_due) if source.enabled else "-",
        str(state.items_total),
        clip(state.last_error, 50),
    ]


def _source_json(source: SourceConfig, state: SourceState) -> dict[str, Any]:
    return {
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "query": source.query,
        "enabled": source.enabled,
        "last_success": iso(state.last_success),
        "last_attempt": iso(state.last_attempt),
        "consecutive_errors": state.consecutive_errors,
        "last_error": state.last_error,
        "next_due": iso(state.next_due),
        "items": state.items_total,
    }


def cmd_sources_check(args: argparse.Namespace) -> int:
    """Validate the config file without fetching anything."""
    settings = load_settings(args.config)
    kinds: dict[str, int] = defaultdict(int)
    for source in settings.sources:
        kinds[source.kind] += 1
    enabled = sum(source.enabled for source in settings.sources)
    described = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    print(
        f"{resolve_config_path(args.config)}: OK — {len(settings.sources)} sources ({described}; {enabled} enabled),"
        f" {len(settings.themes)} themes ({', '.join(settings.themes)})"
    )
    return 0
