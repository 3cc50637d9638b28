"""Window traces as JSONL: one line per reranked window (prompt size, tokens, time, status, response)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.jsonl import read_jsonl


class TraceWriter:
    """Appends traces as they come; each ``write`` is flushed so a killed job keeps what it wrote."""

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a" if append else "w", encoding="utf-8")

    def write(self, trace: Any) -> None:
        """One trace (a dataclass such as ``WindowTrace``) as one JSON line."""
        self._handle.write(json.dumps(asdict(trace), ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_traces(path: str | os.PathLike) -> list:
    """The ``WindowTrace`` records of a trace file, in file order."""
    from reasonrank_ir.rerank.listwise import WindowTrace

    traces = []
    for where, record in read_jsonl(path):
        try:
            record["order"] = tuple(record["order"])
            record["doc_ids"] = tuple(record.get("doc_ids", ()))
            traces.append(WindowTrace(**record))
        except (KeyError, TypeError) as error:
            raise ReasonRankError(f"{where}: not a window trace ({type(error).__name__}: {error})") from None
    return traces
