"""Web pages and feeds at scale: story page and feed latency over N stored items, through the real server.

Builds N synthetic items (≈3 per story; bench/search.py's generator, written through the real store
and index), starts `bot run --no-telegram` with a `web:` section — the scheduler and the site on one
loop, as deployed — and times, from a client on 127.0.0.1 over one keep-alive connection:

- story pages of `--requests` different random stories, each viewed twice: the first view computes
  the extractive summary (one embedder call, then cached in the store) and the related stories (one
  search of the whole vector index, then cached until the index changes); the second view is what
  every later reader of that story gets (items, outlets, coverage timeline, cached summary and related);
- the all-stories Atom feed and JSON Feed (newest 50), and a conditional GET answered 304.

The first request of each kind is left out (it warms the model and the caches). Peak RSS is the
server process's VmHWM after the run.

    python bench/web.py [--n 100000] [--requests 200] [--json]

Target (issue 18): story page and feed p95 < 50 ms at 100k items on this machine (first views reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import build_store  # the same synthetic store as the search bench

from bot.ingest.embed import UseEmbedder

REPO = Path(__file__).resolve().parents[1]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def timed(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
    began = time.perf_counter()
    response = client.get(path, headers=headers)
    return (time.perf_counter() - began) * 1000, response


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(directory: str, port: int) -> subprocess.Popen[bytes]:
    config = Path(directory) / "bench.yaml"
    config.write_text(f"sources: []\nweb:\n  port: {port}\n", encoding="utf-8")
    command = [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", directory, "run", "--no-telegram"]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited before answering")
        try:
            httpx.get(f"http://127.0.0.1:{port}/style.css", timeout=2)
            return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not answer within 300 s")


def print_result(result: dict[str, object], as_json: bool) -> None:
    """One JSON object, or one aligned line per figure."""
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="synthetic items stored (default 100000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind (default 200)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as directory:
        embedder = UseEmbedder(threads=1)
        build_s = build_store(args.n, embedder.dim, directory, embedder)
        port = free_port()
        server = start_server(directory, port)
        try:
            stories = args.n // 3
            rng = random.Random(11)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                chosen = [rng.randint(1, stories) for _ in range(args.requests + 1)]
                cold = [timed(client, f"/story/{story}?lang=en") for story in chosen]  # each story's first view
                pages = [timed(client, f"/story/{story}?lang=en") for story in chosen]  # viewed again
                assert all(response.status_code == 200 for _, response in cold + pages), "a story page failed"
                atom = [timed(client, "/feeds/all.atom") for _ in range(args.requests + 1)]
                feed_json = [timed(client, "/feeds/all.json?lang=zh") for _ in range(args.requests + 1)]
                etag = atom[-1][1].headers["etag"]
                cached = [timed(client, "/feeds/all.atom", {"If-None-Match": etag}) for _ in range(args.requests + 1)]
                assert all(response.status_code == 304 for _, response in cached), "conditional GET did not 304"
            rss = peak_rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    result = {
        "items": args.n,
        "stories": stories,
        "build_s": round(build_s, 1),
        "requests_per_kind": args.requests,
        "story_first_view_p50_ms": round(statistics.median([ms for ms, _ in cold[1:]]), 1),
        "story_first_view_p95_ms": round(p95([ms for ms, _ in cold[1:]]), 1),
        "story_page_p50_ms": round(statistics.median([ms for ms, _ in pages[1:]]), 1),
        "story_page_p95_ms": round(p95([ms for ms, _ in pages[1:]]), 1),
        "atom_p95_ms": round(p95([ms for ms, _ in atom[1:]]), 1),
        "json_feed_p95_ms": round(p95([ms for ms, _ in feed_json[1:]]), 1),
        "conditional_304_p95_ms": round(p95([ms for ms, _ in cached[1:]]), 1),
        "server_peak_rss_mb": round(rss, 1),
        "target": "story page and feed p95 < 50 ms",
    }
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
