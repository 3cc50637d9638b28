"""The OpenAI-compatible backend against a real llama.cpp server and small scripted HTTP servers.

The real server (``python -m llama_cpp.server`` on SmolLM2-135M-Instruct from
scripts/fetch_test_models.sh) checks both endpoints and concurrency; the scripted servers
check what needs control over the answers: retries, failover, reasoning folding, order.
"""
from __future__ import annotations

import importlib.util

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import free_port
from replay_server import LoopbackServer
from reasonrank_ir import ReasonRankError
from reasonrank_ir.backends import Message, Prompt, Sampling, create_backend
from reasonrank_ir.backends.openai import (OpenAIBackend, backoff_delay, fold_reasoning,
                                           normalise_base_url, request_timeout)


MESSAGES = (Message("system", "You are a helpful assistant."),
            Message("user", "What is the capital of France?"))
TEXT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.slow
def test_chat_and_completions_endpoints(llama_server):
    sampling = Sampling(max_tokens=12)
    chat = OpenAIBackend("smollm2", llama_server).generate([Prompt(MESSAGES)], sampling)[0]
    text = OpenAIBackend("smollm2", llama_server, endpoint="completions").generate(
        [Prompt(MESSAGES, TEXT)], sampling)[0]
    # the server's chat template renders the messages into exactly TEXT
    assert chat.prompt_tokens == text.prompt_tokens > 20
    for generation in (chat, text):
        assert generation.text.strip()
        assert 0 < generation.output_tokens <= 12
    short = OpenAIBackend("smollm2", llama_server).generate([Prompt(MESSAGES)],
                                                            Sampling(max_tokens=2))[0]
    assert (short.output_tokens, short.finish_reason) == (2, "length")


@pytest.mark.slow
def test_concurrent_requests_over_two_base_urls_keep_prompt_order(llama_server):
    prompts = [Prompt((Message("user", "word " * count),)) for count in range(1, 7)]
    sampling = Sampling(max_tokens=4)
    alone = [OpenAIBackend("smollm2", llama_server).generate([prompt], sampling)[0]
             for prompt in prompts]
    backend = create_backend("openai", "smollm2", base_urls=[llama_server, llama_server],
                             concurrency=4)
    together = backend.generate(prompts, sampling)
    assert [g.prompt_tokens for g in together] == [g.prompt_tokens for g in alone]
    assert len(set(g.prompt_tokens for g in together)) == len(prompts)


Reply = tuple[int, dict | bytes, dict]


class ScriptedServer(LoopbackServer):
    """An HTTP server on 127.0.0.1 answering each POST with ``reply(path, body)`` (bytes are sent as they are)."""

    def __init__(self, reply: Callable[[str, dict], Reply]) -> None:
        self.requests: list[tuple[str, dict]] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.requests.append((self.path, body))
                    status, payload, headers = reply(self.path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.serve(Handler)


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def start(reply: Callable[[str, dict], Reply]) -> ScriptedServer:
        servers.append(ScriptedServer(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def completion(content: str | None, **message_fields) -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, **message_fields}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}}


def echo(path: str, body: dict) -> Reply:
    if path.endswith("/completions") and "prompt" in body:
        return 200, {"id": "x", "object": "text_completion", "created": 0, "model": "m",
                     "choices": [{"index": 0, "text": body["prompt"], "finish_reason": "length"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}, {}
    return 200, completion(body["messages"][-1]["content"]), {}


def test_retries_429_then_500_with_backoff(scripted):
    script = iter([(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
                   (500, {"error": {"message": "boom"}}, {}),
                   (200, completion("ok"), {})])
    server = scripted(lambda path, body: next(script))
    backend = OpenAIBackend("m", server.url, backoff=0.1, max_retries=3)
    start = time.monotonic()
    [generation] = backend.generate([Prompt(MESSAGES)], Sampling())
    assert time.monotonic() - start >= 0.05 + 0.1  # at least half of 0.1 then half of 0.2
    assert (generation.text, generation.prompt_tokens, generation.output_tokens) == ("ok", 11, 5)
    assert len(server.requests) == 3


def test_gives_up_after_max_retries_and_never_retries_other_4xx(scripted):
    failing = scripted(lambda path, body: (503, {"error": {"message": "busy"}}, {}))
    with pytest.raises(ReasonRankError, match="kept failing after 3 attempts"):
        OpenAIBackend("m", failing.url, backoff=0.001, max_retries=2).generate(
            [Prompt(MESSAGES)], Sampling())
    assert len(failing.requests) == 3
    refused = scripted(lambda path, body: (404, {"error": {"message": "no model m"}}, {}))
    with pytest.raises(ReasonRankError, match="HTTP 404: no model m"):
        OpenAIBackend("m", refused.url, backoff=0.001).generate([Prompt(MESSAGES)], Sampling())
    assert len(refused.requests) == 1
    with pytest.raises(ReasonRankError, match="kept failing"):
        OpenAIBackend("m", f"http://127.0.0.1:{free_port()}", backoff=0.001,
                      max_retries=1).generate([Prompt(MESSAGES)], Sampling())


def test_round_robin_failover_and_order(scripted):
    first, second = scripted(echo), scripted(echo)
    prompts = [Prompt((Message("user", f"prompt {i}"),)) for i in range(8)]
    backend = OpenAIBackend("m", [first.url, second.url], concurrency=3)
    assert [g.text for g in backend.generate(prompts, Sampling())] == \
        [f"prompt {i}" for i in range(8)]
    assert len(first.requests) == len(second.requests) == 4
    for prompt in prompts[:2]:  # turns carry over from call to call
        backend.generate([prompt], Sampling())
    assert len(first.requests) == len(second.requests) == 5
    down = scripted(lambda path, body: (502, {"error": {"message": "down"}}, {}))
    backend = OpenAIBackend("m", [down.url, second.url], backoff=0.001, max_retries=1)
    assert [g.text for g in backend.generate(prompts[:4], Sampling())] == \
        [f"prompt {i}" for i in range(4)]
    assert len(down.requests) == 2  # prompts 0 and 2 started there and moved on


def test_request_fields(scripted):
    server = scripted(echo)
    sampling = Sampling(max_tokens=9, temperature=0.6, top_p=0.95, top_k=20, n=2, seed=5)
    backend = OpenAIBackend("served-name", server.url.removesuffix("/v1"), endpoint="completions")
    generations = backend.generate([Prompt(MESSAGES, TEXT)], sampling)
    assert [g.text for g in generations] == [TEXT, TEXT]
    assert [g.finish_reason for g in generations] == ["length", "length"]
    bodies = sorted((body for _, body in server.requests), key=lambda body: body["seed"])
    assert [body["seed"] for body in bodies] == [5, 6]
    assert {(path, body["model"], body["prompt"], body["max_tokens"], body["temperature"],
             body["top_p"], body["top_k"]) for path, body in server.requests} == \
        {("/v1/completions", "served-name", TEXT, 9, 0.6, 0.95, 20)}
    with pytest.raises(ReasonRankError, match="endpoint='chat'"):
        backend.generate([Prompt(MESSAGES)], sampling)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_is_folded_into_think_tags(scripted, field):
    server = scripted(lambda path, body: (
        200, completion("<answer>[2] > [1]</answer>", **{field: "Passage 2 says so."}), {}))
    [generation] = OpenAIBackend("m", server.url).generate([Prompt(MESSAGES)], Sampling())
    assert generation.text == \
        "<think>\nPassage 2 says so.\n</think>\n<answer>[2] > [1]</answer>"


@pytest.mark.parametrize("content, reasoning, expected", [
    ("answer", "why", "<think>\nwhy\n</think>\nanswer"),
    (None, "why", "<think>\nwhy\n</think>\n"),
    ("<think>inline</think> answer", "why", "<think>inline</think> answer"),
    ("answer", None, "answer"),
    (None, None, ""),
])
def test_fold_reasoning(content, reasoning, expected):
    assert fold_reasoning(content, reasoning) == expected


def test_backoff_delay_grows_with_jitter_and_caps():
    rng = random.Random(0)
    for attempt in range(6):
        delay = backoff_delay(attempt, 1.0, 10.0, rng=rng)
        assert min(10.0, 2 ** attempt) / 2 <= delay <= min(10.0, 2 ** attempt)
    assert backoff_delay(0, 1.0, 10.0, retry_after=7.0, rng=rng) == 7.0
    assert backoff_delay(0, 1.0, 10.0, retry_after=99.0, rng=rng) == 10.0


def test_base_urls_and_options_are_checked():
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/") == "http://h:8000/v1"
    assert normalise_base_url("https://api.deepseek.com/v1/") == "https://api.deepseek.com/v1"
    with pytest.raises(ReasonRankError, match="not an http"):
        OpenAIBackend("m", "localhost:8000")
    with pytest.raises(ReasonRankError, match="at least one base URL"):
        OpenAIBackend("m", [])
    with pytest.raises(ReasonRankError, match="Did you mean: completions"):
        OpenAIBackend("m", "http://h", endpoint="completion")
    with pytest.raises(ReasonRankError, match="Did you mean: base_urls"):
        create_backend("openai", "m", base_url="http://h")


def test_a_server_address_is_required():
    with pytest.raises(ReasonRankError, match=r"The openai backend needs base_urls \(--base-url URL\)"):
        create_backend("openai", "m")


HTML = (200, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"})
FAULTS = {"malformed JSON": (200, b'{"id": "x", "choices": [{"ind', {}), "a text/html page": HTML,
          "no choices": (200, {**completion("x"), "choices": []}, {})}


@pytest.mark.parametrize("problem", FAULTS)
def test_answers_that_are_no_completion_are_retried_then_named(scripted, problem):
    script = iter([FAULTS[problem], FAULTS[problem], (200, completion("ok"), {})])
    server = scripted(lambda path, body: next(script))
    [generation] = OpenAIBackend("m", server.url, backoff=0.001).generate([Prompt(MESSAGES)], Sampling())
    assert generation.text == "ok" and len(server.requests) == 3
    failing = scripted(lambda path, body: FAULTS[problem])
    with pytest.raises(ReasonRankError) as raised:
        OpenAIBackend("m", failing.url, backoff=0.001, max_retries=2).generate([Prompt(MESSAGES)], Sampling())
    assert str(raised.value).startswith(f"{failing.url} kept failing after 3 attempts (ServerFault: HTTP 200 "
                                        f"with {problem}: ")
    assert len(failing.requests) == 3


def test_default_timeout_follows_max_tokens():
    assert request_timeout(3172) == pytest.approx(60 + 317.2)
    assert request_timeout(8) < request_timeout(100) < request_timeout(3172)


def test_a_hung_url_is_skipped_after_one_timeout(scripted, caplog):
    """A server that accepts connections and never answers costs one timeout, not one per request."""
    healthy = scripted(echo)
    hung = socket.create_server(("127.0.0.1", 0))  # the kernel accepts, nobody answers
    hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}/v1"
    accepted = []
    threading.Thread(target=lambda: [accepted.append(hung.accept()) for _ in range(50)], daemon=True).start()
    backend = OpenAIBackend("m", [hung_url, healthy.url], timeout=0.5, concurrency=1, backoff=0.001)
    prompts = [Prompt((Message("user", f"prompt {i}"),)) for i in range(12)]
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="reasonrank_ir.backends.openai"):
        answers = backend.generate(prompts, Sampling(max_tokens=8))
    assert [g.text for g in answers] == [f"prompt {i}" for i in range(12)]
    assert len(accepted) == 1 and len(healthy.requests) == 12  # round robin alone would send 6 there
    assert time.monotonic() - start < 10
    assert f"{hung_url} gave no answer in 0.5 s: skipping it for 30 s" in caplog.text
    for connection, _ in accepted:
        connection.close()
    hung.close()


def _hung_server() -> tuple[socket.socket, str]:
    """A socket the kernel accepts connections on and nobody answers: requests and probes alike hang."""
    hung = socket.create_server(("127.0.0.1", 0), backlog=64)
    return hung, f"http://127.0.0.1:{hung.getsockname()[1]}/v1"


@pytest.mark.slow
def test_a_hung_server_beside_a_healthy_one_costs_seconds_not_a_timeout(scripted, caplog):
    """With the default timeout (66 s for 60 tokens) a hung URL is found by a probe it fails while the other
    URL answers one: after PROBE_AFTER + PROBE_TIMEOUT seconds, and the other URL takes its requests."""
    hung, hung_url = _hung_server()
    healthy = scripted(echo)
    backend = OpenAIBackend("m", [hung_url, healthy.url], concurrency=2, backoff=0.001)
    prompts = [Prompt((Message("user", f"prompt {i}"),)) for i in range(4)]
    with caplog.at_level(logging.WARNING, logger="reasonrank_ir.backends.openai"):
        answers = backend.generate(prompts, Sampling(max_tokens=60))
    assert [g.text for g in answers] == [f"prompt {i}" for i in range(4)]
    assert len(healthy.requests) == 4
    assert f"{hung_url} is hung (no answer in" in caplog.text and f"while {healthy.url} answers" in caplog.text
    hung.close()


@pytest.mark.slow
def test_a_lone_hung_server_stops_the_job_after_one_timeout(scripted):
    """A timed-out request whose server fails the probe too is not retried max_retries times more."""
    hung, hung_url = _hung_server()
    backend = OpenAIBackend("m", hung_url, timeout=1.0, max_retries=5, backoff=0.001)
    with pytest.raises(ReasonRankError, match=r"kept failing after 1 attempts \(APITimeoutError"):
        backend.generate([Prompt(MESSAGES)], Sampling(max_tokens=8))
    hung.close()


@pytest.mark.slow
def test_a_busy_server_that_does_not_answer_probes_is_not_taken_for_hung(scripted, monkeypatch):
    """llama-cpp-python's server answers no GET while it generates: alone, that silence proves nothing
    (the real server: test_rerank_engines.py's openai engine tests on a 2-core machine)."""
    def slow(path, body):
        time.sleep(7)  # past PROBE_AFTER
        return echo(path, body)

    backend = OpenAIBackend("m", scripted(slow).url, backoff=0.001)
    monkeypatch.setattr(backend, "_answers", lambda slot: False)  # its probes go unanswered
    [generation] = backend.generate([Prompt(MESSAGES)], Sampling(max_tokens=8))
    assert generation.text == MESSAGES[-1].content


@pytest.mark.parametrize("fatal", [
    (400, {"error": {"message": "bad prompt"}}, {}),       # refused at once
    (500, {"error": {"message": "boom"}}, {}),             # retried, then exhausted
])
def test_the_first_request_that_fails_for_good_stops_the_others(scripted, fatal):
    """Other requests in flight stop retrying at once instead of each burning its own retries."""
    def reply(path, body):
        if body["messages"][-1]["content"] == "prompt 0":
            return fatal
        return 503, {"error": {"message": "busy"}}, {"Retry-After": "1"}  # transient: retried after 1 s, 3 times

    server = scripted(reply)
    backend = OpenAIBackend("m", server.url, concurrency=4, max_retries=2, backoff=0.01, max_backoff=5)
    prompts = [Prompt((Message("user", f"prompt {i}"),)) for i in range(4)]
    with pytest.raises(ReasonRankError) as raised:
        backend.generate(prompts, Sampling(max_tokens=8))
    message = str(raised.value)
    assert "bad prompt" in message if fatal[0] == 400 else "kept failing after 3 attempts" in message
    others = [b for _, b in server.requests if b["messages"][-1]["content"] != "prompt 0"]
    assert len(others) <= 3  # one attempt each at most: while they waited to retry, prompt 0 failed for good
    # the backend is usable again once the failed call is over
    healthy = OpenAIBackend("m", scripted(echo).url)
    assert healthy.generate(prompts[:1], Sampling())[0].text == "prompt 0"


# -- engine options checked by the engine's signature, before anything loads -------------------------------

@pytest.mark.parametrize("backend, options, model, expected", [
    ("openai", {"base_urls": ["http://h/v1"], "timeout": "abc"}, "m", "timeout='abc': expected float"),
    ("openai", {"base_urls": ["http://h/v1"], "concurrency": "8x"}, "m", "concurrency='8x': expected int"),
    ("openai", {"base_urls": ["http://h/v1"], "max_retires": 3}, "m", "Did you mean: max_retries"),
    ("openai", {"base_urls": ["http://h/v1"], "backoff": 0}, "m", "backoff must be a positive number"),
    ("openai", {"base_urls": ["mailto:x"]}, "m", "is not an http(s) URL"),
    ("openai", {"base_urls": []}, "m", "at least one base URL"),
    ("llamacpp", {"n_batch": "abc"}, None, "n_batch='abc': expected int"),
    ("llamacpp", {"n_batch": 0}, None, "n_batch must be at least 1, found 0"),
    ("llamacpp", {"n_ctx": -5}, None, "n_ctx must be at least 0"),
    ("llamacpp", {"n_gpu_layer": 1}, None, "Did you mean: n_gpu_layers"),
    ("hf", {"batch_size": "four"}, None, "batch_size='four': expected int"),
    ("hf", {"batch_size": 0}, None, "batch_size must be at least 1"),
    ("hf", {"dtype": "fp8"}, None, "unknown dtype 'fp8'"),
    ("hf", {"devise": "cpu"}, None, "Did you mean: device"),
])
def test_engine_options_are_checked_by_name_type_and_value_without_loading_anything(backend, options, model,
                                                                                     expected):
    from reasonrank_ir.backends import check_backend_options

    with pytest.raises(ReasonRankError) as raised:
        check_backend_options(backend, options, model)
    assert expected in str(raised.value)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed: tests/test_vllm_engine.py")
@pytest.mark.parametrize("options", [{"tensor_parallel_size": "two"}, {"gpu_memory_utilisation": 0.8}])
def test_vllm_options_without_vllm_say_how_to_install_it(options):
    """vLLM's options are its engine arguments, which only an installed vLLM knows (checked in .ci/vllm.sh)."""
    from reasonrank_ir.backends import check_backend_options

    with pytest.raises(ReasonRankError, match=r"The vllm backend needs vLLM .*pip install 'reasonrank-ir\[vllm\]'"):
        check_backend_options("vllm", options)


def test_engine_options_that_fit_pass_through():
    from reasonrank_ir.backends import check_backend_options

    assert check_backend_options("openai", {"base_urls": "http://h", "timeout": 5, "api_key": None}, "m") == {
        "base_urls": "http://h", "timeout": 5}
    assert check_backend_options("hf", {"batch_size": 2, "dtype": "float32"}) == {"batch_size": 2, "dtype": "float32"}
    assert check_backend_options("auto", {"tensor_parallel_size": 2, "n_ctx": 9}) == {"tensor_parallel_size": 2,
                                                                                      "n_ctx": 9}  # auto ignores others'


def test_build_backend_takes_checked_options_as_create_backend_does():
    """A spec's options are checked once, when the spec is made; build_backend then builds what
    create_backend (check + build) builds."""
    from reasonrank_ir.backends import build_backend, check_backend_options

    options = check_backend_options("openai", {"base_urls": ["http://h:8000"], "concurrency": 3, "timeout": None}, "m")
    built = build_backend("openai", "m", **options)
    created = create_backend("openai", "m", base_urls=["http://h:8000"], concurrency=3)
    assert type(built) is type(created) is OpenAIBackend
    assert (built.base_urls, built.concurrency, built.endpoint) == (created.base_urls, created.concurrency,
                                                                    created.endpoint) == (["http://h:8000/v1"], 3, "chat")
    with pytest.raises(ReasonRankError, match="concurrency must be at least 1, found 0"):
        create_backend("openai", "m", base_urls=["http://h:8000"], concurrency=0)
