"""Fusing first-stage runs with Pyserini's ``pyserini.fusion`` (reciprocal rank fusion, interpolation).

Our :class:`Run` objects are converted to Pyserini's ``TrecRun`` once, fused by Pyserini, and
converted back. Interpolation min-max normalises each run per query first (Pyserini's
``RescoreMethod.NORMALIZE``), so BM25 scores and cosine similarities are on one scale:
``alpha * a + (1 - alpha) * b``, a document missing from one run counting 0 there.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.types import Candidate, Query, Ranking, Run

if TYPE_CHECKING:
    from pyserini.trectools import TrecRun

METHODS = ("rrf", "interpolation")


@dataclass(frozen=True)
class FusionSettings:
    method: str = "rrf"
    rrf_k: int = 60
    alpha: float = 0.5
    """Weight of the first run under interpolation (Pyserini's convention)."""
    depth: int | None = None
    """Candidates taken from each input run (None: all of them)."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ReasonRankError(unknown("fusion", self.method, METHODS))
        if not 0.0 <= self.alpha <= 1.0:
            raise ReasonRankError(f"--alpha must lie in [0, 1], got {self.alpha}")
        if self.rrf_k < 1:  # Pyserini divides by k + rank - 1: 0 divides by zero on the top hit
            raise ReasonRankError(f"--rrf-k must be at least 1, found {self.rrf_k}")
        if self.depth is not None and self.depth < 1:
            raise ReasonRankError(f"fusion depth must be at least 1, found {self.depth}")

    def label(self) -> str:
        return "rrf" if self.method == "rrf" else f"interp{self.alpha:g}"


def _to_trec_run(run: Run) -> TrecRun:
    from pyserini.trectools import TrecRun

    rows = [(r.query_id, "Q0", c.doc_id, rank, c.score, run.name)
            for r in run for rank, c in enumerate(r.candidates, 1)]
    if not rows:
        raise ReasonRankError(f"the run {run.name!r} is empty: nothing to fuse")
    return TrecRun.from_list(rows)


def fuse(runs: Sequence[Run], settings: FusionSettings = FusionSettings(), k: int | None = None,
         name: str | None = None) -> Run:
    """One run from several: RRF over any number of runs, interpolation over exactly two.

    Queries keep the order (and text) of the first run where they appear; ``k`` caps each fused
    ranking.
    """
    from pyserini.fusion import interpolation, reciprocal_rank_fusion
    from pyserini.trectools import RescoreMethod

    if len(runs) < 2:
        raise ReasonRankError(f"fusion needs at least two runs, got {len(runs)}")
    if settings.method == "interpolation" and len(runs) != 2:
        raise ReasonRankError(f"interpolation fuses exactly two runs, got {len(runs)}; use --fusion rrf")
    trec_runs = [_to_trec_run(run) for run in runs]
    if settings.method == "rrf":
        fused = reciprocal_rank_fusion(trec_runs, rrf_k=settings.rrf_k, depth=settings.depth, k=k)
    else:
        normalized = [r.rescore(method=RescoreMethod.NORMALIZE) for r in trec_runs]
        fused = interpolation(normalized, alpha=settings.alpha, depth=settings.depth, k=k)
    queries: dict[str, Query] = {}
    for run in runs:
        for ranking in run:
            queries.setdefault(ranking.query_id, ranking.query)
    by_query: dict[str, list[Candidate]] = {}
    for topic, docid, score in fused.run_data[["topic", "docid", "score"]].itertuples(index=False):
        by_query.setdefault(str(topic), []).append(Candidate(str(docid), float(score)))
    result = Run(name=name or "+".join(r.name for r in runs) + f".{settings.label()}")
    for query_id, query in queries.items():
        result.add(Ranking(query, tuple(by_query.get(query_id, ()))))
    return result
