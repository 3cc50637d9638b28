"""Datasets by name: one name gives topics, qrels, an index and passages by id (see ``registry``).

    >>> ds = load("bright-biology")          # Pyserini's names (underscore hub names work too)
    >>> ds = load("cranfield")               # any ir_datasets id, indexed on first use
    >>> ds = load("path/to/lucene-index", topics="topics.tsv", qrels="qrels.txt")
    >>> ds = load("../shared/data/collections/vaswani")   # a folder of JSONL or TREC documents
    >>> ds = load("msmarco-v1-passage", topics="dl19-passage", qrels="dl19-passage")  # Pyserini's names
"""
from __future__ import annotations

from reasonrank_ir.data.base import BaseDataset, Dataset
from reasonrank_ir.data.bright import NAMES as BRIGHT_NAMES
from reasonrank_ir.data.bright import import_bright
from reasonrank_ir.data.irds import import_irds
from reasonrank_ir.data.registry import DatasetRef, dataset_or_none, load, resolve, resolve_qrels, resolve_topics

__all__ = ["BRIGHT_NAMES", "BaseDataset", "Dataset", "DatasetRef", "dataset_or_none", "import_bright", "import_irds",
           "load", "resolve", "resolve_qrels", "resolve_topics"]
