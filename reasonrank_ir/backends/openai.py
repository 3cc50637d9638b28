"""Any OpenAI-compatible server as a backend: vLLM serve, SGLang, llama.cpp, Ollama, DeepSeek.

Requests run concurrently in threads, spread round-robin over one or more base URLs (a retry
moves on to the next URL), and are retried with exponential backoff and jitter on timeouts,
connection errors, 429, 5xx and answers that are no completion (malformed JSON, an HTML page, no
choices: proxies and overloaded servers send them); other 4xx answers are the caller's mistake and
fail at once. A request may take as long as its ``max_tokens`` at a slow pace (``request_timeout``);
a URL that let one time out is skipped for a while where another URL answers (a circuit breaker).
With several URLs, a request without an answer after ``PROBE_AFTER`` seconds has its server probed
(``GET /models``): a server that answers neither while another URL answers its probe is taken for
hung and skipped after seconds instead of a whole timeout. (A busy server may not answer the probe
either: llama-cpp-python's holds its model lock, so one URL's silence alone proves nothing.) A request
that timed out on a server that then fails the probe too is not retried there: with no other URL
left, the job stops after one timeout instead of one per retry.
The first request that fails for good stops every other request of the backend (no more retries,
in-flight ones abandoned), so a job stops at once and keeps what it finished.
Servers that return the reasoning apart from the answer (``reasoning_content``, DeepSeek-R1 and
vLLM's reasoning parsers) get it folded back into ``<think>...</think>``, so the output reads as
if the model had written it inline, which is what the answer parser expects.
"""
from __future__ import annotations

import functools
import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any
from urllib.parse import urlsplit

from reasonrank_ir.backends.base import Generation, Prompt, Sampling
from reasonrank_ir.errors import ReasonRankError, unknown

ENDPOINTS = ("chat", "completions")
SECONDS_PER_TOKEN = 0.1
"""A server slower than 10 tokens/s per request (after ``TIMEOUT_FLOOR``) is taken for hung."""
TIMEOUT_FLOOR = 60.0
"""Seconds for queueing and reading the prompt, on top of the generation's own time."""
MIN_SKIP = 30.0
"""A URL that let a request time out is skipped for at least this long (or the timeout, if longer)."""
PROBE_AFTER = 5.0
"""Seconds without an answer after which the request's server is probed, and again every as many."""
PROBE_TIMEOUT = 5.0
"""A server that does not answer ``GET /models`` within this many seconds fails the probe."""

logger = logging.getLogger(__name__)


def request_timeout(max_tokens: int) -> float:
    """The default seconds one request may take: reasoning time is bounded by ``max_tokens``."""
    return TIMEOUT_FLOOR + SECONDS_PER_TOKEN * max_tokens


class ServerFault(Exception):
    """A 200 answer that holds no completion; transient, retried like a 5xx."""


class Hung(Exception):
    """The server answered neither the request nor a probe: retried on another URL, if one is left."""


def normalise_base_url(url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; a URL with a path is kept as given."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ReasonRankError(f"Base URL {url!r} is not an http(s) URL such as "
                              "http://127.0.0.1:8000/v1.")
    url = url.rstrip("/")
    return url if parts.path.strip("/") else url + "/v1"


def fold_reasoning(content: str | None, reasoning: str | None) -> str:
    """Put separately returned reasoning back in front of the answer, inside think tags."""
    content = content or ""
    if reasoning and "<think>" not in content:
        return f"<think>\n{reasoning}\n</think>\n{content}"
    return content


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): full-jitter exponential backoff,
    and at least what the server asked for in ``Retry-After`` (both capped at ``cap``)."""
    jittered: float = (rng or random).uniform(0.5, 1.0) * min(cap, base * 2 ** attempt)
    return min(cap, max(jittered, retry_after or 0.0))


class OpenAIBackend:
    """Chat or text completions from one or more OpenAI-compatible servers.

    ``endpoint='chat'`` sends the messages (the server applies its chat template);
    ``endpoint='completions'`` sends :attr:`Prompt.text` exactly, so the prompt reaches the model
    byte for byte as the reranker rendered it. With ``sampling.n > 1`` each sample is its own
    request (seeded ``seed + j``), since not every server supports ``n``. ``timeout`` (seconds per
    request) defaults to :func:`request_timeout` of the sampling's ``max_tokens``.
    """

    name = "openai"

    @staticmethod
    def check_options(model: str | None, options: dict[str, Any]) -> None:
        """Endpoint, URLs, concurrency, retries and times checked before any tokenizer or client loads."""
        endpoint = options.get("endpoint", "chat")
        if endpoint not in ENDPOINTS:
            raise ReasonRankError(unknown("endpoint", endpoint, ENDPOINTS))
        urls = options.get("base_urls")
        urls = [urls] if isinstance(urls, str) else list(urls or [])
        if not urls:
            raise ReasonRankError("The openai backend needs at least one base URL "
                                  "(e.g. --base-url http://127.0.0.1:8000/v1).")
        for url in urls:
            normalise_base_url(url)
        for key, least in (("concurrency", 1), ("max_retries", 0)):
            if key in options and options[key] < least:
                raise ReasonRankError(f"{key} must be at least {least}, found {options[key]}")
        for key in ("timeout", "backoff", "max_backoff"):
            if options.get(key) is not None and not options[key] > 0:
                raise ReasonRankError(f"{key} must be a positive number of seconds, found {options[key]}")

    def __init__(self, model: str, base_urls: Sequence[str] | str, *, api_key: str | None = None,
                 endpoint: str = "chat", concurrency: int = 8, max_retries: int = 5,
                 timeout: float | None = None, backoff: float = 1.0, max_backoff: float = 60.0,
                 progress: bool = False) -> None:
        try:
            import openai
        except ImportError as error:
            raise ReasonRankError("The openai backend needs the openai package: "
                                  "pip install 'reasonrank-ir[openai]'") from error
        # checked here too (microseconds, no I/O), so a backend built directly is never half-configured
        self.check_options(model, {"endpoint": endpoint, "base_urls": base_urls, "concurrency": concurrency,
                                   "max_retries": max_retries, "timeout": timeout, "backoff": backoff,
                                   "max_backoff": max_backoff})
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self.model = model
        self.base_urls = [normalise_base_url(url) for url in urls]
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress = progress
        self.timeout = timeout
        self._skip_until = [0.0] * len(self.base_urls)
        self._probed = [0.0] * len(self.base_urls)
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._failure = ""
        self._active = 0
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self._openai = openai
        self._turns = itertools.count()
        self._clients = [openai.OpenAI(base_url=url, api_key=key, max_retries=0)
                         for url in self.base_urls]

    @property
    def concurrent_requests(self) -> int:
        """How many calls of ``generate`` may usefully run at once (the reranker's per-query chains)."""
        return self.concurrency

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """``sampling.n`` generations per prompt, prompt by prompt, in the order given."""
        from tqdm.auto import tqdm

        if self.endpoint == "completions" and any(prompt.text is None for prompt in prompts):
            raise ReasonRankError("endpoint='completions' sends the rendered prompt text, but a "
                                  "prompt has none (no tokenizer); use endpoint='chat'.")
        jobs = [(prompt, sample) for prompt in prompts for sample in range(sampling.n)]
        results: dict[int, Generation] = {}
        with self._lock:
            self._active += 1
        try:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                futures = {pool.submit(self._request, next(self._turns), prompt, sampling, sample):
                           index for index, (prompt, sample) in enumerate(jobs)}
                try:
                    for future in tqdm(as_completed(futures), total=len(futures),
                                       desc="openai generate", unit="request",
                                       disable=not self.progress):
                        results[futures[future]] = future.result()
                except BaseException:
                    self._stop("interrupted")
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:  # the failed job is over: the backend may be used again
                    self._halt.clear()
        return [results[index] for index in range(len(jobs))]

    def _stop(self, reason: str) -> None:
        """Stop every request of the backend: the first failure ends the job, others do not retry on."""
        with self._lock:
            if not self._halt.is_set():
                self._failure = reason
                self._halt.set()

    def _halted(self) -> ReasonRankError:
        return ReasonRankError(f"stopped: another request failed ({self._failure})")

    def _request(self, turn: int, prompt: Prompt, sampling: Sampling, sample: int) -> Generation:
        """One request, retried on transient failures; the ``turn``-th request of this backend
        goes to base URL ``turn`` modulo their number, and each retry to the next one."""
        openai = self._openai
        timeout = self.timeout or request_timeout(sampling.max_tokens)
        attempt = 0
        while True:
            if self._halt.is_set():
                raise self._halted()
            slot = self._healthy((turn + attempt) % len(self._clients))
            try:
                return self._watched(slot, functools.partial(self._call, self._clients[slot], prompt, sampling, sample,
                                                             timeout))
            except (openai.APIConnectionError, openai.RateLimitError,
                    openai.InternalServerError, ServerFault, Hung) as error:
                if isinstance(error, openai.APITimeoutError | Hung):
                    self._skip(slot, timeout, error if isinstance(error, Hung) else None)
                # a timed-out server that does not answer a probe either is hung: no retry where none is left
                stuck = (isinstance(error, openai.APITimeoutError)
                         and all(until > time.monotonic() for until in self._skip_until) and not self._answers(slot))
                if attempt == self.max_retries or stuck:
                    message = (f"{self.base_urls[slot]} kept failing after {attempt + 1} attempts "
                               f"({error.__class__.__name__}: {error}); is the server up?")
                    self._stop(message)
                    raise ReasonRankError(message) from error
                if self._halt.wait(backoff_delay(attempt, self.backoff, self.max_backoff, _retry_after(error))):
                    raise self._halted() from error
                attempt += 1
            except openai.APIStatusError as error:
                body = error.body if isinstance(error.body, dict) else {}
                message = (f"{self.base_urls[slot]} refused the request with HTTP "
                           f"{error.status_code}: {body.get('message') or error.message}")
                self._stop(message)
                raise ReasonRankError(message) from error

    def _watched(self, slot: int, call: Callable[[], Generation]) -> Generation:
        """``call()`` in a daemon thread, abandoned when the backend stops or the server stops answering.

        The HTTP call itself cannot be interrupted; an abandoned one ends at its own timeout, and a
        daemon thread never holds up the exit of a stopped job.
        """
        box: dict[str, Generation] = {}
        failure: list[BaseException] = []
        done = threading.Event()

        def target() -> None:
            try:
                box["value"] = call()
            except BaseException as error:  # handed to the waiting thread
                failure.append(error)
            finally:
                done.set()

        threading.Thread(target=target, daemon=True).start()
        started = time.monotonic()
        probed = started
        while not done.wait(0.2):
            if self._halt.is_set():
                raise self._halted()
            if len(self.base_urls) > 1 and time.monotonic() - probed >= PROBE_AFTER:
                other = self._answering_other(slot) if not self._answers(slot) else None
                if other is not None:
                    raise Hung(f"no answer in {time.monotonic() - started:.0f} s, and none to GET /models "
                               f"in {PROBE_TIMEOUT:g} s while {other} answers")
                probed = time.monotonic()
        if failure:
            raise failure[0]
        return box["value"]

    def _answering_other(self, slot: int) -> str | None:
        """Another URL, not skipped, that answers its probe: evidence that ``slot``'s silence is a hang."""
        now = time.monotonic()
        for other in range(len(self.base_urls)):
            if other != slot and self._skip_until[other] <= now and self._answers(other):
                return self.base_urls[other]
        return None

    def _answers(self, slot: int) -> bool:
        """The server at ``slot`` answers ``GET /models`` (any HTTP status): it is busy, not hung."""
        import urllib.error
        import urllib.request

        if time.monotonic() - self._probed[slot] < PROBE_AFTER:
            return True  # another request's probe just heard from it
        try:
            urllib.request.urlopen(self.base_urls[slot] + "/models", timeout=PROBE_TIMEOUT).close()
        except urllib.error.HTTPError:
            pass  # an answer, whatever its status
        except (OSError, ValueError):  # no connection, no answer in time (URLError and timeouts are OSErrors)
            return False
        self._probed[slot] = time.monotonic()
        return True

    def _healthy(self, slot: int) -> int:
        """``slot``, or the next URL that has not timed out lately when ``slot``'s has."""
        now = time.monotonic()
        count = len(self._skip_until)
        healthy = [s for s in range(count) if self._skip_until[s] <= now]
        if self._skip_until[slot] <= now or not healthy:
            return slot
        return min(healthy, key=lambda s: (s - slot) % count)

    def _skip(self, slot: int, timeout: float, hung: Hung | None = None) -> None:
        seconds = max(timeout, MIN_SKIP)
        with self._lock:
            self._skip_until[slot] = time.monotonic() + seconds
        if len(self.base_urls) > 1:
            why = f"is hung ({hung})" if hung else f"gave no answer in {timeout:g} s"
            logger.warning("%s %s: skipping it for %g s while another URL answers", self.base_urls[slot], why, seconds)

    def _call(self, client: Any, prompt: Prompt, sampling: Sampling, sample: int,
              timeout: float) -> Generation:
        options: dict[str, Any] = {
            "model": self.model,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "timeout": timeout,
        }
        if sampling.seed is not None:
            options["seed"] = sampling.seed + sample
        if sampling.top_k > 0:
            options["extra_body"] = {"top_k": sampling.top_k}
        if self.endpoint == "completions":
            response = _completion(client.completions.with_raw_response.create(prompt=prompt.text, **options))
            choice = response.choices[0]
            text = choice.text or ""
        else:
            messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
            response = _completion(client.chat.completions.with_raw_response.create(messages=messages, **options))
            choice = response.choices[0]
            message = choice.message
            reasoning = (getattr(message, "reasoning_content", None)
                         or getattr(message, "reasoning", None))
            text = fold_reasoning(message.content, reasoning if isinstance(reasoning, str) else None)
        usage = response.usage
        return Generation(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )


def _completion(raw: Any) -> Any:
    """The parsed completion of a raw answer, or :class:`ServerFault` saying what came back instead."""
    http = raw.http_response
    try:
        response = raw.parse()
    except ValueError:
        problem = "malformed JSON"
    else:
        choices = getattr(response, "choices", None)
        if isinstance(response, str):
            problem = f"a {http.headers.get('content-type') or 'non-JSON'} page"
        elif not choices or getattr(choices[0], "message", "") is None:
            problem = "no choices"
        else:
            return response
    raise ServerFault(f"HTTP {http.status_code} with {problem}: {http.text[:80]!r}")


def _retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
