"""Scoring a run on the dataset's judgments (or ``--qrels``), only those of the topics asked for."""
from __future__ import annotations

from collections.abc import Sequence

from reasonrank_ir.data import Dataset
from reasonrank_ir.evaluate import Evaluation, evaluate
from reasonrank_ir.types import Query, Run


def score(run: Run, dataset: Dataset, metrics: Sequence[str], topics: dict[str, Query] | None = None
          ) -> Evaluation | None:
    """ir-measures scores when the dataset (or ``--qrels``) has judgments, else None.

    With ``topics``, only their judgments count: a run over a subset of topics is scored on it.
    """
    qrels = dataset.qrels()
    if qrels and topics is not None:
        qrels = {q: docs for q, docs in qrels.items() if q in topics}
    return evaluate(run, qrels, list(metrics)) if qrels else None
