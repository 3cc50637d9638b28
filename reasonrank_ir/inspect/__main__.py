"""``python -m reasonrank_ir.inspect RUN``: the HTML report of a run and its reasoning traces."""
from __future__ import annotations

import argparse
import sys

from reasonrank_ir.errors import ArgumentParser, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m reasonrank_ir.inspect",
        description="Write one self-contained HTML page showing a reranked run: scores before and after, "
                    "per-query changes, and every window's input, reasoning and answer.")
    parser.add_argument("run", metavar="RUN", help="TREC run file (a reranked run written by search or experiments)")
    parser.add_argument("--traces", metavar="FILE",
                        help="reasoning traces JSONL (default: <run>.traces.jsonl beside it)")
    parser.add_argument("--baseline", metavar="RUN",
                        help="the run to compare with (default: the first stage, recovered from the traces)")
    parser.add_argument("--qrels", metavar="NAME_OR_FILE",
                        help="judgments: a file or dataset name (default: the dataset of a run.<dataset>.*.txt name)")
    parser.add_argument("--topics", metavar="NAME_OR_FILE",
                        help="query texts: a file or dataset name (default: as --qrels)")
    parser.add_argument("--index", metavar="NAME_OR_PATH",
                        help="dataset or index folder to read passage texts from (default: none, ids only)")
    parser.add_argument("--metric", default="nDCG@10", help="ir-measures name (default: nDCG@10)")
    parser.add_argument("--output", metavar="FILE", help="HTML file (default: the run's name with .html)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from reasonrank_ir.inspect.report import write_report

    path = write_report(args.run, args.output, traces=args.traces, baseline=args.baseline, qrels=args.qrels,
                        topics=args.topics, metric=args.metric, index=args.index,
                        warn=lambda text: print(f"warning: {text}", file=sys.stderr))
    print(f"report: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
