"""BRIGHT's 12 subsets under Pyserini's names (``bright-biology`` ...), usable offline.

Pyserini keeps topics and qrels in ``$PYSERINI_CACHE/topics-and-qrels`` (default
``~/.cache/pyserini``); :func:`import_bright` fills that folder from downloaded files so the names
work on machines without internet. Passages come from the prebuilt BM25 index ``bright-{name}``.
"""
from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

from reasonrank_ir.data.base import Dataset
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


def topics_and_qrels_home() -> Path:
    cache_home = os.environ.get("PYSERINI_CACHE") or os.path.expanduser("~/.cache/pyserini")
    return Path(cache_home) / "topics-and-qrels"


def _files(name: str) -> dict[str, str]:
    return {
        "topics": f"topics.{name}.tsv.gz",
        "original": f"topics.{name}-original.jsonl.gz",
        "qrels": f"qrels.{name}.txt",
    }


def import_bright(source: str | os.PathLike) -> list[Path]:
    """Copy BRIGHT topic/qrels files from ``source`` into Pyserini's cache; returns what was copied."""
    source = Path(source)
    if not source.is_dir():
        raise ReasonRankError(f"{source} is not a folder; expected downloaded BRIGHT topics-and-qrels files")
    target = topics_and_qrels_home()
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in NAMES:
        for filename in _files(name).values():
            if (source / filename).is_file():
                shutil.copyfile(source / filename, target / filename)
                copied.append(target / filename)
    if not copied:
        raise ReasonRankError(f"{source} holds no BRIGHT files (expected e.g. topics.bright-biology.tsv.gz, "
                              "qrels.bright-biology.txt)")
    return copied


class BrightDataset(Dataset):
    max_passage_tokens = 512

    def __init__(self, name: str, topics: str | None = None, qrels: str | None = None):
        super().__init__(name, topics, qrels)

    def _path(self, kind: str) -> Path:
        path = topics_and_qrels_home() / _files(self.name)[kind]
        if not path.is_file():
            _download_with_pyserini(self.name, kind)
        if not path.is_file():
            raise ReasonRankError(
                f"{path.name} for {self.name} is not in {path.parent} and cannot be downloaded: copy "
                f"BRIGHT's files there with `python -m reasonrank_ir.data import-bright DIR`")
        return path

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
        from reasonrank_ir.retrieval.lucene import prebuilt_index_path

        return prebuilt_index_path(self.name)

    def normalize_doc_id(self, doc_id: str) -> str:
        return index_doc_id(doc_id)


def _download_with_pyserini(name: str, kind: str) -> None:
    """Let Pyserini fetch a missing topics/qrels file into its cache, where the network allows."""
    from reasonrank_ir.java import import_pyserini

    search = import_pyserini("pyserini.search")
    try:
        if kind == "qrels":
            search.get_qrels_file(name)
        else:
            search.get_topics(name if kind == "topics" else f"{name}-original")
    except Exception:  # offline: Anserini raises from inside the JVM; the caller explains
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
