"""Per-window cost of reranking apart from the LLM: prompts, truncation, parsing, bookkeeping.

A null backend answers every window instantly with a canned reasoning + answer, so what is timed is
everything the reranker itself does, with the real Qwen2.5 tokenizer and 20 passages of ~512 tokens
(Cranfield abstracts concatenated). It is compared with upstream's way: every passage re-read,
re-fixed and re-tokenized in every window, and ftfy run over each whole rendered prompt.

    .venv/bin/python benchmarks/rerank_overhead.py [--queries 8] [--depth 100]

Target: under 5 ms per window.
"""
from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TOKENIZER = SHARED / "tokenizers" / "qwen2.5"
CRANFIELD = SHARED / "collections" / "cranfield" / "cran.all.1400"


class NullBackend:
    """Answers at once: a reasoning paragraph and the window reversed."""

    name = "null"

    def generate(self, prompts, sampling):
        from reasonrank_ir.backends.base import Generation

        out = []
        for prompt in prompts:
            num = int(re.search(r"I will provide you with (\d+) passages", prompt.messages[1].content).group(1))
            answer = " > ".join(f"[{i}]" for i in range(num, 0, -1))
            out.append(Generation(f"<think>{'Passage [3] discusses the query. ' * 40}</think>\n<answer>{answer}</answer>",
                                  prompt_tokens=0, output_tokens=0))
        return out


def cranfield_passages(tokenizer, count: int, tokens: int = 540) -> list[dict]:
    """``count`` passages of ``tokens`` tokens (a little over the 512 kept), abstracts joined and cut."""
    abstracts = [a.strip() for a in re.split(r"^\.W\n", CRANFIELD.read_text(), flags=re.M)[1:]]
    abstracts = [re.split(r"^\.I ", a, flags=re.M)[0].strip() for a in abstracts]
    passages, pos = [], 0
    while len(passages) < count:
        parts = []
        while len(tokenizer.tokenize(" ".join(parts))) < tokens:
            parts.append(abstracts[pos % len(abstracts)])
            pos += 1
        text = tokenizer.convert_tokens_to_string(tokenizer.tokenize(" ".join(parts))[:tokens])
        passages.append({"title": f"Cranfield {pos}", "text": text})
    return passages


def naive_rerank(rankings, tokenizer, config, backend):
    """Upstream's loop: passages formatted from the stored fields in every window, ftfy on each prompt."""
    import ftfy

    from reasonrank_ir.backends.base import Message, Prompt
    from reasonrank_ir.rerank.parse import parse_answer
    from reasonrank_ir.rerank.prompts import build_messages, replace_number
    from reasonrank_ir.rerank.window import windows

    def upstream_passage(doc):  # utils.convert_doc_to_prompt_content(truncate_by_word=False)
        content = doc["text"]
        if doc.get("title"):
            content = "Title: " + doc["title"] + " " + "Content: " + content
        content = ftfy.fix_text(content.strip())
        return replace_number(tokenizer.convert_tokens_to_string(tokenizer.tokenize(content)[:config.max_passage_tokens]))

    prompts_seen = []
    states = [list(r.candidates[:config.depth]) for r in rankings]
    for start, end in windows(config.depth, config.window, config.step):
        prompts = []
        for ranking, state in zip(rankings, states):
            messages = build_messages(ranking.query.text, [upstream_passage(c.doc) for c in state[start:end]])
            text = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in messages],
                                                 tokenize=False, add_generation_prompt=True)
            prompts.append(Prompt(tuple(Message(m.role, m.content) for m in messages), ftfy.fix_text(text)))
        prompts_seen.extend(p.text for p in prompts)
        for state, generation in zip(states, backend.generate(prompts, config.sampling)):
            order = parse_answer(generation.text, end - start).order
            window = state[start:end]
            state[start:end] = [window[j] for j in order]
    return states, prompts_seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timed runs of ours")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from reasonrank_ir.rerank import ListwiseReranker, RerankConfig
    from reasonrank_ir.types import Candidate, Query, Ranking

    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZER))
    # distinct passages for every query: no document is shared (sharing would be truncated only once)
    docs = cranfield_passages(tokenizer, args.queries * args.depth)
    rankings = [Ranking(Query(f"q{q}", f"what is the lift of a wing [{q}] in a slipstream"), tuple(
        Candidate(f"q{q}-d{i}", float(-i), docs[q * args.depth + i]) for i in range(args.depth)))
        for q in range(args.queries)]
    config = RerankConfig(depth=args.depth)
    backend = NullBackend()
    # warm up the tokenizer and the template compilation outside the timings (fresh rerankers below
    # start with empty passage caches)
    ListwiseReranker(backend, tokenizer, config).rerank(rankings[:1])

    timings = []
    for _ in range(args.repeat):
        reranker = ListwiseReranker(backend, tokenizer, config)
        started, cpu = time.perf_counter(), time.process_time()
        run = reranker.rerank(rankings)
        timings.append((time.perf_counter() - started, time.process_time() - cpu))
    ours, ours_cpu = min(timings)
    windows_done = reranker.summary.windows

    started, cpu = time.perf_counter(), time.process_time()
    naive_states, naive_prompts = naive_rerank(rankings, tokenizer, config, backend)
    naive, naive_cpu = time.perf_counter() - started, time.process_time() - cpu

    same_order = all([c.doc_id for c in run[r.query_id].candidates[:args.depth]] == [c.doc_id for c in s]
                     for r, s in zip(rankings, naive_states))
    ours_first = ListwiseReranker(NullBackend(), tokenizer, config)
    captured = []

    class Capture(NullBackend):
        def generate(self, prompts, sampling):
            captured.extend(p.text for p in prompts)
            return super().generate(prompts, sampling)

    ours_first.backend = Capture()
    ours_first.rerank(rankings)
    prompt_tokens = len(tokenizer.tokenize(captured[0]))
    print(f"{args.queries} queries x {args.depth} candidates, window {config.window}, step {config.step}: "
          f"{windows_done} windows, prompts of ~{prompt_tokens} tokens; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"identical prompts: {captured == naive_prompts}; identical rankings: {same_order}")
    print(f"reasonrank_ir : {1000 * ours / windows_done:7.2f} ms/window wall, {1000 * ours_cpu / windows_done:7.2f} CPU")
    print(f"naive upstream: {1000 * naive / windows_done:7.2f} ms/window wall, {1000 * naive_cpu / windows_done:7.2f} CPU")
    print(f"ratio         : {naive / ours:7.1f}x  (target < 5 ms/window: "
          f"{'met' if 1000 * ours / windows_done < 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
