"""The registry: which dataset a name means, building it, and topics or qrels by file or name."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from reasonrank_ir.data.base import Dataset
from reasonrank_ir.data.bright import NAMES as BRIGHT_NAMES
from reasonrank_ir.data.bright import BrightDataset, canonical_name, hub_name
from reasonrank_ir.data.irds import IrDatasetsDataset, irds_ids, is_irds_id
from reasonrank_ir.data.local import LocalCorpusDataset, LocalIndexDataset
from reasonrank_ir.data.prebuilt import PrebuiltDataset
from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.io.names import looks_like_path
from reasonrank_ir.io.topics import read_topics
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.storage.lucene import is_lucene_index
from reasonrank_ir.storage.prebuilt import is_prebuilt_index, prebuilt_index_names, pyserini_qrels, pyserini_topics
from reasonrank_ir.types import Qrels, Query

_KINDS = {"bright": BrightDataset, "index": LocalIndexDataset, "corpus": LocalCorpusDataset,
          "irds": IrDatasetsDataset, "prebuilt": PrebuiltDataset}


@dataclass(frozen=True)
class DatasetRef:
    """What a name means to the registry, found without building, downloading or reading anything."""

    kind: str
    """``bright``, ``index`` (a Lucene index folder), ``corpus`` (a folder of documents), ``irds`` or ``prebuilt``."""
    name: str
    """The canonical spelling: ``bright-earth-science`` for ``earth_science``; ids and paths as given."""

    @property
    def label(self) -> str:
        """A short column name: BRIGHT's hub spelling (``earth_science``), a folder's name, else the name."""
        if self.kind == "bright":
            return hub_name(self.name)
        return Path(self.name).name if self.kind in ("index", "corpus") else self.name


def resolve(name: str) -> DatasetRef:
    """Which kind of dataset ``name`` is, in the order ``load`` tries them; one-line error when none."""
    if not name.strip():  # Path('') is the current folder
        raise ReasonRankError(f"empty index or dataset name {name!r}; give a name or a folder")
    bright = canonical_name(name)
    if bright:
        return DatasetRef("bright", bright)
    if Path(name).is_dir():
        return DatasetRef("index" if is_lucene_index(name) else "corpus", name)
    if is_irds_id(name):
        return DatasetRef("irds", name)
    if looks_like_path(name) or "/" in name:  # a path, not a Pyserini name
        raise ReasonRankError(unknown("index or dataset", name, irds_ids(), listed=False,
                                      hint="no such folder, and not an ir_datasets id"))
    if is_prebuilt_index(name):
        return DatasetRef("prebuilt", name)
    known = dict.fromkeys([*BRIGHT_NAMES, *irds_ids(), *prebuilt_index_names()])
    raise ReasonRankError(unknown("index or dataset", name, known, listed=False,
                                  hint="not a BRIGHT name, an ir_datasets id, a Pyserini prebuilt index, or a folder"))


def load(name: str, topics: str | None = None, qrels: str | None = None) -> Dataset:
    """Resolve a dataset name or path; ``topics``/``qrels`` (files or names) override its own."""
    ref = resolve(name)
    return _KINDS[ref.kind](ref.name, partial(resolve_topics, topics) if topics else None,
                            partial(resolve_qrels, qrels) if qrels else None)


def resolve_topics(source: str) -> dict[str, Query]:
    """A topics file, the topics of a dataset name, or a Pyserini topics name (``dl19-passage``)."""
    if Path(source).is_file():
        return read_topics(source)
    dataset = dataset_or_none(source)
    if dataset is None:
        return pyserini_topics(source)
    return dataset.topics()


def resolve_qrels(source: str) -> Qrels:
    """A qrels file, the judgments of a dataset name, or a Pyserini qrels name (``dl19-passage``)."""
    qrels: Qrels | None
    if Path(source).is_file():
        qrels = read_qrels(source)
        if not any(qrels.values()):
            raise ReasonRankError(f"{source}: no judgments in the file; expected 'qid 0 docid relevance' lines")
        return qrels
    dataset = dataset_or_none(source)
    if dataset is None:
        return pyserini_qrels(source)
    qrels = dataset.qrels()
    if qrels is None:
        raise ReasonRankError(f"{source} has no relevance judgments; pass --qrels FILE")
    return qrels


def dataset_or_none(name: str) -> Dataset | None:
    """The registry's dataset for ``name`` when it is one with its own topics (not a bare prebuilt index)."""
    if looks_like_path(name) and not Path(name).exists():
        raise ReasonRankError(f"{name}: no such file or folder")
    try:
        ref = resolve(name)
    except ReasonRankError:
        return None
    return None if ref.kind == "prebuilt" else _KINDS[ref.kind](ref.name)
