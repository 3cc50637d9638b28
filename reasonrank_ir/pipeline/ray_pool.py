"""A reranking job on a pool of Ray actors, one engine each, with the driver keeping the journal and the files.

A pool's :class:`RayReranker` is a ``BatchReranker`` that ``pipeline.rerank`` drives as any other, so the
driver does what is cheap and needs the index (the first stage, attaching passages, the journal, the
run file) exactly as a single process does; batches of queries go to actors that each build the
reranker once from its picklable ``RerankerSpec`` and rerank with the same ``ListwiseReranker`` as a
single process, so the run is the same bytes. Each finished batch's windows are appended to the
journal as the batch comes back; a query whose windows are all journaled is replayed on the driver
(no engine), and a query with some journaled windows carries them to its actor, which generates only
the missing ones. Ray restarts an actor whose node died and retries its in-flight batch
(``max_restarts``/``max_task_retries``).

Plain actors rather than Ray Data's ``map_batches``: a job must fail in seconds, with the actor's own
error, when an engine cannot be built or the cluster lacks the resources, where Ray Data's actor pool
waits for its actors without bound; and each query's journaled windows travel with it, which the
driver decides per batch as results stream back. ``ray`` is imported only here, inside functions.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from reasonrank_ir.data import Dataset
from reasonrank_ir.declare import Declared, Setting, add_flags, declared
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.java import jvm_fault_handlers_kept
from reasonrank_ir.io.traces import WindowTrace
from reasonrank_ir.pipeline.rerank_job import attach_passages
from reasonrank_ir.rerank.listwise import (BATCH_SIZE, RerankConfig, RerankedBatch, RerankSummary,
                                           SlidingWindowReranker, WindowJournal, WindowRequest)
from reasonrank_ir.rerank.window import pass_windows
from reasonrank_ir.types import Ranking

if TYPE_CHECKING:
    from reasonrank_ir.rerank.spec import RerankerSpec

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
"""How long a cluster's address may take to answer before the job says it cannot be reached."""


@dataclass(frozen=True)
class RayOptions:
    """Where the actors run and what each one holds, declared once (flags, help, bounds); none of it
    changes a run's content, so none of it is recorded."""

    address: Annotated[str | None, Setting(
        "run the engines on Ray actors, one engine each: at ADDRESS (host:port), else at $RAY_ADDRESS, else on a "
        "Ray instance started on this machine", flag="--ray", nargs="?", metavar="ADDRESS", recorded=False)] = None
    """``host:port`` of a running cluster, ``auto``, or None: ``RAY_ADDRESS`` if set, else a local instance."""
    workers: Annotated[int | None, Setting(
        "actors, one engine each (default: as many as the cluster's resources fit)", minimum=1, flag="--ray-workers",
        metavar="N", recorded=False)] = None
    gpus_per_worker: Annotated[float, Setting(
        "GPUs per actor (default: 0; 1, or the tensor-parallel size, for vllm/hf on GPUs)", minimum=0,
        flag="--ray-gpus-per-worker", metavar="G", recorded=False)] = 0.0
    cpus_per_worker: Annotated[float, Setting("CPUs per actor (default: 1)", minimum=0, flag="--ray-cpus-per-worker",
                                              metavar="C", recorded=False)] = 1.0

    def __post_init__(self) -> None:
        for item in declared(RayOptions).values():
            item.check_flag(getattr(self, item.name))


def _dest(item: Declared) -> str:
    return item.flag.removeprefix("--").replace("-", "_")


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The ``--ray`` flags, shared by search, experiments run and train.label (absent flags stay absent)."""
    group = parser.add_argument_group("Ray cluster (engines on a pool of Ray actors; the results are the same)")
    absent = {name: {"dest": _dest(item), "default": argparse.SUPPRESS} for name, item in declared(RayOptions).items()}
    absent["address"]["const"] = ""  # a bare --ray: no address given
    add_flags(group, RayOptions, **absent)


def parse_known(argv: Sequence[str] | None) -> tuple[RayOptions | None, list[str]]:
    """The ``--ray`` flags of ``argv`` as options (None without ``--ray``), and the other arguments."""
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    add_arguments(parser)
    known, rest = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    return options_from(known), rest


def options_from(args: argparse.Namespace) -> RayOptions | None:
    """The flags as options, or None without ``--ray``."""
    if getattr(args, "ray", None) is None:
        return None
    given = {name: getattr(args, _dest(item)) for name, item in declared(RayOptions).items()
             if hasattr(args, _dest(item))}
    return RayOptions(**{**given, "address": args.ray or None})


def connect(options: RayOptions) -> None:
    """Join (or start) the cluster; an address that does not answer is a one-line error within seconds."""
    address = options.address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        _check_reachable(address)
    import ray

    if ray.is_initialized():
        return
    try:
        with jvm_fault_handlers_kept("Ray's core worker"):  # the driver reads passages through the JVM
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, configure_logging=True,
                     include_dashboard=False if not address else None)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ReasonRankError(f"cannot join the Ray cluster at {address or 'this machine'}: "
                              f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None


def _check_reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise ReasonRankError(f"--ray {address}: give the head node as host:port (e.g. 10.0.0.1:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ReasonRankError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}): start it with "
                              "`ray start --head` there, or check --ray / RAY_ADDRESS") from None


def _fit(options: RayOptions) -> int:
    """Workers to start: checked against every alive node's resources, so no actor waits forever."""
    import ray

    nodes: list[dict[str, float]] = [node.get("Resources", {}) for node in ray.nodes()  # type: ignore[no-untyped-call]
                                     if node.get("Alive")]  # (ray.nodes is not annotated)
    cpus, gpus = options.cpus_per_worker, options.gpus_per_worker

    def slots(resources: dict[str, float]) -> int:
        fits = [math.floor(resources.get(name, 0) / need + 1e-9) for name, need in (("CPU", cpus), ("GPU", gpus))
                if need > 0]
        return min(fits) if fits else 1 << 20

    room = sum(slots(node) for node in nodes)
    if options.workers is None and not (cpus > 0 or gpus > 0):
        raise ReasonRankError("workers that take no CPU and no GPU fit without bound: give --ray-workers N")
    wanted = options.workers if options.workers is not None else room
    if wanted < 1 or wanted > room:
        total_cpus = sum(node.get("CPU", 0) for node in nodes)
        total_gpus = sum(node.get("GPU", 0) for node in nodes)
        each = f"{cpus:g} CPU and {gpus:g} GPU each"
        fits = (f"not one worker of {each} fits" if room < 1 else
                f"{wanted} workers of {each} do not fit (room for {room})")
        raise ReasonRankError(f"the Ray cluster has {total_cpus:g} CPUs and {total_gpus:g} GPUs on {len(nodes)} nodes: "
                              f"{fits}; lower --ray-workers or the per-worker resources, or add nodes")
    return min(wanted, room)


class _ShippedJournal:
    """A worker's journal: replays the windows the driver sent along, keeps the ones generated here."""

    def __init__(self, traces: Sequence[WindowTrace]) -> None:
        self.journaled = {(t.query_id, t.pass_index, t.start, t.end): t for t in traces}
        self.replayed = 0

    def replay(self, request: WindowRequest) -> WindowTrace | None:
        trace = self.journaled.get((request.query.query_id, request.pass_index, request.start, request.end))
        if trace is not None and trace.doc_ids != request.doc_ids:
            raise ReasonRankError(
                f"the journaled window [{request.start}, {request.end}) of query {request.query.query_id} holds "
                "other documents than this job's: the traces belong to another job; start again with --overwrite")
        self.replayed += trace is not None
        return trace

    def record(self, trace: WindowTrace) -> None:
        """Nothing: the driver journals what comes back."""


class RerankWorker:
    """One engine, built once from the spec; reranks the batches the driver sends."""

    def __init__(self, spec: RerankerSpec) -> None:
        from reasonrank_ir.rerank.listwise import ListwiseReranker
        from reasonrank_ir.rerank.spec import build_reranker

        self.spec = spec
        loaded = build_reranker(spec)
        if not isinstance(loaded, ListwiseReranker):
            raise ReasonRankError(f"the {spec.reranker} reranker has no engine to run on Ray actors")
        self.loaded = loaded
        self.rerankers: dict[int | None, SlidingWindowReranker] = {None: loaded}

    def ready(self) -> str:
        return self.loaded.backend.name

    def _reranker(self, passage_tokens: int | None) -> SlidingWindowReranker:
        """The reranker of a dataset's passage truncation, sharing the one engine."""
        from reasonrank_ir.rerank.spec import build_reranker

        if passage_tokens not in self.rerankers:
            loaded = self.loaded
            self.rerankers[passage_tokens] = build_reranker(self.spec, passage_tokens=passage_tokens,
                                                            backend=loaded.backend, tokenizer=loaded.tokenizer)
        return self.rerankers[passage_tokens]

    def rerank(self, rankings: list[Ranking], journaled: list[WindowTrace], passage_tokens: int | None
               ) -> tuple[list[Ranking], list[WindowTrace], RerankSummary, int]:
        """(rankings, windows generated here in round-major order, their summary, windows replayed)."""
        journal = _ShippedJournal(journaled)
        batch = self._reranker(passage_tokens).rerank_batch(rankings, journal)
        known = journal.journaled
        fresh = [t for t in batch.traces if known.get((t.query_id, t.pass_index, t.start, t.end)) is not t]
        return batch.rankings, fresh, batch.summary, journal.replayed


class _JournalOnly(SlidingWindowReranker):
    """Replays a query whose windows are all journaled, on the driver, with no engine."""

    def rank_windows(self, requests: Sequence[WindowRequest]) -> list[WindowTrace]:
        raise ReasonRankError(f"window [{requests[0].start}, {requests[0].end}) of query "
                              f"{requests[0].query.query_id} is not journaled")


def _schedule(config: RerankConfig, ranking: Ranking) -> list[tuple[int, int, int]]:
    return pass_windows(min(config.depth, len(ranking.candidates)), config.window, config.step, config.passes)


def _cause(error: BaseException) -> BaseException:
    """The worker's own exception inside Ray's wrappers (a ReasonRankError stays one line)."""
    import ray.exceptions as rex

    if isinstance(error, rex.RayTaskError):
        if isinstance(error.cause, ReasonRankError):
            return error.cause
        cause: BaseException = error.as_instanceof_cause()  # type: ignore[no-untyped-call]  # (not annotated in ray)
        return cause
    message = str(error)
    marker = "ReasonRankError: "
    if isinstance(error, rex.RayActorError) and marker in message:
        return ReasonRankError(message[message.rindex(marker) + len(marker):].strip().splitlines()[0])
    return error


def _one_line(error: BaseException, what: str) -> ReasonRankError:
    cause = _cause(error)
    if isinstance(cause, ReasonRankError):
        return ReasonRankError(f"{what}: {cause}")
    lines = [line for line in str(cause).strip().splitlines() if line.strip()]
    return ReasonRankError(f"{what}: {type(cause).__name__}" + (f": {lines[-1].strip()[:300]}" if lines else ""))


def start_actors(cls: type, args: tuple[Any, ...], options: RayOptions) -> tuple[list[Any], list[Any]]:
    """``cls(*args)`` on as many actors as ``options`` ask (and the cluster fits), with ``ready()``'s answers;
    an actor that cannot build its engine fails here, before any work, in one line."""
    import ray

    connect(options)
    count = _fit(options)
    actor: Any = ray.remote(cls).options(num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
                                    max_restarts=-1, max_task_retries=-1)  # a lost node: restarted, retried
    workers = [actor.remote(*args) for _ in range(count)]
    try:
        return workers, ray.get([w.ready.remote() for w in workers])
    except Exception as error:
        for worker in workers:
            ray.kill(worker)
        raise _one_line(error, "a Ray worker cannot build its engine") from None


def streamed(workers: Sequence[Any], call: Callable[[Any, T], Any], items: Iterable[T]) -> Iterator[tuple[T, Any]]:
    """``call(worker, item)`` (a remote call's object ref) for every item, one in flight per worker, and
    ``(item, result)`` pairs yielded as results come back (items are read lazily; a freed worker gets the
    next item before its result is yielded)."""
    import ray

    remaining = iter(items)
    pending: dict[Any, tuple[Any, T]] = {}

    def send(worker: Any) -> None:
        for item in remaining:
            pending[call(worker, item)] = (worker, item)
            return

    for worker in workers:
        send(worker)
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        worker, item = pending.pop(ref)
        try:
            result = ray.get(ref)
        except Exception as error:
            raise _one_line(error, "a Ray worker failed") from None
        send(worker)
        yield item, result


def ordered_map(workers: Sequence[Any], method: str, items: Iterable[Any]) -> Iterator[Any]:
    """``worker.method(item)`` for every item, one in flight per worker, results yielded in the items' order
    as soon as they and those before them are back (items are read lazily)."""
    finished: dict[int, Any] = {}
    next_out = 0
    for (index, _), result in streamed(workers, lambda worker, pair: getattr(worker, method).remote(pair[1]),
                                       enumerate(items)):
        finished[index] = result
        while next_out in finished:
            yield finished.pop(next_out)
            next_out += 1


def start_pool(spec: RerankerSpec, options: RayOptions = RayOptions()) -> RayPool:
    """Reranking actors, each with its engine built; one that cannot build it fails here, before any work."""
    workers, engines = start_actors(RerankWorker, (spec,), options)
    where = options.address or os.environ.get("RAY_ADDRESS") or "a local Ray instance"
    print(f"reranker: {spec.reranker} with {spec.model} on {len(workers)} Ray workers ({engines[0]} backend each) "
          f"at {where}", file=sys.stderr)
    return RayPool(spec, workers)


class RayPool:
    """Engines on Ray actors, shared by the datasets of a job: :meth:`reranker` is one dataset's reranker."""

    def __init__(self, spec: RerankerSpec, workers: list[Any]) -> None:
        self.spec = spec
        self.workers = workers

    def reranker(self, dataset: Dataset) -> RayReranker:
        """The reranker of ``dataset`` (its passages and truncation) on these actors."""
        return RayReranker(self, dataset)

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker)
        self.workers = []


class RayReranker:
    """A :class:`BatchReranker` whose engines are a pool's actors: ``pipeline.rerank`` drives it as any other.

    It attaches passages itself (``needs_passages`` is False), only to the queries it ships: a query whose
    windows are all in the job's journal is replayed here, with no passages and no engine; the others go
    to the actors in batches, with their journaled windows, and come back as the actors finish them.
    """

    needs_passages = False

    def __init__(self, pool: RayPool, dataset: Dataset) -> None:
        self.pool = pool
        self.dataset = dataset
        self.config: RerankConfig = pool.spec.config(dataset.max_passage_tokens)
        self.summary = RerankSummary()

    def rerank_batches(self, rankings: Iterable[Ranking], batch_size: int = BATCH_SIZE,
                       journal: WindowJournal | None = None) -> Iterator[RerankedBatch]:
        """Batches as the actors return them (not in the input's order): the same windows as one process."""
        from reasonrank_ir.io.traces import TraceJournal

        started = time.perf_counter()
        journaled = journal.journaled if isinstance(journal, TraceJournal) else {}
        summary = RerankSummary()
        todo: list[tuple[Ranking, list[WindowTrace]]] = []
        for ranking in rankings:
            keys = [(ranking.query_id, *window) for window in _schedule(self.config, ranking)]
            if keys and all(key in journaled for key in keys):  # replayed here: no passages, no engine
                yield _JournalOnly(self.config).rerank_batch([ranking], journal)
            else:
                todo.append((ranking, [journaled[key] for key in keys if key in journaled]))
        workers = self.pool.workers
        # Batches small enough that every worker gets a few (balance), never larger than a batch engine's.
        size = max(1, min(batch_size, math.ceil(len(todo) / (2 * len(workers))))) if todo else 1
        batches = [todo[i:i + size] for i in range(0, len(todo), size)]

        def send(worker: Any, batch: list[tuple[Ranking, list[WindowTrace]]]) -> Any:
            prepared = [attach_passages(self.dataset, ranking, self.config.depth) for ranking, _ in batch]
            return worker.rerank.remote(prepared, [trace for _, traces in batch for trace in traces],
                                        self.dataset.max_passage_tokens)

        for batch, (done, fresh, batch_summary, batch_replayed) in streamed(workers, send, batches):
            shipped = [trace for _, traces in batch for trace in traces]
            if journal is not None:
                for trace in fresh:
                    journal.record(trace)
            if isinstance(journal, TraceJournal):
                journal.replayed += batch_replayed  # replayed on the actor, from the windows shipped with the batch
            summary = summary + batch_summary
            self.summary = self.summary + batch_summary
            yield RerankedBatch(done, shipped + fresh, batch_summary)
        # the job's wall time, not the workers' sum
        self.summary = replace(self.summary, seconds=self.summary.seconds - summary.seconds
                               + time.perf_counter() - started)
