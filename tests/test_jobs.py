"""Long jobs: settings beside the run, the traces as the journal, whole run files, kill -9 and Ctrl-C.

The CLI runs in-process where nothing is killed; killed jobs are subprocesses, reranking through a
llama.cpp server (``kill -9``) or a slow scripted server once Java is loaded (Ctrl-C). A counting proxy
in front of the server says which windows a resumed job asked for.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import QWEN_TOKENIZER
from replay_server import LoopbackServer, ReplayServer
from reasonrank_ir import ReasonRankError, __version__, pipeline
from reasonrank_ir.io import replaced_atomically
from reasonrank_ir.io.requests import write_requests
from reasonrank_ir.io.topics import write_topics
from reasonrank_ir.io.traces import TraceJournal, read_traces
from reasonrank_ir.search import build_parser, default_output
from reasonrank_ir.search import main as search


def topics_file(cranfield, path: Path, count: int) -> Path:
    write_topics(dict(list(cranfield.topics().items())[:count]), path)
    return path


def oracle(topics: Path, output: Path, *extra: str) -> list[str]:
    """3 windows per query: [10,20), [5,15), [0,10)."""
    return ["--index", "cranfield", "--topics", str(topics), "--hits", "20", "--rerank", "oracle", "--depth", "20",
            "--window", "10", "--step", "5", "--output", str(output), *extra]


@pytest.mark.slow
def test_settings_guard_finished_runs_and_a_cut_run_file_is_rebuilt(cranfield, tmp_path, capsys):
    topics = topics_file(cranfield, tmp_path / "topics.tsv", 3)
    output = tmp_path / "run.txt"
    traces = tmp_path / "run.traces.jsonl"
    assert search(oracle(topics, output)) == 0
    finished, journal = output.read_bytes(), traces.read_bytes()
    record = json.loads((tmp_path / "run.settings.json").read_text())
    assert record["reasonrank_ir"] == __version__ and record["finished"]["queries"] == 3
    assert record["settings"]["--window"] == 10 and record["settings"]["--topics"].startswith("topics.tsv sha256:")
    capsys.readouterr()

    for again in ([], ["--resume"]):  # the same job again is no overwrite, and no work
        assert search(oracle(topics, output, *again)) == 0
        assert f"already complete: {output}" in capsys.readouterr().err
        assert (output.read_bytes(), traces.read_bytes()) == (finished, journal)
    assert search(oracle(topics, output, "--window", "8", "--resume")) == 2
    assert capsys.readouterr().err == (f"error: cannot --resume {output}: it was started with --window 10, now 8; "
                                       "rerun with its settings, or pass --overwrite to start again\n")
    assert search(oracle(topics, output, "--depth", "30")) == 2
    assert f"{output} holds a finished run made with --depth 20, now 30: pass --overwrite" in capsys.readouterr().err
    assert output.read_bytes() == finished

    output.write_bytes(finished[:len(finished) // 2 + 7])  # killed mid-write by a writer that was not atomic
    assert search(oracle(topics, output)) == 2
    assert "is an unfinished job with these settings (9 windows done): add --resume" in capsys.readouterr().err
    assert search(oracle(topics, output, "--resume")) == 0
    assert f"resumed: 9 windows replayed from {traces}" in capsys.readouterr().err
    assert (output.read_bytes(), traces.read_bytes()) == (finished, journal)

    assert search(oracle(topics, output, "--window", "8", "--overwrite")) == 0
    assert json.loads((tmp_path / "run.settings.json").read_text())["settings"]["--window"] == 8
    stranger = tmp_path / "stranger.txt"
    stranger.write_text("1 Q0 184 1 1.0 x\n")
    assert search(oracle(topics, stranger)) == 2
    assert "stranger.txt exists but was not written by this job" in capsys.readouterr().err
    assert stranger.read_text() == "1 Q0 184 1 1.0 x\n"


def test_default_names_say_what_selects_the_work(tmp_path):
    first, second = tmp_path / "a.tsv", tmp_path / "b.tsv"
    first.write_text("1\tfirst\n")
    second.write_text("1\tsecond\n")

    def name(*argv):
        return default_output(build_parser().parse_args(["--index", "cranfield", *argv]))

    assert name() == Path("runs/run.cranfield.bm25.top100.txt")
    assert re.fullmatch(r"runs/run\.cranfield\.a-[0-9a-f]{6}\.bm25\.top20\.txt", str(name("--topics", str(first),
                                                                                          "--hits", "20")))
    assert len({name("--topics", str(first)), name("--topics", str(second)), name("--topics", "dl19-passage"),
                name("--hits", "50"), name("--run", str(first))}) == 5
    assert name("--rerank", "oracle").name == "run.cranfield.bm25.top100.oracle-w20s10.txt"


class CountingProxy(LoopbackServer):
    """Forwards POSTs on 127.0.0.1 to a model server and counts them: what the model was asked."""

    def __init__(self, target: str) -> None:
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    outer.count += 1
                forward = urllib.request.Request(target.removesuffix("/v1") + self.path, data=body,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(forward, timeout=300) as answer:
                    data = answer.read()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the asking job was killed
                    pass

            def log_message(self, *args) -> None:
                pass

        self.serve(Handler)


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def start_job(argv: list[str], cwd: Path) -> subprocess.Popen:
    """The search CLI in its own process, taking Ctrl-C as a terminal's job does even when the tests run
    in the background (where a shell starts them with SIGINT ignored, which the child would inherit)."""
    return subprocess.Popen([sys.executable, "-m", "reasonrank_ir.search", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_windows(job: subprocess.Popen, traces: Path, count: int, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while complete_lines(traces) < count:
        assert job.poll() is None, job.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"fewer than {count} windows in {seconds} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_loses_only_windows_in_flight(llama_server, cranfield, tmp_path):
    """Killed after some windows, ``--resume`` asks the server only for windows without a complete trace line
    and writes the run an uninterrupted job writes, byte for byte."""
    topics = dict(list(cranfield.topics().items())[:2])
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=6))
    requests = tmp_path / "requests.jsonl"  # passages included: the jobs need no index
    write_requests([pipeline.attach_passages(cranfield, ranking, 6) for ranking in first], requests)
    proxy = CountingProxy(llama_server)

    def argv(output: Path) -> list[str]:  # 3 windows per query: [3,6), [1,4), [0,2)
        return ["--index", "cranfield", "--run", str(requests), "--rerank", "reasonrank", "--backend", "openai",
                "--model", "smollm2", "--base-url", proxy.url, "--tokenizer", str(QWEN_TOKENIZER), "--depth", "6",
                "--window", "3", "--step", "2", "--passage-tokens", "12", "--max-tokens", "8", "--output", str(output)]

    whole, cut = tmp_path / "whole" / "run.txt", tmp_path / "cut" / "run.txt"
    try:
        assert search(argv(whole)) == 0
        assert proxy.count == 6
        job = start_job(argv(cut), tmp_path)
        wait_for_windows(job, cut.with_name("run.traces.jsonl"), 2)
        job.send_signal(signal.SIGKILL)
        job.communicate()
        saved = complete_lines(cut.with_name("run.traces.jsonl"))
        assert 2 <= saved < 6 and not cut.exists()
        proxy.count = 0
        assert search([*argv(cut), "--resume"]) == 0
        assert proxy.count == 6 - saved
    finally:
        proxy.close()
    assert cut.read_bytes() == whole.read_bytes()

    def windows(path):
        return sorted((t.query_id, t.start, t.doc_ids, t.response) for t in read_traces(path))

    assert windows(cut.with_name("run.traces.jsonl")) == windows(whole.with_name("run.traces.jsonl"))


def reversed_answer(body: dict) -> tuple[str, None]:
    time.sleep(0.3)  # slow enough to interrupt in the middle
    num = int(re.search(r"I will provide you with (\d+) passages", body["messages"][-1]["content"]).group(1))
    return "<think>x</think><answer>" + " > ".join(f"[{i}]" for i in range(num, 0, -1)) + "</answer>", None


@pytest.mark.slow
def test_ctrl_c_with_java_loaded_says_and_keeps_what_is_saved(cranfield, tmp_path, monkeypatch):
    topics = topics_file(cranfield, tmp_path / "topics.tsv", 3)
    server = ReplayServer(reversed_answer)
    argv = ["--index", "cranfield", "--topics", str(topics), "--hits", "6", "--rerank", "reasonrank",
            "--backend", "openai", "--model", "m", "--base-url", server.url, "--tokenizer", str(QWEN_TOKENIZER),
            "--depth", "6", "--window", "3", "--step", "2", "--passage-tokens", "12", "--output", "run.txt"]
    try:
        job = start_job(argv, tmp_path)  # BM25 first: Java is loaded before the first window
        wait_for_windows(job, tmp_path / "run.traces.jsonl", 2)
        job.send_signal(signal.SIGINT)
        _, err = job.communicate(timeout=30)
        assert job.returncode == 130
        assert err.splitlines()[-1] == ("interrupted: finished work is saved; rerun with --resume where the "
                                        "command has it")
        saved = len(read_traces(tmp_path / "run.traces.jsonl"))  # every line whole
        assert 2 <= saved < 9
        asked = len(server.requests)
        monkeypatch.chdir(tmp_path)
        assert search([*argv, "--resume"]) == 0
        assert len(server.requests) - asked == 9 - saved
    finally:
        server.close()


def test_the_journal_replays_only_windows_of_the_same_documents(tmp_path):
    from reasonrank_ir.rerank.listwise import WindowRequest, WindowTrace
    from reasonrank_ir.types import Query

    path = tmp_path / "run.traces.jsonl"
    trace = WindowTrace("q", 0, 0, 2, 10, 5, 0.1, "ok", (1, 0), "<answer>[2] > [1]</answer>", ("a", "b"))
    with TraceJournal(path) as journal:
        journal.record(trace)
    path.write_text(path.read_text() + '{"query_id": "q", "pass_ind')  # a line cut by kill -9
    with TraceJournal(path, resume=True) as journal:
        assert journal.replay(WindowRequest(Query("q", "x"), 0, 0, 2, ("a", "b"))) == trace
        assert journal.replay(WindowRequest(Query("q", "x"), 0, 1, 3, ("b", "c"))) is None
        with pytest.raises(ReasonRankError, match=r"window \[0, 2\) of query q holds other documents"):
            journal.replay(WindowRequest(Query("q", "x"), 0, 0, 2, ("b", "a")))
        assert journal.replayed == 1
    assert read_traces(path) == [trace]  # the cut line is gone


def test_files_are_replaced_whole(tmp_path):
    path = tmp_path / "run.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), replaced_atomically(path) as handle:
        handle.write("half of the new")
        raise RuntimeError("killed")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["run.txt"]


def instant_answer(body: dict) -> tuple[str, None]:
    num = int(re.search(r"I will provide you with (\d+) passages", body["messages"][-1]["content"]).group(1))
    return "<think>x</think><answer>" + " > ".join(f"[{i}]" for i in range(num, 0, -1)) + "</answer>", None


@pytest.mark.slow
def test_resume_compares_the_engine_its_urls_and_options(cranfield, tmp_path, capsys):
    """A job of one engine or server never continues on another (issue 19.7); request pacing and secrets
    are not settings: they are not recorded, and may change on resume."""
    topics = topics_file(cranfield, tmp_path / "topics.tsv", 2)
    output = tmp_path / "run.txt"
    server = ReplayServer(instant_answer)
    argv = ["--index", "cranfield", "--topics", str(topics), "--hits", "6", "--rerank", "reasonrank",
            "--backend", "openai", "--model", "m", "--base-url", server.url, "--tokenizer", str(QWEN_TOKENIZER),
            "--depth", "6", "--window", "3", "--step", "2", "--passage-tokens", "12", "--output", str(output)]
    try:
        assert search(argv) == 0
        finished = output.read_bytes()
        record = json.loads((tmp_path / "run.settings.json").read_text())["settings"]
        assert (record["--backend"], record["--base-url"]) == ("openai", [server.url])
        output.write_bytes(finished[:40])  # an unfinished job with its journal
        capsys.readouterr()
        for change, named in [(["--base-url", "http://127.0.0.1:9/v1"],
                               f"--base-url ['{server.url}'], now ['http://127.0.0.1:9/v1']"),
                              (["--backend-option", "endpoint=completions"],
                               "--backend-option endpoint None, now completions"),
                              (["--endpoint", "completions"], "--backend-option endpoint None, now completions"),
                              (["--backend", "auto"], "--backend openai, now auto")]:
            changed = [*argv, *change] if change[0] != "--base-url" else \
                [a if a != server.url else change[1] for a in argv]
            asked = len(server.requests)
            assert search([*changed, "--resume"]) == 2
            assert capsys.readouterr().err == (f"error: cannot --resume {output}: it was started with {named}; "
                                               "rerun with its settings, or pass --overwrite to start again\n")
            assert len(server.requests) == asked
        asked = len(server.requests)
        assert search([*argv, "--resume", "--concurrency", "2", "--api-key", "secret-key"]) == 0
        assert len(server.requests) == asked and output.read_bytes() == finished  # all windows replayed
        assert "secret-key" not in (tmp_path / "run.settings.json").read_text()
    finally:
        server.close()


def test_the_engine_auto_picked_binds_an_unfinished_job_only(tmp_path):
    """``--backend auto`` may pick another engine on another machine: a finished run stays its flags' run
    (its record says which engine made it), but an unfinished job never continues on another engine."""
    from reasonrank_ir import job
    from reasonrank_ir.types import Candidate, Query, Ranking, Run

    files = job.OutputFiles.beside(tmp_path / "run.txt")
    made = {"--backend": "auto", "engine": "vllm", "--window": 20}
    elsewhere = {**made, "engine": "hf"}
    assert job.start(files, made) is False
    files.traces.write_text('{"query_id": "1"}\n')  # one journaled window
    assert job.conflict(files, elsewhere) == job.Conflict("engine", "vllm", "hf", False, 1)
    with pytest.raises(ReasonRankError, match=r"cannot --resume .*run.txt: it was started with engine vllm, now hf"):
        job.start(files, elsewhere, resume=True)
    job.finish(files, Run({"1": Ranking(Query("1", "q"), (Candidate("d", 1.0),))}))
    assert job.conflict(files, elsewhere) is None and job.start(files, elsewhere) is True
    assert job.conflict(files, {**elsewhere, "--window": 10}).key == "--window"
    assert job.recorded(files)["settings"]["engine"] == "vllm"  # what made it, kept


class FailingOnce(LoopbackServer):
    """Reversed answers after ``delay`` s, except one window that the server refuses (HTTP 400) while ``broken``."""

    def __init__(self, delay: float):
        self.requests: list[str] = []
        self.broken = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                outer.requests.append(prompt)
                refuse = outer.broken and len(outer.requests) == 4
                if not refuse:
                    time.sleep(delay)
                content, _ = reversed_answer(body) if not refuse else ("", None)
                answer = json.dumps(
                    {"error": {"message": "prompt too long"}} if refuse else
                    {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                self.send_response(400 if refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.serve(Handler)


@pytest.mark.slow
def test_a_failed_request_stops_the_job_at_once_and_resume_asks_only_the_rest(cranfield, tmp_path, monkeypatch,
                                                                                capsys):
    """The 4th request is refused: the job stops with that line while other queries' windows are in flight
    (their chains start no further window); what finished is journaled, and --resume asks for the rest."""
    topics = topics_file(cranfield, tmp_path / "topics.tsv", 4)
    server = FailingOnce(delay=0.5)
    argv = ["--index", "cranfield", "--topics", str(topics), "--hits", "6", "--rerank", "reasonrank",
            "--backend", "openai", "--model", "m", "--base-url", server.url, "--tokenizer", str(QWEN_TOKENIZER),
            "--depth", "6", "--window", "3", "--step", "2", "--passage-tokens", "12", "--output", "run.txt",
            "--concurrency", "3", "--backend-option", "max_retries=3"]
    monkeypatch.chdir(tmp_path)
    try:
        assert search(argv) == 2
        assert "refused the request with HTTP 400: prompt too long" in capsys.readouterr().err
        saved = len(read_traces(tmp_path / "run.traces.jsonl"))
        asked = len(server.requests)
        assert saved < 12 and asked < 12  # 4 queries x 3 windows were due; the job stopped well before
        assert not (tmp_path / "run.txt").exists()
        server.broken = False
        assert search([*argv, "--resume"]) == 0
        assert len(server.requests) - asked == 12 - saved
        assert len(read_traces(tmp_path / "run.traces.jsonl")) == 12
    finally:
        server.close()
