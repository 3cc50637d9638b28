"""The README's pictures of ``reasonrank_ir.inspect``: the oracle over BRIGHT biology, in headless Chromium.

Runs ``--rerank oracle`` over ReasonIR's biology top-100 (../shared/data, imported into a temporary
Pyserini cache), writes its report, and saves the overview and one query's view as PNGs.

    .venv/bin/python scripts/inspect_screenshot.py [--output-dir docs]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))  # the DevTools driver the browser test uses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=str(ROOT / "docs"))
    parser.add_argument("--query", default="1", help="the query shown in the second picture (default: 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PYSERINI_CACHE"] = str(Path(tmp) / "pyserini")
        from browser import Chromium
        from reasonrank_ir.data import import_bright
        from reasonrank_ir.inspect import write_report
        from reasonrank_ir.search import main as search

        import_bright(SHARED / "bright")
        run = Path(tmp) / "run.bright-biology.reasonir.oracle.txt"
        first = SHARED / "bright-first-stage" / "biology.reasonir-gpt4cot.top100.trec"
        search(["--index", "bright-biology", "--run", str(first), "--rerank", "oracle", "--output", str(run)])
        report = write_report(run, baseline=first)
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        with Chromium(width=1280, height=860) as browser:
            browser.goto(report.as_uri())
            browser.wait_for("document.body && document.body.dataset.ready === '1'")
            browser.screenshot(out / "inspect.png")
            browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=1280, deviceScaleFactor=1,
                         mobile=False)
            browser.goto(report.as_uri() + "#q=" + args.query)
            browser.wait_for("document.querySelectorAll('.window').length > 0")
            browser.screenshot(out / "inspect-query.png")
            if browser.errors():
                raise SystemExit(f"JavaScript errors: {browser.errors()}")
        print(f"wrote {out / 'inspect.png'} and {out / 'inspect-query.png'}")


if __name__ == "__main__":
    main()
