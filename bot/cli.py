"""The `bot` command: demo, fetch, sources. The only place that prints for people.

Handlers parse arguments, call into the pipeline, and render; they hold no logic of their
own. Exit status: 0 success, 1 the work failed (e.g. every source failed), 2 bad usage or
invalid config. With `--json`, one JSON object goes to stdout and logs stay on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.answer import Answer, answer_question, title_for
from bot.config import Paths, Settings, load_settings, parse_duration, resolve_config_path, resolve_paths
from bot.dedup import DedupParams
from bot.demo import demo_sources
from bot.digest import Digest, mark_sent, prepare_digest, render_digest
from bot.embed import make_embedder
from bot.errors import BotError, ConfigError
from bot.evaluate import evaluate
from bot.harvest import SourceOutcome, due_sources, fetch_pass
from bot.llm import make_llm
from bot.models import FetchStatus, SourceState, Subscriber
from bot.normalize import detect_language
from bot.overlay import overlay_path, with_overlay
from bot.pipeline import Pipeline, open_pipeline
from bot.scheduler import Service, attach, run_headless
from bot.search import Filters, StoryHit, search_stories
from bot.telegram_app import build_application, pipeline_lock, run_polling, send_digest

ABLATION_SIGNALS = ("vectors", "copies", "names", "time", "actions", "sources", "versions")
DEMO_QUESTIONS = ("world models that generate playable game environments", "谁离开了 OpenAI？")

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="AI news and research monitor (English and Chinese).")
    parser.add_argument("--config", help="sources/themes file (env BOT_CONFIG; default ./sources.yaml)")
    parser.add_argument("--data-dir", help="state directory (env BOT_DATA_DIR; default ./data and ./index)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser("demo", help="offline: ingest the bundled sample feeds and show what happened")
    demo.set_defaults(handler=cmd_demo)

    fetch = commands.add_parser("fetch", help="one pass over the sources that are due")
    fetch.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    fetch.add_argument("--all", action="store_true", help="every enabled source, due or not")
    fetch.add_argument("--json", action="store_true", help="print one JSON object")
    fetch.set_defaults(handler=cmd_fetch)

    run = commands.add_parser("run", help="run the bot: scheduled fetches, digests, Telegram (SIGHUP reloads config)")
    run.add_argument("--no-telegram", action="store_true", help="only fetch and housekeeping; no token needed")
    run.set_defaults(handler=cmd_run)

    ask = commands.add_parser("ask", help="answer a question from the stored stories, with citations")
    ask.add_argument("question", help="in English or Chinese; the answer comes in the same language")
    ask.add_argument("--theme", help="only stories with this theme (one of the config's themes)")
    ask.add_argument("--since", type=_duration, help="only stories updated within this long, e.g. 7d or 12h")
    ask.add_argument("--k", type=int, default=5, help="how many stories to answer from (1-50, default 5)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(handler=cmd_ask)

    digest = commands.add_parser("digest", help="render the digest a subscriber would get now (Telegram HTML)")
    digest.add_argument("--chat", type=int, help="a stored subscriber's chat id (default: an ad-hoc reader)")
    digest.add_argument("--lang", choices=("en", "zh"), help="language of titles and headings")
    digest.add_argument("--themes", help="comma-separated themes, e.g. llm,bidding (default: the subscriber's, or all)")
    digest.add_argument("--since", type=_duration, help="stories stored within this long (default: since last digest)")
    digest.add_argument("--limit", type=int, default=30, help="most stories shown (default 30)")
    digest.add_argument("--mark-sent", action="store_true", help="record the shown stories as delivered (with --chat)")
    digest.add_argument("--json", action="store_true", help="print one JSON object")
    digest.set_defaults(handler=cmd_digest)

    evaluation = commands.add_parser("eval", help="replay a labeled set through the pipeline and score it")
    evaluation.add_argument("--data", default="../shared/eval", help="folder with items.jsonl (default ../shared/eval)")
    evaluation.add_argument("--json", action="store_true", help="print one JSON object")
    evaluation.add_argument(
        "--ablation",
        action="store_true",
        help="also score dedup with each of its signals switched off in turn, and search by each retriever alone",
    )
    evaluation.set_defaults(handler=cmd_eval)

    sources = commands.add_parser("sources", help="list or check the configured sources")
    sources_commands = sources.add_subparsers(title="sources commands", metavar="ACTION", required=True)
    listing = sources_commands.add_parser("list", help="sources with their health")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=cmd_sources_list)
    check = sources_commands.add_parser("check", help="validate the config without fetching")
    check.set_defaults(handler=cmd_sources_check)
    return parser


# -- demo ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Ingest the bundled feeds into a fresh demo data dir and report what was stored."""
    started = time.monotonic()
    base = load_settings(args.config) if resolve_config_path(args.config).exists() else Settings()
    settings = base.model_copy(update={"sources": tuple(demo_sources())})
    paths = resolve_paths(Path(args.data_dir or "data") / "demo")
    shutil.rmtree(paths.data_dir, ignore_errors=True)
    print(f"Ingesting {len(settings.sources)} bundled sample feeds into {paths.data_dir} (offline)…\n")
    pipeline, _ = open_pipeline(settings, paths)
    try:
        outcomes = asyncio.run(fetch_pass(settings, pipeline, settings.sources))
        _print_store_summary(pipeline, outcomes)
        _print_largest_stories(pipeline)
        for question in DEMO_QUESTIONS:
            _print_search(pipeline, question)
    finally:
        pipeline.close()
    print(f"\nDone in {time.monotonic() - started:.1f}s. Data: {paths.db}, index: {paths.index_dir}")
    return 0 if any(outcome.status is FetchStatus.OK for outcome in outcomes) else 1


def _print_store_summary(pipeline: Pipeline, outcomes: list[SourceOutcome]) -> None:
    by_source: dict[str, dict[str, int]] = defaultdict(dict)
    for source, lang, count in pipeline.store.counts_by_source_lang():
        by_source[source][lang] = count
    rows = [
        [o.source, o.status.value, str(o.report.new), str(o.report.duplicate), _langs(by_source[o.source])]
        for o in outcomes
    ]
    print(_table(["source", "fetch", "new", "duplicate", "stored by language"], rows))
    totals: dict[str, int] = defaultdict(int)
    for langs in by_source.values():
        for lang, count in langs.items():
            totals[lang] += count
    print(f"\nStored {pipeline.store.count_items()} items ({_langs(totals)}), {len(pipeline.index)} vectors indexed.")


def _print_largest_stories(pipeline: Pipeline, limit: int = 5) -> None:
    stories = pipeline.store.count_stories()
    print(f"\nLargest stories ({stories} stories in all; one event, many outlets and languages):")
    for story in pipeline.store.largest_stories(limit):
        outlets = ", ".join(pipeline.store.story_outlets(story.id))
        theme = f" · {story.primary_theme}" if story.primary_theme else ""
        print(f"  {story.items} items · {story.outlets} outlets · {'/'.join(story.langs)}{theme}")
        for lang in story.langs:
            print(f"      [{lang}] {_clip(story.title_in(lang), 72)}")
        print(f"      {_clip(outlets, 90)}")


def _print_search(pipeline: Pipeline, question: str) -> None:
    print(f"\nSearch: {question}")
    for hit in search_stories(pipeline, question, k=3):
        lang = detect_language(question)
        item = hit.items.get(lang) or next(iter(hit.items.values()))
        print(f"  [{item.lang}] {_clip(item.title, 70)}  ({hit.story.outlets} outlets · {'/'.join(hit.story.langs)})")


# -- fetch -----------------------------------------------------------------------------------


def cmd_fetch(args: argparse.Namespace) -> int:
    """One pass over due (or named) sources with a progress bar and a line per source."""
    settings = load_settings(args.config)
    paths = resolve_paths(args.data_dir)
    pipeline, _ = open_pipeline(settings, paths)
    try:
        chosen = _chosen_sources(settings, pipeline, args)
        with tqdm(total=len(chosen), unit="source", file=sys.stderr, disable=args.json or not chosen) as bar:

            def tick(outcome: SourceOutcome) -> None:
                bar.update(1)
                bar.set_postfix_str(outcome.source)

            outcomes = asyncio.run(fetch_pass(settings, pipeline, chosen, on_done=tick))
    finally:
        pipeline.close()
    if args.json:
        print(json.dumps(_fetch_json(outcomes), ensure_ascii=False))
    else:
        _print_fetch(outcomes)
    failed = [o for o in outcomes if o.status is FetchStatus.ERROR]
    return 1 if outcomes and len(failed) == len(outcomes) else 0


def _chosen_sources(settings: Settings, pipeline: Pipeline, args: argparse.Namespace) -> list[Any]:
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
            detail = f"error: {o.error} (next try {_when(o.next_due)})"
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
                "next_due": _iso(o.next_due),
                "seconds": round(o.seconds, 3),
            }
            for o in outcomes
        ],
        "new": sum(o.report.new for o in outcomes),
        "errors": sum(o.status is FetchStatus.ERROR for o in outcomes),
    }


# -- run -------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Fetch on schedule, send digests and answer Telegram until SIGINT/SIGTERM; SIGHUP reloads the config."""
    config_path, paths = resolve_config_path(args.config), resolve_paths(args.data_dir)

    def load() -> Settings:
        return with_overlay(load_settings(config_path), paths)

    settings = load()
    token = os.environ.get(settings.telegram.token_env, "").strip()
    if not (token or args.no_telegram):
        print(
            f"error: no Telegram bot token: set the environment variable {settings.telegram.token_env}"
            " (or use `bot run --no-telegram` to fetch only)",
            file=sys.stderr,
        )
        return 2
    if not args.verbose:
        logging.getLogger("bot").setLevel(logging.INFO)  # a long-running service says what it does
    pipeline, _ = open_pipeline(settings, paths)
    watch = [config_path, overlay_path(paths)]
    try:
        if args.no_telegram:
            asyncio.run(run_headless(Service(settings, pipeline, load=load, watch=watch)))
            return 0
        application = build_application(settings, pipeline, token, base_url=settings.telegram.base_url)
        service = Service(
            settings,
            pipeline,
            lambda subscriber, now: send_digest(application, pipeline, service.settings, subscriber, now),
            load=load,
            watch=watch,
            lock=lambda: pipeline_lock(pipeline),
        )
        attach(application, service)
        run_polling(application)
    finally:
        pipeline.close()
    return 0


# -- ask -------------------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace) -> int:
    """Search the stored stories for the question and answer it with citations (extractive, or by the LLM)."""
    settings = load_settings(args.config)
    paths = resolve_paths(args.data_dir)
    problem = _ask_usage_problem(settings, paths, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    filters = Filters(theme=args.theme, since=args.since, now=datetime.now(UTC))
    pipeline, _ = open_pipeline(settings, paths)
    llm = make_llm(settings)
    try:
        hits = search_stories(pipeline, args.question, k=args.k, filters=filters)
        answer = answer_question(args.question, hits, settings, llm)
    finally:
        pipeline.close()
        if llm is not None:
            llm.close()
    if args.json:
        print(json.dumps(_ask_json(args.question, answer, hits), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def _duration(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ask_usage_problem(settings: Settings, paths: Paths, args: argparse.Namespace) -> str:
    if args.theme and args.theme not in settings.themes:
        return f"unknown theme {args.theme!r}; themes: {', '.join(settings.themes) or 'none configured'}"
    if not 1 <= args.k <= 50:
        return f"--k must be between 1 and 50, got {args.k}"
    if not paths.db.exists():
        return f"no data at {paths.db}; run `bot fetch` first, or point --data-dir at a data dir"
    return ""


def _print_answer(answer: Answer) -> None:
    print(answer.text)
    if answer.mode == "llm" and answer.citations:
        print("\n" + ("来源：" if answer.lang == "zh" else "Sources:"))
        for cited in answer.citations:
            print(f"[{cited.number}] {cited.title}\n    {cited.url}")
    if answer.fallback_reason:
        print(f"note: no LLM answer ({answer.fallback_reason}); showing the top stories", file=sys.stderr)


def _ask_json(question: str, answer: Answer, hits: list[StoryHit]) -> dict[str, Any]:
    return {
        "question": question,
        "lang": answer.lang,
        "mode": answer.mode,
        "answer": answer.text,
        "fallback_reason": answer.fallback_reason,
        "citations": [
            {"number": c.number, "story_id": c.story_id, "title": c.title, "url": c.url} for c in answer.citations
        ],
        "stories": [
            {
                "id": hit.story.id,
                "title": title_for(hit, answer.lang),
                "outlets": hit.story.outlets,
                "langs": list(hit.story.langs),
                "links": [{"source": source, "url": url} for source, url in hit.links],
            }
            for hit in hits
        ],
    }


# -- digest ----------------------------------------------------------------------------------


def cmd_digest(args: argparse.Namespace) -> int:
    """Print a subscriber's digest as Telegram HTML; record it as delivered only with --mark-sent."""
    settings = load_settings(args.config)
    paths = resolve_paths(args.data_dir)
    problem = _digest_usage_problem(settings, paths, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    pipeline, _ = open_pipeline(settings, paths)
    try:
        subscriber = _digest_subscriber(pipeline, args)
        if subscriber is None:
            print(f"error: no subscriber with chat id {args.chat}", file=sys.stderr)
            return 2
        since = now - args.since if args.since else None
        digest, links = prepare_digest(pipeline, subscriber, settings, now, since, limit=args.limit)
        messages = render_digest(digest, subscriber.lang, links)
        if args.mark_sent:
            mark_sent(pipeline.store, digest, now)
    finally:
        pipeline.close()
    if args.json:
        print(json.dumps(_digest_json(digest, subscriber.lang, messages, args.mark_sent), ensure_ascii=False))
    else:
        print("\n\n".join(messages))
    return 0


def _digest_usage_problem(settings: Settings, paths: Paths, args: argparse.Namespace) -> str:
    unknown = [theme for theme in _theme_list(args.themes) if theme not in settings.themes]
    if unknown:
        return f"unknown theme {', '.join(unknown)}; themes: {', '.join(settings.themes) or 'none configured'}"
    if args.mark_sent and args.chat is None:
        return "--mark-sent needs --chat: an ad-hoc digest has nobody to record a delivery for"
    if args.limit < 1:
        return f"--limit must be at least 1, got {args.limit}"
    if not paths.db.exists():
        return f"no data at {paths.db}; run `bot fetch` first, or point --data-dir at a data dir"
    return ""


def _digest_subscriber(pipeline: Pipeline, args: argparse.Namespace) -> Subscriber | None:
    """The stored subscriber (flags override its language and themes), or an ad-hoc one from the flags."""
    stored = pipeline.store.subscriber(args.chat) if args.chat is not None else Subscriber(chat_id=0)
    if stored is None:
        return None
    themes = _theme_list(args.themes)
    return replace(stored, lang=args.lang or stored.lang, themes=themes or stored.themes)


def _theme_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _digest_json(digest: Digest, lang: str, messages: list[str], marked: bool) -> dict[str, Any]:
    return {
        "chat_id": digest.chat_id,
        "lang": lang,
        "messages": messages,
        "story_ids": digest.story_ids,
        "sections": [key for key, _ in digest.sections],
        "overflow": digest.overflow,
        "marked_sent": marked,
    }


# -- eval ------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    """Replay the labeled set through the real pipeline in a temporary data dir and print the metrics."""
    settings = load_settings(args.config)
    embedder = make_embedder(settings.embedding)
    result = evaluate(Path(args.data), settings, embedder=embedder, search_baselines=args.ablation)
    if args.ablation:
        result["ablation"] = {
            signal: evaluate(Path(args.data), settings, embedder, replace(DedupParams(), **{f"use_{signal}": False}))[
                "dedup"
            ]
            for signal in ABLATION_SIGNALS
        }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    dedup, themes, moves = result["dedup"], result["themes"], result["people_moves"]
    print(f"items {result['items']}, stories: true {result['stories_true']}, predicted {result['stories_pred']}")
    print(
        f"dedup          pairwise P {dedup['pairwise_precision']:.3f}  R {dedup['pairwise_recall']:.3f}"
        f"  F1 {dedup['pairwise_f1']:.3f}   B-cubed F1 {dedup['bcubed_f1']:.3f}"
    )
    print(
        f"themes         accuracy {themes['accuracy']:.3f}  macro-F1 {themes['macro_f1']:.3f}"
        f"  multi-label micro-F1 {themes['micro_f1_multi']:.3f}"
    )
    print("               " + "  ".join(f"{name} {f1:.2f}" for name, f1 in themes["per_theme"].items()))
    print(f"people moves   P {moves['precision']:.3f}  R {moves['recall']:.3f}  F1 {moves['f1']:.3f}")
    search = result["search"]
    if search is None:
        print("search         null (not measured yet)")
    else:
        print(
            f"search         recall@5 {search['recall@5']:.3f}  MRR {search['mrr']:.3f}"
            f"  cross-lingual recall@5 {search['crosslingual_recall@5']:.3f}"
        )
    print(f"seconds        {result['seconds']}")
    for name, scores in (result.get("search_baselines") or {}).items():
        if scores:
            print(
                f"search {name:<11} recall@5 {scores['recall@5']:.3f}  MRR {scores['mrr']:.3f}"
                f"  cross-lingual recall@5 {scores['crosslingual_recall@5']:.3f}"
            )
    for signal, scores in result.get("ablation", {}).items():
        print(
            f"without {signal:<8} dedup pairwise F1 {scores['pairwise_f1']:.3f}"
            f" (P {scores['pairwise_precision']:.3f} R {scores['pairwise_recall']:.3f})"
            f"  B-cubed F1 {scores['bcubed_f1']:.3f}"
        )
    return 0


# -- sources ---------------------------------------------------------------------------------


def cmd_sources_list(args: argparse.Namespace) -> int:
    """The configured sources with their health from the store."""
    settings = load_settings(args.config)
    states = _read_states(resolve_paths(args.data_dir))
    rows = []
    for source in settings.sources:
        state = states.get(source.name) or SourceState(name=source.name)
        rows.append((source, state))
    if args.json:
        print(json.dumps({"sources": [_source_json(s, st) for s, st in rows]}, ensure_ascii=False))
        return 0
    table = [
        [
            source.name,
            source.kind,
            "yes" if source.enabled else "no",
            _when(state.last_success),
            str(state.consecutive_errors),
            _when(state.next_due) if source.enabled else "-",
            str(state.items_total),
            _clip(state.last_error, 50),
        ]
        for source, state in rows
    ]
    print(_table(["source", "kind", "enabled", "last success", "errors", "next due", "items", "last error"], table))
    return 0


def _read_states(paths: Paths) -> dict[str, SourceState]:
    if not paths.db.exists():
        return {}
    from bot.store import Store

    store = Store.open(paths.db)
    try:
        return store.source_states()
    finally:
        store.close()


def _source_json(source: Any, state: SourceState) -> dict[str, Any]:
    return {
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "query": source.query,
        "enabled": source.enabled,
        "last_success": _iso(state.last_success),
        "last_attempt": _iso(state.last_attempt),
        "consecutive_errors": state.consecutive_errors,
        "last_error": state.last_error,
        "next_due": _iso(state.next_due),
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


# -- rendering helpers -----------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row in [header, *rows]:
        cells = [cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two terminal columns."""
    return sum(2 if "\u2e80" <= char <= "\uffef" else 1 for char in text)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _langs(counts: dict[str, int]) -> str:
    return ", ".join(f"{lang} {count}" for lang, count in sorted(counts.items())) or "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"
