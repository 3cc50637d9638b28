"""The search CLI end to end: real BM25 on Cranfield, real rerankers, resume, and bad input."""
from __future__ import annotations

import json
import re

import pytest

from conftest import BRIGHT_FIRST_STAGE
from reasonrank_ir import pipeline
from reasonrank_ir.backends.base import Generation
from reasonrank_ir.evaluate import evaluate
from reasonrank_ir.io.topics import write_topics
from reasonrank_ir.io.traces import read_traces
from reasonrank_ir.io.trec import read_run
from reasonrank_ir.rerank import ListwiseReranker, RerankConfig
from reasonrank_ir.search import main as search

pytestmark = pytest.mark.pyserini

NUM = re.compile(r"I will provide you with (\d+) passages")


def subset_topics(cranfield, tmp_path, count):
    topics = dict(list(cranfield.topics().items())[:count])
    write_topics(topics, tmp_path / "topics.tsv")
    return tmp_path / "topics.tsv", topics


@pytest.mark.slow
def test_default_output_and_score(cranfield, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert search(["--index", "cranfield"]) == 0
    output = tmp_path / "runs" / "run.cranfield.bm25.top100.txt"
    assert len(read_run(output)) == 225 and all(len(r.candidates) == 100 for r in read_run(output))
    import ir_datasets
    import ir_measures
    from ir_measures import nDCG

    # what ir_measures gives for the written run and ir_datasets' qrels (test_retrieval: the run is Pyserini's)
    expected = ir_measures.calc_aggregate([nDCG @ 10], ir_datasets.load("cranfield").qrels_iter(),
                                          ir_measures.read_trec_run(str(output)))[nDCG @ 10]
    assert capsys.readouterr().out.strip() == f"nDCG@10\t{expected:.4f}"


@pytest.mark.slow
def test_hf_backend_reranks_cranfield_end_to_end(cranfield, tiny_qwen2, tmp_path, capsys):
    topics_file, topics = subset_topics(cranfield, tmp_path, 2)
    output = tmp_path / "run.txt"
    assert search(["--index", "cranfield", "--topics", str(topics_file), "--hits", "20", "--rerank", "reasonrank",
                   "--model", str(tiny_qwen2), "--backend", "hf", "--depth", "20", "--window", "10", "--step", "5",
                   "--max-tokens", "8", "--passage-tokens", "40", "--output", str(output)]) == 0
    run = read_run(output, topics)
    assert set(run.rankings) == set(topics) and all(len(r.candidates) == 20 for r in run)
    for ranking in run:
        scores = [c.score for c in ranking.candidates]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    traces = read_traces(tmp_path / "run.traces.jsonl")
    assert len(traces) == 2 * 3  # windows [10,20), [5,15), [0,10) for each query
    assert all(t.prompt_tokens > 0 and 0 < t.output_tokens <= 8 for t in traces)
    out = capsys.readouterr()
    assert f"reranker: reasonrank with {tiny_qwen2} on the hf backend" in out.err
    assert "reranked 2 queries" in out.err and re.search(r"^nDCG@10\t\d\.\d{4}$", out.out, re.M)
    assert evaluate(run, {q: d for q, d in cranfield.qrels().items() if q in topics}).aggregate["nDCG@10"] >= 0


class ReverseBackend:
    """Answers every window reversed; optionally dies after a number of calls (a killed job)."""

    name = "reverse"

    def __init__(self, die_after=None):
        self.calls = 0
        self.prompts = 0
        self.die_after = die_after

    def generate(self, prompts, sampling):
        self.calls += 1
        if self.die_after is not None and self.calls > self.die_after:
            raise KeyboardInterrupt
        self.prompts += len(prompts)
        answers = []
        for prompt in prompts:
            num = int(NUM.search(prompt.text).group(1))
            answers.append("<think>x</think><answer>" + " > ".join(f"[{i}]" for i in range(num, 0, -1)) + "</answer>")
        return [Generation(a, 10, 5) for a in answers]


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_run(cranfield, qwen_tokenizer, tmp_path):
    _, topics = subset_topics(cranfield, tmp_path, 5)
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=20))
    config = RerankConfig(depth=20, window=10, step=5, max_passage_tokens=30)

    whole = pipeline.OutputFiles.beside(tmp_path / "whole" / "run.txt")
    pipeline.rerank(ListwiseReranker(ReverseBackend(), qwen_tokenizer, config), first, cranfield, whole,
                    batch_size=2, progress=False)

    files = pipeline.OutputFiles.beside(tmp_path / "cut" / "run.txt")
    dying = ReverseBackend(die_after=4)  # 3 rounds of 2 windows per batch: dies after round 1 of batch 2
    with pytest.raises(KeyboardInterrupt):
        pipeline.rerank(ListwiseReranker(dying, qwen_tokenizer, config), first, cranfield, files,
                        batch_size=2, progress=False)
    assert len(read_traces(files.traces)) == dying.prompts == 8 and not files.run.exists()
    with open(files.traces, "a", encoding="utf-8") as journal:  # killed while writing the 9th line
        journal.write('{"query_id": "' + list(topics)[2])
    again = ReverseBackend()
    outcome = pipeline.rerank(ListwiseReranker(again, qwen_tokenizer, config), first, cranfield, files,
                              resume=True, batch_size=2, progress=False)
    assert outcome.replayed_windows == 8 and again.prompts == 15 - 8  # the model sees only the other windows
    assert files.run.read_text() == whole.run.read_text()
    assert [t.query_id for t in read_traces(files.traces)] == [t.query_id for t in read_traces(whole.traces)]
    order = [c.doc_id for c in read_run(files.run)[list(topics)[0]].candidates]
    assert order != [c.doc_id for c in first[list(topics)[0]].candidates]


def test_oracle_on_published_run_via_cli(bright_imported, tmp_path, capsys):
    output = tmp_path / "oracle.txt"
    assert search(["--index", "bright-biology", "--run",
                   str(BRIGHT_FIRST_STAGE / "biology.reasonir-gpt4cot.top100.trec"), "--rerank", "oracle",
                   "--output", str(output)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "first stage nDCG@10\t0.4349"
    assert lines[1].startswith("nDCG@10\t") and float(lines[1].split("\t")[1]) > 0.8
    first = json.loads((tmp_path / "oracle.traces.jsonl").read_text().splitlines()[0])
    assert first["start"] == 80 and first["end"] == 100


@pytest.mark.slow
@pytest.mark.parametrize("argv, message", [
    (["--index", "bright-biolgy"], "Did you mean: bright-biology"),
    (["--index", "cranfield", "--metrics", "nDGC@10"], "unknown measure 'nDGC@10'"),
    (["--index", "cranfield", "--rerank", "oracle", "--qrels", "/nonexistent/qrels"], "/nonexistent/qrels: no such file"),
    (["--index", "msmarco-v1-pasage"], "Did you mean: msmarco-v1-passage"),
    (["--index", "cranfield", "--topics", "dl19-pasage"], "unknown Pyserini topics 'dl19-pasage': Pyserini has no topics of that name"),
    (["--index", "cranfield", "--qrels", "missing-qrels.txt"], "missing-qrels.txt: no such file"),
    (["--index", "cranfield", "--rerank", "oracle", "--run", "missing.trec"], "missing.trec: no such file"),
    (["--index", "cranfield", "--rerank", "reasonrank", "--max-tokens", "0"],
     "rerank max_tokens (--max-tokens) must be at least 1 (engines read 0 as no limit), found 0"),
])
def test_bad_input_is_one_line_exit_2(cranfield, argv, message, capsys):
    assert search(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("error: ")


@pytest.mark.slow
def test_run_matching_no_topic(cranfield, tmp_path, capsys):
    other = tmp_path / "other.trec"
    other.write_text("q-unknown Q0 184 1 1.0 x\n")
    assert search(["--index", "cranfield", "--run", str(other)]) == 2
    assert "match no topic of cranfield" in capsys.readouterr().err


@pytest.mark.slow
def test_missing_model_is_one_line(cranfield, tmp_path, capsys):
    topics_file, _ = subset_topics(cranfield, tmp_path, 1)
    assert search(["--index", "cranfield", "--topics", str(topics_file), "--rerank", "reasonrank",
                   "--model", str(tmp_path / "no-such-model"), "--backend", "hf"]) == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "Traceback" not in err


@pytest.mark.slow
def test_rerank_a_rank_llm_requests_file(cranfield, tmp_path, capsys):
    """Candidates with their passages from a requests file: no index lookup, queries from the file."""
    from reasonrank_ir.io.requests import write_requests
    from reasonrank_ir.types import Candidate, Query, Ranking

    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 b 1\n")
    ranking = Ranking(Query("q1", "which passage mentions beta?"), tuple(
        Candidate(doc_id, 3.0 - i, {"contents": f"passage about {doc_id}"}) for i, doc_id in enumerate("abc")))
    write_requests([ranking], tmp_path / "requests.jsonl")
    output = tmp_path / "oracle.txt"
    assert search(["--index", "cranfield", "--run", str(tmp_path / "requests.jsonl"), "--qrels", str(qrels),
                   "--rerank", "oracle", "--output", str(output), "--metrics", "RR@10"]) == 0
    assert [c.doc_id for c in read_run(output)["q1"].candidates] == ["b", "a", "c"]
    assert capsys.readouterr().out.splitlines() == ["first stage RR@10\t0.5000", "RR@10\t1.0000"]


@pytest.mark.slow
def test_passages_already_present_are_not_looked_up(cranfield):
    from reasonrank_ir.types import Candidate, Query, Ranking

    ranking = Ranking(Query("q", "x"), (Candidate("not-in-cranfield", 1.0, {"contents": "given"}),
                                        Candidate("184", 0.5)))
    filled = pipeline.attach_passages(cranfield, ranking, 2)
    assert filled.candidates[0].doc == {"contents": "given"} and filled.candidates[1].doc["id"] == "184"


@pytest.mark.slow
def test_backend_options_pass_through_typed(cranfield, tiny_qwen2, tmp_path, capsys):
    from reasonrank_ir.search import backend_options, build_parser

    args = build_parser().parse_args(["--index", "x", "--backend", "llamacpp", "--max-model-len", "2048",
                                      "--backend-option", "n_batch=1", "--backend-option", "chat_format=chatml"])
    assert backend_options(args) == {"n_ctx": 2048, "n_batch": 1, "chat_format": "chatml"}
    assert search(["--index", "cranfield", "--rerank", "reasonrank", "--model", str(tiny_qwen2), "--backend", "hf",
                   "--backend-option", "n_batch=1"]) == 2
    assert "unknown hf backend option 'n_batch'" in capsys.readouterr().err
    assert search(["--index", "cranfield", "--rerank", "reasonrank", "--backend-option", "oops"]) == 2
    assert "--backend-option takes KEY=VALUE" in capsys.readouterr().err
