"""`bot eval --fit` and `--cross`: the data chooses the parameters, a period left out judges them.

Three small fits, each smooth and regularized rather than a pile of thresholds:

- dedup: a logistic model of "same event" over the plain pair signals of `bot.ingest.dedup.SIGNALS`
  (balanced classes, L2), fitted by Newton's method on every pair of items within the time
  window; then the join threshold that maximises the pairwise F1 of the greedy assignment the
  pipeline runs, averaged over the training sets (the middle of the best plateau);
- themes: the three numbers of the primary-theme decision (`ThemeParams`) by a grid, maximising
  the mean macro-F1 over the training sets;
- search: the fusion weights of the text, year and theme rankings relative to the vector
  ranking by a grid, maximising the mean of recall@5 and MRR among the weights that do at least
  as well as vectors alone on every training set (vectors alone is always allowed).

Each set is embedded once (the caller passes a `CachedEmbedder`) and its pair signals and theme
signals are computed once per process, so the leave-one-out report refits cheaply. Everything is
deterministic: grids are walked in a fixed order and ties go to the first (or the middle) point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.config import Settings
from bot.eval.evaluate import (
    FALLBACK_THEME,
    THEMES,
    Fitted,
    Gathered,
    LabeledItem,
    evaluate,
    gathered,
    load_items,
    replayed,
    search_scores,
    summarize,
)
from bot.eval.metrics import classification, pairwise
from bot.ingest.dedup import SIGNALS, WINDOW_DAYS, DedupParams, NameStats, Profile, pair_signals, profile
from bot.ingest.embed import Embedder
from bot.ingest.normalize import normalize
from bot.ingest.people import extract_moves
from bot.ingest.pipeline import MOVE_TEXT_CHARS
from bot.ingest.themes import ThemeClassifier, ThemeParams, ThemeSignals
from bot.query.search import VECTOR_ONLY, Weights

L2 = 0.01  # ridge on the pair model's weights (not the bias): few, smooth weights over many sharp ones
THRESHOLDS = np.round(np.arange(-8.0, 8.0001, 0.05), 2)  # log-odds tried for the join threshold
THEME_GRID = {
    "keyword_weight": (0.25, 0.5, 1.0, 1.5),
    "other_margin": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
    "confidence_floor": (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4),
}
SEARCH_GRID = {"text": (0.0, 0.25, 0.5, 1.0), "year": (0.0, 0.5, 1.0), "theme": (0.0, 0.5, 1.0)}


@dataclass(frozen=True, slots=True)
class _Pairs:
    """Every pair of one set's items within the window, in publication order (later, earlier)."""

    signals: np.ndarray  # pairs × SIGNALS
    later: np.ndarray
    earlier: np.ndarray
    same: np.ndarray  # both items in one true story
    stories: list[str]  # true story of each item, publication order


class Fitter:
    """Fits parameters on labeled sets, caching per set what does not depend on the parameters."""

    def __init__(self, settings: Settings, embedder: Embedder, without: frozenset[str] = frozenset()) -> None:
        self.settings = settings
        self.embedder = embedder
        self.without = without  # dedup signals left out of the fit (the ablation on left-out periods)
        self._items: dict[Path, list[LabeledItem]] = {}
        self._pairs: dict[Path, _Pairs] = {}
        self._themes: dict[Path, tuple[ThemeSignals, list[str]] | None] = {}
        self._classifier: ThemeClassifier | None = None

    def fit(self, directories: Sequence[Path]) -> Fitted:
        dedup = self.fit_dedup(directories)
        themes = self.fit_themes(directories)
        search = self.fit_search(directories, dedup, themes)
        return Fitted(dedup, themes, search)

    # -- dedup -----------------------------------------------------------------------------------

    def fit_dedup(self, directories: Sequence[Path]) -> DedupParams:
        sets = [self.pairs(directory) for directory in directories]
        sets = [pairs for pairs in sets if len(pairs.same)]
        if not sets or not any(pairs.same.any() for pairs in sets):
            raise ValueError("no pair of items of one story in the training sets: nothing to fit dedup on")
        used = np.array([name not in self.without for name in SIGNALS])
        features = np.vstack([pairs.signals for pairs in sets]) * used
        same = np.concatenate([pairs.same for pairs in sets])
        weights, bias = _logistic(features, same)
        scores = [pairs.signals @ weights + bias for pairs in sets]
        f1 = np.mean([_greedy_f1(pairs, score) for pairs, score in zip(sets, scores, strict=True)], axis=0)
        best = np.flatnonzero(f1 >= f1.max() - 1e-9)
        threshold = float(THRESHOLDS[best[len(best) // 2]])
        return DedupParams(dict(zip(SIGNALS, map(float, weights), strict=True)), float(bias), threshold)

    def pairs(self, directory: Path) -> _Pairs:
        if directory not in self._pairs:
            self._pairs[directory] = self._pair_signals(self.items(directory))
        return self._pairs[directory]

    def _pair_signals(self, labeled: Sequence[LabeledItem]) -> _Pairs:
        """As the pipeline sees them: publication order, name rarity from the items before."""
        ordered = sorted(((normalize(item.raw), item.story) for item in labeled), key=lambda pair: pair[0].published)
        vectors = self.embedder.encode([item.embed_text for item, _ in ordered])
        cosine = vectors @ vectors.T
        names = NameStats()
        profiles: list[Profile] = []
        rows, later, earlier = [], [], []
        window = WINDOW_DAYS * 86400
        for i, (item, _) in enumerate(ordered):
            mine = profile(i, i, item.published, item.source, item.title, item.text)
            for j, other in enumerate(profiles):
                if abs((item.published - other.published).total_seconds()) <= window:
                    signals = pair_signals(mine, other, float(cosine[i, j]), names.idf)
                    rows.append([signals[name] for name in SIGNALS])
                    later.append(i)
                    earlier.append(j)
            profiles.append(mine)
            names.add([mine.names])
        stories = [story for _, story in ordered]
        same = np.array([stories[i] == stories[j] for i, j in zip(later, earlier, strict=True)], dtype=bool)
        signals = np.asarray(rows, dtype=np.float64).reshape(-1, len(SIGNALS))
        return _Pairs(signals, np.asarray(later, dtype=np.int64), np.asarray(earlier, dtype=np.int64), same, stories)

    # -- themes ----------------------------------------------------------------------------------

    def fit_themes(self, directories: Sequence[Path]) -> ThemeParams:
        sets = [found for found in map(self.theme_signals, directories) if found is not None]
        classifier = self.classifier()
        if not sets or classifier is None:
            return ThemeParams.load()  # nothing to learn from: keep what ships
        best, best_score = None, -1.0
        for values in product(*THEME_GRID.values()):
            params = ThemeParams(**dict(zip(THEME_GRID, values, strict=True)))
            score = np.mean([_macro_f1(classifier, signals, truth, params) for signals, truth in sets])
            if score > best_score + 1e-9:
                best, best_score = params, float(score)
        assert best is not None
        return best

    def classifier(self) -> ThemeClassifier | None:
        if self._classifier is None and self.settings.themes:
            self._classifier = ThemeClassifier(self.settings.themes, self.embedder, ThemeParams(1.0, 0.0, 0.0))
        return self._classifier

    def theme_signals(self, directory: Path) -> tuple[ThemeSignals, list[str]] | None:
        """The theme signals of the set's labeled items and their true primary themes."""
        if directory not in self._themes:
            themed = [item for item in self.items(directory) if item.theme]
            classifier = self.classifier()
            if not themed or classifier is None:
                self._themes[directory] = None
            else:
                items = [normalize(item.raw) for item in themed]
                vectors = self.embedder.encode([item.embed_text for item in items])
                moved = [bool(extract_moves(i.title, i.text[:MOVE_TEXT_CHARS], i.lang)) for i in items]
                signals = classifier.signals(items, vectors, moved)
                self._themes[directory] = (signals, [item.theme or "" for item in themed])
        return self._themes[directory]

    # -- search ----------------------------------------------------------------------------------

    def fit_search(self, directories: Sequence[Path], dedup: DedupParams, themes: ThemeParams) -> Weights:
        """Fusion weights on the sets with questions, replayed under the dedup and themes just fitted."""
        found: list[Gathered] = []
        for directory in directories:
            with replayed(directory, self.settings, self.embedder, Fitted(dedup, themes, VECTOR_ONLY)) as run:
                questions = gathered(run, directory)
            if questions is not None:
                found.append(questions)
        if not found:
            return Weights.load()
        floor = [_search_objective(search_scores(questions, VECTOR_ONLY)) for questions in found]
        best, best_score = VECTOR_ONLY, float(np.mean(floor))
        for values in product(*SEARCH_GRID.values()):
            weights = Weights(vector=1.0, **dict(zip(SEARCH_GRID, values, strict=True)))
            scores = [_search_objective(search_scores(questions, weights)) for questions in found]
            if all(s >= f for s, f in zip(scores, floor, strict=True)) and np.mean(scores) > best_score + 1e-9:
                best, best_score = weights, float(np.mean(scores))  # never below vectors alone on any set
        return best

    def items(self, directory: Path) -> list[LabeledItem]:
        if directory not in self._items:
            self._items[directory] = load_items(directory)
        return self._items[directory]


def cross_report(
    directories: Sequence[Path], settings: Settings, embedder: Embedder, without: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Leave one set out: fit on the others, score it. `worst`/`mean` over the left-out figures.

    A set without questions (eval-real) is scored in full but counts only for themes in `worst`
    and `mean` (see `summarize`).
    """
    if len(directories) < 2:
        raise ValueError("the leave-one-out report needs at least two labeled sets")
    fitter = Fitter(settings, embedder, without)
    report: dict[str, Any] = {}
    for directory in directories:
        others = [other for other in directories if other != directory]
        fitted = fitter.fit(others)
        result = evaluate(directory, settings, embedder, fitted)
        result["fitted_on"] = sorted(other.name for other in others)
        result["params"] = fitted.to_params(result["fitted_on"]).body()
        report[directory.name] = result
    return {**report, **summarize(report)}


def _logistic(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """L2-regularized logistic regression with balanced classes, by Newton's method (deterministic)."""
    positives = labels.sum()
    weight = np.where(labels, 0.5 / positives, 0.5 / (len(labels) - positives))
    design = np.hstack([features, np.ones((len(features), 1))])
    ridge = np.diag([L2] * features.shape[1] + [0.0])
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        probability = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (weight * (probability - labels)) + ridge @ beta
        hessian = design.T @ (design * (weight * probability * (1 - probability))[:, None]) + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def _greedy_f1(pairs: _Pairs, scores: np.ndarray) -> np.ndarray:
    """Pairwise F1 of the pipeline's greedy assignment (each item joins its best earlier item's
    story when the score clears the threshold) for every threshold in `THRESHOLDS`."""
    n = len(pairs.stories)
    best_score = np.full(n, -np.inf)
    best_other = np.zeros(n, dtype=np.int64)
    for later, earlier, score in zip(pairs.later, pairs.earlier, scores, strict=True):
        if score > best_score[later]:
            best_score[later], best_other[later] = score, earlier
    f1 = np.zeros(len(THRESHOLDS))
    for index, threshold in enumerate(THRESHOLDS):
        assigned = list(range(n))
        for i in range(n):
            if best_score[i] >= threshold:
                assigned[i] = assigned[best_other[i]]
        f1[index] = pairwise(pairs.stories, assigned).f1
    return f1


def _macro_f1(classifier: ThemeClassifier, signals: ThemeSignals, truth: list[str], params: ThemeParams) -> float:
    predicted = [scores.primary for scores in classifier.decide(signals, params)]
    return float(classification(truth, predicted, THEMES, fallback=FALLBACK_THEME)["macro_f1"])  # type: ignore[arg-type]


def _search_objective(scores: dict[str, float] | None) -> float:
    return 0.0 if scores is None else (scores["recall@5"] + scores["mrr"]) / 2
