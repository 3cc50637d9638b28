"""The oracle reranker on the ReasonIR first-stage run that ReasonRank's BRIGHT table reranks."""
from __future__ import annotations

import ir_measures
import pytest
from ir_measures import R, nDCG

from conftest import BRIGHT_DATA, BRIGHT_FIRST_STAGE
from reasonrank_ir.io.trec import read_qrels, read_run
from reasonrank_ir.rerank import OracleReranker, RerankConfig, Reranker
from reasonrank_ir.types import Candidate, Query, Ranking

pytestmark = pytest.mark.pyserini


@pytest.fixture(scope="module")
def biology():
    run = read_run(BRIGHT_FIRST_STAGE / "biology.reasonir-gpt4cot.top100.trec")
    return run, read_qrels(BRIGHT_DATA / "qrels.bright-biology.txt")


def ndcg10(qrels, run):
    return ir_measures.calc_aggregate([nDCG @ 10], qrels, run.scores())[nDCG @ 10]


def test_oracle_upper_bound_on_bright_biology(biology):
    run, qrels = biology
    assert round(ndcg10(qrels, run), 4) == 0.4349  # the published first-stage row

    oracle = OracleReranker(qrels, RerankConfig())
    reranked = oracle.rerank(run)
    assert round(ndcg10(qrels, reranked), 4) == 0.8657
    assert oracle.summary.windows == 927 and oracle.summary.queries == 103  # 9 windows x 103 queries
    # reordering within the top 100 never changes which documents are there
    recall = ir_measures.calc_aggregate([R @ 100], qrels, run.scores())[R @ 100]
    assert ir_measures.calc_aggregate([R @ 100], qrels, reranked.scores())[R @ 100] == pytest.approx(recall)
    # one pass of 20/10 carries up to 10 relevant documents to the top: here as good as sorting the top 100
    ideal = {q: r.reordered(sorted(range(len(r.candidates)), key=lambda i: -qrels.get(q, {}).get(
        r.candidates[i].doc_id, 0))) for q, r in run.rankings.items()}
    assert ndcg10(qrels, reranked) == pytest.approx(ndcg10(qrels, type(run)(ideal)))

    small = Reranker.from_name("oracle", qrels=qrels, config=RerankConfig(window=10, step=5)).rerank(run)
    assert round(ndcg10(qrels, small), 4) == 0.8638  # windows of 10 carry at most 5 relevant documents up


def test_oracle_orders_windows_stably_by_relevance():
    candidates = tuple(Candidate(f"d{i}", float(-i)) for i in range(6))
    ranking = Ranking(Query("q", ""), candidates)
    qrels = {"q": {"d4": 2, "d1": 1, "d5": 1, "d2": 0, "d3": -1}}
    result = OracleReranker(qrels, RerankConfig(window=20)).rerank([ranking])["q"]
    assert [c.doc_id for c in result.candidates] == ["d4", "d1", "d5", "d0", "d2", "d3"]
    batch = next(OracleReranker(qrels).rerank_batches([ranking]))
    assert batch.traces[0].response == "[5] > [2] > [6] > [1] > [3] > [4]"
    assert OracleReranker({}).rerank([ranking])["q"].candidates[0].doc_id == "d0"  # no judgments: kept
