"""The one interface every LLM engine implements: prompts in, texts and token counts out.

Backends know nothing of retrieval or ranking. A :class:`Prompt` carries both the chat messages
(for servers that apply their own chat template) and the exact rendered string (for engines that
take raw text, so the prompt reaches the model byte for byte as the reranker built it).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Prompt:
    messages: tuple[Message, ...]
    text: str | None = None
    """The chat-template rendering of ``messages`` (None where no tokenizer is at hand)."""


def chat_text(messages: Sequence[Message], tokenizer: PreTrainedTokenizerBase) -> str:
    """``messages`` rendered with the tokenizer's chat template, the generation prompt added."""
    text = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in messages],
                                         tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):  # tokenize=False renders one conversation as one string
        raise TypeError(f"the chat template rendered a {type(text).__name__}, not text")
    return text


def render_prompt(prompt: Prompt, tokenizer: PreTrainedTokenizerBase | None) -> str:
    """The prompt's exact text, or its messages rendered with the tokenizer's chat template.

    What every engine that takes raw text (hf, vllm) feeds its model, so they see the same string.
    """
    if prompt.text is not None:
        return prompt.text
    if tokenizer is None:
        raise ValueError("a prompt without its rendered text needs the model's tokenizer")
    return chat_text(prompt.messages, tokenizer)


@dataclass(frozen=True)
class Sampling:
    """Decoding settings; the defaults are ReasonRank's reasoning mode (greedy, 3072 + 100 tokens)."""

    max_tokens: int = 3172
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1
    n: int = 1
    seed: int | None = None


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str = "stop"
    """'stop' or 'length' (cut off by max_tokens), as OpenAI and vLLM report it."""


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """One generation per prompt, in order. Engines batch or parallelise internally."""
        ...


@runtime_checkable
class ConcurrentBackend(Backend, Protocol):
    """A backend that takes ``generate`` calls from several threads at once (vllm, openai, llamacpp)."""

    @property
    def concurrent_requests(self) -> int:
        """Requests worth keeping in flight at once; 0 where the engine runs one batch at a time."""
        ...
