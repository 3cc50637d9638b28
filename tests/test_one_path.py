"""One path per job: search, experiments run, the library and PyTerrier build rerankers, cut queries,
record settings and score through the same pipeline calls, so the same work is one job whoever runs it."""
from __future__ import annotations

import json

import pytest
import yaml

from reasonrank_ir import pipeline
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.experiments import load_experiment, run_experiment
from reasonrank_ir.experiments.__main__ import main as experiments_cli
from reasonrank_ir.pipeline import JobSpec, OutputFiles, Rerankers
from reasonrank_ir.rerank.spec import RerankerSpec
from reasonrank_ir.search import main as search
from reasonrank_ir.types import Candidate, Query, Ranking, Run

ORACLE = {"name": "oracle", "reranker": "oracle", "depth": 10, "window": 5, "step": 3}


def write_lab(tmp_path, **dataset):
    data = {"name": "onepath", "first_stage": {"name": "bm25", "hits": 20},
            "datasets": [{"dataset": "cranfield", **dataset}], "metrics": ["nDCG@10", "MAP"], "systems": [ORACLE]}
    path = tmp_path / "onepath.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


SEARCH_ORACLE = ["--index", "cranfield", "--hits", "20", "--rerank", "oracle", "--depth", "10", "--window", "5",
                 "--step", "3", "--limit-queries", "3"]


@pytest.mark.slow
@pytest.mark.pyserini
def test_an_experiment_job_and_the_same_search_command_are_one_job(cranfield, tmp_path, monkeypatch, capsys):
    """The same work typed as YAML and as search flags: the same settings record, keys and values, the same
    run bytes, and either one finds the other's run already complete (nothing is computed again)."""
    monkeypatch.chdir(tmp_path)
    experiment = load_experiment(write_lab(tmp_path))
    result = run_experiment(experiment, "lab", limit_queries=3, progress=False)
    assert sorted(result.finished) == [("cranfield", "bm25"), ("cranfield", "oracle")] and not result.missing

    # the same oracle job by hand, written elsewhere: the same settings and the same bytes
    assert search([*SEARCH_ORACLE, "--output", "cli/cranfield.oracle.txt"]) == 0
    lab, cli = OutputFiles.beside("lab/cranfield.oracle.txt"), OutputFiles.beside("cli/cranfield.oracle.txt")
    recorded = [json.loads(files.settings.read_text()) for files in (lab, cli)]
    assert list(recorded[0]["settings"].items()) == list(recorded[1]["settings"].items())
    assert recorded[0]["settings"]["--limit-queries"] == 3 and recorded[0]["settings"]["--rerank"] == "oracle"
    assert lab.run.read_bytes() == cli.run.read_bytes()
    assert lab.traces.read_bytes() == cli.traces.read_bytes()
    capsys.readouterr()

    # search at the experiment's run: recognised, not redone (its record, run and traces stay as they were)
    before = {path: path.read_bytes() for path in (lab.run, lab.traces, lab.settings)}
    assert search([*SEARCH_ORACLE, "--output", str(lab.run)]) == 0
    assert "already complete: lab/cranfield.oracle.txt" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in before} == before

    # and the experiment takes the search command's runs as its own: first stage and oracle
    assert search(["--index", "cranfield", "--hits", "20", "--limit-queries", "3",
                   "--output", "cli/cranfield.bm25.txt"]) == 0
    made = {path: path.read_bytes() for path in tmp_path.joinpath("cli").iterdir()}
    again = run_experiment(experiment, "cli", limit_queries=3, progress=False)
    assert sorted(again.finished) == sorted(result.finished) and not again.redone and not again.missing
    assert {path: path.read_bytes() for path in made} == made  # runs, traces and records as search left them
    scores = [json.loads((tmp_path / folder / "cranfield.oracle.eval.json").read_text()) for folder in ("lab", "cli")]
    assert scores[0]["aggregate"] == scores[1]["aggregate"] and scores[0]["queries"] == scores[1]["queries"]


def test_limit_queries_is_checked_once_with_the_same_words_everywhere(tmp_path, capsys):
    with pytest.raises(ReasonRankError, match="--limit-queries must be a positive integer, found 0"):
        JobSpec(index="cranfield", limit_queries=0)
    assert search(["--index", "cranfield", "--limit-queries", "-1"]) == 2
    from_search = capsys.readouterr().err.strip().splitlines()[-1]
    assert experiments_cli(["run", str(write_lab(tmp_path)), "--limit-queries", "-1",
                            "--output-dir", str(tmp_path / "out")]) == 2
    from_experiments = capsys.readouterr().err.strip().splitlines()[-1]
    assert from_search.endswith("--limit-queries must be a positive integer, found -1")
    assert from_experiments.endswith("--limit-queries must be a positive integer, found -1")
    assert not (tmp_path / "out").exists()


def cranfield_offline():
    """Cranfield's topics and judgments (embedded: no index, no JVM), what the jobs below read."""
    from reasonrank_ir.data import load

    return load("cranfield")


def unjudged(tmp_path):
    """A folder of documents with topics and no judgments."""
    from reasonrank_ir.data import load

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "docs.jsonl").write_text(json.dumps({"id": "d1", "contents": "flow"}) + "\n")
    (tmp_path / "topics.tsv").write_text("q1\tflow\n")
    return load(str(tmp_path / "docs"), topics=str(tmp_path / "topics.tsv"))


def test_queries_are_cut_once_by_the_job(tmp_path):
    dataset = cranfield_offline()
    assert list(JobSpec(index="cranfield", limit_queries=2).queries(dataset)) == ["1", "2"]
    assert len(JobSpec(index="cranfield").queries(dataset)) == 225
    # a requests file as --run brings its own queries (without --topics), cut the same way
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"query": {"text": f"r{i}", "qid": f"r{i}"},
                                            "candidates": [{"docid": "d1", "score": 1.0, "doc": {"text": "x"}}]})
                                + "\n" for i in range(3)))
    job = JobSpec(index="cranfield", first_stage=pipeline.FirstStage(run_file=str(requests)), limit_queries=2)
    assert list(job.queries(dataset)) == ["r0", "r1"]
    # scoring counts only the judgments of the topics asked for
    assert pipeline.judgments(dataset, job.queries(dataset)) is None
    first = JobSpec(index="cranfield", limit_queries=1).queries(dataset)
    assert pipeline.judgments(dataset, first) == {"1": dataset.qrels()["1"]}


def test_the_oracle_comes_from_the_dataset_judgments_one_way(tmp_path):
    """Rerankers builds the oracle of each dataset from its own judgments; a dataset without any is one line."""
    spec = RerankerSpec(reranker="oracle", depth=2, window=2, step=1)
    rerankers = Rerankers(spec)
    reranker = rerankers.for_dataset(cranfield_offline())
    ranking = Ranking(Query("3", "x"), (Candidate("1", 2.0), Candidate("5", 1.0)))  # 5 is judged 3, 1 is not
    outcome = pipeline.rerank(reranker, Run({"3": ranking}), None, progress=False)
    assert [c.doc_id for c in outcome.run["3"].candidates] == ["5", "1"]
    with pytest.raises(ReasonRankError, match="the oracle reranks by relevance judgments and .*docs has none"):
        rerankers.for_dataset(unjudged(tmp_path))


def test_an_engine_that_cannot_load_fails_once_for_every_dataset(tmp_path):
    spec = RerankerSpec(reranker="reasonrank", model=str(tmp_path / "no-such-model"), backend="hf")
    rerankers = Rerankers(spec, hint=" (get it first)")
    with pytest.raises(ReasonRankError, match=r"no-such-model.*\(get it first\)") as first:
        rerankers.for_dataset(cranfield_offline())
    assert rerankers.failed is first.value
    (tmp_path / "no-such-model").mkdir()  # not tried again: the job's engine failed
    with pytest.raises(ReasonRankError) as second:
        rerankers.for_dataset(unjudged(tmp_path))
    assert second.value is first.value


def test_pyterrier_frames_go_through_the_same_rerank_job():
    """The transformer's frame reranked equals ``pipeline.rerank`` on the same rankings."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyterrier")
    from reasonrank_ir.integrations.pyterrier import rerank_frame

    spec = RerankerSpec(reranker="oracle", depth=3, window=2, step=1)
    dataset = cranfield_offline()
    docs = ["1", "2", "5"]
    frame = pd.DataFrame({"qid": ["2"] * 3 + ["3"] * 3, "docno": docs * 2, "score": [3.0, 2.0, 1.0] * 2,
                          "query": ["x"] * 6})
    out = rerank_frame(Rerankers(spec).for_dataset(dataset), frame)
    run = Run({q: Ranking(Query(q, "x"), tuple(Candidate(d, s) for d, s in zip(docs, [3.0, 2.0, 1.0])))
               for q in ("2", "3")})
    expected = pipeline.rerank(Rerankers(spec).for_dataset(dataset), run, None, progress=False).run
    assert [c.doc_id for c in expected["3"].candidates] == ["5", "1", "2"]
    for qid in ("2", "3"):
        rows = out[out["qid"] == qid]
        assert list(rows["docno"]) == [c.doc_id for c in expected[qid].candidates]
        assert list(rows["score"]) == [c.score for c in expected[qid].candidates]


def test_a_library_job_records_what_search_records(tmp_path):
    """``pipeline.run_job`` from the library writes the record search writes for the same JobSpec: a second
    call with the same job finds it complete."""
    dataset = cranfield_offline()
    spec = RerankerSpec(reranker="oracle", depth=2, window=2, step=1)
    run_file = tmp_path / "first.trec"
    run_file.write_text("1 Q0 486 1 2.0 x\n1 Q0 13 2 1.0 x\n3 Q0 1 1 2.0 x\n3 Q0 5 2 1.0 x\n")
    job = JobSpec(index="cranfield", first_stage=pipeline.FirstStage(hits=2, run_file=str(run_file)), reranker=spec,
                  limit_queries=2)
    files = OutputFiles.beside(tmp_path / "run.txt")
    topics = job.queries(dataset)
    done = pipeline.run_job(job, dataset, files, topics, progress=False)
    assert not done.complete and done.outcome is not None and list(done.run.rankings) == ["1"]
    assert json.loads(files.settings.read_text())["settings"] == job.settings(dataset.max_passage_tokens)
    again = pipeline.run_job(job, dataset, files, topics, progress=False)
    assert again.complete and again.outcome is None
    assert [c.doc_id for c in again.run["1"].candidates] == ["13", "486"]
