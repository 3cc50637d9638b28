"""vLLM's offline ``LLM.generate`` as a backend: the fast engine for GPU machines.

Request building and output mapping are pure functions, so they are tested where vLLM cannot be
installed; only :class:`VLLMBackend` imports vLLM, when it is constructed.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from reasonrank_ir.backends.base import Generation, Prompt, Sampling
from reasonrank_ir.backends.hf import render_prompt
from reasonrank_ir.errors import ReasonRankError

INSTALL_HINT = "pip install 'reasonrank-ir[vllm]' on a CUDA machine"


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
                  dtype: str = "auto") -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``; ``max_model_len`` is left to the model config when None.

    Prefix caching is on by default because the sliding window's prompts share the system
    message and the query, and successive windows share most passages.
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
    return kwargs


def to_generations(request_outputs: Iterable[Any]) -> list[Generation]:
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


class VLLMBackend:
    """One ``vllm.LLM`` engine, split over ``tensor_parallel_size`` GPUs."""

    name = "vllm"

    def __init__(self, model: str, *, tensor_parallel_size: int = 1,
                 max_model_len: int | None = None, enable_prefix_caching: bool = True,
                 gpu_memory_utilization: float = 0.9, dtype: str = "auto",
                 progress: bool = False) -> None:
        kwargs = engine_kwargs(model, tensor_parallel_size=tensor_parallel_size,
                               max_model_len=max_model_len,
                               enable_prefix_caching=enable_prefix_caching,
                               gpu_memory_utilization=gpu_memory_utilization, dtype=dtype)
        try:
            from vllm import LLM
        except ImportError as error:
            raise ReasonRankError(f"The vllm backend needs vLLM ({error}): {INSTALL_HINT}, "
                                  "or use --backend hf, llamacpp or openai.") from error
        import torch

        if not torch.cuda.is_available():
            raise ReasonRankError("The vllm backend needs a CUDA GPU and none is visible here; "
                                  "use --backend hf, llamacpp or openai.")
        from reasonrank_ir.hub import locate

        kwargs["model"] = locate(model)
        self.model = model
        self.progress = progress
        self.engine = LLM(**kwargs)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """``sampling.n`` generations per prompt, prompt by prompt, in the order given."""
        from vllm import SamplingParams

        if not prompts:
            return []
        tokenizer = None
        if any(prompt.text is None for prompt in prompts):
            tokenizer = self.engine.get_tokenizer()
        texts = [render_prompt(prompt, tokenizer) for prompt in prompts]
        outputs = self.engine.generate(texts, SamplingParams(**sampling_params_kwargs(sampling)),
                                       use_tqdm=self.progress)
        return to_generations(outputs)
