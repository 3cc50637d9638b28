"""YAML experiments: the published first-stage row and oracle bounds, a lab end to end, bad YAML."""
from __future__ import annotations

import hashlib
import json

import pytest
import yaml

import reference
from conftest import BRIGHT_FIRST_STAGE, ROOT
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.experiments import build_report, load_experiment, run_experiment, write_chart
from reasonrank_ir.experiments.__main__ import main as experiments_cli
from reasonrank_ir.io.traces import read_traces
from reasonrank_ir.io.trec import read_run

EXPERIMENTS = ROOT / "reasonrank_ir" / "experiments" / "configs"

REASONIR = reference.PUBLISHED_FIRST_STAGE  # what the shared runs must reproduce


def oracle_bounds(window: int, step: int) -> dict[str, float]:
    """The oracle rows, computed independently (tests/reference.py) from the shared runs less BRIGHT's
    excluded ids: 20/10 carries the best 10 of the top 100 up, so it is the ideal sort."""
    if (window, step) == (20, 10):
        return {subset: reference.ideal_ndcg10(subset) for subset in REASONIR}
    bounds = {}
    for subset in REASONIR:
        judged = reference.qrels(subset)
        bounds[subset] = reference.ndcg10(reference.one_pass(reference.first_stage(subset, exclude=True), judged,
                                                             window, step), judged)
    return bounds


@pytest.fixture
def shared_runs(tmp_path, monkeypatch):
    """The packaged YAMLs read ReasonRank's runs from ``ReasonRank/runs/{subset}/`` of the current folder:
    lay the shared first-stage runs out that way in an empty folder and run from there."""
    for run in BRIGHT_FIRST_STAGE.glob("*.reasonir-gpt4cot.top100.trec"):
        folder = tmp_path / "ReasonRank" / "runs" / run.name.split(".")[0]
        folder.mkdir(parents=True)
        (folder / "reasonir_gpt4cot_top100.txt").symlink_to(run)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "ReasonRank" / "runs"


def x100(report, row, dataset):
    return round(100 * report.value(row, dataset), 2)


@pytest.mark.slow
def test_oracle_report_reproduces_first_stage_row_and_bounds(bright_imported, shared_runs, tmp_path):
    experiment = load_experiment("bright-oracle")
    assert experiment.first_stage.runs.resolve() == shared_runs.resolve()
    result = run_experiment(experiment, tmp_path / "out", progress=False)
    assert not result.missing and len(result.finished) == 36

    report = build_report(experiment, tmp_path / "out")
    first, w20, w10 = report.rows
    assert {d: x100(report, first, d) for d in REASONIR} == REASONIR == dict(first.published)
    w20s10, w10s5 = oracle_bounds(20, 10), oracle_bounds(10, 5)
    assert {d: report.value(w20, d) for d in REASONIR} == pytest.approx(w20s10, abs=1e-12)
    assert {d: report.value(w10, d) for d in REASONIR} == pytest.approx(w10s5, abs=1e-12)
    assert round(100 * report.average(first)[0], 2) == round(report.published_average(first), 2) == 30.59
    markdown = report.markdown()
    assert "| ↳ Δ | " + " | ".join(["+0.00"] * 13) + " |" in markdown
    assert markdown.index("| biology |") < markdown.index("| avg |")  # average last
    assert f"| Oracle, window 20 step 10 | {100 * w20s10['biology']:.2f} | {100 * w20s10['earth_science']:.2f} |" \
        in markdown

    # the oracle only moves judged documents up: it never loses a query, and wins are significant
    for dataset in REASONIR:
        c = report.comparisons[("oracle-w20s10", dataset)]
        assert c.losses == 0 and c.wins > 0 and c.significant
    biology = report.comparisons[("oracle-w20s10", "biology")]
    judged = reference.qrels("biology")
    before = reference.ndcg10_per_query(reference.first_stage_scores("biology", exclude=True), judged)
    after = reference.ndcg10_per_query(reference.ideal(reference.first_stage("biology", exclude=True), judged), judged)
    gains = [after[q] - before[q] for q in judged]
    wins, losses = sum(g > 1e-12 for g in gains), sum(g < -1e-12 for g in gains)
    assert (biology.wins, biology.ties, biology.losses) == (wins, len(gains) - wins - losses, losses)
    assert f"{wins}/{len(gains) - wins - losses}/{losses} p<0.001*" in markdown

    chart = write_chart(report, tmp_path / "chart.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = run_experiment(experiment, tmp_path / "out", progress=False)
    assert len(again.skipped) == 36 and not again.missing  # finished parts (first stage included) are not redone


def lab_yaml(tiny_qwen2, tmp_path):
    """cranfield-lab.yaml with the tiny random model and small windows (the published file is the lab's)."""
    data = yaml.safe_load((EXPERIMENTS / "cranfield-lab.yaml").read_text())
    oracle, model = data["systems"]
    oracle.update(depth=10, window=5, step=5)
    model.update(model=str(tiny_qwen2), backend="hf", depth=10, window=5, step=5, max_tokens=8, batch_size=3)
    path = tmp_path / "cranfield-lab.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_cranfield_lab_runs_end_to_end(cranfield, tiny_qwen2, tmp_path, capsys):
    out = tmp_path / "runs"
    assert experiments_cli(["run", str(lab_yaml(tiny_qwen2, tmp_path)), "--limit-queries", "3",
                            "--output-dir", str(out)]) == 0
    printed = capsys.readouterr()
    topics = list(cranfield.topics())[:3]
    for row in ("bm25", "oracle", "reasonrank-7b"):
        run = read_run(out / f"cranfield.{row}.txt")
        assert list(run.rankings) == topics and all(len(r.candidates) == 100 for r in run)
    traces = read_traces(out / "cranfield.reasonrank-7b.traces.jsonl")
    assert len(traces) == 3 * 2 and all(0 < t.output_tokens <= 8 for t in traces)  # windows [5,10), [0,5)
    scores = {row: json.loads((out / f"cranfield.{row}.eval.json").read_text()) for row in ("bm25", "oracle")}
    assert scores["bm25"]["judged"] == topics and set(scores["bm25"]["aggregate"]) == {"nDCG@10", "MAP", "R@20"}
    assert scores["oracle"]["aggregate"]["nDCG@10"] >= scores["bm25"]["aggregate"]["nDCG@10"]
    summary = json.loads((out / "cranfield.reasonrank-7b.summary.json").read_text())
    assert summary["queries"] == 3 and summary["windows"] == 6

    table = printed.out
    assert "| system | cranfield | avg |" in table and "| ReasonRank-7B |" in table and "MAP ×100" in table
    assert "| BM25 (first stage) |" in table and "wins/ties/losses" in table
    assert (out / "report.md").read_text() in table and (out / "report.png").is_file()

    before = (out / "cranfield.reasonrank-7b.txt").read_text()
    assert experiments_cli(["run", str(lab_yaml(tiny_qwen2, tmp_path)), "--limit-queries", "3",
                            "--output-dir", str(out)]) == 0
    assert "reasonrank-7b: already complete" in capsys.readouterr().err
    assert (out / "cranfield.reasonrank-7b.txt").read_text() == before
    assert experiments_cli(["report", str(lab_yaml(tiny_qwen2, tmp_path)), "--output-dir", str(out)]) == 0
    assert "| ReasonRank-7B |" in capsys.readouterr().out
    made = next(c["provenance"] for c in json.loads((out / "report.json").read_text())["cells"]
                if c["system"] == "reasonrank-7b")
    assert (made["model"], made["backend"], made["windows"]) == (str(tiny_qwen2), "hf", 6)
    assert made["output_tokens"] == sum(t.output_tokens for t in traces) and made["seconds"] > 0

    # another model (the same weights under another folder) is another run
    other = tmp_path / "other-model"
    other.symlink_to(tiny_qwen2)
    path = lab_yaml(tiny_qwen2, tmp_path)
    path.write_text(path.read_text().replace(str(tiny_qwen2), str(other)))
    assert experiments_cli(["run", str(path), "--limit-queries", "3", "--output-dir", str(out)]) == 2
    assert (f"reasonrank-7b on cranfield holds a finished run made with --model {tiny_qwen2} → now {other}"
            in capsys.readouterr().err)


def test_missing_parts_are_reported_and_the_rest_runs(bright_imported, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "biology.trec").symlink_to(BRIGHT_FIRST_STAGE / "biology.reasonir-gpt4cot.top100.trec")
    experiment = write_experiment(tmp_path, {
        "first_stage": {"name": "reasonir", "runs": str(runs), "pattern": "{subset}.trec"},
        "datasets": ["bright-biology", "bright-pony"],
        "systems": [{"name": "llm", "reranker": "reasonrank", "model": str(tmp_path / "no-model"), "backend": "hf"},
                    {"name": "oracle", "reranker": "oracle"}]})
    result = run_experiment(load_experiment(experiment), tmp_path / "out", progress=False)
    assert set(result.finished) == {("biology", "reasonir"), ("biology", "oracle")}
    reasons = {(m.dataset, m.row): m.reason for m in result.missing}
    assert "github.com/8421BCD/ReasonRank" in reasons[("pony", "reasonir")]
    assert "runs/pony/reasonir_gpt4cot_top100.txt" in reasons[("pony", "reasonir")]
    # the passages' index is checked before any model is loaded
    assert "cannot download the prebuilt index 'bright-biology'" in reasons[("biology", "llm")]
    report = build_report(load_experiment(experiment), tmp_path / "out")
    assert ("pony", "oracle") in report.missing() and "Not run yet (4)" in report.markdown()
    published = hashlib.sha256((BRIGHT_FIRST_STAGE / "biology.reasonir-gpt4cot.top100.trec").read_bytes()).hexdigest()
    for row in ("reasonir", "oracle"):  # the published run's digest goes with every number made from it
        assert report.provenance[(row, "biology")]["first_stage_sha256"] == published
    assert f"sha256 `{published}`" in report.markdown()


@pytest.mark.slow
def test_missing_model_says_how_to_get_it(cranfield, tmp_path):
    experiment = write_experiment(tmp_path, {"datasets": ["cranfield"], "systems": [
        {"name": "llm", "reranker": "reasonrank", "model": str(tmp_path / "no-model"), "backend": "hf"}]})
    result = run_experiment(load_experiment(experiment), tmp_path / "out", limit_queries=1, progress=False)
    assert result.finished == [("cranfield", "bm25")]
    (missing,) = result.missing
    assert "no-model" in missing.reason and "huggingface-cli download" in missing.reason


def write_experiment(tmp_path, data):
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({"name": "check", **data}))
    return path


GOOD_SYSTEM = {"name": "rr", "reranker": "reasonrank", "model": "some/model", "backend": "hf"}


@pytest.mark.parametrize("change, message", [
    ({"datasets": ["bright-biolgy"]}, "unknown dataset 'bright-biolgy'"),
    ({"datasets": ["beir/scifactt/test"]}, "Did you mean: beir/scifact/test"),
    ({"metrics": ["nDGC@10"]}, "unknown measure 'nDGC@10'"),
    ({"systems": [{**GOOD_SYSTEM, "backend": "vlm"}]}, "unknown backend 'vlm'"),
    ({"systems": [{**GOOD_SYSTEM, "reranker": "reasonrnak"}]}, "unknown reranker 'reasonrnak'"),
    ({"systems": [{**GOOD_SYSTEM, "windw": 10}]}, "unknown setting 'windw'"),
    ({"systems": [{**GOOD_SYSTEM, "window": 0}]}, "window must be a positive integer"),
    ({"systems": [{"name": "rr", "reranker": "reasonrank"}]}, "needs model:"),
    ({"first_stage": {"published": {"biolgy": 1.0}}}, "unknown dataset 'biolgy': not a dataset of this experiment"),
    ({"first_stage": {"runs": "somewhere", "pattern": "run.txt"}}, "must contain {subset}"),
])
def test_bad_yaml_fails_before_any_work(change, message, tmp_path, capsys):
    data = {"datasets": ["bright-biology"], "metrics": ["nDCG@10"], "systems": [GOOD_SYSTEM], **change}
    path = write_experiment(tmp_path, data)
    out = tmp_path / "out"
    assert experiments_cli(["run", str(path), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and "Traceback" not in err
    assert not out.exists()  # nothing was started
    with pytest.raises(ReasonRankError, match="experiment.yaml"):
        load_experiment(path)


def test_cli_names_and_selection(capsys):
    assert experiments_cli(["report", "bright-orcale"]) == 2
    assert "Did you mean: bright-oracle" in capsys.readouterr().err
    assert experiments_cli(["run", "bright-oracle", "--only", "biolgy"]) == 2
    assert "Did you mean: biology" in capsys.readouterr().err
    experiment = load_experiment(EXPERIMENTS / "bright-oracle.yaml").only(["pony", "bright-biology"])
    assert [d.name for d in experiment.datasets] == ["pony", "biology"]
    names = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))
    assert names == ["beir-bm25-reasonrank7b", "bright-bm25", "bright-leaderboard", "bright-oracle",
                     "bright-reasonir-reasonrank32b", "bright-reasonir-reasonrank7b", "cranfield-lab"]


def my_lab(tmp_path, **changes):
    """The packaged cranfield-lab copied to ./experiments/mylab.yaml as a user would, oracle row only,
    with ``changes`` applied (``first_stage``/``metrics`` keys, the rest to the oracle)."""
    data = yaml.safe_load((EXPERIMENTS / "cranfield-lab.yaml").read_text())
    data["name"], data["systems"] = "mylab", data["systems"][:1]
    for key, value in changes.items():
        if key == "first_stage":
            data["first_stage"].update(value)
        elif key == "metrics":
            data["metrics"] = value
        else:
            data["systems"][0][key] = value
    path = tmp_path / "experiments" / "mylab.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def lab(*argv):
    return experiments_cli([*argv, "--output-dir", "out"])


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith("report.")}


@pytest.mark.slow
def test_changed_settings_are_refused_and_overwrite_redoes_only_those(cranfield, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    my_lab(tmp_path)
    assert lab("run", "mylab", "--limit-queries", "3") == 0
    before = json.loads((tmp_path / "out" / "report.json").read_text())
    oracle = next(c for c in before["cells"] if c["system"] == "oracle")
    assert oracle["stale"] is None and oracle["scores"]["nDCG@10"] > 0
    files = snapshot(tmp_path / "out")
    capsys.readouterr()

    # the case: window 10/5 -> 4/2 is refused before any work, in one line, and the report hides the number
    my_lab(tmp_path, window=4, step=2)
    assert lab("run", "mylab", "--limit-queries", "3") == 2
    err = capsys.readouterr().err
    assert err == ("error: oracle on cranfield holds a finished run made with --window 10 → now 4: pass --overwrite "
                   "to redo the changed parts only (python -m reasonrank_ir.experiments run "
                   f"{tmp_path / 'experiments' / 'mylab.yaml'} --overwrite), or give the system a new name:\n")
    assert snapshot(tmp_path / "out") == files
    assert lab("report", "mylab") == 0
    table = capsys.readouterr().out
    old = f"{100 * oracle['scores']['nDCG@10']:.2f}"
    assert "| Oracle (qrels order each window) | stale | – |" in table and old not in table
    assert "Stale (1), not shown" in table and "cranfield × oracle (--window 10 → 4)" in table
    assert "run " in table and "--overwrite` (redoes only the changed parts)" in table

    # every setting that shapes a run is caught, the first stage's too (systems over it with it)
    for change, named in [({"model": "liuwenhan/reasonrank-7B", "reranker": "reasonrank"}, "--rerank oracle"),
                          ({"depth": 10}, "--depth 20 → now 10"),
                          ({"passage_tokens": 64}, "--passage-tokens 100 → now 64"),
                          ({"first_stage": {"hits": 50}}, "bm25 on cranfield holds a finished run made with "
                                                          "--hits 100 → now 50 (and 1 more changed parts)"),
                          ({"first_stage": {"k1": 1.2}}, "--k1 0.9 → now 1.2")]:
        my_lab(tmp_path, **change)
        assert lab("run", "mylab", "--limit-queries", "3") == 2
        assert named in capsys.readouterr().err
    assert lab("run", "mylab") == 2  # all queries is another job than the first 3
    assert "--limit-queries 3 → now (not set)" in capsys.readouterr().err
    assert snapshot(tmp_path / "out") == files

    # metrics change the report, not the run: nothing is redone, the new measure is scored from the runs
    my_lab(tmp_path, metrics=["nDCG@10", "P@5"])
    result = run_experiment(load_experiment("mylab"), "out", limit_queries=3, progress=False)
    assert result.skipped == [] and sorted(result.finished) == [("cranfield", "bm25"), ("cranfield", "oracle")]
    assert all(snapshot(tmp_path / "out")[name] == files[name] for name in files if not name.endswith(".eval.json"))
    assert "P@5" in json.loads((tmp_path / "out" / "cranfield.oracle.eval.json").read_text())["aggregate"]

    # --overwrite redoes the oracle only, and its number is what search makes with window 4, step 2
    my_lab(tmp_path, window=4, step=2, metrics=["nDCG@10", "P@5"])
    result = run_experiment(load_experiment("mylab"), "out", limit_queries=3, progress=False, overwrite=True)
    assert result.redone == [("cranfield", "oracle")] and result.skipped == [("cranfield", "bm25")]
    now = snapshot(tmp_path / "out")
    assert now["cranfield.bm25.txt"] == files["cranfield.bm25.txt"]
    assert now["cranfield.oracle.txt"] != files["cranfield.oracle.txt"]
    assert json.loads(now["cranfield.oracle.settings.json"])["settings"]["--window"] == 4
    from reasonrank_ir.search import main as search

    capsys.readouterr()
    assert search(["--index", "cranfield", "--limit-queries", "3", "--rerank", "oracle", "--depth", "20",
                   "--window", "4", "--step", "2", "--output", "alone.txt"]) == 0
    alone = float(capsys.readouterr().out.split()[-1])
    assert lab("report", "mylab") == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    oracle = next(c for c in report["cells"] if c["system"] == "oracle")
    assert oracle["stale"] is None and round(oracle["scores"]["nDCG@10"], 4) == alone
    assert "stale" not in capsys.readouterr().out

    # an unfinished part resumes at window level, and refuses changed settings the same way
    run = tmp_path / "out" / "cranfield.oracle.txt"
    whole = run.read_bytes()
    run.write_bytes(whole[:100])
    windows = (tmp_path / "out" / "cranfield.oracle.traces.jsonl").read_text().count("\n")
    my_lab(tmp_path, window=4, step=2, depth=10, metrics=["nDCG@10", "P@5"])
    assert lab("run", "mylab", "--limit-queries", "3") == 2
    assert (f"oracle on cranfield holds an unfinished job ({windows} windows) made with --depth 20 → now 10"
            in capsys.readouterr().err)
    my_lab(tmp_path, window=4, step=2, metrics=["nDCG@10", "P@5"])
    result = run_experiment(load_experiment("mylab"), "out", limit_queries=3, progress=False)
    assert result.redone == [] and ("cranfield", "oracle") not in result.skipped and run.read_bytes() == whole
    finished = json.loads((tmp_path / "out" / "cranfield.oracle.settings.json").read_text())["finished"]
    assert finished["replayed_windows"] == finished["windows"] == windows  # all from the journal

    # a folder of an earlier version (a topics marker, no settings) is refused too, then redone part by part
    (tmp_path / "out" / "cranfield.bm25.settings.json").unlink()
    (tmp_path / "out" / "cranfield.bm25.txt.topics").write_text("1\n2\n3\n")
    assert lab("run", "mylab", "--limit-queries", "3") == 2
    assert "bm25 on cranfield has out/cranfield.bm25.txt without readable settings" in capsys.readouterr().err
    result = run_experiment(load_experiment("mylab"), "out", limit_queries=3, progress=False, overwrite=True)
    assert result.redone == [("cranfield", "bm25")] and result.skipped == [("cranfield", "oracle")]
    assert not (tmp_path / "out" / "cranfield.bm25.txt.topics").exists()


@pytest.mark.slow
def test_provenance_names_the_command_that_makes_the_same_run(cranfield, tmp_path, monkeypatch, capsys):
    import hashlib
    import shlex

    from reasonrank_ir.search import main as search

    monkeypatch.chdir(tmp_path)
    my_lab(tmp_path, depth=10, window=5, step=5)
    assert lab("run", "mylab", "--limit-queries", "2") == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    markdown = (tmp_path / "out" / "report.md").read_text()
    capsys.readouterr()
    for cell in report["cells"]:
        made = cell["provenance"]
        record = json.loads((tmp_path / "out" / f"cranfield.{cell['system']}.settings.json").read_text())
        assert made["settings"] == record["settings"] and made["reasonrank_ir"] == record["reasonrank_ir"]
        assert made["settings_sha256"] == hashlib.sha256(json.dumps(record["settings"], sort_keys=True)
                                                         .encode()).hexdigest()
        assert made["date"] == record["finished"]["date"] and made["queries"] == 2 and made["limit_queries"] == 2
        assert made["command"] in markdown and made["settings_sha256"][:12] in markdown
        argv = shlex.split(made["command"])
        assert argv[:3] == ["python", "-m", "reasonrank_ir.search"]
        assert argv[argv.index("--output") + 1] == f"out/cranfield.{cell['system']}.txt"
        assert search(argv[3:]) == 0  # the experiment's run is that command's run: no work
        assert f"already complete: out/cranfield.{cell['system']}.txt" in capsys.readouterr().err
    oracle = next(c["provenance"] for c in report["cells"] if c["system"] == "oracle")
    assert (oracle["windows"], oracle["prompt_tokens"], oracle["output_tokens"]) == (2 * 2, 0, 0)

    # and the other way round: the printed commands run first, then the experiment takes their runs as its own
    assert experiments_cli(["show", "--commands", "mylab", "--limit-queries", "2", "--output-dir", "again"]) == 0
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert [c[c.index("--output") + 1] for c in commands] == ["again/cranfield.bm25.txt", "again/cranfield.oracle.txt"]
    for argv in commands:
        assert search(argv[3:]) == 0
    result = run_experiment(load_experiment("mylab"), "again", limit_queries=2, progress=False)
    assert sorted(result.finished) == [("cranfield", "bm25"), ("cranfield", "oracle")]
    for row in ("bm25", "oracle"):
        assert (tmp_path / "again" / f"cranfield.{row}.txt").read_bytes() == \
            (tmp_path / "out" / f"cranfield.{row}.txt").read_bytes()


@pytest.mark.parametrize("system", [
    {"name": "oracle", "reranker": "oracle", "depth": 30, "window": 8, "step": 3, "passes": 2},
    {"name": "served", "reranker": "reasonrank", "model": "liuwenhan/reasonrank-7B", "backend": "openai",
     "options": {"base_urls": ["http://b:8000/v1", "http://a:8000/v1"], "api_key": "secret", "concurrency": 4,
                 "endpoint": "completions", "timeout": 30.5}, "max_tokens": 1024},
    {"name": "gguf", "reranker": "rankgpt", "model": "models/x.gguf", "backend": "llamacpp",
     "options": {"n_ctx": 8192, "n_gpu_layers": -1, "chat_format": "chatml", "n_batch": 64}, "passage_tokens": 64},
    {"name": "hf", "reranker": "qwen3", "model": "m", "tokenizer": "t", "backend": "hf",
     "options": {"dtype": "bfloat16", "device": "cpu"}, "batch_size": 3},
])
@pytest.mark.parametrize("first_stage", [{"hits": 50, "k1": 1.2, "b": 0.5, "remove_query": True},
                                         {"name": "published", "runs": "{runs}", "pattern": "{subset}.trec"}])
def test_printed_command_is_the_same_job_for_search(system, first_stage, tmp_path, monkeypatch):
    """The search flags of an experiment part's printed command give search the part's very settings."""
    import shlex

    from reasonrank_ir.experiments.runner import plan
    from reasonrank_ir.pipeline.job_spec import shell_line
    from reasonrank_ir.search import build_parser, job_spec, reranker_spec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "cranfield.trec").write_text("1 Q0 184 1 1.0 x\n")
    (tmp_path / "topics.tsv").write_text("1\tflow\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.gguf").write_bytes(  # engine options are checked against the file: a whole GGUF
        b"GGUF" + (3).to_bytes(4, "little") + bytes(16))  # version 3, no tensors, no metadata
    first_stage = {k: v.replace("{runs}", str(tmp_path / "runs")) if k == "runs" else v
                   for k, v in first_stage.items()}
    experiment = load_experiment(write_experiment(tmp_path, {
        "first_stage": first_stage, "datasets": [{"dataset": "cranfield", "topics": "topics.tsv"}],
        "systems": [system]}))
    (parts, missing) = plan(experiment, "out", limit_queries=7)
    assert not missing and [p.row for p in parts] == [experiment.first_stage.name, system["name"]]
    for part in parts:
        line = shell_line(part.command(experiment.metrics))
        assert "secret" not in line
        args = build_parser().parse_args(shlex.split(line)[3:])
        spec = reranker_spec(args) if args.rerank != "none" else None
        assert job_spec(args, spec).settings(part.passage_tokens) == part.settings()
        assert args.output == f"out/cranfield.{part.row}.txt" and args.metrics == ["nDCG@10"]
    recorded = parts[1].settings()
    assert "secret" not in json.dumps(recorded) and "--backend-option concurrency" not in recorded
