"""TREC runs, qrels and topics: parsing from the right, clear errors naming file and line."""
import json

import pytest

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.topics import read_topics
from reasonrank_ir.io.trec import read_qrels, read_run, write_run
from reasonrank_ir.types import Candidate, Query, Ranking, Run


def test_run_doc_ids_with_spaces_are_parsed_from_the_right(tmp_path):
    path = tmp_path / "run.trec"
    path.write_text("4 Q0 torch/Memory Management_2_0.txt 1 0.9 reasonir\n4 Q0 plain.txt 2 0.5 reasonir\n")
    run = read_run(path)
    assert [c.doc_id for c in run["4"].candidates] == ["torch/Memory Management_2_0.txt", "plain.txt"]
    assert run.name == "reasonir"


def test_run_is_sorted_by_score_with_file_order_on_ties(tmp_path):
    path = tmp_path / "run.trec"
    path.write_text("1 Q0 a 3 0.1 t\n1 Q0 b 1 0.5 t\n1 Q0 c 2 0.5 t\n")
    assert [c.doc_id for c in read_run(path)["1"].candidates] == ["b", "c", "a"]


def test_write_then_read_round_trips_and_scores_decrease(tmp_path):
    ranking = Ranking(Query("q1", "x"), (Candidate("d1", 2.0), Candidate("d 2", 1.0)))
    write_run(Run({"q1": ranking}, "tag"), tmp_path / "r.txt")
    assert (tmp_path / "r.txt").read_text() == "q1 Q0 d1 1 2.000000 tag\nq1 Q0 d 2 2 1.000000 tag\n"
    assert [c.doc_id for c in read_run(tmp_path / "r.txt")["q1"].candidates] == ["d1", "d 2"]


@pytest.mark.parametrize("line", ["1 Q0 doc 1 0.5", "1 Q0 doc one 0.5 tag", "1 Q0 doc 1 high tag"])
def test_malformed_run_line_names_file_and_line(tmp_path, line):
    path = tmp_path / "bad.trec"
    path.write_text(f"1 Q0 ok 1 0.9 t\n{line}\n")
    with pytest.raises(ReasonRankError, match=r"bad\.trec:2: "):
        read_run(path)


def test_qrels_tab_separated_with_spaces_in_doc_ids(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("1\t0\tdoc with space.txt\t1\n2 0 d2 0\n")
    assert read_qrels(path) == {"1": {"doc with space.txt": 1}, "2": {"d2": 0}}


def test_malformed_qrels_line_names_file_and_line(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("1 0 d1 1\n1 0 d2 yes\n")
    with pytest.raises(ReasonRankError, match=r"qrels\.txt:2: relevance must be an integer"):
        read_qrels(path)


def test_topics_tsv_jsonl_and_trec(tmp_path):
    (tmp_path / "t.tsv").write_text("1\tfirst query\n2\tsecond\n")
    (tmp_path / "t.jsonl").write_text(json.dumps({"qid": 7, "query": "seven"}) + "\n")
    (tmp_path / "t.trec").write_text("<top>\n<num> Number: 401\n<title> foreign minorities\n<desc> x\n</top>\n")
    assert read_topics(tmp_path / "t.tsv")["2"] == Query("2", "second")
    assert read_topics(tmp_path / "t.jsonl") == {"7": Query("7", "seven")}
    assert read_topics(tmp_path / "t.trec") == {"401": Query("401", "foreign minorities")}


def test_bad_topics_lines_are_reported(tmp_path):
    (tmp_path / "t.tsv").write_text("1 no tab here\n")
    with pytest.raises(ReasonRankError, match=r"t\.tsv:1: expected 'qid<TAB>query'"):
        read_topics(tmp_path / "t.tsv")
    (tmp_path / "t.jsonl").write_text('{"qid": 1}\n')
    with pytest.raises(ReasonRankError, match=r"t\.jsonl:1: a topic needs"):
        read_topics(tmp_path / "t.jsonl")


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ReasonRankError, match="no such file"):
        read_run(tmp_path / "absent.trec")
