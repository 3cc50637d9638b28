"""``python -m reasonrank_ir.index``: build a dataset's Lucene index, or a dense FAISS index beside it.

    python -m reasonrank_ir.index --index cranfield
    python -m reasonrank_ir.index --index cranfield --dense --encoder sentence-transformers/all-MiniLM-L6-v2
"""
from __future__ import annotations

import argparse
import sys
from typing import Annotated

from reasonrank_ir.declare import Setting, command_parser
from reasonrank_ir.errors import ReasonRankError, cli_main


class IndexSettings:
    """What the command takes (its flags come from here, as every command's do)."""

    index: Annotated[str, Setting("an ir_datasets id (cranfield, ...), a folder of JSONL/TREC documents, a Lucene "
                                  "index folder, or bright-{subset}", metavar="NAME_OR_PATH")]
    dense: Annotated[bool, Setting("build a dense index with --encoder")] = False
    encoder: Annotated[str | None, Setting("sentence-transformers model: a local folder or a hub id (cached when "
                                           "offline)", metavar="MODEL")] = None
    batch_size: Annotated[int, Setting("documents per encoding batch (default: %(default)s)")] = 32
    max_length: Annotated[int | None, Setting("document truncation in tokens (default: the model's)")] = None
    device: Annotated[str | None, Setting("torch device for encoding (default: cuda if available, else cpu)")] = None
    force: Annotated[bool, Setting("rebuild the dense index even if it exists")] = False


def build_parser() -> argparse.ArgumentParser:
    return command_parser(IndexSettings, "python -m reasonrank_ir.index",
                          "Index a dataset of the registry: its Lucene index (default), or with --dense a FAISS "
                          "index in Pyserini's layout, stored next to it in indexes/.")


def run(args: argparse.Namespace) -> int:
    from reasonrank_ir.data import load

    if args.encoder and not args.dense:
        raise ReasonRankError("--encoder builds a dense index: add --dense")
    dataset = load(args.index)
    lucene = dataset.index_path()
    if not args.dense:
        print(f"lucene index: {lucene}")
        return 0
    if not args.encoder:
        raise ReasonRankError("--dense needs --encoder MODEL (a sentence-transformers model)")
    from reasonrank_ir.retrieval.dense_index import build_for_dataset, local_dense_index_path
    from reasonrank_ir.storage.faiss import is_dense_index

    target = local_dense_index_path(dataset, args.encoder)
    if is_dense_index(target) and not args.force:
        print(f"dense index: {target} (exists; --force rebuilds it)")
        return 0
    built = build_for_dataset(dataset, args.encoder, batch_size=args.batch_size, device=args.device,
                              max_length=args.max_length)
    print(f"dense index: {built}")
    return 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag, value in (("--batch-size", args.batch_size), ("--max-length", args.max_length)):
        if value is not None and value < 1:  # checked before the corpus is read or a model loads
            raise ReasonRankError(f"{flag} must be at least 1, found {value}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
