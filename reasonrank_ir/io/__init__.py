"""Readers and writers for the formats users already have: TREC runs and qrels, topics, JSONL."""
from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from reasonrank_ir.errors import ReasonRankError


def numbered_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of every non-blank line (``.gz`` read transparently), for file:line errors."""
    path = Path(path)
    if not path.is_file():
        raise ReasonRankError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line.rstrip("\n")


@contextmanager
def replaced_atomically(path: str | os.PathLike) -> Iterator[TextIO]:
    """Write ``path`` through a temporary file renamed over it once complete.

    Readers, and a job killed mid-write, see the old file or the new one, never part of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
