"""What every named dataset offers: topics, qrels, an index, passages by id, excluded ids."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.topics import read_topics
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.types import Qrels, Query


class Dataset:
    """A corpus with (optionally) topics and judgments; subclasses say where each comes from.

    ``topics``/``qrels`` given at construction (files or other dataset names) replace the dataset's
    own, the way Pyserini's ``--topics`` works with any index.
    """

    max_passage_tokens: int = 100
    """ReasonRank's passage budget: 100 tokens for TREC DL/BEIR-style data, 512 for BRIGHT."""

    def __init__(self, name: str, topics: str | None = None, qrels: str | None = None):
        self.name = name
        self.topics_source = topics
        self.qrels_source = qrels

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- subclasses override these -------------------------------------------------------------
    def _own_topics(self) -> dict[str, Query] | None:
        return None

    def _own_qrels(self) -> Qrels | None:
        return None

    def index_path(self) -> str:
        """A local Lucene index folder, built or downloaded on first use."""
        raise NotImplementedError

    def excluded_ids(self) -> dict[str, frozenset[str]]:
        """Per query, doc ids that must never appear in a run (BRIGHT's ``excluded_ids``)."""
        return {}

    def normalize_doc_id(self, doc_id: str) -> str:
        """Doc ids as the index spells them (runs from elsewhere may differ)."""
        return doc_id

    # -- shared behaviour ----------------------------------------------------------------------
    def topics(self) -> dict[str, Query]:
        if self.topics_source:
            return resolve_topics(self.topics_source)
        own = self._own_topics()
        if own is None:
            raise ReasonRankError(f"{self.name} has no topics of its own: pass --topics FILE (TSV, JSONL or TREC)")
        return own

    def qrels(self) -> Qrels | None:
        if self.qrels_source:
            return resolve_qrels(self.qrels_source)
        return self._own_qrels()

    def index(self):
        from reasonrank_ir.retrieval.lucene import LuceneIndex

        return LuceneIndex.open(self.index_path())

    def documents(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored fields by id, read back from the index (what the reranker shows the model)."""
        return self.index().documents(doc_ids)


def resolve_topics(source: str) -> dict[str, Query]:
    """A topics file, the topics of a dataset name, or a Pyserini topics name (``dl19-passage``)."""
    if Path(source).is_file():
        return read_topics(source)
    dataset = dataset_or_none(source)
    if dataset is None:
        from reasonrank_ir.data.prebuilt import pyserini_topics

        return pyserini_topics(source)
    return dataset.topics()


def resolve_qrels(source: str) -> Qrels:
    """A qrels file, the judgments of a dataset name, or a Pyserini qrels name (``dl19-passage``)."""
    if Path(source).is_file():
        return read_qrels(source)
    dataset = dataset_or_none(source)
    if dataset is None:
        from reasonrank_ir.data.prebuilt import pyserini_qrels

        return pyserini_qrels(source)
    qrels = dataset.qrels()
    if qrels is None:
        raise ReasonRankError(f"{source} has no relevance judgments; pass --qrels FILE")
    return qrels


def looks_like_path(name: str) -> bool:
    """A name meant as a file (``./x``, ``/x``, ``~/x``, ``qrels.txt``), never a dataset or Pyserini name."""
    return name.startswith((".", "/", "~")) or Path(name).suffix.lower() in (
        ".txt", ".tsv", ".trec", ".qrels", ".jsonl", ".json", ".gz", ".csv", ".xml")


def dataset_or_none(name: str) -> Dataset | None:
    """The registry's dataset for ``name`` when it is one with its own topics (not a bare index)."""
    from reasonrank_ir.data import load
    from reasonrank_ir.data.prebuilt import PrebuiltDataset

    if looks_like_path(name) and not Path(name).exists():
        raise ReasonRankError(f"{name}: no such file or folder")
    try:
        dataset = load(name)
    except ReasonRankError:
        return None
    return None if isinstance(dataset, PrebuiltDataset) else dataset
