"""Scoring functions for the labeled set, exactly as ../shared/eval/FORMAT.md defines them.

Pure functions of labels and predictions, so they can be checked against hand-computed
cases. Pairwise cluster metrics count pairs per contingency cell (n·(n−1)/2), never by
looping over item pairs: a labeled set may carry thousands of unlabeled distractors.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float
    f1: float


def prf(true_positive: float, predicted: float, actual: float) -> PRF:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(true: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """Precision/recall over item pairs placed in the same cluster."""
    together = sum(_pairs(n) for n in Counter(zip(true, pred, strict=True)).values())
    predicted = sum(_pairs(n) for n in Counter(pred).values())
    actual = sum(_pairs(n) for n in Counter(true).values())
    if not predicted and not actual:
        return PRF(1.0, 1.0, 1.0)
    return prf(together, predicted, actual)


def bcubed(true: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """B-cubed: per item, the share of its predicted cluster that is right, and of its true one found."""
    cell = Counter(zip(true, pred, strict=True))
    true_size, pred_size = Counter(true), Counter(pred)
    precision = sum(n * n / pred_size[p] for (_, p), n in cell.items()) / len(true)
    recall = sum(n * n / true_size[t] for (t, _), n in cell.items()) / len(true)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def classification(
    true: Sequence[str], pred: Sequence[str], labels: Sequence[str], fallback: str = ""
) -> dict[str, object]:
    """Accuracy, macro-F1, per-label F1/precision/recall for single-label predictions.

    Macro-F1 averages over the labels that occur in the truth or the predictions: a set with no
    `bidding` item (a real feed) is not charged a zero for a class it cannot hold. With `fallback`
    (the "none of the above" label), `named_precision` is the share of items predicted as a named
    label that truly have it, and `named_recall` the share of truly named items predicted right — a
    subscriber feels a wrong item in their theme more than a missed one.
    """
    pairs = list(zip(true, pred, strict=True))
    f1, precision, recall = {}, {}, {}
    for label in labels:
        scores = prf(sum(t == p == label for t, p in pairs), pred.count(label), true.count(label))
        f1[label], precision[label], recall[label] = (round(v, 4) for v in (scores.f1, scores.precision, scores.recall))
    present = [label for label in labels if label in true or label in pred]
    accuracy = sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0
    macro = sum(f1[label] for label in present) / len(present) if present else 0.0
    named_pred = [(t, p) for t, p in pairs if p != fallback]
    named_true = [(t, p) for t, p in pairs if t != fallback]
    return {
        "accuracy": accuracy,
        "macro_f1": macro,
        "per_theme": f1,
        "per_theme_precision": precision,
        "per_theme_recall": recall,
        "named_precision": sum(t == p for t, p in named_pred) / len(named_pred) if named_pred else 0.0,
        "named_recall": sum(t == p for t, p in named_true) / len(named_true) if named_true else 0.0,
    }


def multilabel_micro_f1(true: Sequence[set[str]], pred: Sequence[set[str]]) -> float:
    tp = sum(len(t & p) for t, p in zip(true, pred, strict=True))
    return prf(tp, sum(map(len, pred)), sum(map(len, true))).f1


_NAME_PUNCTUATION = re.compile(r"[\s.·\-'’,]+")


class NameCanon:
    """Maps a person or organisation name to one canonical key (FORMAT.md's comparison rule)."""

    def __init__(self, aliases: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> None:
        self._canon: dict[str, str] = {}
        for table in (aliases or {}).values():
            for canonical, others in table.items():
                for name in (canonical, *others):
                    self._canon[self.fold(name)] = self.fold(canonical)

    @staticmethod
    def fold(name: str) -> str:
        return _NAME_PUNCTUATION.sub("", unicodedata.normalize("NFKC", name).lower())

    def __call__(self, name: str) -> str:
        folded = self.fold(name)
        return self._canon.get(folded, folded)


Move = tuple[str, str]  # (person, to-organisation)


def people_moves(gold: Mapping[str, set[Move]], predicted: Mapping[str, set[Move]], canon: NameCanon) -> PRF:
    """Micro P/R/F1 over stories; a prediction matches a gold move by person and `to` (FORMAT.md)."""
    tp = n_pred = n_gold = 0
    for story in set(gold) | set(predicted):
        gold_moves = {(canon(p), canon(t)) for p, t in gold.get(story, set())}
        pred_moves = {(canon(p), canon(t)) for p, t in predicted.get(story, set())}
        n_gold += len(gold_moves)
        n_pred += len(pred_moves)
        tp += _match_moves(gold_moves, pred_moves)
    return prf(tp, n_pred, n_gold)


def _match_moves(gold: set[Move], pred: set[Move]) -> int:
    unused = defaultdict(list)
    for person, to in pred:
        unused[person].append(to)
    matched = 0
    for person, to in sorted(gold):
        for candidate in unused[person]:
            if _same_org(to, candidate):
                unused[person].remove(candidate)
                matched += 1
                break
    return matched


def _same_org(a: str, b: str) -> bool:
    if not a and not b:
        return True
    return bool(a and b and (a in b or b in a))


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant stories in the top k, out of as many as k can hold (6 relevant, k 5: 5 is perfect)."""
    return len(set(ranked[:k]) & relevant) / min(len(relevant), k) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str]) -> float:
    for position, story in enumerate(ranked, start=1):
        if story in relevant:
            return 1.0 / position
    return 0.0
