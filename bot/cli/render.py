"""Plain-text rendering shared by the commands: aligned tables (CJK-aware), clipped text, times."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.config import Paths
from bot.core.errors import UsageError


def parse_now(value: str | None) -> datetime:
    """`--now` as an aware UTC time (a time without a zone is taken as UTC), else the present second."""
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now must be an ISO date-time such as 2024-12-11T09:00:00Z, got {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def require_data(paths: Paths) -> None:
    """A command that reads the store needs one: say where it looked and how to make one."""
    if not paths.db.exists():
        raise UsageError(f"no data at {paths.db}; run `bot fetch` first, or point --data-dir at a data dir")


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, trailing blanks trimmed."""
    widths = [max(width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row in [header, *rows]:
        cells = [cell + " " * (size - width(cell)) for cell, size in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def width(text: str) -> int:
    """Display width: CJK characters take two terminal columns."""
    return sum(2 if "\u2e80" <= char <= "\uffef" else 1 for char in text)


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def langs(counts: dict[str, int]) -> str:
    """Counts per language: "en 3, zh 2" (or "-")."""
    return ", ".join(f"{lang} {count}" for lang, count in sorted(counts.items())) or "-"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def counted(number: int, noun: str) -> str:
    """`1 outlet`, `3 outlets`."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
