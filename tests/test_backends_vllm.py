"""vLLM request building and output mapping (pure, no vLLM needed), and backend selection."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from reasonrank_ir import ReasonRankError
from reasonrank_ir.backends import BACKENDS, create_backend, resolve_backend_name
from reasonrank_ir.backends.base import Generation, Sampling
from reasonrank_ir.backends.vllm import (VLLMBackend, device_problem, engine_error, engine_kwargs,
                                         sampling_params_kwargs, to_generations)

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_reasoning_mode_sampling():
    assert sampling_params_kwargs(Sampling()) == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 3172,
        "skip_special_tokens": True}


def test_qwen3_mode_sampling_with_seed():
    assert sampling_params_kwargs(Sampling(temperature=0.6, top_p=0.95, top_k=20, n=8, seed=1)) \
        == {"n": 8, "temperature": 0.6, "top_p": 0.95, "max_tokens": 3172,
            "skip_special_tokens": True, "top_k": 20, "seed": 1}


def test_engine_kwargs():
    assert engine_kwargs("liuwenhan/reasonrank-7B") == {
        "model": "liuwenhan/reasonrank-7B", "tensor_parallel_size": 1,
        "enable_prefix_caching": True, "gpu_memory_utilization": 0.9, "dtype": "auto"}
    assert engine_kwargs("m", tensor_parallel_size=4, max_model_len=32768,
                         enable_prefix_caching=False, gpu_memory_utilization=0.8,
                         dtype="bfloat16") == {
        "model": "m", "tensor_parallel_size": 4, "enable_prefix_caching": False,
        "gpu_memory_utilization": 0.8, "dtype": "bfloat16", "max_model_len": 32768}
    with pytest.raises(ReasonRankError, match="tensor_parallel_size"):
        engine_kwargs("m", tensor_parallel_size=0)
    with pytest.raises(ReasonRankError, match="gpu_memory_utilization"):
        engine_kwargs("m", gpu_memory_utilization=1.5)


def request_output(prompt_token_ids, *completions):
    """An object shaped like vllm.RequestOutput: prompt ids and CompletionOutputs."""
    return SimpleNamespace(prompt_token_ids=prompt_token_ids, outputs=[
        SimpleNamespace(text=text, token_ids=token_ids, finish_reason=reason)
        for text, token_ids, reason in completions])


def test_request_outputs_map_to_generations_in_order():
    outputs = [
        request_output([1, 2, 3], ("<think>a</think><answer>[1]</answer>", [5, 6, 7, 8], "stop")),
        request_output([1, 2], ("<think>cut", [9] * 5, "length")),
        request_output([4], ("x", [1], "stop"), ("yz", [2, 3], "abort")),
    ]
    assert to_generations(outputs) == [
        Generation("<think>a</think><answer>[1]</answer>", 3, 4, "stop"),
        Generation("<think>cut", 2, 5, "length"),
        Generation("x", 1, 1, "stop"),
        Generation("yz", 1, 2, "stop"),
    ]


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_says_how_to_install():
    with pytest.raises(ReasonRankError, match=r"pip install 'reasonrank-ir\[vllm\]' on a GPU machine, "
                                              r"or scripts/install_vllm_cpu.sh"):
        VLLMBackend("m")
    with pytest.raises(ReasonRankError, match=r"needs vLLM"):
        create_backend("vllm", "m", max_model_len=0)


def test_unknown_backend_names_close_matches():
    assert BACKENDS == ("auto", "vllm", "hf", "openai", "llamacpp")
    with pytest.raises(ReasonRankError, match="Did you mean: llamacpp"):
        resolve_backend_name("llama.cpp")


@pytest.mark.slow
@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_auto_falls_back_to_hf_without_vllm(tiny_qwen2):
    assert resolve_backend_name("auto") == "hf"
    backend = create_backend("auto", str(tiny_qwen2), tensor_parallel_size=2, batch_size=2,
                             max_model_len=None)
    assert (backend.name, backend.batch_size) == ("hf", 2)


def test_importing_backends_stays_light():
    code = ("import sys, reasonrank_ir.backends, reasonrank_ir.backends.vllm, "
            "reasonrank_ir.backends.hf, reasonrank_ir.backends.openai, "
            "reasonrank_ir.backends.llamacpp; "
            "print(sorted(m for m in ('torch', 'transformers', 'vllm', 'llama_cpp', 'openai') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "[]"


def test_device_problem_reads_vllm_s_platform():
    """vLLM's own platform decides: a GPU or its CPU build can generate, an "unspecified" one cannot."""
    def platform(device_type):
        return SimpleNamespace(device_type=device_type, is_unspecified=lambda: device_type == "")

    assert device_problem(platform("cuda")) is None and device_problem(platform("cpu")) is None
    assert "finds no device" in device_problem(platform(""))


def test_engine_errors_in_one_line():
    from pydantic import BaseModel, Field, ValidationError

    class Config(BaseModel):
        max_model_len: int = Field(ge=1)

    with pytest.raises(ValidationError) as error:
        Config(max_model_len=0)
    assert engine_error(error.value) == "max_model_len: Input should be greater than or equal to 1"
    assert engine_error(RuntimeError("Engine core initialization failed.\nSee root cause above.")) == \
        "RuntimeError: Engine core initialization failed."
