"""``python -m reasonrank_ir.inspect RUN``: the HTML report of a run and its reasoning traces."""
from __future__ import annotations

import argparse
import sys
from typing import Annotated

from reasonrank_ir.declare import Setting, command_parser
from reasonrank_ir.errors import cli_main


class InspectSettings:
    """What the command takes (its flags come from here, as every command's do)."""

    run: Annotated[str, Setting("TREC run file (a reranked run written by search or experiments)", positional=True,
                                metavar="RUN")]
    traces: Annotated[str | None, Setting("reasoning traces JSONL (default: <run>.traces.jsonl beside it)",
                                          metavar="FILE")] = None
    baseline: Annotated[str | None, Setting("the run to compare with (default: the first stage, recovered from the "
                                            "traces)", metavar="RUN")] = None
    qrels: Annotated[str | None, Setting("judgments: a file or dataset name (default: the dataset of a "
                                         "run.<dataset>.*.txt name)", metavar="NAME_OR_FILE")] = None
    topics: Annotated[str | None, Setting("query texts: a file or dataset name (default: as --qrels)",
                                          metavar="NAME_OR_FILE")] = None
    index: Annotated[str | None, Setting("dataset or index folder to read passage texts from (default: none, ids "
                                         "only)", metavar="NAME_OR_PATH")] = None
    metric: Annotated[str, Setting("ir-measures name (default: nDCG@10)")] = "nDCG@10"
    output: Annotated[str | None, Setting("HTML file (default: the run's name with .html)", metavar="FILE")] = None


def build_parser() -> argparse.ArgumentParser:
    return command_parser(InspectSettings, "python -m reasonrank_ir.inspect",
                          "Write one self-contained HTML page showing a reranked run: scores before and after, "
                          "per-query changes, and every window's input, reasoning and answer.")


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
