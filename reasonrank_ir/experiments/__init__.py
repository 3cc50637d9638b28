"""YAML experiments: reproduce a paper table in one command, and report it beside the published numbers.

    python -m reasonrank_ir.experiments run bright-oracle
    python -m reasonrank_ir.experiments report bright-oracle

From Python: ``build_report(exp := load_experiment("bright-oracle"), run_experiment(exp).output_dir)``.
"""
from reasonrank_ir.experiments.catalog import load_experiment
from reasonrank_ir.experiments.config import DatasetSpec, Experiment, FirstStageSpec, SystemSpec, parse_experiment
from reasonrank_ir.experiments.report import Comparison, Report, Row, build_report, compare, write_chart
from reasonrank_ir.experiments.runner import ExperimentRun, Missing, run_experiment

__all__ = [
    "Comparison", "DatasetSpec", "Experiment", "ExperimentRun", "FirstStageSpec", "Missing", "Report", "Row",
    "SystemSpec", "build_report", "compare", "load_experiment", "parse_experiment", "run_experiment",
    "write_chart",
]
