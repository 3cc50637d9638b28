"""Lucene indexes through Pyserini: building them, opening them once, reading stored passages.

This module and :mod:`reasonrank_ir.java` are the only places that touch Pyserini's Lucene classes;
everything else receives plain :class:`~reasonrank_ir.types.Candidate` records.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from reasonrank_ir.batching import batched
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.java import import_pyserini

_JAVA_BLANKS = "".join(map(chr, range(33)))
"""What Java's ``String.trim`` removes; Anserini rejects a document whose contents trim to nothing."""


def is_lucene_index(path: str | os.PathLike[str]) -> bool:
    path = Path(path)
    return path.is_dir() and any(path.glob("segments_*"))


def build_index(documents: Iterable[Mapping[str, Any]], index_dir: str | os.PathLike[str]) -> Path:
    """Index ``{"id", "contents", ...}`` records with positions, doc vectors and raw JSON stored.

    Pyserini's ``LuceneIndexer`` takes ``IndexCollection``'s options, so the index is the one
    ``python -m pyserini.index.lucene`` builds from the same JSONL; one thread keeps Lucene's document
    numbers in corpus order. It is written to a temporary sibling folder and renamed at the end, so an
    interrupted build never leaves a half index that looks complete.
    """
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    import_pyserini("pyserini.search.lucene")
    from pyserini.index.lucene import LuceneIndexer

    with tempfile.TemporaryDirectory(dir=index_dir.parent, prefix=f".{index_dir.name}-") as scratch, \
            _java_output_on_stderr():
        staging = Path(scratch) / "index"
        indexer = LuceneIndexer(args=["-index", str(staging), "-storePositions", "-storeDocvectors",
                                      "-storeRaw"], threads=1)
        count = 0
        try:
            for batch in _batches(documents, 1000):
                indexer.add_batch_raw(batch)
                count += len(batch)
        finally:
            indexer.close()  # releases Lucene's write lock even when reading the corpus failed
        if not count:
            raise ReasonRankError(f"nothing to index for {index_dir}: the corpus has no documents")
        if not is_lucene_index(staging):
            raise ReasonRankError(f"Anserini did not produce an index for {index_dir}")
        if index_dir.exists():
            shutil.rmtree(index_dir)
        staging.rename(index_dir)
    return index_dir


@contextmanager
def _java_output_on_stderr() -> Iterator[None]:
    """Anserini's indexer logs to the process's stdout, which carries the CLIs' results: send it to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _batches(documents: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[str]]:
    """JSON lines in batches, leaving out documents with blank contents as ``IndexCollection`` does."""
    return batched((json.dumps(doc, ensure_ascii=False) for doc in documents
                    if str(doc.get("contents", "")).strip(_JAVA_BLANKS)), size)


class LuceneIndex:
    """A Lucene index opened once per process; reads passages back as stored JSON fields."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        if not is_lucene_index(self.path):
            raise ReasonRankError(f"{self.path} is not a Lucene index (no segments_* file)")
        lucene = import_pyserini("pyserini.search.lucene")
        self.searcher = lucene.LuceneSearcher(self.path)

    @classmethod
    @cache
    def open(cls, path: str) -> LuceneIndex:
        """The shared instance for ``path``: one JVM searcher per index, not one per call."""
        return cls(os.path.realpath(path))

    @property
    def num_docs(self) -> int:
        return int(self.searcher.num_docs)

    def doc_id_at(self, position: int) -> str:
        """The id of the document with Lucene's internal number ``position`` (for sampling)."""
        return str(self.searcher.doc(position).docid())

    def doc(self, doc_id: str) -> dict[str, Any] | None:
        """Stored fields: the raw JSON record when stored, else ``{"contents": ...}``."""
        document = self.searcher.doc(doc_id)
        if document is None:
            return None
        raw = document.raw()
        if raw:
            try:
                record = json.loads(raw)
                if isinstance(record, dict):
                    return record
            except json.JSONDecodeError:
                pass
            return {"contents": raw}
        return {"contents": document.contents() or ""}

    def documents(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored fields of each id found; missing ids are left out (callers decide if that's fatal)."""
        found = {}
        for doc_id in dict.fromkeys(doc_ids):
            record = self.doc(doc_id)
            if record is not None:
                found[doc_id] = record
        return found

    def __iter__(self) -> Iterator[str]:
        return (self.doc_id_at(i) for i in range(self.num_docs))
