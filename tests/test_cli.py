"""The `bot` command end to end: real feeds over HTTP on 127.0.0.1 into a real data dir."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from feedserver import OWN_FEEDS, FeedServer, Reply

from bot.cli import main

REPO = Path(__file__).resolve().parents[1]


def write_config(path: Path, sources: list[dict]) -> Path:
    lines = [
        "fetch:",
        "  allow_private: true  # the test feeds are served on 127.0.0.1",
        "  total_timeout: 5s",
        "sources:",
    ]
    for source in sources:
        lines.append(f"  - name: {source['name']}")
        for key, value in source.items():
            if key != "name":
                lines.append(f"    {key}: {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def two_feeds(feed_server: FeedServer, tmp_path: Path) -> tuple[Path, Path]:
    feed_server.serve_file("/en.xml", OWN_FEEDS / "rss20_ai_news.xml", etag='"en-1"')
    feed_server.serve_file("/zh.xml", OWN_FEEDS / "zh_gb2312_prolog.xml", content_type="application/xml", etag='"zh-1"')
    config = write_config(
        tmp_path / "sources.yaml",
        [
            {"name": "en_news", "kind": "rss", "url": feed_server.url("/en.xml")},
            {"name": "zh_news", "kind": "rss", "url": feed_server.url("/zh.xml"), "lang": "zh"},
        ],
    )
    return config, tmp_path / "data"


def fetch_json(capsys, config: Path, data: Path, *extra: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "--config", str(config), "--data-dir", str(data), "fetch", "--json", *extra)
    return code, json.loads(out)


def items_in(data: Path) -> int:
    with sqlite3.connect(data / "bot.db") as db:
        return db.execute("SELECT count(*) FROM items").fetchone()[0]


def test_fetch_stores_both_languages_and_refetch_is_not_modified(capsys, feed_server, two_feeds):
    config, data = two_feeds
    code, first = fetch_json(capsys, config, data)
    assert code == 0
    by_name = {s["name"]: s for s in first["sources"]}
    assert by_name["en_news"]["status"] == "ok" and by_name["en_news"]["new"] == 3
    assert by_name["zh_news"]["status"] == "ok" and by_name["zh_news"]["new"] >= 2
    stored = items_in(data)
    assert stored == first["new"]
    with sqlite3.connect(data / "bot.db") as db:
        assert {row[0] for row in db.execute("SELECT DISTINCT lang FROM items")} == {"en", "zh"}

    code, second = fetch_json(capsys, config, data, "--all")  # a restart: a new process state, same data dir
    assert code == 0
    assert {s["status"] for s in second["sources"]} == {"not_modified"}
    assert feed_server.requests_to("/en.xml")[-1].headers["if-none-match"] == '"en-1"'
    assert items_in(data) == stored


def test_nothing_is_due_right_after_a_fetch(capsys, two_feeds):
    config, data = two_feeds
    fetch_json(capsys, config, data)
    code, out, _ = run(capsys, "--config", str(config), "--data-dir", str(data), "fetch")
    assert code == 0 and "Nothing is due" in out


def test_a_failing_source_is_recorded_and_the_others_go_on(capsys, feed_server, tmp_path):
    feed_server.serve_file("/good.xml", OWN_FEEDS / "atom10_lab_blog.xml")
    feed_server.script("/bad.xml", [Reply(status=503, headers={"Retry-After": "120"})] * 3)
    config = write_config(
        tmp_path / "sources.yaml",
        [
            {"name": "good", "kind": "rss", "url": feed_server.url("/good.xml")},
            {"name": "bad", "kind": "rss", "url": feed_server.url("/bad.xml")},
        ],
    )
    data = tmp_path / "data"
    code, result = fetch_json(capsys, config, data)
    assert code == 0
    by_name = {s["name"]: s for s in result["sources"]}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["new"] > 0
    assert by_name["bad"]["status"] == "error" and "503" in by_name["bad"]["error"]

    code, out, _ = run(capsys, "--config", str(config), "--data-dir", str(data), "sources", "list", "--json")
    health = {s["name"]: s for s in json.loads(out)["sources"]}
    assert health["bad"]["consecutive_errors"] == 1 and "503" in health["bad"]["last_error"]
    assert health["bad"]["next_due"] > health["bad"]["last_attempt"]
    assert health["good"]["consecutive_errors"] == 0 and health["good"]["items"] == by_name["good"]["new"]

    code, out, _ = run(capsys, "--config", str(config), "--data-dir", str(data), "sources", "list")
    assert "HTTP 503" in out and "good" in out


def test_every_source_failing_exits_1(capsys, feed_server, tmp_path):
    feed_server.script("/down.xml", [Reply(status=500)])
    config = write_config(tmp_path / "s.yaml", [{"name": "down", "kind": "rss", "url": feed_server.url("/down.xml")}])
    code, result = fetch_json(capsys, config, tmp_path / "data")
    assert code == 1 and result["errors"] == 1


def test_deleted_index_is_rebuilt_on_the_next_run_that_uses_it(capsys, two_feeds):
    config, data = two_feeds
    fetch_json(capsys, config, data)
    shutil.rmtree(data / "index")
    code, _ = fetch_json(capsys, config, data, "--all")
    assert code == 0 and not (data / "index").exists()  # nothing new: the index was not even opened
    code, _, _ = run(capsys, "--config", str(config), "--data-dir", str(data), "ask", "which lab released a model?")
    assert code == 0
    meta = json.loads((data / "index" / "items.json").read_text())
    assert meta["count"] == items_in(data)


def test_sources_check_reports_the_bad_entry_and_field(capsys, tmp_path):
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  - name: ok\n    kind: rss\n    url: https://a.example/feed\n"
        "  - name: broken\n    kind: rss\n    url: ftp://b.example/feed\n"
    )
    code, _, err = run(capsys, "--config", str(config), "sources", "check")
    assert code == 2
    assert "sources[1] ('broken'), field 'url'" in err and "http(s)://" in err


def test_sources_check_accepts_the_shipped_config(capsys):
    code, out, _ = run(capsys, "--config", str(REPO / "sources.yaml"), "sources", "check")
    assert code == 0 and "OK" in out and "6 themes" in out


def test_unknown_source_name_is_a_usage_error(capsys, two_feeds):
    config, data = two_feeds
    code, _, err = run(capsys, "--config", str(config), "--data-dir", str(data), "fetch", "--source", "nope")
    assert code == 2 and "nope" in err


@pytest.mark.slow
def test_demo_runs_offline_and_shows_both_languages_and_duplicate_groups(tmp_path):
    """`python -m bot demo` as a user runs it: a subprocess, the shipped config, no network."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--data-dir", str(tmp_path), "demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Stored 219 items (en 115, zh 104)" in out
    assert "Largest stories" in out and "outlets" in out
    assert out.count("Search: ") == 2
    assert "[zh]" in out and "[en]" in out


def test_after_the_demo_the_next_commands_work_and_reading_never_creates_a_store(tmp_path, monkeypatch, capsys):
    """A new user in a fresh directory: `bot demo`, then the commands it suggests; a read-only command
    without `--data-dir` names the exact command for the demo's data and leaves no empty store behind."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "sources.yaml", tmp_path / "sources.yaml")
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    suggested = [line.strip() for line in out.split("Try it on the demo's data next:")[1].splitlines() if line.strip()]
    assert suggested[0] == "bot --data-dir data/demo ask 'Who left OpenAI?'"
    code, out, err = run(capsys, "ask", "Who left OpenAI?")
    assert code == 2 and "bot --data-dir data/demo ask 'Who left OpenAI?'" in err
    code, out, err = run(capsys, "status")  # status still reports (an empty data dir) and names the command
    assert "items        0" in out and "bot --data-dir data/demo status" in err
    assert not (tmp_path / "data" / "bot.db").exists()
    for line in suggested:
        code, out, err = run(capsys, *shlex.split(line)[1:])
        assert code == 0 and out.strip(), (line, err)
    code, out, _ = run(capsys, *shlex.split(suggested[0])[1:])
    assert "Karpathy" in out and "Nothing found" not in out
    code, out, _ = run(capsys, "--data-dir", "data/demo", "ask", "Claude 3 release", "--json")
    citations = json.loads(out)["citations"]  # search ranks Claude 2 close to Claude 3; the named version leads
    assert "Claude 3 family" in citations[0]["title"] and "Claude 2" in citations[1]["title"]
    assert all(c["published"] and c["summary"] for c in citations)
    code, out, _ = run(capsys, "--data-dir", "data/demo", "trends", "--json")  # dated to end today: alive
    assert sum(sum(counts) for counts in json.loads(out)["counts"].values()) >= 10
    code, out, _ = run(capsys, "--data-dir", "data/demo", "digest", "--weekly")
    assert code == 0 and "this week" in out


def test_sources_check_refuses_an_empty_config_and_yaml_errors_name_the_file(tmp_path, capsys):
    empty = tmp_path / "sources.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(empty), "sources", "check")
    assert code == 2 and f"{empty}: no sources configured" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources:\n  - name: a\n    url: [unclosed\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(broken), "sources", "check")
    assert code == 2 and f"{broken}, line 4, column 1: not valid YAML" in err and "<unicode string>" not in err


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`bot sources list | head -1`: the reader leaves after one line; no BrokenPipeError traceback."""
    config = write_config(
        tmp_path / "sources.yaml",
        [{"name": f"s{n}", "kind": "rss", "url": f"https://s{n}.example/feed"} for n in range(3000)],
    )
    (tmp_path / "data").mkdir()
    sqlite3.connect(tmp_path / "data" / "bot.db").close()
    command = [
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        "sources",
        "list",
    ]
    writer = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.readline()
    writer.stdout.close()  # what `head -1` does once it has its line
    _, err = writer.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert writer.returncode == 0
