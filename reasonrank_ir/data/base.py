"""What every dataset offers the layers above (the ``Dataset`` protocol), and the implementation they share."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.types import Qrels, Query, Ranking, Run

if TYPE_CHECKING:
    from reasonrank_ir.storage.lucene import LuceneIndex


@runtime_checkable
class Dataset(Protocol):
    """A corpus with (optionally) topics and judgments: all that retrieval, reranking and scoring use of one."""

    name: str
    max_passage_tokens: int
    """ReasonRank's passage budget: 100 tokens for TREC DL/BEIR-style data, 512 for BRIGHT."""

    def topics(self) -> dict[str, Query]:
        """The queries by id; a one-line error when the dataset has none and none were given."""

    def original_topics(self) -> dict[str, Query] | None:
        """The queries as the source writes them where ``topics()`` flattens them (BRIGHT), else None."""

    def qrels(self) -> Qrels | None:
        """The judgments, None when there are none."""

    def index_path(self) -> str:
        """A local Lucene index folder, built or downloaded on first use."""

    def index(self) -> LuceneIndex:
        """The Lucene index, opened once per process."""

    def documents(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored fields by id (what the reranker shows the model); ids not in the index are left out."""

    def excluded_ids(self) -> dict[str, frozenset[str]]:
        """Per query, doc ids that must never appear in a run (BRIGHT's ``excluded_ids``)."""

    def normalize_doc_id(self, doc_id: str) -> str:
        """A doc id as the index spells it (runs from elsewhere may differ)."""

    def clean_run(self, run: Run) -> Run:
        """``run`` with doc ids as the index spells them, minus each query's excluded ids."""


class BaseDataset:
    """The shared implementation of :class:`Dataset`; subclasses say where topics, qrels and the index come from.

    ``topics``/``qrels`` loaders (the registry makes them from ``--topics``/``--qrels``: files or other
    dataset names) replace the dataset's own, the way Pyserini's ``--topics`` works with any index.
    """

    max_passage_tokens: int = 100

    def __init__(self, name: str, topics: Callable[[], dict[str, Query]] | None = None,
                 qrels: Callable[[], Qrels] | None = None):
        self.name = name
        self._topics = topics
        self._qrels = qrels

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- subclasses override these -------------------------------------------------------------
    def _own_topics(self) -> dict[str, Query] | None:
        return None

    def _own_qrels(self) -> Qrels | None:
        return None

    def original_topics(self) -> dict[str, Query] | None:
        return None

    def index_path(self) -> str:
        raise NotImplementedError

    def excluded_ids(self) -> dict[str, frozenset[str]]:
        return {}

    def normalize_doc_id(self, doc_id: str) -> str:
        return doc_id

    # -- shared behaviour ----------------------------------------------------------------------
    def topics(self) -> dict[str, Query]:
        if self._topics:
            return self._topics()
        own = self._own_topics()
        if own is None:
            raise ReasonRankError(f"{self.name} has no topics of its own: pass --topics FILE (TSV, JSONL or TREC)")
        return own

    def qrels(self) -> Qrels | None:
        return self._qrels() if self._qrels else self._own_qrels()

    def index(self) -> LuceneIndex:
        from reasonrank_ir.storage.lucene import LuceneIndex

        return LuceneIndex.open(self.index_path())

    def documents(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self.index().documents(doc_ids)

    def clean_run(self, run: Run) -> Run:
        excluded = self.excluded_ids()
        cleaned = Run(name=run.name)
        for ranking in run:
            drop = excluded.get(ranking.query_id, frozenset())
            kept = []
            for candidate in ranking.candidates:
                doc_id = self.normalize_doc_id(candidate.doc_id)
                if doc_id not in drop:
                    kept.append(candidate if doc_id == candidate.doc_id else
                                type(candidate)(doc_id, candidate.score, candidate.doc))
            cleaned.add(Ranking(ranking.query, tuple(kept)))
        return cleaned
