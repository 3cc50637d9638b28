"""``python -m reasonrank_ir.data``: make named datasets work on machines without internet."""
from __future__ import annotations

import sys
from typing import Annotated

from reasonrank_ir.declare import Setting, add_flags
from reasonrank_ir.errors import ArgumentParser, cli_main


class ImportBrightSettings:
    """``import-bright``'s settings (each subcommand's flags come from its class, as every command's do)."""

    directory: Annotated[str, Setting("folder holding topics.bright-*.tsv.gz, qrels.bright-*.txt, ...",
                                      positional=True)]


class ImportSettings:
    """``import``'s settings."""

    dataset: Annotated[str, Setting("ir_datasets id, e.g. cranfield", positional=True)]
    directory: Annotated[str, Setting("folder holding the downloaded files", positional=True)]


class InfoSettings:
    """``info``'s settings."""

    dataset: Annotated[str, Setting("", positional=True)]


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m reasonrank_ir.data",
                                     description="Import downloaded topics, qrels and corpora into the caches "
                                                 "Pyserini and ir_datasets read, so dataset names work offline.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_flags(commands.add_parser("import-bright", help="copy BRIGHT topics/qrels files into Pyserini's cache"),
              ImportBrightSettings)
    add_flags(commands.add_parser("import", help="copy a collection's files into ir_datasets' cache"), ImportSettings)
    add_flags(commands.add_parser("info", help="show what a dataset name resolves to"), InfoSettings)
    args = parser.parse_args(argv)
    if args.command == "import-bright":
        from reasonrank_ir.data import import_bright

        copied = import_bright(args.directory)
        print(f"copied {len(copied)} files into {' and '.join(sorted({str(p.parent) for p in copied}))}")
    elif args.command == "import":
        from reasonrank_ir.data import import_irds

        copied = import_irds(args.dataset, args.directory)
        print(f"copied {len(copied)} files into {copied[0].parent}")
    else:
        from reasonrank_ir.data import load

        dataset = load(args.dataset)
        topics = dataset.topics()
        qrels = dataset.qrels()
        print(f"{dataset!r}: {len(topics)} topics, "
              f"{'no qrels' if qrels is None else f'qrels for {len(qrels)} queries'}, "
              f"passages of {dataset.max_passage_tokens} tokens for reranking")
    return 0


if __name__ == "__main__":
    sys.exit(main())
