"""Commands that read the store: `ask` (answers with citations), `digest` (as a subscriber gets it), `eval`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import App
from bot.cli.render import parse_now, require_data
from bot.core.config import Paths, Settings, load_settings
from bot.core.errors import UsageError
from bot.core.models import Subscriber
from bot.core.params import PARAMS_FILE
from bot.deliver.digest import Digest, mark_sent, prepare_digest, render_digest, story_summaries, summarizer
from bot.deliver.report import prepare_report, render_caption, render_report
from bot.eval.evaluate import CachedEmbedder, Fitted, discover_sets, evaluate, load_distractors, load_items, summarize
from bot.eval.fitting import Fitter, cross_report
from bot.ingest.dedup import SIGNALS
from bot.ingest.embed import Embedder, make_embedder
from bot.ingest.normalize import clean_text
from bot.ingest.pipeline import Pipeline
from bot.query.answer import Answer, answer_question, title_for
from bot.query.llm import make_llm
from bot.query.search import Filters, StoryHit, search_stories
from bot.render.telegram import parse_themes

SHARED_DIR = "../shared"  # labeled sets live beside the repository, as the other commands' defaults do

# -- ask -------------------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace) -> int:
    """Search the stored stories for the question and answer it with citations (extractive, or by the LLM)."""
    laps = _Laps() if args.timings or args.verbose else None
    app = App.from_cli(args.config, args.data_dir)
    settings = app.settings
    _check_ask_usage(settings, app.paths, args)
    filters = Filters(theme=args.theme, since=args.since, now=datetime.now(UTC))
    llm = make_llm(settings)
    try:
        question = clean_text(args.question)  # argv may carry lone surrogates (undecodable bytes)
        if laps:
            laps.lap("start-up (interpreter, imports, config)", since_process_start=True)
            app.pipeline.index  # noqa: B018 — opening (the index is opened on first use) is timed apart from the model
            laps.lap("open store and index")
            app.pipeline.embedder.encode([question])
            laps.lap("model load (first encode)")
        hits = search_stories(app.pipeline, question, k=args.k, filters=filters)
        if laps:
            laps.lap("search")
        answer = answer_question(question, hits, settings, llm, summarizer(app.pipeline, llm))
        if laps:
            laps.lap("answer")
    finally:
        app.close()
        if llm is not None:
            llm.close()
    if laps:
        laps.report()
    if args.json:
        print(json.dumps(_ask_json(args.question, answer, hits), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


class _Laps:
    """Where a command's time went, printed on stderr (`bot ask -v`): a one-shot command pays start-up
    and model load before its search, and this says how much."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self._mark = time.perf_counter()

    def lap(self, name: str, since_process_start: bool = False) -> None:
        now = time.perf_counter()
        started = _seconds_since_process_start() if since_process_start else None
        self.laps.append((name, started if started is not None else now - self._mark))
        self._mark = now

    def report(self) -> None:
        parts = [f"{name} {seconds * 1000:.0f} ms" for name, seconds in self.laps]
        total = sum(seconds for _, seconds in self.laps)
        print(f"time: {' · '.join(parts)} · total {total * 1000:.0f} ms", file=sys.stderr)


def _seconds_since_process_start() -> float | None:
    """How long this process has run, from the kernel's record of its start (Linux); None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None


def _check_ask_usage(settings: Settings, paths: Paths, args: argparse.Namespace) -> None:
    if not args.question.strip():
        raise UsageError('the question is empty; e.g. bot ask "Who left OpenAI?"')
    if args.theme:
        (args.theme,) = _themes(args.theme, settings)  # "LLM" or "Language models" → llm
    if not 1 <= args.k <= 50:
        raise UsageError(f"--k must be between 1 and 50, got {args.k}")
    require_data(paths)


def _print_answer(answer: Answer) -> None:
    print(answer.text)
    if answer.mode == "llm" and answer.citations:
        print("\n" + ("来源：" if answer.lang == "zh" else "Sources:"))
        for cited in answer.citations:
            date = f"{cited.published:%Y-%m-%d} · " if cited.published else ""
            print(f"[{cited.number}] {date}{cited.title}\n    {cited.url}")
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
            {
                "number": c.number,
                "story_id": c.story_id,
                "title": c.title,
                "url": c.url,
                "published": c.published.isoformat() if c.published else None,
                "summary": c.summary,
            }
            for c in answer.citations
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
    app = App.from_cli(args.config, args.data_dir)
    settings = app.settings
    _check_digest_usage(settings, app.paths, args)
    now = parse_now(args.now)
    if args.weekly:
        return _weekly(app, args, now)
    pipeline = app.pipeline
    llm = make_llm(settings)
    try:
        subscriber = _digest_subscriber(pipeline, args)
        since = now - args.since if args.since else None
        digest, links = prepare_digest(pipeline, subscriber, settings, now, since, limit=args.limit)
        summaries = story_summaries(pipeline, digest.stories, subscriber.lang, llm)
        messages = render_digest(digest, subscriber.lang, links, summaries=summaries, web=settings.web)
        if args.mark_sent:
            mark_sent(pipeline.store, digest, now)
    finally:
        app.close()
        if llm is not None:
            llm.close()
    if args.json:
        print(json.dumps(_digest_json(digest, subscriber.lang, messages, args.mark_sent), ensure_ascii=False))
    else:
        print("\n\n".join(messages))
    return 0


def _weekly(app: App, args: argparse.Namespace, now: datetime) -> int:
    """The weekly report as Telegram would get it: the picture (written to --chart), its caption, the messages."""
    pipeline, settings = app.pipeline, app.settings
    llm = make_llm(settings)
    try:
        subscriber = _digest_subscriber(pipeline, args)
        report = prepare_report(pipeline, subscriber, settings, now, llm, chart=bool(args.chart))
        if args.mark_sent:
            pipeline.store.record_delivery(subscriber.chat_id, report.story_ids, now)
    finally:
        app.close()
        if llm is not None:
            llm.close()
    if args.chart and report.chart:
        Path(args.chart).write_bytes(report.chart)
    caption, messages = render_caption(report.trends, report.lang), render_report(report)
    if args.json:
        sections = {s.theme: [t.label for t in s.topics] for s in report.sections}
        print(
            json.dumps(
                {
                    "chat_id": report.chat_id,
                    "lang": report.lang,
                    "caption": caption,
                    "messages": messages,
                    "story_ids": report.story_ids,
                    "topics": sections,
                    "chart": args.chart,
                    "marked_sent": args.mark_sent,
                },
                ensure_ascii=False,
            )
        )
    else:
        head = [f"{caption}\n[picture: {args.chart}]"] if report.chart else []  # without one, messages lead with it
        print("\n\n".join([*head, *messages]))
    return 0


def _check_digest_usage(settings: Settings, paths: Paths, args: argparse.Namespace) -> None:
    args.themes = ",".join(_themes(args.themes, settings)) if args.themes else args.themes
    if args.mark_sent and args.chat is None:
        raise UsageError("--mark-sent needs --chat: an ad-hoc digest has nobody to record a delivery for")
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    require_data(paths)


def _digest_subscriber(pipeline: Pipeline, args: argparse.Namespace) -> Subscriber:
    """The stored subscriber (flags override its language and themes), or an ad-hoc one from the flags."""
    stored = pipeline.store.subscriber(args.chat) if args.chat is not None else Subscriber(chat_id=0)
    if stored is None:
        raise UsageError(f"no subscriber with chat id {args.chat}")
    themes = _theme_list(args.themes)
    return replace(stored, lang=args.lang or stored.lang, themes=themes or stored.themes)


def _themes(value: str, settings: Settings) -> tuple[str, ...]:
    """Theme slugs from what was typed: slugs or display names, any case, comma-separated; unknown ones refused."""
    chosen, unknown = parse_themes([value], list(settings.themes))
    if unknown or not chosen:
        shown = ", ".join(unknown) or repr(value)
        raise UsageError(f"unknown theme {shown}; themes: {_theme_names(settings)}")
    return chosen


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


def _theme_names(settings: Settings) -> str:
    return ", ".join(settings.themes) or "none configured"


# -- eval ------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    """Replay each labeled set through the real pipeline in a temporary data dir and print the metrics.

    One `--data` prints that set's figures as before; several (or none: every `eval*` folder
    under ../shared) print one row per set plus the worst and the mean.
    """
    settings = load_settings(args.config)
    embedder = CachedEmbedder(make_embedder(settings.embedding))
    if args.fit:
        return _fit(settings, embedder, [_set_folder(name) for name in args.fit], Path(args.out or PARAMS_FILE))
    folders = [Path(folder) for folder in args.data] if args.data else discover_sets(Path(SHARED_DIR))
    if args.cross:
        try:
            distractors = Path(args.distractors) if args.distractors else None
            report = cross_report(folders, settings, embedder, distractors=distractors)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.ablation:
            report["ablation"] = {
                signal: cross_report(folders, settings, embedder, frozenset({signal}))["worst"]["dedup"]
                for signal in SIGNALS
            }
        sets = {name: scores for name, scores in report.items() if name not in ("worst", "mean", "ablation")}
        if args.json:
            print(json.dumps({"cross": report}, ensure_ascii=False))
        else:
            print("leave one set out: each row is fitted on the other sets")
            _print_sets({"sets": sets, "worst": report["worst"], "mean": report["mean"]})
            for name, scores in sets.items():
                if "at_volume" in scores:
                    _print_volume(name, scores["at_volume"])
            for signal, scores in report.get("ablation", {}).items():
                print(
                    f"fitted without {signal:<8} worst left-out dedup pairwise F1 {scores['pairwise_f1']:.3f}"
                    f"  B-cubed F1 {scores['bcubed_f1']:.3f}"
                )
        return 0
    results = {folder.name: _eval_one(folder, settings, embedder, args) for folder in folders}
    if len(folders) == 1:
        result: dict[str, Any] = results[folders[0].name]
    else:
        result = {"sets": results, **summarize(results)}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif len(folders) == 1:
        _print_eval(result)
    else:
        _print_sets(result)
    return 0


def _set_folder(name: str) -> Path:
    """A labeled set by path, or by its folder name under ../shared ("eval-2022")."""
    path = Path(name)
    return path if path.is_dir() else Path(SHARED_DIR) / name


def _fit(settings: Settings, embedder: Embedder, folders: list[Path], out: Path) -> int:
    """Fit every parameter on `folders` and write the parameters file (same sets → same bytes)."""
    for folder in folders:
        if not (folder / "items.jsonl").is_file():
            raise UsageError(f"{folder}: not a labeled set (no items.jsonl)")
    try:
        fitted = Fitter(settings, embedder).fit(folders)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write_text(fitted.to_params(sorted(folder.name for folder in folders)).to_json(), encoding="utf-8")
    print(f"wrote {out} (fitted on {', '.join(sorted(folder.name for folder in folders))})")
    return 0


def _eval_one(data: Path, settings: Settings, embedder: Embedder, args: argparse.Namespace) -> dict[str, Any]:
    noise = load_distractors(Path(args.distractors), load_items(data)) if args.distractors else []
    result = evaluate(data, settings, embedder=embedder, search_baselines=args.ablation, noise=noise)
    if args.ablation:
        shipped = Fitted.shipped()
        result["ablation"] = {
            signal: evaluate(
                data, settings, embedder, replace(shipped, dedup=shipped.dedup.without(signal)), noise=noise
            )["dedup"]
            for signal in SIGNALS
        }
    return result


def _print_sets(result: dict[str, Any]) -> None:
    """One row per set, then the worst and the mean; a dash where a set has no such block."""
    print(
        f"{'set':<16} {'items':>6}  {'dedup F1':>8} {'B3':>6}  {'themes F1':>9} {'acc':>6} {'namedP':>6} {'namedR':>6}"
        f"  {'people F1':>9}  {'R@5':>6} {'MRR':>6} {'xR@5':>6}"
    )
    rows = [(name, scores) for name, scores in result["sets"].items()]
    rows += [("worst", result["worst"]), ("mean", result["mean"])]
    for name, scores in rows:
        dedup, themes = scores.get("dedup"), scores.get("themes")
        moves, search = scores.get("people_moves"), scores.get("search")
        print(
            f"{name:<16} {scores.get('items', ''):>6}"
            f"  {_figure(dedup, 'pairwise_f1', 8)} {_figure(dedup, 'bcubed_f1', 6)}"
            f"  {_figure(themes, 'macro_f1', 9)} {_figure(themes, 'accuracy', 6)}"
            f" {_figure(themes, 'named_precision', 6)} {_figure(themes, 'named_recall', 6)}"
            f"  {_figure(moves, 'f1', 9)}"
            f"  {_figure(search, 'recall@5', 6)} {_figure(search, 'mrr', 6)}"
            f" {_figure(search, 'crosslingual_recall@5', 6)}"
        )


def _print_volume(name: str, scores: dict[str, Any]) -> None:
    """One left-out set's figures with the distractors mixed in."""
    dedup, search = scores["dedup"], scores["search"]
    print(
        f"{name} with {scores['distractors']} distractors: dedup pairwise P {dedup['pairwise_precision']:.3f}"
        f"  R {dedup['pairwise_recall']:.3f}  F1 {dedup['pairwise_f1']:.3f}  B-cubed F1 {dedup['bcubed_f1']:.3f}"
        + (f"  search {_search_scores(search)}" if search else "")
    )


def _figure(block: dict[str, Any] | None, key: str, width: int) -> str:
    return f"{block[key]:>{width}.3f}" if block and key in block else f"{'-':>{width}}"


def _print_eval(result: dict[str, Any]) -> None:
    dedup, themes, moves = result["dedup"], result["themes"], result["people_moves"]
    noise = f" ({result['distractors']} of them unlabeled distractors)" if result.get("distractors") else ""
    print(f"items {result['items']}{noise}, stories: true {result['stories_true']}, predicted {result['stories_pred']}")
    print(
        f"dedup          pairwise P {dedup['pairwise_precision']:.3f}  R {dedup['pairwise_recall']:.3f}"
        f"  F1 {dedup['pairwise_f1']:.3f}   B-cubed F1 {dedup['bcubed_f1']:.3f}"
    )
    if themes is None:
        print("themes         - (no labeled themes)")
    else:
        print(
            f"themes         accuracy {themes['accuracy']:.3f}  macro-F1 {themes['macro_f1']:.3f}"
            f"  multi-label micro-F1 {themes['micro_f1_multi']:.3f}"
            f"  named P {themes['named_precision']:.3f}  R {themes['named_recall']:.3f}"
        )
        print("               " + "  ".join(f"{name} {f1:.2f}" for name, f1 in themes["per_theme"].items()))
    if moves is None:
        print("people moves   - (no labeled moves)")
    else:
        print(f"people moves   P {moves['precision']:.3f}  R {moves['recall']:.3f}  F1 {moves['f1']:.3f}")
    search = result["search"]
    if search is None:
        print("search         null (not measured yet)")
    else:
        print(f"search         {_search_scores(search)}")
    print(f"seconds        {result['seconds']}")
    for name, scores in (result.get("search_baselines") or {}).items():
        if scores:
            print(f"search {name:<11} {_search_scores(scores)}")
    for signal, scores in result.get("ablation", {}).items():
        print(
            f"without {signal:<8} dedup pairwise F1 {scores['pairwise_f1']:.3f}"
            f" (P {scores['pairwise_precision']:.3f} R {scores['pairwise_recall']:.3f})"
            f"  B-cubed F1 {scores['bcubed_f1']:.3f}"
        )


def _search_scores(scores: dict[str, float]) -> str:
    return (
        f"recall@5 {scores['recall@5']:.3f}  MRR {scores['mrr']:.3f}"
        f"  cross-lingual recall@5 {scores['crosslingual_recall@5']:.3f}"
    )
