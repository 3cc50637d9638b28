"""Topic files: Pyserini's TSV (``qid<TAB>query``), JSONL (``query_id``/``qid``/``id`` + ``query``/``text``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.trec import _lines
from reasonrank_ir.types import Query

_ID_KEYS = ("query_id", "qid", "id", "_id")
_TEXT_KEYS = ("query", "text", "title")


def read_topics(path: str | os.PathLike) -> dict[str, Query]:
    """Queries keyed by id, in file order; the format is told by the extension (.jsonl or TSV)."""
    name = Path(path).name
    jsonl = ".jsonl" in name or ".json" in name
    topics: dict[str, Query] = {}
    for number, line in _lines(path):
        where = f"{path}:{number}"
        if jsonl:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ReasonRankError(f"{where}: not valid JSON ({error.msg})") from None
            query_id = next((record[k] for k in _ID_KEYS if k in record), None)
            text = next((record[k] for k in _TEXT_KEYS if k in record), None)
            if query_id is None or text is None:
                raise ReasonRankError(f"{where}: a topic needs an id ({'/'.join(_ID_KEYS)}) and a text "
                                      f"({'/'.join(_TEXT_KEYS)})")
        else:
            query_id, tab, text = line.partition("\t")
            if not tab:
                raise ReasonRankError(f"{where}: expected 'qid<TAB>query', found {line.strip()!r}")
        topics[str(query_id).strip()] = Query(str(query_id).strip(), str(text).strip())
    return topics


def write_topics(topics: dict[str, Query], path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for query in topics.values():
            handle.write(f"{query.query_id}\t{' '.join(query.text.split())}\n")
