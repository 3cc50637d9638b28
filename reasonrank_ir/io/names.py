"""When a user's name means a file, and how a name becomes part of a file name."""
from __future__ import annotations

import re
from pathlib import Path

FILE_SUFFIXES = (".txt", ".tsv", ".trec", ".qrels", ".jsonl", ".json", ".gz", ".csv", ".xml", ".yaml", ".yml")


def looks_like_path(name: str) -> bool:
    """A name meant as a file or folder (``./x``, ``/x``, ``~/x``, ``qrels.txt``), never a dataset or hub name."""
    return name.startswith((".", "/", "~")) or Path(name).suffix.lower() in FILE_SUFFIXES


def slug(text: str) -> str:
    """``text`` with every run of characters unsafe in file names replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-")
