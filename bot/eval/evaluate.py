"""`bot eval`: replay a labeled set through the real pipeline and score it (../shared/eval format).

The items go through exactly the code path of a live fetch — `RawEntry` → normalize → embed →
dedup → themes and people → store + index — into a temporary data dir, in publication order
and in daily batches, the way a monitor that fetches every day would have seen them. Only
the scoring (bot/eval/metrics.py) is specific to evaluation. The labels never reach the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.config import Settings, resolve_paths
from bot.core.errors import ConfigError, FetchError
from bot.core.models import OTHER_THEME as FALLBACK_THEME
from bot.core.models import RawEntry
from bot.core.params import Params
from bot.eval.metrics import (
    PRF,
    NameCanon,
    bcubed,
    classification,
    multilabel_micro_f1,
    pairwise,
    people_moves,
    recall_at,
    reciprocal_rank,
)
from bot.ingest.dedup import DedupParams
from bot.ingest.embed import Embedder
from bot.ingest.normalize import normalize
from bot.ingest.people import Move, resolve_story_moves
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.ingest.sources.rss import parse_feed
from bot.ingest.themes import ThemeParams
from bot.query.search import TEXT_ONLY, VECTOR_ONLY, Candidates, Filters, Weights, gather, rank_stories

THEMES = ("llm", "multimodal", "world_models", "bidding", "people_moves", "other")


@dataclass(frozen=True, slots=True)
class LabeledItem:
    id: str
    story: str
    raw: RawEntry
    theme: str | None
    themes: frozenset[str]
    moves: frozenset[tuple[str, str]]


def load_items(directory: Path) -> list[LabeledItem]:
    path = directory / "items.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (expected a labeled set in the ../shared/eval format)") from None
    return [_labeled(json.loads(line), path, number) for number, line in enumerate(lines, 1) if line.strip()]


def _labeled(row: dict[str, Any], path: Path, number: int) -> LabeledItem:
    try:
        published = datetime.fromisoformat(row["published"])
        raw = RawEntry(
            source=row["source"],
            title=row["title"],
            link=row["url"],
            guid=row["url"],
            summary_html=row.get("summary", ""),
            published=published,
            fetched_at=published,
            lang_hint=row.get("lang", ""),
        )
        moves = frozenset((m["person"], m.get("to", "")) for m in row.get("people_moves") or [])
        return LabeledItem(row["id"], row["story"], raw, row.get("theme"), frozenset(row.get("themes") or []), moves)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}:{number}: not a labeled item: {exc!r}") from None


def load_distractors(folder: Path, labeled: Sequence[LabeledItem]) -> list[LabeledItem]:
    """Every entry of every feed document under `folder`, as unlabeled items (FORMAT.md: `theme: null`).

    A ~200-item labeled set flatters a deduper and a search engine; real streams carry thousands
    of same-domain entries that look alike without being the same event. These are real entries
    parsed by the bot's own feed parser. Each is its own story (they come from unrelated
    archives), and each is counted once: an entry repeated across documents (same link, GUID or
    title) is kept the first time. Their real dates lie years away from the labeled events, so each
    is moved to a moment inside the labeled period, fixed by a hash of its link — the same run
    every time — where it competes with the labeled items in dedup's time window and in search.
    """
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() != ".md")
    if not files:
        raise ConfigError(f"{folder}: no feed documents found (expected RSS/Atom files, e.g. ../shared/fixtures/feeds)")
    dates = [_utc(item.raw.fetched_at) for item in labeled]
    start, span = min(dates), max(dates) - min(dates) or timedelta(days=1)
    seconds = int(span.total_seconds())
    seen = {key for item in labeled for key in normalize(item.raw).identities()}
    distractors: list[LabeledItem] = []
    for path in files:
        try:
            entries, _ = parse_feed(path.read_bytes(), {}, f"{path.parent.name}-{path.stem}"[:60], start)
        except FetchError:
            continue  # an HTML page or an empty reply among the documents: not a feed, nothing to add
        for entry in entries:
            keys = {*normalize(entry).identities(), "title:" + entry.title.strip().casefold()}
            if len(entry.title.strip()) < 8 or keys & seen:
                continue
            seen |= keys
            moment = start + timedelta(seconds=_stable_hash(entry.link or entry.guid or entry.title) % seconds)
            ident = f"distractor-{len(distractors) + 1}"
            raw = replace(entry, published=moment, updated=None, fetched_at=moment)
            distractors.append(LabeledItem(ident, ident, raw, None, frozenset(), frozenset()))
    return distractors


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def replay(pipeline: Pipeline, items: Sequence[LabeledItem]) -> None:
    """Ingest in publication order, one batch per UTC day, as a daily fetch would.

    Labeled items are "fetched" when they were published (see `_labeled`), so this is publication order.
    """
    ordered = sorted(items, key=lambda item: _utc(item.raw.fetched_at))
    for _, day in groupby(ordered, key=lambda item: _utc(item.raw.fetched_at).date()):
        pipeline.ingest([item.raw for item in day])


@dataclass(frozen=True, slots=True)
class Fitted:
    """The fitted parameters, typed: what `bot/core/params.json` holds, or what a fit just produced."""

    dedup: DedupParams
    themes: ThemeParams
    search: Weights

    @classmethod
    def shipped(cls) -> Fitted:
        return cls(DedupParams.load(), ThemeParams.load(), Weights.load())

    def to_params(self, fitted_on: Sequence[str]) -> Params:
        return Params(tuple(fitted_on), self.dedup.to_dict(), self.themes.to_dict(), self.search.to_dict())


@dataclass(slots=True)
class Replay:
    """A labeled set replayed into a scratch data dir: the pipeline, every item, what the store says."""

    pipeline: Pipeline
    items: list[LabeledItem]
    predicted: dict[str, _Prediction]


@contextmanager
def replayed(
    directory: Path,
    settings: Settings,
    embedder: Embedder | None,
    fitted: Fitted,
    noise: Sequence[LabeledItem] = (),
    data_dir: Path | None = None,
) -> Iterator[Replay]:
    """Replay the labeled set in `directory` (plus `noise`) under `fitted`; the store closes on exit."""
    items = [*load_items(directory), *noise]
    with tempfile.TemporaryDirectory(prefix="bot-eval-") as scratch:
        paths = resolve_paths(data_dir or scratch)
        pipeline, _ = open_pipeline(settings, paths, embedder=embedder)
        pipeline.params = fitted.dedup
        if pipeline.classifier is not None:
            pipeline.classifier.params = fitted.themes
        try:
            replay(pipeline, items)
            yield Replay(pipeline, items, _predictions(pipeline, items))
        finally:
            pipeline.store.close()


def evaluate(
    directory: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    fitted: Fitted | None = None,
    data_dir: Path | None = None,
    search_baselines: bool = False,
    noise: Sequence[LabeledItem] = (),
) -> dict[str, Any]:
    """Replay the labeled set in `directory` (plus `noise`, unlabeled items from `load_distractors`)
    under `fitted` (default: the shipped parameters) and return the metrics object `bot eval --json` prints."""
    started = time.monotonic()
    fitted = fitted or Fitted.shipped()
    with replayed(directory, settings, embedder, fitted, noise, data_dir) as run:
        found = gathered(run, directory)
        search_block = search_scores(found, fitted.search)
        if search_baselines:
            baselines = {
                name: search_scores(found, weights)
                for name, weights in (("vector_only", VECTOR_ONLY), ("text_only", TEXT_ONLY))
            }
    result = _score(run.items, run.predicted, _aliases(directory))
    result["search"] = search_block
    result["distractors"] = len(noise)
    if search_baselines:
        result["search_baselines"] = baselines
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


@dataclass(frozen=True, slots=True)
class _Prediction:
    story: int
    theme: str
    themes: frozenset[str]
    moves: tuple[Move, ...]


def _predictions(pipeline: Pipeline, items: Sequence[LabeledItem]) -> dict[str, _Prediction]:
    """What the store says about each labeled item, found by its identities (URL, GUID)."""
    item_ids = {}
    for item in items:
        found = pipeline.store.lookup_keys(normalize(item.raw).identities())
        item_ids[item.id] = next(iter(found.values()))
    views = pipeline.store.item_story_views(item_ids.values())
    predicted = {}
    for labeled_id, item_id in item_ids.items():
        view = views[item_id]
        predicted[labeled_id] = _Prediction(
            story=view.story_id,
            theme=view.story_primary_theme,
            themes=frozenset(view.story_themes),
            moves=tuple(Move(**move) for move in view.item_moves),
        )
    return predicted


def _score(items: Sequence[LabeledItem], predicted: dict[str, _Prediction], canon: NameCanon) -> dict[str, Any]:
    true_stories = [item.story for item in items]
    pred_stories = [predicted[item.id].story for item in items]
    pair, cube = pairwise(true_stories, pred_stories), bcubed(true_stories, pred_stories)
    themed = [item for item in items if item.theme]
    moves = _people_scores(items, predicted, canon)
    return {
        "items": len(items),
        "stories_true": len(set(true_stories)),
        "stories_pred": len(set(pred_stories)),
        "dedup": {
            "pairwise_precision": round(pair.precision, 4),
            "pairwise_recall": round(pair.recall, 4),
            "pairwise_f1": round(pair.f1, 4),
            "bcubed_f1": round(cube.f1, 4),
        },
        "themes": _themes_block(themed, predicted) if themed else None,
        "people_moves": {
            "precision": round(moves.precision, 4),
            "recall": round(moves.recall, 4),
            "f1": round(moves.f1, 4),
        }
        if moves is not None
        else None,
    }


def _themes_block(themed: Sequence[LabeledItem], predicted: dict[str, _Prediction]) -> dict[str, Any]:
    true, pred = [i.theme or "" for i in themed], [predicted[i.id].theme for i in themed]
    scores = classification(true, pred, THEMES, fallback=FALLBACK_THEME)
    micro = multilabel_micro_f1([set(i.themes) for i in themed], [set(predicted[i.id].themes) for i in themed])
    return {
        "accuracy": round(float(scores["accuracy"]), 4),  # type: ignore[arg-type]
        "macro_f1": round(float(scores["macro_f1"]), 4),  # type: ignore[arg-type]
        "micro_f1_multi": round(micro, 4),
        "named_precision": round(float(scores["named_precision"]), 4),  # type: ignore[arg-type]
        "named_recall": round(float(scores["named_recall"]), 4),  # type: ignore[arg-type]
        "per_theme": scores["per_theme"],
        "per_theme_precision": scores["per_theme_precision"],
        "per_theme_recall": scores["per_theme_recall"],
    }


def _people_scores(items: Sequence[LabeledItem], predicted: dict[str, _Prediction], canon: NameCanon) -> PRF | None:
    """FORMAT.md: per true story, gold = union of labels, predicted = moves extracted from its items.

    None for a set that labels no move at all (nothing to recall, so no score to report).
    """
    labeled = [item for item in items if item.theme is not None]
    if not any(item.moves for item in labeled):
        return None
    gold: dict[str, set[tuple[str, str]]] = defaultdict(set)
    extracted: dict[str, list[list[Move]]] = defaultdict(list)
    for item in labeled:
        gold[item.story] |= item.moves
        extracted[item.story].append(list(predicted[item.id].moves))
    found = {
        story: {(move.person, move.to_org) for move in resolve_story_moves(per_item)}
        for story, per_item in extracted.items()
    }
    return people_moves(gold, found, canon)


def _aliases(directory: Path) -> NameCanon:
    path = directory / "aliases.json"
    return NameCanon(json.loads(path.read_text(encoding="utf-8")) if path.exists() else {})


@dataclass(frozen=True, slots=True)
class Gathered:
    """Each question of a replayed set with its search candidates, and which true stories each
    predicted story holds (a found story counts as the true stories of its items)."""

    queries: list[tuple[dict[str, Any], Candidates]]
    truth: dict[int, Counter[str]]


def gathered(run: Replay, directory: Path) -> Gathered | None:
    """Search candidates for every question of queries.jsonl, or None for a set without questions."""
    path = directory / "queries.jsonl"
    if not path.exists():
        return None
    queries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    truth: dict[int, Counter[str]] = defaultdict(Counter)
    for item in run.items:
        truth[run.predicted[item.id].story][item.story] += 1
    return Gathered([(query, gather(run.pipeline, query["query"])) for query in queries], truth)


def search_scores(found: Gathered | None, weights: Weights) -> dict[str, float] | None:
    """Story-level recall@5 and MRR of the top 10 under `weights`."""
    if found is None:
        return None
    recalls, ranks, crosslingual = [], [], []
    for query, candidates in found.queries:
        relevant = set(query["relevant_stories"])
        ranked: list[str] = []
        for story, _ in rank_stories(candidates, weights, Filters())[:10]:
            ranked += [true for true, _ in found.truth[story].most_common() if true not in ranked]
        recalls.append(recall_at(ranked, relevant, 5))
        ranks.append(reciprocal_rank(ranked, relevant))
        if query.get("kind") == "crosslingual":
            crosslingual.append(recalls[-1])
    return {
        "recall@5": round(sum(recalls) / len(recalls), 4) if recalls else 0.0,
        "mrr": round(sum(ranks) / len(ranks), 4) if ranks else 0.0,
        "crosslingual_recall@5": round(sum(crosslingual) / len(crosslingual), 4) if crosslingual else 0.0,
    }


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


SCORED_BLOCKS = ("dedup", "themes", "people_moves", "search")


def discover_sets(root: Path) -> list[Path]:
    """Every labeled set under `root`: the folders whose name starts with `eval` and hold items.jsonl."""
    found = sorted(path for path in root.glob("eval*") if (path / "items.jsonl").is_file())
    if not found:
        raise ConfigError(f"{root}: no labeled sets found (folders named eval* with an items.jsonl)")
    return found


def summarize(results: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """`worst` and `mean` of every scalar score over the sets that have the block.

    A set without a block is left out of that block's figures rather than counted as a zero. A set
    without questions is not a labeled period but real feed entries labeled with themes
    (eval-real, FORMAT.md): only its themes count here (its other figures are still reported).
    """
    worst: dict[str, dict[str, float]] = {}
    mean: dict[str, dict[str, float]] = {}
    for block in SCORED_BLOCKS:
        present = [
            result[block]
            for result in results.values()
            if result.get(block) and (block == "themes" or result.get("search") is not None)
        ]
        if not present:
            continue
        keys = [key for key, value in present[0].items() if isinstance(value, int | float)]
        worst[block] = {key: min(scores[key] for scores in present) for key in keys}
        mean[block] = {key: round(sum(scores[key] for scores in present) / len(present), 4) for key in keys}
    return {"worst": worst, "mean": mean}


class CachedEmbedder:
    """Wraps an embedder so each distinct text is embedded once per process.

    `bot eval` over several sets, `--fit` and `--cross` replay the same texts many times;
    the forward pass is the cost (shared/notes/embeddings.md), so it is paid once.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self._vectors: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[text] for text in texts]).astype(np.float32)
