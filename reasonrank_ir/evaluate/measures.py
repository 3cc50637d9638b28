"""Scoring a run against qrels with ir-measures: measures by name, per-query and aggregate values.

Aggregates follow ``trec_eval -c`` (what Pyserini and BRIGHT report): a judged query missing from
the run counts as zero instead of being skipped.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.types import Qrels, Run

if TYPE_CHECKING:
    from ir_measures import Measure

DEFAULT_METRICS = ("nDCG@10",)


def parse_measures(names: Iterable[str]) -> list[Measure]:
    """ir-measures measure values from strings such as ``nDCG@10`` or ``R(rel=2)@100``."""
    import ir_measures

    measures: list[Measure] = []
    for name in names:
        try:
            measures.append(ir_measures.parse_measure(name))
        except (ValueError, NameError, SyntaxError, TypeError, AttributeError):
            known = list(ir_measures.measures.registry)
            raise ReasonRankError(unknown("measure", name, known, listed=False, near=name.split("@")[0],
                                          hint="ir-measures syntax, e.g. nDCG@10, R@100, MAP, RR@10")) from None
        cutoff = measures[-1].params.get("cutoff")
        if cutoff is not None and not (isinstance(cutoff, int) and cutoff >= 1):
            raise ReasonRankError(f"measure {name!r}: the cut-off after @ must be at least 1, found {cutoff!r}")
    return measures


@dataclass(frozen=True)
class Evaluation:
    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]
    """``{measure: {query_id: value}}`` for the queries the run answered."""


def check_fit(run: Run, qrels: Qrels, run_name: str = "the run", qrels_name: str = "the qrels",
              docs: bool = True) -> None:
    """Refuse a run and qrels that do not belong together, which would score a silent 0.0000.

    Empty qrels, no query of the run judged (another topic set), or, with ``docs``, no doc of the run
    judged for any of its judged queries (another collection's qrels, or a run of another corpus;
    a short run of the right collection may also judge none, so callers ask for it where a run is
    given by the user).
    """
    judged = {q for q, docs in qrels.items() if docs}
    if not judged:
        raise ReasonRankError(f"{qrels_name}: no judgments in it; nothing to score against")
    shared = [q for q in run.rankings if q in judged]
    if not shared:
        raise ReasonRankError(f"{run_name}: its query ids ({_sample(run.rankings)}) match none of the judged "
                              f"queries of {qrels_name} ({_sample(judged)}): wrong --qrels or --topics?")
    if docs and not any(c.doc_id in qrels[q] for q in shared for c in run[q].candidates):
        example = next((c.doc_id for q in shared for c in run[q].candidates), "")
        raise ReasonRankError(f"{run_name}: none of its docs is judged in {qrels_name} (e.g. {example!r}): "
                              "are they of another collection?")


def evaluate(run: Run, qrels: Qrels, measures: Sequence[str | Measure] = DEFAULT_METRICS, complete: bool = True,
             names: tuple[str, str] = ("the run", "the qrels")) -> Evaluation:
    """Scores of ``run`` on ``qrels``; ``names`` (run, qrels) are what errors call them."""
    import ir_measures

    chosen = [parse_measures([m])[0] if isinstance(m, str) else m for m in measures]
    check_fit(run, qrels, *names, docs=False)
    scores = run.scores()
    judged = [q for q, docs in qrels.items() if docs]
    per_query: dict[str, dict[str, float]] = {str(m): {} for m in chosen}
    for metric in ir_measures.iter_calc(chosen, qrels, scores):
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
    lines: list[str] = []
    if per_query:
        for name, values in evaluation.per_query.items():
            lines.extend(f"{q}\t{name}\t{v:.4f}" for q, v in values.items())
    lines.extend(f"{name}\t{value:.4f}" for name, value in evaluation.aggregate.items())
    return lines
