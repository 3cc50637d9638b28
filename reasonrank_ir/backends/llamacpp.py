"""GGUF models in-process through llama-cpp-python: reranking on a laptop without a GPU.

Prompts run one after another (llama.cpp keeps the longest common token prefix of the previous
prompt in its cache, so the shared system message and query are not recomputed).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from reasonrank_ir.backends.base import Generation, Prompt, Sampling
from reasonrank_ir.backends.gguf_file import check_gguf
from reasonrank_ir.errors import ReasonRankError

if TYPE_CHECKING:
    from llama_cpp.llama_types import (ChatCompletionRequestMessage, CreateChatCompletionResponse,
                                       CreateCompletionResponse)

INSTALL_HINT = "pip install 'reasonrank-ir[llamacpp]'"


def default_n_batch() -> int:
    """512 prompt tokens per pass, or 1 on CPUs that report AMX.

    llama.cpp builds compiled for AMX crash in their AMX matrix kernels on some such machines (VMs
    whose AMX state is not usable); reading the prompt one token per pass never reaches those
    kernels. Pass ``n_batch`` to choose.
    """
    cpuinfo = Path("/proc/cpuinfo")
    return 1 if cpuinfo.exists() and "amx_int8" in cpuinfo.read_text() else 512


class LlamaCppBackend:
    """A ``llama_cpp.Llama`` over one ``.gguf`` file.

    :attr:`Prompt.text` is tokenised as is (special tokens parsed, no extra BOS: the chat template
    already wrote it) and sent to ``create_completion``; prompts without text go to
    ``create_chat_completion``, which renders them with the chat template stored in the GGUF
    (or ``chat_format``). Sampling uses only the :class:`Sampling` settings: llama.cpp's own
    extras (min_p 0.05, top_k 40) are switched off so results match the other engines.
    ``n_ctx=0`` takes the context length the model was trained with; ``n_batch`` is how many
    prompt tokens one forward pass reads (default: :func:`default_n_batch`).
    """

    name = "llamacpp"
    concurrent_requests = 1
    """Prompts run one by one anyway: the reranker sends one window per call (so each is journaled
    as soon as it is parsed, and a query's windows follow each other in llama.cpp's prefix cache)."""

    @staticmethod
    def check_options(model: str | None, options: dict[str, Any]) -> None:
        """The sizes are in range and the model is a whole GGUF file (:func:`check_gguf`: missing, cut,
        another format), checked before any tokenizer or llama.cpp loads."""
        for key, least in (("n_ctx", 0), ("n_gpu_layers", -1), ("n_batch", 1), ("n_threads", 1)):
            if options.get(key) is not None and options[key] < least:
                raise ReasonRankError(f"backend option {key} must be at least {least}, found {options[key]}")
        if model is not None:
            check_gguf(model)

    def __init__(self, model_path: str, *, n_ctx: int = 0, n_threads: int | None = None,
                 n_gpu_layers: int = 0, chat_format: str | None = None, n_batch: int | None = None,
                 progress: bool = False) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ReasonRankError(f"The llamacpp backend needs llama-cpp-python: {INSTALL_HINT}"
                                  ) from error
        if not Path(model_path).is_file():
            raise ReasonRankError(f"GGUF model file {model_path!r} does not exist; pass the path "
                                  "of a .gguf file.")
        self.model = model_path
        self.progress = progress
        n_batch = n_batch or default_n_batch()
        try:
            self.engine = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
                                n_gpu_layers=n_gpu_layers, chat_format=chat_format,
                                n_batch=n_batch, n_ubatch=n_batch, verbose=False)
        except ValueError as error:
            raise ReasonRankError(f"llama.cpp cannot load {model_path!r}: {error}") from error

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """``sampling.n`` generations per prompt, prompt by prompt, in the order given."""
        from tqdm.auto import tqdm

        jobs = [(prompt, sample) for prompt in prompts for sample in range(sampling.n)]
        return [self._generate_one(prompt, sampling, sample)
                for prompt, sample in tqdm(jobs, desc="llama.cpp generate", unit="prompt",
                                           disable=not self.progress)]

    def _generate_one(self, prompt: Prompt, sampling: Sampling, sample: int) -> Generation:
        options: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": max(sampling.top_k, 0),
            "min_p": 0.0,
            "repeat_penalty": 1.0,
            "seed": None if sampling.seed is None else sampling.seed + sample,
        }
        # Not streamed (no ``stream=True``): each call returns one response, not an iterator of chunks.
        try:
            if prompt.text is not None:
                tokens = self.engine.tokenize(prompt.text.encode("utf-8"), add_bos=False,
                                              special=True)
                completion = cast("CreateCompletionResponse", self.engine.create_completion(tokens, **options))
                text, cut, usage = (completion["choices"][0]["text"],
                                    completion["choices"][0]["finish_reason"] == "length", completion["usage"])
            else:
                messages = [cast("ChatCompletionRequestMessage", {"role": m.role, "content": m.content})
                            for m in prompt.messages]
                chat = cast("CreateChatCompletionResponse", self.engine.create_chat_completion(messages, **options))
                text, cut, usage = (chat["choices"][0]["message"]["content"] or "",
                                    chat["choices"][0]["finish_reason"] == "length", chat["usage"])
        except ValueError as error:
            raise ReasonRankError(f"llama.cpp rejected a prompt: {error}; raise n_ctx "
                                  f"(now {self.engine.n_ctx()}) or shorten the prompt.") from error
        return Generation(
            text=text,
            prompt_tokens=usage["prompt_tokens"],
            output_tokens=usage["completion_tokens"],
            finish_reason="length" if cut else "stop",
        )
