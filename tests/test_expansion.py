"""Reasoning query expansion with a tiny local model: BRIGHT's prompt, a JSONL cache reused on rerun."""
from __future__ import annotations

import json

import pytest

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.retrieval.expansion import ExpansionSettings, QueryExpander, reasoning_prompt
from reasonrank_ir.types import Query

QUERIES = [Query("1", "why do insects fly\ntowards light?"), Query("2", "what is a heat shield made of"),
           Query("3", "boundary layer transition on a flat plate")]


class Counting:
    """Wraps a backend and counts the prompts that reach it."""

    def __init__(self, backend):
        self.backend = backend
        self.name = backend.name
        self.model = backend.model
        self.prompts = 0

    def generate(self, prompts, sampling):
        self.prompts += len(prompts)
        return self.backend.generate(prompts, sampling)


@pytest.fixture(scope="module")
def tiny_backend(tiny_qwen2):
    from reasonrank_ir.backends import create_backend

    return create_backend("hf", str(tiny_qwen2))


def test_bright_prompt():
    prompt = reasoning_prompt("line one\nline two")
    assert len(prompt.messages) == 1 and prompt.messages[0].role == "user" and prompt.text is None
    assert prompt.messages[0].content == (
        "line one line two\n\nInstructions:\n1. Identify the essential problem.\n2. Think step by step to reason "
        "and describe what information could be relevant and helpful to address the questions in detail.\n"
        "3. Draft an answer with as many thoughts as you have.\n")


@pytest.mark.slow
def test_expansions_are_cached_and_reused(tiny_backend, tmp_path):
    from reasonrank_ir.backends.base import Sampling

    cache = tmp_path / "expansions.jsonl"
    sampling = Sampling(max_tokens=8)
    first = Counting(tiny_backend)
    expanded = QueryExpander(first, cache, sampling=sampling).expand(QUERIES)
    assert first.prompts == 3
    records = [json.loads(line) for line in cache.read_text().splitlines()]
    assert [(r["model"], r["query_id"], r["query"]) for r in records] == \
        [(tiny_backend.model, q.query_id, q.text) for q in QUERIES]
    assert all(isinstance(r["reasoning"], str) and r["finish_reason"] for r in records)  # random weights: any text
    for query, record in zip(QUERIES, records):
        assert expanded[query.query_id].text == f"{query.text}\n{record['reasoning']}".strip()

    second = Counting(tiny_backend)
    again = QueryExpander(second, cache, sampling=sampling).expand(QUERIES)
    assert second.prompts == 0 and again == expanded
    assert len(cache.read_text().splitlines()) == 3

    # A changed query text is a new key: only it is generated; replace mode gives the reasoning alone.
    third = Counting(tiny_backend)
    changed = [QUERIES[0], Query("2", "what are heat shields made of")]
    alone = QueryExpander(third, cache, sampling=sampling, mode="replace").expand(changed)
    assert third.prompts == 1 and len(cache.read_text().splitlines()) == 4
    assert alone["1"].text == (records[0]["reasoning"] or QUERIES[0].text)


@pytest.mark.slow
def test_pipeline_retrieves_with_expansion_but_keeps_original_queries(cranfield, tiny_qwen2, tmp_path):
    from reasonrank_ir import pipeline

    topics = dict(list(cranfield.topics().items())[:3])
    settings = ExpansionSettings(str(tiny_qwen2), backend="hf", cache=str(tmp_path / "cache.jsonl"), max_tokens=8)
    stage = pipeline.FirstStage(hits=20, expansion=settings)
    run = pipeline.retrieve(cranfield, topics, stage)
    assert run.name == f"bm25.reasoning-{tiny_qwen2.name.lower()}"
    assert [r.query for r in run] == list(topics.values())
    assert len((tmp_path / "cache.jsonl").read_text().splitlines()) == 3
    assert all(len(r.candidates) == 20 for r in run)


def test_settings_errors():
    with pytest.raises(ReasonRankError, match="Did you mean: replace"):
        ExpansionSettings("m", mode="replac")
    from reasonrank_ir import pipeline

    with pytest.raises(ReasonRankError, match="run files"):
        pipeline.FirstStage(run_file="x.txt", expansion=ExpansionSettings("m"))
