"""``python -m reasonrank_ir.experiments {list,show,run,report}``: one command per table of the paper.

    python -m reasonrank_ir.experiments list
    python -m reasonrank_ir.experiments run bright-reasonir-reasonrank7b [--only biology]
    python -m reasonrank_ir.experiments report bright-reasonir-reasonrank7b
    python -m reasonrank_ir.experiments show --commands bright-reasonir-reasonrank7b
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from reasonrank_ir.declare import Setting, add_flags
from reasonrank_ir.errors import ArgumentParser, ReasonRankError, cli_main
from reasonrank_ir.io import check_output_dir
from reasonrank_ir.pipeline import ray_pool

if TYPE_CHECKING:
    from reasonrank_ir.experiments.config import Experiment

_EXPERIMENT = Setting("a name from `list`, or a YAML file", positional=True, metavar="YAML_OR_NAME")


class ShowSettings:
    """``show``'s settings (each subcommand's flags come from its class, as every command's do)."""

    experiment: Annotated[str, _EXPERIMENT]
    commands: Annotated[bool, Setting(
        "print instead the `python -m reasonrank_ir.search` command of each dataset × row: each makes that part's "
        "run alone, and `run` takes it as its own (nothing is run)")] = False
    only: Annotated[list[str] | None, Setting("with --commands: only these datasets", nargs="+",
                                              metavar="DATASET")] = None
    limit_queries: Annotated[int | None, Setting("with --commands: first N queries", metavar="N")] = None
    output_dir: Annotated[str | None, Setting("with --commands: the folder of the runs (default: runs/<experiment>)",
                                              metavar="DIR")] = None


class RunSettings:
    """``run``'s settings, the ``--ray`` flags aside (``pipeline.ray_pool``)."""

    experiment: Annotated[str, _EXPERIMENT]
    only: Annotated[list[str] | None, Setting("run only these datasets (column names)", nargs="+",
                                              metavar="DATASET")] = None
    limit_queries: Annotated[int | None, Setting("first N queries of each dataset (a quick try)", metavar="N")] = None
    output_dir: Annotated[str | None, Setting("where runs and scores go (default: runs/<experiment>)",
                                              metavar="DIR")] = None
    overwrite: Annotated[bool, Setting(
        "redo the parts whose recorded settings differ from the YAML (the others are kept); without it such parts "
        "are refused before any work")] = False


class ReportSettings:
    """``report``'s settings."""

    experiment: Annotated[str, _EXPERIMENT]
    output_dir: Annotated[str | None, Setting("the folder run wrote (default: runs/<experiment>)",
                                              metavar="DIR")] = None


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m reasonrank_ir.experiments",
        description="Run an experiment YAML (first stage, rerankers, scores; resumable) and report it as the "
                    "paper's table with the published numbers beside ours.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the experiments known by name (packaged, and ./experiments/*.yaml)")
    add_flags(commands.add_parser("show", help="print an experiment's YAML (copy it to change a setting)"),
              ShowSettings)
    run = commands.add_parser("run", help="run every dataset of an experiment (finished parts are kept)")
    add_flags(run, RunSettings)
    ray_pool.add_arguments(run)
    add_flags(commands.add_parser("report", help="print the markdown table; write report.md and a PNG chart"),
              ReportSettings)
    return parser


def _report(experiment: Experiment, output_dir: Path, require_scores: bool = False) -> str:
    from reasonrank_ir.experiments.report import build_report, write_chart, write_inspections

    report = build_report(experiment, output_dir)
    if require_scores and len(report.missing()) == len(report.rows) * len(report.datasets):
        raise ReasonRankError(f"{output_dir} holds no scores of {experiment.name}: run it first "
                              f"(python -m reasonrank_ir.experiments run {experiment.name}), or pass its --output-dir")
    text = report.markdown()
    try:
        text += "".join(f"\n{line}\n" for line in write_inspections(experiment, output_dir, report.stale))
    except ReasonRankError as error:
        print(f"no inspection pages: {error}", file=sys.stderr)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "report.md").write_text(text, encoding="utf-8")
    (output_dir / "report.json").write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    try:
        chart = write_chart(report, output_dir / "report.png")
        text += f"\n![{experiment.name}]({chart.name})\n"
        print(f"report: {output_dir / 'report.md'}, chart: {chart}", file=sys.stderr)
    except ReasonRankError as error:
        print(f"no chart: {error}", file=sys.stderr)
    return text


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from reasonrank_ir.experiments.catalog import experiment_names, find_experiment, load_experiment

    if args.command == "list":
        import yaml

        for name, path in experiment_names().items():  # descriptions only: no validation, no JVM
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            print(f"{name}\t{' '.join(str(data.get('description', '')).split())}")
        return 0
    if args.command == "show" and not args.commands:
        if args.only or args.limit_queries or args.output_dir:
            raise ReasonRankError("--only, --limit-queries and --output-dir go with show --commands")
        print(find_experiment(args.experiment).read_text(encoding="utf-8"), end="")
        return 0
    experiment = load_experiment(args.experiment)
    if getattr(args, "only", None):
        experiment = experiment.only(args.only)
    output_dir = Path(args.output_dir) if args.output_dir else experiment.default_output_dir()
    check_output_dir(output_dir, "--output-dir")
    if args.command == "show":
        from reasonrank_ir.experiments.runner import plan
        from reasonrank_ir.pipeline.job_spec import shell_line

        if args.limit_queries is not None and args.limit_queries < 1:
            raise ReasonRankError(f"--limit-queries must be a positive integer, found {args.limit_queries}")
        parts, missing = plan(experiment, output_dir, args.limit_queries)
        for part in parts:
            print(f"# {part.dataset.name} × {part.row}\n{shell_line(part.command(experiment.metrics))}")
        for gone in missing:
            print(f"# {gone.dataset}: no commands: {gone.reason}")
        return 0
    if args.command == "run":
        from reasonrank_ir.experiments.runner import run_experiment

        result = run_experiment(experiment, output_dir, limit_queries=args.limit_queries, overwrite=args.overwrite,
                                echo=lambda line: print(line, file=sys.stderr), ray=ray_pool.options_from(args))
        if result.missing:
            print(f"\n{len(result.missing)} parts could not run; what is missing and how to get it:",
                  file=sys.stderr)
            for reason in dict.fromkeys(m.reason for m in result.missing):
                where = ", ".join(f"{m.dataset} × {m.row}" for m in result.missing if m.reason == reason)
                print(f"- {where}: {reason}", file=sys.stderr)
        print(_report(experiment, output_dir))
        return 1 if result.missing else 0
    print(_report(experiment, output_dir, require_scores=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
