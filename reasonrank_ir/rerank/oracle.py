"""The oracle reranker: each window ordered by the qrels.

It gives the upper bound of sliding-window reranking for a first-stage run, window and step: no
model can do better within the same schedule, since it only sees the same windows.
"""
from __future__ import annotations

from collections.abc import Sequence

from reasonrank_ir.rerank.listwise import RerankConfig, SlidingWindowReranker, WindowRequest, WindowTrace
from reasonrank_ir.rerank.prompts import answer_format
from reasonrank_ir.types import Qrels


class OracleReranker(SlidingWindowReranker):
    """Orders each window by relevance, descending; ties (and unjudged docs, relevance 0) keep their order."""

    def __init__(self, qrels: Qrels, config: RerankConfig = RerankConfig()) -> None:
        super().__init__(config)
        self.qrels = qrels

    def rank_windows(self, requests: Sequence[WindowRequest]) -> list[WindowTrace]:
        traces = []
        for request in requests:
            judged = self.qrels.get(request.query.query_id, {})
            relevance = [judged.get(doc_id, 0) for doc_id in request.doc_ids]
            order = tuple(sorted(range(len(relevance)), key=lambda j: -relevance[j]))
            traces.append(WindowTrace(
                request.query.query_id, request.pass_index, request.start, request.end, 0, 0, 0.0, "ok",
                order, answer_format(j + 1 for j in order), request.doc_ids,
            ))
        return traces
