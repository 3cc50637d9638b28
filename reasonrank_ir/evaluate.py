"""Scoring runs with ir-measures; ``python -m reasonrank_ir.evaluate RUN --qrels NAME_OR_FILE``.

Aggregates follow ``trec_eval -c`` (what Pyserini and BRIGHT report): a judged query missing from
the run counts as zero instead of being skipped.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reasonrank_ir.errors import ReasonRankError, close_matches, cli_main
from reasonrank_ir.types import Qrels, Run

DEFAULT_METRICS = ("nDCG@10",)


def parse_measures(names: Iterable[str]) -> list:
    """ir-measures measure values from strings such as ``nDCG@10`` or ``R(rel=2)@100``."""
    import ir_measures

    measures = []
    for name in names:
        try:
            measures.append(ir_measures.parse_measure(name))
        except (ValueError, NameError, SyntaxError, TypeError, AttributeError):
            known = list(ir_measures.measures.registry)
            raise ReasonRankError(f"unknown measure {name!r} (ir-measures syntax, e.g. nDCG@10, R@100, "
                                  f"MAP, RR@10).{close_matches(name.split('@')[0], known)}") from None
    return measures


@dataclass(frozen=True)
class Evaluation:
    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]
    """``{measure: {query_id: value}}`` for the queries the run answered."""


def evaluate(run: Run, qrels: Qrels, measures: Sequence = DEFAULT_METRICS, complete: bool = True) -> Evaluation:
    import ir_measures

    measures = parse_measures(m for m in measures) if all(isinstance(m, str) for m in measures) else list(measures)
    scores = run.scores()
    judged = [q for q, docs in qrels.items() if docs]
    if not set(scores) & set(judged):
        raise ReasonRankError(f"the run's query ids ({_sample(scores)}) match none of the judged queries "
                              f"({_sample(judged)}): wrong --qrels or --topics?")
    per_query: dict[str, dict[str, float]] = {str(m): {} for m in measures}
    for metric in ir_measures.iter_calc(measures, qrels, scores):
        per_query[str(metric.measure)][metric.query_id] = float(metric.value)
    counted = judged if complete else [q for q in judged if q in scores]
    aggregate = {name: sum(values.get(q, 0.0) for q in counted) / len(counted)
                 for name, values in per_query.items()}
    return Evaluation(aggregate, per_query)


def _sample(ids: Iterable[str]) -> str:
    ids = list(ids)
    return ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "") if ids else "none"


def format_lines(evaluation: Evaluation, per_query: bool = False) -> list[str]:
    """ir_measures' own output style: ``measure<TAB>value`` (``query<TAB>measure<TAB>value`` per query)."""
    lines = []
    if per_query:
        for name, values in evaluation.per_query.items():
            lines.extend(f"{q}\t{name}\t{v:.4f}" for q, v in values.items())
    lines.extend(f"{name}\t{value:.4f}" for name, value in evaluation.aggregate.items())
    return lines


def load_run_for(path: str, dataset=None) -> Run:
    """Read a run; for a dataset with excluded ids (BRIGHT) normalise doc ids and drop exclusions."""
    from reasonrank_ir.io.trec import read_run

    run = read_run(path)
    return run if dataset is None else filter_excluded(run, dataset)


def filter_excluded(run: Run, dataset) -> Run:
    """Doc ids spelled as the dataset's index spells them, minus each query's excluded ids."""
    from reasonrank_ir.types import Ranking

    excluded = dataset.excluded_ids()
    cleaned = Run(name=run.name)
    for ranking in run:
        drop = excluded.get(ranking.query_id, frozenset())
        kept = []
        for candidate in ranking.candidates:
            doc_id = dataset.normalize_doc_id(candidate.doc_id)
            if doc_id not in drop:
                kept.append(candidate if doc_id == candidate.doc_id else
                            type(candidate)(doc_id, candidate.score, candidate.doc))
        cleaned.add(Ranking(ranking.query, tuple(kept)))
    return cleaned


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reasonrank_ir.evaluate",
                                     description="Score a TREC run with ir-measures (trec_eval -c averaging).")
    parser.add_argument("run", help="TREC run file: qid Q0 docid rank score tag")
    parser.add_argument("--qrels", required=True, metavar="NAME_OR_FILE",
                        help="a qrels file, a dataset name (bright-biology, cranfield, ...) or a Pyserini qrels name")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), metavar="MEASURE",
                        help="ir-measures names (default: nDCG@10), e.g. nDCG@10 R@100 MAP")
    parser.add_argument("--per-query", action="store_true", help="also print one line per query and measure")
    parser.add_argument("--json", action="store_true", help="print JSON {aggregate, per_query} instead")
    parser.add_argument("--no-complete", action="store_true",
                        help="average over the run's queries only (default counts missing judged queries as 0)")
    args = parser.parse_args(argv)
    from pathlib import Path

    from reasonrank_ir.data.base import dataset_or_none, resolve_qrels

    qrels = resolve_qrels(args.qrels)
    # a dataset name also says how its index spells doc ids and which ids it excludes
    dataset = None if Path(args.qrels).is_file() else dataset_or_none(args.qrels)
    run = load_run_for(args.run, dataset)
    evaluation = evaluate(run, qrels, parse_measures(args.metrics), complete=not args.no_complete)
    if args.json:
        print(json.dumps({"aggregate": evaluation.aggregate,
                          **({"per_query": evaluation.per_query} if args.per_query else {})}, indent=2))
    else:
        print("\n".join(format_lines(evaluation, args.per_query)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
