"""Topic files: Pyserini's TSV (``qid<TAB>query``), JSONL (``query_id``/``qid``/``id`` + ``query``/``text``)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.jsonl import read_jsonl
from reasonrank_ir.io import numbered_lines
from reasonrank_ir.types import Query

_ID_KEYS = ("query_id", "qid", "id", "_id")
_TEXT_KEYS = ("query", "text", "title")


def read_topics(path: str | os.PathLike[str]) -> dict[str, Query]:
    """Queries keyed by id, in file order: JSONL (by extension), TREC SGML (``<top>``) or TSV.

    An empty file, a topic without text, an id with whitespace or an id given twice is an error: each would
    otherwise run and score a different set of queries than the file seems to hold.
    """
    name = Path(path).name
    jsonl = ".jsonl" in name or ".json" in name
    first = next((line for _, line in numbered_lines(path)), "")
    if not jsonl and first.lstrip().lower().startswith("<top>"):
        return read_trec_topics(path)
    topics: dict[str, Query] = {}
    lines: dict[str, str] = {}
    for where, query_id, text in (_jsonl_topics(path) if jsonl else _tsv_topics(path)):
        _add(topics, lines, Query(str(query_id).strip(), str(text).strip()), where)
    if not topics:
        raise ReasonRankError(f"{path}: no topics in the file; "
                              "expected 'qid<TAB>query' lines, JSONL or TREC <top> blocks")
    return topics


def _add(topics: dict[str, Query], lines: dict[str, str], query: Query, where: str) -> None:
    """Add ``query`` (read at ``where``), refusing an empty id or text and an id seen before."""
    if not query.query_id or not query.text:
        raise ReasonRankError(f"{where}: topic {query.query_id!r} has an empty {'text' if query.query_id else 'id'}")
    if any(c.isspace() for c in query.query_id):
        raise ReasonRankError(f"{where}: topic id {query.query_id!r} contains whitespace; a TREC run or qrels line "
                              "cannot carry it (columns are split on whitespace)")
    if query.query_id in topics:
        raise ReasonRankError(f"{where}: topic id {query.query_id} is given twice (first at {lines[query.query_id]})")
    topics[query.query_id] = query
    lines[query.query_id] = where


def _jsonl_topics(path: str | os.PathLike[str]) -> Iterator[tuple[str, object, object]]:
    for where, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise ReasonRankError(f"{where}: expected a JSON object (one topic), found {type(record).__name__}")
        query_id = next((record[k] for k in _ID_KEYS if k in record), None)
        text = next((record[k] for k in _TEXT_KEYS if k in record), None)
        if query_id is None or text is None:
            raise ReasonRankError(f"{where}: a topic needs an id ({'/'.join(_ID_KEYS)}) and a text "
                                  f"({'/'.join(_TEXT_KEYS)})")
        yield where, query_id, text


def _tsv_topics(path: str | os.PathLike[str]) -> Iterator[tuple[str, str, str]]:
    for number, line in numbered_lines(path):
        query_id, tab, text = line.partition("\t")
        if not tab:
            raise ReasonRankError(f"{path}:{number}: expected 'qid<TAB>query', found {line.strip()!r}")
        yield f"{path}:{number}", query_id, text


def write_topics(topics: dict[str, Query], path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for query in topics.values():
            handle.write(f"{query.query_id}\t{' '.join(query.text.split())}\n")


def read_trec_topics(path: str | os.PathLike[str]) -> dict[str, Query]:
    """Classic SGML topics (``<top><num>..<title>..``); the title is the query."""
    import re

    text = "".join(line + "\n" for _, line in numbered_lines(path))
    topics: dict[str, Query] = {}
    lines: dict[str, str] = {}
    for count, block in enumerate(re.findall(r"<top>(.*?)</top>", text, flags=re.S | re.I), 1):
        num = re.search(r"<num>\s*(?:Number:)?\s*([^<\s]+)", block, flags=re.I)
        title = re.search(r"<title>\s*(.*?)\s*(?:</title>|<desc>|<narr>|$)", block, flags=re.S | re.I)
        if not num or not title:
            raise ReasonRankError(f"{path}: a <top> block lacks <num> or <title>: {block[:80]!r}")
        _add(topics, lines, Query(num.group(1), " ".join(title.group(1).split())), f"{path}, <top> block {count}")
    if not topics:
        raise ReasonRankError(f"{path}: no <top> blocks found; expected TREC SGML topics")
    return topics
