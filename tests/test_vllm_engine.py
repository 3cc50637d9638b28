"""The vllm backend on the real engine (vLLM's CPU build in .venv-vllm): one engine for the module.

A tiny random Qwen2 (head size 32, as vLLM's CPU attention needs) with the real Qwen2.5 tokenizer;
float32 so that greedy decoding does not depend on how requests share a batch.
"""
from __future__ import annotations

import json
import threading

import pytest

from conftest import require_vllm
from reasonrank_ir import ReasonRankError
from reasonrank_ir.backends import Message, Prompt, Sampling, create_backend, resolve_backend_name
from reasonrank_ir.rerank import ListwiseReranker, RerankConfig
from reasonrank_ir.types import Candidate, Query, Ranking

require_vllm()
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

ENGINE = {"enforce_eager": True, "dtype": "float32", "max_model_len": 4096}
"""No torch.compile (start-up in seconds), exact greedy decoding, a small KV cache."""


def chat(question: str) -> tuple[Message, ...]:
    return (Message("system", "You are RankLLM."), Message("user", question))


@pytest.fixture(scope="module")
def backend(tiny_qwen2_vllm):
    return create_backend("vllm", str(tiny_qwen2_vllm), **ENGINE)


@pytest.fixture(scope="module")
def prompts(qwen_tokenizer) -> list[Prompt]:
    """Rendered by transformers' own chat template, as the hf backend renders them."""
    questions = ["Rank the passages.", "Which passage about copper answers the question best? Explain.", "Why?"]
    return [Prompt(chat(q), qwen_tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in chat(q)], tokenize=False, add_generation_prompt=True))
        for q in questions]


def test_auto_chooses_vllm_here(backend):
    assert resolve_backend_name("auto") == "vllm" and backend.name == "vllm"


def test_greedy_length_cut_and_token_counts(backend, prompts, qwen_tokenizer):
    generations = backend.generate(prompts, Sampling(max_tokens=7))
    assert len(generations) == 3
    for prompt, generation in zip(prompts, generations):
        assert generation.prompt_tokens == len(qwen_tokenizer(prompt.text, add_special_tokens=False)["input_ids"])
        # a random model does not say <|im_end|> first thing; it runs to the budget
        assert (generation.output_tokens, generation.finish_reason) == (7, "length")
    alone = [backend.generate([prompt], Sampling(max_tokens=7))[0] for prompt in prompts]
    assert alone == generations  # greedy: the same with or without a batch
    longer = backend.generate(prompts[:1], Sampling(max_tokens=12))[0]
    assert longer.output_tokens == 12 and longer.text.startswith(generations[0].text)


def test_chat_template_and_prompt_ids_are_the_hf_backend_s(backend, prompts, qwen_tokenizer):
    """Messages rendered by vLLM's tokenizer reach the model as the same token ids as hf's rendering."""
    from vllm import SamplingParams

    sampling = Sampling(max_tokens=5)
    assert backend.generate([Prompt(p.messages) for p in prompts], sampling) == backend.generate(prompts, sampling)
    (output,) = backend.engine.generate([prompts[1].text], SamplingParams(max_tokens=1), use_tqdm=False)
    assert list(output.prompt_token_ids) == qwen_tokenizer(prompts[1].text, add_special_tokens=False)["input_ids"]


def test_n_seed_top_k_and_temperature(backend, prompts):
    sampled = Sampling(max_tokens=6, temperature=1.0, top_p=0.9, n=2, seed=3)
    first = backend.generate(prompts[:2], sampled)
    assert len(first) == 4 and all(g.output_tokens == 6 for g in first)
    assert first == backend.generate(prompts[:2], sampled)  # seeded: reproducible
    other_seed = backend.generate(prompts[:2], Sampling(max_tokens=6, temperature=1.0, top_p=0.9, n=2, seed=4))
    assert [g.text for g in other_seed] != [g.text for g in first]
    greedy = backend.generate(prompts[:1], Sampling(max_tokens=6))[0]
    top_1 = backend.generate(prompts[:1], Sampling(max_tokens=6, temperature=1.0, top_k=1, seed=5))[0]
    assert top_1 == greedy  # top_k=1 leaves only the greedy token


def test_concurrent_callers_share_the_engine(backend, prompts):
    """generate from several threads at once (what a pipelined reranker does) gives each its own answer."""
    sampling = Sampling(max_tokens=9)
    expected = backend.generate(prompts, sampling)
    results: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, backend.generate([prompts[i]], sampling)))
               for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [results[i][0] for i in range(3)] == expected


def test_a_prompt_longer_than_the_context_fails_alone(backend, prompts):
    with pytest.raises(ReasonRankError, match="vLLM refused a prompt: .*maximum context length is 4096"):
        backend.generate([Prompt((), "word " * 5000)], Sampling(max_tokens=2))
    assert backend.generate(prompts[:1], Sampling(max_tokens=3))[0].output_tokens == 3


@pytest.mark.parametrize("options, message", [
    ({"max_model_len": 0}, r"vLLM cannot start .*max_model_len must be a positive integer"),
    ({"dtype": "bfloat"}, r"vLLM cannot start .*dtype"),
    ({"max_model_lenn": 2048}, r"backend option 'max_model_lenn'.*Did you mean: max_model_len"),
    ({"tensor_parallel_size": 0}, r"tensor_parallel_size must be at least 1"),
])
def test_engine_options_vllm_rejects_are_one_line(tiny_qwen2_vllm, options, message):
    with pytest.raises(ReasonRankError, match=message) as error:
        create_backend("vllm", str(tiny_qwen2_vllm), **ENGINE | options)
    assert "\n" not in str(error.value)


def test_model_folders_without_a_model_are_one_line(tiny_qwen2_vllm, tmp_path):
    """Checked before vLLM starts its engine (where a missing file would end in a long traceback)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReasonRankError, match=r"Model folder .*empty has no weights") as error:
        create_backend("vllm", str(empty), **ENGINE)
    assert "\n" not in str(error.value)
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (no_weights / name).write_bytes((tiny_qwen2_vllm / name).read_bytes())
    with pytest.raises(ReasonRankError, match=r"Model folder .*no-weights has no weights"):
        create_backend("vllm", str(no_weights), **ENGINE)


def rankings(count: int, depth: int) -> list[Ranking]:
    words = ["copper", "heat", "flow", "wing", "shock", "boundary", "layer", "pressure", "plate", "jet"]
    return [Ranking(Query(f"q{q}", f"query {q} about {words[q % 10]} {words[(q + 3) % 10]}"),
                    tuple(Candidate(f"d{q}-{i}", float(depth - i),
                                    {"contents": f"passage {i}: {words[i % 10]} {words[(i * q) % 10]} " * 3})
                          for i in range(depth)))
            for q in range(count)]


class InFlight:
    """The backend, counting the most generate calls in progress at once."""

    name = "vllm"

    def __init__(self, backend):
        self.backend, self.concurrent_requests = backend, backend.concurrent_requests
        self.now = self.most = 0
        self.lock = threading.Lock()

    def generate(self, prompts, sampling):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return self.backend.generate(prompts, sampling)
        finally:
            with self.lock:
                self.now -= 1


def test_pipelined_and_rounds_give_the_same_rankings_and_traces(backend, qwen_tokenizer):
    """Greedy: each query's windows are the same requests either way, so the same answers."""
    config = RerankConfig(depth=12, window=6, step=3, max_passage_tokens=16, sampling=Sampling(max_tokens=24))
    batch = rankings(5, 12)
    rounds = ListwiseReranker(backend, qwen_tokenizer, config, schedule="rounds")
    watched = InFlight(backend)
    pipelined = ListwiseReranker(watched, qwen_tokenizer, config)
    assert (rounds.concurrency, pipelined.schedule) == (0, "pipelined") and pipelined.concurrency >= 5
    by_rounds, by_pipeline = rounds.rerank_batch(batch), pipelined.rerank_batch(batch)
    assert watched.most > 1  # queries' windows were in the engine together, one window per call
    assert [r.candidates for r in by_pipeline.rankings] == [r.candidates for r in by_rounds.rankings]

    def content(traces):  # everything but the seconds a window took
        return [(t.query_id, t.pass_index, t.start, t.end, t.prompt_tokens, t.output_tokens, t.status, t.order,
                 t.response, t.doc_ids, t.finish_reason) for t in traces]

    assert len(by_rounds.traces) == 5 * 3
    assert content(by_pipeline.traces) == content(by_rounds.traces)
    assert by_pipeline.summary.output_tokens == by_rounds.summary.output_tokens == 15 * 24


def test_query_expansion_and_teacher_labels_run_on_the_engine(backend, qwen_tokenizer, tmp_path, request):
    """The other modules that take a backend: BRIGHT-style query expansion and train.label's labelling.

    Cranfield (the JVM) after the engine, as the search CLI orders them (see java.jvm_fault_handlers_kept).
    """
    cranfield = request.getfixturevalue("cranfield")
    from reasonrank_ir.retrieval.expansion import QueryExpander
    from reasonrank_ir.train.label import LabelConfig, LabelStats, label_samples
    from reasonrank_ir.train.mine import MiningConfig, mine_topics

    queries = list(cranfield.topics().values())[:2]
    expanded = QueryExpander(backend, tmp_path / "cache.jsonl", sampling=Sampling(max_tokens=8)).expand(queries)
    assert [q.query_id for q in expanded.values()] == [q.query_id for q in queries]
    records = [json.loads(line) for line in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert [(r["query_id"], r["model"], r["finish_reason"]) for r in records] == \
        [(q.query_id, str(backend.model), "length") for q in queries]  # 8 tokens of a random model's reasoning
    assert all(e.text.startswith(q.text.strip()) for q, e in zip(queries, expanded.values()))

    samples = list(mine_topics(cranfield, MiningConfig(seed=7), num_queries=2))
    stats = LabelStats()
    config = LabelConfig(listwise=Sampling(max_tokens=16), pointwise=Sampling(max_tokens=4), max_passage_tokens=40)
    labelled = list(label_samples(samples, backend, config, qwen_tokenizer, batch_size=2, stats=stats))
    assert [s.query.query_id for s in labelled] == [s.query.query_id for s in samples]
    for sample in labelled:
        assert sorted(sample.final_list) == sorted(sample.initial_list)  # a whole permutation
        # a random model runs to every budget: 4 tokens per passage judged, 16 for the list
        assert sample.usage["output_tokens"] == 4 * len(sample.candidates) + 16
    assert stats.requests == sum(len(s.candidates) + 1 for s in samples)
