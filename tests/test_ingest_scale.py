"""Ingest at volume: a big batch tells the same stories as one entry at a time, a huge feed is taken
in bounded chunks without losing an entry, and a command that only reads leaves the index file alone."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from feedserver import FeedServer

from bot.cli import main
from bot.core.config import FetchConfig, Settings, SourceConfig, load_settings, resolve_paths
from bot.core.models import RawEntry
from bot.demo import FEEDS_DIR
from bot.ingest.embed import UseEmbedder
from bot.ingest.harvest import fetch_pass
from bot.ingest.normalize import normalize
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.ingest.sources.rss import parse_feed

REPO = Path(__file__).resolve().parents[1]


def demo_entries() -> list[RawEntry]:
    fetched = datetime(2025, 1, 1, tzinfo=UTC)
    entries: list[RawEntry] = []
    for path in sorted(FEEDS_DIR.glob("*.xml")):
        entries.extend(parse_feed(path.read_bytes(), {}, path.stem, fetched)[0])
    return entries


def stories_by_link(pipeline: Pipeline) -> set[frozenset[str]]:
    """The partition of stored items into stories, by link (ids differ between stores)."""
    stories: dict[int, set[str]] = {}
    for row in pipeline.store._db.execute("SELECT url, story_id FROM items"):
        stories.setdefault(row["story_id"], set()).add(row["url"])
    return {frozenset(links) for links in stories.values()}


def test_a_big_batch_tells_the_same_stories_as_one_entry_at_a_time(tmp_path, embedder):
    """More entries than one block of the batch index, so both the block product and the FAISS pool
    of earlier rows are used; the bundled labeled feeds twice, the copy a month later under new links."""
    entries = demo_entries()
    later = [
        replace(
            e,
            link=f"https://later.example/{n}",
            guid=f"later-{n}",
            arxiv_id="",
            published=e.published + timedelta(days=30),
        )
        for n, e in enumerate(entries)
        if e.published
    ]
    batch = sorted([*entries, *later], key=lambda e: e.published or datetime.min.replace(tzinfo=UTC))
    assert len(batch) > 300

    whole, _ = open_pipeline(Settings(), resolve_paths(tmp_path / "whole"), embedder=embedder)
    whole.ingest(batch)
    one_by_one, _ = open_pipeline(Settings(), resolve_paths(tmp_path / "single"), embedder=embedder)
    for entry in batch:
        one_by_one.ingest([entry])

    together = stories_by_link(whole)
    assert sum(len(story) for story in together) == len(batch)
    assert any(len(story) > 2 for story in together)  # stories were really joined, not all singletons
    assert together == stories_by_link(one_by_one)


def big_feed(count: int, now: datetime) -> bytes:
    items = "".join(
        f"<item><title>Entry {n}: lab {n % 97} ships model v{n}</title><link>https://big.example/{n}</link>"
        f"<guid>https://big.example/{n}</guid><pubDate>{email.utils.format_datetime(now - timedelta(hours=n))}"
        f"</pubDate><description>Release note number {n} about robotics and chips.</description></item>"
        for n in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()


def test_a_feed_larger_than_the_cap_is_stored_over_passes_and_nothing_is_lost(
    tmp_path, embedder, feed_server: FeedServer
):
    now = datetime.now(UTC)
    url = feed_server.serve("/big.xml", big_feed(25, now), etag='"big-1"')
    settings = Settings(
        sources=(SourceConfig(name="big", kind="rss", url=url),),
        fetch=FetchConfig(allow_private=True, max_entries_per_pass=10),
    )
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=embedder)
    news = []
    for _ in range(4):
        (outcome,) = asyncio.run(fetch_pass(settings, pipeline, settings.sources))
        news.append((outcome.report.new, outcome.report.deferred))
        if outcome.report.deferred:
            assert outcome.next_due is not None and outcome.next_due <= datetime.now(UTC)  # due again at once
    assert news == [(10, 15), (10, 5), (5, 0), (0, 0)]
    links = {row["url"] for row in pipeline.store._db.execute("SELECT url FROM items")}
    assert links == {f"https://big.example/{n}" for n in range(25)}
    requests = feed_server.requests_to("/big.xml")
    assert "if-none-match" not in requests[1].headers  # a chunked feed is fetched in full, not "not modified"
    assert requests[3].headers.get("if-none-match") == '"big-1"'  # once it is all in, conditional again
    pipeline.close()


def test_a_question_does_not_rewrite_the_index_file(tmp_path, capsys, embedder, feed_server: FeedServer):
    data = tmp_path / "data"
    url = feed_server.serve("/big.xml", big_feed(20, datetime.now(UTC)))
    config = tmp_path / "sources.yaml"
    config.write_text(f"fetch:\n  allow_private: true\nsources:\n  - name: big\n    kind: rss\n    url: {url}\n")
    assert main(["--config", str(config), "--data-dir", str(data), "fetch", "--all"]) == 0
    index_file = Path(data / "index" / "items.faiss")
    before = index_file.stat()

    assert main(["--config", str(config), "--data-dir", str(data), "ask", "which lab ships a model?"]) == 0

    after = index_file.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)
    assert "big.example" in capsys.readouterr().out


class CountingEmbedder:
    """The session embedder, counting the texts it is asked to encode."""

    def __init__(self, embedder: UseEmbedder) -> None:
        self.embedder, self.name, self.dim, self.texts = embedder, embedder.name, embedder.dim, 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.embedder.encode(texts)


def test_theme_texts_are_encoded_once_per_data_dir(tmp_path, embedder):
    settings = Settings(themes=load_settings(REPO / "sources.yaml").themes)
    counting = CountingEmbedder(embedder)
    items = [normalize(entry) for entry in demo_entries()[:20]]
    vectors = embedder.encode([item.embed_text for item in items])
    encoded, labels = [], []
    for _ in range(2):
        pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=counting)
        assert pipeline.classifier is not None
        labels.append(pipeline.classifier.classify(items, vectors, [False] * len(items)))
        pipeline.close()
        encoded.append(counting.texts)
    assert encoded[0] > 0 and encoded[1] == encoded[0]  # the second start read them back
    assert labels[0] == labels[1]

    fewer = Settings(themes=dict(list(settings.themes.items())[:-1]))
    open_pipeline(fewer, resolve_paths(tmp_path), embedder=counting)[0].close()
    assert counting.texts > encoded[0]  # other theme texts: encoded afresh
