"""The listwise reranker with scripted backends and the real Qwen2.5 tokenizer.

Scripted backends read the rendered prompts the reranker sends, answer like a model would, and
count calls: batching rounds, prompts, passage formatting, traces and summaries are checked on them.
"""
from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from conftest import QWEN_TOKENIZER
from reasonrank_ir.backends.base import Generation, Sampling
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.requests import read_requests, write_requests
from reasonrank_ir.io.traces import TraceJournal, read_traces
from reasonrank_ir.rerank import ListwiseReranker, OracleReranker, RerankConfig, Reranker
from reasonrank_ir.types import Candidate, Query, Ranking

_NUM = re.compile(r"I will provide you with (\d+) passages")
_PASSAGE = re.compile(r"^\[(\d+)\] .*?value (\d+)\b", re.MULTILINE)


class ScriptedBackend:
    """Answers each window from its prompt text and records every ``generate`` call."""

    name = "scripted"

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def generate(self, prompts, sampling):
        self.calls.append(list(prompts))
        return [Generation(self.answer(p.text), prompt_tokens=len(p.text) // 4, output_tokens=7) for p in prompts]


def reverse_window(text):
    num = int(_NUM.search(text).group(1))
    return "<think>reversed</think> <answer>" + " > ".join(f"[{i}]" for i in range(num, 0, -1)) + "</answer>"


def by_value(text):
    """A perfect model: passage ``value N`` with the highest N first."""
    values = {int(i): int(v) for i, v in _PASSAGE.findall(text)}
    best = sorted(values, key=lambda i: -values[i])
    return "<think>by value</think>\n<answer>" + " > ".join(f"[{i}]" for i in best) + "</answer>"


class CountingTokenizer:
    """The real tokenizer, counting how often prompts are rendered."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.rendered = 0

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def apply_chat_template(self, *args, **kwargs):
        self.rendered += 1
        return self._tokenizer.apply_chat_template(*args, **kwargs)


def count_truncations(reranker):
    """Wrap the reranker's passage truncation: ``calls`` batched calls, ``texts`` passages cut."""
    counts = {"calls": 0, "texts": 0}
    truncate_many = reranker.formatter._truncate_many

    def counting(texts):
        counts["calls"] += 1
        counts["texts"] += len(texts)
        return truncate_many(texts)

    reranker.formatter._truncate_many = counting
    return counts


def ranking(query_id, n, values=None, docs=True):
    values = values or list(range(n))
    return Ranking(Query(query_id, f"query {query_id} [1]"), tuple(
        Candidate(f"{query_id}-d{i}", float(1000 - i), {"contents": f"{query_id} passage {i} with value {values[i]}"} if docs else None)
        for i in range(n)))


@pytest.fixture(scope="module")
def counting_tokenizer(qwen_tokenizer):
    """One wrapper for the module: the reranker builds its fast truncation once per tokenizer object (~1 s)."""
    return CountingTokenizer(qwen_tokenizer)


@pytest.fixture()
def tokenizer(counting_tokenizer):
    counting_tokenizer.rendered = 0
    return counting_tokenizer


def test_queries_share_rounds_and_passages_are_formatted_once(tokenizer):
    backend = ScriptedBackend(reverse_window)
    reranker = ListwiseReranker(backend, tokenizer, RerankConfig())
    truncations = count_truncations(reranker)
    batches = list(reranker.rerank_batches([ranking(f"q{i}", 100) for i in range(5)], batch_size=32))
    assert len(batches) == 1
    assert len(backend.calls) == 9  # not 9 x 5
    assert [len(call) for call in backend.calls] == [5] * 9
    assert truncations == {"calls": 1, "texts": 500}  # each passage once per query, in one batched call
    assert tokenizer.rendered == 45
    first = backend.calls[0][0]
    assert first.text.count("\n[") == 20 and "[1] q0 passage 80 with value 80\n" in first.text
    assert "search query: query q0 (1)." in first.text
    assert first.text.endswith("e.g., [2] > [1].<|im_end|>\n<|im_start|>assistant\n")
    assert len(batches[0].traces) == 45


def test_a_document_shared_by_queries_is_truncated_once(tokenizer):
    shared = ranking("a", 40)
    rankings = [shared, Ranking(Query("b", "other"), shared.candidates[::-1])]
    reranker = ListwiseReranker(ScriptedBackend(reverse_window), tokenizer)
    truncations = count_truncations(reranker)
    reranker.rerank(rankings)
    assert truncations == {"calls": 1, "texts": 40}
    reranker.rerank([Ranking(Query("c", "third"), shared.candidates[:30])])
    assert truncations == {"calls": 1, "texts": 40}  # all 30 remembered: nothing truncated again


def test_reversing_every_window_gives_the_expected_order(tokenizer):
    reranker = ListwiseReranker(ScriptedBackend(reverse_window), tokenizer, RerankConfig())
    result = reranker.rerank([ranking("q", 30)])["q"]
    # [10,30) reversed, then [0,20) reversed
    expected = list(range(20, 30)) + list(range(9, -1, -1)) + list(range(19, 9, -1))
    assert [c.doc_id for c in result.candidates] == [f"q-d{i}" for i in expected]
    scores = [c.score for c in result.candidates]
    assert all(a > b for a, b in zip(scores, scores[1:]))


def test_a_perfect_model_bubbles_the_top_ten_up(tokenizer):
    values = random.Random(7).sample(range(1000), 100)
    result = ListwiseReranker(ScriptedBackend(by_value), tokenizer).rerank([ranking("q", 100, values)])["q"]
    top = [int(c.doc_id.split("-d")[1]) for c in result.candidates[:10]]
    assert [values[i] for i in top] == sorted(values, reverse=True)[:10]
    assert sorted(c.doc_id for c in result.candidates) == sorted(f"q-d{i}" for i in range(100))


def test_depth_leaves_the_tail_in_place_below(tokenizer):
    backend = ScriptedBackend(reverse_window)
    config = RerankConfig(depth=20, window=10, step=5)
    result = ListwiseReranker(backend, tokenizer, config).rerank([ranking("q", 50, docs=True)])["q"]
    assert len(backend.calls) == 3
    assert [c.doc_id for c in result.candidates[20:]] == [f"q-d{i}" for i in range(20, 50)]
    assert sorted(c.doc_id for c in result.candidates[:20]) == sorted(f"q-d{i}" for i in range(20))
    scores = [c.score for c in result.candidates]
    assert all(a > b for a, b in zip(scores, scores[1:]))


def test_tail_candidates_need_no_text(tokenizer):
    head = ranking("q", 20)
    tail = tuple(Candidate(f"q-t{i}", 0.0) for i in range(5))
    result = ListwiseReranker(ScriptedBackend(reverse_window), tokenizer, RerankConfig(depth=20)).rerank(
        [Ranking(head.query, head.candidates + tail)])["q"]
    assert result.candidates[0].doc_id == "q-d19" and result.candidates[-1].doc_id == "q-t4"


def test_mixed_lengths_passes_and_batches(tokenizer):
    backend = ScriptedBackend(reverse_window)
    reranker = ListwiseReranker(backend, tokenizer, RerankConfig(passes=2))
    batches = list(reranker.rerank_batches([ranking("long", 100), ranking("short", 30), ranking("tiny", 3)]))
    # each query walks its own schedule (pass 0 then pass 1); round k holds every query's k-th window.
    # Upstream's pass p starts at rank step*p (REFERENCE.md section 3): 100 candidates take 9 + 8 windows,
    # 30 take 2 + 1 ([10, 30) alone in pass 1), 3 take 1 + 0 (pass 1 starts below them).
    assert [len(call) for call in backend.calls] == [3, 2, 2] + [1] * 14
    traces = batches[0].traces
    assert [(t.pass_index, t.start, t.end) for t in traces if t.query_id == "short"] == [
        (0, 10, 30), (0, 0, 20), (1, 10, 30)]
    assert [(t.start, t.end) for t in traces if t.query_id == "long" and t.pass_index == 1] == [
        (80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30)]
    # a 3-passage window reversed once, in pass 0 only
    assert [c.doc_id for c in batches[0].rankings[2].candidates] == ["tiny-d2", "tiny-d1", "tiny-d0"]

    backend.calls.clear()
    batches = list(ListwiseReranker(backend, tokenizer).rerank_batches(
        [ranking(f"q{i}", 100) for i in range(5)], batch_size=2))
    assert [[r.query_id for r in b.rankings] for b in batches] == [["q0", "q1"], ["q2", "q3"], ["q4"]]
    assert [len(call) for call in backend.calls] == [2] * 9 + [2] * 9 + [1] * 9


def test_traces_and_summary(tokenizer, tmp_path):
    def flaky(text):
        return "<think>I ran out of tokens" if "query q1 " in text else reverse_window(text)

    reranker = ListwiseReranker(ScriptedBackend(flaky), tokenizer)
    batches = list(reranker.rerank_batches([ranking(f"q{i}", 40) for i in range(3)], batch_size=2))
    traces = [t for b in batches for t in b.traces]
    assert len(traces) == 9
    assert {t.status for t in traces if t.query_id == "q1"} == {"no_answer"}
    assert {t.status for t in traces if t.query_id != "q1"} == {"ok"}
    q1 = [b for b in batches if "q1" in [r.query_id for r in b.rankings]][0]
    assert [c.doc_id for c in q1.rankings[1].candidates] == [f"q1-d{i}" for i in range(40)]  # window order kept
    first = traces[0]
    assert (first.query_id, first.pass_index, first.start, first.end) == ("q0", 0, 20, 40)
    assert first.doc_ids == tuple(f"q0-d{i}" for i in range(20, 40))
    assert first.order == tuple(range(19, -1, -1)) and first.response.startswith("<think>reversed</think>")
    assert first.prompt_tokens > 300 and first.output_tokens == 7 and first.seconds >= 0

    summary = reranker.summary
    assert (summary.queries, summary.windows) == (3, 9)
    assert summary.statuses == {"ok": 6, "repaired": 0, "no_answer": 3}
    assert summary.parse_failures == 3
    assert summary.output_tokens == 63 and summary.prompt_tokens == sum(t.prompt_tokens for t in traces)
    assert summary.queries_per_second > 0
    assert summary == batches[0].summary + batches[1].summary
    assert summary.as_dict()["statuses"]["no_answer"] == 3

    path = tmp_path / "traces.jsonl"
    with TraceJournal(path) as writer:
        for trace in traces[:4]:
            writer.record(trace)
    with TraceJournal(path, resume=True) as writer:
        for trace in traces[4:]:
            writer.record(trace)
    assert read_traces(path) == traces


def test_rankgpt_style_parses_untagged_answers(tokenizer):
    def plain(text):
        assert "Only respond with the ranking results" in text
        return reverse_window(text).split("<answer>")[1].removesuffix("</answer>")

    reranker = ListwiseReranker(ScriptedBackend(plain), tokenizer, RerankConfig(style="rankgpt"))
    result = reranker.rerank([ranking("q", 5)])["q"]
    assert [c.doc_id for c in result.candidates] == [f"q-d{i}" for i in (4, 3, 2, 1, 0)]
    assert reranker.summary.statuses["ok"] == 1


def test_missing_passage_text_fails_before_generating(tokenizer):
    backend = ScriptedBackend(reverse_window)
    broken = ranking("q", 30)
    broken = Ranking(broken.query, broken.candidates[:5] + (Candidate("q-bad", 1.0),) + broken.candidates[6:])
    with pytest.raises(ReasonRankError, match=r"query q: candidate q-bad \(rank 6\) has no passage"):
        ListwiseReranker(backend, tokenizer).rerank([ranking("ok", 30), broken])
    assert backend.calls == []


def test_backend_returning_too_few_generations(tokenizer):
    class Short(ScriptedBackend):
        def generate(self, prompts, sampling):
            return super().generate(prompts, sampling)[:-1]

    with pytest.raises(ReasonRankError, match="returned 1 generations for 2 prompts"):
        ListwiseReranker(Short(reverse_window), tokenizer).rerank([ranking("a", 5), ranking("b", 5)])


def test_requests_file_round_trip_and_rerank(tokenizer, tmp_path):
    rankings = [ranking("q1", 12), ranking("q2", 3)]
    rankings[1] = Ranking(rankings[1].query, rankings[1].candidates + (Candidate("q2-x", 0.5),))
    path = tmp_path / "requests.jsonl"
    write_requests(rankings, path)
    assert path.read_text().splitlines()[0].startswith('{"query": {"text": "query q1 [1]", "qid": "q1"}, '
                                                       '"candidates": [{"docid": "q1-d0", "score": 1000.0, "doc": ')
    loaded = read_requests(path)
    assert loaded == rankings
    assert loaded[0].candidates[3].doc == {"contents": "q1 passage 3 with value 3"}
    assert loaded[1].candidates[-1].doc is None
    result = ListwiseReranker(ScriptedBackend(reverse_window), tokenizer, RerankConfig(depth=3)).rerank(loaded)
    assert [c.doc_id for c in result["q2"].candidates] == ["q2-d2", "q2-d1", "q2-d0", "q2-x"]

    (tmp_path / "bad.jsonl").write_text('{"query": {"text": "t"}, "candidates": []}\n')
    with pytest.raises(ReasonRankError, match=r"bad.jsonl:1: expected"):
        read_requests(tmp_path / "bad.jsonl")


def test_from_name(tokenizer):
    backend = ScriptedBackend(reverse_window)
    reranker = Reranker.from_name("reasonrank", model="unused", backend=backend, tokenizer=QWEN_TOKENIZER)
    assert isinstance(reranker, ListwiseReranker) and reranker.config.style == "reasonrank"
    assert reranker.config.sampling == Sampling()

    qwen3 = Reranker.from_name("qwen3", model="m", backend=backend, tokenizer=tokenizer,
                               config=RerankConfig(sampling=Sampling(max_tokens=512)))
    assert qwen3.config.style == "qwen3"
    assert qwen3.config.sampling == Sampling(max_tokens=512, temperature=0.6, top_p=0.95, top_k=20)
    rankgpt = Reranker.from_name("rankgpt", model="m", backend=backend, tokenizer=tokenizer,
                                 config=replace(RerankConfig(), window=10, step=5))
    assert (rankgpt.config.style, rankgpt.config.window) == ("rankgpt", 10)

    assert isinstance(Reranker.from_name("oracle", qrels={}), OracleReranker)
    with pytest.raises(ReasonRankError, match="pass qrels"):
        Reranker.from_name("oracle")
    with pytest.raises(ReasonRankError, match="Did you mean: reasonrank"):
        Reranker.from_name("reasonrnk", model="m")
    with pytest.raises(ReasonRankError, match="needs a model"):
        Reranker.from_name("reasonrank", backend=backend)
    with pytest.raises(ReasonRankError, match="not on this machine.*--tokenizer"):
        Reranker.from_name("reasonrank", model="no-such-org/no-such-model", backend=backend)


def test_bad_config():
    with pytest.raises(ReasonRankError, match=r"rerank step \(--step\) must be a positive integer"):
        RerankConfig(step=0)
    with pytest.raises(ReasonRankError, match=r"rerank max_passage_tokens \(--passage-tokens\) must be"):
        RerankConfig(max_passage_tokens=0)
    # windows of 10 moved by 15 would never show ranks 10-14 (of 100) to the model
    with pytest.raises(ReasonRankError, match="step 15 is larger than window 10"):
        RerankConfig(window=10, step=15)
    assert RerankConfig(window=10, step=10).step == 10  # adjacent windows, no gap
    with pytest.raises(ReasonRankError, match="unknown prompt style"):
        RerankConfig(style="rank1")
    with pytest.raises(ReasonRankError, match="sampling n must be 1"):
        RerankConfig(sampling=Sampling(n=4))


class ServerLikeBackend:
    """Takes concurrent calls, like a server. Query A's second window is answered only once query B
    has reached its third window: with rounds (a barrier after every window) that never happens."""

    name = "server-like"
    concurrent_requests = 4

    def __init__(self):
        import threading

        self.b_third = threading.Event()
        self.seen = {}
        self.lock = threading.Lock()

    def generate(self, prompts, sampling):
        (prompt,) = prompts  # chains send one window per call
        query = re.search(r"relevance to the search query: query (\w+)", prompt.text).group(1)
        with self.lock:
            self.seen[query] = self.seen.get(query, 0) + 1
            count = self.seen[query]
        if query == "B" and count == 3:
            self.b_third.set()
        if query == "A" and count == 2 and not self.b_third.wait(timeout=20):
            raise AssertionError("query A waited for a round barrier")
        return [Generation(reverse_window(prompt.text), prompt_tokens=3, output_tokens=2)]


def test_concurrent_engines_walk_each_query_without_round_barriers(qwen_tokenizer):
    config = RerankConfig(depth=40, window=20, step=10, max_passage_tokens=20)
    rankings = [ranking("A", 40), ranking("B", 40)]
    chained = ListwiseReranker(ServerLikeBackend(), qwen_tokenizer, config)
    assert chained.concurrency == 4
    batch = chained.rerank_batch(rankings)
    rounds = ListwiseReranker(ScriptedBackend(reverse_window), qwen_tokenizer, config).rerank_batch(rankings)
    assert [r.candidates for r in batch.rankings] == [r.candidates for r in rounds.rankings]
    assert [(t.query_id, t.start, t.order) for t in batch.traces] == \
           [(t.query_id, t.start, t.order) for t in rounds.traces]


def test_schedule_choice_and_errors(qwen_tokenizer):
    """A concurrent engine pipelines by default and runs rounds when asked (one call per round, same
    run); a batch-only engine cannot pipeline."""
    config = RerankConfig(depth=40, window=20, step=10, max_passage_tokens=20)
    rankings = [ranking("A", 40), ranking("B", 40)]
    concurrent = ScriptedBackend(reverse_window)
    concurrent.concurrent_requests = 8
    assert ListwiseReranker(concurrent, qwen_tokenizer, config).schedule == "pipelined"
    rounds = ListwiseReranker(concurrent, qwen_tokenizer, config, schedule="rounds")
    assert (rounds.schedule, rounds.concurrency) == ("rounds", 0)
    batch = rounds.rerank_batch(rankings)
    assert [len(call) for call in concurrent.calls] == [2, 2, 2]
    pipelined = ListwiseReranker(ServerLikeBackend(), qwen_tokenizer, config).rerank_batch(rankings)
    assert [r.candidates for r in batch.rankings] == [r.candidates for r in pipelined.rankings]
    assert ListwiseReranker(ScriptedBackend(reverse_window), qwen_tokenizer, config).schedule == "rounds"
    with pytest.raises(ReasonRankError, match="the scripted backend generates one batch at a time"):
        ListwiseReranker(ScriptedBackend(reverse_window), qwen_tokenizer, config, schedule="pipelined")
    with pytest.raises(ReasonRankError, match="Did you mean: pipelined"):
        ListwiseReranker(concurrent, qwen_tokenizer, config, schedule="pipeline")
