"""First stage -> reranker -> evaluation: the library call behind the CLIs and experiments.

Long reranking jobs journal every window to the traces file as soon as it is parsed; ``resume=True``
replays the journaled windows (no model call) and generates the rest, ending with the same run file
an uninterrupted job writes. The run file is written once, whole, at the end (see ``job``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.evaluate import Evaluation, evaluate, filter_excluded
from reasonrank_ir.io.trec import read_run
from reasonrank_ir.job import OutputFiles, finish
from reasonrank_ir.retrieval.bm25 import BM25, BM25Settings
from reasonrank_ir.retrieval.dense import DenseSettings
from reasonrank_ir.retrieval.expansion import ExpansionSettings
from reasonrank_ir.retrieval.fusion import FusionSettings, fuse
from reasonrank_ir.types import Query, Ranking, Run


@dataclass(frozen=True)
class FirstStage:
    """Where candidates come from: BM25/BM25Q, dense (FAISS), their fusion, fused run files, or ``--run``.

    ``expansion`` rewrites the queries for retrieval only; the run keeps the original query text,
    which is what the reranker sees.
    """

    hits: int = 100
    bm25: BM25Settings = BM25Settings()
    run_file: str | None = None
    dense: DenseSettings | None = None
    """Dense retrieval: alone, or fused with BM25 when ``fusion`` is set."""
    fusion: FusionSettings | None = None
    fuse_runs: tuple[str, ...] = ()
    """Run files fused (with ``fusion``, default RRF) instead of retrieving."""
    expansion: ExpansionSettings | None = None

    def __post_init__(self):
        if self.hits < 1:
            raise ReasonRankError(f"--hits must be at least 1, found {self.hits}")
        if self.run_file and self.fuse_runs:
            raise ReasonRankError("--run reranks one run and --fuse-runs fuses several: pick one")
        if self.expansion and (self.run_file or self.fuse_runs):
            raise ReasonRankError("--expand-query rewrites queries before retrieval; run files are not retrieved")
        if self.fusion and not (self.dense or self.fuse_runs):
            raise ReasonRankError("--fusion fuses BM25 with --dense retrieval, or the files of --fuse-runs")
        if self.fuse_runs and self.dense:
            raise ReasonRankError("--fuse-runs fuses run files only; write the dense run first and add it")

    @property
    def name(self) -> str:
        if self.run_file:
            return _file_stem(self.run_file)
        if self.fuse_runs:
            name = "+".join(_file_stem(f) for f in self.fuse_runs)
        else:
            sparse = "bm25qs" if self.bm25.query_side else "bm25"
            name = "+".join(([sparse] if self.fusion or not self.dense else []) + ([self.dense.name] if self.dense else []))
        if self.fusion or self.fuse_runs:
            name += "." + (self.fusion or FusionSettings()).label()
        return f"{name}.{self.expansion.name}" if self.expansion else name


def _file_stem(path: str) -> str:
    name = Path(path).name.removesuffix(".gz")
    for suffix in (".trec", ".txt", ".jsonl"):
        name = name.removesuffix(suffix)
    return name.removeprefix("run.")


def is_requests_file(path: str | os.PathLike) -> bool:
    """rank_llm-style request JSONL (query + candidates with their passages) rather than a TREC run."""
    return ".jsonl" in Path(path).name


def read_candidates(path: str | os.PathLike, topics: dict[str, Query] | None = None) -> Run:
    """A first stage from a file: a TREC run, or rank_llm requests whose candidates carry passages."""
    if is_requests_file(path):
        from reasonrank_ir.io.requests import read_requests

        return Run({r.query_id: r for r in read_requests(path)}, _file_stem(str(path)))
    return read_run(path, topics)


def _read_topic_run(path: str, dataset: Dataset, topics: dict[str, Query]) -> Run:
    run = read_candidates(path, topics)
    unknown = [q for q in run.rankings if q not in topics]
    if len(unknown) == len(run):
        raise ReasonRankError(f"{path}: its query ids ({', '.join(unknown[:3])}...) match no "
                              f"topic of {dataset.name}; pass the matching --topics")
    run = filter_excluded(Run({q: run[q] for q in topics if q in run}, run.name), dataset)
    _check_judged(run, dataset, path)
    return run


def _check_judged(run: Run, dataset: Dataset, path: str) -> None:
    """Refuse a run none of whose docs is judged: its doc ids belong to another corpus.

    Rerankers that read passages find such ids missing from the index; the oracle reads only the
    judgments (BRIGHT's runs rerank offline without the corpus), so this is its check.
    """
    qrels = dataset.qrels()
    judged = [r for r in run if qrels and qrels.get(r.query_id)]
    if judged and not any(c.doc_id in qrels[r.query_id] for r in judged for c in r.candidates):
        example = next((c.doc_id for r in judged for c in r.candidates), "")
        raise ReasonRankError(f"{path}: none of its docs is judged in the qrels of {dataset.name} (e.g. "
                              f"{example!r}): does the run belong to another corpus? pass the matching --index")


def retrieve(dataset: Dataset, topics: dict[str, Query], first_stage: FirstStage, progress: bool = False) -> Run:
    """The first-stage run, restricted to ``topics`` and cleaned of the dataset's excluded ids."""
    if first_stage.run_file:
        return _read_topic_run(first_stage.run_file, dataset, topics).top(first_stage.hits)
    if first_stage.fuse_runs:
        runs = [_read_topic_run(path, dataset, topics) for path in first_stage.fuse_runs]
        return fuse(runs, first_stage.fusion or FusionSettings(), k=first_stage.hits, name=first_stage.name)
    queries = topics
    if first_stage.expansion:
        from reasonrank_ir.retrieval.expansion import QueryExpander

        queries = QueryExpander.from_settings(first_stage.expansion).expand(topics.values(), progress=progress)
    runs = []
    if first_stage.fusion or not first_stage.dense:
        searcher = BM25(dataset.index_path(), first_stage.bm25)
        # BRIGHT's exclusions are applied after retrieval, as Pyserini does (so fewer than k may remain).
        runs.append(searcher.retrieve(queries.values(), first_stage.hits, progress=progress))
    if first_stage.dense:
        from reasonrank_ir.retrieval.dense import DenseRetriever

        dense = DenseRetriever.for_dataset(dataset, first_stage.dense)
        dense_queries = queries
        if dense.original_queries and not first_stage.expansion and hasattr(dataset, "original_topics"):
            original = dataset.original_topics()  # as Pyserini's regression of that index encodes them
            dense_queries = {q: original.get(q, query) for q, query in queries.items()}
        runs.append(dense.retrieve(dense_queries.values(), first_stage.hits, progress=progress))
    runs = [filter_excluded(run, dataset) for run in runs]
    run = fuse(runs, first_stage.fusion, k=first_stage.hits) if len(runs) > 1 else runs[0]
    # The reranker reads the original query, never the expansion.
    return Run({q: Ranking(topics[q], r.candidates) for q, r in run.rankings.items()}, first_stage.name)


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
    summary: object | None = None
    files: OutputFiles | None = None


def rerank(reranker, run: Run, dataset: Dataset, files: OutputFiles | None = None, resume: bool = False,
           batch_size: int = 128, tag: str | None = None, progress: bool = True) -> RerankOutcome:
    """Rerank ``run``, journaling each window to ``files.traces`` as it is parsed (see the module doc).

    With ``resume``, windows journaled by an earlier attempt are replayed instead of generated.
    """
    from reasonrank_ir.io.traces import TraceJournal

    tag = tag or run.name
    depth = reranker.config.depth
    needs_passages = getattr(reranker, "needs_passages", True)
    journal = TraceJournal(files.traces, resume=resume) if files else None
    done: dict[str, Ranking] = {}
    bar = tqdm(total=len(run), desc="reranking", unit="query", disable=not progress)
    prepared = (attach_passages(dataset, r, depth) if needs_passages else r for r in run)
    try:
        for batch in reranker.rerank_batches(prepared, batch_size=batch_size, journal=journal):
            for ranking in batch.rankings:
                done[ranking.query_id] = ranking
            bar.update(len(batch.rankings))
    finally:
        bar.close()
        if journal is not None:
            journal.close()
    final = Run({q: done[q] for q in run.rankings}, tag)
    if files:
        finish(files, final, tag)
    replayed = journal.replayed if journal is not None else 0
    return RerankOutcome(final, replayed, getattr(reranker, "summary", None), files)


def score(run: Run, dataset: Dataset, metrics: Sequence[str], topics: dict[str, Query] | None = None
          ) -> Evaluation | None:
    """ir-measures scores when the dataset (or ``--qrels``) has judgments, else None.

    With ``topics``, only their judgments count: a run over a subset of topics is scored on it.
    """
    qrels = dataset.qrels()
    if qrels and topics is not None:
        qrels = {q: docs for q, docs in qrels.items() if q in topics}
    return evaluate(run, qrels, list(metrics)) if qrels else None
