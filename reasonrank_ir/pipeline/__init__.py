"""First stage -> reranker -> evaluation: the library calls behind the CLIs and experiments.

    first = pipeline.retrieve(dataset, topics, pipeline.FirstStage(hits=100))
    reranker = pipeline.Rerankers(spec).for_dataset(dataset)
    outcome = pipeline.rerank(reranker, first, dataset, pipeline.OutputFiles.beside("run.txt"))
    scores = pipeline.score(outcome.run, dataset, ["nDCG@10"], topics)

or the whole job as ``search`` and ``experiments run`` do it (settings recorded, resumable):

    job = pipeline.JobSpec(index="cranfield", reranker=spec, limit_queries=10)
    result = pipeline.run_job(job, dataset, pipeline.OutputFiles.beside("run.txt"), job.queries(dataset))
"""
from __future__ import annotations

from reasonrank_ir.job import OutputFiles
from reasonrank_ir.pipeline.first_stage import FirstStage, is_requests_file, read_candidates, retrieve
from reasonrank_ir.pipeline.job_spec import JobSpec
from reasonrank_ir.pipeline.rerank_job import RerankOutcome, attach_passages, rerank
from reasonrank_ir.pipeline.rerankers import Rerankers
from reasonrank_ir.pipeline.scoring import check_judgments, judgments, score
from reasonrank_ir.pipeline.search_job import JobResult, run_job

__all__ = ["FirstStage", "JobResult", "JobSpec", "OutputFiles", "RerankOutcome", "Rerankers", "attach_passages",
           "check_judgments", "is_requests_file", "judgments", "read_candidates", "rerank", "retrieve", "run_job",
           "score"]
