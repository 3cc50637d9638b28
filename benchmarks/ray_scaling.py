"""How ``--ray`` scales: queries/s on 1, 2, 4 and 8 Ray workers with a latency-modelled engine.

Each window "generates" by sleeping for its reasoning length (lognormal, median ``--median-tokens``)
divided by a decoding speed (``--tokens-per-s``), so the engine costs no CPU and the workers' wall time
is what an engine of that speed would spend; the rest (prompt rendering, parsing, Ray's calls, the
driver's journal) is the overhead. Synthetic queries with Cranfield-like passages, depth 20, window
10, step 5 (3 windows per query), one window at a time per worker (as llama.cpp or one vLLM request
stream). The same job in one process without Ray is the baseline. Prints, per worker count: queries/s,
speed-up over one worker, efficiency (speed-up / workers) and the overhead per window in ms:
(workers x wall - modelled generation time) / windows, split into Ray's part (workers idle: dispatch,
transfer, the driver's journal, the last batches' imbalance) and the worker's own CPU work.

    .venv/bin/python benchmarks/ray_scaling.py [--queries 48] [--median-tokens 400] [--tokens-per-s 1000]

Target: within 10% of linear up to 8 workers, overhead under 5 ms per window.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = ROOT.parent / "shared" / "data" / "tokenizers" / "qwen2.5"
WORKERS = (1, 2, 4, 8)


class SleepingBackend:
    """A backend whose windows take a modelled time and answer with a fixed permutation."""

    name = "sleeping"
    concurrent_requests = 1

    def __init__(self, median_tokens: float, tokens_per_s: float, seed: int) -> None:
        self.median_tokens, self.tokens_per_s = median_tokens, tokens_per_s
        self.rng = random.Random(seed)
        self.slept = 0.0

    def generate(self, prompts, sampling):
        from reasonrank_ir.backends.base import Generation

        out = []
        for prompt in prompts:
            tokens = max(1, int(self.rng.lognormvariate(math.log(self.median_tokens), 0.5)))
            seconds = tokens / self.tokens_per_s
            time.sleep(seconds)
            self.slept += seconds
            num = prompt.messages[-1].content.count("\n[")  # passages in the window
            answer = " > ".join(f"[{i}]" for i in range(num, 0, -1))
            out.append(Generation(f"<think>{'x ' * 8}</think><answer>{answer}</answer>", 1000, tokens))
        return out


class SleepingWorker:
    """``ray_pool.RerankWorker`` with the latency-modelled engine in place of a real one."""

    def __init__(self, spec, median_tokens: float, tokens_per_s: float) -> None:
        from reasonrank_ir.pipeline.ray_pool import RerankWorker
        from reasonrank_ir.rerank.listwise import ListwiseReranker
        from reasonrank_ir.rerank.prompts import load_tokenizer

        self.backend = SleepingBackend(median_tokens, tokens_per_s, seed=os.getpid())
        self.busy = 0.0
        self.inner = RerankWorker.__new__(RerankWorker)
        self.inner.spec = spec
        self.inner.loaded = ListwiseReranker(self.backend, load_tokenizer(spec.tokenizer), spec.config())
        self.inner.rerankers = {None: self.inner.loaded}

    def ready(self) -> str:
        return self.backend.name

    def rerank(self, rankings, journaled, passage_tokens):
        started = time.perf_counter()
        try:
            return self.inner.rerank(rankings, journaled, passage_tokens)
        finally:
            self.busy += time.perf_counter() - started

    def times(self) -> tuple[float, float]:
        """(seconds inside ``rerank``, seconds of modelled generation)."""
        return self.busy, self.backend.slept


def synthetic_run(queries: int, depth: int, seed: int = 0):
    from reasonrank_ir.types import Candidate, Query, Ranking, Run

    rng = random.Random(seed)
    words = "wing flow boundary layer pressure shock heat transfer supersonic plate cone jet".split()
    run = Run(name="synthetic")
    for q in range(queries):
        candidates = tuple(Candidate(f"d{q}-{i}", float(depth - i),
                                     {"text": " ".join(rng.choices(words, k=60))}) for i in range(depth))
        run.add(Ranking(Query(str(q), " ".join(rng.choices(words, k=8))), candidates))
    return run


class _Dataset:
    """What a reranking job asks of a dataset when candidates carry their passages."""

    name = "synthetic"
    max_passage_tokens = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=48)
    parser.add_argument("--median-tokens", type=float, default=400.0, help="median reasoning length per window")
    parser.add_argument("--tokens-per-s", type=float, default=1000.0, help="modelled decoding speed of one engine")
    args = parser.parse_args()

    import ray

    from reasonrank_ir.pipeline import OutputFiles, rerank
    from reasonrank_ir.pipeline.ray_pool import RayOptions, RayPool, start_actors
    from reasonrank_ir.rerank.spec import RerankerSpec

    spec = RerankerSpec(reranker="reasonrank", model="sleeping", tokenizer=str(TOKENIZER), backend="openai",
                        options={"base_urls": ["http://127.0.0.1:9/v1"]},  # never asked: the engine sleeps instead
                        depth=20, window=10, step=5, passage_tokens=100)
    run = synthetic_run(args.queries, spec.depth)
    windows = 3 * args.queries
    with tempfile.TemporaryDirectory() as folder:
        local = SleepingWorker(spec, args.median_tokens, args.tokens_per_s)
        started = time.perf_counter()
        rerank(local.inner.rerankers[None], run, _Dataset(), OutputFiles.beside(Path(folder) / "local.txt"),
               progress=False)
        base_wall = time.perf_counter() - started
        base_overhead = (base_wall - local.backend.slept) / windows * 1000
        print(f"one process, no Ray: {args.queries / base_wall:.2f} q/s, {windows} windows, "
              f"overhead {base_overhead:.2f} ms/window (prompts, parsing, journal)")
        ray.init(num_cpus=max(WORKERS), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        rows = []
        for count in WORKERS:
            workers, _ = start_actors(SleepingWorker, (spec, args.median_tokens, args.tokens_per_s),
                                      RayOptions(workers=count))
            pool = RayPool(spec, workers)
            started = time.perf_counter()
            rerank(pool.reranker(_Dataset()), run, _Dataset(), OutputFiles.beside(Path(folder) / f"ray{count}.txt"),
                   progress=False)
            wall = time.perf_counter() - started
            busy, slept = map(sum, zip(*ray.get([w.times.remote() for w in workers])))
            pool.close()
            rows.append((count, args.queries / wall, (count * wall - slept) / windows * 1000,
                         (count * wall - busy) / windows * 1000, (busy - slept) / windows * 1000))
        ray.shutdown()
    one = rows[0][1]
    print(f"\n{args.queries} queries x 3 windows; window time: lognormal median {args.median_tokens:g} tokens "
          f"at {args.tokens_per_s:g} tokens/s (median {args.median_tokens / args.tokens_per_s * 1000:.0f} ms)")
    print("| workers | queries/s | speed-up | efficiency | overhead ms/window | of which Ray (worker idle) "
          "| of which in the worker (prompts, parsing) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count, qps, overhead, idle, inside in rows:
        print(f"| {count} | {qps:.2f} | {qps / one:.2f}x | {qps / one / count:.0%} | {overhead:.1f} | {idle:.1f} "
              f"| {inside:.1f} |")
    print(f"load average during the run (other processes on this machine): {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"\nRay at 1 worker: {rows[0][2] - base_overhead:.1f} ms/window more than one process "
          f"(which spends {base_overhead:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
