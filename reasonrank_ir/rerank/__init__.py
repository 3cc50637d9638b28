"""Listwise reranking: ReasonRank prompts, answer parsing, sliding windows, oracle, and a factory.

``Reranker.from_name("reasonrank", model="liuwenhan/reasonrank-7B", backend="vllm").rerank(run)``
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from reasonrank_ir.backends.base import Backend
from reasonrank_ir.errors import ReasonRankError, close_matches
from reasonrank_ir.rerank.listwise import (
    ListwiseReranker, RerankConfig, RerankedBatch, RerankSummary, SlidingWindowReranker, WindowRequest,
    WindowTrace,
)
from reasonrank_ir.rerank.oracle import OracleReranker
from reasonrank_ir.rerank.parse import ParsedAnswer, parse_answer
from reasonrank_ir.rerank.prompts import PROMPT_STYLES, load_tokenizer
from reasonrank_ir.rerank.window import windows
from reasonrank_ir.types import Qrels

RERANKERS = ("reasonrank", "rankgpt", "qwen3", "oracle")
QWEN3_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
"""Decoding of the Qwen3 variant (ReasonRank-8B); the others decode greedily."""


class Reranker:
    """Builds rerankers by the names the CLI takes (``--rerank``)."""

    names = RERANKERS

    @staticmethod
    def from_name(name: str, *, model: str | None = None, backend: str | Backend = "auto",
                  tokenizer: Any = None, qrels: Qrels | None = None, config: RerankConfig | None = None,
                  **backend_options: Any) -> SlidingWindowReranker:
        """A reranker ready to ``rerank``/``rerank_batches``.

        ``backend`` is a backend name for ``reasonrank_ir.backends.create_backend`` (options go to
        it) or a ready :class:`Backend`; ``tokenizer`` a path/hub id or a loaded tokenizer
        (default: the model's). ``config.style`` is set from ``name``.
        """
        if name not in RERANKERS:
            raise ReasonRankError(f"unknown reranker {name!r}; choose one of {', '.join(RERANKERS)}."
                                  + close_matches(name, RERANKERS))
        config = config or RerankConfig()
        if name == "oracle":
            if qrels is None:
                raise ReasonRankError("the oracle reranker orders windows by relevance judgments: pass qrels (--qrels)")
            return OracleReranker(qrels, config)
        if model is None:
            raise ReasonRankError(f"the {name} reranker needs a model: pass --model (a local path or hub id)")
        sampling = config.sampling
        if name == "qwen3" and (sampling.temperature, sampling.top_p, sampling.top_k) == (0.0, 1.0, -1):
            sampling = replace(sampling, **QWEN3_SAMPLING)
        config = replace(config, style=name, sampling=sampling)
        if tokenizer is None or isinstance(tokenizer, str) or hasattr(tokenizer, "__fspath__"):
            tokenizer = load_tokenizer(tokenizer or model)
        if isinstance(backend, str):
            from reasonrank_ir.backends import create_backend

            backend = create_backend(backend, model, **backend_options)
        return ListwiseReranker(backend, tokenizer, config)


__all__ = [
    "PROMPT_STYLES", "RERANKERS", "ListwiseReranker", "OracleReranker", "ParsedAnswer", "RerankConfig",
    "RerankSummary", "RerankedBatch", "Reranker", "SlidingWindowReranker", "WindowRequest", "WindowTrace",
    "parse_answer", "windows",
]
