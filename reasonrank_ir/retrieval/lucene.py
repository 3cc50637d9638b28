"""Lucene indexes through Pyserini: building them, opening them once, reading stored passages.

This module and :mod:`reasonrank_ir.java` are the only places that touch Pyserini's Lucene classes;
everything else receives plain :class:`~reasonrank_ir.types.Candidate` records.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.java import import_pyserini


def is_lucene_index(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_dir() and any(path.glob("segments_*"))


def build_index(documents: Iterable[Mapping[str, Any]], index_dir: str | os.PathLike, threads: int = 1) -> Path:
    """Index ``{"id", "contents", ...}`` records with positions, doc vectors and raw JSON stored.

    The index is written to a temporary sibling folder and renamed at the end, so an interrupted
    build never leaves a half index that later looks complete.
    """
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=index_dir.parent, prefix=f".{index_dir.name}-") as scratch:
        corpus = Path(scratch) / "corpus"
        corpus.mkdir()
        count = 0
        with open(corpus / "docs.jsonl", "w", encoding="utf-8") as handle:
            for doc in documents:
                handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
                count += 1
        if not count:
            raise ReasonRankError(f"nothing to index for {index_dir}: the corpus has no documents")
        staging = Path(scratch) / "index"
        import_pyserini("pyserini.search.lucene")
        from jnius import autoclass

        autoclass("io.anserini.index.IndexCollection").main([
            "-collection", "JsonCollection", "-input", str(corpus), "-index", str(staging),
            "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(threads),
            "-storePositions", "-storeDocvectors", "-storeRaw", "-quiet",
        ])
        if not is_lucene_index(staging):
            raise ReasonRankError(f"Anserini did not produce an index for {index_dir}")
        if index_dir.exists():
            shutil.rmtree(index_dir)
        staging.rename(index_dir)
    return index_dir


def prebuilt_index_path(name: str) -> str:
    """The local folder of a Pyserini prebuilt index, downloading it where the network allows."""
    import_pyserini("pyserini.search.lucene")
    from pyserini.prebuilt_index_info import TF_INDEX_INFO
    from pyserini.util import download_prebuilt_index, get_cache_home

    if name not in TF_INDEX_INFO:
        from reasonrank_ir.errors import close_matches

        raise ReasonRankError(f"unknown Pyserini prebuilt index {name!r}.{close_matches(name, TF_INDEX_INFO)}")
    info = TF_INDEX_INFO[name]
    try:
        return download_prebuilt_index(name, verbose=False)
    except Exception:  # Pyserini raises bare ValueError/URLError/HTTPError when offline
        stem = info.get("filename", info["urls"][0].rsplit("/", 1)[-1]).removesuffix(".tar.gz")
        target = Path(get_cache_home()) / "indexes" / f"{stem}.{info['md5']}"
        raise ReasonRankError(
            f"cannot download the prebuilt index {name!r}: fetch {info['urls'][0]} on a machine with "
            f"internet and unpack it so that {target} holds the index (or pass --index with a local path)"
        ) from None


class LuceneIndex:
    """A Lucene index opened once per process; reads passages back as stored JSON fields."""

    def __init__(self, path: str | os.PathLike):
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
        return self.searcher.num_docs

    def doc_id_at(self, position: int) -> str:
        """The id of the document with Lucene's internal number ``position`` (for sampling)."""
        return self.searcher.doc(position).docid()

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
