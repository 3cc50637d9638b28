"""Fusion through Pyserini's pyserini.fusion, checked against fusions computed by hand."""
from __future__ import annotations

import pytest

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.retrieval.fusion import FusionSettings, fuse
from reasonrank_ir.types import Candidate, Query, Ranking, Run

pytestmark = pytest.mark.pyserini


def make_run(name: str, rows: dict[str, list[tuple[str, float]]]) -> Run:
    run = Run(name=name)
    for query_id, hits in rows.items():
        run.add(Ranking(Query(query_id, f"query {query_id}"), tuple(Candidate(d, s) for d, s in hits)))
    return run


A = make_run("a", {"1": [("d1", 10.0), ("d2", 8.0), ("d3", 4.0)], "2": [("x", 3.0), ("y", 1.0)]})
B = make_run("b", {"1": [("d3", 0.9), ("d1", 0.5), ("d4", 0.1)], "2": [("y", 0.7), ("z", 0.6), ("x", 0.2)]})


def as_dict(run: Run) -> dict[str, list[tuple[str, float]]]:
    return {q: [(c.doc_id, round(c.score, 9)) for c in r.candidates] for q, r in run.rankings.items()}


def test_rrf_matches_hand_computation():
    fused = fuse([A, B], FusionSettings("rrf"))
    r = lambda rank: 1 / (60 + rank)  # noqa: E731
    expected = {
        "1": sorted([("d1", r(1) + r(2)), ("d3", r(3) + r(1)), ("d2", r(2)), ("d4", r(3))], key=lambda x: -x[1]),
        "2": sorted([("x", r(1) + r(3)), ("y", r(2) + r(1)), ("z", r(2))], key=lambda x: -x[1]),
    }
    assert as_dict(fused) == {q: [(d, round(s, 9)) for d, s in v] for q, v in expected.items()}
    assert fused.name == "a+b.rrf"
    assert fused["1"].query.text == "query 1"


def test_interpolation_of_min_max_normalised_scores():
    fused = fuse([A, B], FusionSettings("interpolation", alpha=0.3))
    # query 1: a -> d1 1, d2 (8-4)/6, d3 0; b -> d3 1, d1 0.5, d4 0
    q1 = {"d1": 0.3 * 1 + 0.7 * 0.5, "d2": 0.3 * (4 / 6), "d3": 0.7 * 1, "d4": 0.0}
    # query 2: a -> x 1, y 0; b -> y 1, z 0.8, x 0
    q2 = {"x": 0.3, "y": 0.7, "z": 0.7 * 0.8}
    expected = {q: sorted(((d, round(s, 9)) for d, s in v.items()), key=lambda x: (-x[1], x[0]))
                for q, v in (("1", q1), ("2", q2))}
    assert as_dict(fused) == expected
    assert fused.name == "a+b.interp0.3"


def test_depth_and_k():
    fused = fuse([A, B], FusionSettings("rrf", depth=1), k=2)
    assert as_dict(fused)["1"] == [("d1", round(1 / 61, 9)), ("d3", round(1 / 61, 9))]
    assert all(len(r.candidates) <= 2 for r in fused)


def test_rrf_takes_three_runs_interpolation_two():
    c = make_run("c", {"1": [("d4", 1.0)]})
    fused = fuse([A, B, c], FusionSettings("rrf"))
    assert dict(as_dict(fused)["1"])["d4"] == round(1 / 63 + 1 / 61, 9)
    assert "2" in fused  # a query missing from one run is still fused
    with pytest.raises(ReasonRankError, match="exactly two"):
        fuse([A, B, c], FusionSettings("interpolation"))
    with pytest.raises(ReasonRankError, match="at least two"):
        fuse([A], FusionSettings("rrf"))


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ReasonRankError, match="Did you mean: rrf"):
        FusionSettings("rff")
    with pytest.raises(ReasonRankError, match=r"\[0, 1\]"):
        FusionSettings("interpolation", alpha=1.5)


@pytest.mark.slow
def test_fusion_of_run_files_through_the_pipeline(cranfield, tmp_path):
    from reasonrank_ir import pipeline
    from reasonrank_ir.evaluate import evaluate
    from reasonrank_ir.io.trec import write_run
    from reasonrank_ir.retrieval.bm25 import BM25Settings

    topics = cranfield.topics()
    bm25 = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=50))
    bm25qs = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=50, bm25=BM25Settings(query_side=True)))
    write_run(bm25, tmp_path / "run.bm25.txt")
    write_run(bm25qs, tmp_path / "run.bm25qs.txt")
    stage = pipeline.FirstStage(hits=50, fuse_runs=(str(tmp_path / "run.bm25.txt"), str(tmp_path / "run.bm25qs.txt")))
    fused = pipeline.retrieve(cranfield, topics, stage)
    assert fused.name == stage.name == "bm25+bm25qs.rrf"
    assert list(fused.rankings) == list(topics)
    assert fused["1"].query.text == topics["1"].text
    expected = fuse([bm25, bm25qs], FusionSettings("rrf"), k=50)
    assert as_dict(fused) == as_dict(expected)
    assert evaluate(fused, cranfield.qrels(), ["nDCG@10"]).aggregate["nDCG@10"] > 0.2
