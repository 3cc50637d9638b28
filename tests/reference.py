"""Independent references for the oracle bounds: TREC files read and scores computed here, from the
formats' definitions, REFERENCE.md and ir_measures, never through reasonrank_ir.

Pinning a number our own code printed proves only that it still prints it; these say what it must be.
"""
from __future__ import annotations

import functools
import gzip
import json

import ir_measures
from ir_measures import nDCG

from conftest import BRIGHT_DATA, BRIGHT_FIRST_STAGE

SUBSETS = ("biology", "earth_science", "economics", "psychology", "robotics", "stackoverflow",
           "sustainable_living", "leetcode", "pony", "aops", "theoremqa_theorems", "theoremqa_questions")
"""BRIGHT's subsets as the first-stage files name them (REFERENCE.md section 5)."""
PUBLISHED_FIRST_STAGE = {
    "biology": 43.49, "earth_science": 43.00, "economics": 32.65, "psychology": 39.57, "robotics": 20.82,
    "stackoverflow": 30.96, "sustainable_living": 27.34, "leetcode": 31.68, "pony": 19.55, "aops": 7.37,
    "theoremqa_theorems": 36.68, "theoremqa_questions": 33.93,
}
"""ReasonRank's Table 1, ReasonIR-8B row (GPT-4 reasoning queries, top 100): nDCG@10 x 100."""

Qrels = dict[str, dict[str, int]]
Run = dict[str, list[str]]


def qrels(subset: str) -> Qrels:
    """The plain BRIGHT qrels (``qid 0 docid rel``), the ones the published numbers use."""
    judged: Qrels = {}
    for line in (BRIGHT_DATA / f"qrels.bright-{subset.replace('_', '-')}.txt").read_text().splitlines():
        query_id, _, doc_id, relevance = line.split()
        judged.setdefault(query_id, {})[doc_id] = int(relevance)
    return judged


def first_stage_scores(subset: str, exclude: bool = False) -> dict[str, dict[str, float]]:
    """ReasonIR's top-100 scores per query, in file order.

    Doc ids may hold spaces (stackoverflow), so a line is read from the right. ``exclude``: doc ids
    spelled as the index spells them (spaces become ``_``) and BRIGHT's ``excluded_ids`` removed, as
    every run must be before evaluation.
    """
    dropped = _excluded(subset) if exclude else {}
    scores: dict[str, dict[str, float]] = {}
    for line in (BRIGHT_FIRST_STAGE / f"{subset}.reasonir-gpt4cot.top100.trec").read_text().splitlines():
        head, _rank, score, _tag = line.rsplit(maxsplit=3)
        query_id, _q0, doc_id = head.split(maxsplit=2)
        doc_id = doc_id.replace(" ", "_") if exclude else doc_id
        if doc_id not in dropped.get(query_id, ()):
            scores.setdefault(query_id, {})[doc_id] = float(score)
    return scores


def first_stage(subset: str, exclude: bool = False) -> Run:
    """ReasonIR's top-100 per query, best first: score descending, ties in file order."""
    return {q: sorted(docs, key=lambda d: -docs[d]) for q, docs in first_stage_scores(subset, exclude).items()}


def _excluded(subset: str) -> dict[str, set[str]]:
    path = BRIGHT_DATA / f"topics.bright-{subset.replace('_', '-')}-original.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return {str(r["id"]): {d.replace(" ", "_") for d in r.get("excluded_ids") or () if d != "N/A"} for r in records}


def ideal(run: Run, judged: Qrels) -> Run:
    """Each query's candidates sorted by relevance, descending: no reordering of them scores higher."""
    return {q: sorted(docs, key=lambda d: -judged.get(q, {}).get(d, 0)) for q, docs in run.items()}


def one_pass(run: Run, judged: Qrels, window: int, step: int) -> Run:
    """REFERENCE.md section 3's sliding window, back to front over the whole list, each window sorted by
    relevance (stable): what an oracle that sees one window at a time can reach."""
    result = {}
    for query_id, docs in run.items():
        docs = list(docs)
        grade = judged.get(query_id, {})
        if len(docs) < window:
            spans = [(0, len(docs))]
        else:
            spans, end, start = [], len(docs), len(docs) - window
            while end > 0 and start + step != 0:
                spans.append((max(start, 0), end))
                end, start = end - step, max(start, 0) - step
        for start, end in spans:
            docs[start:end] = sorted(docs[start:end], key=lambda d: -grade.get(d, 0))
        result[query_id] = docs
    return result


def ndcg10_per_query(run: Run | dict[str, dict[str, float]], judged: Qrels) -> dict[str, float]:
    """trec_eval's nDCG@10 per judged query through ir_measures (a judged query missing from the run
    scores 0). A run given as scores is scored as trec_eval scores a file (ties by doc id); one given as
    orders gets strictly decreasing scores, so that nothing reorders it."""
    scored = [ir_measures.ScoredDoc(q, d, docs[d] if isinstance(docs, dict) else float(len(docs) - r))
              for q, docs in run.items() for r, d in enumerate(docs)]
    triples = [ir_measures.Qrel(q, d, g) for q, docs in judged.items() for d, g in docs.items()]
    values = {m.query_id: m.value for m in ir_measures.iter_calc([nDCG @ 10], triples, scored)}
    return {q: values.get(q, 0.0) for q in judged}


def ndcg10(run: Run | dict[str, dict[str, float]], judged: Qrels) -> float:
    """Mean nDCG@10 over the judged queries (those missing from the run count 0)."""
    values = ndcg10_per_query(run, judged)
    return sum(values.values()) / len(values)


@functools.cache
def ideal_ndcg10(subset: str) -> float:
    """nDCG@10 of the ideal sort of ReasonIR's top 100: the oracle bound of a 20/10 pass (test_oracle.py)."""
    judged = qrels(subset)
    return ndcg10(ideal(first_stage(subset, exclude=True), judged), judged)
