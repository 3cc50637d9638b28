"""TREC run and qrels files.

Columns are split on any run of whitespace (spaces, tabs), as trec_eval reads them. Doc ids may
contain spaces (BRIGHT stackoverflow), so a run line is ``qid Q0 docid... rank score tag``: the first
two fields, the last three, and the doc id between them, kept as written. A run trec_eval would refuse
or misread (a missing column, a ``nan`` score, a doc twice in one query) is an error naming the line.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import numbered_lines, replaced_atomically
from reasonrank_ir.types import Candidate, Qrels, Query, Ranking, Run


_FIELD = re.compile(r"\S+")


def parse_run_line(line: str, where: str) -> tuple[str, str, int, float, str]:
    """(query_id, doc_id, rank, score, tag) of one ``qid Q0 docid rank score tag`` line."""
    fields = list(_FIELD.finditer(line))
    if len(fields) < 6:
        raise ReasonRankError(f"{where}: expected 6 columns 'qid Q0 docid rank score tag', found {line.strip()!r}")
    head = fields[0].group()
    doc_id = line[fields[2].start():fields[-4].end()]
    rank, score, tag = (field.group() for field in fields[-3:])
    try:
        rank_number, score_number = int(rank), float(score)
    except ValueError:
        raise ReasonRankError(f"{where}: rank and score must be numbers, found {line.strip()!r}") from None
    if not math.isfinite(score_number):
        raise ReasonRankError(f"{where}: score must be a finite number, found {score!r}")
    return head, doc_id, rank_number, score_number, tag


def read_run(path: str | os.PathLike[str], topics: Mapping[str, Query] | None = None) -> Run:
    """A run sorted by score (ties by file order), queries in file order.

    Query text comes from ``topics`` where given; otherwise it is empty (enough for evaluation).
    """
    grouped: dict[str, list[tuple[float, int, str]]] = {}
    lines: dict[tuple[str, str], int] = {}
    tag = "run"
    for number, line in numbered_lines(path):
        query_id, doc_id, _rank, score, tag = parse_run_line(line, f"{path}:{number}")
        first = lines.setdefault((query_id, doc_id), number)
        if first != number:
            raise ReasonRankError(f"{path}:{number}: doc {doc_id!r} is ranked twice for query {query_id} "
                                  f"(also on line {first}); a run lists each doc once per query")
        grouped.setdefault(query_id, []).append((score, number, doc_id))
    if not grouped:
        raise ReasonRankError(f"{path}: no run lines in the file; expected 'qid Q0 docid rank score tag' lines")
    run = Run(name=tag)
    for query_id, rows in grouped.items():
        rows.sort(key=lambda row: (-row[0], row[1]))
        query = topics[query_id] if topics and query_id in topics else Query(query_id, "")
        run.add(Ranking(query, tuple(Candidate(d, s) for s, _, d in rows)))
    return run


def format_run(rankings: Iterable[Ranking], tag: str) -> Iterator[str]:
    for ranking in rankings:
        for rank, candidate in enumerate(ranking.candidates, 1):
            yield f"{ranking.query_id} Q0 {candidate.doc_id} {rank} {candidate.score:.6f} {tag}\n"


def write_run(run: Run | Iterable[Ranking], path: str | os.PathLike[str], tag: str | None = None) -> None:
    """Write rankings in TREC format, replacing ``path`` whole (never a half-written run)."""
    tag = tag or (run.name if isinstance(run, Run) else None) or "reasonrank_ir"
    with replaced_atomically(path) as handle:
        handle.writelines(format_run(run, tag))


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """TREC qrels ``qid iter docid rel`` split as run lines are; doc ids with spaces are kept whole."""
    qrels: Qrels = {}
    for number, line in numbered_lines(path):
        fields = list(_FIELD.finditer(line))
        if len(fields) < 4:
            raise ReasonRankError(f"{path}:{number}: expected 'qid 0 docid relevance', found {line.strip()!r}")
        try:
            relevance = int(fields[-1].group())
        except ValueError:
            raise ReasonRankError(f"{path}:{number}: relevance must be an integer, found {fields[-1].group()!r}"
                                  ) from None
        qrels.setdefault(fields[0].group(), {})[line[fields[2].start():fields[-2].end()]] = relevance
    return qrels


def write_qrels(qrels: Qrels, path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for query_id, docs in qrels.items():
            for doc_id, relevance in docs.items():
                handle.write(f"{query_id} 0 {doc_id} {relevance}\n")
