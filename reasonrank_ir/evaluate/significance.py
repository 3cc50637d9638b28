"""Is one run better than another, query by query: wins, ties, losses and a paired t-test."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

SIGNIFICANCE = 0.05


class PerQuery(TypedDict):
    """What :func:`compare` reads of a run's scores (the part of an ``.eval.json`` it needs)."""

    judged: Sequence[str]
    """The judged query ids; a run that left one out scores 0 on it."""
    per_query: Mapping[str, Mapping[str, float]]
    """``{metric: {query id: value}}``."""


@dataclass(frozen=True)
class Comparison:
    """Per-query outcome of one run against another on one metric."""

    wins: int
    ties: int
    losses: int
    p_value: float | None
    """Two-sided paired t-test; None when every query ties (the test is undefined)."""

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE


def compare(base: PerQuery, other: PerQuery, metric: str) -> Comparison:
    """Per judged query (absent from a run = 0, as trec_eval -c), ``other`` against ``base``.

    Both are read as an ``.eval.json`` holds them (see :class:`PerQuery`).
    """
    from scipy.stats import ttest_rel

    judged = base["judged"]
    x = [base["per_query"][metric].get(q, 0.0) for q in judged]
    y = [other["per_query"][metric].get(q, 0.0) for q in judged]
    diffs = [b - a for a, b in zip(x, y)]
    wins = sum(d > 1e-12 for d in diffs)
    losses = sum(d < -1e-12 for d in diffs)
    p_value = None
    if len(judged) > 1 and any(abs(d) > 1e-12 for d in diffs):
        p_value = float(ttest_rel(y, x).pvalue)
        p_value = None if math.isnan(p_value) else p_value
    return Comparison(wins, len(diffs) - wins - losses, losses, p_value)
