"""Reranking Cranfield end to end through the llama.cpp and OpenAI-compatible engines.

The model is SmolLM2-135M-Instruct (GGUF): its rankings are weak; what is checked is that every
window runs, parses or is repaired (never lost), is traced, and gives a valid run. SmolLM2 speaks
ChatML like Qwen2.5, so the shared Qwen2.5 tokenizer renders its prompts.
"""
from __future__ import annotations

import pytest

from conftest import GGUF, N_BATCH
from reasonrank_ir import pipeline
from reasonrank_ir.backends import create_backend
from reasonrank_ir.backends.base import Sampling
from reasonrank_ir.io.traces import read_traces
from reasonrank_ir.io.trec import read_run
from reasonrank_ir.rerank import ListwiseReranker, RerankConfig

pytestmark = [pytest.mark.slow,  # llama.cpp
              pytest.mark.skipif(not GGUF.is_file(), reason=f"{GGUF} missing: run scripts/fetch_test_models.sh")]

CONFIG = RerankConfig(depth=6, window=3, step=3, max_passage_tokens=24, sampling=Sampling(max_tokens=24))


def rerank_and_check(backend, cranfield, qwen_tokenizer, tmp_path):
    topics = dict(list(cranfield.topics().items())[:2])
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=6))
    files = pipeline.OutputFiles.beside(tmp_path / "run.txt")
    outcome = pipeline.rerank(ListwiseReranker(backend, qwen_tokenizer, CONFIG), first, cranfield, files,
                              batch_size=2, progress=False)
    run = read_run(files.run)
    for query_id, ranking in first.rankings.items():
        assert sorted(c.doc_id for c in run[query_id].candidates) == sorted(c.doc_id for c in ranking.candidates)
    traces = read_traces(files.traces)
    assert len(traces) == 2 * 2  # windows [3,6) and [0,3) of each query
    assert all(t.prompt_tokens > 100 and 0 < t.output_tokens <= 24 and t.response for t in traces)
    assert all(sorted(t.order) == [0, 1, 2] for t in traces)
    summary = outcome.summary
    assert summary.windows == 4 and sum(summary.statuses.values()) == 4
    return traces


def test_llamacpp_engine_reranks(cranfield, qwen_tokenizer, tmp_path):
    backend = create_backend("llamacpp", str(GGUF), n_ctx=1024, n_threads=1, n_batch=N_BATCH)
    rerank_and_check(backend, cranfield, qwen_tokenizer, tmp_path)


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_openai_engine_reranks_against_a_llama_server(endpoint, llama_server, cranfield, qwen_tokenizer,
                                                      tmp_path):
    backend = create_backend("openai", "smollm2", base_urls=[llama_server], endpoint=endpoint, concurrency=2)
    traces = rerank_and_check(backend, cranfield, qwen_tokenizer, tmp_path)
    assert all(t.finish_reason in ("stop", "length") for t in traces)


def test_a_gguf_alone_is_enough_on_a_laptop(cranfield, tmp_path):
    """``--backend llamacpp --model file.gguf``: the tokenizer is read from the GGUF itself.

    Through the library (the CLI builds the same reranker) so the test can pass this machine's
    n_batch workaround for llama.cpp's AMX kernels.
    """
    from reasonrank_ir.rerank import Reranker

    reranker = Reranker.from_name("reasonrank", model=str(GGUF), backend="llamacpp", n_ctx=1024, n_threads=1,
                                  n_batch=N_BATCH, config=CONFIG)
    rendered = reranker.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    # SmolLM2's own template (its default system message), read from the GGUF, not Qwen's
    assert rendered.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    topics = dict(list(cranfield.topics().items())[:1])
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=6))
    run = reranker.rerank(pipeline.attach_passages(cranfield, r, 6) for r in first)
    assert sorted(c.doc_id for c in run["1"].candidates) == sorted(c.doc_id for c in first["1"].candidates)
    assert reranker.summary.windows == 2
