"""BM25 (and Pyserini's query-side BM25Q) over a Lucene index, as Pyserini's CLI runs it."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from tqdm.auto import tqdm

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.storage.lucene import LuceneIndex
from reasonrank_ir.types import Candidate, Query, Ranking, Run


class Hit(Protocol):
    """One of Pyserini's search results (``JLuceneSearcherResult``, ``DenseSearchResult``)."""

    @property
    def docid(self) -> str: ...
    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class BM25Settings:
    k1: float = 0.9
    b: float = 0.4
    query_side: bool = False
    """Pyserini's ``--bm25qs``: BM25 weights on the query terms too (for long queries)."""
    remove_query: bool = False
    """Pyserini's ``--remove-query``: drop hits whose id equals the query id."""
    threads: int = 1
    batch_size: int = 64

    def __post_init__(self) -> None:
        """Lucene's limits, checked here rather than as a Java exception after the index is opened."""
        if not (math.isfinite(self.k1) and self.k1 >= 0):
            raise ReasonRankError(f"--k1 must be a finite number of at least 0, found {self.k1}")
        if not 0.0 <= self.b <= 1.0:  # also refuses nan
            raise ReasonRankError(f"--b must lie in [0, 1], found {self.b}")
        for flag, value in (("--threads", self.threads), ("--batch-size", self.batch_size)):
            if value < 1:
                raise ReasonRankError(f"{flag} must be at least 1, found {value}")


class BM25:
    """``BM25(index).retrieve(queries, k)``: a first stage producing a :class:`Run`."""

    def __init__(self, index: str | LuceneIndex, settings: BM25Settings = BM25Settings()):
        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex.open(str(index))
        self.settings = settings
        self.index.searcher.set_bm25(settings.k1, settings.b)
        self._generator: object | None = None
        """Pyserini's query-side BM25 query generator (a Java object), None for plain BM25."""
        if settings.query_side:
            from pyserini.search.lucene import JQuerySideBm25QueryGenerator  # loaded by LuceneIndex

            self._generator = JQuerySideBm25QueryGenerator(
                settings.k1, settings.b, self.index.searcher.index_reader.reader)

    @property
    def name(self) -> str:
        return "bm25qs" if self.settings.query_side else "bm25"

    def retrieve(self, queries: Iterable[Query], k: int,
                 excluded: Mapping[str, frozenset[str]] | None = None, progress: bool = False) -> Run:
        """Top-``k`` per query. ``excluded`` ids (BRIGHT) are dropped after retrieval, as Pyserini does."""
        queries = list(queries)
        run = Run(name=self.name)
        size = max(1, self.settings.batch_size)
        batches = range(0, len(queries), size)
        for start in tqdm(batches, desc="BM25", unit="batch", disable=not progress):
            batch = queries[start:start + size]
            hits = self.index.searcher.batch_search(
                [q.text for q in batch], [q.query_id for q in batch], k=k,
                threads=self.settings.threads, query_generator=self._generator)
            for query in batch:
                run.add(self._ranking(query, hits.get(query.query_id, []), excluded))
        return run

    def _ranking(self, query: Query, hits: Iterable[Hit], excluded: Mapping[str, frozenset[str]] | None) -> Ranking:
        drop = excluded.get(query.query_id, frozenset()) if excluded else frozenset()
        candidates = []
        for hit in hits:
            doc_id = hit.docid.strip()
            if (self.settings.remove_query and doc_id == query.query_id) or doc_id in drop:
                continue
            candidates.append(Candidate(doc_id, float(hit.score)))
        return Ranking(query, tuple(candidates))
