"""The fitted parameters of dedup, themes and search ranking: one JSON file shipped with the package.

Every number that tunes how items become stories, which theme they get and how answers are
ranked is chosen by code on labeled periods (`bot eval --fit`, bot/eval/fitting.py) and judged on a
period left out (`bot eval --cross`), never set by hand; the file records which sets it was fit
on. This module only reads and writes the file; each consumer turns its section into its own
typed parameters (`DedupParams.from_dict`, `ThemeParams.from_dict`, `Weights.from_dict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.core.errors import ConfigError

PARAMS_FILE = Path(__file__).with_name("params.json")
DIGITS = 4  # rounding of every written number: the same fit writes the same bytes on any machine


@dataclass(frozen=True, slots=True)
class Params:
    fitted_on: tuple[str, ...]
    dedup: dict[str, Any]
    themes: dict[str, Any]
    search: dict[str, Any]

    def body(self) -> dict[str, Any]:
        """The file's content as one object, numbers rounded."""
        body = {"fitted_on": list(self.fitted_on), "dedup": self.dedup, "themes": self.themes, "search": self.search}
        return _rounded(body)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """Sorted keys, rounded numbers, one trailing newline: same parameters, same bytes."""
        return json.dumps(self.body(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str = "parameters") -> Params:
        try:
            body = json.loads(text)
            return cls(tuple(body["fitted_on"]), body["dedup"], body["themes"], body["search"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: not a parameters file ({exc!r}); rewrite it with `bot eval --fit`") from None


@cache
def load_params() -> Params:
    """The shipped parameters, read once per process."""
    return Params.from_json(PARAMS_FILE.read_text(encoding="utf-8"), str(PARAMS_FILE))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value
