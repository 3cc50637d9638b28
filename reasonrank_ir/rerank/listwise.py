"""Listwise reranking with sliding windows, batched across queries.

Window k+1 of a query depends on the result of window k. Two schedules give the same rankings and
traces: ``rounds``, where queries advance together and all queries' k-th windows go to the backend in
one ``generate`` call (9 rounds for any number of queries at depth 100, window 20, step 10), and
``pipelined``, where each query walks its own windows and submits the next one as soon as the last is
parsed, so no query waits for the slowest window of a round. Engines that take concurrent requests
(vLLM's engine, an OpenAI-compatible server, llama.cpp) pipeline by default; batch-only engines (hf)
run rounds. Passages are formatted once per query, before the first window. A :class:`WindowJournal`
(the traces file of a job) records each window as it is parsed and hands back windows already
recorded, so a resumed job asks the model only for the windows that were never finished.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from reasonrank_ir.backends.base import Backend, ConcurrentBackend, Sampling
from reasonrank_ir.batching import batched
from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.io.traces import WindowTrace as WindowTrace  # re-exported: what rank_windows returns
from reasonrank_ir.rerank.declared import RERANKER_SETTINGS, SCHEDULES, RerankerSettings
from reasonrank_ir.rerank.parse import STATUSES, parse_answer
from reasonrank_ir.rerank.prompts import PassageFormatter, build_messages, check_style, render
from reasonrank_ir.rerank.window import pass_windows
from reasonrank_ir.types import Query, Ranking, Run

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


BATCH_SIZE: int = RerankerSettings.batch_size
"""Queries reranked together by default: the windows a batch engine (vllm, hf) sees in one call."""

@dataclass(frozen=True)
class RerankConfig:
    """How deep and in which windows to rerank, and how to prompt and decode."""

    depth: int = RerankerSettings.depth
    window: int = RerankerSettings.window
    step: int = RerankerSettings.step
    passes: int = RerankerSettings.passes
    """Each pass runs the whole schedule again on the previous pass's order."""
    max_passage_tokens: int = 512
    """512 for BRIGHT and R2MED, 100 for TREC DL and BEIR (ReasonRank's settings)."""
    style: str = "reasonrank"
    sampling: Sampling = Sampling()

    def __post_init__(self) -> None:
        for name, setting in (("depth", "depth"), ("window", "window"), ("step", "step"), ("passes", "passes"),
                              ("max_passage_tokens", "passage_tokens")):
            try:
                RERANKER_SETTINGS[setting].check(getattr(self, name))
            except ValueError as error:
                raise ReasonRankError(f"rerank {name} ({RERANKER_SETTINGS[setting].flag}) {error}") from None
        if self.step > self.window:
            raise ReasonRankError(f"rerank step {self.step} is larger than window {self.window} (--step, --window): "
                                  "the ranks between windows would never be reranked; use a step of at most the window")
        check_style(self.style)
        if self.sampling.n != 1:
            raise ReasonRankError("reranking takes one generation per window: sampling n must be 1, "
                                  f"found {self.sampling.n}")


@dataclass(frozen=True)
class WindowRequest:
    """One window of one query, as handed to a window ranker."""

    query: Query
    pass_index: int
    start: int
    end: int
    doc_ids: tuple[str, ...]
    passages: tuple[str, ...] = ()
    """Formatted passages in window order (empty for rankers that need no text)."""


@dataclass(frozen=True)
class RerankSummary:
    """Totals over reranked queries: throughput, tokens and parse outcomes."""

    queries: int = 0
    windows: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    statuses: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0), hash=False)
    seconds: float = 0.0

    @property
    def queries_per_second(self) -> float:
        return self.queries / self.seconds if self.seconds > 0 else 0.0

    @property
    def parse_failures(self) -> int:
        """Windows whose response was not an exact, well-formed permutation."""
        return self.windows - self.statuses.get("ok", 0)

    @classmethod
    def of(cls, traces: Sequence[WindowTrace], queries: int, seconds: float) -> RerankSummary:
        statuses = dict.fromkeys(STATUSES, 0)
        for trace in traces:
            statuses[trace.status] = statuses.get(trace.status, 0) + 1
        return cls(queries, len(traces), sum(t.prompt_tokens for t in traces),
                   sum(t.output_tokens for t in traces), statuses, seconds)

    def __add__(self, other: RerankSummary) -> RerankSummary:
        statuses = dict(self.statuses)
        for status, count in other.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        return RerankSummary(self.queries + other.queries, self.windows + other.windows,
                             self.prompt_tokens + other.prompt_tokens, self.output_tokens + other.output_tokens,
                             statuses, self.seconds + other.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "statuses": dict(self.statuses), "parse_failures": self.parse_failures,
                "queries_per_second": self.queries_per_second}


class WindowJournal(Protocol):
    """Where windows are recorded as they finish, and found again when a job resumes."""

    def replay(self, request: WindowRequest) -> WindowTrace | None:
        """The recorded trace of this window, or None when it must be generated."""

    def record(self, trace: WindowTrace) -> None:
        """Keep one generated window (called as soon as it is parsed, possibly from several threads)."""


@dataclass(frozen=True)
class RerankedBatch:
    rankings: list[Ranking]
    """Reranked top-``depth`` (strictly decreasing scores) above the untouched tail."""
    traces: list[WindowTrace]
    summary: RerankSummary
    """Of the windows generated in this call (replayed ones are not counted)."""


class BatchReranker(Protocol):
    """What a reranking job and the PyTerrier transformer call: every :class:`SlidingWindowReranker`,
    or any other reranker that streams batches and keeps a running summary."""

    config: RerankConfig
    summary: RerankSummary
    """Of every window generated so far."""

    @property
    def needs_passages(self) -> bool:
        """Whether candidates in the reranked depth must carry ``doc`` (the caller fills it)."""

    def rerank_batches(self, rankings: Iterable[Ranking], batch_size: int = BATCH_SIZE,
                       journal: WindowJournal | None = None) -> Iterator[RerankedBatch]:
        """Rerank ``batch_size`` queries at a time, yielding each batch as it finishes."""


@dataclass
class _BatchWalk:
    """One ``rerank_batch`` call in progress: each query's window schedule and current order, and the
    windows generated so far. The schedules (rounds or chains) call its three steps, possibly from
    several threads (each query's windows run in order, on one thread at a time)."""

    rankings: Sequence[Ranking]
    passages: list[list[str]]
    """Per query, its reranked passages formatted (empty when the ranker needs no text)."""
    schedules: list[list[tuple[int, int, int]]]
    """Per query, ``(pass, start, end)`` of its windows in the order they run."""
    orders: list[list[int]]
    """Per query, the current order of its top ``depth`` (positions in the first-stage ranking)."""
    ranker: SlidingWindowReranker
    journal: WindowJournal | None
    generated: list[WindowTrace] = field(default_factory=list)
    """The windows the ranker generated (not those replayed from the journal)."""

    def request(self, q: int, k: int) -> WindowRequest:
        """Query ``q``'s ``k``-th window over its current order."""
        pass_index, start, end = self.schedules[q][k]
        positions = self.orders[q][start:end]
        ranking = self.rankings[q]
        return WindowRequest(ranking.query, pass_index, start, end,
                             tuple(ranking.candidates[i].doc_id for i in positions),
                             tuple(self.passages[q][i] for i in positions) if self.passages else ())

    def apply(self, q: int, trace: WindowTrace) -> None:
        """Reorder query ``q``'s window as ``trace`` ranked it."""
        window = self.orders[q][trace.start:trace.end]
        self.orders[q][trace.start:trace.end] = [window[j] for j in trace.order]

    def rank(self, requests: list[WindowRequest]) -> list[WindowTrace]:
        """Journaled windows replayed, the others generated (and journaled as soon as parsed)."""
        journal = self.journal
        replayed = [journal.replay(r) if journal is not None else None for r in requests]
        todo = [r for r, trace in zip(requests, replayed) if trace is None]
        fresh = self.ranker.rank_windows(todo) if todo else []
        if len(fresh) != len(todo):
            raise ReasonRankError(f"{type(self.ranker).__name__} returned {len(fresh)} windows for {len(todo)}")
        for trace in fresh:
            if journal is not None:
                journal.record(trace)
            self.generated.append(trace)
        fresh_traces = iter(fresh)
        return [trace if trace is not None else next(fresh_traces) for trace in replayed]


class SlidingWindowReranker(ABC):
    """The window schedule and bookkeeping; subclasses order windows in ``rank_windows``.

    With a ``formatter``, every reranked candidate must carry its stored fields (``Candidate.doc``).
    """

    def __init__(self, config: RerankConfig, formatter: PassageFormatter | None = None) -> None:
        self.config = config
        self.formatter = formatter
        self.summary = RerankSummary()

    @property
    def needs_passages(self) -> bool:
        """Whether candidates in the reranked depth must carry ``doc`` (the pipeline fills it)."""
        return self.formatter is not None

    @abstractmethod
    def rank_windows(self, requests: Sequence[WindowRequest]) -> list[WindowTrace]:
        """One trace (with the new ``order``) per request, in order; called once per round."""

    def rerank_batches(self, rankings: Iterable[Ranking], batch_size: int = BATCH_SIZE,
                       journal: WindowJournal | None = None) -> Iterator[RerankedBatch]:
        """Rerank ``batch_size`` queries at a time, yielding each batch as it finishes."""
        if batch_size < 1:
            raise ReasonRankError(f"batch size must be at least 1, found {batch_size}")
        for batch in batched(rankings, batch_size):
            yield self.rerank_batch(batch, journal)

    def rerank(self, rankings: Iterable[Ranking], batch_size: int = BATCH_SIZE, progress: bool = False) -> Run:
        """All rankings reranked into one run (see ``rerank_batches`` to stream)."""
        from tqdm import tqdm

        run = Run(name=rankings.name if isinstance(rankings, Run) else "reasonrank_ir")
        with tqdm(desc="rerank", unit="query", disable=not progress) as bar:
            for batch in self.rerank_batches(rankings, batch_size):
                for ranking in batch.rankings:
                    run.add(ranking)
                bar.update(len(batch.rankings))
        return run

    concurrency: int = 0
    """Queries whose windows may be in flight at once; 0 sends each round in one call (batch engines),
    1 or more walks each query's windows on its own."""

    def rerank_batch(self, rankings: Sequence[Ranking], journal: WindowJournal | None = None) -> RerankedBatch:
        started = perf_counter()
        config = self.config
        heads = [min(config.depth, len(r.candidates)) for r in rankings]
        batch = _BatchWalk(rankings, self._passages(rankings, heads),
                           [pass_windows(head, config.window, config.step, config.passes) for head in heads],
                           [list(range(head)) for head in heads], self, journal)
        per_query = self._chains(batch) if self.concurrency else self._rounds(batch)
        # Round-major order (every query's k-th window, then the (k+1)-th), whichever way they ran.
        rounds = max(map(len, per_query), default=0)
        traces = [chain[k] for k in range(rounds) for chain in per_query if k < len(chain)]
        reranked = [ranking.reordered(order + list(range(len(order), len(ranking.candidates))))
                    for ranking, order in zip(rankings, batch.orders)]
        generated = batch.generated
        summary = RerankSummary.of(generated, len({t.query_id for t in generated}), perf_counter() - started)
        self.summary = self.summary + summary
        return RerankedBatch(reranked, traces, summary)

    def _rounds(self, batch: _BatchWalk) -> list[list[WindowTrace]]:
        """All queries' k-th windows in one call per round: what batch engines (vLLM, hf) want."""
        schedules = batch.schedules
        per_query: list[list[WindowTrace]] = [[] for _ in schedules]
        for k in range(max(map(len, schedules), default=0)):
            owners = [q for q, schedule in enumerate(schedules) if k < len(schedule)]
            for q, trace in zip(owners, batch.rank([batch.request(q, k) for q in owners])):
                batch.apply(q, trace)
                per_query[q].append(trace)
        return per_query

    def _chains(self, batch: _BatchWalk) -> list[list[WindowTrace]]:
        """Each query walks its own windows, ``concurrency`` queries at a time (no round barrier).

        When the walk is interrupted (Ctrl-C, a failed request), windows in flight finish in the
        background but no further window starts, and nobody waits for them: the first failed window
        stops the batch at once, whichever query it belongs to.
        """
        stop = threading.Event()
        queries = len(batch.schedules)

        def walk(q: int) -> list[WindowTrace]:
            chain = []
            for k in range(len(batch.schedules[q])):
                if stop.is_set():
                    break
                (trace,) = batch.rank([batch.request(q, k)])
                batch.apply(q, trace)
                chain.append(trace)
            return chain

        if self.concurrency == 1:
            return [walk(q) for q in range(queries)]
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            futures = [pool.submit(walk, q) for q in range(queries)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)  # the first failure stops the batch at once
            failed = next((error for f in futures if f in done and (error := f.exception()) is not None), None)
            if failed is not None:
                raise failed
            return [future.result() for future in futures]
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _passages(self, rankings: Sequence[Ranking], heads: Sequence[int]) -> list[list[str]]:
        """Every reranked passage of the batch formatted in one go: once per query, not per window."""
        if self.formatter is None:
            return []
        docs: list[Mapping[str, Any]] = []
        for ranking, head in zip(rankings, heads):
            for rank, candidate in enumerate(ranking.candidates[:head], 1):
                if candidate.doc is None:
                    raise ReasonRankError(
                        f"query {ranking.query_id}: candidate {candidate.doc_id} (rank {rank}) has no passage; "
                        "rerankers need each candidate's stored fields (Candidate.doc): read candidates from "
                        "a rank_llm requests file or from an index that stores raw documents."
                    )
                docs.append(candidate.doc)
        flat = self.formatter.format_many(docs)
        out: list[list[str]] = []
        pos = 0
        for head in heads:
            out.append(flat[pos:pos + head])
            pos += head
        return out


class ListwiseReranker(SlidingWindowReranker):
    """ReasonRank (or RankGPT / Qwen3-style) listwise reranking through any :class:`Backend`."""

    def __init__(self, backend: Backend, tokenizer: PreTrainedTokenizerBase, config: RerankConfig = RerankConfig(),
                 schedule: str | None = None) -> None:
        """``schedule``: ``rounds`` or ``pipelined`` (see the module); None pipelines where the engine
        takes concurrent requests (``concurrent_requests``), else runs rounds."""
        super().__init__(config, PassageFormatter(tokenizer, config.max_passage_tokens))
        self.backend = backend
        self.tokenizer = tokenizer
        # Engines that take concurrent requests, and engines that run prompts one by one, gain nothing
        # from rounds: each query runs ahead on its own (and each window is journaled as it finishes).
        concurrent = backend.concurrent_requests if isinstance(backend, ConcurrentBackend) else 0
        schedule = schedule or ("pipelined" if concurrent else "rounds")
        if schedule not in SCHEDULES:
            raise ReasonRankError(unknown("schedule", schedule, SCHEDULES))
        if schedule == "pipelined" and not concurrent:
            raise ReasonRankError(f"the {backend.name} backend generates one batch at a "
                                  "time, so it cannot pipeline queries: use --schedule rounds (or the vllm, "
                                  "openai or llamacpp backend)")
        self.schedule = schedule
        self.concurrency = concurrent if schedule == "pipelined" else 0

    def rank_windows(self, requests: Sequence[WindowRequest]) -> list[WindowTrace]:
        style = self.config.style
        prompts = [render(build_messages(r.query.text, r.passages, style), self.tokenizer) for r in requests]
        started = perf_counter()
        generations = self.backend.generate(prompts, self.config.sampling)
        seconds = (perf_counter() - started) / max(len(prompts), 1)
        if len(generations) != len(prompts):
            raise ReasonRankError(
                f"backend {self.backend.name!r} returned {len(generations)} "
                f"generations for {len(prompts)} prompts"
            )
        traces: list[WindowTrace] = []
        for request, generation in zip(requests, generations):
            parsed = parse_answer(generation.text, len(request.doc_ids), tagged=style != "rankgpt")
            traces.append(WindowTrace(
                request.query.query_id, request.pass_index, request.start, request.end,
                generation.prompt_tokens, generation.output_tokens, seconds, parsed.status, parsed.order,
                generation.text, request.doc_ids, generation.finish_reason,
            ))
        return traces
