"""The bad-input table of tests/test_bad_inputs.py replayed through the CLIs, with counts of what each gives.

Every case runs as a fresh subprocess, as a user types it (as root, without the capabilities that
read past mode bits). A case is *clear* when it exits 2 with one ``error:`` line holding the expected
text and leaves nothing behind; otherwise it is counted as a traceback, a silent result (exit 0), a
usage dump (more than one line, or argparse's ``usage:``), another exit status, a message without the
expected text, or files left behind. Refusals are timed: the target is none over 2 s, except the
cases that must load something heavy first (listed with their times).

    .venv/bin/python benchmarks/bad_inputs.py [-k SUBSTRING]
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from test_bad_inputs import CASES, CASES_2, GGUF, make_files, run_cli  # noqa: E402


def classify(result, expected: str, left: bool) -> str:
    lines = result.stderr.strip().splitlines()
    if "Traceback" in result.stderr:
        return "traceback"
    if result.returncode == 0:
        return "silent result"
    if "usage:" in result.stderr or len(lines) != 1:
        return "usage dump / several lines"
    if result.returncode != 2 or not lines[0].startswith("error: "):
        return f"exit {result.returncode}"
    if expected not in lines[0]:
        return "other message"
    return "files left behind" if left else "clear"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    slow: list[tuple[str, float]] = []
    problems: list[str] = []
    cases = [case for case in CASES + CASES_2 if args.k in case[0]]
    for name, argv, expected in cases:
        if name.startswith("cut .gguf") and not GGUF.is_file():
            counts["skipped (no test GGUF)"] += 1
            continue
        with tempfile.TemporaryDirectory() as folder:
            files = make_files(Path(folder))
            module, *rest = (arg.format(**files) for arg in argv)
            started = time.perf_counter()
            result = run_cli(module, *rest)
            seconds = time.perf_counter() - started
            left = any(Path(files["out"]).iterdir()) or any(Path(files["never_run"]).iterdir())
        verdict = classify(result, expected, left)
        counts[verdict] += 1
        if verdict != "clear":
            problems.append(f"  {name}: {verdict}: {result.stderr.strip()[-300:]!r}")
        if seconds > 2.0:
            slow.append((name, seconds))
        print(f"{seconds:5.1f} s  {verdict:<12} {name}", flush=True)
    print(f"\n{len(cases)} bad inputs:")
    for verdict, count in counts.most_common():
        print(f"  {count:4d}  {verdict}")
    print(f"refused after more than 2 s: {len(slow)}")
    for name, seconds in sorted(slow, key=lambda item: -item[1]):
        print(f"  {seconds:5.1f} s  {name}")
    if problems:
        print("not clear:\n" + "\n".join(problems))
    return 0 if set(counts) <= {"clear", "skipped (no test GGUF)"} else 1


if __name__ == "__main__":
    sys.exit(main())
