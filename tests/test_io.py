"""TREC runs, qrels and topics: parsing from the right, clear errors naming file and line."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


BOM = b"\xef\xbb\xbf"


def test_bom_and_crlf_are_read_as_plain_utf8(tmp_path):
    # A BOM used to glue itself to the first query id ('\ufeff1'), so query 1 vanished.
    (tmp_path / "run.trec").write_bytes(BOM + b"1 Q0 d1 1 0.9 t\r\n1 Q0 d2 2 0.5 t\r\n2 Q0 d3 1 0.1 t\r\n")
    (tmp_path / "qrels.txt").write_bytes(BOM + b"1 0 d1 1\r\n2 0 d3 0\r\n")
    (tmp_path / "t.tsv").write_bytes(BOM + "1\tcaf\u00e9 au lait\r\n2\tsecond\r\n".encode())
    (tmp_path / "t.jsonl").write_bytes(BOM + b'{"qid": "1", "query": "first"}\r\n')
    run = read_run(tmp_path / "run.trec")
    assert list(run.rankings) == ["1", "2"] and [c.doc_id for c in run["1"].candidates] == ["d1", "d2"]
    assert read_qrels(tmp_path / "qrels.txt") == {"1": {"d1": 1}, "2": {"d3": 0}}
    assert read_topics(tmp_path / "t.tsv") == {"1": Query("1", "caf\u00e9 au lait"), "2": Query("2", "second")}
    assert read_topics(tmp_path / "t.jsonl") == {"1": Query("1", "first")}


@pytest.mark.parametrize("name, content, reader", [
    ("run.trec", b"1 Q0 d1 1 0.9 t\n1 Q0 caf\xe9 2 0.5 t\n", read_run),
    ("qrels.txt", b"1 0 d1 1\n1 0 caf\xe9 1\n", read_qrels),
    ("t.tsv", b"1\tfirst\n2\tcaf\xe9\n", read_topics),
    ("t.jsonl", b'{"qid": "1", "query": "a"}\n{"qid": "2", "query": "caf\xe9"}\n', read_topics),
])
def test_latin1_byte_names_file_line_and_offset(tmp_path, name, content, reader):
    (tmp_path / name).write_bytes(content)
    offset = content.index(b"\xe9")  # counted from the start of the file
    with pytest.raises(ReasonRankError, match=rf"{name}:2: not UTF-8 text \(byte 0xe9 at offset {offset}\)"):
        reader(tmp_path / name)


def test_utf16_and_cut_gzip_are_clear_errors(tmp_path):
    (tmp_path / "t.tsv").write_bytes("1\tquery\n".encode("utf-16"))
    with pytest.raises(ReasonRankError, match=r"t\.tsv:1: not UTF-8 text \(byte 0xff at offset 0\)"):
        read_topics(tmp_path / "t.tsv")
    import gzip

    whole = gzip.compress(b"1 Q0 d1 1 0.9 t\n" * 100)
    (tmp_path / "run.trec.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReasonRankError, match=r"run\.trec\.gz: not a readable gzip file"):
        read_run(tmp_path / "run.trec.gz")


@pytest.mark.parametrize("line, expected", [
    ("1 Q0 d2 2 0.5", "expected 6 columns"),            # tag missing: 'd2' would have become Q0
    ("1 d2 2 0.5 t", "expected 6 columns"),             # Q0 missing: the doc id was read as empty
    ("1 Q0 d2 2 nan t", "score must be a finite number, found 'nan'"),
    ("1 Q0 d2 2 -inf t", "score must be a finite number, found '-inf'"),
    ("1 Q0 d1 2 0.5 t", "doc 'd1' is ranked twice for query 1 (also on line 1)"),
])
def test_run_lines_trec_eval_would_refuse_are_errors(tmp_path, line, expected):
    path = tmp_path / "bad.trec"
    path.write_text(f"1 Q0 d1 1 0.9 t\n{line}\n")
    with pytest.raises(ReasonRankError, match=r"bad\.trec:2: ") as error:
        read_run(path)
    assert expected in str(error.value)


def test_same_doc_under_two_queries_is_fine(tmp_path):
    (tmp_path / "run.trec").write_text("1 Q0 d1 1 0.9 t\n2 Q0 d1 1 0.9 t\n")
    assert len(read_run(tmp_path / "run.trec")) == 2


@pytest.mark.parametrize("name, content, expected", [
    ("t.tsv", "", r"t\.tsv: no topics in the file"),
    ("t.tsv", "\n\n", r"t\.tsv: no topics in the file"),
    ("t.tsv", "1\tfirst\n2\t  \n", r"t\.tsv:2: topic '2' has an empty text"),
    ("t.tsv", "\tno id\n", r"t\.tsv:1: topic '' has an empty id"),
    ("t.tsv", "1\tfirst\n2\tsecond\n1\tagain\n", r"t\.tsv:3: topic id 1 is given twice \(first at .*t\.tsv:1\)"),
    ("t.jsonl", '{"qid": 1, "query": ""}\n', r"t\.jsonl:1: topic '1' has an empty text"),
    ("t.jsonl", '{"qid": 1, "query": "a"}\n{"qid": "1", "query": "b"}\n', r"t\.jsonl:2: topic id 1 is given twice"),
    ("t.trec", "<top><num> 1 <title> a </top>\n<top><num> 1 <title> b </top>\n",
     r"t\.trec, <top> block 2: topic id 1 is given twice"),
])
def test_topics_that_would_run_the_wrong_queries_are_errors(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content)
    with pytest.raises(ReasonRankError, match=expected):
        read_topics(tmp_path / name)


@pytest.mark.parametrize("candidates, expected", [
    ([{"docid": "a", "score": 1.0}, {"docid": "a", "score": 0.5}], "doc 'a' is listed twice for query 1"),
    ([{"docid": "a", "score": float("nan")}], "score must be a finite number, found nan for 'a'"),
])
def test_requests_follow_the_run_rules(tmp_path, candidates, expected):
    from reasonrank_ir.io.requests import read_requests

    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps({"query": {"qid": "1", "text": "q"}, "candidates": candidates}) + "\n")
    with pytest.raises(ReasonRankError, match=r"requests\.jsonl:1: ") as error:
        read_requests(path)
    assert expected in str(error.value)


_LINE_PARTS = st.sampled_from(["1", "Q0", "d1", "d 2", "0.5", "nan", "-inf", "1e400", "\t", " ", "\ufeff", "\r",
                               "\xe9", "<top>", "<num>", "</top>", '{"qid": 1, "query": "a"}', '{"qid": 1}', "[]"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=200), st.lists(st.lists(_LINE_PARTS, max_size=7).map(" ".join), max_size=5)
                 .map(lambda lines: "\n".join(lines).encode("utf-8"))),
       st.sampled_from(["run.trec", "qrels.txt", "t.tsv", "t.jsonl"]))
def test_any_bytes_read_or_fail_with_one_clear_error(tmp_path, data, name):
    """No file content makes a reader raise anything but the one user-facing error."""
    path = tmp_path / name
    path.write_bytes(data)
    reader = {"run.trec": read_run, "qrels.txt": read_qrels, "t.tsv": read_topics, "t.jsonl": read_topics}[name]
    try:
        reader(path)
    except ReasonRankError as error:
        assert "\n" not in str(error)


# -- TREC columns as trec_eval reads them: any run of whitespace separates ------------------------------

_QRELS = "1 0 d1 2\n1 0 d2 0\n1 0 d4 1\n2 0 d3 1\n2 0 d5 1\n"
_RUN = [("1", "d1", 1, 0.9), ("1", "d2", 2, 0.8), ("1", "d4", 3, 0.7), ("2", "d5", 1, 0.6), ("2", "d3", 2, 0.5)]


@pytest.mark.parametrize("layout", [
    "{q} Q0 {d} {r} {s} tag",            # the usual single spaces
    "{q}\tQ0\t{d}\t{r}\t{s}\ttag",       # tab-separated
    "{q}  Q0   {d}  {r}  {s}  tag",      # several spaces
    "{q}\t Q0 \t{d} {r}\t\t{s} tag ",    # a mix, trailing blank
    "  {q} Q0 {d} {r} {s} tag",          # leading blanks
])
def test_whitespace_separated_runs_read_and_score_as_ir_measures_reads_them(tmp_path, layout):
    import ir_measures

    from reasonrank_ir.evaluate import evaluate

    run_path, qrels_path = tmp_path / "run.trec", tmp_path / "qrels.txt"
    run_path.write_text("".join(layout.format(q=q, d=d, r=r, s=s) + "\n" for q, d, r, s in _RUN))
    qrels_path.write_text(_QRELS.replace(" ", "\t"))
    theirs = list(ir_measures.read_trec_run(str(run_path)))
    ours = read_run(run_path)
    assert [(c.doc_id, c.score) for r in ours for c in r.candidates] == [(d.doc_id, d.score) for d in theirs]
    measures = [ir_measures.nDCG @ 10, ir_measures.AP, ir_measures.RR]
    expected = ir_measures.calc_aggregate(measures, list(ir_measures.read_trec_qrels(str(qrels_path))), theirs)
    got = evaluate(ours, read_qrels(qrels_path), measures).aggregate
    assert got == pytest.approx({str(m): v for m, v in expected.items()})


@pytest.mark.parametrize("line, doc_id", [
    ("q1 Q0 torch/Memory Management_2_0.txt 1 0.9 t", "torch/Memory Management_2_0.txt"),   # 7 columns
    ("q1\tQ0\tMemory Management.txt\t1\t0.9\tt", "Memory Management.txt"),                    # tabs around it
    ("q1 Q0 a b c 1 0.9 t", "a b c"),                                                           # 8 columns
    ("q1  Q0  two  spaces 1 0.9 t", "two  spaces"),                                             # kept as written
])
def test_doc_ids_with_spaces_are_what_lies_between_q0_and_the_last_three_columns(tmp_path, line, doc_id):
    """The first field is the query, the second Q0, the last three rank, score and tag."""
    import ir_measures

    from reasonrank_ir.evaluate import evaluate

    (tmp_path / "run.trec").write_text(line + "\n")
    (tmp_path / "qrels.txt").write_text(f"q1 0 {doc_id} 1\nq1 0 other 1\n")
    run = read_run(tmp_path / "run.trec")
    assert [c.doc_id for c in run["q1"].candidates] == [doc_id]
    assert read_qrels(tmp_path / "qrels.txt") == {"q1": {doc_id: 1, "other": 1}}
    # trec_eval's semantics on the ids as read: one of two relevant docs at rank 1
    reference = ir_measures.calc_aggregate([ir_measures.R @ 10], {"q1": {doc_id: 1, "other": 1}}, {"q1": {doc_id: 0.9}})
    assert evaluate(run, read_qrels(tmp_path / "qrels.txt"), [ir_measures.R @ 10]).aggregate == {"R@10": 0.5}
    assert reference[ir_measures.R @ 10] == 0.5


@pytest.mark.parametrize("name, content", [
    ("topics.tsv", "1\tfirst\n2 b\tsecond\n"),
    ("topics.tsv", "1\tfirst\n2\tb\tsecond\n".replace("2\tb", "2\u00a0b")),  # a no-break space
    ("topics.jsonl", '{"query_id": "1", "query": "a"}\n{"query_id": "x y", "query": "b"}\n'),
    ("topics.jsonl", '{"qid": "1", "text": "a"}\n{"qid": "x\\ty", "text": "b"}\n'),
])
def test_topic_ids_with_whitespace_are_refused_when_read(tmp_path, name, content):
    """A run line could not carry such an id: its queries would be scored as other ids, or not at all."""
    (tmp_path / name).write_text(content)
    with pytest.raises(ReasonRankError, match=rf"{name}:2: topic id .* contains whitespace"):
        read_topics(tmp_path / name)
