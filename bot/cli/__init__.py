"""The `bot` command line: the parser and the dispatch. This package is the only place that prints for people.

Each command lives in a module of this package: `ingest` (demo, fetch), `sources` (list, check),
`opml`, `read` (ask, digest, eval), `service` (run), `status`, `topics`, `trends`, `web`. Handlers build the
process's `App`, call into it, and render; they hold no logic of their own. Only the chosen command's
module is imported (`HANDLERS`), so a command loads only the heavy libraries it uses: `sources check`
and `status` load no model, FAISS or python-telegram-bot (a test holds them to that).

Exit status: 0 success, 1 the work failed (e.g. every source failed), 2 bad usage or invalid
config. With `--json`, one JSON object goes to stdout and logs stay on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeAlias, cast

from bot.cli import render
from bot.core.config import parse_duration, resolve_paths
from bot.core.errors import BotError, ConfigError, UsageError

Handler = Callable[[argparse.Namespace], int]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

HANDLERS: dict[str, str] = {  # command → "module:function" in this package, imported only when chosen
    "demo": "ingest:cmd_demo",
    "fetch": "ingest:cmd_fetch",
    "sources list": "sources:cmd_sources_list",
    "sources check": "sources:cmd_sources_check",
    "sources import-opml": "opml:cmd_sources_import_opml",
    "sources export-opml": "opml:cmd_sources_export_opml",
    "ask": "read:cmd_ask",
    "digest": "read:cmd_digest",
    "eval": "read:cmd_eval",
    "run": "service:cmd_run",
    "web": "web:cmd_web",
    "status": "status:cmd_status",
    "topics": "topics:cmd_topics",
    "themes suggest": "topics:cmd_themes_suggest",
    "trends": "trends:cmd_trends",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the chosen command and turn our errors into messages; the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    command: str | None = getattr(args, "command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    handler = load_handler(command)
    render.COMMAND_LINE[:] = list(sys.argv[1:] if argv is None else argv)
    try:
        return handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bot topics | head -1`: the reader left; what it read is all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0
    except Exception as exc:
        message = _storage_failure(exc, args)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1


def _storage_failure(exc: Exception, args: argparse.Namespace) -> str | None:
    """A damaged database or a full disk, wherever in the command it surfaced: one line, no traceback."""
    from bot.storage.connection import database_failure  # only on this failure path: storage imports numpy

    return database_failure(exc, resolve_paths(args.data_dir).db)


def load_handler(command: str) -> Handler:
    """Import the module that implements `command` (and nothing else) and return its handler."""
    module_name, _, function = HANDLERS[command].partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return cast(Handler, getattr(module, function))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="AI news and research monitor (English and Chinese).")
    parser.add_argument("--config", help="sources/themes file (env BOT_CONFIG; default ./sources.yaml)")
    parser.add_argument("--data-dir", help="state directory (env BOT_DATA_DIR; default ./data and ./index)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_ingest_commands(commands)
    _add_service_command(commands)
    _add_read_commands(commands)
    _add_sources_commands(commands)
    _add_moving_commands(commands)
    return parser


def _add_ingest_commands(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="offline: ingest the bundled sample feeds and show what happened")
    demo.set_defaults(command="demo")

    fetch = commands.add_parser("fetch", help="one pass over the sources that are due")
    fetch.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    fetch.add_argument("--all", action="store_true", help="every enabled source, due or not")
    fetch.add_argument("--json", action="store_true", help="print one JSON object")
    fetch.set_defaults(command="fetch")


def _add_service_command(commands: Commands) -> None:
    run = commands.add_parser("run", help="run the bot: scheduled fetches, digests, Telegram (SIGHUP reloads config)")
    run.add_argument("--no-telegram", action="store_true", help="only fetch and housekeeping; no token needed")
    run.set_defaults(command="run")

    web = commands.add_parser("web", help="the read-only web pages and feeds (web: host, port, base_url)")
    web.add_argument("--host", help="address to listen on (default: web.host, else 127.0.0.1)")
    web.add_argument("--port", type=int, help="port to listen on (default: web.port, else 8080)")
    web.set_defaults(command="web")

    status = commands.add_parser("status", help="one-screen health: store, sources, index, digests, scheduler")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--no-scheduler", action="store_true", help="skip the heartbeat check (fetch-only deployment)")
    status.set_defaults(command="status")


def _add_read_commands(commands: Commands) -> None:
    ask = commands.add_parser("ask", help="answer a question from the stored stories, with citations")
    ask.add_argument("question", help="in English or Chinese; the answer comes in the same language")
    ask.add_argument("--theme", help="only stories with this theme (one of the config's themes)")
    ask.add_argument("--since", type=_duration, help="only stories updated within this long, e.g. 7d or 12h")
    ask.add_argument("--k", type=int, default=5, help="how many stories to answer from (1-50, default 5)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument(
        "-v", dest="timings", action="store_true", help="say on stderr where the time went (start-up, model, search)"
    )
    ask.set_defaults(command="ask")

    digest = commands.add_parser("digest", help="render the digest a subscriber would get now (Telegram HTML)")
    digest.add_argument("--chat", type=int, help="a stored subscriber's chat id (default: an ad-hoc reader)")
    digest.add_argument("--lang", choices=("en", "zh"), help="language of titles and headings")
    digest.add_argument("--themes", help="comma-separated themes, e.g. llm,bidding (default: the subscriber's, or all)")
    digest.add_argument("--since", type=_duration, help="stories stored within this long (default: since last digest)")
    digest.add_argument("--limit", type=int, default=30, help="most stories shown (default 30)")
    digest.add_argument("--mark-sent", action="store_true", help="record the shown stories as delivered (with --chat)")
    digest.add_argument("--weekly", action="store_true", help="the weekly report instead (trend chart, topics, moves)")
    digest.add_argument("--chart", help="with --weekly: write the report's trend picture as PNG to this file")
    digest.add_argument("--now", help="ISO date-time to take as now (default: the current time)")
    digest.add_argument("--json", action="store_true", help="print one JSON object")
    digest.set_defaults(command="digest")

    evaluation = commands.add_parser("eval", help="replay labeled sets through the pipeline and score them")
    evaluation.add_argument(
        "--data",
        action="append",
        metavar="DIR",
        help="folder with items.jsonl; repeat for several sets (default: every ../shared/eval* folder)",
    )
    evaluation.add_argument("--json", action="store_true", help="print one JSON object")
    evaluation.add_argument(
        "--ablation",
        action="store_true",
        help="also score dedup with each of its signals switched off in turn, and search by each retriever alone;"
        " with --cross: refit without each dedup signal in turn and report the worst left-out figures",
    )
    evaluation.add_argument(
        "--distractors",
        metavar="DIR",
        help="also ingest every entry of the feed documents under DIR as unlabeled noise"
        " (e.g. ../shared/fixtures/feeds): the figures at volume; with --cross, under each left-out fit",
    )
    evaluation.add_argument(
        "--fit",
        nargs="+",
        metavar="SET",
        help="fit every dedup, themes and search parameter on these labeled sets (folders, or names under"
        " ../shared) and write the parameters file",
    )
    evaluation.add_argument(
        "--out", metavar="FILE", help="with --fit: where to write (default: the shipped bot/core/params.json)"
    )
    evaluation.add_argument(
        "--cross",
        action="store_true",
        help="leave one set out: fit on the others, score it (what to expect on a period never tuned on)",
    )
    evaluation.set_defaults(command="eval")


def _add_sources_commands(commands: Commands) -> None:
    sources = commands.add_parser("sources", help="list or check the configured sources")
    sources_commands = sources.add_subparsers(title="sources commands", metavar="ACTION", required=True)
    listing = sources_commands.add_parser("list", help="sources with their health")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(command="sources list")
    check = sources_commands.add_parser("check", help="validate the config without fetching")
    check.set_defaults(command="sources check")
    imports = sources_commands.add_parser("import-opml", help="add a feed reader's OPML feeds to the runtime overlay")
    imports.add_argument("file", metavar="FILE", help="OPML 1.0/2.0 file; feeds already present are skipped")
    imports.add_argument("--json", action="store_true", help="print one JSON object")
    imports.set_defaults(command="sources import-opml")
    exports = sources_commands.add_parser("export-opml", help="write the rss sources as OPML 2.0 (arXiv as comments)")
    exports.add_argument("file", metavar="FILE", nargs="?", help="output file (default: stdout)")
    exports.set_defaults(command="sources export-opml")


def _add_moving_commands(commands: Commands) -> None:
    topics = commands.add_parser("topics", help="topics inside each theme over the recent window, emerging ones first")
    topics.add_argument("--theme", help="only this theme")
    topics.add_argument("--now", help="ISO date-time to take as now (default: the current time)")
    topics.add_argument("--json", action="store_true", help="print one JSON object")
    topics.set_defaults(command="topics")

    themes = commands.add_parser("themes", help="theme tools")
    themes_commands = themes.add_subparsers(title="themes commands", metavar="ACTION", required=True)
    suggest = themes_commands.add_parser("suggest", help="ready-to-paste themes: entries for tight topics of other")
    suggest.add_argument("--now", help="ISO date-time to take as now (default: the current time)")
    suggest.set_defaults(command="themes suggest")

    trends = commands.add_parser("trends", help="stories per theme per week: a table, sparklines and a chart")
    trends.add_argument("--weeks", type=int, default=8, help="how many weeks back (default 8)")
    trends.add_argument("--days", action="store_true", help="count per day instead of per week")
    trends.add_argument("--breadth", action="store_true", help="weight each story by outlets x languages")
    trends.add_argument("--out", help="write the chart as PNG to this file")
    trends.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the table and chart labels")
    trends.add_argument("--now", help="ISO date-time to take as now (default: the current time)")
    trends.add_argument("--json", action="store_true", help="print one JSON object")
    trends.set_defaults(command="trends")


def _duration(value: str) -> timedelta:
    if value.strip().replace(".", "", 1).isdigit():  # in config a bare number is seconds; on the command line, a slip
        raise argparse.ArgumentTypeError(f"{value!r} needs a unit: e.g. {value.strip()}d or {value.strip()}h")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
