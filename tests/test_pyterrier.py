"""ReasonRank rerankers as PyTerrier transformers, over hand-built result frames (no JVM)."""
from __future__ import annotations

import pickle

import ir_measures
import pandas as pd
import pytest
from ir_measures import nDCG

pt = pytest.importorskip("pyterrier")

from reasonrank_ir.backends.base import Generation, Sampling
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.integrations.pyterrier import ReasonRankTransformer
from reasonrank_ir.rerank import RerankConfig, Reranker

QRELS = {"q1": {"d5": 2, "d2": 1, "d6": 1}, "q2": {"e6": 1}}
ORACLE = RerankConfig(depth=6, window=3, step=3)  # windows [3, 6) then [0, 3)
ORACLE_ORDER = {"q1": ["d2", "d1", "d3", "d5", "d6", "d4"], "q2": ["e1", "e2", "e3", "e6", "e4", "e5"]}
"""q1: [d4 d5 d6] -> d5 d6 d4, then [d1 d2 d3] -> d2 d1 d3 (d5 cannot climb past its window); q2 likewise."""


def results() -> pd.DataFrame:
    """Two queries x six docs, rows deliberately out of score order and interleaved."""
    rows = [("q1", "heat transfer in boundary layers", f"d{i}", 7.0 - i) for i in range(1, 7)]
    rows += [("q2", "supersonic flow over wedges", f"e{i}", 1.0 - i / 10) for i in range(1, 7)]
    order = [5, 11, 0, 3, 7, 9, 1, 4, 2, 10, 6, 8]
    frame = pd.DataFrame([rows[i] for i in order], columns=["qid", "query", "docno", "score"])
    frame["rank"] = 99  # stale ranks must be replaced
    frame["text"] = [f"passage {d} about {q}" for d, q in zip(frame["docno"], frame["query"])]
    frame["extra"] = frame["qid"] + ":" + frame["docno"]
    return frame


def test_oracle_reranks_each_window_in_pyterrier_convention():
    rerank = ReasonRankTransformer(Reranker.from_name("oracle", qrels=QRELS, config=ORACLE))
    assert isinstance(rerank, ReasonRankTransformer) and isinstance(rerank, pt.Transformer)
    assert "ReasonRankTransformer" in repr(rerank)
    out = rerank(results())
    assert out["docno"].tolist() == ORACLE_ORDER["q1"] + ORACLE_ORDER["q2"]
    assert out["qid"].tolist() == ["q1"] * 6 + ["q2"] * 6
    assert out["rank"].tolist() == list(range(6)) * 2
    assert out["score"].tolist() == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0] * 2
    assert (out["extra"] == out["qid"] + ":" + out["docno"]).all()  # other columns follow their row
    assert set(out.columns) == {"qid", "query", "docno", "score", "rank", "text", "extra"}
    empty = rerank(results().iloc[:0])
    assert empty.empty and {"qid", "docno", "score", "rank"} <= set(empty.columns)


def test_in_a_pipeline_with_experiment():
    frame = results().drop(columns=["query"])
    frame["rank"] = frame.groupby("qid")["score"].rank(ascending=False).astype(int) - 1
    first = pt.Transformer.from_df(frame)
    rerank = ReasonRankTransformer(Reranker.from_name("oracle", qrels=QRELS, config=ORACLE))
    topics = pd.DataFrame({"qid": ["q1", "q2"], "query": ["heat transfer", "supersonic flow"]})
    qrels = pd.DataFrame([(q, d, r) for q, docs in QRELS.items() for d, r in docs.items()],
                         columns=["qid", "docno", "label"])
    top5 = (first % 5 >> rerank)(topics)  # only the first stage's top 5 reach the reranker: [2, 5), [0, 2)
    assert top5[top5["qid"] == "q1"]["docno"].tolist() == ["d2", "d1", "d5", "d3", "d4"]
    assert top5[top5["qid"] == "q2"]["docno"].tolist() == ["e1", "e2", "e3", "e4", "e5"]
    assert top5["query"].tolist()[:1] == ["heat transfer"]  # the topic's query text reaches the results
    table = pt.Experiment([first, first >> rerank], topics, qrels, eval_metrics=["ndcg_cut_10"],
                          names=["first", "oracle"], plan="tree", verbose=False)
    scores = dict(zip(table["name"], table["ndcg_cut_10"]))
    expected = {q: {d: 6.0 - i for i, d in enumerate(docs)} for q, docs in ORACLE_ORDER.items()}
    assert scores["oracle"] == pytest.approx(ir_measures.calc_aggregate([nDCG @ 10], QRELS, expected)[nDCG @ 10])
    assert scores["oracle"] > scores["first"]


def test_pickles_and_reranks_in_parallel_worker_processes():
    pytest.importorskip("pyterrier_alpha", reason=".parallel() needs pyterrier-alpha")
    rerank = ReasonRankTransformer(Reranker.from_name("oracle", qrels=QRELS, config=ORACLE), text_field="body",
                                   batch_size=1)
    copy = pickle.loads(pickle.dumps(rerank))
    assert type(copy) is ReasonRankTransformer
    assert (copy.text_field, copy.batch_size, copy.reranker.qrels, copy.reranker.config) == ("body", 1, QRELS, ORACLE)

    out = rerank.parallel(2)(results())  # joblib: the queries split over two worker processes
    for qid, order in ORACLE_ORDER.items():
        rows = out[out["qid"] == qid]
        assert rows["docno"].tolist() == order
        assert rows["rank"].tolist() == list(range(6)) and rows["score"].tolist() == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert rerank.reranker.summary.windows == 0  # every window ran on a worker's copy, none here


@pytest.mark.slow
def test_tiny_model_in_parallel_workers_matches_one_process(tiny_qwen2):
    pytest.importorskip("pyterrier_alpha", reason=".parallel() needs pyterrier-alpha")
    reranker = Reranker.from_name("reasonrank", model=str(tiny_qwen2), backend="hf", config=RerankConfig(
        depth=4, window=4, step=4, max_passage_tokens=20, sampling=Sampling(max_tokens=4)))
    rerank = ReasonRankTransformer(reranker, batch_size=1)  # one query per generate call, as in each worker
    alone = rerank(results())
    assert reranker.summary.windows == 2
    together = rerank.parallel(2)(results())
    assert reranker.summary.windows == 2  # the workers' windows ran on unpickled copies of the model
    for qid, prefix in (("q1", "d"), ("q2", "e")):
        mine, theirs = alone[alone["qid"] == qid], together[together["qid"] == qid]
        assert theirs["docno"].tolist() == mine["docno"].tolist() and theirs["score"].tolist() == mine["score"].tolist()
        assert sorted(theirs["docno"].iloc[:4]) == [f"{prefix}{i}" for i in range(1, 5)]  # the top 4 reordered


@pytest.mark.slow
def test_tiny_model_returns_a_permutation(tiny_qwen2):
    reranker = Reranker.from_name("reasonrank", model=str(tiny_qwen2), backend="hf", config=RerankConfig(
        depth=4, window=4, step=4, max_passage_tokens=20, sampling=Sampling(max_tokens=4)))
    frame = results()
    out = ReasonRankTransformer(reranker)(frame[frame["qid"] == "q1"])
    assert sorted(out["docno"][:4]) == ["d1", "d2", "d3", "d4"]  # the top 4 reordered among themselves
    assert out["docno"][4:].tolist() == ["d5", "d6"]  # the tail below the depth keeps its order
    assert out["rank"].tolist() == list(range(6)) and out["score"].is_monotonic_decreasing
    assert out["score"].nunique() == 6
    assert reranker.summary.windows == 1 and reranker.summary.prompt_tokens > 0


class ReversingBackend:
    """Answers every window with its passages reversed and keeps the prompts."""

    name = "reversing"

    def __init__(self):
        self.prompts = []

    def generate(self, prompts, sampling):
        self.prompts += [p.text for p in prompts]
        return [Generation("<think>.</think> <answer>" + " > ".join(f"[{i}]" for i in range(4, 0, -1)) + "</answer>",
                           prompt_tokens=1, output_tokens=1) for _ in prompts]


def test_passages_come_from_the_text_column(qwen_tokenizer):
    backend = ReversingBackend()
    reranker = Reranker.from_name("reasonrank", model="unused", backend=backend, tokenizer=qwen_tokenizer,
                                  config=RerankConfig(depth=4, window=4, step=4))
    frame = results()
    with pytest.raises(ReasonRankError, match=r"column 'text'.*add pt\.text\.get_text\(dataset, 'text'\) before it"):
        ReasonRankTransformer(reranker)(frame.drop(columns=["text"]))
    with pytest.raises(ReasonRankError, match=r"missing column\(s\) query \(found: qid, docno, score"):
        ReasonRankTransformer(reranker)(frame.drop(columns=["query"]))
    assert backend.prompts == []

    frame = frame.rename(columns={"text": "body"}).assign(title="T")
    out = ReasonRankTransformer(reranker, text_field="body")(frame[frame["qid"] == "q2"])
    assert out["docno"].tolist() == ["e4", "e3", "e2", "e1", "e5", "e6"]
    assert "[1] Title: T Content: passage e1 about supersonic flow over wedges" in backend.prompts[0]
    assert "Search Query: supersonic flow over wedges" in backend.prompts[0]
