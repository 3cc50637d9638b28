"""The dataset registry: one name gives topics, qrels, an index and passages by id.

    >>> ds = load("bright-biology")          # Pyserini's names (underscore hub names work too)
    >>> ds = load("cranfield")               # any ir_datasets id, indexed on first use
    >>> ds = load("path/to/lucene-index", topics="topics.tsv", qrels="qrels.txt")
    >>> ds = load("../shared/data/collections/vaswani")   # a folder of JSONL or TREC documents
    >>> ds = load("msmarco-v1-passage", topics="dl19-passage", qrels="dl19-passage")  # Pyserini's names
"""
from __future__ import annotations

from pathlib import Path

from reasonrank_ir.data.base import Dataset
from reasonrank_ir.data.bright import NAMES as BRIGHT_NAMES
from reasonrank_ir.data.bright import BrightDataset, canonical_name, import_bright
from reasonrank_ir.data.irds import IrDatasetsDataset, import_irds, irds_ids, is_irds_id
from reasonrank_ir.data.local import LocalCorpusDataset, LocalIndexDataset
from reasonrank_ir.errors import ReasonRankError, close_matches

__all__ = ["BRIGHT_NAMES", "Dataset", "import_bright", "import_irds", "load"]


def load(name: str, topics: str | None = None, qrels: str | None = None) -> Dataset:
    """Resolve a dataset name or path; ``topics``/``qrels`` (files or names) override its own."""
    from reasonrank_ir.retrieval.lucene import is_lucene_index

    bright = canonical_name(name)
    if bright:
        return BrightDataset(bright, topics, qrels)
    if Path(name).is_dir():
        if is_lucene_index(name):
            return LocalIndexDataset(name, topics, qrels)
        return LocalCorpusDataset(name, topics, qrels)
    if is_irds_id(name):
        return IrDatasetsDataset(name, topics, qrels)
    if name.startswith((".", "/", "~")) or "/" in name:  # a path, not a Pyserini name
        raise ReasonRankError(f"unknown index or dataset {name!r}: no such folder, and not an ir_datasets id."
                              f"{close_matches(name, irds_ids())}")
    from reasonrank_ir.data.prebuilt import PrebuiltDataset, is_prebuilt_index, prebuilt_index_names

    if is_prebuilt_index(name):
        return PrebuiltDataset(name, topics, qrels)
    known = dict.fromkeys([*BRIGHT_NAMES, *irds_ids(), *prebuilt_index_names()])
    raise ReasonRankError(
        f"unknown index or dataset {name!r}: not a BRIGHT name, an ir_datasets id, a Pyserini prebuilt index, "
        f"or a folder.{close_matches(name, known)}")
