"""The ``reasonrank`` console command: each subcommand is one ``python -m reasonrank_ir...`` module.

    reasonrank search --index cranfield          # = python -m reasonrank_ir.search --index cranfield
    reasonrank train mine --help                 # = python -m reasonrank_ir.train.mine --help
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from reasonrank_ir.errors import unknown

COMMANDS = {
    "search": ("reasonrank_ir.search", "retrieve, rerank, write a TREC run and traces, score it"),
    "evaluate": ("reasonrank_ir.evaluate.__main__", "score TREC runs with ir-measures"),
    "inspect": ("reasonrank_ir.inspect.__main__", "an HTML page of a run: scores, lists, each window's reasoning"),
    "index": ("reasonrank_ir.index", "build a Lucene index of a dataset or folder"),
    "data": ("reasonrank_ir.data.__main__", "import collections for offline use; what a name resolves to"),
    "experiments": ("reasonrank_ir.experiments.__main__", "list, run and report the paper's experiments"),
    "train mine": ("reasonrank_ir.train.mine.__main__", "synthetic queries and hard negatives from an index"),
    "train label": ("reasonrank_ir.train.label.__main__", "teacher LLM labels and rankings"),
    "train filter": ("reasonrank_ir.train.filter.__main__", "self-consistency filter of labelled samples"),
    "train sft": ("reasonrank_ir.train.sft.__main__", "supervised fine-tuning (trl)"),
    "train grpo": ("reasonrank_ir.train.grpo.__main__", "GRPO with the multi-view ranking reward (trl)"),
}


def usage() -> str:
    lines = ["usage: reasonrank COMMAND [ARGS...]   (COMMAND --help for its flags)", "", "commands:"]
    lines += [f"  {name:<14} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    words = 2 if argv[0] == "train" else 1
    name = " ".join(argv[:words])
    if name not in COMMANDS:
        print(f"error: {unknown('command', name, COMMANDS)}", file=sys.stderr)
        return 2
    command: Callable[[list[str]], int] = importlib.import_module(COMMANDS[name][0]).main
    return command(argv[words:])


if __name__ == "__main__":
    sys.exit(main())
