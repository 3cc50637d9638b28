"""``python -m reasonrank_ir.index``: build a dataset's Lucene index, or a dense FAISS index beside it.

    python -m reasonrank_ir.index --index cranfield
    python -m reasonrank_ir.index --index cranfield --dense --encoder sentence-transformers/all-MiniLM-L6-v2
"""
from __future__ import annotations

import argparse
import sys

from reasonrank_ir.errors import ArgumentParser, ReasonRankError, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m reasonrank_ir.index",
        description="Index a dataset of the registry: its Lucene index (default), or with --dense a FAISS "
                    "index in Pyserini's layout, stored next to it in indexes/.")
    parser.add_argument("--index", required=True, metavar="NAME_OR_PATH",
                        help="an ir_datasets id (cranfield, ...), a folder of JSONL/TREC documents, a Lucene index "
                             "folder, or bright-{subset}")
    parser.add_argument("--dense", action="store_true", help="build a dense index with --encoder")
    parser.add_argument("--encoder", metavar="MODEL",
                        help="sentence-transformers model: a local folder or a hub id (cached when offline)")
    parser.add_argument("--batch-size", type=int, default=32, help="documents per encoding batch (default: 32)")
    parser.add_argument("--max-length", type=int, help="document truncation in tokens (default: the model's)")
    parser.add_argument("--device", help="torch device for encoding (default: cuda if available, else cpu)")
    parser.add_argument("--force", action="store_true", help="rebuild the dense index even if it exists")
    return parser


def run(args) -> int:
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
