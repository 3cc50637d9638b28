"""Listwise reranking: ReasonRank prompts, answer parsing, sliding windows, oracle, and a factory.

``Reranker.from_name("reasonrank", model="liuwenhan/reasonrank-7B", backend="vllm").rerank(run)``; the
settings as one validated object: ``reasonrank_ir.rerank.spec`` (``RerankerSpec``, ``build_reranker``).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from reasonrank_ir.backends.base import Backend
from reasonrank_ir.rerank.declared import DEFAULT_MODELS, RERANKERS
from reasonrank_ir.rerank.listwise import (
    ListwiseReranker, RerankConfig, RerankedBatch, RerankSummary, SlidingWindowReranker, WindowRequest,
    WindowTrace,
)
from reasonrank_ir.rerank.oracle import OracleReranker
from reasonrank_ir.rerank.parse import ParsedAnswer, parse_answer
from reasonrank_ir.rerank.prompts import PROMPT_STYLES
from reasonrank_ir.rerank.window import windows
from reasonrank_ir.types import Qrels

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class Reranker:
    """Rerankers by the names the CLI takes (``--rerank``), for callers holding a :class:`RerankConfig`."""

    names = RERANKERS

    @staticmethod
    def from_name(name: str, *, model: str | None = None, backend: str | Backend = "auto",
                  tokenizer: str | os.PathLike[str] | PreTrainedTokenizerBase | None = None,
                  qrels: Qrels | None = None, config: RerankConfig | None = None,
                  **backend_options: Any) -> SlidingWindowReranker:
        """``build_reranker`` of the spec that ``name``, ``model`` and ``config`` describe.

        ``backend`` is a backend name (``backend_options`` go to it) or a ready :class:`Backend`;
        ``tokenizer`` a path/hub id or a loaded tokenizer (default: the model's). ``config.style``
        follows ``name``; its sampling is kept (Qwen3's decoding replaces a greedy one).
        """
        from reasonrank_ir.rerank.spec import RerankerSpec, build_reranker
        from reasonrank_ir.settings import validate

        config = config or RerankConfig()
        loaded_backend = None if isinstance(backend, str) else backend
        loaded_tokenizer = None if tokenizer is None or isinstance(tokenizer, str | os.PathLike) else tokenizer
        spec = validate(RerankerSpec, {
            "reranker": name, "model": model, "tokenizer": tokenizer if loaded_tokenizer is None else None,
            "backend": backend if loaded_backend is None else "auto", "options": backend_options,
            "depth": config.depth, "window": config.window, "step": config.step, "passes": config.passes,
            "passage_tokens": config.max_passage_tokens, "max_tokens": config.sampling.max_tokens})
        return build_reranker(spec, qrels=qrels, backend=loaded_backend, tokenizer=loaded_tokenizer,
                              sampling=config.sampling)


__all__ = [
    "DEFAULT_MODELS", "PROMPT_STYLES", "RERANKERS", "ListwiseReranker", "OracleReranker", "ParsedAnswer",
    "RerankConfig", "RerankSummary", "RerankedBatch", "Reranker", "SlidingWindowReranker", "WindowRequest",
    "WindowTrace", "parse_answer", "windows",
]
