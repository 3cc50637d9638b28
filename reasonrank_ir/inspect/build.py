"""What the report shows, computed in Python: per-query scores, window moves, token statistics.

Everything here is pure (runs, traces and qrels in, plain JSON-ready values out) so the page only
draws. Windows are replayed against the run: undoing them from the last to the first must give
back, window by window, exactly what each one output, which both checks that the traces belong to
the run and recovers the order the reranker started from (the first stage).
"""
from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.parse import STATUSES, parse_answer
from reasonrank_ir.types import Qrels, Query, Run

if TYPE_CHECKING:
    from reasonrank_ir.io.traces import WindowTrace

_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Move:
    """A judged-relevant passage a window moved: 1-based ranks in the whole list, before and after."""

    doc_id: str
    relevance: int
    before: int
    after: int


@dataclass(frozen=True)
class WindowView:
    """One window as the page shows it, in the order the windows ran."""

    pass_index: int
    start: int
    end: int
    input: tuple[str, ...]
    order: tuple[int, ...]
    status: str
    finish_reason: str
    prompt_tokens: int
    output_tokens: int
    seconds: float
    reasoning: str
    answer: str
    moves: tuple[Move, ...]


@dataclass(frozen=True)
class Spread:
    """Mean, median, 90th percentile, maximum and total of one per-window number, plus a histogram."""

    mean: float
    median: float
    p90: float
    max: float
    total: float
    bins: tuple[float, ...] = ()
    """Left edges of equal-width bins, then the right edge of the last one."""
    counts: tuple[int, ...] = ()


@dataclass(frozen=True)
class QueryRow:
    """One line of the overview's query list."""

    query_id: str
    text: str
    before: float | None
    after: float | None
    windows: int
    not_ok: int
    output_tokens: int
    seconds: float
    relevant: int


@dataclass(frozen=True)
class QueryDetail:
    """Everything the one-query view needs, decompressed only when the query is opened."""

    text: str
    baseline: tuple[str, ...] | None
    reranked: tuple[str, ...]
    labels: Mapping[str, int]
    windows: tuple[WindowView, ...]


@dataclass(frozen=True)
class ReportData:
    overview: dict[str, Any]
    details: list[dict[str, Any]] = field(default_factory=list)
    """In the order of ``overview['queries']``."""


def group_traces(traces: Sequence[WindowTrace], run: Run, where: str = "the traces") -> dict[str, list[WindowTrace]]:
    """Traces per query in run order; ones naming queries or doc ids the run lacks are an error."""
    grouped: dict[str, list[WindowTrace]] = {}
    for trace in traces:
        grouped.setdefault(trace.query_id, []).append(trace)
    strangers = [q for q in grouped if q not in run]
    if strangers:
        raise ReasonRankError(f"{where} do not belong to run {run.name!r}: {len(strangers)} of their "
                              f"{len(grouped)} query ids are not in the run (e.g. {strangers[0]!r})")
    for query_id, windows in grouped.items():
        known = {c.doc_id for c in run[query_id].candidates}
        for trace in windows:
            unknown = [d for d in trace.doc_ids if d not in known]
            if unknown or not trace.doc_ids:
                found = f"doc id {unknown[0]!r}" if unknown else "no doc ids (written by an older version?)"
                raise ReasonRankError(f"{where} do not belong to run {run.name!r}: a window of query "
                                      f"{query_id!r} has {found} that the run does not rank for it")
    return grouped


def missing_windows(grouped: Mapping[str, Sequence[WindowTrace]], run: Run) -> str | None:
    """What the traces lack of the run's windows, in one sentence, or None when they look whole.

    Queries of the run without any window (when others have some), and queries whose windows of a
    pass leave a gap or never reach the pass's top (rank ``start`` of its last window must be the
    lowest start of the pass, and each window must overlap or touch the one before it).
    """
    if not grouped:
        return None
    bare = [q for q in run.rankings if q not in grouped]
    gaps = []
    for query_id, windows in grouped.items():
        passes: dict[int, list[WindowTrace]] = {}
        for trace in windows:
            passes.setdefault(trace.pass_index, []).append(trace)
        for index, spans in passes.items():
            if (index == 0 and min(t.start for t in spans) != 0) or any(
                    later.end < earlier.start for earlier, later in itertools.pairwise(spans)):
                gaps.append(query_id)
                break
        else:
            if sorted(passes) != list(range(len(passes))):
                gaps.append(query_id)
    parts = []
    if bare:
        parts.append(f"{len(bare)} of the run's {len(run)} queries have no window in the traces (e.g. {bare[0]!r})")
    if gaps:
        parts.append(f"{len(gaps)} queries miss windows of their schedule (e.g. {gaps[0]!r})")
    return "; ".join(parts) + ": a partial or mixed traces file?" if parts else None


def initial_order(final: Sequence[str], windows: Sequence[WindowTrace], where: str = "the traces") -> list[str]:
    """The list before the first window ran, undoing windows from the last one back.

    Each window's output (its input taken in ``order``) must be what the list holds at its span.
    """
    order = list(final)
    for trace in reversed(windows):
        output = [trace.doc_ids[j] for j in trace.order]
        if order[trace.start:trace.end] != output:
            raise ReasonRankError(
                f"{where} do not belong to the run: window [{trace.start}, {trace.end}) of query "
                f"{trace.query_id!r} output an order that is not the run's (another run's traces?)")
        order[trace.start:trace.end] = trace.doc_ids
    return order


def split_response(text: str, size: int, status: str) -> tuple[str, str]:
    """``(reasoning, answer)`` of a response: the parser's reasoning and the text of the answer tag.

    An untagged response that gave an answer is all answer (the oracle's, RankGPT's); one that did
    not is all reasoning (cut off before its answer).
    """
    lowered = text.lower()
    if "<answer>" not in lowered and "<think>" not in lowered:
        return ("", text.strip()) if status != "no_answer" else (text.strip(), "")
    reasoning = parse_answer(text, size).reasoning
    answers = _ANSWER.findall(text)
    return reasoning, (answers[-1].strip() if answers else "")


def window_view(trace: WindowTrace, labels: Mapping[str, int]) -> WindowView:
    reasoning, answer = split_response(trace.response, len(trace.doc_ids), trace.status)
    moves = []
    for after, position in enumerate(trace.order):
        doc_id = trace.doc_ids[position]
        relevance = labels.get(doc_id, 0)
        if relevance > 0 and after != position:
            moves.append(Move(doc_id, relevance, trace.start + position + 1, trace.start + after + 1))
    moves.sort(key=lambda m: m.after)
    return WindowView(trace.pass_index, trace.start, trace.end, tuple(trace.doc_ids), tuple(trace.order),
                      trace.status, trace.finish_reason, trace.prompt_tokens, trace.output_tokens,
                      round(trace.seconds, 3), reasoning, answer, tuple(moves))


def spread(values: Sequence[float], bins: int = 20) -> Spread | None:
    """Summary of per-window values (None without any); percentiles by nearest rank."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]

    low, high = ordered[0], ordered[-1]
    width = (high - low) / bins if high > low else 1.0
    counts = [0] * (bins if high > low else 1)
    for value in ordered:
        counts[min(int((value - low) / width), len(counts) - 1)] += 1
    edges = tuple(low + i * width for i in range(len(counts) + 1))
    return Spread(sum(ordered) / len(ordered), rank(50), rank(90), high, sum(ordered), edges, tuple(counts))


def outcome(before: Mapping[str, float], after: Mapping[str, float], query_ids: Sequence[str]) -> dict[str, Any]:
    """Wins, ties and losses of ``after`` over ``before`` per query, with a paired t-test (``evaluate.compare``)."""
    from reasonrank_ir.evaluate.significance import compare

    judged = list(query_ids)
    comparison = compare({"judged": judged, "per_query": {"m": before}},
                         {"judged": judged, "per_query": {"m": after}}, "m")
    return {"wins": comparison.wins, "ties": comparison.ties, "losses": comparison.losses,
            "p_value": comparison.p_value}


def first_stage(run: Run, grouped: Mapping[str, Sequence[WindowTrace]], where: str = "the traces") -> Run:
    """The run as it was before reranking, recovered from the traces (queries without any kept as they are)."""
    from reasonrank_ir.types import Candidate, Ranking

    recovered = Run(name="first stage")
    for query_id, ranking in run.rankings.items():
        order = [c.doc_id for c in ranking.candidates]
        order = initial_order(order, grouped.get(query_id, ()), where)
        recovered.add(Ranking(ranking.query, tuple(Candidate(d, float(len(order) - r)) for r, d in enumerate(order))))
    return recovered


def build(run: Run, grouped: Mapping[str, Sequence[WindowTrace]], *, baseline: Run | None = None,
          qrels: Qrels | None = None, topics: Mapping[str, Query] | None = None, metric: str = "nDCG@10",
          scores: Mapping[str, Mapping[str, float]] | None = None, baseline_name: str = "",
          notes: Sequence[str] = ()) -> ReportData:
    """The report of ``run`` and its windows (``grouped`` by ``group_traces``) against ``baseline``.

    ``scores`` holds per-query metric values of the run (``'after'``) and of the baseline
    (``'before'``); means are over the run's judged queries.
    """
    scores = scores or {}
    before, after = scores.get("before", {}), scores.get("after", {})
    qrels = qrels or {}
    rows, details = [], []
    all_windows: list[WindowTrace] = []
    for query_id, ranking in run.rankings.items():
        windows = list(grouped.get(query_id, ()))
        all_windows.extend(windows)
        labels = qrels.get(query_id, {})
        text = topics[query_id].text if topics and query_id in topics else ranking.query.text
        reranked = tuple(c.doc_id for c in ranking.candidates)
        base = (tuple(c.doc_id for c in baseline[query_id].candidates) if query_id in baseline else ()
                ) if baseline is not None else None
        shown = set(reranked) | set(base or ())
        rows.append(QueryRow(query_id, text[:300], before.get(query_id), after.get(query_id), len(windows),
                             sum(w.status != "ok" for w in windows), sum(w.output_tokens for w in windows),
                             round(sum(w.seconds for w in windows), 3), sum(v > 0 for v in labels.values())))
        details.append(asdict(QueryDetail(
            text, base, reranked, {d: v for d, v in labels.items() if d in shown or v > 0},
            tuple(window_view(w, labels) for w in windows))))
    statuses = dict.fromkeys(STATUSES, 0)
    finish: dict[str, int] = {}
    for trace in all_windows:
        statuses[trace.status] = statuses.get(trace.status, 0) + 1
        finish[trace.finish_reason] = finish.get(trace.finish_reason, 0) + 1
    measured = [q for q in run.rankings if q in after]
    overview = {
        "run": run.name, "metric": metric, "baseline": baseline_name if baseline is not None else "",
        "before": _mean([before.get(q, 0.0) for q in measured]) if before else None,
        "after": _mean([after[q] for q in measured]),
        "outcome": outcome(before, after, measured) if before and measured else None,
        "windows": len(all_windows), "statuses": statuses, "finish": finish,
        "levels": sorted({v for docs in qrels.values() for v in docs.values()}),
        "tokens": {name: (asdict(s) if (s := spread([getattr(t, name) for t in all_windows])) else None)
                   for name in ("prompt_tokens", "output_tokens", "seconds")},
        "notes": list(notes), "queries": [asdict(r) for r in rows],
    }
    return ReportData(overview, details)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
