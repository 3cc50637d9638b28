"""The oracle reranker on the ReasonIR first-stage run that ReasonRank's BRIGHT table reranks, against
bounds computed independently (tests/reference.py: the files read and scored with ir_measures there)."""
from __future__ import annotations

import ir_measures
import pytest
from ir_measures import R, nDCG

import reference
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


def orders(run) -> dict[str, list[str]]:
    return {r.query_id: [c.doc_id for c in r.candidates] for r in run}


def test_oracle_upper_bound_on_bright_biology(biology):
    run, qrels = biology
    assert round(ndcg10(qrels, run), 4) == 0.4349  # the published first-stage row
    judged, first = reference.qrels("biology"), reference.first_stage("biology")

    oracle = OracleReranker(qrels, RerankConfig())
    reranked = oracle.rerank(run)
    # one pass of 20/10 carries the 10 best documents of the top 100 to the top: the ideal sort
    assert ndcg10(qrels, reranked) == pytest.approx(reference.ndcg10(reference.ideal(first, judged), judged))
    assert oracle.summary.windows == 927 and oracle.summary.queries == 103  # 9 windows x 103 queries
    # reordering within the top 100 never changes which documents are there
    recall = ir_measures.calc_aggregate([R @ 100], qrels, run.scores())[R @ 100]
    assert ir_measures.calc_aggregate([R @ 100], qrels, reranked.scores())[R @ 100] == pytest.approx(recall)

    small = Reranker.from_name("oracle", qrels=qrels, config=RerankConfig(window=10, step=5)).rerank(run)
    bound = reference.ndcg10(reference.one_pass(first, judged, window=10, step=5), judged)
    assert ndcg10(qrels, small) == pytest.approx(bound)
    assert bound < reference.ndcg10(reference.ideal(first, judged), judged)  # windows of 10 carry only 5 up


@pytest.mark.slow
def test_the_reference_reproduces_the_published_first_stage_row():
    """The reference reads the files as trec_eval does: it gives ReasonRank's published ReasonIR row."""
    for subset, published in reference.PUBLISHED_FIRST_STAGE.items():
        judged = reference.qrels(subset)
        assert round(100 * reference.ndcg10(reference.first_stage_scores(subset, exclude=True), judged), 2) == published


@pytest.mark.slow
@pytest.mark.parametrize("subset", reference.SUBSETS)
@pytest.mark.parametrize("window, step", [(20, 10), (100, 100)])
def test_oracle_equals_the_ideal_sort_of_the_candidates(subset, window, step):
    """nDCG@10 per query of the oracle (depth 100) is that of the qrels' ideal order of the first stage's
    candidates: with window - step >= 10 one pass brings the best 10 of the 100 to the top."""
    name = subset.replace("_", "-")
    run = read_run(BRIGHT_FIRST_STAGE / f"{subset}.reasonir-gpt4cot.top100.trec")
    reranked = OracleReranker(read_qrels(BRIGHT_DATA / f"qrels.bright-{name}.txt"),
                              RerankConfig(depth=100, window=window, step=step)).rerank(run)
    judged = reference.qrels(subset)
    expected = reference.ndcg10_per_query(reference.ideal(reference.first_stage(subset), judged), judged)
    assert reference.ndcg10_per_query(orders(reranked), judged) == pytest.approx(expected)
    assert sum(expected.values()) / len(expected) > reference.ndcg10(reference.first_stage_scores(subset), judged)


def test_oracle_orders_windows_stably_by_relevance():
    candidates = tuple(Candidate(f"d{i}", float(-i)) for i in range(6))
    ranking = Ranking(Query("q", ""), candidates)
    qrels = {"q": {"d4": 2, "d1": 1, "d5": 1, "d2": 0, "d3": -1}}
    result = OracleReranker(qrels, RerankConfig(window=20)).rerank([ranking])["q"]
    assert [c.doc_id for c in result.candidates] == ["d4", "d1", "d5", "d0", "d2", "d3"]
    batch = next(OracleReranker(qrels).rerank_batches([ranking]))
    assert batch.traces[0].response == "[5] > [2] > [6] > [1] > [3] > [4]"
    assert OracleReranker({}).rerank([ranking])["q"].candidates[0].doc_id == "d0"  # no judgments: kept
