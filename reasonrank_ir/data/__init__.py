"""The dataset registry: one name gives topics, qrels, an index and passages by id.

    >>> ds = load("bright-biology")          # Pyserini's names (underscore hub names work too)
    >>> ds = load("cranfield")               # any ir_datasets id, indexed on first use
    >>> ds = load("path/to/lucene-index", topics="topics.tsv", qrels="qrels.txt")
    >>> ds = load("../shared/data/collections/vaswani")   # a folder of JSONL or TREC documents
    >>> ds = load("msmarco-v1-passage", topics="dl19-passage", qrels="dl19-passage")  # Pyserini's names
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reasonrank_ir.data.base import Dataset
from reasonrank_ir.data.bright import NAMES as BRIGHT_NAMES
from reasonrank_ir.data.bright import BrightDataset, canonical_name, hub_name, import_bright
from reasonrank_ir.data.irds import IrDatasetsDataset, import_irds, irds_ids, is_irds_id
from reasonrank_ir.data.local import LocalCorpusDataset, LocalIndexDataset
from reasonrank_ir.errors import ReasonRankError, close_matches

__all__ = ["BRIGHT_NAMES", "Dataset", "DatasetRef", "import_bright", "import_irds", "load", "resolve"]


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
    from reasonrank_ir.retrieval.lucene import is_lucene_index

    bright = canonical_name(name)
    if bright:
        return DatasetRef("bright", bright)
    if Path(name).is_dir():
        return DatasetRef("index" if is_lucene_index(name) else "corpus", name)
    if is_irds_id(name):
        return DatasetRef("irds", name)
    if name.startswith((".", "/", "~")) or "/" in name:  # a path, not a Pyserini name
        raise ReasonRankError(f"unknown index or dataset {name!r}: no such folder, and not an ir_datasets id."
                              f"{close_matches(name, irds_ids())}")
    from reasonrank_ir.data.prebuilt import is_prebuilt_index, prebuilt_index_names

    if is_prebuilt_index(name):
        return DatasetRef("prebuilt", name)
    known = dict.fromkeys([*BRIGHT_NAMES, *irds_ids(), *prebuilt_index_names()])
    raise ReasonRankError(
        f"unknown index or dataset {name!r}: not a BRIGHT name, an ir_datasets id, a Pyserini prebuilt index, "
        f"or a folder.{close_matches(name, known)}")


def load(name: str, topics: str | None = None, qrels: str | None = None) -> Dataset:
    """Resolve a dataset name or path; ``topics``/``qrels`` (files or names) override its own."""
    ref = resolve(name)
    if ref.kind == "prebuilt":
        from reasonrank_ir.data.prebuilt import PrebuiltDataset

        return PrebuiltDataset(ref.name, topics, qrels)
    kinds = {"bright": BrightDataset, "index": LocalIndexDataset, "corpus": LocalCorpusDataset,
             "irds": IrDatasetsDataset}
    return kinds[ref.kind](ref.name, topics, qrels)
