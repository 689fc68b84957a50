"""Fit the /follow thresholds on labeled (topic, story) pairs and judge them on a period left out.

A follow matches a story when the cosine between the follow's words and the story's closest item reaches
a threshold (`bot.deliver.digest.follow_matches`). Two thresholds use that score: the digest's
(`FOLLOW_THRESHOLD`: a matched story joins the digest, whatever its theme) and the breaking alert's
(`alerts.follow_similarity`: the story is pushed at once). The labeled sets' queries stand in for
follows and their stories for what arrives: every (query, story) pair of a set is one example,
positive when the story is among the query's `relevant_stories`. Each threshold is chosen on the
fit sets only, on a 0.01 grid, maximizing F-beta — beta 1 for the digest, 0.5 for alerts (a push
that was not wanted costs more than a miss the digest still shows) — and then reported on the
held-out set. The shipped constants are what this prints (a test recomputes them).

Usage: python tools/calibrate_follow.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
FIT_SETS = ("eval-2020-21", "eval-2022")  # older periods: the thresholds are fitted here
HELD_OUT = "eval"  # 2023–2024: judged here, never fitted on
Encode = Callable[[Sequence[str]], np.ndarray]  # texts → unit vectors, as the bot's embedder gives them
GRID = np.round(np.arange(0.30, 0.951, 0.01), 2)
DIGEST_BETA = 1.0
ALERT_BETA = 0.5


@dataclass(frozen=True, slots=True)
class Pairs:
    """Follow-to-story scores (best item of the story) and whether the story answers the query."""

    scores: np.ndarray
    labels: np.ndarray

    @staticmethod
    def join(parts: Iterable[Pairs]) -> Pairs:
        parts = list(parts)
        return Pairs(np.concatenate([p.scores for p in parts]), np.concatenate([p.labels for p in parts]))


@dataclass(frozen=True, slots=True)
class Quality:
    threshold: float
    precision: float
    recall: float
    f_beta: float


def labeled_pairs(folder: Path, encode: Encode) -> Pairs:
    """Every (query, story) pair of one labeled set, scored as `follow_matches` scores a follow."""
    items = _jsonl(folder / "items.jsonl")
    queries = _jsonl(folder / "queries.jsonl")
    stories = sorted({item["story"] for item in items})
    item_vectors = encode([f"{item['title']}\n{item.get('summary', '')[:600]}" for item in items])
    query_vectors = encode([query["query"] for query in queries])
    similarity = query_vectors @ item_vectors.T  # (queries, items)
    story_of = np.array([stories.index(item["story"]) for item in items])
    best = np.full((len(queries), len(stories)), -1.0, dtype=np.float32)
    for column, story in enumerate(story_of):
        best[:, story] = np.maximum(best[:, story], similarity[:, column])
    labels = np.zeros_like(best, dtype=bool)
    for row, query in enumerate(queries):
        for story in query["relevant_stories"]:
            if story in stories:
                labels[row, stories.index(story)] = True
    return Pairs(best.ravel(), labels.ravel())


def quality(pairs: Pairs, threshold: float, beta: float) -> Quality:
    predicted = pairs.scores >= threshold
    hits = int((predicted & pairs.labels).sum())
    precision = hits / int(predicted.sum()) if predicted.any() else 1.0
    recall = hits / int(pairs.labels.sum()) if pairs.labels.any() else 1.0
    weight = beta * beta
    denominator = weight * precision + recall
    f_beta = (1 + weight) * precision * recall / denominator if denominator else 0.0
    return Quality(float(threshold), precision, recall, f_beta)


def fit_threshold(pairs: Pairs, beta: float, grid: Sequence[float] = tuple(GRID)) -> Quality:
    """The grid threshold with the best F-beta on `pairs`; on a tie the higher one (fewer unwanted matches)."""
    return max((quality(pairs, float(t), beta) for t in grid), key=lambda q: (round(q.f_beta, 9), q.threshold))


def calibrate(shared: Path, encode: Encode) -> dict[str, dict[str, Quality]]:
    """For the digest and the alert: the threshold fitted on FIT_SETS, its quality there and on HELD_OUT."""
    fit = Pairs.join(labeled_pairs(shared / name, encode) for name in FIT_SETS)
    held = labeled_pairs(shared / HELD_OUT, encode)
    result = {}
    for use, beta in (("digest", DIGEST_BETA), ("alert", ALERT_BETA)):
        chosen = fit_threshold(fit, beta)
        result[use] = {"fit": chosen, "held_out": quality(held, chosen.threshold, beta)}
    return result


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", default=str(REPO_ROOT.parent / "shared"), help="folder holding the eval sets")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    from bot.ingest.embed import UseEmbedder

    result = calibrate(Path(args.shared), UseEmbedder(threads=1).encode)
    print(f"fit on {', '.join(FIT_SETS)}; judged on {HELD_OUT} (left out)")
    for use, parts in result.items():
        for where, q in parts.items():
            print(
                f"{use:6} {where:8} threshold {q.threshold:.2f}  precision {q.precision:.3f}"
                f"  recall {q.recall:.3f}  F{DIGEST_BETA if use == 'digest' else ALERT_BETA:g} {q.f_beta:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
