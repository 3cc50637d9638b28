"""The rerankers of one job, built one way for every caller: the oracle from each dataset's judgments,
one engine shared by every dataset, or a pool of Ray actors.

``search`` (one dataset) and ``experiments run`` (a system over many datasets) both ask a
:class:`Rerankers` for a dataset's reranker: the model and tokenizer load once, the first time, and
each dataset gets a reranker with its own passage truncation over them; an engine that failed to
load is not tried again (``failed``), so every later dataset reports the same error at once.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.listwise import BatchReranker, ListwiseReranker

if TYPE_CHECKING:
    from reasonrank_ir.pipeline.ray_pool import RayOptions, RayPool
    from reasonrank_ir.rerank.spec import RerankerSpec


class Rerankers:
    """``spec``'s reranker for each dataset of a job (see the module doc); :meth:`close` frees the Ray actors.

    ``ray`` puts the engines on Ray actors (not a job setting: the run is the same); ``hint`` is
    appended to the error of an engine that cannot be built (how to get the model); ``echo``
    receives one line saying which engine was loaded.
    """

    def __init__(self, spec: RerankerSpec, *, ray: RayOptions | None = None, hint: str = "",
                 echo: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.ray = ray
        self.hint = hint
        self.echo = echo
        self.failed: ReasonRankError | None = None
        """Why the engine could not be built, said again for every later dataset."""
        self.loaded: ListwiseReranker | None = None
        self.pool: RayPool | None = None

    def __enter__(self) -> Rerankers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def for_dataset(self, dataset: Dataset) -> BatchReranker:
        """The reranker of ``dataset``: its judgments (the oracle) or its passage truncation over the shared engine."""
        from reasonrank_ir.rerank.spec import build_reranker

        spec = self.spec
        if spec.reranker == "oracle":
            qrels = dataset.qrels()
            if not qrels:
                raise ReasonRankError(f"the oracle reranks by relevance judgments and {dataset.name} has none: "
                                      "pass --qrels (in an experiment, qrels:)")
            return build_reranker(spec, passage_tokens=dataset.max_passage_tokens, qrels=qrels)
        if self.failed is not None:
            raise self.failed
        if self.ray is not None:
            return self._pool(self.ray).reranker(dataset)
        if self.loaded is not None:
            return build_reranker(spec, passage_tokens=dataset.max_passage_tokens, backend=self.loaded.backend,
                                  tokenizer=self.loaded.tokenizer)
        try:
            reranker = build_reranker(spec, passage_tokens=dataset.max_passage_tokens)
        except ReasonRankError as error:
            self.failed = ReasonRankError(f"{error}{self.hint}")
            raise self.failed from None
        if isinstance(reranker, ListwiseReranker):
            self.loaded = reranker
            if self.echo is not None:
                self.echo(f"reranker: {spec.reranker} with {spec.model} on the {reranker.backend.name} backend"
                          + (" (--backend auto)" if spec.backend == "auto" else ""))
        return reranker

    def _pool(self, ray: RayOptions) -> RayPool:
        from reasonrank_ir.pipeline.ray_pool import start_pool

        if self.pool is None:
            try:
                self.pool = start_pool(self.spec, ray)
            except ReasonRankError as error:  # what the cluster lacks, said once for every dataset
                self.failed = error
                raise
        return self.pool

    def close(self) -> None:
        """Free the Ray actors (they hold GPUs); a loaded engine is freed with this object."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        self.loaded = None
