"""Rounds vs pipelined reranking on the real vLLM engine, with reasoning lengths as skewed as real ones.

Every query's 9 windows (depth 100, window 20, step 10) get an output length drawn from a log-normal
distribution (median 600 tokens, 99th percentile ~3,000, capped there), as reasoning lengths are. Each
window's request asks vLLM for exactly that many tokens (``max_tokens`` with ``ignore_eos``), so the
work is the same under both schedules and known in advance; what differs is how it is scheduled:
``rounds`` waits for the slowest window of each round before any query moves on, ``pipelined`` submits
a query's next window as soon as its previous one is parsed. The same :class:`ListwiseReranker` runs
both; the prefix cache is emptied before each. Prints windows/s and generated tokens/s per schedule
and their ratio.

    .venv-vllm/bin/python benchmarks/vllm_schedule.py                      # a GPU: the full lengths
    .venv-vllm/bin/python benchmarks/vllm_schedule.py --length-scale 0.05 \\
        --backend-option enforce_eager=true                                # vLLM's CPU build: lengths / 20

Without ``--model`` it builds a random-weight Qwen2 (hidden 128, 4 heads) with the Qwen2.5 tokenizer of
../shared/data: no download, and a model that never stops early. ``--model`` takes any local checkpoint.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import re
import tempfile
import threading
import time
from pathlib import Path

TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "data" / "tokenizers" / "qwen2.5"
QUERY = re.compile(r"search query: query (\d+) ")


def lengths(queries: int, windows: int, median: float, p99: float, cap: int, scale: float, seed: int) -> list[list[int]]:
    """Output tokens per (query, window): log-normal with the given median and 99th percentile."""
    rng = random.Random(seed)
    sigma = math.log(p99 / median) / 2.326
    return [[max(1, round(min(cap, rng.lognormvariate(math.log(median), sigma)) * scale)) for _ in range(windows)]
            for _ in range(queries)]


def build_model(folder: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZER))
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class ScriptedLengths:
    """The vLLM backend, with each window's request asking for exactly its planned number of tokens.

    A query's k-th call is its k-th window under either schedule (windows of a query run in order).
    """

    name = "vllm"

    def __init__(self, backend, plan: list[list[int]]) -> None:
        self.backend = backend
        self.plan = plan
        self.concurrent_requests = backend.concurrent_requests
        self.seen: dict[int, int] = {}
        self.lock = threading.Lock()

    def generate(self, prompts, sampling):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        from reasonrank_ir.backends.vllm import to_generations

        futures = []
        for prompt in prompts:
            query = int(QUERY.search(prompt.text).group(1))
            with self.lock:
                window = self.seen.get(query, 0)
                self.seen[query] = window + 1
            params = SamplingParams(max_tokens=self.plan[query][window], ignore_eos=True, temperature=0.0,
                                    output_kind=RequestOutputKind.FINAL_ONLY)
            futures.append(self.backend._loop.submit(prompt.text, params))
        return to_generations(future.result() for future in futures)


def rankings(queries: int, depth: int):
    from reasonrank_ir.types import Candidate, Query, Ranking

    rng = random.Random(1)
    words = "heat flow wing shock boundary layer pressure plate jet copper nozzle drag lift vortex".split()
    return [Ranking(Query(str(q), f"query {q} {' '.join(rng.choices(words, k=8))}"),
                    tuple(Candidate(f"{q}-{i}", float(depth - i), {"contents": " ".join(rng.choices(words, k=60))})
                          for i in range(depth)))
            for q in range(queries)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a local checkpoint (default: a random-weight Qwen2 built here)")
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--median", type=float, default=600.0, help="median output tokens per window")
    parser.add_argument("--p99", type=float, default=3000.0, help="99th percentile of output tokens")
    parser.add_argument("--cap", type=int, default=3000, help="longest window (ReasonRank's budget is 3,172)")
    parser.add_argument("--length-scale", type=float, default=1.0,
                        help="multiply every length (e.g. 0.05 on a CPU, where the full lengths take hours)")
    parser.add_argument("--passage-tokens", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                        help="vllm.EngineArgs field, e.g. enforce_eager=true, tensor_parallel_size=2")
    args = parser.parse_args()

    import yaml

    from reasonrank_ir.backends import create_backend
    from reasonrank_ir.rerank import ListwiseReranker, RerankConfig
    from reasonrank_ir.rerank.prompts import load_tokenizer

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
    options = {key: yaml.safe_load(value) for key, _, value in (o.partition("=") for o in args.backend_option)}
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or str(build_model(Path(scratch) / "random-qwen2"))
        backend = create_backend("vllm", model, **options)
        config = RerankConfig(depth=100, window=20, step=10, max_passage_tokens=args.passage_tokens)
        plan = lengths(args.queries, 9, args.median, args.p99, args.cap, args.length_scale, args.seed)
        flat = sorted(n for row in plan for n in row)
        print(f"{args.queries} queries x 9 windows, output tokens per window: median {flat[len(flat) // 2]}, "
              f"p90 {flat[int(len(flat) * 0.9)]}, max {flat[-1]}, total {sum(flat)} (length scale {args.length_scale}); "
              f"engine: {backend.concurrent_requests} sequences at once")
        tokenizer = load_tokenizer(model)
        batch = rankings(args.queries, 100)
        results = {}
        for schedule in ("rounds", "pipelined"):
            backend.engine.reset_prefix_cache()
            scripted = ScriptedLengths(backend, plan)
            reranker = ListwiseReranker(scripted, tokenizer, config, schedule=schedule)
            started = time.perf_counter()
            done = reranker.rerank_batch(batch)
            seconds = time.perf_counter() - started
            generated = done.summary.output_tokens
            assert generated == sum(flat), f"{generated} tokens generated, {sum(flat)} planned"
            results[schedule] = (done.summary.windows / seconds, generated / seconds)
            print(f"{schedule:>9}: {seconds:7.1f} s  {results[schedule][0]:7.2f} windows/s  "
                  f"{results[schedule][1]:9.1f} generated tokens/s  ({done.summary.windows} windows)")
        print(f"pipelined / rounds: {results['pipelined'][1] / results['rounds'][1]:.2f}x")


if __name__ == "__main__":
    main()
