"""Reasoning query expansion: an LLM reasons about each query before retrieval (BRIGHT's setting).

The prompt is BRIGHT's ``reason.py`` prompt (the query with newlines flattened, then three
instructions), sent as one user message; BRIGHT samples with temperature 0.8 and top-p 0.8 for
up to 2048 tokens. Each reasoning is cached in a JSONL file keyed by (model, query id, query text),
so reruns and other first stages reuse it. The expanded text is used for retrieval only: the
returned queries keep their ids, and the pipeline hands the reranker the original text.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from reasonrank_ir.backends.base import Backend, Message, Prompt, Sampling
from reasonrank_ir.batching import batched
from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.io import numbered_lines
from reasonrank_ir.io.jsonl import jsonl_line
from reasonrank_ir.io.names import slug
from reasonrank_ir.types import Query

INSTRUCTIONS = (
    "Instructions:\n"
    "1. Identify the essential problem.\n"
    "2. Think step by step to reason and describe what information could be relevant and helpful to "
    "address the questions in detail.\n"
    "3. Draft an answer with as many thoughts as you have.\n"
)
BRIGHT_SAMPLING = Sampling(max_tokens=2048, temperature=0.8, top_p=0.8)
MODES = ("append", "replace")


@runtime_checkable
class _ServesModel(Protocol):
    """A backend that says which model it serves (every engine does; a scripted test backend need not)."""

    model: str


def reasoning_prompt(query: str) -> Prompt:
    """BRIGHT's reasoning-query prompt for one query."""
    flat = query.replace("\n", " ")
    return Prompt((Message("user", f"{flat}\n\n{INSTRUCTIONS}"),))


@dataclass(frozen=True)
class ExpansionSettings:
    """``--expand-query reasoning``: which LLM writes the reasoning, and where it is cached."""

    model: str
    backend: str = "auto"
    cache: str | None = None
    """JSONL cache file (default: ``$REASONRANK_HOME/expansions/reasoning.<model>.jsonl``)."""
    mode: str = "append"
    """``append``: original query + reasoning; ``replace``: the reasoning alone (BRIGHT's exact setting)."""
    max_tokens: int = BRIGHT_SAMPLING.max_tokens

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ReasonRankError(unknown("expansion mode", self.mode, MODES))

    @property
    def model_slug(self) -> str:
        return slug(self.model.rstrip("/").rsplit("/", 1)[-1]).lower()

    @property
    def name(self) -> str:
        return f"reasoning-{self.model_slug}" + ("-only" if self.mode == "replace" else "")

    def cache_path(self) -> Path:
        if self.cache:
            return Path(self.cache)
        from reasonrank_ir.homes import expansions_home

        return expansions_home() / f"reasoning.{self.model_slug}.jsonl"


class QueryExpander:
    """``QueryExpander(backend, cache_path).expand(queries)``: queries rewritten for retrieval.

    Only queries missing from the cache reach the backend; new reasonings are appended to the
    cache as soon as they are generated.
    """

    def __init__(self, backend: Backend, cache_path: str | os.PathLike[str], model: str | None = None,
                 sampling: Sampling = BRIGHT_SAMPLING, mode: str = "append", batch_size: int = 16):
        self.backend = backend
        self.cache_path = Path(cache_path)
        self.model = model or (backend.model if isinstance(backend, _ServesModel) else None) or backend.name
        self.sampling = sampling
        self.mode = mode
        self.batch_size = max(1, batch_size)
        self._cache = self._read_cache()

    @classmethod
    def from_settings(cls, settings: ExpansionSettings, **backend_options: Any) -> QueryExpander:
        from reasonrank_ir.backends import create_backend

        backend = create_backend(settings.backend, settings.model, **backend_options)
        sampling = Sampling(max_tokens=settings.max_tokens, temperature=BRIGHT_SAMPLING.temperature,
                            top_p=BRIGHT_SAMPLING.top_p)
        return cls(backend, settings.cache_path(), settings.model, sampling, settings.mode)

    def _read_cache(self) -> dict[tuple[str, str, str], str]:
        cache: dict[tuple[str, str, str], str] = {}
        if not self.cache_path.is_file():
            return cache
        for number, line in numbered_lines(self.cache_path):
            try:
                record = json.loads(line)
                cache[(record["model"], record["query_id"], record["query"])] = record["reasoning"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ReasonRankError(f"{self.cache_path}:{number}: not an expansion record "
                                      "(model, query_id, query, reasoning); delete the line or the file") from None
        return cache

    def reasoning(self, query: Query) -> str | None:
        return self._cache.get((self.model, query.query_id, query.text))

    def expand(self, queries: Iterable[Query], progress: bool = False) -> dict[str, Query]:
        """``{query_id: Query}`` whose text is the original plus reasoning (or the reasoning alone)."""
        from tqdm.auto import tqdm

        queries = list(queries)
        missing = [q for q in queries if self.reasoning(q) is None]
        bar = tqdm(total=len(missing), desc="reasoning queries", unit="query", disable=not progress or not missing)
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        for batch in batched(missing, self.batch_size):
            generations = self.backend.generate([reasoning_prompt(q.text) for q in batch], self.sampling)
            with open(self.cache_path, "a", encoding="utf-8") as handle:
                for query, generation in zip(batch, generations):
                    text = generation.text.strip()
                    self._cache[(self.model, query.query_id, query.text)] = text
                    handle.write(jsonl_line({"model": self.model, "query_id": query.query_id, "query": query.text,
                                             "reasoning": text, "finish_reason": generation.finish_reason}))
            bar.update(len(batch))
        bar.close()
        return {q.query_id: Query(q.query_id, self._expanded(q)) for q in queries}

    def _expanded(self, query: Query) -> str:
        reasoning = self.reasoning(query) or ""
        if self.mode == "replace" and reasoning:
            return reasoning
        return f"{query.text}\n{reasoning}".strip()
