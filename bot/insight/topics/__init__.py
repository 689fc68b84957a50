"""Topics inside themes: which subjects the recent stories of a theme gather around, and which are emerging.

A theme (config) is coarse and fixed; topics are what fills it this fortnight ("Sora · 视频生成 · OpenAI"),
found without supervision so that a subject nobody configured still shows up. The reference is BERTopic
(cluster the documents' vectors, then label each cluster by class-based TF-IDF); the library, UMAP and
HDBSCAN are not in the core install, so this package keeps the idea with numpy and FAISS only.

The package, imports pointing one way (each module imports only those listed before it):
`model` (`Topic`, `TopicState`, `Cluster`, the tunables, the emerging rule, helpers every stage shares);
`cluster` (the numeric core: mutual-neighbour graph, components, centroid steps); `labels` (c-TF-IDF
terms over English and Chinese headlines); `recompute` (the full recompute, per theme); `incremental`
(the daily path: `assign_new`, `placeable`, `stale_labels`, `relabel`); `state` (the JSON state in the
store, `load_topic_inputs`, `refresh_topics`); `suggest` (theme candidates as YAML); and this module,
which re-exports the public API. Each module's docstring says how its part works.

The functions over stories and vectors are pure; `load_topic_inputs`, `load_state`, `save_state` and
`refresh_topics` (in `state`) are the only ones that touch the store. `faiss` is imported by `cluster`
and `incremental` for the neighbour searches, besides `bot.storage.index`.
"""

from bot.insight.topics.cluster import cluster_vectors
from bot.insight.topics.incremental import assign_new, placeable, relabel, stale_labels
from bot.insight.topics.labels import CAPITAL, LOWER, SILENT, STRONG
from bot.insight.topics.model import (
    DEFAULT_WINDOW,
    DOMINANCE,
    EMERGING_MIN,
    EMERGING_RATIO,
    EXACT_BELOW,
    FALLBACK_THEME,
    FULL_EVERY,
    IVF_PROBES,
    IVF_TRAIN_PER_LIST,
    JOIN,
    LABEL_TERMS,
    LINK,
    MIN_TOPIC,
    NAME_BOOST,
    NEIGHBOURS,
    PAIR_CHUNK,
    RECENT,
    REFINE_STEPS,
    RELABEL_GROWTH,
    STATE_KEY,
    STATE_VERSION,
    SUGGEST_EXAMPLES,
    SUGGEST_KEYWORDS,
    SUGGEST_MIN_STORIES,
    SUGGEST_TIGHTNESS,
    UNLIMITED,
    WEEK,
    Cluster,
    Topic,
    TopicState,
    emerging,
    topic_line,
)
from bot.insight.topics.recompute import find_topics, recompute_topics
from bot.insight.topics.state import (
    load_state,
    load_topic_inputs,
    refresh_topics,
    save_state,
    state_from_json,
    state_to_json,
)
from bot.insight.topics.suggest import is_theme_candidate, suggest_themes

__all__ = [
    "CAPITAL",
    "DEFAULT_WINDOW",
    "DOMINANCE",
    "EMERGING_MIN",
    "EMERGING_RATIO",
    "EXACT_BELOW",
    "FALLBACK_THEME",
    "FULL_EVERY",
    "IVF_PROBES",
    "IVF_TRAIN_PER_LIST",
    "JOIN",
    "LABEL_TERMS",
    "LINK",
    "LOWER",
    "MIN_TOPIC",
    "NAME_BOOST",
    "NEIGHBOURS",
    "PAIR_CHUNK",
    "RECENT",
    "REFINE_STEPS",
    "RELABEL_GROWTH",
    "SILENT",
    "STATE_KEY",
    "STATE_VERSION",
    "STRONG",
    "SUGGEST_EXAMPLES",
    "SUGGEST_KEYWORDS",
    "SUGGEST_MIN_STORIES",
    "SUGGEST_TIGHTNESS",
    "UNLIMITED",
    "WEEK",
    "Cluster",
    "Topic",
    "TopicState",
    "assign_new",
    "cluster_vectors",
    "emerging",
    "find_topics",
    "is_theme_candidate",
    "load_state",
    "load_topic_inputs",
    "placeable",
    "recompute_topics",
    "refresh_topics",
    "relabel",
    "save_state",
    "stale_labels",
    "state_from_json",
    "state_to_json",
    "suggest_themes",
    "topic_line",
]
