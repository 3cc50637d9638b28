"""Installed anywhere: state goes to $REASONRANK_HOME and the current folder, the embedded Cranfield equals
ir_datasets' copy, experiments and training configs are found by name, and the ``reasonrank`` command."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CRANFIELD_DATA, ROOT
from reasonrank_ir.cli import COMMANDS
from reasonrank_ir.cli import main as reasonrank
from reasonrank_ir.data.embedded import EmbeddedCollection
from reasonrank_ir.io.trec import read_run


_SPEC = importlib.util.spec_from_file_location("wheel_check", ROOT / ".ci" / "wheel_check.py")
WHEEL_CHECK = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(WHEEL_CHECK)
"""CI's wheel check: this test shares its idea of a written file and of the allowed third-party caches."""
files_under, THIRD_PARTY = WHEEL_CHECK.files_under, WHEEL_CHECK.THIRD_PARTY


def cli(*args: str, cwd: Path, home: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m reasonrank_ir.cli ...`` in a fresh process, with HOME and $REASONRANK_HOME of the test."""
    env = {k: v for k, v in os.environ.items() if k not in ("IR_DATASETS_HOME", "PYSERINI_CACHE")}
    env.update(HOME=str(home / "user"), REASONRANK_HOME=str(home / "reasonrank"))
    return subprocess.run([sys.executable, "-m", "reasonrank_ir.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_run_from_an_empty_folder_writes_only_there_and_in_the_home(tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    (home / "user").mkdir(parents=True)
    skip = (".git/", ".venv/", ".pytest_cache/", ".hypothesis/", "tests/.fixtures/")
    checkout_before = files_under(ROOT, skip)

    out = cli("search", "--index", "cranfield", cwd=work, home=home)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"nDCG@10\t0\.\d{4}", out.stdout.strip())  # the value: test_search_cli (same run)

    assert set(files_under(work)) == {"runs/run.cranfield.bm25.top100.txt", "runs/run.cranfield.bm25.top100.settings.json"}
    assert files_under(home / "reasonrank") and all(
        f.startswith("indexes/cranfield/") for f in files_under(home / "reasonrank"))
    assert not files_under(home / "user", THIRD_PARTY)  # no ~/.ir_datasets, ~/.cache/pyserini, ...
    assert files_under(ROOT, skip) == checkout_before


@pytest.mark.slow
def test_embedded_cranfield_is_ir_datasets_copy(cranfield):
    """Record for record what ir_datasets reads from its cache (filled from the shared files)."""
    import ir_datasets

    theirs = ir_datasets.load("cranfield")
    ours = EmbeddedCollection("cranfield")
    assert [(d.doc_id, d.title, d.text) for d in theirs.docs_iter()] == list(ours.docs_iter())
    assert [(q.query_id, q.text) for q in theirs.queries_iter()] == list(ours.queries_iter())
    assert [(q.query_id, q.doc_id, q.relevance) for q in theirs.qrels_iter()] == list(ours.qrels_iter())
    for name in ("cran.all.1400", "cran.qry", "cranqrel"):
        import gzip

        packaged = ROOT / "reasonrank_ir" / "data" / "collections" / "cranfield" / f"{name}.gz"
        assert gzip.decompress(packaged.read_bytes()) == (CRANFIELD_DATA / name).read_bytes()
    assert sum(p.stat().st_size for p in packaged.parent.iterdir()) < 600_000


@pytest.mark.slow
def test_embedded_and_ir_datasets_runs_score_the_same(cranfield, tmp_path):
    """The same search over ir_datasets' cached copy (the session's imported Cranfield) and the embedded one."""
    from reasonrank_ir.search import main as search

    assert search(["--index", "cranfield", "--hits", "10", "--output", str(tmp_path / "irds.txt")]) == 0
    home = tmp_path / "fresh"
    (home / "user").mkdir(parents=True)
    out = cli("search", "--index", "cranfield", "--hits", "10", "--output", str(tmp_path / "embedded.txt"),
              cwd=tmp_path, home=home)
    assert out.returncode == 0, out.stderr
    def lines(name):  # all but the run tag, which is named after the file
        return [line.split()[:5] for line in (tmp_path / name).read_text().splitlines()]

    assert lines("irds.txt") == lines("embedded.txt") and len(read_run(tmp_path / "embedded.txt")) == 225


def test_experiments_are_found_by_name_from_any_folder(tmp_path, monkeypatch, capsys):
    from reasonrank_ir.experiments.__main__ import main as experiments

    monkeypatch.chdir(tmp_path)
    assert experiments(["list"]) == 0
    listed = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines())
    packaged = sorted(p.stem for p in (ROOT / "reasonrank_ir" / "experiments" / "configs").glob("*.yaml"))
    assert sorted(listed) == packaged and "cranfield-lab" in listed
    assert "oracle" in listed["cranfield-lab"]
    assert experiments(["show", "cranfield-lab"]) == 0
    assert capsys.readouterr().out.startswith("# A course lab")
    # a local experiments/NAME.yaml hides the packaged one; a path works wherever a name does
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "cranfield-lab.yaml").write_text("name: mine\n")
    assert experiments(["show", "cranfield-lab"]) == 0 and capsys.readouterr().out == "name: mine\n"
    assert experiments(["show", str(tmp_path / "experiments" / "cranfield-lab.yaml")]) == 0


def test_training_configs_by_name():
    from reasonrank_ir.errors import ReasonRankError
    from reasonrank_ir.train.config import read_config

    assert read_config("sft")["training"]["learning_rate"] == 5e-6  # the paper's SFT learning rate
    with pytest.raises(ReasonRankError, match="packaged configs: grpo, sft"):
        read_config("sfft")


def test_console_command_dispatches_to_the_modules(capsys):
    assert reasonrank(["--help"]) == 0
    usage = capsys.readouterr().out
    assert all(name in usage for name in COMMANDS)
    assert reasonrank(["serch"]) == 2
    assert "Did you mean: search" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        reasonrank(["train", "mine", "--help"])
    assert done.value.code == 0 and "--num-queries" in capsys.readouterr().out
    assert reasonrank(["evaluate", "no-such-run.txt", "--qrels", "cranfield"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
