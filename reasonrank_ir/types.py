"""The records that cross module walls: queries, candidates, rankings and runs.

Field names follow the ecosystem (ir_measures / ir_datasets): ``query_id``, ``doc_id``, ``score``;
ids are always ``str``.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str


@dataclass(frozen=True)
class Candidate:
    """One retrieved document.

    ``doc`` holds the stored fields (``contents``/``text``/``title``...) as rank_llm requests do; it
    is filled in only where a reranker needs the passage.
    """

    doc_id: str
    score: float
    doc: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)

    def with_doc(self, doc: Mapping[str, Any]) -> Candidate:
        return replace(self, doc=doc)


@dataclass(frozen=True)
class Ranking:
    """One query's candidates, best first."""

    query: Query
    candidates: tuple[Candidate, ...]

    @property
    def query_id(self) -> str:
        return self.query.query_id

    def top(self, k: int) -> Ranking:
        return Ranking(self.query, self.candidates[:k])

    def reordered(self, order: Iterable[int]) -> Ranking:
        """The candidates taken in ``order`` (0-based positions), rescored strictly decreasing.

        Scores are ``len - rank`` so a TREC run sorts by the new order, never by doc id on ties.
        """
        picked = [self.candidates[i] for i in order]
        n = len(picked)
        return Ranking(self.query, tuple(replace(c, score=float(n - r)) for r, c in enumerate(picked)))


@dataclass
class Run:
    """Rankings keyed by query id, in topic order; what first stages and rerankers exchange."""

    rankings: dict[str, Ranking] = field(default_factory=dict)
    name: str = "reasonrank_ir"

    def __iter__(self) -> Iterator[Ranking]:
        return iter(self.rankings.values())

    def __len__(self) -> int:
        return len(self.rankings)

    def __contains__(self, query_id: object) -> bool:
        return query_id in self.rankings

    def __getitem__(self, query_id: str) -> Ranking:
        return self.rankings[query_id]

    def add(self, ranking: Ranking) -> None:
        self.rankings[ranking.query_id] = ranking

    def top(self, k: int) -> Run:
        return Run({q: r.top(k) for q, r in self.rankings.items()}, self.name)

    def scores(self) -> dict[str, dict[str, float]]:
        """The ``{query_id: {doc_id: score}}`` form ir_measures and pytrec_eval take."""
        return {q: {c.doc_id: c.score for c in r.candidates} for q, r in self.rankings.items()}


Qrels = dict[str, dict[str, int]]
"""``{query_id: {doc_id: relevance}}``, the form ir_measures takes directly."""
