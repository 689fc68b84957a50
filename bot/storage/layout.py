"""The files of the vector index inside a data dir, named apart from `index` so that reading
them (`bot status`) does not load FAISS."""

INDEX_FILE = "items.faiss"
INDEX_META_FILE = "items.json"
