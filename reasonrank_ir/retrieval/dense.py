"""Dense first stage: searching a FAISS index with Pyserini's ``FaissSearcher``.

The ``--dense`` settings, and which index and query encoder they mean, are ``dense_index``'s job; the index files are
``storage.faiss``'s and the models ``encoders``'. faiss and torch are imported only when searching.
"""
from __future__ import annotations

from collections.abc import Iterable

from reasonrank_ir.batching import batched
from reasonrank_ir.data import Dataset
from reasonrank_ir.retrieval.dense_index import DenseSettings as DenseSettings  # re-exported: this stage's settings
from reasonrank_ir.retrieval.dense_index import prebuilt_name, resolve_dense_index
from reasonrank_ir.retrieval.encoders import PREBUILT_ENCODERS, QueryEncoder
from reasonrank_ir.storage.faiss import faiss_device, require_faiss
from reasonrank_ir.types import Candidate, Query, Ranking, Run


class DenseRetriever:
    """``DenseRetriever(index_dir, query_encoder).retrieve(queries, k)`` through Pyserini's FaissSearcher."""

    def __init__(self, index_dir: str, query_encoder: QueryEncoder, name: str = "dense", threads: int = 1,
                 batch_size: int = 32):
        from reasonrank_ir.java import import_pyserini

        require_faiss()
        faiss_search = import_pyserini("pyserini.search.faiss")
        self.searcher = faiss_search.FaissSearcher(index_dir, query_encoder, faiss_device=faiss_device())
        self.name = name
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self.original_queries = False
        """Whether the index's regression encodes BRIGHT's original query text (see PrebuiltEncoder)."""

    @classmethod
    def for_dataset(cls, dataset: Dataset, settings: DenseSettings) -> DenseRetriever:
        index_dir, encoder = resolve_dense_index(dataset, settings)
        retriever = cls(index_dir, encoder, settings.name, settings.threads, settings.batch_size)
        prebuilt = prebuilt_name(dataset, settings)
        retriever.original_queries = bool(prebuilt and PREBUILT_ENCODERS[prebuilt.split(".", 1)[1]].original_queries)
        return retriever

    def retrieve(self, queries: Iterable[Query], k: int, progress: bool = False) -> Run:
        from tqdm.auto import tqdm

        queries = list(queries)
        run = Run(name=self.name)
        batches = batched(queries, self.batch_size)
        for batch in tqdm(batches, total=-(-len(queries) // self.batch_size), desc="dense", unit="batch",
                          disable=not progress):
            hits = self.searcher.batch_search([q.text for q in batch], [q.query_id for q in batch], k=k,
                                              threads=self.threads)
            for query in batch:
                run.add(Ranking(query, tuple(Candidate(h.docid.strip(), float(h.score))
                                             for h in hits.get(query.query_id, []))))
        return run
