"""Ingest throughput: the whole pipeline against the bare embedder, on the same texts, in one run.

Entries are parsed once up front (parsing is the fetcher's cost, not the pipeline's); then
we time (a) the embedder alone on the texts the pipeline will embed, and (b) the pipeline
from parsed entries to stored + indexed + index saved, in a fresh data dir. Both use one
warm embedder instance. `ratio` = pipeline items/s ÷ embedder items/s: 1.0 means storing,
deduplicating and indexing cost nothing beyond embedding; the target is ≥ 0.8.

    python bench/ingest.py [--repeat 3] [--threads 1] [--json]

Inputs: the bundled demo feeds (our own bilingual set) plus, where ../shared is present,
the large real feeds recorded in ../shared/fixtures/feeds, for volume.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.core.config import Settings, resolve_paths
from bot.core.models import RawEntry
from bot.demo import FEEDS_DIR
from bot.ingest.embed import UseEmbedder
from bot.ingest.normalize import normalize
from bot.ingest.pipeline import open_pipeline
from bot.ingest.sources.rss import parse_feed

SHARED_FEEDS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "feeds"
LARGE_FEEDS = (
    "ai-labs/AI-News-Direct/openai_feeds.xml",
    "ai-labs/AI-News-Direct/huggingface_daily_papers.xml",
    "ai-labs/AI-News-Direct/google_deepmind_feeds.xml",
    "chinese/rssant/https-www-oschina-net-news-rss-show-industry.xml",
    "chinese/deskhub/qbitai.xml",
    "chinese/AI-News-Direct/aibase_daily.xml",
)


def load_entries() -> list[RawEntry]:
    fetched = datetime.now(UTC)
    paths = sorted(FEEDS_DIR.glob("*.xml")) + [SHARED_FEEDS / p for p in LARGE_FEEDS if (SHARED_FEEDS / p).exists()]
    entries: list[RawEntry] = []
    for path in paths:
        parsed, _ = parse_feed(path.read_bytes(), {}, path.stem, fetched)
        entries.extend(parsed)
    return entries


def time_embedder(embedder: UseEmbedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.encode(texts)
    return time.perf_counter() - started


def time_pipeline(embedder: UseEmbedder, entries: list[RawEntry]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        pipeline, _ = open_pipeline(Settings(), resolve_paths(directory), embedder=embedder)
        started = time.perf_counter()
        pipeline.ingest(entries)
        pipeline.save_index()
        elapsed = time.perf_counter() - started
        pipeline.store.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for the embedder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    entries = load_entries()
    texts = [item.embed_text for item in map(normalize, entries)]
    embedder = UseEmbedder(threads=args.threads)
    embedder.encode(texts[:8])  # load the model outside the timings

    embed_runs, pipeline_runs = [], []
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
        embed_runs.append(time_embedder(embedder, texts))
        pipeline_runs.append(time_pipeline(embedder, entries))
    embed_s, pipeline_s = statistics.median(embed_runs), statistics.median(pipeline_runs)
    result = {
        "items": len(entries),
        "embedder_items_per_s": round(len(texts) / embed_s, 1),
        "pipeline_items_per_s": round(len(entries) / pipeline_s, 1),
        "ratio": round(embed_s / pipeline_s, 3),
        "threads": args.threads,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"items                 {result['items']}")
        print(f"embedder alone        {result['embedder_items_per_s']:>8} items/s  (median of {args.repeat})")
        print(f"whole pipeline        {result['pipeline_items_per_s']:>8} items/s")
        print(f"pipeline / embedder   {result['ratio']:>8}  (target ≥ 0.8; threads={args.threads})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
