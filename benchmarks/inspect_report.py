"""How fast a big report opens: 1,500 queries x 9 windows of full-length reasoning, in headless Chromium.

A synthetic run (depth 100, window 20, step 10) with ~2,000-token reasonings made of English words
from Cranfield, written as a run, traces and qrels, turned into a report by ``write_report``, and
opened in Debian's Chromium (scripts/install_browser.sh). Prints the file size, the time to write
it, the time from navigation until the overview is rendered, and the time to open one query.

    .venv/bin/python benchmarks/inspect_report.py [--queries 1500] [--words 1500]

Target: the overview in under 3 s.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRANFIELD = ROOT.parent / "shared" / "data" / "collections" / "cranfield" / "cran.all.1400"
sys.path.insert(0, str(ROOT / "tests"))  # the DevTools driver the browser test uses


def synthesise(folder: Path, queries: int, words: int, seed: int = 0) -> Path:
    """Run, traces and qrels of an imaginary reranker that reverses each window after thinking at length."""
    from reasonrank_ir.io.traces import TraceWriter
    from reasonrank_ir.io.trec import write_qrels, write_run
    from reasonrank_ir.rerank.listwise import WindowTrace
    from reasonrank_ir.rerank.window import windows
    from reasonrank_ir.types import Candidate, Query, Ranking, Run

    rng = random.Random(seed)
    vocabulary = sorted(set(re.findall(r"[a-z]{3,}", CRANFIELD.read_text(encoding="utf-8").lower())))
    run, qrels = Run(name="synthetic"), {}
    with TraceWriter(folder / "run.synthetic.traces.jsonl") as traces:
        for q in range(queries):
            query_id = str(q)
            order = [f"doc{q}-{i}" for i in range(100)]
            qrels[query_id] = {d: rng.choice((1, 2, 3)) for d in rng.sample(order, 6)}
            for start, end in windows(100, 20, 10):
                window = order[start:end]
                reasoning = " ".join(rng.choice(vocabulary) if rng.random() > 0.05 else f"[{rng.randint(1, 20)}]"
                                     for _ in range(words))
                answer = " > ".join(f"[{i}]" for i in range(20, 0, -1))
                traces.write(WindowTrace(query_id, 0, start, end, 12000 + rng.randint(0, 800), int(words * 1.3),
                                         rng.uniform(20, 60), "ok", tuple(range(19, -1, -1)),
                                         f"<think>{reasoning}</think>\n<answer>{answer}</answer>", tuple(window)))
                order[start:end] = window[::-1]
            run.add(Ranking(Query(query_id, ""), tuple(Candidate(d, 100.0 - i) for i, d in enumerate(order))))
    write_run(run, folder / "run.synthetic.txt")
    write_qrels(qrels, folder / "qrels.txt")
    return folder / "run.synthetic.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1500)
    parser.add_argument("--words", type=int, default=1500, help="words of reasoning per window (default: 1500)")
    args = parser.parse_args()
    from browser import Chromium
    from reasonrank_ir.inspect import write_report

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        run = synthesise(folder, args.queries, args.words)
        print(f"synthetic run and traces: {time.perf_counter() - started:.1f} s, "
              f"traces {run.with_name('run.synthetic.traces.jsonl').stat().st_size / 1e6:.0f} MB")
        started = time.perf_counter()
        report = write_report(run, qrels=str(folder / "qrels.txt"))
        print(f"write_report: {time.perf_counter() - started:.1f} s, {report.stat().st_size / 1e6:.1f} MB")
        with Chromium() as browser:
            for attempt in (1, 2):
                browser.events.clear()
                browser.goto("about:blank")
                started = time.perf_counter()
                browser.goto(report.as_uri())
                browser.wait_for("document.body && document.body.dataset.ready === '1'", timeout=120)
                wall = time.perf_counter() - started
                in_page = float(browser.evaluate("document.body.dataset.readyMs")) / 1000
                rows = browser.evaluate("document.querySelectorAll('tr.query-row').length")
                print(f"open {attempt}: overview rendered after {in_page:.2f} s (page clock), {wall:.2f} s wall; "
                      f"{rows} of {args.queries} rows drawn")
            started = time.perf_counter()
            browser.click("tr.query-row")
            browser.wait_for("document.querySelectorAll('.window').length === 9")
            print(f"one query opened in {time.perf_counter() - started:.2f} s")
            errors = browser.errors()
            if errors:
                raise SystemExit(f"JavaScript errors: {errors}")


if __name__ == "__main__":
    main()
