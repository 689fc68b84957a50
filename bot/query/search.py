"""Story-level hybrid retrieval: FAISS (meaning, across languages) fused with FTS5 (names, substrings).

The two retrievers fail differently. Vectors find an English question's answer in Chinese
coverage but blur names ("Phi-2" vs "Phi-3"); the trigram full-text index matches names and
exact Chinese substrings in any script but knows nothing of meaning. Each produces a ranking
of items, collapsed to stories (a story ranks where its best item does), and the two rankings
are fused by reciprocal rank. Theme and time filters apply to stories; recency only breaks ties.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.core.models import OTHER_THEME, Item, RawEntry
from bot.core.params import load_params
from bot.ingest.normalize import normalize
from bot.ingest.pipeline import Pipeline
from bot.query.interest import in_themes
from bot.storage import StoryRank, StorySummary

RRF_K = 60  # the usual reciprocal-rank-fusion constant: ranks matter, raw scores do not
VECTOR_POOL = 200  # items pulled from FAISS before collapsing to stories and filtering
TEXT_POOL = 200
MIN_COSINE = 0.2  # below this (and with no name match) a story is not an answer: off-topic questions get none
WHO_POOL = 40  # stories searched for a name's people moves
MIN_BODY_CHARS = 20  # text beyond the headline shorter than this is a dateline or a repeat, not a body

_LATIN_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-]*[A-Za-z0-9+]|[A-Za-z0-9]{3,}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-]*|\S")
_QUOTED = re.compile(r"[\"“「『]([^\"”」』]{3,})[\"”」』]")
_NAME_LIKE = re.compile(r"^[A-Z]|[A-Z]|\d")
_WORD = re.compile(r"[A-Za-z]{3,}|[\u4e00-\u9fff]{2,}")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "what",
        "who",
        "whom",
        "which",
        "when",
        "where",
        "why",
        "how",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "new",
        "about",
        "into",
        "over",
        "than",
        "more",
        "most",
        "like",
        "its",
        "their",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "models",
        "model",
    ]
)


@dataclass(frozen=True, slots=True)
class StoryHit:
    """One story found for a question: its summary, its best item per language, and every link."""

    story: StorySummary
    score: float
    items: dict[str, Item]  # lang → the story's item closest to the question in that language
    links: list[tuple[str, str]]  # (source, url), earliest first


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each ranking counts in the fusion; fitted by `bot eval --fit` (bot/core/params.json).

    The vector ranking is the unit; the others are fitted relative to it.
    """

    vector: float = 1.0
    text: float = 0.0
    year: float = 0.0  # stories of the year the question names
    theme: float = 0.0  # stories of the theme the question is about

    @classmethod
    def from_dict(cls, values: Mapping[str, float]) -> Weights:
        return cls(**{name: float(values[name]) for name in ("vector", "text", "year", "theme")})

    @classmethod
    def load(cls) -> Weights:
        """The shipped, fitted weights."""
        return cls.from_dict(load_params().search)

    def to_dict(self) -> dict[str, float]:
        return {"vector": self.vector, "text": self.text, "year": self.year, "theme": self.theme}


VECTOR_ONLY = Weights()
TEXT_ONLY = Weights(vector=0.0, text=1.0)


@dataclass(frozen=True, slots=True)
class MoveEvent:
    """One people move as /who lists it: when, what, and the story that reported it."""

    when: datetime
    move: Mapping[str, str]
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Filters:
    theme: str | None = None
    since: timedelta | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Candidates:
    """Everything the fusion needs about one question, gathered once: the rankings of each retriever,
    each story's best item with its cosine, and what ranking needs of each story (not its whole
    summary: only the few shown are read in full). Ranking them under other weights (the fit tries
    many) costs no further search."""

    vector_ranked: list[int]
    text_ranked: list[int]
    year_ranked: list[int]  # the vector ranking restricted to the year the question names
    theme_ranked: list[int]  # ... and to the theme the question is about
    best_items: dict[int, tuple[int, float]]  # story → (item id, cosine to the question)
    stories: dict[int, StoryRank]
    texted: frozenset[int]  # stories whose best item has text beyond its headline (`has_text`)


def search_stories(
    pipeline: Pipeline,
    query: str,
    k: int = 5,
    filters: Filters | None = None,
    weights: Weights | None = None,
    min_cosine: float = MIN_COSINE,
) -> list[StoryHit]:
    """Up to `k` stories that answer `query`, best first; none when nothing is close enough."""
    found = gather(pipeline, query)
    fused = rank_stories(found, weights or Weights.load(), filters or Filters(), min_cosine)[:k]
    summaries = pipeline.store.stories(story for story, _ in fused)
    return [_hit(pipeline, summaries[story], score, found.best_items) for story, score in fused]


def gather(pipeline: Pipeline, query: str) -> Candidates:
    """Run both retrievers for `query` and collect what `rank_stories` needs."""
    vector = pipeline.embedder.encode([query])
    vector_ranked, best_items = _vector_ranking(pipeline, vector)
    bodies = pipeline.store.item_bodies(item_id for item_id, _ in best_items.values())
    texted = {story for story, (item_id, _) in best_items.items() if item_id in bodies and has_text(*bodies[item_id])}
    text_ranked = _text_ranking(pipeline, query, vector, best_items)
    stories = pipeline.store.story_ranks({*vector_ranked, *text_ranked})
    year, theme = query_year(query), _query_theme(pipeline, query, vector)
    in_year = [s for s in vector_ranked if year and s in stories and stories[s].last_published.year == year]
    in_theme = [s for s in vector_ranked if theme and s in stories and theme in stories[s].themes]
    return Candidates(vector_ranked, text_ranked, in_year, in_theme, best_items, stories, frozenset(texted))


def has_text(title: str, text: str) -> bool:
    """Whether an item says more than its headline. A title-only entry (an archive listing, a
    description that repeats the title) gives a short question a high cosine on a few words and
    nothing to check it against."""
    body = text.replace(title, "").strip(" .。\n")
    return len(body) >= MIN_BODY_CHARS


def rank_stories(
    found: Candidates, weights: Weights, filters: Filters, min_cosine: float = MIN_COSINE
) -> list[tuple[int, float]]:
    """(story, fused score), best first: reciprocal-rank fusion of the rankings under `weights`.

    A story is an answer when the text channel matched it or its best item is close enough in
    meaning. A story whose best item is a bare headline comes after the stories with text unless
    the question names what it names (the text channel matched it); recency only breaks ties.
    """
    rankings = [found.vector_ranked, found.text_ranked, found.year_ranked, found.theme_ranked]
    fused = {
        story: score
        for story, score in fuse(rankings, [weights.vector, weights.text, weights.year, weights.theme]).items()
        if score > 0
    }
    relevant = set(found.text_ranked) | {s for s, (_, cosine) in found.best_items.items() if cosine >= min_cosine}
    stories = found.stories
    allowed = [story for story in fused if story in stories and story in relevant and _passes(stories[story], filters)]
    bare = {story for story in allowed if story not in found.texted and story not in found.text_ranked}
    allowed.sort(key=lambda story: (story in bare, -fused[story], -stories[story].last_published.timestamp()))
    return [(story, fused[story]) for story in allowed]


def people_timeline(pipeline: Pipeline, name: str, lang: str, pool: int = WHO_POOL) -> list[MoveEvent]:
    """Moves that mention `name` (as the person or either organisation) in the stories search finds, newest first."""
    wanted = name.casefold().strip()
    events: list[MoveEvent] = []
    for hit in search_stories(pipeline, name, pool):
        for move in hit.story.moves:
            fields = (move.get("person", ""), move.get("from_org", ""), move.get("to_org", ""))
            if any(wanted in value.casefold() for value in fields if value):
                item = hit.items.get(lang) or next(iter(hit.items.values()), None)
                url = item.url if item else (hit.links[0][1] if hit.links else "")
                title = hit.story.title_in(lang) or (item.title if item else "")
                events.append(MoveEvent(hit.story.last_published, move, title, url))
    return sorted(events, key=lambda event: event.when, reverse=True)


def fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float]) -> dict[int, float]:
    """Reciprocal-rank fusion: Σ weight / (RRF_K + rank) over the rankings a story appears in."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, story in enumerate(ranking, start=1):
            scores[story] = scores.get(story, 0.0) + weight / (RRF_K + rank)
    return scores


def query_terms(query: str) -> list[str]:
    """What the full-text index should match: quoted phrases as written, and name-like tokens
    (capitalized, mixed case or with digits: "OpenAI", "Phi-3", "100K"), in any script around them.

    Plain words and Chinese character runs are left to the vectors: measured on the dev set, OR-ing
    them into the text query ranks stories by common words and pulls fusion below vectors alone.
    """
    terms = _QUOTED.findall(query)
    phrase: list[str] = []
    for token in [*_TOKEN.findall(_QUOTED.sub(" ", query)), ""]:  # "" flushes the last phrase
        if _LATIN_TERM.fullmatch(token) and token.lower() not in _STOP and _NAME_LIKE.search(token):
            phrase.append(token)  # adjacent names form one phrase: "Stable Diffusion", "Segment Anything"
            continue
        if phrase:
            terms.append(" ".join(phrase))
            phrase = []
    return list(dict.fromkeys(term.strip() for term in terms if term.strip()))


def query_year(query: str) -> int | None:
    """A year the question is about ("in 2024", "2024年"), if it names one."""
    match = _YEAR.search(query)
    return int(match.group(1)) if match else None


def _query_theme(pipeline: Pipeline, query: str, vector: np.ndarray) -> str | None:
    """The theme the question is about, when the classifier is confident it is a specific one."""
    if pipeline.classifier is None:
        return None
    item = normalize(RawEntry(source="query", title=query, link="", fetched_at=datetime.now(UTC)))
    scores = pipeline.classifier.classify([item], vector)[0]
    return scores.primary if scores.primary != OTHER_THEME else None


def _vector_ranking(pipeline: Pipeline, vector: np.ndarray) -> tuple[list[int], dict[int, tuple[int, float]]]:
    scores, ids = pipeline.index.search(vector, VECTOR_POOL)
    found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    stories = pipeline.store.story_of_items(item_id for item_id, _ in found)
    best: dict[int, tuple[int, float]] = {}
    for item_id, score in found:
        story = stories.get(item_id)
        if story is not None:
            best.setdefault(story, (item_id, score))
    return list(best), best


def _text_ranking(
    pipeline: Pipeline, query: str, vector: np.ndarray, best_items: dict[int, tuple[int, float]]
) -> list[int]:
    """Stories whose items name what the question names: those naming more of its terms first,
    then by meaning, never by BM25.

    BM25 ranks the items that mention "OpenAI" by length; in an archive where hundreds do, that
    order is noise and fusion would reward its head. So the names decide which stories are in,
    and what the question asks *about* them decides the order: the items are ranked by their
    cosine to the question with the names taken out ("who joined Anthropic?" → "who joined ?"),
    since a name dominates a short question's vector and every Anthropic blog post matches it.
    """
    terms = query_terms(query)
    matched: Counter[int] = Counter()
    for term in terms:
        matched.update(pipeline.store.search_text(term, TEXT_POOL))
    if not matched:
        return []
    ids, vectors = pipeline.store.vectors_of(pipeline.embedder.name, pipeline.embedder.dim, list(matched))
    cosine = _cosines(ids, vectors, vector)
    intent = _without(query, terms)
    order = _cosines(ids, vectors, pipeline.embedder.encode([intent])) if intent else cosine
    stories = pipeline.store.story_of_items(matched)
    ranked: list[int] = []
    for item_id in sorted(matched, key=lambda item: (-matched[item], -order.get(item, -1.0))):
        story = stories.get(item_id)
        if story is not None and story not in ranked:
            ranked.append(story)
            best_items.setdefault(story, (item_id, cosine.get(item_id, 0.0)))
    return ranked


def _cosines(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray) -> dict[int, float]:
    return dict(zip(ids.tolist(), (vectors @ query[0]).tolist(), strict=True))


def _without(query: str, terms: Sequence[str]) -> str:
    """The question with the names in it removed; "" when no word is left to say what it asks."""
    rest = query
    for term in sorted(terms, key=len, reverse=True):
        rest = re.sub(re.escape(term), " ", rest, flags=re.IGNORECASE)
    return rest if _WORD.search(rest) else ""


def _passes(story: StoryRank, filters: Filters) -> bool:
    if filters.theme and not in_themes(story, (filters.theme,)):
        return False
    return not (filters.since and filters.now and story.last_published < filters.now - filters.since)


def _hit(pipeline: Pipeline, story: StorySummary, score: float, best: dict[int, tuple[int, float]]) -> StoryHit:
    members = pipeline.store.story_items(story.id)
    by_lang: dict[str, Item] = {}
    preferred = best.get(story.id, (0, 0.0))[0]
    for item in sorted(members, key=lambda item: (item.id != preferred, item.published)):
        by_lang.setdefault(item.lang, item)
    return StoryHit(story=story, score=score, items=by_lang, links=_links(pipeline, members))


def _links(pipeline: Pipeline, members: Iterable[Item]) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for item in sorted(members, key=lambda item: item.published):
        for source, url in pipeline.store.item_sources(item.id):
            if url and (source, url) not in links:
                links.append((source, url))
    return links
