"""Run an experiment: every dataset's first stage, then every system over it, resumable.

Files under the output folder (default ``runs/<experiment>/``):
``<dataset>.<system>.txt`` (TREC run), ``.traces.jsonl`` (reasoning), ``.summary.json`` (time,
tokens, parse failures) and ``<dataset>.<row>.eval.json`` (aggregate and per-query scores, which
the report reads). Finished runs are skipped; interrupted ones continue where they stopped.
Anything missing (an index that cannot be downloaded, a model not on disk, runs not fetched) is
reported per dataset with the way to get it, and the other datasets go on.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.experiments.config import DatasetSpec, Experiment, SystemSpec
from reasonrank_ir.io.names import looks_like_path

RUNS_HOWTO = ("ReasonRank's ReasonIR top-100 runs are in github.com/8421BCD/ReasonRank under "
              "runs/{subset}/reasonir_gpt4cot_top100.txt: download them and point first_stage runs: at the "
              "folder (pattern: '{subset}/reasonir_gpt4cot_top100.txt')")


@dataclass(frozen=True)
class Missing:
    """Something a dataset or system needs that is not on this machine, and how to get it."""

    dataset: str
    row: str
    reason: str


@dataclass
class ExperimentRun:
    experiment: Experiment
    output_dir: Path
    finished: list[tuple[str, str]] = field(default_factory=list)
    """(dataset, row) pairs whose run and scores are complete, including ones done earlier."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Of those, the ones already complete before this call."""
    missing: list[Missing] = field(default_factory=list)


def eval_path(output_dir: Path, dataset: str, row: str) -> Path:
    return Path(output_dir) / f"{dataset}.{row}.eval.json"


def run_path(output_dir: Path, dataset: str, row: str) -> Path:
    return Path(output_dir) / f"{dataset}.{row}.txt"


def run_experiment(experiment: Experiment, output_dir: str | Path | None = None, limit_queries: int | None = None,
                   progress: bool = True, echo: Callable[[str], None] = lambda line: None,
                   ray=None) -> ExperimentRun:
    """First stage on every dataset, then each system on every dataset whose first stage is there.

    ``limit_queries`` keeps the first N topics of each dataset (a quick try; scores cover them only).
    ``ray`` (``pipeline.ray_pool.RayOptions``) reranks on Ray actors, one engine each: the same files.
    ``echo`` receives one line per step (the CLI prints them).
    """
    if limit_queries is not None and limit_queries < 1:
        raise ReasonRankError(f"--limit-queries must be a positive integer, found {limit_queries}")
    output_dir = Path(output_dir) if output_dir else experiment.default_output_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    result = ExperimentRun(experiment, output_dir)
    prepared: dict[str, tuple[Any, dict, Any]] = {}
    first = experiment.first_stage
    for spec in experiment.datasets:
        try:
            dataset = open_dataset(spec)
            topics = dataset.topics()
            if limit_queries:
                topics = dict(list(topics.items())[:limit_queries])
            candidates, reused = _first_stage(experiment, spec, dataset, topics, output_dir, progress)
            _score(candidates, dataset, topics, experiment, eval_path(output_dir, spec.name, first.name), reused)
        except ReasonRankError as error:
            result.missing.append(Missing(spec.name, first.name, str(error)))
            echo(f"missing  {spec.name} {first.name}: {error}")
            continue
        prepared[spec.name] = (dataset, topics, candidates)
        result.finished.append((spec.name, first.name))
        echo(f"done     {spec.name} {first.name}: {len(candidates)} queries")
    for system in experiment.systems:
        _run_system(system, experiment, prepared, output_dir, result, progress, echo, ray)
    return result


def open_dataset(spec: DatasetSpec):
    """The dataset of a spec: a registry name, or an index (Pyserini prebuilt name or folder) with topics
    and qrels (files, dataset names or Pyserini names), every missing part named in one message."""
    from reasonrank_ir.data import load

    if spec.dataset:
        return load(spec.dataset, topics=spec.topics, qrels=spec.qrels)
    if looks_like_path(spec.index) and not Path(spec.index).exists():
        raise ReasonRankError(f"index folder {spec.index} does not exist")
    dataset = load(spec.index, topics=spec.topics, qrels=spec.qrels)
    problems = []
    for part in (dataset.index_path, dataset.topics, dataset.qrels):  # tried up front, all of them
        try:
            part()
        except ReasonRankError as error:
            problems.append(str(error))
    if problems:
        raise ReasonRankError("; and ".join(problems))
    return dataset


def _first_stage(experiment: Experiment, spec: DatasetSpec, dataset: Dataset, topics: dict, output_dir: Path,
                 progress: bool):
    """The candidates: the published run file read again, or BM25 (kept in the output folder)."""
    from reasonrank_ir import pipeline
    from reasonrank_ir.io.trec import read_run, write_run
    from reasonrank_ir.retrieval.bm25 import BM25Settings

    first = experiment.first_stage
    run_file = first.run_file(spec)
    if run_file is not None:
        if not run_file.is_file():
            howto = RUNS_HOWTO.replace("{subset}", spec.name, 1)
            raise ReasonRankError(f"first-stage run {run_file} is missing; {howto}")
        stage = pipeline.FirstStage(hits=first.hits, run_file=str(run_file))
        return pipeline.retrieve(dataset, topics, stage), False
    path = run_path(output_dir, spec.name, first.name)
    marker = path.with_name(path.name + ".topics")
    if path.is_file() and marker.is_file() and marker.read_text(encoding="utf-8").split() == list(topics):
        return read_run(path, topics), True
    bm25 = BM25Settings(k1=first.k1, b=first.b, remove_query=first.remove_query)
    stage = pipeline.FirstStage(hits=first.hits, bm25=bm25)
    candidates = pipeline.retrieve(dataset, topics, stage, progress=progress)
    candidates.name = first.name
    write_run(candidates, path)
    marker.write_text("".join(q + "\n" for q in topics), encoding="utf-8")
    return candidates, False


def _run_system(system: SystemSpec, experiment: Experiment, prepared: dict, output_dir: Path,
                result: ExperimentRun, progress: bool, echo: Callable[[str], None], ray=None) -> None:
    from reasonrank_ir import job, pipeline
    from reasonrank_ir.io.trec import read_run

    engine: dict[str, Any] = {}
    for spec in experiment.datasets:
        if spec.name not in prepared:
            result.missing.append(Missing(spec.name, system.name, f"no first stage ({experiment.first_stage.name})"))
            continue
        dataset, topics, candidates = prepared[spec.name]
        files = pipeline.OutputFiles.beside(run_path(output_dir, spec.name, system.name))
        scores = eval_path(output_dir, spec.name, system.name)
        complete = _complete(files, candidates)  # reads the run file: once per system and dataset
        if complete and scores.is_file() and _same_topics(scores, candidates):
            result.finished.append((spec.name, system.name))
            result.skipped.append((spec.name, system.name))
            echo(f"done     {spec.name} {system.name}: already complete")
            continue
        try:
            if complete:  # only its scores are missing
                final = read_run(files.run, topics)
            else:
                if system.reranker != "oracle":
                    dataset.index_path()  # passages: an index that cannot be fetched is reported before a model loads
                job.start(files, _job_settings(system, experiment, dataset, candidates), resume=True)
                reranker = _reranker(system, dataset, engine, ray)
                outcome = pipeline.rerank(reranker, candidates, dataset, files, resume=True,
                                          batch_size=system.batch_size, tag=f"{experiment.name}.{system.name}",
                                          progress=progress)
                final = outcome.run
                if outcome.summary is not None:
                    _write_summary(files.run.with_name(f"{spec.name}.{system.name}.summary.json"), outcome)
            _score(final, dataset, topics, experiment, scores)
        except ReasonRankError as error:
            result.missing.append(Missing(spec.name, system.name, str(error)))
            echo(f"missing  {spec.name} {system.name}: {error}")
            continue
        result.finished.append((spec.name, system.name))
        echo(f"done     {spec.name} {system.name}: {files.run}")
    if hasattr(engine.get("loaded"), "close"):  # a Ray pool: its actors hold GPUs
        engine["loaded"].close()
    engine.clear()
    gc.collect()


def _job_settings(system: SystemSpec, experiment: Experiment, dataset: Dataset, candidates) -> dict:
    """What decides a system's run on a dataset: resuming it with anything else would mix two jobs."""
    import hashlib

    queries = hashlib.sha256("\n".join(candidates.rankings).encode()).hexdigest()[:12]
    return {"first stage": experiment.first_stage.name, "hits": experiment.first_stage.hits, "queries": queries,
            "reranker": system.reranker, "model": system.model, "tokenizer": system.tokenizer,
            "depth": system.depth, "window": system.window, "step": system.step, "passes": system.passes,
            "passage_tokens": system.passage_tokens or dataset.max_passage_tokens, "max_tokens": system.max_tokens}


def _reranker(system: SystemSpec, dataset: Dataset, engine: dict, ray=None):
    """The system's reranker for one dataset; the model and tokenizer are loaded once per system."""
    from reasonrank_ir.rerank.spec import build_reranker

    if system.reranker == "oracle":
        qrels = dataset.qrels()
        if not qrels:
            raise ReasonRankError(f"the oracle needs relevance judgments and {dataset.name} has none: add qrels:")
        return build_reranker(system, passage_tokens=dataset.max_passage_tokens, qrels=qrels)
    if "error" in engine:
        raise engine["error"]
    if "loaded" in engine:
        loaded = engine["loaded"]
        if hasattr(loaded, "rerank_job"):  # a Ray pool takes each dataset's passage truncation itself
            return loaded
        return build_reranker(system, passage_tokens=dataset.max_passage_tokens, backend=loaded.backend,
                              tokenizer=loaded.tokenizer)
    if ray is not None:
        from reasonrank_ir.pipeline.ray_pool import start_pool

        try:
            engine["loaded"] = start_pool(system, ray)
        except ReasonRankError as error:  # what the cluster lacks, said once for every dataset
            engine["error"] = error
            raise
        return engine["loaded"]
    try:
        engine["loaded"] = build_reranker(system, passage_tokens=dataset.max_passage_tokens)
    except ReasonRankError as error:
        engine["error"] = ReasonRankError(
            f"{error} — get the model with `huggingface-cli download {system.model}` where the hub is "
            f"reachable and set model: to its local folder, or use a GGUF file with backend: llamacpp")
        raise engine["error"] from None
    return engine["loaded"]


def _complete(files, candidates) -> bool:
    """A finished run file (whole, as its job wrote it) answering exactly the first stage's queries."""
    from reasonrank_ir.io.trec import read_run
    from reasonrank_ir.job import is_finished

    if not is_finished(files):
        return False

    return set(read_run(files.run).rankings) == set(candidates.rankings)


def _same_topics(scores: Path, candidates) -> bool:
    return set(json.loads(scores.read_text(encoding="utf-8")).get("queries", [])) == set(candidates.rankings)


def _score(run, dataset: Dataset, topics: dict, experiment: Experiment, path: Path, reused: bool = False) -> None:
    """Aggregate and per-query scores, judged queries counted as trec_eval -c does."""
    from reasonrank_ir.evaluate import evaluate, parse_measures

    if reused and path.is_file() and _same_topics(path, run):
        return
    qrels = dataset.qrels()
    if not qrels:
        raise ReasonRankError(f"{dataset.name} has no relevance judgments: add qrels: to score it")
    qrels = {q: docs for q, docs in qrels.items() if q in topics}
    judged = [q for q, docs in qrels.items() if docs]
    measures = parse_measures(experiment.metrics)
    evaluation = evaluate(run, qrels, measures)
    # keyed by the names the YAML uses (ir-measures spells MAP as AP)
    names = {str(measure): name for measure, name in zip(measures, experiment.metrics)}
    record = {"dataset": dataset.name, "queries": list(run.rankings), "judged": judged,
              "aggregate": {names[k]: v for k, v in evaluation.aggregate.items()},
              "per_query": {names[k]: v for k, v in evaluation.per_query.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")


def _write_summary(path: Path, outcome) -> None:
    record = outcome.summary.as_dict() if hasattr(outcome.summary, "as_dict") else dict(vars(outcome.summary))
    record["replayed_windows"] = outcome.replayed_windows
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
