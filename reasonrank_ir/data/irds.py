"""Any ``ir_datasets`` id (cranfield, vaswani, beir/scifact/test, msmarco-passage/dev...).

The corpus is indexed into ``indexes/<corpus id>`` (splits share it) with Pyserini the first time it
is used: ``contents`` is title + text for retrieval, and the raw JSON keeps ``title`` and ``text``
apart for the reranker.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

from tqdm.auto import tqdm

from reasonrank_ir.data.base import BaseDataset
from reasonrank_ir.homes import indexes_home
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.storage.lucene import build_index, is_lucene_index
from reasonrank_ir.types import Qrels, Query

# Files that make an ir_datasets id work offline: our file name -> ir_datasets' cached name.
IMPORTABLE = {
    "cranfield": {"cran.all.1400": "docs.txt", "cran.qry": "queries.txt", "cranqrel": "qrels.txt"},
}


class _QueryRecord(Protocol):
    @property
    def query_id(self) -> str: ...


class _QrelRecord(Protocol):
    @property
    def query_id(self) -> str: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def relevance(self) -> int: ...


class _DocRecord(Protocol):
    @property
    def doc_id(self) -> str: ...


class IrdsCollection(Protocol):
    """What is read of an ir_datasets dataset: ir_datasets' own, or the package's :class:`EmbeddedCollection`.

    Its records are ir_datasets' namedtuples, whose text fields differ from dataset to dataset.
    """

    def has_docs(self) -> bool: ...
    def has_queries(self) -> bool: ...
    def has_qrels(self) -> bool: ...
    def docs_iter(self) -> Iterable[_DocRecord]: ...
    def queries_iter(self) -> Iterable[_QueryRecord]: ...
    def qrels_iter(self) -> Iterable[_QrelRecord]: ...


@runtime_checkable
class _DefaultText(Protocol):
    """ir_datasets' records that say which of their fields is the text (ir_datasets 0.5.5+)."""

    def default_text(self) -> str: ...


def irds_home() -> Path:
    return Path(os.environ.get("IR_DATASETS_HOME") or os.path.expanduser("~/.ir_datasets"))


def import_irds(dataset_id: str, source: str | os.PathLike[str]) -> list[Path]:
    """Copy a downloaded collection into ir_datasets' cache so ``ir_datasets.load`` works offline."""
    if dataset_id not in IMPORTABLE:
        raise ReasonRankError(f"don't know ir_datasets' cache layout for {dataset_id!r}; importable: "
                              f"{', '.join(IMPORTABLE)}")
    source = Path(source)
    target = irds_home() / dataset_id
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for ours, theirs in IMPORTABLE[dataset_id].items():
        if not (source / ours).is_file():
            raise ReasonRankError(f"{source / ours} is missing; {dataset_id} needs {', '.join(IMPORTABLE[dataset_id])}")
        shutil.copyfile(source / ours, target / theirs)
        copied.append(target / theirs)
    return copied


def is_irds_id(name: str) -> bool:
    from reasonrank_ir.data.embedded import EMBEDDED

    if name in EMBEDDED:  # known without importing ir_datasets (which creates folders in its home)
        return True
    import ir_datasets

    return name in ir_datasets.registry


def irds_ids() -> list[str]:
    import ir_datasets

    return list(ir_datasets.registry)


def _text_of(record: object) -> str:
    if isinstance(record, _DefaultText):
        return record.default_text()
    text: str = getattr(record, "text", "")  # an older ir_datasets record: its fields vary by dataset
    return text


def irds_cached(dataset_id: str) -> bool:
    """Whether ir_datasets' cache already holds the files of an importable collection."""
    return all((irds_home() / dataset_id / name).is_file() for name in IMPORTABLE.get(dataset_id, {}).values())


class IrDatasetsDataset(BaseDataset):
    @cached_property
    def _irds(self) -> IrdsCollection:
        """ir_datasets' copy where it is cached; else the package's own copy of the same files, if any."""
        from reasonrank_ir.data.embedded import EMBEDDED, EmbeddedCollection

        if self.name in EMBEDDED and not irds_cached(self.name):
            return EmbeddedCollection(self.name)
        import ir_datasets

        collection: IrdsCollection = ir_datasets.load(self.name)
        return collection

    def _own_topics(self) -> dict[str, Query] | None:
        if not self._irds.has_queries():
            return None
        try:
            return {q.query_id: Query(q.query_id, " ".join(_text_of(q).split())) for q in self._irds.queries_iter()}
        except Exception as error:  # ir_datasets raises many types when a download is impossible
            raise _offline_error(self.name, error) from None

    def _own_qrels(self) -> Qrels | None:
        if not self._irds.has_qrels():
            return None
        qrels: Qrels = {}
        try:
            for qrel in self._irds.qrels_iter():
                qrels.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
        except Exception as error:
            raise _offline_error(self.name, error) from None
        return qrels

    def index_path(self) -> str:
        # Splits share their corpus' index: beir/scifact/test and beir/scifact/train -> indexes/beir-scifact
        path = indexes_home() / self._corpus_id().replace("/", "-")
        if not is_lucene_index(path):
            if not self._irds.has_docs():
                raise ReasonRankError(f"{self.name} has no documents to index; use its parent corpus id")
            try:
                build_index(self._records(), path)
            except ReasonRankError:
                raise
            except Exception as error:
                raise _offline_error(self.name, error) from None
        return str(path)

    def _corpus_id(self) -> str:
        from reasonrank_ir.data.embedded import EMBEDDED

        if self.name in EMBEDDED:
            return self.name
        import ir_datasets

        parent: str = ir_datasets.docs_parent_id(self.name)
        return parent

    def _records(self) -> Iterator[dict[str, str]]:
        total = self._irds.docs_count() if hasattr(self._irds, "docs_count") else None  # not every docs handler counts
        for doc in tqdm(self._irds.docs_iter(), total=total, desc=f"indexing {self.name}", unit="doc"):
            title = " ".join(getattr(doc, "title", "").split())  # fields vary by dataset (see IrdsCollection)
            text: str | None = getattr(doc, "text", None)
            text = text if text is not None else _text_of(doc)
            yield {"id": doc.doc_id, "contents": f"{title}\n{text}".strip(), "title": title, "text": text}


def _offline_error(name: str, error: Exception) -> ReasonRankError:
    hint = (f"copy its files with `python -m reasonrank_ir.data import {name} DIR`"
            if name in IMPORTABLE
            else f"download it where the internet is reachable and copy {irds_home() / name.split('/')[0]} here")
    return ReasonRankError(f"ir_datasets could not provide {name} ({type(error).__name__}: "
                           f"{str(error).splitlines()[0][:120] if str(error) else 'no detail'}); {hint}")
