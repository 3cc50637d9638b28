"""``search --backend vllm`` end to end on Cranfield with the real engine (vLLM's CPU build in .venv-vllm).

Each job is its own process with its own engine, as a user runs it: a whole job, a job killed with
``kill -9`` and resumed under ``--backend auto`` (which must pick vLLM here), and engine options vLLM
refuses, which must fail in one line before the first stage runs (in-process: no engine starts).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require_vllm
from reasonrank_ir.io.topics import write_topics
from reasonrank_ir.io.traces import read_traces
from reasonrank_ir.io.trec import read_run

require_vllm()
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.pyserini]

ENGINE = ["--backend-option", "enforce_eager=true", "--backend-option", "dtype=float32",
          "--max-model-len", "4096"]
WINDOWS = 4 * 5
"""4 queries, depth 30, window 10, step 5: windows [20,30), [15,25), [10,20), [5,15), [0,10) each."""


def argv(topics: Path, model: Path, output: Path, backend: str = "vllm") -> list[str]:
    return ["--index", "cranfield", "--topics", str(topics), "--hits", "30", "--rerank", "reasonrank",
            "--model", str(model), "--backend", backend, *ENGINE, "--depth", "30", "--window", "10",
            "--step", "5", "--passage-tokens", "20", "--max-tokens", "48", "--output", str(output)]


def search(args: list[str], cwd: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "reasonrank_ir.search", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ), **popen)


def finish(job: subprocess.Popen) -> tuple[str, str]:
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err[-3000:]
    return out, err


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


@pytest.fixture(scope="module")
def topics(cranfield, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("topics") / "topics.tsv"
    write_topics(dict(list(cranfield.topics().items())[:4]), path)
    return path


@pytest.fixture(scope="module")
def whole(topics, tiny_qwen2_vllm, tmp_path_factory) -> tuple[Path, str]:
    """One uninterrupted job on the vllm backend."""
    folder = tmp_path_factory.mktemp("whole")
    _, err = finish(search(argv(topics, tiny_qwen2_vllm, folder / "run.txt"), folder))
    return folder / "run.txt", err


def test_search_reranks_cranfield_on_the_vllm_engine(whole, topics, tiny_qwen2_vllm):
    output, err = whole
    run = read_run(output)
    assert len(run) == 4 and all(len(ranking.candidates) == 30 for ranking in run)
    for ranking in run:
        scores = [c.score for c in ranking.candidates]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) == 30
    traces = read_traces(output.with_name("run.traces.jsonl"))
    assert len(traces) == WINDOWS
    assert all(t.prompt_tokens > 100 and t.output_tokens == 48 and t.finish_reason == "length" for t in traces)
    assert f"reranker: reasonrank with {tiny_qwen2_vllm} on the vllm backend\n" in err
    assert f"reranked 4 queries" in err and f"{WINDOWS} windows" in err
    record = json.loads(output.with_name("run.settings.json").read_text())
    assert record["settings"]["--model"] == str(tiny_qwen2_vllm) and record["finished"]["queries"] == 4
    assert not any("schedule" in key for key in record["settings"])  # it changes speed, not the run


def test_kill_9_then_resume_under_auto_generates_only_missing_windows(whole, topics, tiny_qwen2_vllm, tmp_path):
    """``--backend auto`` picks vLLM here; the resumed job asks the engine only for windows whose trace
    line was not complete, and writes the uninterrupted job's run (greedy decoding)."""
    output = tmp_path / "run.txt"
    traces = tmp_path / "run.traces.jsonl"
    job = search(argv(topics, tiny_qwen2_vllm, output, backend="auto"), tmp_path)
    deadline = time.monotonic() + 300
    while complete_lines(traces) < 2:
        assert job.poll() is None, job.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no window finished in 300 s"
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.communicate()
    saved = complete_lines(traces)
    assert 2 <= saved < WINDOWS and not output.exists()

    _, err = finish(search([*argv(topics, tiny_qwen2_vllm, output, backend="auto"), "--resume"], tmp_path))
    assert "on the vllm backend (--backend auto)" in err
    assert f"resumed: {saved} windows replayed" in err and f"{WINDOWS - saved} windows" in err
    assert output.read_bytes() == whole[0].read_bytes()

    def windows(path):
        return sorted((t.query_id, t.start, t.doc_ids, t.response) for t in read_traces(path))

    assert windows(traces) == windows(whole[0].with_name("run.traces.jsonl"))


@pytest.mark.parametrize("option, message", [
    ("max_model_len=0", "max_model_len must be a positive integer"),
    ("max_num_seqz=4", "backend option 'max_num_seqz'"),
])
def test_engine_options_vllm_refuses_fail_before_the_first_stage(topics, tiny_qwen2_vllm, tmp_path, option,
                                                                 message, capsys):
    """In-process (no engine starts, so no process to spare): exit 2, one line, no file written."""
    from reasonrank_ir.search import main

    args = argv(topics, tiny_qwen2_vllm, tmp_path / "run.txt")
    assert main([*args, "--backend-option", option]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("INFO", "WARNING", "("))]
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "first stage:" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing left behind
