"""The in-process llama.cpp backend on a real GGUF model (SmolLM2-135M-Instruct, Q4_1).

The model comes from scripts/fetch_test_models.sh (part of the install); without it these tests
skip and say so.
"""
from __future__ import annotations

import sys

import pytest

from conftest import GGUF, N_BATCH
from reasonrank_ir import ReasonRankError
from reasonrank_ir.backends import Message, Prompt, Sampling, create_backend
from reasonrank_ir.backends.llamacpp import LlamaCppBackend


pytestmark = [pytest.mark.slow,  # llama.cpp
              pytest.mark.skipif(not GGUF.is_file(), reason=f"{GGUF} missing: run scripts/fetch_test_models.sh")]

MESSAGES = (Message("system", "You are a helpful assistant."),
            Message("user", "What is the capital of France?"))
# SmolLM2's chat template (ChatML), rendered by hand
TEXT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    # one thread: llama.cpp's spinning OpenMP threads crawl on a busy 2-core machine
    return LlamaCppBackend(str(GGUF), n_ctx=1024, n_threads=1, n_batch=N_BATCH)


def fresh(backend: LlamaCppBackend, prompt: Prompt, sampling: Sampling):
    """Generate with an empty KV cache, so two runs compute exactly the same thing."""
    backend.engine.reset()
    return backend.generate([prompt], sampling)[0]


def test_text_is_sent_exactly_and_matches_the_chat_path(backend):
    sampling = Sampling(max_tokens=16)
    from_text = fresh(backend, Prompt(MESSAGES, TEXT), sampling)
    from_messages = fresh(backend, Prompt(MESSAGES), sampling)
    tokens = backend.engine.tokenize(TEXT.encode(), add_bos=False, special=True)
    assert from_text.prompt_tokens == len(tokens) == from_messages.prompt_tokens
    assert from_text.text == from_messages.text
    assert "paris" in from_text.text.lower()
    assert 0 < from_text.output_tokens <= 16


def test_max_tokens_gives_length(backend):
    generation = backend.generate([Prompt(MESSAGES, TEXT)], Sampling(max_tokens=3))[0]
    assert (generation.output_tokens, generation.finish_reason) == (3, "length")


def test_n_seeded_samples_in_prompt_order(backend):
    other = Prompt((Message("user", "Name a colour."),),
                   "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n")
    sampling = Sampling(max_tokens=8, temperature=1.0, top_p=0.95, n=2, seed=7)
    backend.engine.reset()  # both calls from an empty KV cache: a reused prefix is evaluated in other batches
    generations = backend.generate([Prompt(MESSAGES, TEXT), other], sampling)
    counts = [g.prompt_tokens for g in generations]
    assert counts[0] == counts[1] != counts[2] == counts[3]
    backend.engine.reset()
    assert [g.text for g in generations] == \
        [g.text for g in backend.generate([Prompt(MESSAGES, TEXT), other], sampling)]


def test_errors(backend, tmp_path, monkeypatch):
    small = LlamaCppBackend(str(GGUF), n_ctx=32, n_threads=1, n_batch=N_BATCH)
    with pytest.raises(ReasonRankError, match="raise n_ctx"):
        small.generate([Prompt(MESSAGES, TEXT * 20)], Sampling(max_tokens=4))
    with pytest.raises(ReasonRankError, match="does not exist"):
        create_backend("llamacpp", str(tmp_path / "missing.gguf"))
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ReasonRankError, match=r"pip install 'reasonrank-ir\[llamacpp\]'"):
        LlamaCppBackend(str(GGUF))
