"""`bot eval --fit` and `--cross`: the data chooses the parameters, a period left out judges them.

Three small fits, each smooth and regularized rather than a pile of thresholds:

- dedup: a logistic model of "same event" over the plain pair signals of `bot.ingest.dedup.SIGNALS`
  (balanced classes, L2), fitted by Newton's method on every pair of items within the time
  window plus, as hard negatives, every pair of one outlet's different stories moved to one
  moment (a feed's own posts share its names and its field); then the join threshold that
  maximises the pairwise F1 of the greedy assignment the pipeline runs, averaged over the
  training sets and their volume mixes (each training set with the other training sets' items
  moved into its dates: different events for certain, same field), the middle of the best
  plateau. Labeled periods alone hold almost no same-field different-event pairs; a real stream
  holds thousands, and a threshold fitted without them merges them. The fitted model replaces the
  hand-set score (`DedupParams.prior`) only when its F1 is at least the prior's on every one of
  those training sets and mixes;
- themes: the three numbers of the primary-theme decision (`ThemeParams`) by a grid, maximising
  the mean macro-F1 over the training sets; among the points within `THEME_TOLERANCE` of the best,
  the one that says `other` most readily (highest confidence floor, then margin): labeled periods
  hold few off-topic items, a real feed mostly those, so where the periods cannot tell two points
  apart the fit takes the one that keeps unrelated items out of a theme digest; it replaces the
  hand-set numbers (`ThemeParams.prior`) only when no training set scores lower under it;
- search: the fusion weights of the text, year and theme rankings relative to the vector
  ranking by a grid, maximising the mean of recall@5 and MRR among the weights that do at least
  as well as vectors alone on every training set (vectors alone is always allowed).

Each set is embedded once (the caller passes a `CachedEmbedder`) and its pair signals and theme
signals are computed once per process, so the leave-one-out report refits cheaply. Everything is
deterministic: grids are walked in a fixed order and ties go to the first (or the middle) point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    load_distractors,
    load_items,
    replayed,
    search_scores,
    summarize,
)
from bot.eval.metrics import classification, pairwise
from bot.ingest.dedup import SIGNALS, WINDOW_DAYS, DedupParams, NameStats, Profile, crowding, pair_signals, profile
from bot.ingest.embed import Embedder
from bot.ingest.normalize import normalize
from bot.ingest.people import extract_moves
from bot.ingest.pipeline import MOVE_TEXT_CHARS
from bot.ingest.themes import ThemeClassifier, ThemeParams, ThemeSignals
from bot.query.search import VECTOR_ONLY, Weights

L2 = 0.01  # ridge on the pair model's weights (not the bias): few, smooth weights over many sharp ones
THRESHOLDS = np.round(np.arange(-8.0, 8.0001, 0.05), 2)  # log-odds tried for the join threshold
CROWDING_WEIGHTS = np.round(np.arange(0.0, -2.0001, -0.1), 2)  # the correction's weight, smallest first
CROWDING_THRESHOLD_SHIFTS = np.round(np.arange(-0.5, 0.5001, 0.025), 3)  # its join threshold, around the prior's
THEME_GRID = {
    "keyword_weight": (0.25, 0.5, 1.0, 1.5),
    "other_margin": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
    "confidence_floor": (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4),
}
THEME_TOLERANCE = 0.005  # macro-F1 the periods may give up for the more conservative decision
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
        self._mixed: dict[tuple[Path, ...], _Pairs] = {}
        self._negatives: dict[Path, np.ndarray] = {}
        self._themes: dict[Path, tuple[ThemeSignals, list[str]] | None] = {}
        self._classifier: ThemeClassifier | None = None

    def fit(self, directories: Sequence[Path]) -> Fitted:
        dedup = self.fit_dedup(directories)
        themes = self.fit_themes(directories)
        search = self.fit_search(directories, dedup, themes)
        return Fitted(dedup, themes, search)

    # -- dedup -----------------------------------------------------------------------------------

    def fit_dedup(self, directories: Sequence[Path]) -> DedupParams:
        """Of the fitted pair model and the hand-set score with the crowding correction fitted onto
        it, the one of best mean F1 over the training sets and volume mixes among those no worse
        than the hand-set score on every one of them; else the hand-set score."""
        prior = replace(DedupParams.prior(), disabled=self.without)
        judged = [pairs for pairs in self.judged(directories) if len(pairs.same)]
        floor = [_f1_at(pairs, prior) for pairs in judged]
        chosen, chosen_f1 = prior, float(np.mean(floor))
        for fitted in (self.fit_pair_model(directories), self.fit_crowding(directories)):
            f1 = [_f1_at(pairs, fitted) for pairs in judged]
            if all(mine >= theirs - 1e-9 for mine, theirs in zip(f1, floor, strict=True)) and np.mean(f1) > chosen_f1:
                chosen, chosen_f1 = fitted, float(np.mean(f1))
        return chosen  # nothing worse than the hand-set score ships

    def fit_crowding(self, directories: Sequence[Path]) -> DedupParams:
        """The hand-set score plus a fitted weight on `crowding` and a refitted join threshold: the
        one signal the hand-set score lacks, fitted as a correction to it (two numbers), by the mean
        pairwise F1 of the greedy assignment over the training sets and volume mixes — the mixes are
        what show a crowded archive — among the corrections that score no lower than the hand-set
        score on any of them (no correction at all is one of those). Ties go to the smallest
        correction, then the middle of the threshold plateau."""
        prior = replace(DedupParams.prior(), disabled=self.without)
        judged = [pairs for pairs in self.judged(directories) if len(pairs.same)]
        if "crowding" in self.without or not judged:
            return prior
        floor = np.array([_f1_at(pairs, prior) for pairs in judged])[:, None]
        base = np.array([prior.weight(name) for name in SIGNALS])
        column = SIGNALS.index("crowding")
        thresholds = np.round(prior.threshold + CROWDING_THRESHOLD_SHIFTS, 3)
        best: tuple[float, float, float] | None = None  # (F1, weight, threshold)
        for weight in CROWDING_WEIGHTS:
            f1 = np.array(
                [
                    _greedy_f1(pairs, pairs.signals @ base + prior.bias + weight * pairs.signals[:, column], thresholds)
                    for pairs in judged
                ]
            )
            mean = np.where((f1 >= floor - 1e-9).all(axis=0), f1.mean(axis=0), -np.inf)
            plateau = np.flatnonzero(mean >= mean.max() - 1e-9)
            if np.isfinite(mean.max()) and (best is None or mean.max() > best[0] + 1e-9):
                best = (float(mean.max()), float(weight), float(thresholds[plateau[len(plateau) // 2]]))
        assert best is not None, "no correction at the hand-set threshold is always allowed"
        _, weight, threshold = best
        return replace(prior, weights={**prior.weights, "crowding": weight}, threshold=threshold)

    def judged(self, directories: Sequence[Path]) -> list[_Pairs]:
        """What the join threshold and the choice of model are judged on: each training set, and
        each at volume (with the other training sets moved into its dates)."""
        mixes = [self.mixed(directory, directories) for directory in directories if len(directories) > 1]
        return [self.pairs(directory) for directory in directories] + mixes

    def fit_pair_model(self, directories: Sequence[Path]) -> DedupParams:
        """The logistic pair model and its join threshold (see the module's docstring)."""
        sets = [self.pairs(directory) for directory in directories]
        sets = [pairs for pairs in sets if len(pairs.same)]
        if not sets or not any(pairs.same.any() for pairs in sets):
            raise ValueError("no pair of items of one story in the training sets: nothing to fit dedup on")
        used = np.array([name not in self.without for name in SIGNALS])
        negatives = np.vstack([self.outlet_negatives(directory) for directory in directories])
        features = np.vstack([pairs.signals for pairs in sets] + [negatives]) * used
        same = np.concatenate([pairs.same for pairs in sets] + [np.zeros(len(negatives), dtype=bool)])
        weights, bias = _logistic(features, same)
        judged = [pairs for pairs in self.judged(directories) if len(pairs.same)]
        f1 = np.mean([_greedy_f1(pairs, pairs.signals @ weights + bias) for pairs in judged], axis=0)
        best = np.flatnonzero(f1 >= f1.max() - 1e-9)
        threshold = float(THRESHOLDS[best[len(best) // 2]])
        return DedupParams(dict(zip(SIGNALS, map(float, weights), strict=True)), float(bias), threshold)

    def pairs(self, directory: Path) -> _Pairs:
        if directory not in self._pairs:
            self._pairs[directory] = self._pair_signals(self.items(directory))
        return self._pairs[directory]

    def mixed(self, directory: Path, directories: Sequence[Path]) -> _Pairs:
        """The set in `directory` at volume: with the items of the other training sets moved into its
        dates (an affine map of their span onto its span, so one story's items stay days apart).

        Their stories are other events for certain, of the same field; the fixtures that judge the
        figures at volume (`--distractors`) are never used here.
        """
        key = (directory, *sorted(other for other in directories if other != directory))
        if key not in self._mixed:
            own = _tagged(directory, self.items(directory))
            others = [_tagged(other, self.items(other)) for other in key[1:]]
            self._mixed[key] = self._pair_signals(own + [item for items in others for item in _moved(items, own)])
        return self._mixed[key]

    def outlet_negatives(self, directory: Path) -> np.ndarray:
        """Pair signals of every two items of one outlet that report different stories, as if
        published at one moment: what one feed's own unrelated posts look like to dedup."""
        if directory not in self._negatives:
            labeled = self.items(directory)
            items = [normalize(item.raw) for item in labeled]
            vectors = self.embedder.encode([item.embed_text for item in items])
            cosine = vectors @ vectors.T
            moments = np.array([item.published.timestamp() for item in items])
            crowd = crowding(np.where(moments[None, :] < moments[:, None], cosine, np.nan))
            profiles = [
                profile(i, i, it.published, it.source, it.title, it.text, float(crowd[i])) for i, it in enumerate(items)
            ]
            names = NameStats()
            names.add([mine.title_names for mine in profiles])
            rows = []
            for i, mine in enumerate(profiles):
                for j in range(i):
                    other = profiles[j]
                    if other.source == mine.source and labeled[i].story != labeled[j].story:
                        signals = pair_signals(
                            mine, replace(other, published=mine.published), float(cosine[i, j]), names.idf
                        )
                        rows.append([signals[name] for name in SIGNALS])
            self._negatives[directory] = np.asarray(rows, dtype=np.float64).reshape(-1, len(SIGNALS))
        return self._negatives[directory]

    def _pair_signals(self, labeled: Sequence[LabeledItem]) -> _Pairs:
        """As the pipeline sees them: publication order, name rarity from the items before."""
        ordered = sorted(((normalize(item.raw), item.story) for item in labeled), key=lambda pair: pair[0].published)
        vectors = self.embedder.encode([item.embed_text for item, _ in ordered])
        cosine = vectors @ vectors.T
        crowd = crowding(np.where(np.tri(len(ordered), k=-1, dtype=bool), cosine, np.nan))  # earlier items only
        names = NameStats()
        profiles: list[Profile] = []
        rows, later, earlier = [], [], []
        window = WINDOW_DAYS * 86400
        for i, (item, _) in enumerate(ordered):
            mine = profile(i, i, item.published, item.source, item.title, item.text, float(crowd[i]))
            for j, other in enumerate(profiles):
                if abs((item.published - other.published).total_seconds()) <= window:
                    signals = pair_signals(mine, other, float(cosine[i, j]), names.idf)
                    rows.append([signals[name] for name in SIGNALS])
                    later.append(i)
                    earlier.append(j)
            profiles.append(mine)
            names.add([mine.title_names])
        stories = [story for _, story in ordered]
        same = np.array([stories[i] == stories[j] for i, j in zip(later, earlier, strict=True)], dtype=bool)
        matrix = np.asarray(rows, dtype=np.float64).reshape(-1, len(SIGNALS))
        return _Pairs(matrix, np.asarray(later, dtype=np.int64), np.asarray(earlier, dtype=np.int64), same, stories)

    # -- themes ----------------------------------------------------------------------------------

    def fit_themes(self, directories: Sequence[Path]) -> ThemeParams:
        """The fitted decision where no training set scores lower under it than under the hand-set
        numbers, else those."""
        sets = [found for found in map(self.theme_signals, directories) if found is not None]
        classifier = self.classifier()
        if not sets or classifier is None:
            return ThemeParams.load()  # nothing to learn from: keep what ships
        chosen, prior = self.fit_theme_decision(directories), ThemeParams.prior()
        if all(_macro_f1(classifier, *found, chosen) >= _macro_f1(classifier, *found, prior) - 1e-9 for found in sets):
            return chosen
        return prior  # the fitted decision loses on some training set: nothing worse than the hand-set one ships

    def fit_theme_decision(self, directories: Sequence[Path]) -> ThemeParams:
        """The grid point of best mean macro-F1, or the most conservative one within `THEME_TOLERANCE`."""
        sets = [found for found in map(self.theme_signals, directories) if found is not None]
        classifier = self.classifier()
        assert classifier is not None and sets, "fit_themes checks there is something to learn from"
        grid = [ThemeParams(**dict(zip(THEME_GRID, values, strict=True))) for values in product(*THEME_GRID.values())]
        scores = [np.mean([_macro_f1(classifier, signals, truth, point) for signals, truth in sets]) for point in grid]
        near = [params for params, score in zip(grid, scores, strict=True) if score >= max(scores) - THEME_TOLERANCE]
        return max(near, key=lambda params: (params.confidence_floor, params.other_margin))  # first of equals

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
    directories: Sequence[Path],
    settings: Settings,
    embedder: Embedder,
    without: frozenset[str] = frozenset(),
    distractors: Path | None = None,
) -> dict[str, Any]:
    """Leave one set out: fit on the others, score it. `worst`/`mean` over the left-out figures.

    A set without questions (eval-real) is scored in full but counts only for themes in `worst`
    and `mean` (see `summarize`). With `distractors` (a folder of feed documents) each left-out set
    is also scored mixed with them under the same fit, in `at_volume`: the figure at volume is then a
    left-out figure too.
    """
    if len(directories) < 2:
        raise ValueError("the leave-one-out report needs at least two labeled sets")
    fitter = Fitter(settings, embedder, without)
    report: dict[str, Any] = {}
    for directory in directories:
        others = [other for other in directories if other != directory]
        fitted = fitter.fit(others)
        result = evaluate(directory, settings, embedder, fitted)
        if distractors is not None:
            noise = load_distractors(distractors, fitter.items(directory))
            loud = evaluate(directory, settings, embedder, fitted, noise=noise)
            result["at_volume"] = {key: loud[key] for key in ("distractors", "dedup", "search")}
        result["fitted_on"] = sorted(other.name for other in others)
        result["params"] = fitted.to_params(result["fitted_on"]).body()
        report[directory.name] = result
    return {**report, **summarize(report)}


def _tagged(directory: Path, items: Sequence[LabeledItem]) -> list[LabeledItem]:
    """Story ids made unique across sets (two sets may both call a story "s1")."""
    return [replace(item, story=f"{directory.name}/{item.story}") for item in items]


def _moved(items: Sequence[LabeledItem], into: Sequence[LabeledItem]) -> list[LabeledItem]:
    """`items` with their dates mapped affinely from their own span onto the span of `into`
    (labeled items are fetched when published, `load_items`)."""
    source = [item.raw.fetched_at for item in items]
    target = [item.raw.fetched_at for item in into]
    start, span = min(source), (max(source) - min(source)).total_seconds() or 1.0
    scale = (max(target) - min(target)).total_seconds() / span
    moved = []
    for item, moment in zip(items, source, strict=True):
        when = min(target) + (moment - start) * scale
        moved.append(replace(item, raw=replace(item.raw, published=when, updated=None, fetched_at=when)))
    return moved


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


def _f1_at(pairs: _Pairs, params: DedupParams) -> float:
    """Pairwise F1 of the greedy assignment under `params`."""
    weights = np.array([params.weight(name) for name in SIGNALS])
    return float(_greedy_f1(pairs, pairs.signals @ weights + params.bias, np.array([params.threshold]))[0])


def _greedy_f1(pairs: _Pairs, scores: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """Pairwise F1 of the pipeline's greedy assignment (each item joins its best earlier item's
    story when the score clears the threshold) for every threshold in `thresholds`."""
    n = len(pairs.stories)
    best_score = np.full(n, -np.inf)
    best_other = np.zeros(n, dtype=np.int64)
    for later, earlier, score in zip(pairs.later, pairs.earlier, scores, strict=True):
        if score > best_score[later]:
            best_score[later], best_other[later] = score, earlier
    f1 = np.zeros(len(thresholds))
    for index, threshold in enumerate(thresholds):
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
