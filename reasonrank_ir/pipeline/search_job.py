"""One search job, the same for every caller: settings checked, first stage, reranking, the run file written.

``search`` runs one :class:`~reasonrank_ir.pipeline.job_spec.JobSpec` with :func:`run_job`, and
``experiments run`` runs each part of its table with it too (a system's parts over the first stage
it already ran), so both record the same settings beside the run, recognise each other's finished
run, resume the same way, and write the same bytes. Scoring is ``pipeline.score`` on the returned run.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

from reasonrank_ir import job as jobs
from reasonrank_ir.data import Dataset
from reasonrank_ir.job import OutputFiles
from reasonrank_ir.pipeline.first_stage import retrieve
from reasonrank_ir.pipeline.job_spec import JobSpec, run_tag
from reasonrank_ir.pipeline.rerank_job import RerankOutcome, rerank
from reasonrank_ir.pipeline.rerankers import Rerankers
from reasonrank_ir.pipeline.scoring import check_judgments
from reasonrank_ir.types import Query, Run


@dataclass
class JobResult:
    run: Run
    """The job's run: read again from its file when it was already complete."""
    complete: bool
    """The run was already there, made with the same settings: nothing ran."""
    first_stage: Run | None = None
    """The candidates, when this call retrieved them."""
    outcome: RerankOutcome | None = None
    """What reranking did (windows, tokens, replayed windows), when this call reranked."""


def run_job(spec: JobSpec, dataset: Dataset, files: OutputFiles, topics: dict[str, Query], *,
            rerankers: Rerankers | None = None, candidates: Run | None = None, resume: bool = False,
            overwrite: bool = False, progress: bool = True,
            echo: Callable[[str], None] | None = None) -> JobResult:
    """The run of ``spec`` over ``topics`` (see ``JobSpec.queries``) at ``files``.

    A finished run of the same settings is read again, not redone; other work at ``files`` is refused
    (see ``job.start``). ``candidates`` is the first stage when the caller already has it (an
    experiment's systems share their dataset's); otherwise it is retrieved, after the reranker is
    built (from ``rerankers``, whose engine other jobs may share; by default one for this job), so a
    model that cannot load fails before any retrieval. A job that stops before its first window leaves nothing behind.
    ``echo`` receives a line on the first stage.
    """
    from reasonrank_ir.io.trec import read_run

    if jobs.start(files, spec.settings(dataset.max_passage_tokens), resume=resume, overwrite=overwrite):
        return JobResult(read_run(files.run, topics), complete=True)
    own = Rerankers(spec.reranker) if rerankers is None and spec.reranker is not None else None
    try:
        rerankers = rerankers or own
        reranker = rerankers.for_dataset(dataset) if spec.reranker is not None and rerankers is not None else None
        started = perf_counter()
        first = None
        if candidates is None:
            first = candidates = retrieve(dataset, topics, spec.first_stage, progress=progress)
            if echo is not None:
                echo(f"first stage: {len(candidates)} queries from {spec.first_stage.name} in "
                     f"{perf_counter() - started:.1f}s")
            if spec.qrels:  # another collection's judgments would score the reranked run 0.0000
                check_judgments(dataset, topics, spec.qrels, candidates)
        candidates.name = run_tag(files.run)
        if reranker is None or spec.reranker is None:
            jobs.finish(files, candidates, facts={"seconds": round(perf_counter() - started, 3)})
            return JobResult(candidates, complete=False, first_stage=first)
        outcome = rerank(reranker, candidates, dataset, files, resume=resume, batch_size=spec.reranker.batch_size,
                         progress=progress)
    except BaseException:
        jobs.abandon(files)  # a job that failed before its first window leaves nothing behind
        raise
    finally:
        if own is not None:
            own.close()
    return JobResult(outcome.run, complete=False, first_stage=first, outcome=outcome)
