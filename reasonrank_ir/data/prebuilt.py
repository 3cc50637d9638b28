"""Any Pyserini prebuilt Lucene index (``msmarco-v1-passage``, ``beir-v1.0.0-scifact.flat``) as a dataset.

Its topics and qrels come from ``--topics``/``--qrels`` (files, dataset names or Pyserini's names).
"""
from __future__ import annotations

from reasonrank_ir.data.base import BaseDataset


class PrebuiltDataset(BaseDataset):
    """A Pyserini prebuilt index; topics and qrels come from ``--topics``/``--qrels``."""

    def index_path(self) -> str:
        from reasonrank_ir.storage.prebuilt import prebuilt_index_path

        return prebuilt_index_path(self.name)
