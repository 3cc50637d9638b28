"""A reranker as a user configures it (``RerankerSpec``), and ``build_reranker``, the one way to build it.

The search flags, an experiment's systems and ``Reranker.from_name`` all describe a reranker with
this spec; its defaults are ``rerank.defaults``' (which ``--help`` shows without loading pydantic).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import field_validator, model_validator

from reasonrank_ir.backends import BACKENDS, check_backend_options
from reasonrank_ir.backends.base import Backend, Sampling
from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.rerank.defaults import DEFAULTS, RERANKERS
from reasonrank_ir.rerank.listwise import SCHEDULES, ListwiseReranker, RerankConfig, SlidingWindowReranker
from reasonrank_ir.rerank.oracle import OracleReranker
from reasonrank_ir.rerank.prompts import load_tokenizer
from reasonrank_ir.settings import PositiveInt, Settings
from reasonrank_ir.types import Qrels

QWEN3_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
"""Decoding of the Qwen3 variant (ReasonRank-8B); the others decode greedily."""

_WINDOWS = RerankConfig()


def _one_of(name: str, choices: Sequence[str], what: str) -> str:
    if name not in choices:
        raise ValueError(unknown(what, name, choices))
    return name


class RerankerSpec(Settings):
    """Everything a user chooses about a reranker; checked as a whole when built."""

    reranker: str
    """One of ``RERANKERS``."""
    model: str | None = None
    """A local path, hub id, served model name or .gguf file; every reranker but the oracle needs one."""
    tokenizer: str | None = None
    """For prompts and passage truncation; None: the model's."""
    backend: str = DEFAULTS["backend"]
    options: dict[str, Any] = {}
    """Engine options for ``create_backend`` (``n_ctx``, ``device``, ``tensor_parallel_size`` ...)."""
    depth: PositiveInt = DEFAULTS["depth"]
    window: PositiveInt = DEFAULTS["window"]
    step: PositiveInt = DEFAULTS["step"]
    passes: PositiveInt = DEFAULTS["passes"]
    passage_tokens: PositiveInt | None = None
    """Passage truncation; None: the dataset's (512 for BRIGHT, 100 otherwise)."""
    max_tokens: int = DEFAULTS["max_tokens"]
    batch_size: PositiveInt = DEFAULTS["batch_size"]
    """Queries per reranking batch: what a batch engine (vllm, hf) sees at once."""
    schedule: str | None = None
    """``rounds`` or ``pipelined`` (``rerank.listwise``); None: pipelined where the engine takes
    concurrent requests. It changes speed, never the run, so jobs do not record it."""

    @field_validator("reranker")
    @classmethod
    def _known_reranker(cls, name: str) -> str:
        return _one_of(name, RERANKERS, "reranker")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        return _one_of(name, BACKENDS, "backend")

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, name: str | None) -> str | None:
        return name if name is None else _one_of(name, SCHEDULES, "schedule")

    @field_validator("model", "tokenizer", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        """Paths as text, ``~`` expanded (YAML files have no shell to do it)."""
        return os.path.expanduser(os.fspath(value)) if isinstance(value, str | os.PathLike) else value

    @field_validator("max_tokens", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"must be at least 1 (engines read 0 as no limit), found {value!r}")
        return value

    @model_validator(mode="after")
    def _schedule(self) -> RerankerSpec:
        """The window schedule's own checks (step within the window), before any model loads."""
        try:
            self.config()
        except ReasonRankError as error:
            raise ValueError(str(error)) from None
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
            sampling = replace(sampling, **QWEN3_SAMPLING)
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
        from reasonrank_ir.backends import create_backend

        backend = create_backend(spec.backend, spec.model, **spec.options)
    return ListwiseReranker(backend, tokenizer, config, schedule=spec.schedule)
