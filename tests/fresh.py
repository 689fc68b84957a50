"""Which modules a command or an import brings in, asked of a fresh interpreter (the test process
has long since imported everything)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path


def imported_by(statements: str, watched: Iterable[str], cwd: Path | None = None) -> tuple[list[str], list[str]]:
    """Run `statements` in a fresh interpreter: (which of `watched` it then holds, the lines it printed)."""
    report = f"import json, sys\nprint(json.dumps(sorted(m for m in {sorted(watched)!r} if m in sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", f"{statements}\n{report}"], cwd=cwd, capture_output=True, text=True, check=True
    )
    *printed, loaded = result.stdout.strip().splitlines()
    return json.loads(loaded), printed


def command_imports(
    args: Sequence[str], watched: Iterable[str], cwd: Path | None = None
) -> tuple[int, list[str], list[str]]:
    """`bot <args>` in a fresh interpreter: (its exit code, which of `watched` it imported, what it printed)."""
    loaded, printed = imported_by(f"from bot.cli import main\nprint(main({list(args)!r}))", watched, cwd)
    return int(printed[-1]), loaded, printed[:-1]
