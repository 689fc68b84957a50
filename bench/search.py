"""Search at scale: the vector index over N synthetic items, or (--full) the whole search path over 100k.

Index mode, the default (`--n 1000000`), answers "does the index hold a year of news?". It builds the
index the way `open_index` rebuilds one — `VectorIndex.build` streaming chunks from a source, in the
structure the configured threshold (`index.exact_below`) calls for — and then times a top-10 story
search: the index's top `VECTOR_POOL` items for a query vector, collapsed to stories (a story ranks
where its best item does), as `bot.query.search` does. The query vector is given, so embedding the question
is not in the time. Item→story is a numpy array here, not the store: recall needs vectors with real
neighbourhoods, which the full mode's store (random vectors, generated text) does not have, and
keeping SQLite out leaves the index's own cost. In the bot that step is one primary-key `IN` query
over 200 ids (`store.story_of_items`); `--full --n 1000000` times it, with embedding, FTS5 and
fusion, over a real store of a million items (about five minutes to build on two cores).
Recall@10 is the share of the exact top-10 items (exact FAISS inner product over float32, chunk by
chunk) that the index returns; story_recall@10 the same for the top-10 stories.

The synthetic vectors are clustered the way news is, because uniform random unit vectors in 512-D
have no neighbourhoods and make every approximate index look broken. Each level is a cosine step
from its parent: a shared direction (all embeddings lean one way) → 64 areas (cos 0.4) → n/200
topics (0.4-0.6) → stories (0.4-0.7) of one to five items (0.75-0.97: rewrites of one event, some
near-verbatim). Queries are held out: a further item of an existing story, never indexed. Every chunk
is drawn from its own seeded generator, so the ground truth regenerates the vectors chunk by chunk
instead of keeping a million float32 rows. Build time includes generating them (`source_s`).

    python bench/search.py --n 1000000 [--queries 1000] [--nprobe 32] [--during-rebuild] [--json]

Targets at 1,000,000 (issue 17): p95 ≤ 5 ms, recall@10 ≥ 0.95, peak RSS ≤ 1 GB. `--during-rebuild` then
rebuilds the index in the background (as crossing the threshold or retraining does) and times the
same queries while it runs.

Full mode (`--full --n 100000`) writes N items (synthetic bilingual text, random unit vectors,
about three items per story) through the real store, then times `search_stories` — query embedding
with the real model, FAISS, FTS5, fusion, story loading — over English and Chinese questions.
Target: whole query p95 ≤ 30 ms at 100k items (issue 17). Past the threshold the index switches
to IVF-SQ8 by itself while the items are written (the live path, rebuilds included); recall is
not reported then, as random vectors have no neighbours to recall.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import faiss
import numpy as np

from bot.core.config import IndexConfig, Settings, load_settings, resolve_paths
from bot.core.errors import BotError
from bot.core.models import Item
from bot.ingest.embed import UseEmbedder, make_embedder
from bot.ingest.pipeline import open_pipeline
from bot.query.search import VECTOR_POOL, search_stories
from bot.storage import Labels, NewItem
from bot.storage.index import VectorIndex

CHUNK = 10_000  # synthetic items generated at a time: 20 MB of float32 at dim 512, as the store reads them
AREAS = 64
ITEMS_PER_TOPIC = 200
WARM_UP = 20
STORIES = 10

QUESTIONS = (
    "new world models that generate playable games",
    "who joined OpenAI recently?",
    "auto-bidding with diffusion models",
    "long-context language models",
    "video generation models like Sora",
    "谁最近加入了 OpenAI？",
    "广告自动出价 扩散模型",
    "世界模型 自动驾驶",
    "开源大模型 推理成本",
    "Stable Diffusion 系列新模型",
    "what did Orion-3 announce about video generation?",  # names ~1% of the synthetic items match
    "Vega-7 发布了什么新模型？",
)
WORDS_EN = [
    "model",
    "language",
    "agent",
    "robot",
    "video",
    "image",
    "training",
    "inference",
    "benchmark",
    "open",
    "release",
    "lab",
    "research",
    "reasoning",
    "context",
    "token",
    "chip",
    "compute",
    "bidding",
    "auction",
    "budget",
    "policy",
    "safety",
    "world",
    "simulation",
    "game",
]
WORDS_ZH = [
    "大模型",
    "世界模型",
    "推理",
    "训练",
    "开源",
    "发布",
    "机器人",
    "视频",
    "生成",
    "芯片",
    "算力",
    "出价",
    "广告",
    "预算",
    "对齐",
    "安全",
    "智能体",
]
NAMES = [
    "Orion",
    "Vega",
    "Atlas",
    "Nova",
    "Helix",
    "Quanta",
    "Lumen",
    "Kestrel",
    "Arcadia",
    "Talon",
    "Nimbus",
    "Cirrus",
]


def synthetic_item(rng: random.Random, index: int, start: datetime) -> Item:
    chinese = rng.random() < 0.45
    name = f"{rng.choice(NAMES)}-{rng.randint(1, 9)}"
    words = [rng.choice(WORDS_ZH if chinese else WORDS_EN) for _ in range(rng.randint(8, 14))]
    joiner = "" if chinese else " "
    title = f"{name} {joiner.join(words[:6])}"
    text = joiner.join(words) * 3
    published = start + timedelta(minutes=index * 5)
    return Item(
        source=f"outlet{index % 40}",
        guid=f"g{index}",
        url=f"https://news.example/{index}",
        title=title,
        text=text,
        lang="zh" if chinese else "en",
        published=published,
        fetched_at=published,
        content_hash=f"{index:032x}",
    )


def settings() -> Settings:
    """The shipped config (its themes drive the query-theme prior), or defaults outside the repo."""
    try:
        return load_settings()
    except BotError:
        return Settings()


def build_store(n: int, dim: int, directory: str, embedder: UseEmbedder) -> float:
    """Write n synthetic items (≈3 per story) through the store; returns seconds."""
    rng = random.Random(7)
    vectors_rng = np.random.default_rng(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    pipeline, _ = open_pipeline(settings(), resolve_paths(directory), embedder=embedder)
    began = time.perf_counter()
    batch = 5000
    for offset in range(0, n, batch):
        count = min(batch, n - offset)
        vectors = vectors_rng.standard_normal((count, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        new = [
            NewItem(synthetic_item(rng, offset + i, start), vectors[i], story=-(1 + i // 3), labels=Labels())
            for i in range(count)
        ]
        ids = pipeline.store.write_batch(new, [], embedder.name).items
        pipeline.index.add(np.asarray(ids, dtype=np.int64), vectors)
    pipeline.index.wait_for_rebuild()  # past the threshold the index rebuilds itself as it grows
    if pipeline.index.rebuild_if_due():  # the last batches may have made one more due: the store is served
        pipeline.index.wait_for_rebuild()  # in the structure its size calls for, not rebuilt while being timed
    pipeline.save_index()
    pipeline.store.close()
    return time.perf_counter() - began


def measure(directory: str, embedder: UseEmbedder, queries: int) -> tuple[list[float], list[float], str]:
    pipeline, _ = open_pipeline(settings(), resolve_paths(directory), embedder=embedder)
    pipeline.index.wait_for_rebuild()  # time the structure the size calls for, not the one being replaced
    for question in QUESTIONS:  # warm caches and the model
        search_stories(pipeline, question)
    whole, after_embedding = [], []
    for number in range(queries):
        question = QUESTIONS[number % len(QUESTIONS)]
        started = time.perf_counter()
        embedder.encode([question])
        embedded = time.perf_counter()
        search_stories(pipeline, question)
        finished = time.perf_counter()
        embed_ms = (embedded - started) * 1000
        total_ms = (finished - embedded) * 1000  # search_stories embeds again: this is the whole query
        whole.append(total_ms)
        after_embedding.append(max(total_ms - embed_ms, 0.0))
    pipeline.store.close()
    return whole, after_embedding, pipeline.index.structure


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100))


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def towards(parents: np.ndarray, cosine: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector per parent at exactly `cosine` from it, in a random orthogonal direction."""
    noise = rng.standard_normal(parents.shape).astype(np.float32)
    noise = unit(noise - (noise * parents).sum(axis=1, keepdims=True) * parents)
    cosine = np.broadcast_to(np.asarray(cosine, dtype=np.float32), (len(parents),)).reshape(-1, 1)
    return unit(cosine * parents + np.sqrt(1 - cosine**2) * noise)


class ClusteredNews:
    """N synthetic news vectors (see the module docstring), regenerated chunk by chunk from seeds."""

    def __init__(self, n: int, dim: int, seed: int = 7) -> None:
        self.n, self.dim, self.seed = n, dim, seed
        rng = np.random.default_rng([seed, 0])
        common = unit(rng.standard_normal((1, dim)))
        areas = towards(np.repeat(common, AREAS, axis=0), 0.4, rng)
        count = max(50, n // ITEMS_PER_TOPIC)
        self.topics = towards(areas[rng.integers(0, AREAS, count)], rng.uniform(0.4, 0.6, count), rng)
        self.chunk_count = -(-n // CHUNK)

    def stories(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """For chunk `number`: each row's story (global id), and the centre of each of its stories."""
        rng = np.random.default_rng([self.seed, 1, number])
        rows = min(CHUNK, self.n - number * CHUNK)
        local = np.repeat(np.arange(rows), rng.integers(1, 6, rows))[:rows]  # stories of 1-5 items
        count = int(local[-1]) + 1
        topics = self.topics[rng.integers(0, len(self.topics), count)]
        return number * CHUNK + local, towards(topics, rng.uniform(0.4, 0.7, count), rng)

    def chunk(self, number: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(item ids, vectors, story ids) of chunk `number`; item ids count from 1 like the store's."""
        stories, centres = self.stories(number)
        rng = np.random.default_rng([self.seed, 2, number])
        local = stories - number * CHUNK
        vectors = towards(centres[local], rng.uniform(0.75, 0.97, len(local)), rng)
        ids = np.arange(number * CHUNK + 1, number * CHUNK + len(local) + 1, dtype=np.int64)
        return ids, vectors, stories

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """What the index is built from (a VectorSource): `store.iter_vectors` in the bot."""
        for number in range(self.chunk_count):
            ids, vectors, _ = self.chunk(number)
            yield ids, vectors

    def fetch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of `ids`, from the chunks that hold them (`store.vectors_of` in the bot)."""
        found = [self.chunk(int(number)) for number in np.unique((ids - 1) // CHUNK)]
        every = np.concatenate([chunk_ids for chunk_ids, _, _ in found]) if found else np.empty(0, np.int64)
        held = np.isin(every, ids)
        vectors = np.concatenate([vectors for _, vectors, _ in found]) if found else np.empty((0, self.dim))
        return every[held], vectors[held]

    def queries(self, count: int) -> np.ndarray:
        """Held-out items: one more item of stories spread over every chunk, never indexed."""
        per_chunk = -(-count // self.chunk_count)
        found = []
        for number in range(self.chunk_count):
            _, centres = self.stories(number)
            rng = np.random.default_rng([self.seed, 3, number])
            picked = centres[rng.choice(len(centres), min(per_chunk, len(centres)), replace=False)]
            found.append(towards(picked, rng.uniform(0.75, 0.97, len(picked)), rng))
        return np.concatenate(found)[:count]


class TimedSource:
    """Wraps the synthetic source to tell how much of the build time was spent generating vectors."""

    def __init__(self, news: ClusteredNews) -> None:
        self.news = news
        self.seconds = 0.0

    def fetch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.news.fetch(ids)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        chunks = self.news.chunks()
        while True:
            started = time.perf_counter()
            chunk = next(chunks, None)
            self.seconds += time.perf_counter() - started
            if chunk is None:
                return
            yield chunk


def exact_neighbours(news: ClusteredNews, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k item ids per query, and every item's story: an exact FAISS scan (flat, float32) of
    each chunk in turn, merged, so the ground truth holds one chunk and k rows per query, never all vectors
    nor a queries × chunk matrix beside the index being measured."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    story_of = np.full(news.n + 1, -1, dtype=np.int64)
    for number in range(news.chunk_count):
        ids, vectors, stories = news.chunk(number)
        story_of[ids] = stories
        exact = faiss.IndexFlatIP(news.dim)
        exact.add(vectors)
        scores, rows = exact.search(queries, min(k, len(ids)))
        scores = np.concatenate([best_scores, scores], axis=1)
        candidates = np.concatenate([best_ids, np.where(rows >= 0, ids[rows], -1)], axis=1)
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_ids = np.take_along_axis(candidates, keep, axis=1)
    order = np.argsort(-best_scores, axis=1)
    return np.take_along_axis(best_ids, order, axis=1), story_of


def top_stories(item_ids: np.ndarray, story_of: np.ndarray, k: int) -> np.ndarray:
    """The first k distinct stories of a ranked item list: a story ranks where its best item does."""
    stories = story_of[item_ids[item_ids >= 0]]
    _, first = np.unique(stories, return_index=True)
    return stories[np.sort(first)[:k]]


def story_search(index: VectorIndex, query: np.ndarray, story_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What is timed: the index's item pool for one query, collapsed to the top stories."""
    _, found = index.search(query, VECTOR_POOL)
    return found[0], top_stories(found[0], story_of, STORIES)


def time_queries(
    index: VectorIndex, queries: np.ndarray, story_of: np.ndarray
) -> tuple[list[float], list[np.ndarray], list[np.ndarray]]:
    for query in queries[:WARM_UP]:
        story_search(index, query, story_of)
    latencies, items, stories = [], [], []
    for query in queries:
        started = time.perf_counter()
        found, ranked = story_search(index, query, story_of)
        latencies.append((time.perf_counter() - started) * 1000)
        items.append(found)
        stories.append(ranked)
    return latencies, items, stories


def overlap(found: list[np.ndarray], truth: list[np.ndarray] | np.ndarray, k: int) -> float:
    return float(
        np.mean(
            [len(set(row[:k].tolist()) & set(want[:k].tolist())) / k for row, want in zip(found, truth, strict=True)]
        )
    )


def run_index(args: argparse.Namespace, config: IndexConfig, dim: int) -> dict[str, object]:
    news = ClusteredNews(args.n, dim)
    source = TimedSource(news)
    started = time.perf_counter()
    index = VectorIndex.build(dim, "synthetic", source, np.arange(1, args.n + 1, dtype=np.int64), config)
    build_s = time.perf_counter() - started
    rss_after_build = peak_rss_mb()
    queries = news.queries(args.queries)
    truth, story_of = exact_neighbours(news, queries, VECTOR_POOL)
    true_stories = [top_stories(row, story_of, STORIES) for row in truth]
    faiss.omp_set_num_threads(1)  # one query, one core: the bot answers one question at a time
    latencies, items, stories = time_queries(index, queries, story_of)
    result: dict[str, object] = {
        "n": args.n,
        "dim": dim,
        "index": index.structure,
        "nprobe": config.nprobe,
        "build_s": round(build_s, 1),
        "source_s": round(source.seconds, 1),
        "peak_rss_mb_after_build": rss_after_build,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "recall@10": round(overlap(items, truth, 10), 4),
        "story_recall@10": round(overlap(stories, true_stories, STORIES), 4),
    }
    result["peak_rss_mb"] = peak_rss_mb()
    if args.during_rebuild:
        result |= during_rebuild(index, queries, story_of)
    return result


def during_rebuild(index: VectorIndex, queries: np.ndarray, story_of: np.ndarray) -> dict[str, object]:
    """Rebuild in the background (a retrain at the same size) and keep querying until it has swapped in."""
    started = time.perf_counter()
    if not index.rebuild():
        raise SystemExit("the index could not start a rebuild")
    latencies: list[float] = []
    while index.rebuilding:
        query = queries[len(latencies) % len(queries)]
        began = time.perf_counter()
        story_search(index, query, story_of)
        latencies.append((time.perf_counter() - began) * 1000)
    return {
        "rebuild_s": round(time.perf_counter() - started, 1),
        "queries_during_rebuild": len(latencies),
        "p95_ms_during_rebuild": round(percentile(latencies, 0.95), 2) if latencies else None,
        "index_after_rebuild": index.structure,
        "peak_rss_mb_with_rebuild": peak_rss_mb(),  # old and new structure held at once, as a live rebuild does
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_full(args: argparse.Namespace) -> dict[str, object]:
    embedder = UseEmbedder(threads=args.threads)
    with tempfile.TemporaryDirectory() as directory:
        build_s = build_store(args.n, embedder.dim, directory, embedder)
        whole, after, structure = measure(directory, embedder, args.queries)
    return {
        "n": args.n,
        "dim": embedder.dim,
        "index": structure,
        "build_s": round(build_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "p50_ms": round(statistics.median(whole), 2),
        "p95_ms": round(percentile(whole, 0.95), 2),
        "p95_ms_after_embedding": round(percentile(after, 0.95), 2),
        "recall@10": 1.0 if structure == "flat" else None,  # exact search, or not measured on random vectors
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="items (default 1,000,000; 100,000 with --full)")
    parser.add_argument("--queries", type=int, help="timed queries (default 1000; 200 with --full)")
    parser.add_argument("--nprobe", type=int, help="IVF lists scanned per query (default: the config's)")
    parser.add_argument("--exact-below", type=int, help="the flat/IVF threshold (default: the config's)")
    parser.add_argument("--during-rebuild", action="store_true", help="also time queries during a rebuild")
    parser.add_argument("--full", action="store_true", help="the whole search path through the real store")
    parser.add_argument("--threads", type=int, default=1, help="embedder threads (--full)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.full:
        args.n, args.queries = args.n or 100_000, args.queries or 200
        result = run_full(args)
        target = "target: whole-query p95 <= 30 ms at 100k items"
    else:
        args.n, args.queries = args.n or 1_000_000, args.queries or 1000
        shipped = settings()
        overrides = {"nprobe": args.nprobe, "exact_below": args.exact_below}
        config = shipped.index.model_copy(update={key: value for key, value in overrides.items() if value is not None})
        result = run_index(args, config, make_embedder(shipped.embedding).dim)
        target = "targets at 1,000,000: p95 <= 5 ms, recall@10 >= 0.95, peak RSS <= 1024 MB"
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<24} {value}")
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
