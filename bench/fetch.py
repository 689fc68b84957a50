"""Many feeds end to end: `bot fetch --all` against two floors measured in the same run.

N distinct feeds are generated here (each 5–30 items, dated back over months like a real archive,
texts recombined from the bundled labeled feeds so embedding costs what real text costs) and
served from 127.0.0.1 by this process, with ETags, so a second pass is all 304s. Three passes,
each timed for three contestants, every one in a fresh child process (start-up, imports and the
model load count, as they do for a user):

- bot: `python -m bot fetch --all` in its own data dir (the harvest code, the real pipeline);
- floor 1: a minimal concurrent httpx fetch + feedparser parse of the same feeds;
- floor 2: floor 1 plus embedding title + summary of every new entry with the bundled embedder
  at its best thread setting (1 on this shared 2-core machine, see --threads; the bot gets the same).

Passes: first (empty store), not modified (every feed answers 304), 5% changed (one new entry
in 5% of the feeds, the rest 304). Contestants are interleaved inside each pass, rounds repeat
(`--repeat`, default 3) and min/median are reported; peak RSS is each contestant's own maximum plus
that of the process it starts (the bot embeds a pass in a worker process).

    python bench/fetch.py [--n 100] [--repeat 3] [--json]
    python bench/fetch.py --big 15000     # one huge feed: stored in chunks from one download

The bot refuses a document of more than `rss.MAX_TAGS` (300,000) tags, about 50,000 entries of these
feeds (six tags each); a bigger `--big` ends with that message.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 8  # the bot's fetch.concurrency default; the floors get the same
CHANGED_SHARE = 0.05
PASSES = ("first", "not_modified", "changed")
BOTH = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)  # a process and the one it starts (the bot's embedder)
CONTESTANTS = ("bot", "floor_fetch_parse", "floor_embed")


# -- the feeds -------------------------------------------------------------------------------


def text_pool() -> list[tuple[str, str]]:
    """(title, summary) pairs of real bilingual news, from the bench's ingest inputs."""
    sys.path.insert(0, str(ROOT / "bench"))
    from ingest import load_entries  # the same real inputs bench/ingest.py uses

    return [(e.title, e.summary_html or e.content_html) for e in load_entries() if e.title]


@dataclass
class Feed:
    """One generated feed: its items newest first, and a version that changes its ETag."""

    number: int
    items: list[tuple[str, str, datetime]]  # (title, summary, published)
    version: int = 0
    body: bytes = b""

    def render(self) -> None:
        parts = []
        for position, (title, summary, published) in enumerate(self.items):
            link = f"https://outlet{self.number}.example/post/{len(self.items) - position}"
            parts.append(
                f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{email.utils.format_datetime(published)}</pubDate>"
                f"<description>{escape(summary)}</description></item>"
            )
        self.body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {self.number}</title><link>https://outlet{self.number}.example/</link>"
            f"<description>generated</description>{''.join(parts)}</channel></rss>"
        ).encode()

    @property
    def etag(self) -> str:
        return f'"f{self.number}v{self.version}"'


def make_feeds(n: int, pool: list[tuple[str, str]], now: datetime, seed: int = 7) -> list[Feed]:
    """Feeds of 5–30 items each; an outlet posts every few hours to every few days, so dates span months."""
    rng = random.Random(seed)
    feeds = []
    for number in range(n):
        every_hours = rng.choice((3, 8, 24, 72))
        moment, items = now, []
        for _ in range(rng.randint(5, 30)):
            moment -= timedelta(hours=rng.expovariate(1 / every_hours))
            title, _ = rng.choice(pool)
            _, summary = rng.choice(pool)  # recombined: distinct items, real lengths and languages
            items.append((title, summary, moment))
        feed = Feed(number, items)
        feed.render()
        feeds.append(feed)
    return feeds


def change_some(feeds: list[Feed], pool: list[tuple[str, str]], now: datetime, seed: int) -> int:
    """Add one new entry at the top of CHANGED_SHARE of the feeds; returns how many changed."""
    rng = random.Random(seed)
    chosen = rng.sample(feeds, max(1, round(len(feeds) * CHANGED_SHARE)))
    for feed in chosen:
        title, _ = rng.choice(pool)
        _, summary = rng.choice(pool)
        feed.items.insert(0, (title, summary, now))
        feed.version += 1
        feed.render()
    return len(chosen)


class FeedHost:
    """Serves /feed/<n>.xml from memory on 127.0.0.1 with ETag / If-None-Match."""

    def __init__(self, feeds: list[Feed]) -> None:
        self.feeds = feeds
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                try:
                    feed = host.feeds[int(self.path.removeprefix("/feed/").removesuffix(".xml"))]
                except (ValueError, IndexError):
                    self.send_error(404)
                    return
                if self.headers.get("If-None-Match") == feed.etag:
                    self.send_response(304)
                    self.send_header("ETag", feed.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("ETag", feed.etag)
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def urls(self) -> list[str]:
        port = self.server.server_address[1]
        return [f"http://127.0.0.1:{port}/feed/{feed.number}.xml" for feed in self.feeds]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the contestants, each run in a child process ---------------------------------------------------


def write_bot_config(path: Path, urls: list[str], threads: int) -> None:
    """The shipped config's themes and defaults, these feeds as sources, loopback allowed."""
    shipped = yaml.safe_load((ROOT / "sources.yaml").read_text(encoding="utf-8"))
    config = {
        "embedding": {"backend": "use", "threads": threads},
        "fetch": {"allow_private": True, "per_host": CONCURRENCY, "concurrency": CONCURRENCY},
        "themes": shipped.get("themes", {}),
        "sources": [{"name": f"feed{number:05d}", "kind": "rss", "url": url} for number, url in enumerate(urls)],
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def child_bot(config: str, data_dir: str) -> None:
    from bot.cli import main

    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            code = main(["--config", config, "--data-dir", data_dir, "fetch", "--all", "--json"])
        finally:
            sys.stdout = stdout
    if code != 0:
        raise SystemExit(f"bot fetch exited {code}")


def child_floor(urls_file: str, state_file: str, threads: int) -> None:
    """Fetch + parse (threads == 0) or fetch + parse + embed the entries not seen before."""
    import feedparser
    import httpx

    urls = json.loads(Path(urls_file).read_text())
    state_path = Path(state_file)
    state = json.loads(state_path.read_text()) if state_path.exists() else {"etags": {}, "seen": []}
    etags: dict[str, str] = state["etags"]
    seen = set(state["seen"])

    async def fetch_all() -> list[Any]:
        limit = asyncio.Semaphore(CONCURRENCY)
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def one(url: str) -> Any:
                async with limit:
                    headers = {"If-None-Match": etags[url]} if url in etags else {}
                    response = await client.get(url, headers=headers)
                if response.status_code != 200:
                    return None
                etags[url] = response.headers.get("etag", "")
                return await asyncio.to_thread(feedparser.parse, response.content)

            return await asyncio.gather(*(one(url) for url in urls))

    parsed = asyncio.run(fetch_all())
    texts = []
    for document in parsed:
        for entry in document.entries if document else ():
            if entry.get("id") not in seen:
                seen.add(entry.get("id"))
                texts.append(f"{entry.get('title', '')}\n{entry.get('summary', '')[:600]}")
    if threads and texts:
        from bot.ingest.embed import UseEmbedder

        UseEmbedder(threads=threads).encode(texts)
    state_path.write_text(json.dumps({"etags": etags, "seen": sorted(seen)}))


def run_child(arguments: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, its own process's part) of one contestant in a fresh interpreter.

    The peak is the process's own plus its child's (the bot embeds a pass in a worker process), as if
    both peaked at once: an upper bound on what the pair held together."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        command = [sys.executable, __file__, "--child", report.name, *arguments]
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(command, check=True, env=environment, cwd=ROOT)
        measured = json.loads(Path(report.name).read_text())
    own, child = measured["own_peak_rss_mb"], measured["child_peak_rss_mb"]
    return measured["seconds"], own + child, own


def child_main(report: str, kind: str, *arguments: str) -> None:
    started = time.perf_counter()
    if kind == "bot":
        child_bot(*arguments)
    else:
        child_floor(arguments[0], arguments[1], int(arguments[2]))
    seconds = time.perf_counter() - started
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the bot's embedding process
    Path(report).write_text(json.dumps({"seconds": seconds, "own_peak_rss_mb": own_mb, "child_peak_rss_mb": child_mb}))


# -- the run --------------------------------------------------------------------------------


def best_threads(pool: list[tuple[str, str]]) -> int:
    """1 or 2 BLAS threads, whichever embeds a sample of the pool faster here and now."""
    from bot.ingest.embed import UseEmbedder

    texts = [f"{title}\n{summary[:600]}" for title, summary in pool[:300]]
    timings = {}
    for threads in (1, 2):
        embedder = UseEmbedder(threads=threads)
        embedder.encode(texts[:8])
        started = time.perf_counter()
        embedder.encode(texts)
        timings[threads] = time.perf_counter() - started
    return min(timings, key=timings.__getitem__)


@dataclass
class Round:
    """One contestant's state across the three passes of a round."""

    name: str
    work: Path
    seconds: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    own_rss: dict[str, float] = field(default_factory=dict)


def stored_items(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "bot.db") as db:
        return int(db.execute("SELECT count(*) FROM items").fetchone()[0])


def run_round(number: int, n: int, pool: list[tuple[str, str]], threads: int, scratch: Path) -> dict[str, Any]:
    now = datetime.now(UTC)
    feeds = make_feeds(n, pool, now)
    host = FeedHost(feeds)
    try:
        urls_file = scratch / "urls.json"
        urls_file.write_text(json.dumps(host.urls()))
        config = scratch / "sources.yaml"
        write_bot_config(config, host.urls(), threads)
        rounds = {name: Round(name, scratch / f"{name}-{number}") for name in CONTESTANTS}
        arguments = {
            "bot": ["bot", str(config), str(rounds["bot"].work)],
            "floor_fetch_parse": ["floor", str(urls_file), str(rounds["floor_fetch_parse"].work / "state.json"), "0"],
            "floor_embed": ["floor", str(urls_file), str(rounds["floor_embed"].work / "state.json"), str(threads)],
        }
        for contestant in rounds.values():
            contestant.work.mkdir(parents=True)
        order = list(CONTESTANTS[number % 3 :] + CONTESTANTS[: number % 3])  # who goes first rotates
        items = {}
        for name in PASSES:
            if name == "changed":
                change_some(feeds, pool, datetime.now(UTC), seed=number)
            before = stored_items(rounds["bot"].work) if name != "first" else 0
            for contestant in order:
                seconds, peak, own = run_child(arguments[contestant])
                rounds[contestant].seconds[name] = seconds
                rounds[contestant].rss[name] = peak
                rounds[contestant].own_rss[name] = own
            items[name] = stored_items(rounds["bot"].work) - before
            print(
                f"  round {number + 1} {name:<13}"
                + "".join(f" {c}={rounds[c].seconds[name]:.1f}s" for c in CONTESTANTS)
                + f" items={items[name]}",
                file=sys.stderr,
            )
        for contestant in rounds.values():
            shutil.rmtree(contestant.work, ignore_errors=True)
        return {"rounds": rounds, "items": items}
    finally:
        host.close()


def summarize(n: int, results: list[dict[str, Any]], threads: int) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        return {"min": round(min(values), 2), "median": round(statistics.median(values), 2)}

    passes = {}
    for name in PASSES:
        times = {c: [r["rounds"][c].seconds[name] for r in results] for c in CONTESTANTS}
        rss = [r["rounds"]["bot"].rss[name] for r in results]
        items = statistics.median(r["items"][name] for r in results)
        bot_s = statistics.median(times["bot"])
        passes[name] = {
            "bot_s": stats(times["bot"]),
            "floor_fetch_parse_s": stats(times["floor_fetch_parse"]),
            "floor_embed_s": stats(times["floor_embed"]),
            "ratio_to_embed_floor": round(bot_s / statistics.median(times["floor_embed"]), 2),
            "ratio_to_fetch_parse_floor": round(bot_s / statistics.median(times["floor_fetch_parse"]), 2),
            "items_stored": items,
            "items_per_s": round(items / bot_s, 1),
            "peak_rss_mb": round(max(rss), 1),
            "bot_process_peak_rss_mb": round(max(r["rounds"]["bot"].own_rss[name] for r in results), 1),
            "floor_embed_peak_rss_mb": round(max(r["rounds"]["floor_embed"].rss[name] for r in results), 1),
        }
    first = passes["first"]
    return {
        "n": n,
        "repeat": len(results),
        "threads": threads,
        "bot_s": first["bot_s"]["median"],
        "floor_fetch_parse_s": first["floor_fetch_parse_s"]["median"],
        "floor_embed_s": first["floor_embed_s"]["median"],
        "ratio_to_embed_floor": first["ratio_to_embed_floor"],
        "peak_rss_mb": max(p["peak_rss_mb"] for p in passes.values()),
        "passes": passes,
    }


def big_feed(count: int, pool: list[tuple[str, str]], threads: int) -> dict[str, Any]:
    """One feed of `count` entries (an outlet's whole archive, one a day-ish), fetched pass after pass
    in one process until nothing is deferred (one pass, unless it is over `fetch.max_entries_per_pass`);
    beside it the embedder alone on the same texts."""
    from bot.core.config import FetchConfig, Settings, SourceConfig, resolve_paths
    from bot.ingest.embed import UseEmbedder
    from bot.ingest.harvest import fetch_pass
    from bot.ingest.pipeline import open_pipeline

    now = datetime.now(UTC)
    rng = random.Random(11)
    items, moment = [], now
    for _ in range(count):
        moment -= timedelta(hours=rng.expovariate(1 / 6))
        items.append((rng.choice(pool)[0], rng.choice(pool)[1], moment))
    feed = Feed(0, items)
    feed.render()
    host = FeedHost([feed])
    embedder = UseEmbedder(threads=threads)
    embedder.encode(["warm up"])
    try:
        settings = Settings(
            sources=(SourceConfig(name="big", kind="rss", url=host.urls()[0]),),
            fetch=FetchConfig(allow_private=True, max_bytes=200_000_000),
        )
        passes = []
        with tempfile.TemporaryDirectory(prefix="bench-big-") as scratch:
            pipeline, _ = open_pipeline(settings, resolve_paths(scratch), embedder=embedder)
            started = time.perf_counter()
            while True:
                begun = time.perf_counter()
                (outcome,) = asyncio.run(fetch_pass(settings, pipeline, settings.sources))
                if outcome.error:  # a refused feed stores nothing: a time for it would compare nothing
                    raise SystemExit(f"the bot did not take the feed: {outcome.error}")
                passes.append({"new": outcome.report.new, "seconds": round(time.perf_counter() - begun, 2)})
                print(f"  pass {len(passes)}: {passes[-1]}", file=sys.stderr)
                if not outcome.report.deferred:
                    break
            total = time.perf_counter() - started
            stored = pipeline.store.count_items()
            pipeline.close()
        texts = [f"{title}\n{summary[:600]}" for title, summary, _ in items]
        begun = time.perf_counter()
        embedder.encode(texts)
        embed_s = time.perf_counter() - begun
    finally:
        host.close()
    per_item = [p["seconds"] / p["new"] * 1000 for p in passes if p["new"]]
    return {
        "entries": count,
        "stored": stored,
        "passes": len(passes),
        "bot_s": round(total, 1),
        "embed_only_s": round(embed_s, 1),
        "ms_per_item_first_pass": round(per_item[0], 2),
        "ms_per_item_last_full_pass": round(per_item[-2] if len(per_item) > 1 else per_item[0], 2),
        "peak_rss_mb": round(sum(resource.getrusage(who).ru_maxrss for who in BOTH) / 1024, 1),  # with the embedder's
        "threads": threads,
    }


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main(*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="feeds (repeatable; default 100 and 500)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; min and median are reported")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="embedder BLAS threads for the bot and floor 2 (default 1: on 2 shared cores 2 threads measured"
        " faster alone and 4.5x slower beside other work; 0 = the faster of 1 and 2 right now)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per N on stdout")
    parser.add_argument("--big", type=int, help="instead: one feed of this many entries, pass after pass, in-process")
    args = parser.parse_args()

    pool = text_pool()
    threads = args.threads or best_threads(pool)
    print(f"embedder threads: {threads}", file=sys.stderr)
    if args.big:
        print(json.dumps(big_feed(args.big, pool, threads)))
        return 0
    for n in args.n or [100, 500]:
        with tempfile.TemporaryDirectory(prefix="bench-fetch-") as scratch:
            results = [run_round(number, n, pool, threads, Path(scratch)) for number in range(args.repeat)]
        summary = summarize(n, results, threads)
        if args.json:
            print(json.dumps(summary), flush=True)
        else:
            print(f"\n{n} feeds, median of {args.repeat} (min in brackets), embedder threads {threads}")
            for name, figures in summary["passes"].items():
                print(
                    f"  {name:<13} bot {figures['bot_s']['median']:7.1f}s ({figures['bot_s']['min']:.1f})"
                    f"  fetch+parse {figures['floor_fetch_parse_s']['median']:6.1f}s"
                    f"  +embed {figures['floor_embed_s']['median']:6.1f}s"
                    f"  ratio {figures['ratio_to_embed_floor']:.2f} / {figures['ratio_to_fetch_parse_floor']:.2f}"
                    f"  {figures['items_stored']:.0f} items, {figures['items_per_s']} items/s"
                    f"  peak {figures['peak_rss_mb']:.0f} MB (bot process {figures['bot_process_peak_rss_mb']:.0f})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
