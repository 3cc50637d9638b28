"""First stages over Pyserini: Lucene indexes, BM25, and (in sibling modules) dense and fusion."""
