"""A reranker as a user configures it (``RerankerSpec``), and ``build_reranker``, the one way to build it.

The search flags, an experiment's systems and ``Reranker.from_name`` all describe a reranker with
this spec; its fields, defaults and bounds are declared once in ``rerank.declared`` (which ``--help``
reads without loading pydantic); this model adds the checks across settings.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from pydantic import field_validator, model_validator

from reasonrank_ir.backends import check_backend_options
from reasonrank_ir.backends.base import Backend, Sampling
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.declared import RerankerSettings
from reasonrank_ir.rerank.listwise import ListwiseReranker, RerankConfig, SlidingWindowReranker
from reasonrank_ir.rerank.oracle import OracleReranker
from reasonrank_ir.rerank.prompts import load_tokenizer
from reasonrank_ir.settings import Settings, checked
from reasonrank_ir.types import Qrels

QWEN3_SAMPLING = Sampling(temperature=0.6, top_p=0.95, top_k=20)
"""Decoding of the Qwen3 variant (ReasonRank-8B); the others decode greedily."""

_WINDOWS = RerankConfig()


class RerankerSpec(Settings, RerankerSettings):
    """Everything a user chooses about a reranker (the fields: ``RerankerSettings``); checked as a whole when built."""

    @field_validator("model", "tokenizer", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        """Paths as text, ``~`` expanded (YAML files have no shell to do it)."""
        return os.path.expanduser(os.fspath(value)) if isinstance(value, str | os.PathLike) else value

    @model_validator(mode="after")
    def _schedule(self) -> RerankerSpec:
        """The window schedule's own checks (step within the window), before any model loads."""
        checked(self.config)
        return self

    @model_validator(mode="after")
    def _engine_options(self) -> RerankerSpec:
        """Engine options by name, type and value (and a .gguf model file), before any tokenizer or model loads."""
        if self.reranker != "oracle":
            check_backend_options(self.backend, self.options, self.model)
        return self

    def config(self, passage_tokens: int | None = None, sampling: Sampling | None = None) -> RerankConfig:
        """The windows and decoding; ``passage_tokens`` (the dataset's) applies where the spec has none,
        ``sampling`` replaces the spec's decoding (Qwen3's is applied to a greedy one)."""
        sampling = sampling or Sampling(max_tokens=self.max_tokens)
        if self.reranker == "qwen3" and (sampling.temperature, sampling.top_p, sampling.top_k) == (0.0, 1.0, -1):
            sampling = replace(sampling, temperature=QWEN3_SAMPLING.temperature, top_p=QWEN3_SAMPLING.top_p,
                               top_k=QWEN3_SAMPLING.top_k)
        return RerankConfig(depth=self.depth, window=self.window, step=self.step, passes=self.passes,
                            max_passage_tokens=self.passage_tokens or passage_tokens or _WINDOWS.max_passage_tokens,
                            style=self.reranker if self.reranker != "oracle" else _WINDOWS.style, sampling=sampling)


def build_reranker(spec: RerankerSpec, *, passage_tokens: int | None = None, qrels: Qrels | None = None,
                   backend: Backend | None = None, tokenizer: Any = None,
                   sampling: Sampling | None = None) -> SlidingWindowReranker:
    """The reranker ``spec`` describes, ready to ``rerank``/``rerank_batches``.

    ``passage_tokens`` is the dataset's truncation (the spec's wins when set); ``qrels`` feed the
    oracle. A loaded ``backend`` or ``tokenizer`` is used as is (one model for many datasets);
    otherwise they are loaded from ``spec.model``/``spec.tokenizer``.
    """
    config = spec.config(passage_tokens, sampling)
    if spec.reranker == "oracle":
        if qrels is None:
            raise ReasonRankError("the oracle reranker orders windows by relevance judgments: pass qrels (--qrels)")
        return OracleReranker(qrels, config)
    if spec.model is None:
        raise ReasonRankError(f"the {spec.reranker} reranker needs a model: pass --model (a local path or hub id)")
    if tokenizer is None:
        tokenizer = load_tokenizer(spec.tokenizer or spec.model)
    if backend is None:
        from reasonrank_ir.backends import build_backend

        backend = build_backend(spec.backend, spec.model, **spec.options)  # checked when the spec was made
    return ListwiseReranker(backend, tokenizer, config, schedule=spec.schedule)
