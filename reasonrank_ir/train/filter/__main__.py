"""``python -m reasonrank_ir.train.filter``: keep the self-consistent lists of a labelled file, report per dataset.

    python -m reasonrank_ir.train.filter --input labelled.jsonl --output kept.jsonl [--alpha 0.4]
"""
from __future__ import annotations

import sys
from typing import Annotated

import reasonrank_ir.train.filter as library
from reasonrank_ir.declare import Setting, command_parser
from reasonrank_ir.errors import cli_main


class FilterSettings:
    """What the command takes (its flags come from here, as every command's do)."""

    input: Annotated[str, Setting("labelled samples (JSONL from reasonrank_ir.train.label)")]
    output: Annotated[str, Setting("JSONL of the samples kept (overwritten)")]
    alpha: Annotated[float, Setting("minimum NDCG@10 of the teacher list (default 0.4)")] = 0.4


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = command_parser(FilterSettings, "python -m reasonrank_ir.train.filter",
                            (library.__doc__ or "").split("\n\n")[0])
    args = parser.parse_args(argv)
    report = library.filter_file(args.input, args.output, args.alpha)
    print(f"self-consistency filter, alpha={args.alpha}")
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
