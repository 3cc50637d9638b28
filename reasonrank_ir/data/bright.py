"""BRIGHT's 12 subsets under Pyserini's names (``bright-biology`` ...), usable offline.

:func:`import_bright` copies downloaded topics and qrels files into Pyserini's cache (Pyserini 1.6-2.3:
``$PYSERINI_CACHE/topics-and-qrels``, 2.4+: ``topics/`` and ``qrels/``; default ``~/.cache/pyserini``),
where Pyserini's own CLI finds them too. They are read back with our own readers, so the names work
offline whatever Pyserini can fetch. Passages come from the prebuilt BM25 index ``bright-{name}``.
"""
from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

from reasonrank_ir import pyserini_compat
from reasonrank_ir.data.base import BaseDataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.topics import read_topics
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.types import Qrels, Query

SUBSETS = (
    "biology", "earth-science", "economics", "psychology", "robotics", "stackoverflow",
    "sustainable-living", "leetcode", "pony", "aops", "theoremqa-theorems", "theoremqa-questions",
)
NAMES = tuple(f"bright-{subset}" for subset in SUBSETS)


def canonical_name(name: str) -> str | None:
    """``bright-earth-science`` for ``bright-earth-science``, ``bright_earth_science`` or ``earth_science``."""
    subset = name.lower().removeprefix("bright-").removeprefix("bright_").replace("_", "-")
    return f"bright-{subset}" if subset in SUBSETS else None


def hub_name(name: str) -> str:
    """The underscore spelling of the hub dataset and of ReasonRank's run files."""
    return name.removeprefix("bright-").replace("-", "_")


def index_doc_id(doc_id: str) -> str:
    """A doc id as the prebuilt BRIGHT indexes spell it: spaces become ``_``."""
    return doc_id.replace(" ", "_")


def _cache_dirs(kind: str) -> tuple[Path, ...]:
    """Pyserini's cache folders for one of :func:`_files`' kinds, the installed version's first."""
    return pyserini_compat.cache_dirs("qrels" if kind == "qrels" else "topics")


def _cached(kind: str, filename: str) -> Path | None:
    return next((folder / filename for folder in _cache_dirs(kind) if (folder / filename).is_file()), None)


def _files(name: str) -> dict[str, str]:
    return {
        "topics": f"topics.{name}.tsv.gz",
        "original": f"topics.{name}-original.jsonl.gz",
        "qrels": f"qrels.{name}.txt",
    }


def import_bright(source: str | os.PathLike[str]) -> list[Path]:
    """Copy BRIGHT topic/qrels files from ``source`` into Pyserini's cache; returns what was copied."""
    source = Path(source)
    if not source.is_dir():
        raise ReasonRankError(f"{source} is not a folder; expected downloaded BRIGHT topics-and-qrels files")
    copied = []
    for name in NAMES:
        for kind, filename in _files(name).items():
            if (source / filename).is_file():
                target = _cache_dirs(kind)[0]
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / filename, target / filename)
                copied.append(target / filename)
    if not copied:
        raise ReasonRankError(f"{source} holds no BRIGHT files (expected e.g. topics.bright-biology.tsv.gz, "
                              "qrels.bright-biology.txt)")
    return copied


class BrightDataset(BaseDataset):
    max_passage_tokens = 512

    def _path(self, kind: str) -> Path:
        filename = _files(self.name)[kind]
        found = _cached(kind, filename)
        if found is None:
            _download_with_pyserini(self.name, kind)
            found = _cached(kind, filename)
        if found is None:
            raise ReasonRankError(
                f"{filename} for {self.name} is not in {_cache_dirs(kind)[0]} and cannot be downloaded: copy "
                f"BRIGHT's files there with `python -m reasonrank_ir.data import-bright DIR`")
        return found

    def _own_topics(self) -> dict[str, Query]:
        return read_topics(self._path("topics"))

    def _own_qrels(self) -> Qrels:
        return _normalized_qrels(str(self._path("qrels")))

    def excluded_ids(self) -> dict[str, frozenset[str]]:
        return _excluded(str(self._path("original")))

    def original_topics(self) -> dict[str, Query]:
        """The queries as BRIGHT's examples write them (line breaks kept), which some dense regressions encode."""
        from reasonrank_ir.io.jsonl import read_jsonl

        return {str(r["id"]): Query(str(r["id"]), r["query"]) for _, r in read_jsonl(self._path("original"))}

    def index_path(self) -> str:
        from reasonrank_ir.storage.prebuilt import prebuilt_index_path

        return prebuilt_index_path(self.name)

    def normalize_doc_id(self, doc_id: str) -> str:
        return index_doc_id(doc_id)


def _download_with_pyserini(name: str, kind: str) -> None:
    """Let Pyserini fetch a missing topics/qrels file into its cache, where the network allows."""
    from reasonrank_ir.java import import_pyserini

    try:
        search = import_pyserini("pyserini.search")
        with pyserini_compat.network_timeout():
            if kind == "qrels":
                search.get_qrels_file(name)
            else:
                search.get_topics(name if kind == "topics" else f"{name}-original")
    except Exception:  # offline: Anserini raises from the JVM, Pyserini 2.4 from urllib; the caller explains
        pass


@cache
def _normalized_qrels(path: str) -> Qrels:
    return {q: {index_doc_id(d): r for d, r in docs.items()} for q, docs in read_qrels(path).items()}


@cache
def _excluded(path: str) -> dict[str, frozenset[str]]:
    from reasonrank_ir.io.jsonl import read_jsonl

    excluded = {}
    for _, record in read_jsonl(path):
        ids = frozenset(index_doc_id(d) for d in record.get("excluded_ids", []) if d != "N/A")
        if ids:
            excluded[str(record["id"])] = ids
    return excluded
