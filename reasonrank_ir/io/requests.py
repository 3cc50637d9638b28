"""rank_llm-style request JSONL: one query per line with its candidates and their stored fields.

``{"query": {"text": ..., "qid": ...}, "candidates": [{"docid": ..., "score": ..., "doc": {...}}]}``;
the same shape rank_llm reads as requests and writes as results.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.jsonl import read_jsonl, write_jsonl
from reasonrank_ir.types import Candidate, Query, Ranking


def read_requests(path: str | os.PathLike[str]) -> list[Ranking]:
    """Rankings in file order, candidates in listed order, ``doc`` kept as ``Candidate.doc``."""
    return [_ranking(record, where) for where, record in read_jsonl(path)]


def _ranking(record: Any, where: str) -> Ranking:
    try:
        query = Query(str(record["query"]["qid"]), record["query"]["text"])
        candidates = tuple(
            Candidate(str(c["docid"]), float(c.get("score", 0.0)), c.get("doc")) for c in record["candidates"]
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ReasonRankError(
            f"{where}: expected {{'query': {{'text', 'qid'}}, 'candidates': [{{'docid', 'score', 'doc'}}]}} "
            f"({type(error).__name__}: {error})"
        ) from None
    seen: set[str] = set()
    for candidate in candidates:  # the rules of a TREC run (io.trec)
        if not math.isfinite(candidate.score):
            raise ReasonRankError(f"{where}: score must be a finite number, "
                                  f"found {candidate.score} for {candidate.doc_id!r}")
        if candidate.doc_id in seen:
            raise ReasonRankError(f"{where}: doc {candidate.doc_id!r} is listed twice for query {query.query_id}")
        seen.add(candidate.doc_id)
    return Ranking(query, candidates)


def request_record(ranking: Ranking) -> dict[str, Any]:
    return {
        "query": {"text": ranking.query.text, "qid": ranking.query_id},
        "candidates": [{"docid": c.doc_id, "score": c.score, "doc": None if c.doc is None else dict(c.doc)}
                       for c in ranking.candidates],
    }


def write_requests(rankings: Iterable[Ranking], path: str | os.PathLike[str]) -> int:
    """Write one request per ranking, all at once (see ``write_jsonl``); returns how many."""
    return write_jsonl(path, (request_record(ranking) for ranking in rankings))
