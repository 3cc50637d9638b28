"""Scoring a run on the dataset's judgments (or ``--qrels``), only those of the topics asked for."""
from __future__ import annotations

from collections.abc import Sequence

from reasonrank_ir.data import Dataset
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.evaluate import Evaluation, evaluate
from reasonrank_ir.evaluate.measures import check_fit
from reasonrank_ir.types import Qrels, Query, Run


def check_judgments(dataset: Dataset, topics: dict[str, Query], qrels_name: str, run: Run | None = None) -> None:
    """Before any work: refuse judgments (``--qrels qrels_name``) that judge none of ``topics``, or,
    given the first-stage ``run``, none of its docs (another collection's qrels): each scores 0.0000."""
    qrels = dataset.qrels() or {}
    judged = [q for q in topics if qrels.get(q)]
    if not judged:
        sample = ", ".join(list(topics)[:3]) + (", ..." if len(topics) > 3 else "")
        raise ReasonRankError(f"{qrels_name}: judges none of the topics ({sample}); pass the matching --topics "
                              "or --qrels")
    if run is not None:
        check_fit(run, qrels, f"the first stage ({run.name})", qrels_name)


def judgments(dataset: Dataset, topics: dict[str, Query] | None = None) -> Qrels | None:
    """The dataset's judgments (or ``--qrels``), only those of ``topics`` when given; None when it has none."""
    qrels = dataset.qrels()
    if qrels and topics is not None:
        qrels = {q: docs for q, docs in qrels.items() if q in topics}
    return qrels or None


def score(run: Run, dataset: Dataset, metrics: Sequence[str], topics: dict[str, Query] | None = None, *,
          qrels: Qrels | None = None) -> Evaluation | None:
    """ir-measures scores when the dataset (or ``--qrels``) has judgments, else None.

    With ``topics``, only their judgments count: a run over a subset of topics is scored on it.
    ``qrels`` are those :func:`judgments` already gave (a caller that keeps them reads the file once).
    """
    qrels = qrels if qrels is not None else judgments(dataset, topics)
    return evaluate(run, qrels, list(metrics), names=(run.name or "the run", dataset.name)) if qrels else None
