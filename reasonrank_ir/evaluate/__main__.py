"""``python -m reasonrank_ir.evaluate RUN --qrels NAME_OR_FILE``: score a TREC run, print ir_measures' lines or JSON."""
from __future__ import annotations

import json
import sys

from reasonrank_ir.errors import ArgumentParser, cli_main
from reasonrank_ir.evaluate.measures import DEFAULT_METRICS, check_fit, evaluate, format_lines, parse_measures


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m reasonrank_ir.evaluate",
                                     description="Score a TREC run with ir-measures (trec_eval -c averaging).")
    parser.add_argument("run", help="TREC run file: qid Q0 docid rank score tag")
    parser.add_argument("--qrels", required=True, metavar="NAME_OR_FILE",
                        help="a qrels file, a dataset name (bright-biology, cranfield, ...) or a Pyserini qrels name")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), metavar="MEASURE",
                        help="ir-measures names (default: nDCG@10), e.g. nDCG@10 R@100 MAP")
    parser.add_argument("--per-query", action="store_true", help="also print one line per query and measure")
    parser.add_argument("--json", action="store_true", help="print JSON {aggregate, per_query} instead")
    parser.add_argument("--no-complete", action="store_true",
                        help="average over the run's queries only (default counts missing judged queries as 0)")
    args = parser.parse_args(argv)
    from pathlib import Path

    from reasonrank_ir.data import dataset_or_none, resolve_qrels
    from reasonrank_ir.io.trec import read_run

    measures = parse_measures(args.metrics)  # a typo fails before the files are read
    qrels = resolve_qrels(args.qrels)
    # a dataset name also says how its index spells doc ids and which ids it excludes
    dataset = None if Path(args.qrels).is_file() else dataset_or_none(args.qrels)
    run = read_run(args.run)
    if dataset is not None:
        run = dataset.clean_run(run)
    check_fit(run, qrels, args.run, args.qrels)  # a run of another collection would score a silent 0.0000
    evaluation = evaluate(run, qrels, measures, complete=not args.no_complete,
                          names=(args.run, args.qrels))
    if args.json:
        print(json.dumps({"aggregate": evaluation.aggregate,
                          **({"per_query": evaluation.per_query} if args.per_query else {})}, indent=2))
    else:
        print("\n".join(format_lines(evaluation, args.per_query)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
