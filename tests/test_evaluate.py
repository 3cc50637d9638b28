"""ir-measures scoring: the published ReasonIR first-stage row of ReasonRank's main table."""
import json

import pytest

from conftest import BRIGHT_DATA, BRIGHT_FIRST_STAGE
from reference import PUBLISHED_FIRST_STAGE
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.evaluate import evaluate, parse_measures
from reasonrank_ir.evaluate.__main__ import main as evaluate_cli
from reasonrank_ir.io.trec import read_run

pytestmark = pytest.mark.pyserini


@pytest.mark.parametrize("subset", PUBLISHED_FIRST_STAGE)
def test_reasonir_first_stage_row(subset, bright_imported, capsys):
    run = BRIGHT_FIRST_STAGE / f"{subset}.reasonir-gpt4cot.top100.trec"
    assert evaluate_cli([str(run), "--qrels", "bright-" + subset.replace("_", "-")]) == 0
    measure, value = capsys.readouterr().out.strip().split("\t")
    assert measure == "nDCG@10"
    assert value == f"{PUBLISHED_FIRST_STAGE[subset] / 100:.4f}"  # the published row, to its last digit


def test_missing_judged_queries_count_as_zero():
    qrels = {"1": {"a": 1}, "2": {"b": 1}}
    from reasonrank_ir.types import Candidate, Query, Ranking, Run

    run = Run({"1": Ranking(Query("1", ""), (Candidate("a", 1.0),))})
    assert evaluate(run, qrels, ["nDCG@10"]).aggregate["nDCG@10"] == 0.5
    assert evaluate(run, qrels, ["nDCG@10"], complete=False).aggregate["nDCG@10"] == 1.0


def test_per_query_and_json(tmp_path, capsys):
    run = BRIGHT_FIRST_STAGE / "biology.reasonir-gpt4cot.top100.trec"
    qrels = BRIGHT_DATA / "qrels.bright-biology.txt"
    assert evaluate_cli([str(run), "--qrels", str(qrels), "--metrics", "nDCG@10", "R@100", "--per-query"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 * 103 + 2 and lines[-2].startswith("nDCG@10\t0.4349") and lines[-1].startswith("R@100\t")
    assert evaluate_cli([str(run), "--qrels", str(qrels), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["aggregate"]["nDCG@10"] == pytest.approx(0.4349, abs=1e-4)


def test_bad_inputs_are_one_line(tmp_path, capsys):
    qrels = BRIGHT_DATA / "qrels.bright-biology.txt"
    with pytest.raises(ReasonRankError, match="unknown measure 'nDGC@10'"):
        parse_measures(["nDGC@10"])
    other = tmp_path / "other.trec"
    other.write_text("zzz Q0 doc 1 1.0 t\n")
    assert evaluate_cli([str(other), "--qrels", str(qrels)]) == 2
    assert "match none of the judged queries" in capsys.readouterr().err
    broken = tmp_path / "broken.trec"
    broken.write_text("0 Q0 doc 1\n")
    assert evaluate_cli([str(broken), "--qrels", str(qrels)]) == 2
    err = capsys.readouterr().err
    assert "broken.trec:1:" in err and "Traceback" not in err


def test_excluded_ids_are_removed_before_scoring(bright_imported, tmp_path):
    from reasonrank_ir.data import load

    dataset = load("bright-leetcode")
    published = BRIGHT_FIRST_STAGE / "leetcode.reasonir-gpt4cot.top100.trec"
    polluted = tmp_path / "polluted.trec"
    # An excluded id (query 0's own problem) at rank 1, with a space the index would spell as '_'.
    polluted.write_text("0 Q0 leetcode/leetcode_1996.txt 1 99.0 x\n0 Q0 leetcode/some doc.txt 2 98.0 x\n"
                        + published.read_text())
    cleaned = dataset.clean_run(read_run(polluted))
    excluded = dataset.excluded_ids()
    assert all(not ({c.doc_id for c in r.candidates} & excluded.get(r.query_id, frozenset())) for r in cleaned)
    assert [c.doc_id for c in cleaned["0"].candidates[:1]] == ["leetcode/some_doc.txt"]
    assert len(cleaned["0"].candidates) == len(read_run(published)["0"].candidates) + 1
