"""``python -m reasonrank_ir.evaluate RUN --qrels NAME_OR_FILE``: score a TREC run, print ir_measures' lines or JSON."""
from __future__ import annotations

import json
import sys
from typing import Annotated

from reasonrank_ir.declare import Setting, command_parser
from reasonrank_ir.errors import cli_main
from reasonrank_ir.evaluate.measures import DEFAULT_METRICS, check_fit, evaluate, format_lines, parse_measures


class EvaluateSettings:
    """What the command takes (its flags come from here, as every command's do)."""

    run: Annotated[str, Setting("TREC run file: qid Q0 docid rank score tag", positional=True)]
    qrels: Annotated[str, Setting("a qrels file, a dataset name (bright-biology, cranfield, ...) or a Pyserini "
                                  "qrels name", metavar="NAME_OR_FILE")]
    metrics: Annotated[list[str], Setting("ir-measures names (default: nDCG@10), e.g. nDCG@10 R@100 MAP",
                                          nargs="+", metavar="MEASURE")] = list(DEFAULT_METRICS)
    per_query: Annotated[bool, Setting("also print one line per query and measure")] = False
    json: Annotated[bool, Setting("print JSON {aggregate, per_query} instead")] = False
    no_complete: Annotated[bool, Setting("average over the run's queries only (default counts missing judged "
                                         "queries as 0)")] = False


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = command_parser(EvaluateSettings, "python -m reasonrank_ir.evaluate",
                            "Score a TREC run with ir-measures (trec_eval -c averaging).")
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
