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


def classification(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, object]:
    """Accuracy, macro-F1 over `labels`, and per-label F1 for single-label predictions."""
    per_label = {}
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(true, pred, strict=True))
        per_label[label] = round(prf(tp, pred.count(label), true.count(label)).f1, 4)
    accuracy = sum(t == p for t, p in zip(true, pred, strict=True)) / len(true) if true else 0.0
    macro = sum(per_label.values()) / len(labels) if labels else 0.0
    return {"accuracy": accuracy, "macro_f1": macro, "per_theme": per_label}


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
