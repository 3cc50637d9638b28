"""Query synthesis on the real Cranfield index, the teacher being a real OpenAI-compatible server on
127.0.0.1 that replays answers: R1-style reasoning_content, inline <think> with markdown labels, and
unreadable replies (for passages mentioning 'shock')."""
from __future__ import annotations

import pytest
from replay_server import ReplayServer

from reasonrank_ir.backends.base import Sampling
from reasonrank_ir.rerank.prompts import passage_text
from reasonrank_ir.train.mine import MiningConfig, parse_question, synthesise_queries
from reasonrank_ir.train.sample import read_samples

UNREADABLE = "shock"


def passage_of(body: dict) -> str:
    return body["messages"][0]["content"].split("Passage: ", 1)[1].split("\n\nWrite one", 1)[0]


def question_for(passage: str) -> tuple[str, str]:
    return f"How would the finding of '{passage[:40]}' change at twice the speed?", f"It {len(passage)} doubles."


def synthesis_reply(body: dict) -> tuple[str, str | None]:
    passage = passage_of(body)
    if UNREADABLE in passage:
        return "I would rather not write a question about this passage.", "Hmm."
    question, answer = question_for(passage)
    if "heat" in passage:  # a reasoning model that keeps its reasoning inline, with a draft in it
        return f"<think>Question: a draft\nAnswer: no</think>\n**Question:** {question}\n**Answer:** {answer}", None
    return f"Question: {question}\nAnswer: {answer}", "Let me find what this passage enables."


@pytest.fixture(scope="module")
def teacher():
    server = ReplayServer(synthesis_reply)
    yield server
    server.close()


def synthesise(cranfield, teacher, num_queries: int, seed: int):
    from reasonrank_ir.backends.openai import OpenAIBackend

    backend = OpenAIBackend("teacher", teacher.url, api_key="x", concurrency=4)
    return list(synthesise_queries(cranfield, backend, num_queries, MiningConfig(seed=seed),
                                   Sampling(max_tokens=64, temperature=0.6), batch_size=3))


def test_parse_question_skips_reasoning_and_rejects_unreadable_replies():
    assert parse_question("Question: Why?\nAnswer: Because.") == ("Why?", "Because.")
    assert parse_question("<think>Question: draft</think>\n**Question:** Why?\n\n**Answer:** Because.") == (
        "Why?", "Because.")
    assert parse_question("Question: Why?") == ("Why?", "")
    assert parse_question("<think>Question: a draft cut off by max_tokens") is None
    assert parse_question("No question here.") is None
    assert parse_question("<think>x</think>Question:   ") is None


@pytest.mark.slow
def test_synthesised_lists_hold_their_passage_and_the_teachers_question(cranfield, teacher):
    start = len(teacher.requests)
    samples = synthesise(cranfield, teacher, 4, seed=0)
    asked = [passage_of(r) for r in teacher.requests[start:]]
    assert len(samples) == 4
    for sample in samples:
        (positive,) = sample.positives
        assert sample.query_id == f"syn-{positive}"
        ids = sample.initial_list
        assert len(ids) == 20 and len(set(ids)) == 20 and positive in ids
        text = passage_text(next(c for c in sample.candidates if c.doc_id == positive).doc)
        assert (sample.query.text, sample.answer) == question_for(text)
        assert text in asked and UNREADABLE not in text
    assert any("heat" in passage_text(c.doc) for s in samples for c in s.candidates if c.doc_id in s.positives)
    # An unreadable reply drops its passage and the next sampled passage takes its place; no more
    # passages are asked than lists are still wanted.
    unreadable = [p for p in asked if UNREADABLE in p]
    assert unreadable and len(asked) == len(samples) + len(unreadable)


@pytest.mark.slow
def test_synthesis_is_reproducible_with_a_seed(cranfield, teacher):
    first = synthesise(cranfield, teacher, 3, seed=0)
    assert [s.to_json() for s in synthesise(cranfield, teacher, 3, seed=0)] == [s.to_json() for s in first]
    assert [s.positives for s in synthesise(cranfield, teacher, 3, seed=1)] != [s.positives for s in first]


@pytest.mark.slow
def test_synthesise_cli_resumes_like_an_uninterrupted_run(cranfield, teacher, tmp_path, capsys):
    from reasonrank_ir.train.mine.__main__ import main

    out = tmp_path / "mined.jsonl"
    assert main(["--index", "cranfield", "--output", str(out), "--num-queries", "1"]) == 0  # a topic list
    argv = ["--index", "cranfield", "--output", str(out), "--queries", "synthesise", "--model", "teacher",
            "--base-url", teacher.url, "--api-key", "x", "--seed", "0", "--max-tokens", "64"]
    before = len(teacher.requests)
    assert main(argv + ["--num-queries", "2"]) == 0
    start = len(teacher.requests)
    first = [passage_of(r) for r in teacher.requests[before:start]]
    assert len(first) == 2 + sum(UNREADABLE in p for p in first)  # not a whole batch of 16 for 2 lists
    assert main(argv + ["--num-queries", "4"]) == 0
    resumed = teacher.requests[start:]
    assert "3 were already there" in capsys.readouterr().out
    topic, *synthesised = read_samples(out)
    assert not topic.query_id.startswith("syn-")
    assert [s.to_json() for s in synthesised] == [s.to_json() for s in synthesise(cranfield, teacher, 4, seed=0)]
    written = {passage_text(c.doc) for s in synthesised[:2] for c in s.candidates if c.doc_id in s.positives}
    assert not written & {passage_of(r) for r in resumed}  # nor are they asked again
    assert resumed[0]["seed"] == 0 and resumed[0]["max_tokens"] == 64  # --seed seeds the teacher too
