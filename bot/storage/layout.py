"""The files of the vector index inside a data dir, and what opening it repaired, named apart from
`index` so that reading them (`bot status`) or opening a pipeline that may never search does not load FAISS."""

from dataclasses import dataclass

INDEX_FILE = "items.faiss"
INDEX_META_FILE = "items.json"


@dataclass(frozen=True, slots=True)
class Repair:
    """What opening the index had to do to bring it in step with the store."""

    rebuilt: bool = False
    added: int = 0
    removed: int = 0
    reason: str = ""
