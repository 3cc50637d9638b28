"""First stage -> reranker -> evaluation: the library calls behind the CLIs and experiments.

    first = pipeline.retrieve(dataset, topics, pipeline.FirstStage(hits=100))
    outcome = pipeline.rerank(reranker, first, dataset, pipeline.OutputFiles.beside("run.txt"))
    scores = pipeline.score(outcome.run, dataset, ["nDCG@10"], topics)
"""
from __future__ import annotations

from reasonrank_ir.job import OutputFiles
from reasonrank_ir.pipeline.first_stage import FirstStage, is_requests_file, read_candidates, retrieve
from reasonrank_ir.pipeline.rerank_job import RerankOutcome, attach_passages, rerank
from reasonrank_ir.pipeline.scoring import check_judgments, score

__all__ = ["FirstStage", "OutputFiles", "RerankOutcome", "attach_passages", "check_judgments", "is_requests_file",
           "read_candidates", "rerank", "retrieve", "score"]
