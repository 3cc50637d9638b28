"""``python -m reasonrank_ir.train.filter``: keep the self-consistent lists of a labelled file, report per dataset.

    python -m reasonrank_ir.train.filter --input labelled.jsonl --output kept.jsonl [--alpha 0.4]
"""
from __future__ import annotations

import sys

import reasonrank_ir.train.filter as library
from reasonrank_ir.errors import ArgumentParser, cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m reasonrank_ir.train.filter",
                            description=(library.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--input", required=True, help="labelled samples (JSONL from reasonrank_ir.train.label)")
    parser.add_argument("--output", required=True, help="JSONL of the samples kept (overwritten)")
    parser.add_argument("--alpha", type=float, default=0.4, help="minimum NDCG@10 of the teacher list (default 0.4)")
    args = parser.parse_args(argv)
    report = library.filter_file(args.input, args.output, args.alpha)
    print(f"self-consistency filter, alpha={args.alpha}")
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
