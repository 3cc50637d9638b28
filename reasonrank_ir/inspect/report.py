"""Files in, one HTML file out: read the run, traces, baseline and judgments, score, embed, write.

The page is ``template.html`` with the data embedded as gzip + base64 (decoded by the browser's
``DecompressionStream``): the overview as one block, each query's details as one line of another
block (inflated only when that query is opened), and passage texts as a third block (inflated on
the first click on a passage). Nothing is fetched, so the file works from disk, offline.
"""
from __future__ import annotations

import base64
import gzip
import html
import json
import os
from importlib import resources
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.types import Qrels, Query, Run

if TYPE_CHECKING:
    from reasonrank_ir.data import Dataset

PASSAGE_CHARS = 2000
"""Passage text kept per document: about what a 512-token reranker prompt shows."""


def write_report(run: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
                 traces: str | os.PathLike[str] | None = None, baseline: str | os.PathLike[str] | None = None,
                 qrels: str | None = None, topics: str | None = None, metric: str = "nDCG@10",
                 index: str | None = None, warn: Callable[[str], None] | None = None) -> Path:
    """Write the report of ``run`` and return its path (default: beside the run, ``.html``).

    ``traces`` default to ``<run>.traces.jsonl`` beside the run (none there: overview and lists
    only). ``qrels``/``topics`` are files or dataset names; given neither, the dataset named in a
    ``run.<dataset>....txt`` file name is used where the registry knows it. ``baseline`` defaults
    to the first stage, recovered from the traces. Passage texts come from ``index`` (a dataset
    name or index folder) when given. Traces that miss windows of the run, and judgments that judge
    none of its docs (another collection's), are noted on the page and passed to ``warn``.
    """
    from reasonrank_ir.evaluate import evaluate, parse_measures
    from reasonrank_ir.inspect.build import build, first_stage, group_traces, missing_windows
    from reasonrank_ir.io import check_output_file
    from reasonrank_ir.io.traces import read_traces
    from reasonrank_ir.job import OutputFiles

    run_path = Path(run)
    target = Path(output) if output else run_path.with_name(run_path.name.removesuffix(".txt").removesuffix(".trec")
                                                            + ".html")
    check_output_file(target, "--output")
    (measure,) = parse_measures([metric])
    notes = []

    def warning(text: str) -> None:
        notes.append(f"Warning: {text}")
        if warn is not None:
            warn(text)

    dataset = _dataset(qrels, topics, run_path)
    judgments = _judgments(qrels, dataset)
    queries = _topics(topics, dataset)
    ranked = _read_run(run_path, dataset)
    traces_path = Path(traces) if traces else OutputFiles.beside(run_path).traces
    if traces and not traces_path.is_file():
        raise ReasonRankError(f"{traces_path}: no such traces file")
    grouped = {}
    if traces_path.is_file():
        grouped = group_traces(read_traces(traces_path), ranked, str(traces_path))
        missing = missing_windows(grouped, ranked)
        if missing:
            warning(f"{traces_path.name}: {missing}")
    else:
        notes.append(f"No traces beside the run ({traces_path.name}): overview and lists only.")
    if baseline:
        base, base_name = _read_run(baseline, dataset), Path(baseline).name
    elif grouped:
        base, base_name = first_stage(ranked, grouped, str(traces_path)), "first stage (recovered from the traces)"
    else:
        base, base_name = None, ""
    scores: dict[str, dict[str, float]] = {}
    foreign = False
    if judgments:
        judged = {q: d for q, d in judgments.items() if q in ranked}
        source = qrels or (dataset.name if dataset is not None else "the judgments")  # the dataset's own without qrels
        if not any(judged.values()):
            raise ReasonRankError(f"the run's query ids match none of the judged queries of {source}: "
                                  "wrong --qrels?")
        if not any(c.doc_id in judged.get(r.query_id, {}) for r in ranked for c in r.candidates):
            warning(f"the judgments of {source} judge none of the run's docs: another collection's? "
                    "Scores would all be 0, so none are shown.")
            judgments, foreign = None, True
    if judgments:
        scores["after"] = evaluate(ranked, judged, [measure]).per_query[str(measure)]
        if base is not None:
            scores["before"] = evaluate(base, judged, [measure]).per_query[str(measure)]
    elif not foreign:
        notes.append("No relevance judgments: pass --qrels for scores and labels.")
    passages = _passages(index, ranked, notes) if index else {}
    if not index:
        notes.append("No passage texts: pass --index NAME_OR_PATH to include them.")
    data = build(ranked, grouped, baseline=base, qrels=judgments, topics=queries, metric=metric,
                 scores=scores, baseline_name=base_name, notes=notes)
    data.overview["title"] = run_path.name
    data.overview["has_passages"] = bool(passages)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(data.overview, data.details, passages), encoding="utf-8")
    return target


def render_html(overview: dict[str, Any], details: list[dict[str, Any]], passages: dict[str, str]) -> str:
    """The template with the three data blocks filled in."""
    template = resources.files("reasonrank_ir.inspect").joinpath("template.html").read_text(encoding="utf-8")
    template = template.replace("{{TITLE}}", html.escape(str(overview.get("title", "report"))))
    blocks = {"{{OVERVIEW}}": pack(overview),
              "{{DETAILS}}": "\n".join(pack(detail) for detail in details),
              "{{PASSAGES}}": pack(passages)}
    for marker, value in blocks.items():
        template = template.replace(marker, value, 1)
    return template


def pack(value: Any) -> str:
    """Compact JSON, gzip-compressed (fixed mtime: same data, same file), base64-encoded."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def _read_run(path: str | os.PathLike[str], dataset: Dataset | None) -> Run:
    """A run file, cleaned for ``dataset`` (its index's doc ids, no excluded ids) when there is one."""
    from reasonrank_ir.io.trec import read_run

    run = read_run(path)
    return run if dataset is None else dataset.clean_run(run)


def _dataset(qrels: str | None, topics: str | None, run_path: Path) -> Dataset | None:
    """The registry dataset named by --qrels, --topics, or the run's ``run.<dataset>.`` file name."""
    from reasonrank_ir.data import dataset_or_none

    for name in (qrels, topics):
        if name and not Path(name).is_file():
            dataset = dataset_or_none(name)
            if dataset is not None:
                return dataset
    parts = run_path.name.split(".")
    if not (qrels or topics) and len(parts) > 2 and parts[0] == "run":
        return dataset_or_none(parts[1])
    return None


def _judgments(qrels: str | None, dataset: Dataset | None) -> Qrels | None:
    from reasonrank_ir.data import resolve_qrels

    if qrels:
        return resolve_qrels(qrels)
    return dataset.qrels() if dataset is not None else None


def _topics(topics: str | None, dataset: Dataset | None) -> dict[str, Query] | None:
    from reasonrank_ir.data import resolve_topics

    if topics:
        return resolve_topics(topics)
    if dataset is None:
        return None
    try:
        return dataset.topics()
    except ReasonRankError:
        return None


def _passages(index: str, run: Run, notes: list[str]) -> dict[str, str]:
    """Texts of every ranked document from the index, cut to ``PASSAGE_CHARS``."""
    from reasonrank_ir.data import load
    from reasonrank_ir.rerank.prompts import passage_text

    ids = list(dict.fromkeys(c.doc_id for r in run for c in r.candidates))
    docs = load(index).documents(ids)
    if len(docs) < len(ids):
        notes.append(f"{len(ids) - len(docs)} of {len(ids)} documents are not in {index}: no text for them.")
    texts = {}
    for doc_id, doc in docs.items():
        text = passage_text(doc)
        texts[doc_id] = text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS] + " …"
    return texts
