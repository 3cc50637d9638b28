"""Local data: an existing Lucene index folder, or a corpus folder (JSONL or TREC documents).

A corpus folder is indexed into ``indexes/<folder-name>`` on first use. Topics and qrels found
beside the documents (``queries*``/``topics*``/``query-text*`` and ``qrels*``) are used by default.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from reasonrank_ir.data.base import BaseDataset
from reasonrank_ir.homes import indexes_home
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.jsonl import read_jsonl
from reasonrank_ir.io.topics import read_topics
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.storage.lucene import build_index, is_lucene_index
from reasonrank_ir.types import Qrels, Query

_TOPIC_PATTERNS = ("topics*", "queries*", "query-text*", "query*")
_QRELS_PATTERNS = ("qrels*",)


class LocalIndexDataset(BaseDataset):
    """An index built elsewhere (e.g. by ``python -m pyserini.index.lucene``)."""

    def index_path(self) -> str:
        return str(Path(self.name).resolve())


class LocalCorpusDataset(BaseDataset):
    def __init__(self, name: str, topics: Callable[[], dict[str, Query]] | None = None,
                 qrels: Callable[[], Qrels] | None = None):
        super().__init__(name, topics, qrels)
        self.folder = Path(name).resolve()

    def _document_files(self) -> list[Path]:
        skip = set(self._beside(_TOPIC_PATTERNS) + self._beside(_QRELS_PATTERNS))
        files = [p for p in sorted(self.folder.rglob("*")) if p.is_file() and p not in skip
                 and not p.name.lower().startswith("readme")]
        return [p for p in files if _is_jsonl(p) or _is_trec(p)]

    def _beside(self, patterns: Iterable[str]) -> list[Path]:
        return [p for pattern in patterns for p in sorted(self.folder.glob(pattern)) if p.is_file()]

    def _own_topics(self) -> dict[str, Query] | None:
        found = self._beside(_TOPIC_PATTERNS)
        return read_topics(found[0]) if found else None

    def _own_qrels(self) -> Qrels | None:
        found = self._beside(_QRELS_PATTERNS)
        return read_qrels(found[0]) if found else None

    def index_path(self) -> str:
        files = self._document_files()
        if not files:
            raise ReasonRankError(f"{self.folder} holds no JSONL (id + contents/text) or TREC (<DOC>) documents")
        # The folder name alone could collide (two 'corpus' folders): add a short hash of the path.
        digest = hashlib.sha1(str(self.folder).encode()).hexdigest()[:8]
        path = indexes_home() / f"{self.folder.name}-{digest}"
        if not is_lucene_index(path):
            build_index(tqdm(_documents(files), desc=f"indexing {self.folder.name}", unit="doc"), path)
        return str(path)


def _is_jsonl(path: Path) -> bool:
    return ".jsonl" in path.name or path.suffix == ".json"


def _is_trec(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "<DOC>" in handle.read(4096).upper()


def _documents(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        yield from (_jsonl_documents(path) if _is_jsonl(path) else _trec_documents(path))


def _jsonl_documents(path: Path) -> Iterator[dict[str, Any]]:
    for where, record in read_jsonl(path):
        doc_id = record.get("id", record.get("docid", record.get("_id")))
        if doc_id is None:
            raise ReasonRankError(f"{where}: a document needs an 'id' (or 'docid'/'_id')")
        if "contents" not in record:
            title = record.get("title") or ""
            record["contents"] = f"{title}\n{record.get('text', '')}".strip()
        record["id"] = str(doc_id)
        yield record


def _trec_documents(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, block in enumerate(re.findall(r"<DOC>(.*?)</DOC>", text, flags=re.S | re.I), 1):
        doc_id = re.search(r"<DOCNO>\s*(.*?)\s*</DOCNO>", block, flags=re.S | re.I)
        if not doc_id:
            raise ReasonRankError(f"{path}: document {number} has no <DOCNO>")
        body = re.sub(r"<DOCNO>.*?</DOCNO>", " ", block, flags=re.S | re.I)
        title = re.search(r"<(?:TITLE|HEAD)>(.*?)</(?:TITLE|HEAD)>", body, flags=re.S | re.I)
        body = re.sub(r"<[^>]+>", " ", body)
        record = {"id": doc_id.group(1), "contents": " ".join(body.split())}
        if title:
            record["title"] = " ".join(title.group(1).split())
        yield record
