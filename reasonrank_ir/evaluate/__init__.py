"""Scoring runs: ir-measures values (``measures``), per-query comparisons (``significance``), and a CLI.

    python -m reasonrank_ir.evaluate RUN --qrels NAME_OR_FILE
"""
from __future__ import annotations

from reasonrank_ir.evaluate.measures import Evaluation, evaluate, format_lines, parse_measures
from reasonrank_ir.evaluate.significance import SIGNIFICANCE, Comparison, compare

__all__ = ["SIGNIFICANCE", "Comparison", "Evaluation", "compare", "evaluate", "format_lines", "parse_measures"]
