"""BM25 throughput: ``reasonrank_ir.search`` vs ``python -m pyserini.search.lucene`` on one index.

Both CLIs run as fresh processes on the same Vaswani Lucene index and the same topics (the 93
Vaswani queries repeated to make search time dominate start-up), alternating, several rounds.
Prints queries/s of each and the ratio (target: our wrapper costs under 10% over Pyserini).

    .venv/bin/python benchmarks/retrieval.py [--repeat 20] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VASWANI = ROOT.parent / "shared" / "data" / "collections" / "vaswani"


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="copies of the 93 topics (default 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hits", type=int, default=1000)
    args = parser.parse_args()

    import reasonrank_ir  # noqa: F401  (Java set-up)
    from reasonrank_ir.data import load
    from reasonrank_ir.io.topics import write_topics
    from reasonrank_ir.java import find_java_home
    from reasonrank_ir.types import Query

    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    env = dict(os.environ, REASONRANK_HOME=str(work / "home"), JAVA_HOME=find_java_home(),
               OPENAI_API_KEY="placeholder")
    os.environ.update(REASONRANK_HOME=env["REASONRANK_HOME"])
    dataset = load(str(VASWANI))
    index = dataset.index_path()
    base = dataset.topics()
    topics = {f"{q}-{i}": Query(f"{q}-{i}", t.text) for i in range(args.repeat) for q, t in base.items()}
    write_topics(topics, work / "topics.tsv")
    ours = [sys.executable, "-m", "reasonrank_ir.search", "--index", index, "--topics", str(work / "topics.tsv"),
            "--hits", str(args.hits), "--bm25", "--output", str(work / "ours.txt"), "--batch-size", "64"]
    theirs = [sys.executable, "-c", "import sys, runpy, reasonrank_ir; sys.argv[0] = 'pyserini'; "
              "runpy.run_module('pyserini.search.lucene', run_name='__main__')",
              "--index", index, "--topics", str(work / "topics.tsv"), "--hits", str(args.hits), "--bm25",
              "--output", str(work / "theirs.txt"), "--batch-size", "64"]
    ours_times, theirs_times = [], []
    for _ in range(args.rounds):
        theirs_times.append(timed(theirs, env))
        ours_times.append(timed(ours, env))
    n = len(topics)
    ours_s, theirs_s = statistics.median(ours_times), statistics.median(theirs_times)
    print(f"queries: {n}, hits: {args.hits}, rounds: {args.rounds} (median wall time, process start included)")
    print(f"pyserini.search.lucene  {theirs_s:7.2f} s  {n / theirs_s:8.1f} q/s")
    print(f"reasonrank_ir.search    {ours_s:7.2f} s  {n / ours_s:8.1f} q/s")
    print(f"overhead of reasonrank_ir over Pyserini: {100 * (ours_s / theirs_s - 1):+.1f}%  (target < +10%)")


if __name__ == "__main__":
    main()
