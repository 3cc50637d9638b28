"""Index access through Pyserini: Lucene indexes, Pyserini's prebuilt tables, FAISS dense indexes."""
