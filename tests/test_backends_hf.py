"""The transformers backend on a tiny random Qwen2 with the real Qwen2.5 tokenizer."""
from __future__ import annotations

import pytest

from reasonrank_ir import ReasonRankError
from reasonrank_ir.backends import Message, Prompt, Sampling, create_backend
from reasonrank_ir.backends.hf import HFBackend

pytestmark = pytest.mark.slow  # a transformers model, built and run

QUESTIONS = [
    "Rank the passages.",
    "Which of these passages about the thermal conductivity of copper at low temperatures "
    "answers the question best? Think carefully and explain.",
    "Why?",
]


def chat(question: str) -> tuple[Message, ...]:
    return (Message("system", "You are RankLLM."), Message("user", question))


@pytest.fixture(scope="module")
def backend(tiny_qwen2) -> HFBackend:
    return HFBackend(str(tiny_qwen2), batch_size=3, device="cpu")


@pytest.fixture(scope="module")
def prompts(backend) -> list[Prompt]:
    template = backend.tokenizer.apply_chat_template
    return [Prompt(chat(q), template([{"role": m.role, "content": m.content} for m in chat(q)],
                                     tokenize=False, add_generation_prompt=True))
            for q in QUESTIONS]


def test_batched_greedy_equals_one_by_one(backend, prompts):
    """Left padding must not change greedy output: the batch of three differs in length."""
    lengths = {len(backend.tokenizer(p.text)["input_ids"]) for p in prompts}
    assert len(lengths) == 3
    sampling = Sampling(max_tokens=12)
    batched = backend.generate(prompts, sampling)
    single = [backend.generate([prompt], sampling)[0] for prompt in prompts]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.output_tokens for g in batched] == [g.output_tokens for g in single]


def test_token_counts_and_length_limit(backend, prompts):
    generations = backend.generate(prompts, Sampling(max_tokens=7))
    for prompt, generation in zip(prompts, generations):
        assert generation.prompt_tokens == len(backend.tokenizer(prompt.text)["input_ids"])
        assert 1 <= generation.output_tokens <= 7
        if generation.finish_reason == "length":
            assert generation.output_tokens == 7
            ids = backend.tokenizer(generation.text, add_special_tokens=False)["input_ids"]
            assert len(ids) <= 7
    # a random model never says <|im_end|> within 7 tokens for all three prompts by chance
    assert any(g.finish_reason == "length" for g in generations)


def test_eos_stops_generation(backend, prompts, monkeypatch):
    """Treat the first greedy token as end-of-sequence: generation stops there, counted once."""
    first = backend.generate(prompts[:1], Sampling(max_tokens=1))[0]
    token = backend.tokenizer(first.text, add_special_tokens=False)["input_ids"][0]
    monkeypatch.setattr(backend, "eos_token_ids", frozenset({token}))
    generation = backend.generate(prompts[:1], Sampling(max_tokens=9))[0]
    assert (generation.output_tokens, generation.finish_reason) == (1, "stop")


def test_messages_without_text_use_the_chat_template(backend, prompts):
    sampling = Sampling(max_tokens=5)
    assert backend.generate([Prompt(prompts[0].messages)], sampling) == \
        backend.generate(prompts[:1], sampling)


def test_sampling_is_seeded_and_returns_n_per_prompt(backend, prompts):
    sampling = Sampling(max_tokens=6, temperature=1.0, top_p=0.9, top_k=50, n=2, seed=3)
    first = backend.generate(prompts[:2], sampling)
    assert len(first) == 4
    assert first == backend.generate(prompts[:2], sampling)


def test_create_backend_and_errors(tiny_qwen2, tmp_path):
    backend = create_backend("hf", str(tiny_qwen2), batch_size=2, device=None)
    assert backend.name == "hf" and backend.batch_size == 2
    with pytest.raises(ReasonRankError, match="batch_size"):
        create_backend("hf", str(tiny_qwen2), batch_sizes=2)
    with pytest.raises(ReasonRankError, match="model folder .*missing does not exist"):
        HFBackend(str(tmp_path / "missing"))
    with pytest.raises(ReasonRankError, match="Cannot load model"):
        HFBackend(str(tmp_path))  # a folder, but no checkpoint in it
    with pytest.raises(ReasonRankError, match="Did you mean: bfloat16"):
        HFBackend(str(tiny_qwen2), dtype="bfloat")
    with pytest.raises(ReasonRankError, match="unknown device 'gpu'"):
        HFBackend(str(tiny_qwen2), device="gpu")
