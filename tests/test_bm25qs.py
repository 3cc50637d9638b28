"""Query-side BM25 through the package equals Pyserini's own ``--bm25qs`` run on a local index."""
from __future__ import annotations

import pytest
from conftest import pyserini_cli

from reasonrank_ir.io.trec import read_run

pytestmark = [pytest.mark.pyserini, pytest.mark.slow]  # Pyserini CLI parity


def test_bm25qs_equals_pyserini_cli(cranfield, tmp_path):
    from reasonrank_ir import pipeline
    from reasonrank_ir.retrieval.bm25 import BM25Settings

    topics = dict(list(cranfield.topics().items())[:40])
    topics_file = tmp_path / "topics.tsv"
    topics_file.write_text("".join(f"{q.query_id}\t{q.text}\n" for q in topics.values()), encoding="utf-8")
    output = tmp_path / "pyserini.bm25qs.txt"
    result = pyserini_cli("pyserini.search.lucene", "--index", cranfield.index_path(), "--topics", str(topics_file),
                          "--output", str(output), "--hits", "100", "--bm25qs")
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = read_run(output)

    stage = pipeline.FirstStage(hits=100, bm25=BM25Settings(query_side=True))
    ours = pipeline.retrieve(cranfield, topics, stage)
    plain = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=100))
    assert ours.name == "bm25qs"
    assert list(ours.rankings) == list(theirs.rankings) == list(topics)
    differs_from_bm25 = 0
    for query_id, ranking in ours.rankings.items():
        assert [c.doc_id for c in ranking.candidates] == [c.doc_id for c in theirs[query_id].candidates], query_id
        assert [c.score for c in ranking.candidates] == \
            pytest.approx([c.score for c in theirs[query_id].candidates], abs=1e-5)  # Pyserini writes 6 decimals
        differs_from_bm25 += [c.doc_id for c in ranking.candidates] != [c.doc_id for c in plain[query_id].candidates]
    assert differs_from_bm25 > len(topics) // 2  # BM25Q really is another ranking function
