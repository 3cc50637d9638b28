"""The first stage: candidates retrieved (BM25, dense, fused, expanded queries) or read from run files.

Either way the run is restricted to the topics asked for and cleaned for the dataset (its index's
doc ids, none of its excluded ids), so the reranker and the scores see the same candidates.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from reasonrank_ir.data import Dataset
from reasonrank_ir.declare import Setting, declared
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.trec import read_run
from reasonrank_ir.retrieval.bm25 import BM25, BM25Settings
from reasonrank_ir.retrieval.dense import DenseSettings
from reasonrank_ir.retrieval.expansion import ExpansionSettings
from reasonrank_ir.retrieval.fusion import FusionSettings, fuse
from reasonrank_ir.types import Query, Ranking, Run


class FirstStageSettings:
    """The first-stage settings a search flag and an experiment's ``first_stage:`` key both give,
    recorded in a job's settings under their flags (declared once: see ``declare``)."""

    hits: Annotated[int, Setting("candidates per query (default: %(default)s)", minimum=1)] = 100
    k1: Annotated[float, Setting("BM25 k1 (default: %(default)s)")] = BM25Settings.k1
    b: Annotated[float, Setting("BM25 b (default: %(default)s)")] = BM25Settings.b
    remove_query: Annotated[bool, Setting("drop hits whose id is the query id")] = BM25Settings.remove_query
    """Pyserini's ``--remove-query``, as in the BRIGHT 2CR runs."""


FIRST_STAGE_SETTINGS = declared(FirstStageSettings)


@dataclass(frozen=True)
class FirstStage:
    """Where candidates come from: BM25/BM25Q, dense (FAISS), their fusion, fused run files, or ``--run``.

    ``expansion`` rewrites the queries for retrieval only; the run keeps the original query text,
    which is what the reranker sees.
    """

    hits: int = FirstStageSettings.hits
    bm25: BM25Settings = BM25Settings()
    run_file: str | None = None
    dense: DenseSettings | None = None
    """Dense retrieval: alone, or fused with BM25 when ``fusion`` is set."""
    fusion: FusionSettings | None = None
    fuse_runs: tuple[str, ...] = ()
    """Run files fused (with ``fusion``, default RRF) instead of retrieving."""
    expansion: ExpansionSettings | None = None

    def __post_init__(self) -> None:
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

    def setting(self, name: str) -> Any:
        """The value of a declared first-stage setting (``FirstStageSettings``): hits, or BM25's."""
        return self.hits if name == "hits" else getattr(self.bm25, name)

    @property
    def name(self) -> str:
        if self.run_file:
            return _file_stem(self.run_file)
        if self.fuse_runs:
            name = "+".join(_file_stem(f) for f in self.fuse_runs)
        else:
            sparse = "bm25qs" if self.bm25.query_side else "bm25"
            name = "+".join(([sparse] if self.fusion or not self.dense else [])
                            + ([self.dense.name] if self.dense else []))
        if self.fusion or self.fuse_runs:
            name += "." + (self.fusion or FusionSettings()).label()
        return f"{name}.{self.expansion.name}" if self.expansion else name


def _file_stem(path: str) -> str:
    name = Path(path).name.removesuffix(".gz")
    for suffix in (".trec", ".txt", ".jsonl"):
        name = name.removesuffix(suffix)
    return name.removeprefix("run.")


def is_requests_file(path: str | os.PathLike[str]) -> bool:
    """rank_llm-style request JSONL (query + candidates with their passages) rather than a TREC run."""
    return ".jsonl" in Path(path).name


def read_candidates(path: str | os.PathLike[str], topics: dict[str, Query] | None = None) -> Run:
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
    run = dataset.clean_run(Run({q: run[q] for q in topics if q in run}, run.name))
    _check_judged(run, dataset, path)
    return run


def _check_judged(run: Run, dataset: Dataset, path: str) -> None:
    """Refuse a run none of whose docs is judged: its doc ids belong to another corpus.

    Rerankers that read passages find such ids missing from the index; the oracle reads only the
    judgments (BRIGHT's runs rerank offline without the corpus), so this is its check.
    """
    qrels = dataset.qrels() or {}
    judged = [r for r in run if qrels.get(r.query_id)]
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
        if dense.original_queries and not first_stage.expansion:
            original = dataset.original_topics() or {}  # as Pyserini's regression of that index encodes them
            dense_queries = {q: original.get(q, query) for q, query in queries.items()}
        runs.append(dense.retrieve(dense_queries.values(), first_stage.hits, progress=progress))
    runs = [dataset.clean_run(run) for run in runs]
    run = fuse(runs, first_stage.fusion or FusionSettings(), k=first_stage.hits) if len(runs) > 1 else runs[0]
    # The reranker reads the original query, never the expansion.
    return Run({q: Ranking(topics[q], r.candidates) for q, r in run.rankings.items()}, first_stage.name)
