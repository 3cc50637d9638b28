"""FAISS indexes in Pyserini's layout: their files, building one from encoded documents, fetching a prebuilt one.

A dense index folder holds Pyserini's ``index`` (FAISS) and ``docid`` files; those built here add
``encoder.json`` saying which model wrote the vectors, so a search needs no ``--encoder``. Which
model encodes the texts is the caller's business: this module only stores vectors.

faiss is imported only when an index is built or searched.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from reasonrank_ir.batching import batched
from reasonrank_ir.errors import ReasonRankError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

METADATA = "encoder.json"
DENSE_EXTRA = ("pip install 'reasonrank-ir[dense]' (faiss-cpu, sentence-transformers), "
               "or 'reasonrank-ir[gpu]' for faiss-gpu")


def require_faiss() -> ModuleType:
    """The faiss module, or one line naming the extra that installs it."""
    try:
        import faiss
    except ImportError:
        raise ReasonRankError(f"dense retrieval needs faiss: {DENSE_EXTRA}") from None
    return faiss


def faiss_device() -> str:
    """Where FaissSearcher should search: the first GPU when faiss-gpu sees one, else the CPU."""
    faiss = require_faiss()
    has_gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    return "cuda:0" if has_gpu else "cpu"


@dataclass(frozen=True)
class DenseIndexInfo:
    """What ``encoder.json`` records: enough to encode queries like the documents were encoded."""

    encoder: str
    dimension: int
    documents: int
    normalized: bool
    extra: dict[str, Any] = field(default_factory=dict)


def read_info(index_dir: str | os.PathLike[str]) -> DenseIndexInfo | None:
    path = Path(index_dir) / METADATA
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return DenseIndexInfo(data["encoder"], data["dimension"], data["documents"], data["normalized"],
                          data.get("extra", {}))


def is_dense_index(path: str | os.PathLike[str]) -> bool:
    path = Path(path)
    return (path / "index").is_file() and (path / "docid").is_file()


def dense_index_names(folder: str | os.PathLike[str]) -> list[str]:
    """The dense indexes directly inside ``folder``, by folder name."""
    folder = Path(folder)
    return sorted(p.name for p in folder.iterdir() if is_dense_index(p)) if folder.is_dir() else []


def build_dense_index(documents: Iterable[tuple[str, str]], index_dir: str | os.PathLike[str],
                      encode: Callable[[list[str]], NDArray[np.float32]], dimension: int, encoder: str,
                      normalized: bool, extra: Mapping[str, Any] | None = None, chunk: int = 4096,
                      total: int | None = None,
                      progress: bool = True) -> Path:
    """Store ``(doc_id, text)`` pairs, ``encode``-d to float32 vectors, as a flat inner-product FAISS index.

    Documents are encoded ``chunk`` at a time into one index written in a scratch folder and
    renamed at the end, so an interrupted build never leaves a half index behind. ``encoder``,
    ``normalized`` and ``extra`` go to ``encoder.json`` for whoever searches the index.
    """
    from tqdm.auto import tqdm

    faiss = require_faiss()
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    index = faiss.IndexFlatIP(dimension)
    with tempfile.TemporaryDirectory(dir=index_dir.parent, prefix=f".{index_dir.name}-") as scratch:
        staging = Path(scratch) / "index-dir"
        staging.mkdir()
        count = 0
        bar = tqdm(total=total, desc=f"encoding {index_dir.name}", unit="doc", disable=not progress)
        with open(staging / "docid", "w", encoding="utf-8") as ids:
            for batch in batched(documents, chunk):
                index.add(encode([text for _, text in batch]))
                ids.writelines(f"{doc_id}\n" for doc_id, _ in batch)
                count += len(batch)
                bar.update(len(batch))
        bar.close()
        if not count:
            raise ReasonRankError(f"nothing to encode for {index_dir}: the corpus has no documents")
        faiss.write_index(index, str(staging / "index"))
        info = {"encoder": encoder, "dimension": dimension, "documents": count, "normalized": normalized,
                "extra": {"faiss": "IndexFlatIP", **(extra or {})}}
        (staging / METADATA).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if index_dir.exists():
            shutil.rmtree(index_dir)
        staging.rename(index_dir)
    return index_dir


def prebuilt_dense_dir(name: str) -> str:
    """The unpacked prebuilt FAISS index ``name`` of Pyserini's table, downloaded where the network allows."""
    from reasonrank_ir.java import import_pyserini
    from reasonrank_ir.storage.prebuilt import download_prebuilt

    import_pyserini("pyserini.search.lucene")
    from pyserini.prebuilt_index_info import FAISS_INDEX_INFO

    return download_prebuilt(name, FAISS_INDEX_INFO[name], "dense index", "its 'index' and 'docid' files",
                             "--dense-index")
