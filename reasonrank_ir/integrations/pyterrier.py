"""ReasonRank as a PyTerrier transformer: ``bm25 % 100 >> ReasonRankTransformer(reranker)``.

Importing this module imports PyTerrier (without it, the error says how to install it); the rest of
the package never imports it. The transformer is a plain module-level class, so it pickles (what
PyTerrier's ``.parallel()`` needs) and ``isinstance`` works. It is the one conversion layer between
PyTerrier's names (``qid``, ``docno``) and ours (``query_id``, ``doc_id``).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.pipeline import rerank
from reasonrank_ir.rerank.listwise import BATCH_SIZE, BatchReranker
from reasonrank_ir.types import Candidate, Query, Ranking, Run

try:
    import pyterrier as pt
except ImportError as error:
    raise ReasonRankError(
        "ReasonRankTransformer needs PyTerrier: pip install 'reasonrank-ir[pyterrier]'") from error


class ReasonRankTransformer(pt.Transformer):
    """A ``pt.Transformer`` reranking each query's results with ``reranker`` (``Reranker.from_name(...)``).

    Candidates are taken in the input's score order; the top ``reranker.config.depth`` are reranked
    and the rest keep their order below them. The output has strictly decreasing scores and 0-based
    ranks per query, with every input column kept. Rerankers that read passages take them from
    ``text_field`` (and ``title`` where present): add ``pt.text.get_text(dataset, "text")`` before.
    """

    def __init__(self, reranker: BatchReranker, *, text_field: str = "text", batch_size: int = BATCH_SIZE,
                 verbose: bool = False) -> None:
        if batch_size < 1:
            raise ReasonRankError(f"batch size must be at least 1, found {batch_size}")
        self.reranker = reranker
        self.text_field = text_field
        self.batch_size = batch_size
        self.verbose = verbose

    def __repr__(self) -> str:
        return f"ReasonRankTransformer({type(self.reranker).__name__}, text_field={self.text_field!r})"

    def transform(self, inp: Any) -> Any:
        out = rerank_frame(self.reranker, inp, self.text_field, self.batch_size, self.verbose)
        # Rows come best first per query with strictly decreasing scores, so ranks are positions
        # (what pt.model.add_ranks computes, without its in-place drop that pandas deprecates).
        out["rank"] = out.groupby("qid", sort=False).cumcount() + pt.model.FIRST_RANK
        return out


def rerank_frame(reranker: BatchReranker, frame: Any, text_field: str = "text", batch_size: int = BATCH_SIZE,
                 verbose: bool = False) -> Any:
    """``frame`` with each query's rows reordered by ``reranker`` and rescored (no ``rank`` column yet)."""
    needs_text = reranker.needs_passages
    _check_columns(frame, text_field, needs_text)
    if frame.empty:
        return frame.drop(columns=["rank"], errors="ignore").reset_index(drop=True)
    groups = {str(qid): group.sort_values("score", ascending=False, kind="stable")
              for qid, group in frame.groupby("qid", sort=False)}
    run = Run({qid: _ranking(group, text_field) for qid, group in groups.items()}, "pyterrier")
    # the job every interface runs (pipeline.rerank): the passages are the frame's, so no dataset
    reranked = rerank(reranker, run, None, batch_size=batch_size, progress=verbose).run
    parts: list[pd.DataFrame] = []
    for qid, group in groups.items():
        ranking = reranked[qid]
        position = {docno: i for i, docno in enumerate(group["docno"].astype(str))}
        part = group.iloc[[position[c.doc_id] for c in ranking.candidates]].copy()
        part["score"] = [c.score for c in ranking.candidates]
        parts.append(part)
    return pd.concat(parts).drop(columns=["rank"], errors="ignore").reset_index(drop=True)


def _check_columns(frame: Any, text_field: str, needs_text: bool) -> None:
    found = ", ".join(map(str, frame.columns)) or "none"
    missing = [c for c in ("qid", "docno", "score", *(("query",) if needs_text else ())) if c not in frame.columns]
    if missing:
        raise ReasonRankError(f"ReasonRankTransformer takes a PyTerrier result frame: missing column(s) "
                              f"{', '.join(missing)} (found: {found})")
    if needs_text and text_field not in frame.columns:
        raise ReasonRankError(f"the reranker reads passages from column {text_field!r}, which the results lack "
                              f"(found: {found}); add pt.text.get_text(dataset, {text_field!r}) before it, "
                              "or pass text_field= naming the column that holds the text")


def _ranking(group: Any, text_field: str) -> Ranking:
    qid = str(group["qid"].iloc[0])
    docnos = group["docno"].astype(str).tolist()
    if len(set(docnos)) != len(docnos):
        repeated = next(d for d in docnos if docnos.count(d) > 1)
        raise ReasonRankError(f"query {qid}: docno {repeated} appears more than once; "
                              "drop duplicate results before reranking")
    query = Query(qid, str(group["query"].iloc[0]) if "query" in group.columns else "")
    texts = group[text_field].tolist() if text_field in group.columns else None
    titles = group["title"].tolist() if "title" in group.columns else None
    candidates = []
    for i, (docno, score) in enumerate(zip(docnos, group["score"].astype(float))):
        doc = None
        if texts is not None:
            doc = {"text": texts[i]} | ({"title": titles[i]} if titles is not None else {})
        candidates.append(Candidate(docno, score, doc))
    return Ranking(query, tuple(candidates))
