"""Topic clustering at scale: synthetic stories in the window, the full recompute and the daily incremental path.

Builds N stories spread over 15 days: clustered 512-D unit vectors (topic centres plus noise, so
members sit near cosine 0.8 to their centre and 0.65 to each other, like one subject's headlines
under the multilingual model), a fifth of them loose (random directions), topic sizes from a
heavy-tailed distribution, themes in the proportions of a real stream, and bilingual synthetic
headlines carrying each topic's words and model name. Then, each in a forked child so that its
memory is its own:

- full: `recompute_topics` over the 14 days before the last day (what the weekly run does);
- daily: the last day's stories arrive; `assign_new` and `relabel` from that state (what the daily
  run does), with the JSON round trip of the state the store keeps between runs;
- with --store, both again through `refresh_topics` on a real SQLite store, reads included.

    python bench/topics.py --n 100000 [--json]

Targets: full recompute < 30 s and the daily path < 2 s at 100k stories in the window (issue 8).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.models import Item
from bot.insight.topics import (
    TopicState,
    assign_new,
    placeable,
    recompute_topics,
    refresh_topics,
    relabel,
    stale_labels,
    state_from_json,
    state_to_json,
)
from bot.storage import Labels, NewItem, Store, StorySummary

DIM = 512
DAYS = 15
LOOSE_SHARE = 0.2
NOISE_SIGMA = 0.033  # per dimension: cosine to the centre ≈ 1 / sqrt(1 + 512σ²) ≈ 0.8
THEMES = {"llm": 0.35, "multimodal": 0.15, "world_models": 0.05, "bidding": 0.05, "people_moves": 0.1, "other": 0.3}
TARGETS = {"full": 30.0, "daily": 2.0}
NOW = datetime(2025, 6, 15, tzinfo=UTC)
MODEL = "bench-synthetic"
STORE_BATCH = 2000
EN_WORDS = tuple(
    " ".join(
        (
            "agent robot video image training inference benchmark open release reasoning context memory speech",
            "audio vision policy auction budget bidding world simulator driving chip cluster dataset safety",
            "alignment coding math search retrieval planning diffusion transformer token latency pricing funding",
        )
    ).split(" ")
)
ZH_CHARS = (
    "模型训练推理视频图像语音智能体机器人世界模拟自动驾驶芯片算力数据"
    "安全对齐代码数学搜索检索规划扩散广告出价预算拍卖开源融资监管"
)


def build(n: int, seed: int = 0) -> tuple[list[StorySummary], dict[int, np.ndarray], dict[int, int]]:
    """N synthetic stories, their vectors (one row each) and their true topics (-1: loose)."""
    rng = np.random.default_rng(seed)
    random.seed(seed)
    loose = int(n * LOOSE_SHARE)
    sizes = _topic_sizes(n - loose, rng)
    centres = _unit(rng.standard_normal((len(sizes), DIM)).astype(np.float32))
    topic_of = np.concatenate([np.repeat(np.arange(len(sizes)), sizes), np.full(loose, -1)])
    rng.shuffle(topic_of)
    vectors = np.where(
        (topic_of >= 0)[:, None],
        centres[np.maximum(topic_of, 0)] + rng.normal(0, NOISE_SIGMA, (n, DIM)).astype(np.float32),
        rng.standard_normal((n, DIM)).astype(np.float32),
    )
    vectors = _unit(vectors)
    theme_names = list(THEMES)
    topic_theme = rng.choice(len(theme_names), size=len(sizes), p=list(THEMES.values()))
    loose_theme = rng.choice(len(theme_names), size=n, p=list(THEMES.values()))
    words = [_topic_words(topic) for topic in range(len(sizes))]
    offsets = rng.uniform(0, DAYS * 86400, n)
    stories = []
    for row in range(n):
        topic = int(topic_of[row])
        theme = theme_names[topic_theme[topic] if topic >= 0 else loose_theme[row]]
        published = NOW - timedelta(seconds=float(offsets[row]))
        en, zh = _titles(words[topic] if topic >= 0 else _topic_words(n + row), rng)
        stories.append(_story(row + 1, theme, published, en, zh))
    truth = {row + 1: int(topic_of[row]) for row in range(n)}
    return stories, {row + 1: vectors[row] for row in range(n)}, truth


def _topic_sizes(clustered: int, rng: np.random.Generator) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < clustered:
        sizes.append(int(min(3 + rng.pareto(1.5) * 6, 400)))
    sizes[-1] -= sum(sizes) - clustered
    return [size for size in sizes if size > 0]


def _topic_words(seed: int) -> tuple[list[str], str, list[str]]:
    local = random.Random(seed)
    name = f"{local.choice(string.ascii_uppercase)}{local.choice(EN_WORDS).title()}-{local.randint(1, 9)}"
    zh = ["".join(local.choice(ZH_CHARS) for _ in range(2)) for _ in range(2)]
    return local.sample(EN_WORDS, 2), name, zh


def _titles(words: tuple[list[str], str, list[str]], rng: np.random.Generator) -> tuple[str, str]:
    en_words, name, zh_words = words
    filler = " ".join(random.sample(EN_WORDS, 3))
    en = f"{name} brings {en_words[0]} {en_words[1]} to {filler}"
    zh = name + "".join(zh_words) + "".join(random.choice(ZH_CHARS) for _ in range(8))
    kind = rng.random()
    return (en, "") if kind < 0.5 else ("", zh) if kind < 0.8 else (en, zh)


def _story(story_id: int, theme: str, published: datetime, en: str, zh: str) -> StorySummary:
    langs = tuple(lang for lang, title in (("en", en), ("zh", zh)) if title)
    return StorySummary(
        id=story_id,
        items=len(langs),
        outlets=len(langs),
        langs=langs,
        title=en or zh,
        title_en=en,
        title_zh=zh,
        primary_theme=theme,
        themes=(theme,),
        first_published=published,
        last_published=published,
    )


def _unit(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `work` in a forked child; its result plus its peak RSS and what the work added to it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        before = _rss_mb()
        result = work()
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["added_rss_mb"] = round(result["peak_rss_mb"] - before, 1)
        with os.fdopen(write_end, "w") as pipe:
            json.dump(result, pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def full_phase(
    stories: list[StorySummary], vectors: dict[int, np.ndarray], truth: dict[int, int], now: datetime
) -> dict[str, Any]:
    started = time.perf_counter()
    state = recompute_topics(stories, vectors, now)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), **_summary(state, truth), "state": state_to_json(state)}


def daily_phase(
    state_json: str, stories: list[StorySummary], vectors: dict[int, np.ndarray], truth: dict[int, int], now: datetime
) -> dict[str, Any]:
    """What `refresh_topics` does on a daily run, minus the SQLite reads (see --store for those)."""
    by_id = {story.id: story for story in stories}
    changed = [story for story in stories if now - timedelta(days=1) <= story.first_published < now]  # the store's
    started = time.perf_counter()
    state = state_from_json(state_json)
    loaded = time.perf_counter()
    needed = {i: vectors[i] for i in placeable(state, changed, now)}
    advanced = assign_new(state, changed, needed, now)
    advanced = relabel(advanced, {i: by_id[i] for i in stale_labels(advanced)})
    assigned = time.perf_counter()
    text = state_to_json(advanced)
    saved = time.perf_counter()
    return {
        "seconds": round(saved - started, 2),
        "assign_seconds": round(assigned - loaded, 2),
        "state_load_seconds": round(loaded - started, 2),
        "state_save_seconds": round(saved - assigned, 2),
        "state_mb": round(len(text.encode()) / 2**20, 1),
        "vectors_read": len(needed),
        **_summary(advanced, truth),
    }


def build_store(directory: Path, stories: list[StorySummary], vectors: dict[int, np.ndarray]) -> float:
    """Write the stories into a real store (one item per headline, themes set); returns seconds."""
    started = time.perf_counter()
    store = Store.open(directory / "bot.db")
    try:
        for offset in range(0, len(stories), STORE_BATCH):
            chunk = stories[offset : offset + STORE_BATCH]
            new, labels = [], {}
            for number, story in enumerate(chunk, start=1):
                labels[-number] = Labels(themes={"primary": story.primary_theme, "labels": [story.primary_theme]})
                for lang, title in (("en", story.title_en), ("zh", story.title_zh)):
                    if title:
                        new.append(NewItem(_item(story, lang, title), vectors[story.id], -number, labels[-number]))
            written = store.write_batch(new, [], MODEL, labels)
            assert written.stories == {-number: story.id for number, story in enumerate(chunk, start=1)}
    finally:
        store.close()
    return time.perf_counter() - started


def _item(story: StorySummary, lang: str, title: str) -> Item:
    return Item(
        source=f"outlet{story.id % 40}-{lang}",
        guid=f"{story.id}-{lang}",
        url=f"https://news.example/{story.id}/{lang}",
        title=title,
        text=title,
        lang=lang,
        published=story.first_published,
        fetched_at=story.first_published,
        content_hash=f"{story.id:030x}{lang}",
    )


def store_phase(db: Path, truth: dict[int, int], now: datetime) -> dict[str, Any]:
    """`refresh_topics` on the real store: the SQLite reads, the work and the state written back."""
    store = Store.open(db)
    try:
        started = time.perf_counter()
        state = refresh_topics(store, MODEL, DIM, now)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {"seconds": round(seconds, 2), "incremental": state.recomputed_at < now, **_summary(state, truth)}


def _summary(state: TopicState, truth: dict[int, int]) -> dict[str, Any]:
    """Counts, and agreement with the true topics: purity (a found topic's share of its main true topic) and
    coverage (the share of the stories of true topics of 3 or more that land in some topic)."""
    topics = [topic for theme in state.topics.values() for topic in theme]
    clustered = sum(len(topic.story_ids) for topic in topics)
    majority = sum(Counter(truth[i] for i in topic.story_ids).most_common(1)[0][1] for topic in topics)
    in_true = [i for topics_ in state.topics.values() for topic in topics_ for i in topic.story_ids if truth[i] >= 0]
    window = set(in_true) | {i for ids in state.unassigned.values() for i in ids}
    true_sizes = Counter(truth[i] for i in window if truth[i] >= 0)
    big_true = {topic for topic, size in true_sizes.items() if size >= 3}
    return {
        "topics": len(topics),
        "true_topics": len(big_true),
        "clustered_stories": clustered,
        "unassigned": sum(len(ids) for ids in state.unassigned.values()),
        "emerging": sum(topic.emerging for topic in topics),
        "purity": round(majority / max(clustered, 1), 3),
        "coverage": round(len(in_true) / max(sum(true_sizes[t] for t in big_true), 1), 3),
    }


PHASES = (  # key, title, target
    ("full", "full recompute", TARGETS["full"]),
    ("daily", "daily increment", TARGETS["daily"]),
    ("store_full", "full via store", TARGETS["full"]),
    ("store_daily", "daily via store", TARGETS["daily"]),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="stories in the 14-day window (default 10000)")
    parser.add_argument("--store", action="store_true", help="also through refresh_topics on a real SQLite store")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    stories, vectors, truth = build(args.n * DAYS // 14)
    yesterday = NOW - timedelta(days=1)
    result: dict[str, Any] = {
        "n_window": args.n,
        "new_today": sum(1 for story in stories if story.first_published >= yesterday),
        "full": in_child(lambda: full_phase(stories, vectors, truth, yesterday)),
    }
    state_json = result["full"].pop("state")
    result["daily"] = in_child(lambda: daily_phase(state_json, stories, vectors, truth, NOW))
    if args.store:
        with tempfile.TemporaryDirectory() as directory:
            result["store_write_seconds"] = round(build_store(Path(directory), stories, vectors), 1)
            db = Path(directory) / "bot.db"
            result["store_full"] = in_child(lambda: store_phase(db, truth, yesterday))
            result["store_daily"] = in_child(lambda: store_phase(db, truth, NOW))
    result["targets_met"] = {key: result[key]["seconds"] < target for key, _, target in PHASES if key in result}
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0 if all(result["targets_met"].values()) else 1


def _print(result: dict[str, Any]) -> None:
    print(f"stories in the window: {result['n_window']} (+{result['new_today']} today)")
    for key, title, target in PHASES:
        if key not in result:
            continue
        figures = result[key]
        met = "met" if result["targets_met"][key] else "NOT met"
        print(
            f"{title:16} {figures['seconds']:6.2f} s   peak RSS {figures['peak_rss_mb']} MB"
            f" (+{figures['added_rss_mb']} MB for the work)   target < {target:.0f} s: {met}"
        )
        print(
            f"{'':16} topics {figures['topics']} (true {figures['true_topics']}), clustered"
            f" {figures['clustered_stories']}, unassigned {figures['unassigned']}, emerging {figures['emerging']},"
            f" purity {figures['purity']}, coverage {figures['coverage']}"
        )
        if key == "store_daily" and not figures["incremental"]:
            print(f"{'':16} (refresh_topics recomputed in full: the saved state was not used)")
        if key == "daily":
            print(
                f"{'':16} of which: assign {figures['assign_seconds']} s, state load {figures['state_load_seconds']}"
                f" s, save {figures['state_save_seconds']} s ({figures['state_mb']} MB JSON);"
                f" vectors read {figures['vectors_read']}"
            )
    if "store_write_seconds" in result:
        print(f"(the store was written in {result['store_write_seconds']} s, not counted)")


if __name__ == "__main__":
    sys.exit(main())
