"""Topics inside themes: which subjects the recent stories of a theme gather around, and which are emerging.

A theme (config) is coarse and fixed; topics are what fills it this fortnight ("Sora · 视频生成 · OpenAI"),
found without supervision so that a subject nobody configured still shows up. The reference is BERTopic
(cluster the documents' vectors, then label each cluster by class-based TF-IDF); the library, UMAP and
HDBSCAN are not in the core install, so this module keeps the idea with numpy and FAISS only:

- **Clustering** (per primary theme, over the stories first published in the window; a story is the
  mean of its items' multilingual vectors, so an English and a Chinese report of one event are one
  point): a k-nearest-neighbour graph from FAISS (exact below `EXACT_BELOW` stories, an IVF index
  above, so 100k stories cost seconds, not the hours of a dense n² matrix), keeping only *mutual*
  neighbours above a cosine `LINK` (a hub close to everything is nobody's mutual neighbour, which is
  what stops single linkage from chaining topics together), connected components by vectorised
  union-find, then a few centroid steps: each story moves to the nearest centroid among its own and
  its neighbours' topics if it is within `JOIN` of it, or becomes noise. That is density clustering
  in spirit (a topic is a dense, mutually reachable region; loose stories are noise) at O(n·k)
  after the graph. Topics of fewer than `MIN_TOPIC` stories are noise, not topics.
- **Labels**: class-based TF-IDF over the stories' English and Chinese headlines, each topic against
  the other topics of its theme (and the theme's noise, as BERTopic's outlier class): English words
  and adjacent word pairs (lower-cased, stop words dropped, model names such as "GPT-4o", "Llama 3"
  kept whole), Chinese character 2–4-grams with sub-n-grams dropped when a longer n-gram covers
  them, and quoted Chinese names (「可灵」) whole. Names (mixed case, digits, known organisations)
  weigh more. Overlapping Chinese n-grams that were one word in the headlines ("视频生成" +
  "生成模型") are joined back ("视频生成模型"). No segmenter: jieba is not a dependency, and
  n-grams scored against the other topics find the same words on headlines this short.
- **Emerging**: stories first published in [now−7d, now) against [now−14d, now−7d); a topic is
  emerging when this week has at least `EMERGING_MIN` stories and at least `EMERGING_RATIO` × (last
  week + 1) — the +1 keeps "3 against 0" emerging but not "2 against 0", and asks 4 after a week of 1.
- **Incremental**: the daily run does not recluster the window. `assign_new` moves the previous
  `TopicState` forward with only what changed: members that left the window (or their theme) leave,
  a topic left with fewer than `MIN_TOPIC` stories dissolves, arrivals join the nearest centroid of
  their theme within `JOIN`, and the arrivals that join none are clustered with the recent (`RECENT`)
  unassigned stories around them. Centroids stay exact under additions (the unit centroid, the size
  and the tightness give the sum back: |Σx| = size × tightness) and are left as they were when
  members age out; `relabel` labels new topics, and topics whose size moved by `RELABEL_GROWTH`
  since their label, against the term frequencies of the last full recompute. `refresh_topics`
  reads only the changed stories, those vectors and those headlines, and recomputes in full once
  the state is `FULL_EVERY` old, which corrects what the shortcuts drift. The state lives in the
  store's meta table as JSON (centroids as int8 with a scale per row, ids and times packed).
- **Threads**: FAISS and BLAS run on one thread here. On the 2-core target, shared with the fetcher
  and the embedder, two threads spinning against each other lost: the daily path's small searches
  ran 3× faster on one, and the full recompute at 100k stories took 16–17 s instead of 19–20 s.
- **Theme candidates**: tight, large topics of `other` become a ready-to-paste `themes:` entry
  (`suggest_themes`); adding a theme stays a config edit the user reviews.

The functions over stories and vectors are pure; `load_topic_inputs`, `load_state`, `save_state` and
`refresh_topics` are the only ones that touch the store. `faiss` is imported here for the neighbour
graph, besides `bot.index`.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import faiss
import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from bot.people.lexicon import KNOWN_ORGS, ZH_ORGS
from bot.store import Store, StorySummary

FALLBACK_THEME = "other"
WEEK = timedelta(days=7)
DEFAULT_WINDOW = timedelta(days=14)

MIN_TOPIC = 3  # fewer stories are noise, not a topic
NEIGHBOURS = 10  # k of the neighbour graph
LINK = 0.55  # cosine of a mutual-neighbour edge
JOIN = 0.65  # cosine to a topic's centroid that makes a story a member
REFINE_STEPS = 2  # centroid steps after the components
EXACT_BELOW = 20_000  # stories of one theme up to which neighbours are exact (beyond: IVF)
IVF_PROBES = 8  # inverted lists searched per query (of about 2·√n)
IVF_TRAIN_PER_LIST = 40  # training points per inverted list
PAIR_CHUNK = 65_536  # (story, centroid) pairs scored per block: bounds the temporary

EMERGING_MIN = 3
EMERGING_RATIO = 2

RECENT = timedelta(days=7)  # the incremental path places and reclusters the unassigned stories this recent
RELABEL_GROWTH = 1.5  # the incremental path relabels a topic once its size is this factor off its label's
FULL_EVERY = timedelta(days=7)  # refresh_topics recomputes in full once the state is this old
STATE_KEY = "topics.state"
STATE_VERSION = 1
UNLIMITED = 1 << 62  # a row limit that is none

LABEL_TERMS = 3
NAME_BOOST = 1.5  # a name ("OpenAI", "GPT-4o", "可灵") outranks a common word of the same weight
DOMINANCE = 0.8  # a shorter term is dropped when a longer one containing it has this share of its stories

SUGGEST_MIN_STORIES = 5
SUGGEST_TIGHTNESS = 0.7  # mean cosine of the members to their centroid
SUGGEST_KEYWORDS = 6
SUGGEST_EXAMPLES = 4


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic of one theme: its stories (closest to the centre first), how it reads, how it moves."""

    theme: str
    story_ids: tuple[int, ...]
    representative_id: int
    label_terms: tuple[str, ...]
    this_week: int
    last_week: int
    emerging: bool
    tightness: float  # mean cosine of the members to their centroid
    label_size: int  # how many stories the label was computed from (the daily path relabels when this is stale)
    centroid: np.ndarray = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return " · ".join(self.label_terms)

    def trend(self, lang: str = "en") -> str:
        """The numbers behind "emerging", as a sentence."""
        if lang == "zh":
            return f"本周 {self.this_week} 条，上周 {self.last_week} 条"
        return f"{_stories(self.this_week)} this week, {self.last_week} the week before"


@dataclass(frozen=True, slots=True)
class TopicState:
    """Everything the next incremental run needs: the topics, the stories in none, the labels' term weights."""

    computed_at: datetime
    recomputed_at: datetime  # when the topics were last clustered in full
    window: timedelta
    topics: dict[str, list[Topic]]
    unassigned: dict[str, tuple[int, ...]]
    term_frequency: dict[str, dict[str, int]]  # theme → term → stories of it across the classes (≥ 2 kept)
    terms_per_class: dict[str, float]  # theme → the mean number of term occurrences per class
    published: dict[int, int]  # every story above → its first publication (POSIX seconds): weeks, expiry
    read_at: datetime | None = None  # when `refresh_topics` last read the store (wall clock)


@dataclass(frozen=True, slots=True)
class _Term:
    key: str  # what is counted: English lower-cased, Chinese as written
    text: str  # what is shown
    lang: str
    name: bool


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of rows of a story matrix (closest to the centroid first), before it is a labelled topic."""

    rows: np.ndarray
    centroid: np.ndarray
    tightness: float


# -- public API ------------------------------------------------------------------------------


def find_topics(
    stories: Sequence[StorySummary],
    vectors: Mapping[int, np.ndarray],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> dict[str, list[Topic]]:
    """Every theme's topics over the window ending at `now`, emerging first, then the largest.

    `vectors` maps a story id to its items' vectors (rows) or one vector; stories without one are left out.
    """
    return recompute_topics(stories, vectors, now, window).topics


def recompute_topics(
    stories: Sequence[StorySummary],
    vectors: Mapping[int, np.ndarray],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> TopicState:
    """The full recompute, with what the incremental path needs next time."""
    now = _utc(now)
    in_window = _in_window(stories, now, window)
    published = {story.id: _seconds(story.first_published) for story in in_window}
    topics: dict[str, list[Topic]] = {}
    unassigned: dict[str, tuple[int, ...]] = {}
    frequency: dict[str, dict[str, int]] = {}
    per_class: dict[str, float] = {}
    for theme, members in _by_theme(in_window).items():
        known = [story for story in members if story.id in vectors]
        matrix = _story_matrix([vectors[story.id] for story in known])
        clusters = cluster_vectors(matrix)
        clustered = {int(row) for cluster in clusters for row in cluster.rows}
        noise = [story for row, story in enumerate(known) if row not in clustered]
        labeller = _Labeller.fit([[known[row] for row in cluster.rows] for cluster in clusters], noise)
        found = [
            _topic(theme, [known[row].id for row in cluster.rows], cluster, labeller.label(index))
            for index, cluster in enumerate(clusters)
        ]
        topics[theme] = _sorted_topics(_with_weeks(found, published, now))
        unassigned[theme] = tuple(story.id for story in noise) + tuple(s.id for s in members if s.id not in vectors)
        frequency[theme], per_class[theme] = labeller.frequency_to_keep(), labeller.terms_per_class
    return TopicState(now, now, window, topics, unassigned, frequency, per_class, published)


def assign_new(
    state: TopicState,
    changed: Sequence[StorySummary],
    vectors: Mapping[int, np.ndarray],
    now: datetime,
) -> TopicState:
    """The daily path: bring `state` forward to `now` without reclustering the window.

    `changed` are the stories published or stored (or grown) since the state was computed;
    `vectors` must hold those `placeable` names. Stories that left the window leave their topics,
    a changed story whose theme changed moves, a topic left with fewer than `MIN_TOPIC` stories
    dissolves, arrivals join the nearest centroid of their theme within `JOIN`, and the others are
    clustered with the recent unassigned stories near them into new topics. New and much changed
    topics are left with stale labels: `relabel` gives them new ones from their headlines
    (`stale_labels` names the stories it needs).
    """
    now = _utc(now)
    start, end = _seconds(now - state.window), _seconds(now)
    published = {i: moment for i, moment in state.published.items() if moment >= start}
    arrived = {story.id: story for story in changed if start <= _seconds(story.first_published) < end}
    published.update((i, _seconds(story.first_published)) for i, story in arrived.items())
    moved = {i: _theme_of(story) for i, story in arrived.items()}
    topics: dict[str, list[Topic]] = {}
    unassigned: dict[str, tuple[int, ...]] = {}
    for theme in sorted(set(state.topics) | set(state.unassigned) | set(moved.values())):
        kept, waiting = _kept_and_waiting(state, theme, published, moved)
        theme_topics, rest = _place(kept, waiting, set(moved), vectors, published, theme, now)
        if theme_topics or rest:
            topics[theme], unassigned[theme] = theme_topics, rest
    return replace(state, computed_at=now, topics=topics, unassigned=unassigned, published=published)


def placeable(state: TopicState, changed: Iterable[StorySummary], now: datetime) -> list[int]:
    """The stories whose vectors `assign_new` needs: changed ones not staying in their topic, and the recent
    unassigned ones (older unassigned stories wait for the next full recompute)."""
    now = _utc(now)
    theme_of_member = {i: theme for theme, topics in state.topics.items() for topic in topics for i in topic.story_ids}
    recent = _seconds(now - RECENT)
    fresh = [
        story.id
        for story in changed
        if _seconds(story.first_published) >= recent and theme_of_member.get(story.id) != _theme_of(story)
    ]
    waiting = [i for ids in state.unassigned.values() for i in ids if state.published.get(i, 0) >= recent]
    return list(dict.fromkeys(fresh + waiting))


def stale_labels(state: TopicState) -> list[int]:
    """The stories whose headlines `relabel` needs: the members of topics whose label is missing or stale."""
    return [
        i for topics in state.topics.values() for topic in topics if _label_is_stale(topic) for i in topic.story_ids
    ]


def relabel(state: TopicState, stories: Mapping[int, StorySummary]) -> TopicState:
    """New labels for the topics `assign_new` left stale, against the term weights of the last full recompute."""
    topics = {}
    for theme, theme_topics in state.topics.items():
        labeller = _Labeller(state.term_frequency.get(theme, {}), state.terms_per_class.get(theme, 0.0))
        topics[theme] = [
            _relabelled(topic, stories, labeller) if _label_is_stale(topic) else topic for topic in theme_topics
        ]
    return replace(state, topics=topics)


def cluster_vectors(matrix: np.ndarray) -> list[Cluster]:
    """Topics among unit rows: mutual-neighbour components refined by centroid steps (module docstring)."""
    n = len(matrix)
    if n < MIN_TOPIC:
        return []
    with threadpool_limits(1):
        neighbours, similarity = _neighbour_graph(matrix)
        first, second = _mutual_edges(neighbours, similarity)
        labels = _components(n, first, second)
        for _ in range(REFINE_STEPS):
            labels = _nearest_topic(matrix, labels, neighbours)
        return _groups(matrix, labels)


def suggest_themes(
    topics_of_other: Sequence[Topic], stories: Mapping[int, StorySummary], existing: Collection[str] = ()
) -> str:
    """YAML entries to paste under `themes:` for the tight, large topics of `other`; "" when none qualifies.

    Each entry is a valid `ThemeConfig` (description, bilingual keywords, example headlines) named by
    its best English term that is not a name, indented to sit under `themes:`. The terms are ranked
    against the other topics of `other`, as the labels are.
    """
    if not any(is_theme_candidate(topic) for topic in topics_of_other):
        return ""
    labeller = _Labeller.fit([[stories[i] for i in t.story_ids if i in stories] for t in topics_of_other], [])
    entries: dict[str, dict[str, object]] = {}
    notes: list[str] = []
    taken = set(existing)
    for index, topic in enumerate(topics_of_other):
        if not is_theme_candidate(topic):
            continue
        members = [stories[i] for i in topic.story_ids if i in stories]
        terms = labeller.ranked(index)
        name = _slug(terms, topic, taken)
        taken.add(name)
        entries[name] = _theme_entry(terms, members)
        notes.append(f"# {name}: {len(topic.story_ids)} stories of `other`, tightness {topic.tightness:.2f}")
    dumped = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False)
    header = ["# Paste under `themes:` in sources.yaml after reviewing the wording:", *notes]
    return "\n".join(header + ["  " + line if line else line for line in dumped.splitlines()]) + "\n"


def is_theme_candidate(topic: Topic) -> bool:
    """Tight and large enough that a theme of its own would be worth a look."""
    return len(topic.story_ids) >= SUGGEST_MIN_STORIES and topic.tightness >= SUGGEST_TIGHTNESS


def topic_line(topic: Topic, stories_by_id: Mapping[int, StorySummary], lang: str = "en") -> str:
    """One plain-text line for a report: label, the week's numbers, the representative headline."""
    story = stories_by_id.get(topic.representative_id)
    headline = f"“{story.title_in(lang)}”" if story else ""
    mark = "▲ " if topic.emerging else ""
    if lang == "zh":
        return f"{mark}{topic.label}：{topic.trend('zh')}" + (f"。例：{headline}" if headline else "")
    return f"{mark}{topic.label}: {topic.trend('en')}" + (f". E.g. {headline}" if headline else "")


def emerging(this_week: int, last_week: int) -> bool:
    """The documented rule (module docstring): ≥ EMERGING_MIN and ≥ EMERGING_RATIO × (last week + 1)."""
    return this_week >= EMERGING_MIN and this_week >= EMERGING_RATIO * (last_week + 1)


# -- store I/O -------------------------------------------------------------------------------


def load_topic_inputs(
    store: Store, model: str, dim: int, now: datetime, window: timedelta = DEFAULT_WINDOW
) -> tuple[list[StorySummary], dict[int, np.ndarray]]:
    """The window's stories and every one's item vectors (rows) under `model`."""
    now = _utc(now)
    stories = store.stories_published_between(now - window, now)
    return stories, store.story_vectors([story.id for story in stories], model, dim)


def refresh_topics(
    store: Store,
    model: str,
    dim: int,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    full_every: timedelta = FULL_EVERY,
) -> TopicState:
    """The daily entry point: incremental from the saved state when it is recent, a full recompute otherwise.

    The incremental run reads only what changed: stories published since the state's `now`, and stories
    stored or grown since its last read (late arrivals, such as arXiv papers dated a day back, and stories
    whose theme may have changed); then the vectors `placeable` names and the headlines `stale_labels`
    names. The state is saved back under the embedding model's name, so a model change starts afresh.
    """
    now = _utc(now)
    read_at = datetime.now(UTC)
    previous = load_state(store, model)
    if previous is None or not _can_advance(previous, now, window, full_every):
        stories, vectors = load_topic_inputs(store, model, dim, now, window)
        state = recompute_topics(stories, vectors, now, window)
    else:
        changed = _changed_stories(store, previous, now)
        state = assign_new(previous, changed, store.story_vectors(placeable(previous, changed, now), model, dim), now)
        state = relabel(state, store.stories(stale_labels(state)))
    state = replace(state, read_at=read_at)
    save_state(store, model, state)
    return state


def _changed_stories(store: Store, state: TopicState, now: datetime) -> list[StorySummary]:
    """Published since the state's `now`, or stored since its read (a second early: the store keeps whole seconds)."""
    published = store.stories_published_between(state.computed_at, now)
    stored = store.stories_updated_since(state.read_at - timedelta(seconds=1), limit=UNLIMITED) if state.read_at else []
    return list({story.id: story for story in [*published, *stored]}.values())


def load_state(store: Store, model: str) -> TopicState | None:
    text = store.get_meta(f"{STATE_KEY}.{model}")
    if not text:
        return None
    try:
        return state_from_json(text)
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable or older state is recomputed, not trusted


def save_state(store: Store, model: str, state: TopicState) -> None:
    store.set_meta(f"{STATE_KEY}.{model}", state_to_json(state))


def state_to_json(state: TopicState) -> str:
    themes = {}
    for theme in sorted(set(state.topics) | set(state.unassigned)):
        topics = state.topics.get(theme, [])
        centroids = np.stack([t.centroid for t in topics]) if topics else np.zeros((0, 0), dtype=np.float32)
        themes[theme] = {
            "topics": [
                [
                    list(t.story_ids),
                    t.representative_id,
                    list(t.label_terms),
                    t.this_week,
                    t.last_week,
                    t.tightness,
                    t.label_size,
                ]
                for t in topics
            ],
            "dim": int(centroids.shape[1]) if topics else 0,
            "centroids": _packed_rows(centroids),
            "unassigned": list(state.unassigned.get(theme, ())),
            "frequency": state.term_frequency.get(theme, {}),
            "per_class": state.terms_per_class.get(theme, 0.0),
        }
    document = {
        "version": STATE_VERSION,
        "computed_at": state.computed_at.isoformat(),
        "recomputed_at": state.recomputed_at.isoformat(),
        "read_at": state.read_at.isoformat() if state.read_at else None,
        "window": state.window.total_seconds(),
        "themes": themes,
        "published": [
            _packed(np.fromiter(state.published, dtype=np.int64, count=len(state.published))),
            _packed(np.fromiter(state.published.values(), dtype=np.int64, count=len(state.published))),
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def state_from_json(text: str) -> TopicState:
    document = json.loads(text)
    if document["version"] != STATE_VERSION:
        raise ValueError(f"topic state version {document['version']}")
    topics: dict[str, list[Topic]] = {}
    for theme, saved in document["themes"].items():
        rows = saved["topics"]
        centroids = _unpacked_rows(saved["centroids"], len(rows), saved["dim"])
        topics[theme] = [
            Topic(theme, tuple(ids), rep, tuple(terms), this, last, emerging(this, last), tight, size, centroids[index])
            for index, (ids, rep, terms, this, last, tight, size) in enumerate(rows)
        ]
    themes = document["themes"]
    return TopicState(
        computed_at=datetime.fromisoformat(document["computed_at"]),
        recomputed_at=datetime.fromisoformat(document["recomputed_at"]),
        window=timedelta(seconds=document["window"]),
        topics=topics,
        unassigned={theme: tuple(saved["unassigned"]) for theme, saved in themes.items()},
        term_frequency={theme: saved["frequency"] for theme, saved in themes.items()},
        terms_per_class={theme: saved["per_class"] for theme, saved in themes.items()},
        published=dict(zip(*(_unpacked(column, np.int64).tolist() for column in document["published"]), strict=True)),
        read_at=datetime.fromisoformat(document["read_at"]) if document["read_at"] else None,
    )


def _packed_rows(rows: np.ndarray) -> list[str]:
    """Unit rows as int8 scaled by each row's largest component (and those scales): a quarter of float32."""
    scales = np.maximum(np.abs(rows).max(axis=1, initial=0.0), 1e-12).astype(np.float32)
    return [_packed(np.round(rows / scales[:, None] * 127).astype(np.int8)), _packed(scales.astype(np.float32))]


def _unpacked_rows(packed: list[str], count: int, dim: int) -> np.ndarray:
    rows = _unpacked(packed[0], np.int8).reshape(count, dim).astype(np.float32)
    return _unit(rows * _unpacked(packed[1], np.float32)[:, None] / 127)


def _packed(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _unpacked(text: str, dtype: type[np.generic]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _can_advance(state: TopicState, now: datetime, window: timedelta, full_every: timedelta) -> bool:
    return state.window == window and state.computed_at <= now < state.recomputed_at + full_every


# -- clustering ------------------------------------------------------------------------------


def _story_matrix(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """One unit row per story: the mean of its items' vectors."""
    if not vectors:
        return np.zeros((0, 0), dtype=np.float32)
    rows = np.stack([_mean_row(np.asarray(v, dtype=np.float32)) for v in vectors])
    return _unit(rows)


def _mean_row(vector: np.ndarray) -> np.ndarray:
    if vector.ndim == 1:
        return vector
    return vector[0] if len(vector) == 1 else vector.mean(axis=0)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def _neighbour_graph(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours, cosines), n × k, self excluded; -1 where an approximate search found fewer."""
    n, dim = matrix.shape
    k = min(NEIGHBOURS + 1, n)
    index: faiss.Index
    if n <= EXACT_BELOW:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(2 * math.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, lists * IVF_TRAIN_PER_LIST), replace=False)
        index.train(matrix[np.sort(sample)])
        index.nprobe = IVF_PROBES
    index.add(matrix)
    similarity, neighbours = index.search(matrix, k)
    itself = neighbours == np.arange(n)[:, None]
    neighbours[itself] = -1
    return neighbours, similarity


def _mutual_edges(neighbours: np.ndarray, similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) that are each other's neighbours with cosine ≥ LINK."""
    n, k = neighbours.shape
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    target = neighbours.ravel().astype(np.int64)
    keep = (target >= 0) & (similarity.ravel() >= LINK)
    source, target = source[keep], target[keep]
    forward = source * n + target
    mutual = np.isin(target * n + source, forward)
    return source[mutual], target[mutual]


def _components(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Component labels (the smallest member row): hook each root onto the smaller, jump pointers, repeat."""
    parent = np.arange(n, dtype=np.int64)
    while True:
        root_a, root_b = parent[first], parent[second]
        differ = root_a != root_b
        if not differ.any():
            return parent
        low, high = np.minimum(root_a[differ], root_b[differ]), np.maximum(root_a[differ], root_b[differ])
        np.minimum.at(parent, high, low)
        parent = _flatten(parent)


def _flatten(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _nearest_topic(matrix: np.ndarray, labels: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """One centroid step: each story to the closest centroid among its own and its neighbours' topics, within JOIN.

    Looking only at the neighbours' topics keeps the step O(n·k) instead of O(n·topics).
    """
    labels = _dense_labels(labels)
    if labels.max(initial=-1) < 0:
        return labels
    centroids = _unit(_sums(matrix, labels))
    neighbour_labels = np.where(neighbours >= 0, labels[np.maximum(neighbours, 0)], -1)
    candidates = np.concatenate([labels[:, None], neighbour_labels], axis=1)
    rows, columns = np.nonzero(candidates >= 0)
    pairs = np.unique(rows * len(centroids) + candidates[rows, columns])  # each (story, topic) once
    rows, topics = np.divmod(pairs, len(centroids))
    cosine = _pair_cosines(matrix, centroids, rows, topics)
    best = np.full(len(matrix), -np.inf, dtype=np.float32)
    np.maximum.at(best, rows, cosine)
    winners = (cosine == best[rows]) & (cosine >= JOIN)
    assigned = np.full(len(matrix), -1, dtype=np.int64)
    assigned[rows[winners]] = topics[winners]
    return assigned


def _dense_labels(labels: np.ndarray) -> np.ndarray:
    """Labels 0..t-1 for groups of at least MIN_TOPIC rows, -1 for the rest."""
    valid = labels >= 0
    values, inverse, counts = np.unique(labels[valid], return_inverse=True, return_counts=True)
    big = counts >= MIN_TOPIC
    renumber = np.where(big, np.cumsum(big) - 1, -1)
    dense = np.full(len(labels), -1, dtype=np.int64)
    dense[valid] = renumber[inverse] if len(values) else -1
    return dense


def _members(labels: np.ndarray) -> list[np.ndarray]:
    """The rows of each dense label 0..t-1, by one sort rather than one scan per topic."""
    order = np.argsort(labels, kind="stable")
    order = order[labels[order] >= 0]
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts) if len(order) else []


def _sums(matrix: np.ndarray, labels: np.ndarray) -> np.ndarray:
    members = _members(labels)
    starts = np.cumsum([0] + [len(rows) for rows in members[:-1]])
    return np.add.reduceat(matrix[np.concatenate(members)], starts, axis=0)


def _pair_cosines(matrix: np.ndarray, centroids: np.ndarray, rows: np.ndarray, topics: np.ndarray) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), PAIR_CHUNK):
        part = slice(start, start + PAIR_CHUNK)
        out[part] = np.einsum("ij,ij->i", matrix[rows[part]], centroids[topics[part]])
    return out


def _groups(matrix: np.ndarray, labels: np.ndarray) -> list[Cluster]:
    labels = _dense_labels(labels)
    if labels.max(initial=-1) < 0:
        return []
    centroids = _unit(_sums(matrix, labels))
    groups = []
    for topic, rows in enumerate(_members(labels)):
        cosine = matrix[rows] @ centroids[topic]
        order = np.argsort(-cosine, kind="stable")
        groups.append(Cluster(rows[order], centroids[topic], float(cosine.mean())))
    return groups


# -- the incremental path --------------------------------------------------------------------


def _kept_and_waiting(
    state: TopicState, theme: str, published: Mapping[int, int], moved: Mapping[int, str]
) -> tuple[list[Topic], list[int]]:
    """The theme's topics without members that left the window or the theme (too small ones dissolve), and the
    stories in no topic: the unassigned still here, those of dissolved topics, and changed ones new to the theme."""
    kept: list[Topic] = []
    waiting = [i for i in state.unassigned.get(theme, ()) if i in published and moved.get(i, theme) == theme]
    for topic in state.topics.get(theme, []):
        ids = tuple(i for i in topic.story_ids if i in published and moved.get(i, theme) == theme)
        if len(ids) >= MIN_TOPIC:
            representative = topic.representative_id if topic.representative_id in ids else ids[0]
            kept.append(replace(topic, story_ids=ids, representative_id=representative))
        else:
            waiting.extend(ids)
    members = {i for topic in kept for i in topic.story_ids}
    waiting += [i for i, new_theme in moved.items() if new_theme == theme and i not in members]
    return kept, list(dict.fromkeys(waiting))


def _place(
    kept: list[Topic],
    waiting: list[int],
    arrived: Collection[int],
    vectors: Mapping[int, np.ndarray],
    published: Mapping[int, int],
    theme: str,
    now: datetime,
) -> tuple[list[Topic], tuple[int, ...]]:
    """Recent arrivals join the nearest kept topic; the others cluster with the recent waiting stories near them.

    Stories that were already waiting joined no centroid and formed no topic last time, so they are
    not tried against the centroids again, and a new topic has an arrival in it: only the arrivals
    and their close neighbours are clustered, which costs arrivals × waiting rather than waiting².
    """
    recent = _seconds(now - RECENT)
    usable = [i for i in waiting if i in vectors and published[i] >= recent]
    candidates = [i for i in usable if i in arrived] + [i for i in usable if i not in arrived]
    arrivals = sum(1 for i in usable if i in arrived)
    matrix = _story_matrix([vectors[i] for i in candidates])
    with threadpool_limits(1):
        joined, unjoined = _join_nearest(kept, matrix[:arrivals])
        leftovers = _around(unjoined, unjoined + list(range(arrivals, len(candidates))), matrix)
    topics = []
    for index, topic in enumerate(kept):
        rows = joined.get(index, [])
        topics.append(_grow(topic, [candidates[row] for row in rows], matrix[rows]))
    for cluster in cluster_vectors(matrix[leftovers]) if leftovers else []:
        topics.append(_topic(theme, [candidates[leftovers[int(row)]] for row in cluster.rows], cluster, ()))
    clustered = {i for topic in topics for i in topic.story_ids}
    return _sorted_topics(_with_weeks(topics, published, now)), tuple(i for i in waiting if i not in clustered)


def _around(seeds: list[int], rows: list[int], matrix: np.ndarray) -> list[int]:
    """`seeds` and those of `rows` among a seed's nearest neighbours with a cosine of LINK or more."""
    if not seeds:
        return []
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix[rows])
    similarity, neighbours = index.search(matrix[seeds], min(NEIGHBOURS + 1, len(rows)))
    near = {rows[int(column)] for column in neighbours[(similarity >= LINK) & (neighbours >= 0)]}
    return sorted(near | set(seeds))


def _join_nearest(kept: Sequence[Topic], matrix: np.ndarray) -> tuple[dict[int, list[int]], list[int]]:
    """Rows that join a kept topic (topic index → rows), and the rows that join none."""
    if not kept or not len(matrix):
        return {}, list(range(len(matrix)))
    cosine = matrix @ np.stack([topic.centroid for topic in kept]).T
    best = cosine.argmax(axis=1)
    joins = cosine[np.arange(len(matrix)), best] >= JOIN
    joined: dict[int, list[int]] = defaultdict(list)
    for row in np.flatnonzero(joins):
        joined[int(best[row])].append(int(row))
    return joined, [int(row) for row in np.flatnonzero(~joins)]


def _grow(topic: Topic, ids: Sequence[int], rows: np.ndarray) -> Topic:
    """Add members and move the centroid exactly: the old sum of unit rows is centroid × size × tightness."""
    if not ids:
        return topic
    total = topic.centroid * (len(topic.story_ids) * topic.tightness) + rows.sum(axis=0)
    size = len(topic.story_ids) + len(ids)
    norm = float(np.linalg.norm(total))
    return replace(topic, story_ids=(*topic.story_ids, *ids), centroid=total / norm, tightness=round(norm / size, 4))


def _label_is_stale(topic: Topic) -> bool:
    """No label yet, or the topic grew or shrank by RELABEL_GROWTH since it was labelled."""
    size = len(topic.story_ids)
    return size >= RELABEL_GROWTH * topic.label_size or size * RELABEL_GROWTH <= topic.label_size


def _relabelled(topic: Topic, stories: Mapping[int, StorySummary], labeller: _Labeller) -> Topic:
    members = [stories[i] for i in topic.story_ids if i in stories]
    return replace(topic, label_terms=labeller.label_members(members), label_size=len(topic.story_ids))


# -- topics ----------------------------------------------------------------------------------


def _topic(theme: str, ids: Sequence[int], cluster: Cluster, terms: tuple[str, ...]) -> Topic:
    """A topic from a cluster (members closest to the centroid first: the first represents it); weeks come next."""
    return Topic(
        theme=theme,
        story_ids=tuple(ids),
        representative_id=ids[0],
        label_terms=terms,
        this_week=0,
        last_week=0,
        emerging=False,
        tightness=round(cluster.tightness, 4),
        label_size=len(ids) if terms else 0,
        centroid=cluster.centroid,
    )


def _with_weeks(topics: Sequence[Topic], published: Mapping[int, int], now: datetime) -> list[Topic]:
    """Each topic's stories first published in [now − 7d, now) and in [now − 14d, now − 7d), counted at once."""
    sizes = [len(topic.story_ids) for topic in topics]
    moments = np.fromiter((published[i] for t in topics for i in t.story_ids), dtype=np.int64, count=sum(sizes))
    owner = np.repeat(np.arange(len(topics)), sizes)
    week_start, end, last_start = _seconds(now - WEEK), _seconds(now), _seconds(now - 2 * WEEK)
    this = np.bincount(owner[(moments >= week_start) & (moments < end)], minlength=len(topics))
    last = np.bincount(owner[(moments >= last_start) & (moments < week_start)], minlength=len(topics))
    return [
        replace(topic, this_week=int(this[n]), last_week=int(last[n]), emerging=emerging(int(this[n]), int(last[n])))
        for n, topic in enumerate(topics)
    ]


def _sorted_topics(topics: Iterable[Topic]) -> list[Topic]:
    return sorted(topics, key=lambda t: (not t.emerging, -t.this_week, -len(t.story_ids), t.representative_id))


def _in_window(stories: Iterable[StorySummary], now: datetime, window: timedelta) -> list[StorySummary]:
    return [story for story in stories if now - window <= _utc(story.first_published) < now]


def _by_theme(stories: Iterable[StorySummary]) -> dict[str, list[StorySummary]]:
    grouped: dict[str, list[StorySummary]] = defaultdict(list)
    for story in stories:
        grouped[_theme_of(story)].append(story)
    return dict(sorted(grouped.items()))


def _theme_of(story: StorySummary) -> str:
    return story.primary_theme or FALLBACK_THEME


def _seconds(moment: datetime) -> int:
    return int(_utc(moment).timestamp())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stories(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


# -- labels: terms and class-based TF-IDF ----------------------------------------------------


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN_STOP = _word_set(
    """a about above after again against all also am an and any are as at be been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will with would you
    your yours via vs amid per across within without toward towards onto upon among
    ai model models new says said say announces announced unveils unveiled launches launched releases released
    introduces introduced debuts reveals revealed shows show adds gets get makes make made using used use based
    report reports paper study research researchers first one two three big top latest now today week year years
    day days how why what first-ever billion million percent inc co ltd corp com www https http
    """
)
_GENERIC_ACRONYMS = _word_set("AI CEO CTO COO CFO API GPU GPUS LLM LLMS AGI ML RL NLP US UK")
_KNOWN_NAMES = frozenset(name.lower() for name in KNOWN_ORGS)
_ZH_NEVER_INSIDE = frozenset("的了着过吗呢吧啊")  # particles: an n-gram holding one is not a word
_ZH_STOP_EDGE = frozenset("是在和与及将把被等也都就而对从向为于由其之个这那让给并或又会已再还更很")
_ZH_FILLERS = _word_set(  # verbs and fillers of headlines: not terms, and not the edge of one ("发布视频")
    """发布 宣布 推出 正式 最新 首个 全球 如何 什么 可以 我们 他们 一个 已经 今天 今日 为何 之后 以及
    通过 进行 没有 表示 认为 可能 成为 来自 近日 日前 消息 报道 一文 文章 重磅 突破 震撼 官宣"""
)
_ZH_GENERIC = _word_set("模型 人工 智能 人工智能 研究 论文 公司 亿元 万元 技术 能力 方法")  # too broad to label with
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9]*(?:[-.·'’][A-Za-z0-9]+)*")
_VERSION = re.compile(r"\d+(?:\.\d+)*[A-Za-z]{0,2}")
_DIGIT = re.compile(r"\d")
_HAN_RUN = re.compile("[\u4e00-\u9fff]+")
_ZH_RUN = re.compile("(?:(?![的了着过吗呢吧啊])[\u4e00-\u9fff])+")  # Han runs cut at particles
_QUOTED = re.compile("[「『《“]([\u4e00-\u9fff]{2,12})[」』》”]")


STRONG, CAPITAL, SILENT, LOWER = 2, 1, 0, -1  # what one occurrence says about an English term being a name


class _Vocabulary:
    """Turns headlines into term keys, and knows how each English term is best shown and whether it is a name.

    Capitals are evidence only where the headline does not capitalise anyway (not its first word,
    not a Title Case headline): "Figure" mid-sentence votes for a name, "video" in lower case votes
    against "Video" in "Stable Video Diffusion". Mixed case, digits and known organisations are
    names outright. Chinese n-grams describe themselves (shown as written; a name when a known
    organisation or quoted), so nothing is stored for them: they are most of the keys.
    """

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}  # English key → its form when shown as a name
        self._votes: Counter[str] = Counter()
        self._strong: set[str] = set()
        self._quoted: set[str] = set()

    def keys(self, story: StorySummary) -> set[str]:
        """The term keys of a story's headlines (each language's first), each once."""
        keys: set[str] = set()
        for title in dict.fromkeys(filter(None, (story.title_en, story.title_zh))) or (story.title,):
            self._english(title, keys)
            self._chinese(title, keys)
        return keys

    def term(self, key: str) -> _Term:
        if key in self._shown:
            name = key in self._strong or self._votes[key] > 0
            return _Term(key, self._shown[key] if name else key, "en", name)
        return _Term(key, key, "zh", key in self._quoted or key in ZH_ORGS)

    def _english(self, title: str, keys: set[str]) -> None:
        """Words (stop words out), names with their version ("Llama 3"), and pairs of adjacent kept words."""
        matches = list(_WORD.finditer(title))
        words = [match.group() for match in matches]
        title_case = _is_title_case(words)
        previous: tuple[str, int, int, int] | None = None  # the last kept single word: key, evidence, start, end
        position = 0
        while position < len(matches):
            first, start, end = position == 0, matches[position].start(), matches[position].end()
            text = words[position].removesuffix("'s").removesuffix("’s")
            following = matches[position + 1] if position + 1 < len(matches) else None
            if following is not None and _is_versioned(text, following.group(), title[end : following.start()]):
                position += 1
                text, end = f"{text} {words[position]}", matches[position].end()
            position += 1
            word = _english_word(text, first, title_case)
            if word is None:
                previous = None
                continue
            key, evidence = word
            self._count(key, text, evidence, keys)
            if previous is not None and title[previous[3] : start] in (" ", "-"):
                written = title[previous[2] : end].removesuffix("'s").removesuffix("’s")
                self._count(f"{previous[0]} {key}", written, _pair_evidence(previous[1], evidence, written), keys)
            previous = (key, evidence, start, end) if " " not in key else None

    def _chinese(self, title: str, keys: set[str]) -> None:
        """Quoted names whole, and the character 2–4-grams of the Han runs that can be words."""
        for quoted in _QUOTED.findall(title):
            self._quoted.add(quoted)
            keys.add(quoted)
        for run in _ZH_RUN.findall(title):
            edge_ok = [char not in _ZH_STOP_EDGE for char in run]
            filler = [run[i : i + 2] in _ZH_FILLERS for i in range(len(run) - 1)]
            for start in range(len(run) - 1):
                if not edge_ok[start] or filler[start]:
                    continue
                for stop in range(start + 2, min(start + 4, len(run)) + 1):
                    if edge_ok[stop - 1] and not filler[stop - 2] and run[start:stop] not in _ZH_GENERIC:
                        keys.add(run[start:stop])

    def _count(self, key: str, written: str, evidence: int, keys: set[str]) -> None:
        keys.add(key)
        if key not in self._shown or (evidence > SILENT and self._shown[key] == key):
            self._shown[key] = written if evidence > SILENT else key
        if evidence == STRONG:
            self._strong.add(key)
        elif evidence != SILENT:
            self._votes[key] += evidence


def _pair_evidence(first: int, second: int, written: str) -> int:
    """Two adjacent words: a name when both are, or when one is and both are capitalised ("Stable Diffusion 3")."""
    if first > SILENT and second > SILENT:
        return min(first, second)
    if max(first, second) > SILENT and all(word[:1].isupper() or word[:1].isdigit() for word in written.split()):
        return CAPITAL
    return LOWER if first == second == LOWER else SILENT


def _is_versioned(text: str, following: str, gap: str) -> bool:
    """ "Llama 3", "Claude 3.5", "Gemini 1.5": a capitalised name, one space, a version."""
    return (
        following[:1].isdigit()
        and gap == " "
        and text[:1].isupper()
        and text.lower() not in _EN_STOP
        and _VERSION.fullmatch(following) is not None
    )


def _english_word(text: str, first: bool, title_case: bool) -> tuple[str, int] | None:
    """(key, evidence of a name), or None for a stop word or a number; only non-names are singularised."""
    key = text.lower()
    if len(key) < 2 or key in _EN_STOP or key.replace(".", "").isdigit():
        return None
    evidence = _name_evidence(text, first, title_case)
    if evidence <= SILENT:
        key = _singular(key)
    return None if key in _EN_STOP else (key, evidence)


def _singular(word: str) -> str:
    """ "models" counts with "model"; "-ss", "-us", "-is" endings are not plurals."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-3] + "y" if word.endswith("ies") else word[:-1]
    return word


def _name_evidence(text: str, first: bool, title_case: bool) -> int:
    """Mixed case, digits and known organisations are names; a capital counts only where headlines don't add one."""
    if text.upper() in _GENERIC_ACRONYMS:
        return LOWER
    rest = text[1:]
    if rest != rest.lower() or _DIGIT.search(text) or text.lower() in _KNOWN_NAMES:
        return STRONG
    if first or title_case:
        return SILENT
    return CAPITAL if text[:1].isupper() else LOWER


def _is_title_case(words: Sequence[str]) -> bool:
    long_words = [word for word in words[1:] if len(word) > 3]
    return bool(long_words) and sum(word[:1].isupper() for word in long_words) >= 0.6 * len(long_words)


@dataclass(frozen=True, slots=True)
class _Class:
    """One class of the TF-IDF: its size, its stories and how many of them hold each term that can label it."""

    size: int
    counts: dict[str, int]
    members: Sequence[StorySummary]


class _Labeller:
    """Class-based TF-IDF over a theme's topics: w(t, c) = share of c's stories with t × log(1 + A / f(t)).

    A topic is a class, and the theme's noise is one more (BERTopic's outlier class), so a word
    every story of the theme uses weighs little everywhere. f(t) counts the stories with t over all
    classes and A is the mean number of term occurrences per class. Scores count stories, not
    occurrences: a headline repeating a word says it once.
    """

    def __init__(self, frequency: Mapping[str, int], terms_per_class: float) -> None:
        self._frequency = frequency
        self.terms_per_class = terms_per_class
        self._vocabulary = _Vocabulary()
        self._classes: list[_Class] = []

    @classmethod
    def fit(cls, topics: Sequence[Sequence[StorySummary]], noise: Sequence[StorySummary]) -> _Labeller:
        frequency: Counter[str] = Counter()
        labeller = cls(frequency, 0.0)
        for members in topics:
            labeller._classes.append(labeller._class(members, frequency))
        if noise:
            labeller._class(noise, frequency)
        labeller.terms_per_class = sum(frequency.values()) / max(len(topics) + (1 if noise else 0), 1)
        return labeller

    def frequency_to_keep(self) -> dict[str, int]:
        """The term frequencies the incremental path needs: a term seen once tells no more than its absence."""
        return {term: count for term, count in self._frequency.items() if count >= 2}

    def label(self, index: int) -> tuple[str, ...]:
        return _label_terms(self._scored(self._classes[index]), self._classes[index].members)

    def ranked(self, index: int) -> list[tuple[float, _Term]]:
        return _without_overlaps(self._scored(self._classes[index]), self._classes[index].members)

    def label_members(self, members: Sequence[StorySummary]) -> tuple[str, ...]:
        return _label_terms(self._scored(self._class(members)), members)

    def _class(self, members: Sequence[StorySummary], frequency: Counter[str] | None = None) -> _Class:
        """Count the members' terms (into `frequency` too, when fitting); keep those that can label the class."""
        counts: Counter[str] = Counter()
        for story in members:
            counts.update(self._vocabulary.keys(story))
        if frequency is not None:
            frequency.update(counts)
        floor = 2 if len(members) > 1 and any(count >= 2 for count in counts.values()) else 1
        return _Class(len(members), {key: count for key, count in counts.items() if count >= floor}, members)

    def _scored(self, group: _Class) -> list[tuple[float, _Term]]:
        dominated = _dominated(group.counts)
        average = self.terms_per_class or sum(group.counts.values())
        scored = []
        for key, count in group.counts.items():
            if key in dominated:
                continue
            term = self._vocabulary.term(key)
            frequency = max(self._frequency.get(key, 0), count)
            weight = count / group.size * math.log(1 + average / frequency) * (NAME_BOOST if term.name else 1.0)
            scored.append((weight, term))
        scored.sort(key=lambda pair: (-pair[0], -len(pair[1].key), pair[1].key))
        return scored


def _dominated(counts: Mapping[str, int]) -> set[str]:
    """Terms inside a longer kept term that carries at least DOMINANCE of their stories."""
    dominated: set[str] = set()
    for key, count in counts.items():
        for part in _parts(key):
            if part in counts and count >= DOMINANCE * counts[part]:
                dominated.add(part)
    return dominated


def _parts(key: str) -> list[str]:
    """The shorter terms a term contains: the words of an English pair, the 2–4-grams of a Chinese term."""
    if " " in key:
        head, tail = key.split(" ", 1)
        start, last = key.rsplit(" ", 1)
        return [head, tail, start, last]
    if not _HAN_RUN.fullmatch(key) or len(key) < 3:
        return []
    return [key[i : i + n] for n in range(2, min(4, len(key) - 1) + 1) for i in range(len(key) - n + 1)]


def _without_overlaps(
    scored: Sequence[tuple[float, _Term]], members: Sequence[StorySummary]
) -> list[tuple[float, _Term]]:
    """The ranking without terms that repeat a better one, overlapping Chinese n-grams joined into one word.

    N-grams that overlap in the headlines ("视频生成", "生成模型") and weigh about the same were one
    word there ("视频生成模型"); a weaker overlapping one is a fragment of the better and is dropped.
    """
    headlines = [f"{story.title_en} {story.title_zh} {story.title}" for story in members]
    chosen: list[tuple[float, _Term]] = []
    for weight, term in scored:
        for index, (kept_weight, kept) in enumerate(chosen):
            if _same_words(term, kept):
                if len(term.key) > len(kept.key) and weight >= DOMINANCE * kept_weight:
                    chosen[index] = (kept_weight, term)
                break
            joined = _joined(kept, term, headlines)
            if joined is not None:
                if weight >= DOMINANCE * kept_weight:
                    chosen[index] = (kept_weight, joined)
                break
        else:
            chosen.append((weight, term))
    return chosen


def _joined(kept: _Term, term: _Term, headlines: Sequence[str]) -> _Term | None:
    """`kept` grown by `term` when the two overlap in a headline; the longer when one contains the other; else None."""
    if kept.lang != "zh" or term.lang != "zh":
        return None
    if term.key in kept.key:
        return kept
    if kept.key in term.key:
        return term
    for overlap in range(min(len(kept.key), len(term.key)) - 1, 0, -1):
        for left, right in ((kept.key, term.key), (term.key, kept.key)):
            if left[-overlap:] == right[:overlap]:
                whole = left + right[overlap:]
                if any(whole in headline for headline in headlines):
                    return _Term(whole, whole, "zh", kept.name or term.name)
    return None


def _label_terms(scored: Sequence[tuple[float, _Term]], members: Sequence[StorySummary]) -> tuple[str, ...]:
    """The best LABEL_TERMS terms, with each language that has a candidate represented."""
    ranked = _without_overlaps(scored, members)
    picks: list[tuple[float, _Term]] = []
    for lang in ("en", "zh"):
        best = next((pair for pair in ranked if pair[1].lang == lang), None)
        if best is not None:
            picks.append(best)
    picks += [pair for pair in ranked if pair not in picks][: max(LABEL_TERMS - len(picks), 0)]
    picks.sort(key=lambda pair: -pair[0])
    return tuple(term.text for _, term in picks[:LABEL_TERMS])


def _same_words(term: _Term, other: _Term) -> bool:
    """An English word inside an English pair (either way round) repeats it."""
    if term.lang != "en" or other.lang != "en":
        return False
    return f" {term.key} " in f" {other.key} " or f" {other.key} " in f" {term.key} "


# -- theme suggestions -----------------------------------------------------------------------


def _slug(terms: Sequence[tuple[float, _Term]], topic: Topic, taken: Collection[str]) -> str:
    """Named by its best English term that is not a name (a theme is a subject, not a company), or its best."""
    english = [term for _, term in terms if term.lang == "en"]
    chosen = next((term for term in english if not term.name), english[0] if english else None)
    english_key = chosen.key if chosen else ""
    base = re.sub(r"[^a-z0-9]+", "_", english_key).strip("_") or f"topic_{topic.representative_id}"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def _theme_entry(terms: Sequence[tuple[float, _Term]], members: Sequence[StorySummary]) -> dict[str, object]:
    english = [term.text for _, term in terms if term.lang == "en"][:SUGGEST_KEYWORDS]
    chinese = [term.text for _, term in terms if term.lang == "zh"][:SUGGEST_KEYWORDS]
    examples = list(dict.fromkeys(t for story in members for t in (story.title_en, story.title_zh) if t))
    lead = members[0].title_in("en") if members else ""
    description = f"News about {', '.join(english[:3]) or 'this topic'}, such as: {lead}"
    if chinese:
        description += f" 关于{'、'.join(chinese[:3])}的新闻。"
    return {
        "description": description,
        "keywords": {"en": english, "zh": chinese},
        "examples": examples[:SUGGEST_EXAMPLES],
    }
