"""A reranking job: passages attached from the index, windows journaled, the run file written whole at the end.

Every window goes to the traces file as soon as it is parsed; ``resume=True`` replays the journaled
windows (no model call) and generates the rest, ending with the same run file an uninterrupted job
writes. The run file is written once, whole, at the end (see ``job``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.traces import WindowTrace
from reasonrank_ir.job import OutputFiles, finish
from reasonrank_ir.rerank.listwise import BATCH_SIZE, BatchReranker, RerankSummary
from reasonrank_ir.types import Ranking, Run


def attach_passages(dataset: Dataset, ranking: Ranking, depth: int) -> Ranking:
    """Fill ``doc`` of the top-``depth`` candidates from the index (the reranker reads only those).

    Candidates that already carry their passage (rank_llm requests) are left as they are.
    """
    head = ranking.candidates[:depth]
    needed = [c.doc_id for c in head if c.doc is None]
    if not needed:
        return ranking
    docs = dataset.documents(needed)
    missing = [doc_id for doc_id in needed if doc_id not in docs]
    if missing:
        raise ReasonRankError(f"{len(missing)} candidates of query {ranking.query_id} are not in the index of "
                              f"{dataset.name} (e.g. {missing[0]!r}): does the run belong to another corpus?")
    filled = tuple(c if c.doc is not None else c.with_doc(docs[c.doc_id]) for c in head) + ranking.candidates[depth:]
    return Ranking(ranking.query, filled)


@dataclass
class RerankOutcome:
    run: Run
    replayed_windows: int = 0
    """Windows taken from the journal of an earlier, interrupted attempt instead of the model."""
    summary: RerankSummary = field(default_factory=RerankSummary)
    """Of every window the reranker generated so far (replayed ones are not counted)."""
    files: OutputFiles | None = None


@dataclass
class JobTotals:
    """What a run cost, replayed windows included (whichever session paid for them): recorded when it finishes."""

    windows: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0

    def add(self, traces: Iterable[WindowTrace]) -> None:
        for trace in traces:
            self.windows += 1
            self.prompt_tokens += trace.prompt_tokens
            self.output_tokens += trace.output_tokens

    def facts(self, replayed: int, seconds: float) -> dict[str, int | float]:
        return {"windows": self.windows, "prompt_tokens": self.prompt_tokens, "output_tokens": self.output_tokens,
                "replayed_windows": replayed, "seconds": round(seconds, 3)}


def rerank(reranker: BatchReranker, run: Run, dataset: Dataset | None, files: OutputFiles | None = None,
           resume: bool = False, batch_size: int = BATCH_SIZE, tag: str | None = None,
           progress: bool = True) -> RerankOutcome:
    """Rerank ``run``, journaling each window to ``files.traces`` as it is parsed (see the module doc).

    With ``resume``, windows journaled by an earlier attempt are replayed instead of generated.
    ``dataset`` gives the passages candidates lack (None: they carry theirs, as PyTerrier's frames do).
    Every reranker goes this way: a listwise one, the oracle, and engines on Ray actors
    (``pipeline.ray_pool.RayReranker``).
    """
    from time import perf_counter

    from reasonrank_ir.io.traces import TraceJournal

    started = perf_counter()
    tag = tag or run.name
    depth = reranker.config.depth
    needs_passages = reranker.needs_passages
    journal = TraceJournal(files.traces, resume=resume) if files else None
    done: dict[str, Ranking] = {}
    totals = JobTotals()
    bar = tqdm(total=len(run), desc="reranking", unit="query", disable=not progress)
    prepared = (attach_passages(dataset, r, depth) if needs_passages and dataset is not None else r for r in run)
    try:
        for batch in reranker.rerank_batches(prepared, batch_size=batch_size, journal=journal):
            for ranking in batch.rankings:
                done[ranking.query_id] = ranking
            totals.add(batch.traces)
            bar.update(len(batch.rankings))
            bar.set_postfix(windows_per_s=f"{reranker.summary.windows / max(perf_counter() - started, 1e-9):.1f}")
    finally:
        bar.close()
        if journal is not None:
            journal.close()
    final = Run({q: done[q] for q in run.rankings}, tag)
    replayed = journal.replayed if journal is not None else 0
    if files:
        finish(files, final, tag, totals.facts(replayed, perf_counter() - started))
    return RerankOutcome(final, replayed, reranker.summary, files)
