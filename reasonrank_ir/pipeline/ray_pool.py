"""A reranking job on a pool of Ray actors, one engine each, with the driver keeping the journal and the files.

The driver does what is cheap and needs the index (the first stage, attaching passages, the journal,
the run file); batches of queries go to actors that each build the reranker once from its picklable
``RerankerSpec`` and rerank with the same ``ListwiseReranker`` as a single process, so the run is the
same bytes. Each finished batch's windows are appended to the journal as the batch comes back; a
query whose windows are all journaled is replayed on the driver (no engine), and a query with some
journaled windows carries them to its actor, which generates only the missing ones. Ray restarts an
actor whose node died and retries its in-flight batch (``max_restarts``/``max_task_retries``).

Plain actors rather than Ray Data's ``map_batches``: a job must fail in seconds, with the actor's own
error, when an engine cannot be built or the cluster lacks the resources, where Ray Data's actor pool
waits for its actors without bound; and each query's journaled windows travel with it, which the
driver decides per batch as results stream back. ``ray`` is imported only here, inside functions.
"""
from __future__ import annotations

import argparse
import math
import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tqdm.auto import tqdm

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.java import jvm_fault_handlers_kept
from reasonrank_ir.io.traces import WindowTrace
from reasonrank_ir.job import OutputFiles, finish
from reasonrank_ir.pipeline.rerank_job import JobTotals, RerankOutcome, attach_passages
from reasonrank_ir.rerank.listwise import RerankConfig, RerankSummary, SlidingWindowReranker
from reasonrank_ir.rerank.window import pass_windows
from reasonrank_ir.types import Ranking, Run

CONNECT_TIMEOUT_S = 5.0
"""How long a cluster's address may take to answer before the job says it cannot be reached."""


@dataclass(frozen=True)
class RayOptions:
    """Where the actors run and what each one holds; none of it changes a run's content."""

    address: str | None = None
    """``host:port`` of a running cluster, ``auto``, or None: ``RAY_ADDRESS`` if set, else a local instance."""
    workers: int | None = None
    """Actors (engines); None: as many as the cluster's resources fit."""
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0


def add_arguments(parser) -> None:
    """The ``--ray`` flags, shared by search, experiments run and train.label (absent flags stay absent)."""
    group = parser.add_argument_group("Ray cluster (engines on a pool of Ray actors; the results are the same)")
    group.add_argument("--ray", nargs="?", const="", default=argparse.SUPPRESS, metavar="ADDRESS",
                       help="run the engines on Ray actors, one engine each: at ADDRESS (host:port), else at "
                            "$RAY_ADDRESS, else on a Ray instance started on this machine")
    group.add_argument("--ray-workers", type=int, default=argparse.SUPPRESS, metavar="N",
                       help="actors, one engine each (default: as many as the cluster's resources fit)")
    group.add_argument("--ray-gpus-per-worker", type=float, default=argparse.SUPPRESS, metavar="G",
                       help="GPUs per actor (default: 0; 1, or the tensor-parallel size, for vllm/hf on GPUs)")
    group.add_argument("--ray-cpus-per-worker", type=float, default=argparse.SUPPRESS, metavar="C",
                       help="CPUs per actor (default: 1)")


def parse_known(argv: Sequence[str] | None) -> tuple[RayOptions | None, list[str]]:
    """The ``--ray`` flags of ``argv`` as options (None without ``--ray``), and the other arguments."""
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    add_arguments(parser)
    known, rest = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    return options_from(known), rest


def options_from(args) -> RayOptions | None:
    """The flags as options, or None without ``--ray``."""
    if getattr(args, "ray", None) is None:
        return None
    options = RayOptions(args.ray or None, getattr(args, "ray_workers", None),
                         getattr(args, "ray_gpus_per_worker", 0.0), getattr(args, "ray_cpus_per_worker", 1.0))
    if options.workers is not None and options.workers < 1:
        raise ReasonRankError(f"--ray-workers must be at least 1, found {options.workers}")
    if options.gpus_per_worker < 0 or options.cpus_per_worker < 0:
        raise ReasonRankError("--ray-gpus-per-worker and --ray-cpus-per-worker cannot be negative")
    return options


def connect(options: RayOptions) -> None:
    """Join (or start) the cluster; an address that does not answer is a one-line error within seconds."""
    address = options.address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        _check_reachable(address)
    import ray

    if ray.is_initialized():
        return None
    try:
        with jvm_fault_handlers_kept("Ray's core worker"):  # the driver reads passages through the JVM
            ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=True,
                     include_dashboard=False if not address else None)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ReasonRankError(f"cannot join the Ray cluster at {address or 'this machine'}: "
                              f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    return address or "a local Ray instance"


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

    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    cpus, gpus = options.cpus_per_worker, options.gpus_per_worker

    def slots(resources: dict) -> int:
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

    def replay(self, request) -> WindowTrace | None:
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

    def __init__(self, spec) -> None:
        from reasonrank_ir.rerank.spec import build_reranker

        self.spec = spec
        self.rerankers = {None: build_reranker(spec)}

    def ready(self) -> str:
        return self.rerankers[None].backend.name

    def _reranker(self, passage_tokens: int | None) -> SlidingWindowReranker:
        """The reranker of a dataset's passage truncation, sharing the one engine."""
        from reasonrank_ir.rerank.spec import build_reranker

        if passage_tokens not in self.rerankers:
            loaded = self.rerankers[None]
            self.rerankers[passage_tokens] = build_reranker(self.spec, passage_tokens=passage_tokens,
                                                            backend=loaded.backend, tokenizer=loaded.tokenizer)
        return self.rerankers[passage_tokens]

    def rerank(self, rankings: list[Ranking], journaled: list[WindowTrace], passage_tokens: int | None):
        """(rankings, windows generated here in round-major order, their summary, windows replayed)."""
        journal = _ShippedJournal(journaled)
        batch = self._reranker(passage_tokens).rerank_batch(rankings, journal)
        known = journal.journaled
        fresh = [t for t in batch.traces if known.get((t.query_id, t.pass_index, t.start, t.end)) is not t]
        return batch.rankings, fresh, batch.summary, journal.replayed


class _JournalOnly(SlidingWindowReranker):
    """Replays a query whose windows are all journaled, on the driver, with no engine."""

    def rank_windows(self, requests):
        raise ReasonRankError(f"window [{requests[0].start}, {requests[0].end}) of query "
                              f"{requests[0].query.query_id} is not journaled")


def _schedule(config: RerankConfig, ranking: Ranking) -> list[tuple[int, int, int]]:
    return pass_windows(min(config.depth, len(ranking.candidates)), config.window, config.step, config.passes)


def _cause(error: BaseException) -> BaseException:
    """The worker's own exception inside Ray's wrappers (a ReasonRankError stays one line)."""
    import ray.exceptions as rex

    if isinstance(error, rex.RayTaskError):
        return error.cause if isinstance(error.cause, ReasonRankError) else error.as_instanceof_cause()
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


def start_actors(cls: type, args: tuple, options: RayOptions) -> tuple[list, list]:
    """``cls(*args)`` on as many actors as ``options`` ask (and the cluster fits), with ``ready()``'s answers;
    an actor that cannot build its engine fails here, before any work, in one line."""
    import ray

    connect(options)
    count = _fit(options)
    actor = ray.remote(cls).options(num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
                                    max_restarts=-1, max_task_retries=-1)  # a lost node: restarted, retried
    workers = [actor.remote(*args) for _ in range(count)]
    try:
        return workers, ray.get([w.ready.remote() for w in workers])
    except Exception as error:
        for worker in workers:
            ray.kill(worker)
        raise _one_line(error, "a Ray worker cannot build its engine") from None


def ordered_map(workers: Sequence, method: str, items: Iterable) -> Iterator:
    """``worker.method(item)`` for every item, one in flight per worker, results yielded in the items' order
    as soon as they and those before them are back (items are read lazily)."""
    import ray

    items = iter(items)
    pending: dict[Any, tuple[int, Any]] = {}
    finished: dict[int, Any] = {}
    sent = next_out = 0

    def send(worker) -> None:
        nonlocal sent
        for item in items:
            pending[getattr(worker, method).remote(item)] = (sent, worker)
            sent += 1
            return

    for worker in workers:
        send(worker)
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        index, worker = pending.pop(ref)
        try:
            finished[index] = ray.get(ref)
        except Exception as error:
            raise _one_line(error, "a Ray worker failed") from None
        send(worker)
        while next_out in finished:
            yield finished.pop(next_out)
            next_out += 1


def start_pool(spec, options: RayOptions = RayOptions()) -> RayPool:
    """Reranking actors, each with its engine built; one that cannot build it fails here, before any work."""
    workers, engines = start_actors(RerankWorker, (spec,), options)
    where = options.address or os.environ.get("RAY_ADDRESS") or "a local Ray instance"
    print(f"reranker: {spec.reranker} with {spec.model} on {len(workers)} Ray workers ({engines[0]} backend each) "
          f"at {where}", file=sys.stderr)
    return RayPool(spec, workers)


class RayPool:
    """Engines on Ray actors, in the place of a reranker: ``pipeline.rerank`` hands it the whole job."""

    needs_passages = True

    def __init__(self, spec, workers: list) -> None:
        self.spec = spec
        self.workers = workers
        self.config = spec.config()
        self.summary = RerankSummary()

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker)
        self.workers = []

    def rerank_job(self, run: Run, dataset: Dataset, files: OutputFiles | None = None, resume: bool = False,
                   batch_size: int | None = None, tag: str | None = None, progress: bool = True) -> RerankOutcome:
        """``pipeline.rerank`` with the engines on the actors (see the module doc): the same run and windows."""
        import ray

        from reasonrank_ir.io.traces import TraceJournal

        config = self.spec.config(dataset.max_passage_tokens)
        tag = tag or run.name
        batch_size = batch_size or self.spec.batch_size
        journal = TraceJournal(files.traces, resume=resume) if files else None
        journaled = journal.journaled if journal is not None else {}
        done: dict[str, Ranking] = {}
        summary = RerankSummary()
        totals = JobTotals()
        started = time.perf_counter()
        bar = tqdm(total=len(run), desc="reranking (ray)", unit="query", disable=not progress)
        try:
            todo = []
            for ranking in run:
                keys = [(ranking.query_id, *window) for window in _schedule(config, ranking)]
                if keys and all(key in journaled for key in keys):  # replayed here: no passages, no engine
                    replay = _JournalOnly(config).rerank_batch([ranking], journal)
                    totals.add(replay.traces)
                    done[ranking.query_id] = replay.rankings[0]
                    bar.update(1)
                else:
                    todo.append((ranking, [journaled[key] for key in keys if key in journaled]))
            replayed = journal.replayed if journal is not None else 0
            # Batches small enough that every worker gets a few (balance), never larger than a batch engine's.
            size = max(1, min(batch_size, math.ceil(len(todo) / (2 * len(self.workers))))) if todo else 1
            queue = iter([todo[i:i + size] for i in range(0, len(todo), size)])
            pending: dict[Any, Any] = {}

            def send(worker) -> None:
                batch = next(queue, None)
                if batch is not None:
                    rankings = [attach_passages(dataset, ranking, config.depth) for ranking, _ in batch]
                    shipped = [trace for _, traces in batch for trace in traces]
                    totals.add(shipped)
                    pending[worker.rerank.remote(rankings, shipped, dataset.max_passage_tokens)] = worker

            for worker in self.workers:
                send(worker)
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                worker = pending.pop(ref)
                try:
                    rankings, fresh, batch_summary, batch_replayed = ray.get(ref)
                except Exception as error:
                    raise _one_line(error, "a Ray worker failed") from None
                totals.add(fresh)
                if journal is not None:
                    for trace in fresh:
                        journal.record(trace)
                for ranking in rankings:
                    done[ranking.query_id] = ranking
                summary = summary + batch_summary
                replayed += batch_replayed
                bar.update(len(rankings))
                bar.set_postfix(windows_per_s=f"{summary.windows / max(time.perf_counter() - started, 1e-9):.1f}")
                send(worker)
        finally:
            bar.close()
            if journal is not None:
                journal.close()
        final = Run({q: done[q] for q in run.rankings}, tag)
        if files:
            finish(files, final, tag, totals.facts(replayed, time.perf_counter() - started))
        summary = replace(summary, seconds=time.perf_counter() - started)  # wall time, not the workers' sum
        self.summary = self.summary + summary
        return RerankOutcome(final, replayed, summary, files)
