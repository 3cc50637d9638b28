"""Window traces as JSONL: one line per reranked window (prompt size, tokens, time, status, response).

The traces file is also a reranking job's journal: each window's line is written and flushed as soon
as the window is parsed, and a resumed job replays the windows that have a complete line instead of
asking the model again, so a killed job loses only the windows it had in flight.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.jsonl import jsonl_line, read_jsonl


@dataclass(frozen=True)
class WindowTrace:
    """What happened in one window; one JSONL line of the trace."""

    query_id: str
    pass_index: int
    start: int
    end: int
    prompt_tokens: int
    output_tokens: int
    seconds: float
    """The backend round's time, shared equally among its windows (so traces sum to wall time)."""
    status: str
    order: tuple[int, ...]
    """0-based positions in the window, best first, as applied."""
    response: str
    """The full response, reasoning included."""
    doc_ids: tuple[str, ...] = ()
    """The window's doc ids in input order (``order`` indexes them)."""
    finish_reason: str = "stop"


WindowKey = tuple[str, int, int, int]
"""A window's place in a job: (query id, pass, start, end)."""


class _Query(Protocol):
    @property
    def query_id(self) -> str: ...


class Window(Protocol):
    """The window a reranker is about to run (``rerank.listwise.WindowRequest``), as the journal sees it."""

    @property
    def query(self) -> _Query: ...
    @property
    def pass_index(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def doc_ids(self) -> tuple[str, ...]: ...


def _trace(record: dict[str, Any], where: str) -> WindowTrace:
    try:
        return WindowTrace(**{**record, "order": tuple(record["order"]), "doc_ids": tuple(record.get("doc_ids", ()))})
    except (KeyError, TypeError) as error:
        raise ReasonRankError(f"{where}: not a window trace ({type(error).__name__}: {error})") from None


def read_traces(path: str | os.PathLike[str]) -> list[WindowTrace]:
    """The window traces of a trace file, in file order."""
    return [_trace(record, where) for where, record in read_jsonl(path)]


class TraceJournal:
    """Writes a job's window traces as they come and, on ``resume``, hands back the ones already written.

    A line cut short by a kill is removed on resume (its window runs again); every complete line is
    kept and replayed in place of its window, provided the window holds the same documents.
    ``record`` may be called from several threads.
    """

    def __init__(self, path: str | os.PathLike[str], resume: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._journaled: dict[WindowKey, WindowTrace] = self._load() if resume and self.path.is_file() else {}
        self.replayed = 0
        """Windows handed back by ``replay`` (not generated again)."""
        self._lock = threading.Lock()
        self._handle = open(self.path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115 (open until close())

    def _load(self) -> dict[WindowKey, WindowTrace]:
        data = self.path.read_bytes()
        complete = data[:data.rfind(b"\n") + 1]
        if len(complete) < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        journaled: dict[WindowKey, WindowTrace] = {}
        for number, line in enumerate(complete.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{self.path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ReasonRankError(f"{where}: not valid JSON ({error.msg}); the traces were edited: "
                                      "start the job again with --overwrite") from None
            trace = _trace(record, where)
            journaled[(trace.query_id, trace.pass_index, trace.start, trace.end)] = trace
        return journaled

    @property
    def journaled(self) -> dict[WindowKey, WindowTrace]:
        """The windows loaded on resume, by (query id, pass, start, end); ``replay`` checks their documents."""
        return self._journaled

    def replay(self, request: Window) -> WindowTrace | None:
        """The journaled trace of ``request``'s window, or None when it has to run."""
        query_id = request.query.query_id
        trace = self._journaled.get((query_id, request.pass_index, request.start, request.end))
        if trace is None:
            return None
        if trace.doc_ids != request.doc_ids:
            raise ReasonRankError(
                f"{self.path}: the journaled window [{request.start}, {request.end}) of query {query_id} "
                "holds other documents than this job's: the traces belong to another job; start again "
                "with --overwrite")
        with self._lock:
            self.replayed += 1
        return trace

    def record(self, trace: WindowTrace) -> None:
        """One trace as one flushed JSON line; dropped once the journal is closed."""
        line = jsonl_line(asdict(trace))
        with self._lock:
            if not self._handle.closed:
                self._handle.write(line)
                self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> TraceJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
