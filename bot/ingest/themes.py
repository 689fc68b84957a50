"""Theme labels for items and stories, driven entirely by the `themes:` section of config.

A theme is described, not coded: its description, bilingual keywords and example headlines are
all the classifier knows, so a theme added or edited in sources.yaml takes effect on the next
start. No single signal is enough (shared/notes/signals.md), so three are combined:

- prototypes: cosine between an item's vector and each theme's centroid (its description and
  its examples, both languages, in one multilingual space), as a softmax over themes;
- few-shot: a small softmax regression fit at construction on the embedded descriptions,
  examples and keywords, so what a user writes in config is training data, not only prototypes;
- keywords: evidence that generalizes, i.e. a keyword in the headline or twice in the lead
  (Chinese as substrings, English on word boundaries with inflections, case-insensitive).

`other`, when configured, is a theme with a positive description like the rest, and it is also
the fallback: a topical winner must be confident (close enough to its centroid in absolute terms,
or backed by keywords; a softmax alone hands every off-topic post to some theme) and, without
keyword evidence, must beat `other` by a margin. A secondary label applies when its score is
close to the primary's, its keyword evidence is strong, or the embeddings alone favour it.
Items of one story report one event, so `story_themes` settles a story's themes by a vote.
Items are scored as matrices; the only per-item Python work is the keyword scan.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from bot.core.config import Keywords, ThemeConfig
from bot.core.models import OTHER_THEME as FALLBACK_THEME
from bot.core.models import PEOPLE_THEME, Item
from bot.core.params import load_params
from bot.ingest.embed import Embedder

LEAD_CHARS = 400  # the headline and the first few hundred characters carry the topic

PROTOTYPE_WEIGHT = 0.5  # the two embedding signals share one unit of probability
FEWSHOT_WEIGHT = 0.5
PEOPLE_MOVE_BONUS = 1.0  # the people extractor found a move: as strong as a headline keyword
SIMILARITY_TEMPERATURE = 0.05  # turns centroid cosines into a distribution over themes
SECONDARY_GAP = 0.15  # a second theme within this of the primary also applies
SECONDARY_FLOOR = 0.4  # ... or whose embedding probability alone reaches this

FEWSHOT_L2 = 0.1
FEWSHOT_STEPS = 300
FEWSHOT_LEARNING_RATE = 0.5
FEWSHOT_SCALE = 10.0  # features are cosines; a fixed scale keeps the fit well-conditioned


@dataclass(frozen=True, slots=True)
class ThemeParams:
    """The fitted numbers of the primary-theme decision (bot/core/params.json, `bot eval --fit`).

    `keyword_weight`: what keyword evidence adds to the embedding probability; `other_margin`:
    the lead over `other` a topical theme needs without keyword evidence; `confidence_floor`:
    the cosine to a theme's centroid below which it is not claimed without keywords.
    """

    keyword_weight: float
    other_margin: float
    confidence_floor: float

    @classmethod
    def from_dict(cls, values: Mapping[str, float]) -> ThemeParams:
        return cls(float(values["keyword_weight"]), float(values["other_margin"]), float(values["confidence_floor"]))

    @classmethod
    def prior(cls) -> ThemeParams:
        """The numbers set by hand before issue 13; the fit replaces them only where it does at least
        as well on every training set (`bot.eval.fitting`)."""
        return cls(keyword_weight=1.0, other_margin=0.05, confidence_floor=0.2)

    @classmethod
    def load(cls) -> ThemeParams:
        """The shipped, fitted parameters."""
        return cls.from_dict(load_params().themes)

    def to_dict(self) -> dict[str, float]:
        return {
            "keyword_weight": self.keyword_weight,
            "other_margin": self.other_margin,
            "confidence_floor": self.confidence_floor,
        }


@dataclass(frozen=True, slots=True)
class ThemeSignals:
    """(items × themes) matrices the decision reads: centroid cosine, embedding probability, keyword
    evidence; per item whether the people extractor found a move and whether the item speaks the
    vocabulary of the field at all (`ThemeConfig.scope` of `other`; all True without one)."""

    cosine: np.ndarray
    semantic: np.ndarray
    evidence: np.ndarray
    moved: np.ndarray
    scoped: np.ndarray
    extracted: bool = False  # `moved` is the people extractor's verdict (stored items), not unknown (a question)


@dataclass(frozen=True, slots=True)
class ThemeScores:
    """One item's (or story's) themes: the primary, every theme that applies, and all scores."""

    primary: str
    labels: tuple[str, ...]  # every theme that applies, primary first
    scores: dict[str, float]


class ThemeClassifier:
    """Multi-label theme classifier with a primary label; built once from config."""

    def __init__(
        self, themes: Mapping[str, ThemeConfig], embedder: Embedder, params: ThemeParams | None = None
    ) -> None:
        if not themes:
            raise ValueError("no themes configured")
        self.params = params or ThemeParams.load()
        self.names: tuple[str, ...] = tuple(themes)
        prototypes, prototype_labels = _prototype_texts(themes, self.names)
        keywords, keyword_labels = _keyword_texts(themes, self.names)
        vectors = embedder.encode(prototypes + keywords)
        labels = np.asarray(prototype_labels + keyword_labels, dtype=np.int64)
        n_prototypes = len(prototypes)
        self._centroids = _centroids(vectors[:n_prototypes], labels[:n_prototypes], len(self.names))
        # each theme's prototypes and its keywords weigh the same, and every theme weighs the same
        groups = np.concatenate([labels[:n_prototypes], labels[n_prototypes:] + len(self.names)])
        self._weights, self._bias = _fit_softmax(vectors, labels, _balanced(groups), len(self.names))
        self._fallback = self.names.index(FALLBACK_THEME) if FALLBACK_THEME in self.names else -1
        scope = themes[FALLBACK_THEME].scope if self._fallback >= 0 else Keywords()
        self._scoped = bool(scope.en or scope.zh)
        # each theme's keywords, then the field's scope: one scan of the headline and lead per item
        self._matchers = [*(_KeywordMatcher(themes[name].keywords) for name in self.names), _KeywordMatcher(scope)]
        self._people = self.names.index(PEOPLE_THEME) if PEOPLE_THEME in self.names else -1

    def classify(
        self, items: Sequence[Item], vectors: np.ndarray, people_move: Sequence[bool] | None = None
    ) -> list[ThemeScores]:
        """Themes for each item, from its precomputed vector and its headline and lead."""
        if not items:
            return []
        return self.decide(self.signals(items, vectors, people_move), self.params)

    def signals(
        self, items: Sequence[Item], vectors: np.ndarray, people_move: Sequence[bool] | None = None
    ) -> ThemeSignals:
        """What the decision needs, computed once (the fit tries many parameters on the same signals)."""
        cosine, semantic, evidence, scoped = self._signals(items, vectors)
        moved = np.asarray(people_move if people_move is not None else [False] * len(items), dtype=bool)
        return ThemeSignals(cosine, semantic, evidence, moved, scoped, extracted=people_move is not None)

    def decide(self, signals: ThemeSignals, params: ThemeParams) -> list[ThemeScores]:
        """Primary and secondary themes under `params`."""
        cosine, semantic, evidence = signals.cosine, signals.semantic, signals.evidence
        scores = semantic + params.keyword_weight * evidence
        # claimed when close to the theme in absolute terms, or named by its keywords
        floor = params.confidence_floor
        confident = (cosine + floor * evidence >= floor) | (evidence >= 1.0)
        # ... and only for an item of the field (a word of it, the theme's own keyword in the headline,
        # or a people move): positive evidence, never nearness in the embedding alone
        eligible = signals.scoped[:, None] | (evidence >= 1.0)
        if self._people >= 0:
            scores[:, self._people] += PEOPLE_MOVE_BONUS * signals.moved
            confident[:, self._people] |= signals.moved
            # outside the field, an item is a move only when the people extractor finds one: a move word
            # alone names no one who moved ("离开这个世界" in an obituary, "重返" in a travel piece); a
            # question (no extraction) and an item of the field still count its words
            people = eligible[:, self._people] & (signals.scoped if signals.extracted else True)
            eligible[:, self._people] = people | signals.moved
        confident &= eligible
        primary = self._primary(scores, evidence, confident, params.other_margin)
        applies = self._applies(scores, semantic, evidence, confident, primary)
        return [self._result(row, int(best), mask) for row, best, mask in zip(scores, primary, applies, strict=True)]

    def _signals(
        self, items: Sequence[Item], vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(items × themes): centroid cosine, embedding probability (rows sum to 1), keyword evidence;
        per item: a word of the field in the headline or the lead (True without a scope)."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(items), -1)
        cosine = vectors @ self._centroids.T
        prototype = _softmax(cosine / SIMILARITY_TEMPERATURE)
        fewshot = _softmax(FEWSHOT_SCALE * (vectors @ self._weights) + self._bias)
        semantic = (PROTOTYPE_WEIGHT * prototype + FEWSHOT_WEIGHT * fewshot) / (PROTOTYPE_WEIGHT + FEWSHOT_WEIGHT)
        found = np.array([self._evidence(item) for item in items], dtype=np.float32).reshape(len(items), -1)
        scoped = found[:, -1] > 0 if self._scoped else np.ones(len(items), dtype=bool)
        return cosine, semantic, found[:, :-1], scoped

    def _evidence(self, item: Item) -> list[float]:
        """Keyword evidence per theme, then of the field's scope, from the headline and the lead
        (lower-cased once)."""
        title, lead = item.title.lower(), item.text[:LEAD_CHARS].lower()
        return [matcher.evidence(title, lead) for matcher in self._matchers]

    def _primary(
        self, scores: np.ndarray, evidence: np.ndarray, confident: np.ndarray, other_margin: float
    ) -> np.ndarray:
        """Best theme; `other` instead when the winner is not confident or barely beats `other`."""
        best = scores.argmax(axis=1)
        if self._fallback < 0:
            return best
        rows = np.arange(len(best))
        narrow = (evidence[rows, best] < 1.0) & (scores[rows, best] - scores[:, self._fallback] < other_margin)
        return np.where(narrow | ~confident[rows, best], self._fallback, best)

    def _applies(
        self,
        scores: np.ndarray,
        semantic: np.ndarray,
        evidence: np.ndarray,
        confident: np.ndarray,
        primary: np.ndarray,
    ) -> np.ndarray:
        """(items × themes) mask: confident, and close to the primary's score or strongly evidenced."""
        rows = np.arange(len(primary))
        close = scores >= (scores[rows, primary] - SECONDARY_GAP)[:, None]
        applies = confident & (close | (evidence >= 1.0) | (semantic >= SECONDARY_FLOOR))
        if self._fallback >= 0:
            applies[:, self._fallback] = False  # `other` means "none of the above"
        applies[rows, primary] = True
        return applies

    def _result(self, scores: np.ndarray, primary: int, applies: np.ndarray) -> ThemeScores:
        secondary = [int(t) for t in np.argsort(-scores, kind="stable") if applies[t] and t != primary]
        labels = tuple(self.names[t] for t in (primary, *secondary))
        values = {name: round(float(value), 4) for name, value in zip(self.names, scores, strict=True)}
        return ThemeScores(self.names[primary], labels, values)


def story_themes(members: Sequence[ThemeScores]) -> ThemeScores:
    """A story's themes from its items: a vote (items of one story share a primary theme).

    Each item votes for its primary; ties go to the higher mean score. A secondary theme applies
    when at least half the items list it. Scores are the members' means.
    """
    if not members:
        raise ValueError("a story has at least one item")
    names = list(members[0].scores)
    mean = {name: sum(m.scores.get(name, 0.0) for m in members) / len(members) for name in names}
    votes = Counter(m.primary for m in members)
    primary = max(votes, key=lambda name: (votes[name], mean.get(name, 0.0)))
    listed = Counter(label for m in members for label in m.labels)
    secondary = sorted(
        (name for name, count in listed.items() if name != primary and 2 * count >= len(members)),
        key=lambda name: -mean.get(name, 0.0),
    )
    return ThemeScores(primary, (primary, *secondary), {n: round(v, 4) for n, v in mean.items()})


class _KeywordMatcher:
    """One list of keywords: English on word boundaries (inflections allowed), Chinese as substrings.

    Texts arrive lower-cased; the word-boundary check sits outside the alternation, so the
    engine tests it once per position rather than once per keyword.
    """

    def __init__(self, keywords: Keywords) -> None:
        self._english = _english_pattern(keywords.en)
        self._chinese = _literal_pattern(keywords.zh)

    def evidence(self, title: str, lead: str) -> float:
        """1.0 for a keyword in the headline or twice in the lead, 0.5 for once in the lead."""
        patterns = [p for p in (self._english, self._chinese) if p is not None]
        if any(p.search(title) for p in patterns):
            return 1.0
        hits = sum(len(p.findall(lead)) for p in patterns)
        return 1.0 if hits >= 2 else 0.5 * hits


def _english_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    alternatives = [_flexible(word) for word in _longest_first(words)]
    if not alternatives:
        return None
    return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(alternatives)})(?:s|es|d|ed|ing)?(?![a-z0-9])")


def _literal_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    literals = _longest_first(words)
    return re.compile("|".join(re.escape(word) for word in literals)) if literals else None


def _longest_first(words: Sequence[str]) -> list[str]:
    """Lower-cased, de-duplicated, longest first: "large language model" wins over "language model"."""
    return sorted({w.strip().lower() for w in words if w.strip()}, key=lambda w: (-len(w), w))


def _flexible(word: str) -> str:
    """A keyword whose spaces and hyphens match either ("fine-tuning" ~ "fine tuning", "finetuning")."""
    return r"[\s\-]?".join(re.escape(piece) for piece in re.split(r"[\s\-]+", word))


def _prototype_texts(themes: Mapping[str, ThemeConfig], names: Sequence[str]) -> tuple[list[str], list[int]]:
    """Each theme's description first, then its examples."""
    texts: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(names):
        theme = themes[name]
        texts += [theme.description, *theme.examples]
        labels += [index] * (1 + len(theme.examples))
    return texts, labels


def _keyword_texts(themes: Mapping[str, ThemeConfig], names: Sequence[str]) -> tuple[list[str], list[int]]:
    """Keywords as extra few-shot points: they carry the theme's vocabulary into the fit."""
    texts: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(names):
        words = [w.strip() for w in (*themes[name].keywords.en, *themes[name].keywords.zh) if w.strip()]
        texts += words
        labels += [index] * len(words)
    return texts, labels


def _centroids(vectors: np.ndarray, labels: np.ndarray, n_themes: int) -> np.ndarray:
    """Per theme: the description and the mean of the examples, weighted equally."""
    centroids = np.zeros((n_themes, vectors.shape[1]), dtype=np.float64)
    for theme in range(n_themes):
        rows = vectors[labels == theme]
        centroids[theme] = rows[0] if len(rows) == 1 else rows[0] + rows[1:].mean(axis=0)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return centroids.astype(np.float32) / norms.astype(np.float32)


def _fit_softmax(
    vectors: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray, n_themes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent with an L2 penalty.

    The matrices are small: one BLAS thread is several times faster than two spinning against each other
    (and against the embedder) on a 2-core machine.
    """
    with threadpool_limits(1):
        return _descend(vectors, labels, sample_weight, n_themes)


def _descend(
    vectors: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray, n_themes: int
) -> tuple[np.ndarray, np.ndarray]:
    x = vectors.astype(np.float64)
    onehot = np.eye(n_themes)[labels]
    share = (sample_weight / sample_weight.sum())[:, None]
    weights = np.zeros((x.shape[1], n_themes))
    bias = np.zeros(n_themes)
    for _ in range(FEWSHOT_STEPS):
        probs = _softmax(FEWSHOT_SCALE * (x @ weights) + bias)
        error = (probs - onehot) * share
        weights -= FEWSHOT_LEARNING_RATE * (FEWSHOT_SCALE * x.T @ error + FEWSHOT_L2 * weights)
        bias -= FEWSHOT_LEARNING_RATE * error.sum(axis=0)
    return weights.astype(np.float32), bias.astype(np.float32)


def _balanced(groups: np.ndarray) -> np.ndarray:
    """Sample weights giving every group the same total (a long keyword list buys no prior)."""
    counts = np.bincount(groups)
    return 1.0 / counts[groups]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
