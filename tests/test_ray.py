"""``--ray``: reranking on Ray actors gives the bytes of a single process, survives a lost node and a killed
driver, and fails in seconds (one line, exit 2) on a cluster it cannot use.

The cluster is a real one simulated on this machine (``ray.cluster_utils.Cluster``: a head without CPUs
and worker nodes of one CPU each, loopback only); the engine is the OpenAI client against a stdlib
server on 127.0.0.1 whose answer depends on the passages (and names the window in its reasoning), and
in one test the llama.cpp GGUF loaded by each actor.
"""
from __future__ import annotations

import hashlib
import json
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from conftest import GGUF, QWEN_TOKENIZER, free_port
from replay_server import ReplayServer
from reasonrank_ir import pipeline
from reasonrank_ir.io.requests import write_requests
from reasonrank_ir.io.traces import read_traces
from reasonrank_ir.search import main as search
from reasonrank_ir.types import Candidate, Query, Ranking
from test_jobs import start_job, wait_for_windows

ray = pytest.importorskip("ray")

PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def window_name(body: dict) -> str:
    return hashlib.sha1(body["messages"][-1]["content"].encode()).hexdigest()[:16]


def hashed_answer(body: dict) -> str:
    """Passages ordered by a hash of their text (so each query's order depends on its own passages);
    the reasoning names the window, so a trace says which request made it."""
    passages = PASSAGE.findall(body["messages"][-1]["content"])
    order = sorted(passages, key=lambda p: hashlib.sha1(p[1].encode()).hexdigest())
    return (f"<think>window {window_name(body)}</think><answer>"
            + " > ".join(f"[{rank}]" for rank, _ in order) + "</answer>")


class GatedServer(ReplayServer):
    """Answers ``hashed_answer`` after ``delay`` s; once ``gate_after`` requests are answered, holds the
    others until ``gate`` is set."""

    def __init__(self, delay: float = 0.0, gate_after: int | None = None) -> None:
        self.gate = threading.Event()
        self.answered = 0
        lock = threading.Lock()

        def reply(body: dict) -> tuple[str, None]:
            with lock:
                hold = gate_after is not None and self.answered >= gate_after
            if hold:
                self.gate.wait(120)
            time.sleep(delay)
            with lock:
                self.answered += 1
            return hashed_answer(body), None

        super().__init__(reply)

    def asked(self, since: int = 0) -> list[str]:
        return [window_name(body) for body in self.requests[since:]]


@pytest.fixture(scope="module")
def cluster():
    """A head that runs no actors and two worker nodes of one CPU each; the driver is this process."""
    from ray.cluster_utils import Cluster

    from reasonrank_ir.java import jvm_fault_handlers_kept

    with jvm_fault_handlers_kept("a simulated Ray cluster"):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 * 2**20,
                                                                "include_dashboard": False})
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        cluster.wait_for_nodes()
    yield cluster
    # ray.shutdown() sets SIGSEGV back to the default action: the JVM of the later tests needs its handler
    with jvm_fault_handlers_kept("Ray's shutdown"):
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def requests_file(cranfield, tmp_path_factory) -> Path:
    """8 cranfield queries with 6 candidates each, passages included (the driver needs no index)."""
    topics = dict(list(cranfield.topics().items())[:8])
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=6))
    path = tmp_path_factory.mktemp("ray") / "requests.jsonl"
    write_requests([pipeline.attach_passages(cranfield, ranking, 6) for ranking in first], path)
    return path


def argv(requests: Path, url: str, output: Path, *extra: str) -> list[str]:
    """3 windows per query: [3,6), [1,4), [0,2)."""
    return ["--index", "cranfield", "--run", str(requests), "--rerank", "reasonrank", "--backend", "openai",
            "--model", "m", "--base-url", url, "--tokenizer", str(QWEN_TOKENIZER), "--depth", "6", "--window", "3",
            "--step", "2", "--passage-tokens", "12", "--output", str(output), *extra]


def windows(path: Path) -> list[tuple]:
    """The traces' content: every field but the time a window took, in a fixed order."""
    return sorted((t.query_id, t.pass_index, t.start, t.end, t.doc_ids, t.order, t.response, t.status,
                   t.prompt_tokens, t.output_tokens) for t in read_traces(path))


UNREPEATABLE = ("date", "seconds", "replayed_windows")
"""What a job's record says of one session (when and how long it ran, what an earlier attempt paid): never equal."""


def record(settings: Path) -> dict:
    """A job's record (``<run>.settings.json``) without what belongs to the session that made it."""
    recorded = json.loads(settings.read_text())
    recorded["settings"].pop("--base-url")  # some tests compare runs made on two fake servers (two ports)
    recorded["finished"] = {k: v for k, v in recorded["finished"].items() if k not in UNREPEATABLE}
    return recorded


def same_files(one: Path, other: Path) -> None:
    assert other.read_bytes() == one.read_bytes()
    assert record(other.with_name("run.settings.json")) == record(one.with_name("run.settings.json"))
    assert record(one.with_name("run.settings.json"))["finished"]["windows"] == len(
        read_traces(one.with_name("run.traces.jsonl")))
    assert windows(other.with_name("run.traces.jsonl")) == windows(one.with_name("run.traces.jsonl"))


@pytest.mark.slow
def test_search_on_ray_gives_the_bytes_of_one_process(cluster, requests_file, tmp_path, capsys):
    server = GatedServer()
    alone, spread = tmp_path / "alone" / "run.txt", tmp_path / "ray" / "run.txt"
    try:
        assert search(argv(requests_file, server.url, alone)) == 0
        assert search(argv(requests_file, server.url, spread, "--ray", cluster.address)) == 0
    finally:
        server.close()
    same_files(alone, spread)
    assert len(read_traces(spread.with_name("run.traces.jsonl"))) == 24
    err = capsys.readouterr().err
    assert "on 2 Ray workers (openai backend each)" in err
    assert "reranked 8 queries" in err and "24 windows" in err and "answers: 24 ok" in err
    # --ray is not a setting: the finished job is the same job, with or without it
    assert search(argv(requests_file, server.url, spread)) == 0  # the server is gone: nothing may be asked
    assert "already complete" in capsys.readouterr().err


@pytest.mark.slow
def test_a_node_lost_mid_job_costs_only_its_batch(cluster, requests_file, tmp_path):
    """A worker node is removed while both actors wait on the server: Ray restarts its actor on a new node and
    retries the batch; the run completes with the same bytes."""
    reference = GatedServer()
    alone = tmp_path / "alone" / "run.txt"
    try:
        assert search(argv(requests_file, reference.url, alone)) == 0
    finally:
        reference.close()
    server = GatedServer(gate_after=4)
    spread = tmp_path / "ray" / "run.txt"
    outcome = {}
    job = threading.Thread(target=lambda: outcome.setdefault(
        "code", search(argv(requests_file, server.url, spread, "--ray", cluster.address))))
    try:
        job.start()
        deadline = time.monotonic() + 120
        while len(server.requests) < 6:  # 4 answered, one held per actor
            assert job.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        spare = cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        cluster.wait_for_nodes()
        lost = next(node for node in cluster.worker_nodes if node is not spare)
        cluster.remove_node(lost)
        server.gate.set()
        job.join(240)
        assert not job.is_alive() and outcome["code"] == 0
    finally:
        server.gate.set()
        server.close()
    assert len(server.requests) > 24  # the lost actor's batch was asked again
    same_files(alone, spread)


@pytest.mark.slow
def test_a_killed_driver_resumes_on_ray_asking_only_missing_windows(cluster, requests_file, tmp_path):
    """kill -9 of a ``--ray`` driver, then ``--resume --ray``: the run is byte-identical to one process's and no
    window in the journal is asked again (actors of the dead driver may still finish a window or two)."""
    server = GatedServer(delay=0.2)
    alone, cut = tmp_path / "alone" / "run.txt", tmp_path / "cut" / "run.txt"
    traces = cut.with_name("run.traces.jsonl")
    try:
        assert search(argv(requests_file, server.url, alone)) == 0
        everything = set(server.asked())
        assert len(everything) == 24
        job = start_job(argv(requests_file, server.url, cut, "--ray", cluster.address), tmp_path)
        wait_for_windows(job, traces, 3)
        job.send_signal(signal.SIGKILL)
        job.communicate()
        journaled = {re.search(r"window (\w+)", t.response).group(1) for t in read_traces(traces)}
        assert 3 <= len(journaled) < 24 and not cut.exists()
        before = len(server.requests)
        assert search([*argv(requests_file, server.url, cut), "--resume", "--ray", cluster.address]) == 0
        asked = set(server.asked(before))
    finally:
        server.close()
    assert not asked & journaled and asked >= everything - journaled
    same_files(alone, cut)


@pytest.mark.slow
def test_a_single_process_job_resumes_on_ray_from_partly_journaled_queries(cluster, requests_file, tmp_path):
    """A journal that holds all, some or none of each query's windows (query i keeps its first i % 4): whole
    queries are replayed on the driver, partial ones carry their windows to the actors, and the server is
    asked exactly the windows the journal lacks."""
    server = GatedServer()
    whole, cut = tmp_path / "whole" / "run.txt", tmp_path / "cut" / "run.txt"
    try:
        assert search(argv(requests_file, server.url, whole)) == 0
        traces = read_traces(whole.with_name("run.traces.jsonl"))
        queries = list(dict.fromkeys(t.query_id for t in traces))
        kept = {}
        for t in traces:  # a query's windows in the order they ran: [3,6), [1,4), [0,2)
            if sum(k[0] == t.query_id for k in kept) < queries.index(t.query_id) % 4:
                kept[(t.query_id, t.start)] = t
        lines = [line for line, t in zip(whole.with_name("run.traces.jsonl").read_text().splitlines(True), traces)
                 if kept.get((t.query_id, t.start)) is t]
        cut.parent.mkdir()
        cut.with_name("run.traces.jsonl").write_text("".join(lines))
        cut.with_name("run.settings.json").write_bytes(whole.with_name("run.settings.json").read_bytes())
        before = len(server.requests)
        assert search([*argv(requests_file, server.url, cut), "--resume", "--ray", cluster.address]) == 0
        asked = server.asked(before)
    finally:
        server.close()
    journaled = {re.search(r"window (\w+)", t.response).group(1) for t in kept.values()}
    assert len(kept) == 12 and sorted(asked) == sorted({re.search(r"window (\w+)", t.response).group(1)
                                                        for t in traces} - journaled)
    assert cut.read_bytes() == whole.read_bytes()
    assert windows(cut.with_name("run.traces.jsonl")) == windows(whole.with_name("run.traces.jsonl"))


@pytest.mark.slow
def test_actors_load_the_gguf_themselves(cluster, cranfield, tmp_path):
    """The llama.cpp engine built inside each actor reranks as the one in this process does (one window a query)."""
    if not GGUF.is_file():
        pytest.skip(f"{GGUF} missing: run scripts/fetch_test_models.sh")
    topics = dict(list(cranfield.topics().items())[:2])
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=4))
    requests = tmp_path / "requests.jsonl"
    write_requests([pipeline.attach_passages(cranfield, ranking, 4) for ranking in first], requests)

    def gguf(output: Path, *extra: str) -> list[str]:
        return ["--index", "cranfield", "--run", str(requests), "--rerank", "reasonrank", "--backend", "llamacpp",
                "--model", str(GGUF), "--tokenizer", str(QWEN_TOKENIZER), "--depth", "3", "--window", "3",
                "--step", "2", "--passage-tokens", "12", "--max-tokens", "8", "--max-model-len", "1024",
                "--backend-option", "n_threads=1", "--output", str(output), *extra]

    alone, spread = tmp_path / "alone" / "run.txt", tmp_path / "ray" / "run.txt"
    assert search(gguf(alone)) == 0
    assert search(gguf(spread, "--ray", cluster.address)) == 0
    same_files(alone, spread)


def test_an_unreachable_cluster_is_one_line(tmp_path, capsys):
    requests = tmp_path / "requests.jsonl"
    write_requests([Ranking(Query("1", "wing flutter"), (Candidate("184", 2.0, {"text": "flutter of wings"}),
                                                         Candidate("29", 1.0, {"text": "heat transfer"})))], requests)
    address = f"127.0.0.1:{free_port()}"
    assert search(argv(requests, "http://127.0.0.1:9/v1", tmp_path / "run.txt", "--ray", address)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: cannot reach the Ray cluster at {address} (")
    assert not (tmp_path / "run.txt").exists() and not (tmp_path / "run.settings.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("extra", "message"), [
    (("--ray-gpus-per-worker", "1"), "error: the Ray cluster has 2 CPUs and 0 GPUs on 3 nodes: not one worker of "
                                     "1 CPU and 1 GPU each fits; lower --ray-workers"),
    (("--ray-workers", "3"), "error: the Ray cluster has 2 CPUs and 0 GPUs on 3 nodes: 3 workers of "
                             "1 CPU and 0 GPU each do not fit (room for 2); lower"),
])
def test_a_cluster_that_cannot_run_the_job_is_one_line(cluster, requests_file, tmp_path, capsys, extra, message):
    output = tmp_path / "run.txt"
    assert search(argv(requests_file, "http://127.0.0.1:9/v1", output, "--ray", cluster.address, *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message) and len(err[-1]) < 400
    assert not output.exists() and not output.with_name("run.settings.json").exists()


@pytest.mark.slow
def test_a_model_the_workers_cannot_load_is_one_line(cluster, requests_file, tmp_path, capsys):
    """A model file that is not there, or cut short, is refused on the driver; one that is whole but that no
    worker can load (a GGUF without tensors) fails as the workers build their engines: one line each, no run."""
    output = tmp_path / "run.txt"
    cut, hollow = tmp_path / "cut.gguf", tmp_path / "hollow.gguf"
    cut.write_bytes(b"GGUF" + bytes(60))
    hollow.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(16))  # version 3, no tensors, no metadata
    for model, expected in ((tmp_path / "absent.gguf", "error: GGUF model file "),
                            (cut, f"error: {cut} is GGUF version 0"),
                            (hollow, "error: a Ray worker cannot build its engine: ")):
        assert search(["--index", "cranfield", "--run", str(requests_file), "--rerank", "reasonrank",
                       "--backend", "llamacpp", "--model", str(model), "--output", str(output),
                       "--ray", cluster.address]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(expected) and model.name in err[-1], err[-1]
        assert not output.exists()


@pytest.mark.slow
def test_experiments_run_on_ray_writes_the_same_files(cluster, cranfield, tmp_path, capsys):
    import yaml

    from reasonrank_ir.experiments.__main__ import main as experiments

    server = GatedServer()
    system = {"name": "rr", "reranker": "reasonrank", "model": "m", "backend": "openai",
              "tokenizer": str(QWEN_TOKENIZER), "options": {"base_urls": [server.url]}, "depth": 6, "window": 3,
              "step": 2, "passage_tokens": 12}
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text(yaml.safe_dump({"name": "check", "datasets": ["cranfield"], "systems": [system]}))
    alone, spread = tmp_path / "alone", tmp_path / "ray"
    try:
        for out, extra in ((alone, []), (spread, ["--ray", cluster.address])):
            assert experiments(["run", str(experiment), "--limit-queries", "4", "--output-dir", str(out),
                                *extra]) == 0
    finally:
        server.close()
    assert "on 2 Ray workers" in capsys.readouterr().err
    for name in ("cranfield.rr.txt", "cranfield.rr.eval.json"):
        assert (spread / name).read_bytes() == (alone / name).read_bytes()
    assert record(spread / "cranfield.rr.settings.json") == record(alone / "cranfield.rr.settings.json")
    assert windows(spread / "cranfield.rr.traces.jsonl") == windows(alone / "cranfield.rr.traces.jsonl")
    assert len(read_traces(spread / "cranfield.rr.traces.jsonl")) == 12


@pytest.mark.slow
def test_labelling_on_ray_writes_the_same_samples_in_the_same_order(cluster, cranfield, tmp_path, capsys):
    from reasonrank_ir.train.label.__main__ import main as label
    from reasonrank_ir.train.mine import MiningConfig, mine_topics
    from reasonrank_ir.train.sample import append_samples
    from test_train_data import teacher_reply

    mined = tmp_path / "mined.jsonl"
    append_samples(mined, mine_topics(cranfield, MiningConfig(seed=7, list_size=6), num_queries=5))
    teacher = ReplayServer(teacher_reply("boundary"))

    def argv(out: Path, *extra: str) -> list[str]:
        return ["--input", str(mined), "--output", str(out), "--model", "r1", "--base-url", teacher.url,
                "--batch-size", "1", "--price-input", "1.0", *extra]

    try:
        assert label(argv(tmp_path / "alone.jsonl")) == 0
        alone = capsys.readouterr().out
        assert label(argv(tmp_path / "ray.jsonl", "--ray", cluster.address)) == 0
        spread = capsys.readouterr().out
    finally:
        teacher.close()
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "alone.jsonl").read_bytes()
    assert spread == alone and alone.startswith("5 lists labelled, 35 requests")
