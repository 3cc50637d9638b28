"""``--dense`` settings and the dense index (with its query encoder) they mean for a dataset.

Two kinds of index:

* Pyserini's prebuilt BRIGHT indexes (``bright-biology.bge-large-en-v1.5``, ``.diver-retriever-4b``,
  ``.reason-embed-qwen3-4b-0928``), searched with the query encoders of Pyserini's regressions;
* local indexes of any registry dataset, built with a sentence-transformers model into
  ``indexes/<lucene-index>.<encoder>/``, beside the dataset's Lucene index.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.homes import indexes_home
from reasonrank_ir.io.names import slug
from reasonrank_ir.retrieval.encoders import (PREBUILT_ENCODERS, QueryEncoder, SentenceTransformerDocumentEncoder,
                                              SentenceTransformerQueryEncoder, encoder_slug, prebuilt_query_encoder,
                                              resolve_encoder)
from reasonrank_ir.storage.faiss import (METADATA, build_dense_index, dense_index_names, is_dense_index,
                                         prebuilt_dense_dir, read_info, require_faiss)


@dataclass(frozen=True)
class DenseSettings:
    """``--dense``: which FAISS index and which query encoder."""

    index: str | None = None
    """A Pyserini prebuilt name (``bright-biology.bge-large-en-v1.5`` or just ``bge-large-en-v1.5``),
    a local dense index folder, or None for the local index of ``encoder``."""
    encoder: str | None = None
    batch_size: int = 32
    device: str | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        for flag, value in (("--threads", self.threads), ("--batch-size", self.batch_size)):
            if value < 1:
                raise ReasonRankError(f"{flag} must be at least 1, found {value}")

    @property
    def name(self) -> str:
        family = next((f for f in PREBUILT_ENCODERS if self.index and self.index.endswith(f)), None)
        if family:
            return f"dense-{family}"
        if self.index:
            return f"dense-{slug(Path(self.index).resolve().name).lower()}"
        return f"dense-{encoder_slug(self.encoder)}" if self.encoder else "dense"


def prebuilt_dense_names() -> list[str]:
    """Pyserini's FAISS index names for BRIGHT whose query encoding we know."""
    from reasonrank_ir.data.bright import NAMES

    return [f"{name}.{family}" for name in NAMES for family in PREBUILT_ENCODERS]


def local_dense_index_path(dataset: Dataset, encoder: str) -> Path:
    """``indexes/<lucene index folder>.<encoder>``: the dense index beside the dataset's Lucene index."""
    return indexes_home() / f"{Path(dataset.index_path()).name}.{encoder_slug(encoder)}"


def document_text(record: Mapping[str, Any]) -> str:
    """What a document's vector encodes: Pyserini's ``contents`` (title and text), else title + text."""
    if record.get("contents"):
        return str(record["contents"])
    title = record.get("title") or ""
    text = next((record[k] for k in ("text", "segment", "body", "passage") if record.get(k)), "")
    return f"{title}\n{text}".strip()


def build_for_dataset(dataset: Dataset, encoder: str, batch_size: int = 32, device: str | None = None,
                      max_length: int | None = None, progress: bool = True) -> Path:
    """Encode every document of a registry dataset (read back from its Lucene index).

    ``max_length`` (tokens) overrides the model's own truncation of documents.
    """
    lucene = dataset.index()
    target = local_dense_index_path(dataset, encoder)
    require_faiss()  # before the model loads, which may take minutes
    model = SentenceTransformerDocumentEncoder(encoder, device, batch_size, max_length)

    def pairs() -> Iterator[tuple[str, str]]:
        for doc_id in lucene:
            yield doc_id, document_text(lucene.doc(doc_id) or {})

    return build_dense_index(pairs(), target, model.encode, model.dimension, encoder, model.normalize,
                             {"max_length": model.max_length}, total=lucene.num_docs, progress=progress)


def prebuilt_name(dataset: Dataset, settings: DenseSettings) -> str | None:
    """The Pyserini BRIGHT dense index ``--dense-index`` names (``bge-large-en-v1.5`` -> ``bright-biology.bge-...``)."""
    name = settings.index
    if not name or Path(name).is_dir():
        return None
    name = f"{dataset.name}.{name}" if f"{dataset.name}.{name}" in prebuilt_dense_names() else name
    return name if name in prebuilt_dense_names() else None


def resolve_dense_index(dataset: Dataset, settings: DenseSettings) -> tuple[str, QueryEncoder]:
    """(index folder, query encoder) for a dataset and ``--dense`` settings; builds a missing local index."""
    known = prebuilt_dense_names()
    name = prebuilt_name(dataset, settings) or settings.index
    if name and name in known:
        subset, family = name.removeprefix("bright-").split(".", 1)
        if settings.encoder and not Path(settings.encoder).is_dir() \
                and settings.encoder != PREBUILT_ENCODERS[family].encoder:
            raise ReasonRankError(f"{name} was encoded with {PREBUILT_ENCODERS[family].encoder}: drop --encoder "
                                  f"{settings.encoder}, or give a local folder holding that model")
        return prebuilt_dense_dir(name), prebuilt_query_encoder(family, subset, settings.device, settings.encoder)
    if name and not Path(name).is_dir():
        local = dense_index_names(indexes_home())
        prebuilts = ", ".join(n for n in known if n.startswith(dataset.name)) or ", ".join(PREBUILT_ENCODERS)
        build = "none (build one with python -m reasonrank_ir.index --dense --encoder MODEL)"
        raise ReasonRankError(unknown("dense index", name, known + local, listed=False,
                                      hint=f"prebuilt: {prebuilts}; local: {', '.join(local) or build}"))
    if name:
        index_dir = Path(name)
        if not is_dense_index(index_dir):
            raise ReasonRankError(f"{index_dir} is not a dense index: expected Pyserini's 'index' and 'docid' files")
    elif settings.encoder:
        resolve_encoder(settings.encoder)  # an unknown model fails before any index is touched
        index_dir = local_dense_index_path(dataset, settings.encoder)
        if not is_dense_index(index_dir):
            build_for_dataset(dataset, settings.encoder, settings.batch_size, settings.device)
    else:
        prebuilt = [n for n in known if n.startswith(f"{dataset.name}.")]
        raise ReasonRankError(
            f"--dense needs --encoder MODEL (a local index is built with it) or --dense-index NAME"
            f"{'; prebuilt for ' + dataset.name + ': ' + ', '.join(prebuilt) if prebuilt else ''}")
    info = read_info(index_dir)
    encoder = settings.encoder or (info.encoder if info else None)
    if encoder is None:
        raise ReasonRankError(f"{index_dir} does not say which model encoded it (no {METADATA}): pass --encoder")
    normalized = info.normalized if info else True
    return str(index_dir), SentenceTransformerQueryEncoder(encoder, normalized, settings.device, settings.batch_size)
