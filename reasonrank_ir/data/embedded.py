"""Collections shipped inside the package, so ``--index cranfield`` works with no network and no import step.

The files are the ones ir_datasets downloads (Cranfield's ``cran.tar.gz`` members, gzipped), read
with ir_datasets' own rules (SMART ``.I``/``.T``/``.A``/``.B``/``.W`` records, queries renumbered
1..225 in file order to match the qrels), so a run scores the same on either copy. Where ir_datasets
already holds the collection in its cache, that copy is used instead.
"""
from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple, TextIO

EMBEDDED = {"cranfield": {"docs": "cran.all.1400.gz", "queries": "cran.qry.gz", "qrels": "cranqrel.gz"}}
"""Dataset id -> its files under ``reasonrank_ir/data/collections/<id>/``."""


class EmbeddedDoc(NamedTuple):
    doc_id: str
    title: str
    text: str


class EmbeddedQuery(NamedTuple):
    query_id: str
    text: str


class EmbeddedQrel(NamedTuple):
    query_id: str
    doc_id: str
    relevance: int


def _records(stream: TextIO, fields: dict[str, str]) -> Iterator[dict[str, str]]:
    """SMART records: a ``.I id`` line opens one; a line starting with a field tag switches field."""
    record: dict[str, str] = {}
    for is_start, lines in itertools.groupby(stream, lambda line: line.startswith(".I ")):
        if is_start:
            record = dict.fromkeys(fields.values(), "") | {"id": next(lines).replace(".I ", "")}
            continue
        field = "id"
        for line in lines:
            field = fields.get(line[:2], field)
            if line[:2] not in fields:
                record[field] += line
        yield {key: value.strip() for key, value in record.items()}


class EmbeddedCollection:
    """What the registry reads of an ir_datasets dataset, served from the packaged files."""

    def __init__(self, dataset_id: str):
        self.dataset_id = dataset_id
        self.files = EMBEDDED[dataset_id]

    def _open(self, kind: str) -> TextIO:
        path = Path(str(files("reasonrank_ir.data") / "collections" / self.dataset_id / self.files[kind]))
        return gzip.open(path, "rt", encoding="utf-8")

    def has_docs(self) -> bool:
        return True

    def has_queries(self) -> bool:
        return True

    def has_qrels(self) -> bool:
        return True

    def docs_count(self) -> int:
        return sum(1 for _ in self.docs_iter())

    def docs_iter(self) -> Iterator[EmbeddedDoc]:
        with self._open("docs") as stream:
            for r in _records(stream, {".T": "title", ".A": "author", ".B": "bib", ".W": "text"}):
                yield EmbeddedDoc(r["id"], r["title"], r["text"])

    def queries_iter(self) -> Iterator[EmbeddedQuery]:
        with self._open("queries") as stream:
            for number, r in enumerate(_records(stream, {".W": "text"}), start=1):
                yield EmbeddedQuery(str(number), r["text"])

    def qrels_iter(self) -> Iterator[EmbeddedQrel]:
        with self._open("qrels") as stream:
            for line in stream:
                query_id, doc_id, relevance = line.split()
                yield EmbeddedQrel(query_id, doc_id, int(relevance))
