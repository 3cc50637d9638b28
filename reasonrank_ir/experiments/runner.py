"""Run an experiment: every dataset's first stage, then every system over it, resumable.

Files under the output folder (default ``runs/<experiment>/``), for each dataset × row (the first
stage and each system): ``<dataset>.<row>.txt`` (TREC run) with ``.settings.json`` beside it (the
same settings ``search`` records, see ``pipeline.job_spec``), ``.traces.jsonl`` (reasoning),
``.summary.json`` (time, tokens, parse failures) and ``.eval.json`` (aggregate and per-query scores,
which the report reads). Before any work every finished or started part is checked against the
YAML: a part made with other settings is refused in one line, or redone with ``overwrite``;
finished parts of the same settings are kept, interrupted ones continue where they stopped.
Anything missing (an index that cannot be downloaded, a model not on disk, runs not fetched) is
reported per dataset with the way to get it, and the other datasets go on.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.experiments.config import DatasetSpec, Experiment, SystemSpec
from reasonrank_ir.io.names import looks_like_path
from reasonrank_ir.job import OutputFiles
from reasonrank_ir.pipeline.job_spec import JobSpec, source
from reasonrank_ir.pipeline.rerankers import Rerankers
from reasonrank_ir.pipeline.search_job import run_job
from reasonrank_ir.types import Query, Run

if TYPE_CHECKING:
    from reasonrank_ir.pipeline import RerankOutcome
    from reasonrank_ir.pipeline.ray_pool import RayOptions

RUNS_HOWTO = ("ReasonRank's ReasonIR top-100 runs are in github.com/8421BCD/ReasonRank under "
              "runs/{subset}/reasonir_gpt4cot_top100.txt: download them and point first_stage runs: at the "
              "folder (pattern: '{subset}/reasonir_gpt4cot_top100.txt')")


@dataclass(frozen=True)
class Missing:
    """Something a dataset or system needs that is not on this machine, and how to get it."""

    dataset: str
    row: str
    reason: str


@dataclass(frozen=True)
class Part:
    """One cell of the table: a dataset × row (the first stage or a system) as the search job that makes it."""

    dataset: DatasetSpec
    row: str
    system: SystemSpec | None
    """None for the first stage."""
    job: JobSpec
    passage_tokens: int
    """The dataset's passage truncation (a system's own ``passage_tokens`` wins)."""
    files: OutputFiles

    def settings(self) -> dict[str, Any]:
        return self.job.settings(self.passage_tokens)

    def command(self, metrics: tuple[str, ...] = ()) -> list[str]:
        """``python -m reasonrank_ir.search ...`` that makes this part's run alone, at its run file."""
        return self.job.command(self.files.run, self.passage_tokens, metrics)


@dataclass
class ExperimentRun:
    experiment: Experiment
    output_dir: Path
    finished: list[tuple[str, str]] = field(default_factory=list)
    """(dataset, row) pairs whose run and scores are complete, including ones done earlier."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Of those, the ones already complete before this call."""
    missing: list[Missing] = field(default_factory=list)
    redone: list[tuple[str, str]] = field(default_factory=list)
    """Parts made with other settings, removed to be made again (``overwrite``)."""


def eval_path(output_dir: Path, dataset: str, row: str) -> Path:
    return Path(output_dir) / f"{dataset}.{row}.eval.json"


def run_path(output_dir: Path, dataset: str, row: str) -> Path:
    return Path(output_dir) / f"{dataset}.{row}.txt"


def plan(experiment: Experiment, output_dir: str | Path | None = None,
         limit_queries: int | None = None) -> tuple[list[Part], list[Missing]]:
    """Every part of the experiment as a search job, without opening an index or loading a model;
    a dataset whose job cannot even be described (a published run not there) is missing instead."""
    from reasonrank_ir.data import load
    from reasonrank_ir.pipeline.first_stage import FirstStage
    from reasonrank_ir.retrieval.bm25 import BM25Settings

    output_dir = Path(output_dir) if output_dir else experiment.default_output_dir()
    first = experiment.first_stage
    parts, missing = [], []
    for spec in experiment.datasets:
        run_file = first.run_file(spec)
        index = spec.dataset or spec.index or ""
        bm25 = BM25Settings(k1=first.k1, b=first.b, remove_query=first.remove_query)
        stage = (FirstStage(hits=first.hits, run_file=str(run_file)) if run_file is not None else
                 FirstStage(hits=first.hits, bm25=bm25))
        # JobSpec checks --limit-queries: outside the try, as a mistake of the command, not of a dataset
        base = JobSpec(index=index, first_stage=stage, topics=spec.topics, qrels=spec.qrels,
                       limit_queries=limit_queries)
        try:
            if run_file is not None and not run_file.is_file():
                raise ReasonRankError(f"first-stage run {run_file} is missing; "
                                      + RUNS_HOWTO.replace("{subset}", spec.name, 1))
            if spec.index and looks_like_path(spec.index) and not Path(spec.index).exists():
                raise ReasonRankError(f"index folder {spec.index} does not exist")
            passage_tokens = load(index).max_passage_tokens
            rows = [(first.name, None)] + [(system.name, system) for system in experiment.systems]
            dataset_parts = [Part(spec, row, system, replace(base, reranker=system), passage_tokens,
                                  OutputFiles.beside(run_path(output_dir, spec.name, row)))
                             for row, system in rows]
            for part in dataset_parts:
                part.settings()  # a topics file that cannot be read is this dataset's problem, now
        except ReasonRankError as error:
            missing.append(Missing(spec.name, first.name, str(error)))
            continue
        parts += dataset_parts
    return parts, missing


def check_parts(experiment: Experiment, parts: list[Part], overwrite: bool = False) -> list[Part]:
    """The parts whose finished run or started job was made with settings other than the YAML's.

    Without ``overwrite`` the first one is refused in one line (system, dataset, setting old → new);
    with it, their files (run, traces, settings, scores, summary, page) are removed to be made again.
    """
    from reasonrank_ir import job

    def conflict(part: Part) -> job.Conflict | None:
        try:
            return job.conflict(part.files, part.settings())
        except ReasonRankError:  # settings beside the run that are not JSON: not this job's either
            return job.Conflict(None, None, None, False, 0)

    changed = [(part, found) for part in parts if (found := conflict(part)) is not None]
    if changed and not overwrite:
        part, found = changed[0]
        what = (f"has {part.files.run} without readable settings beside it (made by an older version, or "
                "not by the runner)" if found.key is None else
                f"holds {found.kind} made with {found.key} {show_setting(found.was)} → now {show_setting(found.now)}")
        more = f" (and {len(changed) - 1} more changed parts)" if len(changed) > 1 else ""
        source = experiment.source or experiment.name
        raise ReasonRankError(f"{part.row} on {part.dataset.name} {what}{more}: pass --overwrite to redo the changed "
                              f"parts only (python -m reasonrank_ir.experiments run {source} --overwrite), or "
                              "give the system a new name:")
    for part, _ in changed:
        for path in part_files(part.files.run.parent, part.dataset.name, part.row):
            path.unlink(missing_ok=True)
    return [part for part, _ in changed]


def part_files(output_dir: Path, dataset: str, row: str) -> list[Path]:
    """Everything the runner and the report write for one part (and the topics marker that stood for
    the settings of a first stage before they were recorded)."""
    files = OutputFiles.beside(run_path(output_dir, dataset, row))
    return [files.run, files.traces, files.settings, eval_path(output_dir, dataset, row),
            Path(output_dir) / f"{dataset}.{row}.summary.json", files.run.with_suffix(".html"),
            files.run.with_name(files.run.name + ".topics")]


def show_setting(value: Any) -> str:
    """A recorded setting's value as messages print it."""
    return "(not set)" if value is None else str(value)


def run_experiment(experiment: Experiment, output_dir: str | Path | None = None, limit_queries: int | None = None,
                   progress: bool = True, echo: Callable[[str], None] = lambda line: None,
                   overwrite: bool = False, ray: RayOptions | None = None) -> ExperimentRun:
    """First stage on every dataset, then each system on every dataset whose first stage is there.

    ``limit_queries`` keeps the first N topics of each dataset (a quick try; scores cover them only).
    Parts made with other settings are refused before any work, or redone with ``overwrite``.
    ``ray`` reranks on Ray actors, one engine each: the same files.
    ``echo`` receives one line per step (the CLI prints them).
    """
    output_dir = Path(output_dir) if output_dir else experiment.default_output_dir()
    parts, unplanned = plan(experiment, output_dir, limit_queries)
    redone = check_parts(experiment, parts, overwrite)
    output_dir.mkdir(parents=True, exist_ok=True)
    result = ExperimentRun(experiment, output_dir, redone=[(p.dataset.name, p.row) for p in redone])
    for part in redone:
        echo(f"redo     {part.dataset.name} {part.row}: its settings changed (--overwrite)")
    for gone in unplanned:
        result.missing.append(gone)
        echo(f"missing  {gone.dataset} {gone.row}: {gone.reason}")
        result.missing += [Missing(gone.dataset, s.name, f"no first stage ({gone.row})") for s in experiment.systems]
    prepared: dict[str, Prepared] = {}
    first = experiment.first_stage
    for part in (p for p in parts if p.system is None):
        spec = part.dataset
        try:
            dataset = open_dataset(spec)
            topics = part.job.queries(dataset)
            made = run_job(part.job, dataset, part.files, topics, resume=True, progress=progress)
            candidates, reused = made.run, made.complete
            fresh = _score(candidates, dataset, topics, experiment, part)
        except ReasonRankError as error:
            result.missing.append(Missing(spec.name, first.name, str(error)))
            echo(f"missing  {spec.name} {first.name}: {error}")
            continue
        prepared[spec.name] = Prepared(dataset, topics, candidates)
        result.finished.append((spec.name, first.name))
        if reused and fresh:
            result.skipped.append((spec.name, first.name))
        echo(f"done     {spec.name} {first.name}: {len(candidates)} queries")
    for system in experiment.systems:
        _run_system(system, experiment, [p for p in parts if p.system is system], prepared, result, progress, echo,
                    ray)
    return result


def open_dataset(spec: DatasetSpec) -> Dataset:
    """The dataset of a spec: a registry name, or an index (Pyserini prebuilt name or folder) with topics
    and qrels (files, dataset names or Pyserini names), every missing part named in one message."""
    from reasonrank_ir.data import load

    if spec.dataset:
        return load(spec.dataset, topics=spec.topics, qrels=spec.qrels)
    index = spec.index or ""  # (DatasetSpec has one of dataset and index)
    if looks_like_path(index) and not Path(index).exists():
        raise ReasonRankError(f"index folder {index} does not exist")
    dataset = load(index, topics=spec.topics, qrels=spec.qrels)
    problems = []
    for part in (dataset.index_path, dataset.topics, dataset.qrels):  # tried up front, all of them
        try:
            part()
        except ReasonRankError as error:
            problems.append(str(error))
    if problems:
        raise ReasonRankError("; and ".join(problems))
    return dataset


@dataclass(frozen=True)
class Prepared:
    """A dataset whose first stage is done: what its systems rerank."""

    dataset: Dataset
    topics: dict[str, Query]
    candidates: Run


def _run_system(system: SystemSpec, experiment: Experiment, parts: list[Part], prepared: dict[str, Prepared],
                result: ExperimentRun, progress: bool, echo: Callable[[str], None],
                ray: RayOptions | None = None) -> None:
    from reasonrank_ir import job

    hint = (f" — get the model with `huggingface-cli download {system.model}` where the hub is reachable and set "
            "model: to its local folder, or use a GGUF file with backend: llamacpp")
    with Rerankers(system, ray=ray, hint=hint) as rerankers:  # one engine (or pool) for every dataset
        for part in parts:
            spec, files = part.dataset, part.files
            if spec.name not in prepared:
                result.missing.append(Missing(spec.name, system.name,
                                              f"no first stage ({experiment.first_stage.name})"))
                continue
            ready = prepared[spec.name]
            dataset, topics, candidates = ready.dataset, ready.topics, ready.candidates
            try:
                if system.reranker != "oracle" and not job.is_finished(files):
                    dataset.index_path()  # passages: an index that cannot be fetched is reported before a model loads
                made = run_job(part.job, dataset, files, topics, rerankers=rerankers, candidates=candidates,
                               resume=True, progress=progress)
                if made.outcome is not None:
                    _write_summary(files.run.with_name(f"{spec.name}.{system.name}.summary.json"), made.outcome)
                fresh = _score(made.run, dataset, topics, experiment, part)
            except ReasonRankError as error:
                result.missing.append(Missing(spec.name, system.name, str(error)))
                echo(f"missing  {spec.name} {system.name}: {error}")
                continue
            result.finished.append((spec.name, system.name))
            if made.complete and fresh:
                result.skipped.append((spec.name, system.name))
                echo(f"done     {spec.name} {system.name}: already complete")
            else:
                echo(f"done     {spec.name} {system.name}: {files.run}")
    gc.collect()  # the engine's memory, before the next system loads its own


def _score(run: Run, dataset: Dataset, topics: dict[str, Query], experiment: Experiment, part: Part) -> bool:
    """Aggregate and per-query scores of the part's finished run (judged queries counted as trec_eval -c
    does), tied to it by its digest; True when the scores there were already those."""
    from reasonrank_ir import pipeline
    from reasonrank_ir.evaluate import parse_measures
    from reasonrank_ir.job import recorded

    path = eval_path(part.files.run.parent, part.dataset.name, part.row)
    record = recorded(part.files)
    if record is None or "finished" not in record:
        raise ReasonRankError(f"{part.files.run}: the job did not finish (no digest in {part.files.settings})")
    run_sha256 = record["finished"]["sha256"]
    qrels_source = source(part.dataset.qrels)
    if path.is_file():
        scores = json.loads(path.read_text(encoding="utf-8"))
        if (scores.get("run_sha256") == run_sha256 and scores.get("qrels") == qrels_source
                and set(experiment.metrics) <= set(scores.get("aggregate", {}))
                and scores.get("queries") == list(run.rankings)):
            return True
    qrels = pipeline.judgments(dataset, topics)
    evaluation = pipeline.score(run, dataset, experiment.metrics, qrels=qrels) if qrels is not None else None
    if evaluation is None or qrels is None:
        raise ReasonRankError(f"{dataset.name} has no relevance judgments: add qrels: to score it")
    judged = [q for q, docs in qrels.items() if docs]
    measures = parse_measures(experiment.metrics)
    # keyed by the names the YAML uses (ir-measures spells MAP as AP)
    names = {str(measure): name for measure, name in zip(measures, experiment.metrics)}
    scores = {"dataset": dataset.name, "run_sha256": run_sha256, "qrels": qrels_source,
              "queries": list(run.rankings), "judged": judged,
              "aggregate": {names[k]: v for k, v in evaluation.aggregate.items()},
              "per_query": {names[k]: v for k, v in evaluation.per_query.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scores), encoding="utf-8")
    return False


def _write_summary(path: Path, outcome: RerankOutcome) -> None:
    record = outcome.summary.as_dict()
    record["replayed_windows"] = outcome.replayed_windows
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
