"""Which story is this item? Pure scoring of an item against candidate items, no I/O.

Exact duplicates (same arXiv id, URL or GUID) never reach this module: the pipeline merges
them first. What is left are different documents, and the question is whether they report
the same event. Embeddings alone do not separate same-event from same-topic (Chinese
rewrites of one event can score below two different events), so the score combines signals,
each measured on the labeled dev set (docs/architecture.md has the ablation):

- meaning: cosine of the multilingual embeddings (title + lead), the backbone;
- near-verbatim copy: character-trigram Jaccard of the wording once repost decorations
  ("转载｜", "【原创】", "| 机器之心") are stripped — a repost is certain, whatever else says;
- shared rare names in the headlines: model, product, organisation and person names in
  Latin script survive translation into Chinese text ("Genie 2", "o1", "Llama 3"), weighted by
  how rare they are in the archive so far (IDF), capped, and in proportion to the cosine;
- time: the same event is reported within days, so a gap beyond a day costs log(gap);
- move action: one headline says someone joins, another that they leave — a sequence of
  moves by one person is several events, however alike the words are;
- crowding: how close the item already is to its nearest earlier items in general (the mean
  cosine of its `CROWD_NEIGHBOURS` nearest). A cosine means less in a crowded region: a lab
  feed's generic posts ("Team update", weekly roundups, podcast episodes) sit at cosine 0.3–0.7 to
  dozens of unrelated posts, while a report of one event stands out from its neighbours — the
  hubness correction of cross-lingual retrieval (CSLS), learned as one weight.

An item joins the story of its best-scoring candidate when the score clears the threshold;
scoring against each member (not a centroid) lets a story hold an English paper and a Chinese
rewrite that are each close to some member but not to an average.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np

from bot.core.params import load_params

COPY_MIN_COSINE = 0.6  # a near-verbatim copy embeds almost identically; skip the trigram test below this
MIN_IDF = 1.5  # a name in more than a fifth of the headlines is vocabulary ("OpenAI" in a lab's feed), not evidence
NAME_SCALE = 5.0  # IDF of one rare name in a year's archive: shared-name evidence saturates past a few of them
FREE_GAP_HOURS = 24.0  # coverage of one event within a day costs nothing; beyond it the log of the gap
WINDOW_DAYS = 7.0  # FORMAT.md: one story's items lie within 72 hours, translations lag up to 7 days
LEAD_CHARS = 300  # the lead the store hands back for stored candidates (store.dedup_rows): both sides alike

COPY_JACCARD = 0.8  # trigram overlap from which a pair is a verbatim copy
TITLE_NAME_SCALE = 6.0  # IDF of the rare headline names two items share at which that evidence is full
CROWD_NEIGHBOURS = 8  # nearest earlier items whose mean cosine says how crowded an item's region is

SIGNALS = (
    "vectors",
    "names",
    "time",
    "sources",
    "actions",
    "versions",
    "copies",
    "releases",
    "title_names",
    "verbatim",
    "crowding",
)


@dataclass(frozen=True, slots=True)
class DedupParams:
    """A logistic pair model over `SIGNALS`, fitted by `bot eval --fit` and read from bot/core/params.json.

    `weights` and `bias` turn a pair's signals into the log-odds that both report one event;
    an item joins its best candidate's story when those log-odds reach `threshold` (fitted to
    maximise pairwise F1 of the greedy assignment on the training periods). `disabled` switches
    signals off for the ablation.
    """

    weights: Mapping[str, float]
    bias: float
    threshold: float
    window_days: float = WINDOW_DAYS
    disabled: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DedupParams:
        return cls(weights=dict(values["weights"]), bias=float(values["bias"]), threshold=float(values["threshold"]))

    @classmethod
    def prior(cls) -> DedupParams:
        """The score as it was set by hand before issue 13 (round numbers chosen on the dev set):
        cosine, plus 0.05 per unit of IDF of the rare headline names both share (at most 0.3),
        minus 0.15 × log of the gap beyond a day, 0.3 for one outlet, 0.5 for opposite moves, 0.3
        for two versions of one model family; a verbatim copy is certain; join at 0.55.

        The fit replaces it only where the data show the fitted model at least as good on every
        training set, clean and at volume (`bot.eval.fitting`): on the dev set and at volume the
        hand-set score still merges less of what it should not.
        """
        weights = {"vectors": 1.0, "title_names": 0.3, "time": -0.15, "sources": -0.3, "actions": -0.5}
        return cls({**weights, "versions": -0.3, "verbatim": 10.0}, bias=0.0, threshold=0.55)

    @classmethod
    def load(cls) -> DedupParams:
        """The shipped, fitted parameters (bot/core/params.json)."""
        return cls.from_dict(load_params().dedup)

    def to_dict(self) -> dict[str, Any]:
        weights = {name: self.weights.get(name, 0.0) for name in SIGNALS}
        return {"weights": weights, "bias": self.bias, "threshold": self.threshold}

    def without(self, signal: str) -> DedupParams:
        if signal not in SIGNALS:
            raise ValueError(f"unknown dedup signal {signal!r}; signals: {', '.join(SIGNALS)}")
        return replace(self, disabled=self.disabled | {signal})

    def weight(self, signal: str) -> float:
        return 0.0 if signal in self.disabled else self.weights.get(signal, 0.0)


@dataclass(frozen=True)
class Profile:
    """What dedup needs to know about one item."""

    key: int  # item id, or a negative placeholder for an item of the current batch
    story: int  # story id, or a negative placeholder for a story born in this batch
    published: datetime
    source: str
    title: str
    lead: str
    names: frozenset[str]  # name-like tokens and quantities of the headline and the lead
    title_names: frozenset[str]  # name-like tokens of the headline alone
    headline: frozenset[str]  # distinctive names of the headline alone ("Gopher", "RETRO", "GLIDE")
    versions: frozenset[tuple[str, str]]
    action: str
    crowd: float = 0.0  # `crowding` of the item's nearest earlier items when it arrived (0 for stored ones)

    @cached_property
    def shingles(self) -> np.ndarray:
        """Computed only when a pair is similar enough to be a copy: most pairs never need it."""
        return shingles(self.title, self.lead)


_REPOST_PREFIX = re.compile(
    r"^\s*(?:【[^】]{1,8}】|\[[^\]]{1,8}\]|(?:转载|转发|原创|独家|重磅|快讯|突发|译|编译)\s*[|｜:：丨]?)\s*"
)
_SOURCE_SUFFIX = re.compile(r"(?:\s*[|｜丨]\s*|\s+[\-–—]\s+)[^|｜丨\-–—]{1,12}\s*$")
_NAME = re.compile(r"[A-Za-z$][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*%?|\d+(?:\.\d+)?[BbMmKkx%]?")
_COMMON_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "for",
        "on",
        "with",
        "by",
        "from",
        "at",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "its",
        "it",
        "this",
        "that",
        "new",
        "how",
        "why",
        "what",
        "who",
        "into",
        "over",
        "after",
        "via",
        "than",
        "more",
        "most",
        "says",
        "said",
        "will",
        "can",
        "not",
        "no",
        "but",
        "about",
        "ai",
        "vs",
        "up",
        "out",
    ]
)
_VERSIONED = re.compile(r"\b([a-z][a-z]{2,})[\s\-]?v?(\d+(?:\.\d+)*[a-z]*)\b")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_ACTIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (action, re.compile(pattern, re.IGNORECASE))
    for action, pattern in (
        ("return", r"rejoin|\breturn|going back|\bback to\b|回归|重返|复职"),
        (
            "join",
            r"\bjoin|\bhire|poach|recruit|\bnames?\b|appoint|\btaps?\b|lands? at"
            r"|加入|加盟|入职|出任|担任|任命|接任|挖走|投奔|转投",
        ),
        (
            "leave",
            r"\bleav|\bleft\b|depart|\bquit|\bexit|step(?:s|ped)? down|resign|\bfire[sd]?\b|\bousted\b|\bis out as\b"
            r"|remove[sd]?\b|离职|离开|出走|辞职|辞任|卸任|解雇|罢免",
        ),
        (
            "found",
            r"\bfound(?:s|ed|ing)?\b|co-found(?:s|ed)\b|launch(?:es|ed)? .{0,20}(?:company|startup|lab)"
            r"|new (?:company|startup|lab)|创业|创立|创办|成立.{0,6}公司",
        ),
    )
)


def strip_repost(title: str) -> str:
    """The headline without repost decorations: "转载｜X｜机器之心" → "X"."""
    previous = None
    while previous != title:
        previous = title
        title = _REPOST_PREFIX.sub("", title)
    stripped = _SOURCE_SUFFIX.sub("", title)
    return stripped if len(stripped) >= len(title) * 0.6 else title


def headline_names(title: str) -> frozenset[str]:
    """Name-like tokens of a headline: in English text capitalized or with digits; in Chinese any Latin."""
    names = set()
    for token in _NAME.findall(strip_repost(title)):
        lowered = token.lower()
        if lowered in _COMMON_WORDS or (len(lowered) < 2 and not lowered.isdigit()):
            continue
        if token[0].isupper() or any(char.isdigit() for char in token) or any(c.isupper() for c in token[1:]):
            names.add(lowered)
    return frozenset(names)


def distinctive_names(title: str) -> frozenset[str]:
    """Headline names that single out one release: a name of the headline other than its first
    word when that is merely capitalized ("Improving ...", "Biologists ...")."""
    tokens = _NAME.findall(strip_repost(title))
    plain_first = bool(tokens) and tokens[0][:1].isupper() and tokens[0][1:].islower()
    return headline_names(" ".join(tokens[1:] if plain_first else tokens))


_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12}
_SCALE_ZH = {"万": 1e4, "亿": 1e8, "千亿": 1e11, "万亿": 1e12}
_QUANTITY_EN = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*-?\s*(thousand|million|billion|trillion|bn)\b|([KMB])\b)", re.IGNORECASE
)
_QUANTITY_ZH = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(万亿|千亿|亿|万)")
_DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


def quantities(text: str) -> frozenset[str]:
    """Amounts written out, normalized across languages: "$124 million", "1.24 亿美元" → "#1.24e+08";
    "280-billion", "2800 亿" → "#2.8e+11". Decimals ("GDT 92.4") are kept as written. An amount
    survives translation where words do not."""
    found = {
        f"#{float(number) * _SCALE[(word or letter).lower()]:.3g}"
        for number, word, letter in _QUANTITY_EN.findall(text)
    }
    found |= {f"#{float(number) * _SCALE_ZH[unit]:.3g}" for number, unit in _QUANTITY_ZH.findall(text)}
    found |= {f"#{float(number):.3g}" for number in _DECIMAL.findall(text)}
    return frozenset(found)


def model_versions(title: str) -> frozenset[tuple[str, str]]:
    """(family, version) mentions in a headline: "Gemini 1.5 Pro" → ("gemini", "1.5")."""
    found = set()
    for family, version in _VERSIONED.findall(strip_repost(title).lower()):
        if family not in _COMMON_WORDS and not _YEAR.match(version):
            found.add((family, version))
    return frozenset(found)


def _versions_conflict(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> bool:
    """Both name a model family, each with versions the other never mentions."""
    for family in {f for f, _ in a} & {f for f, _ in b}:
        if not {v for f, v in a if f == family} & {v for f, v in b if f == family}:
            return True
    return False


def move_action(title: str) -> str:
    """The first people-move verb of a headline (join / leave / return / found), or ""."""
    found: tuple[int, str] | None = None
    for action, pattern in _ACTIONS:
        match = pattern.search(title)
        if match and (found is None or match.start() < found[0]):
            found = (match.start(), action)
    return found[1] if found else ""


def shingles(title: str, text: str) -> np.ndarray:
    """Character trigrams of the normalized wording (works for Chinese without segmentation), as the
    sorted hashes of the distinct ones: the profiles a pass keeps hold thousands of these, and as
    arrays they take a tenth of the memory of sets of strings and compare faster (`jaccard`)."""
    folded = unicodedata.normalize("NFKC", f"{strip_repost(title)} {text[:300]}").lower()
    folded = re.sub(r"\W+", "", folded)
    grams = {folded[i : i + 3] for i in range(max(len(folded) - 2, 0))}
    return np.sort(np.fromiter(map(hash, grams), dtype=np.int64, count=len(grams)))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a ∪ b| of two `shingles` arrays (sorted, distinct)."""
    if not a.size or not b.size:
        return 0.0
    found = b[np.minimum(np.searchsorted(b, a), b.size - 1)]
    shared = int(np.count_nonzero(found == a))
    return shared / (a.size + b.size - shared)


def pair_signals(item: Profile, other: Profile, cosine: float, idf: Callable[[str], float]) -> dict[str, float]:
    """The plain signals of one pair (`SIGNALS`), each 0 when it says nothing.

    `cosine` is the similarity of their vectors (the caller has it from the index search). Shared
    names count in proportion to the cosine: at volume, unrelated posts of one feed share its
    recurring names ("Giant Bombcast", "JLPT N2 Grammar") while saying different things, and a
    name shared by two texts about different matters is no evidence of one event.
    """
    gap_hours = abs((item.published - other.published).total_seconds()) / 3600
    evidence = sum(w for w in map(idf, item.names & other.names) if w >= MIN_IDF)
    copy = jaccard(item.shingles, other.shingles) if cosine >= COPY_MIN_COSINE else 0.0
    own = _exclusive(item, other, idf) and _exclusive(other, item, idf)
    title_evidence = sum(w for w in map(idf, item.title_names & other.title_names) if w >= MIN_IDF)
    return {
        "vectors": cosine,
        "names": max(cosine, 0.0) * (1.0 - math.exp(-evidence / NAME_SCALE)),
        "time": math.log(gap_hours / FREE_GAP_HOURS) if gap_hours > FREE_GAP_HOURS else 0.0,
        "sources": float(item.source == other.source),
        "actions": float(bool(item.action and other.action and item.action != other.action)),
        "versions": float(_versions_conflict(item.versions, other.versions)),
        "copies": copy,
        "releases": float(own),
        "title_names": min(title_evidence / TITLE_NAME_SCALE, 1.0),
        "verbatim": float(copy >= COPY_JACCARD),
        "crowding": item.crowd,
    }


def _exclusive(item: Profile, other: Profile, idf: Callable[[str], float]) -> bool:
    """`item`'s headline names a rare name that `other` never mentions: one lab's two releases of a
    day (Gopher and RETRO, GLIDE and latent diffusion) share everything but their names."""
    text = f"{other.title} {other.lead}".lower()
    return any(name not in other.names and name not in text and idf(name) >= MIN_IDF for name in item.headline)


def pair_score(item: Profile, other: Profile, cosine: float, idf: Callable[[str], float], params: DedupParams) -> float:
    """Log-odds that two items report the same event; ≥ params.threshold means yes, −inf outside the window."""
    if abs((item.published - other.published).total_seconds()) > params.window_days * 86400:
        return -math.inf
    signals = pair_signals(item, other, cosine, idf)
    return params.bias + sum(params.weight(name) * value for name, value in signals.items())


def choose_story(
    item: Profile, candidates: Iterable[tuple[Profile, float]], idf: Callable[[str], float], params: DedupParams
) -> tuple[int | None, float]:
    """The story of the best-scoring (candidate, cosine) if it clears the threshold, else None (a new story)."""
    best_story, best_score = None, -math.inf
    for candidate, cosine in candidates:
        score = pair_score(item, candidate, cosine, idf, params)
        if score > best_score:
            best_story, best_score = candidate.story, score
    if best_story is not None and best_score >= params.threshold:
        return best_story, best_score
    return None, best_score


def candidate_floor(params: DedupParams, crowd: float = 0.0) -> float:
    """Cosine below which no signal can lift a pair of an item of this `crowding` over the threshold
    (copies need cosine ≥ COPY_MIN_COSINE)."""
    vector_weight = params.weight("vectors")
    if vector_weight <= 0:
        return -1.0
    # the names signals are at most 1 each; every other signal but crowding (known) only lowers
    lift = max(params.weight("names"), 0.0) + max(params.weight("title_names"), 0.0)
    floor = (params.threshold - params.bias - lift - params.weight("crowding") * crowd) / vector_weight
    return max(-1.0, min(floor, COPY_MIN_COSINE))


def crowding(cosines: np.ndarray) -> np.ndarray:
    """For each row — an item's cosines to earlier items, NaN where there is none — the mean of its
    `CROWD_NEIGHBOURS` largest, or of as many as there are (a negative cosine counts 0; none at all,
    0): low in a sparse region, high where many posts look alike. An archive of a few items is not a
    sparse region, so missing neighbours are not counted."""
    rows = np.atleast_2d(np.asarray(cosines, dtype=np.float64))
    k = min(CROWD_NEIGHBOURS, rows.shape[1])
    if k == 0:
        return np.zeros(len(rows))
    nearest = -np.partition(-np.where(np.isnan(rows), -np.inf, rows), k - 1, axis=1)[:, :k]
    present = np.isfinite(nearest)
    total = np.where(present, np.maximum(nearest, 0.0), 0.0).sum(axis=1)
    count = present.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def profile(
    key: int, story: int, published: datetime, source: str, title: str, lead: str, crowd: float = 0.0
) -> Profile:
    title_names, lead = headline_names(title), lead[:LEAD_CHARS]
    return Profile(
        key=key,
        story=story,
        published=published,
        source=source,
        names=title_names | headline_names(lead) | quantities(f"{title} {lead}"),
        title_names=title_names,
        headline=distinctive_names(title),
        versions=model_versions(title),
        action=move_action(title),
        title=title,
        lead=lead,
        crowd=crowd,
    )


class NameStats:
    """Document frequency of headline names over the archive: what makes a name rare."""

    def __init__(self, counts: dict[str, int] | None = None, documents: int = 0) -> None:
        self.counts = counts or {}
        self.documents = documents

    def idf(self, name: str) -> float:
        return math.log((self.documents + 1) / (self.counts.get(name, 0) + 1))

    def add(self, names: Sequence[frozenset[str]] | Iterable[frozenset[str]]) -> None:
        for document in names:
            self.documents += 1
            for name in document:
                self.counts[name] = self.counts.get(name, 0) + 1
