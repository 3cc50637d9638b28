"""The report of an experiment: the paper's table with our numbers, the published ones and the gap.

Reads only what ``run`` wrote (``<dataset>.<row>.eval.json``, ``.settings.json`` and
``.summary.json``), so it is instant and works offline. A number is shown only when the settings
recorded with its run are the YAML's and the scores are those of that very run; otherwise the cell
is stale, with the way to refresh it. Every number carries its provenance: the search command that
makes its run alone, the settings digest, package version, model and engine, date, time and tokens.
Per query, each reranked system is compared with the first stage it reranked: wins, ties and
losses, and a paired t-test (``scipy.stats.ttest_rel``) per dataset.
"""
from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.evaluate.significance import SIGNIFICANCE, PerQuery
from reasonrank_ir.evaluate.significance import Comparison as Comparison  # re-exported with the report
from reasonrank_ir.evaluate.significance import compare as compare
from reasonrank_ir.experiments.config import AVERAGE, Experiment
from reasonrank_ir.experiments.runner import eval_path, plan, show_setting

if TYPE_CHECKING:
    from reasonrank_ir.experiments.runner import Part


class Scores(PerQuery):
    """What is read of a part's ``.eval.json``."""

    aggregate: dict[str, float]
    run_sha256: NotRequired[str]
    """The run file the scores are of."""
    qrels: NotRequired[str | None]
    """Where its judgments came from."""


class Provenance(TypedDict):
    """How one number was made (``Report.provenance``, a cell's ``provenance`` in ``report.json``)."""

    command: str
    """The search command that makes its run alone."""
    settings_sha256: str
    settings: dict[str, Any]
    reasonrank_ir: str | None
    date: str | None
    seconds: float | None
    queries: int
    limit_queries: int | None
    run: str
    run_sha256: str
    model: str | None
    backend: str | None
    first_stage_run: str | None
    first_stage_sha256: str | None
    windows: NotRequired[int]
    prompt_tokens: NotRequired[int]
    output_tokens: NotRequired[int]
    replayed_windows: NotRequired[int]


@dataclass(frozen=True)
class Row:
    """One system's scores: ``values[metric][dataset]`` in [0, 1]; ``published`` x100, headline metric only."""

    name: str
    label: str
    values: Mapping[str, Mapping[str, float]]
    published: Mapping[str, float] = field(default_factory=dict)
    first_stage: bool = False


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    rows: tuple[Row, ...]
    comparisons: Mapping[tuple[str, str], Comparison]
    """``(system, dataset) -> Comparison``."""
    costs: Mapping[str, Mapping[str, float]]
    """Per system, summed over datasets: seconds, queries, windows, parse_failures, output_tokens."""
    stale: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """``(row, dataset) -> why`` for scores whose run was made with other settings than the YAML's."""
    provenance: Mapping[tuple[str, str], Provenance] = field(default_factory=dict)
    """``(row, dataset) -> how the number was made`` (command, settings digest, version, date, cost)."""

    @property
    def datasets(self) -> list[str]:
        return [d.name for d in self.experiment.datasets]

    def value(self, row: Row, dataset: str, metric: str | None = None) -> float | None:
        return row.values.get(metric or self.experiment.metric, {}).get(dataset)

    def average(self, row: Row, metric: str | None = None) -> tuple[float | None, bool]:
        """Mean over the datasets with a score, and whether all datasets have one."""
        values = [v for d in self.datasets if (v := self.value(row, d, metric)) is not None]
        return (sum(values) / len(values) if values else None), len(values) == len(self.datasets)

    def published_average(self, row: Row) -> float | None:
        if AVERAGE in row.published:
            return row.published[AVERAGE]
        values = [v for d in self.datasets if (v := row.published.get(d)) is not None]
        return sum(values) / len(values) if values and len(values) == len(self.datasets) else None

    def missing(self) -> list[tuple[str, str]]:
        return [(d, r.name) for r in self.rows for d in self.datasets
                if self.value(r, d) is None and (r.name, d) not in self.stale]

    def markdown(self) -> str:
        experiment = self.experiment
        lines = [f"## {experiment.name}", ""]
        if experiment.description:
            lines += [" ".join(experiment.description.split()), ""]
        for metric in experiment.metrics:
            lines += self._score_table(metric) + [""]
        if self.comparisons:
            lines += self._comparison_table() + [""]
        if self.costs:
            lines += self._cost_table() + [""]
        source = experiment.source or experiment.name
        missing = self.missing()
        if missing:
            lines += [f"Not run yet ({len(missing)}): " + ", ".join(f"{d} × {r}" for d, r in missing)
                      + f". Run `python -m reasonrank_ir.experiments run {source}` (it says what is missing).", ""]
        if self.stale:
            lines += [f"Stale ({len(self.stale)}), not shown (their runs are not the YAML's): "
                      + "; ".join(f"{d} × {r} ({why})" for (r, d), why in self.stale.items())
                      + f". Refresh: `python -m reasonrank_ir.experiments run {source} --overwrite` (redoes "
                      "only the changed parts).", ""]
        unscored = [f"{d} × {r.name}" for r in self.rows for d in self.datasets if (r.name, d) in self.provenance
                    and any(self.value(r, d, m) is None for m in experiment.metrics)]
        if unscored:
            lines += [(f"Not scored with every metric yet: {', '.join(unscored)}. `python -m reasonrank_ir.experiments "
                       f"run {source}` scores the finished runs (no reranking)."), ""]
        if self.provenance:
            lines += self._provenance() + [""]
        return "\n".join(lines).rstrip() + "\n"

    def _provenance(self) -> list[str]:
        labels = {r.name: r.label for r in self.rows}
        lines = [("How each number was made (the command makes that run alone, and `run` takes its result as "
                  "its own; settings: sha256 of the recorded settings; seconds: the session that finished the run, "
                  "resumed windows were paid for earlier)"), "",
                 _row(["dataset", "system", "made", "reasonrank-ir", "settings", "model / engine", "queries",
                       "seconds", "windows", "tokens in / out"]), _row(["---"] * 6 + ["---:"] * 4)]
        for (row, dataset), made in self.provenance.items():
            engine = f"{made['model']} / {made['backend']}" if made.get("model") else "–"
            queries = f"{made['queries']}" + (f" (first {made['limit_queries']})" if made["limit_queries"] else "")
            tokens = (f"{made['prompt_tokens']} / {made['output_tokens']}" if "prompt_tokens" in made else "–")
            lines.append(_row([dataset, labels.get(row, row), made["date"] or "–", made["reasonrank_ir"] or "–",
                               made["settings_sha256"][:12], engine, queries,
                               "–" if made["seconds"] is None else f"{made['seconds']:.1f}",
                               str(made.get("windows", "–")) + (f" ({made['replayed_windows']} resumed)"
                                                                 if made.get("replayed_windows") else ""),
                               tokens]))
        published = {made["first_stage_run"]: made["first_stage_sha256"] for made in self.provenance.values()
                     if made.get("first_stage_sha256")}
        if published:
            lines += ["", "Published first-stage runs: " + "; ".join(f"`{path}` sha256 `{digest}`"
                                                                  for path, digest in published.items())]
        lines += ["", "```bash"]
        for (row, dataset), made in self.provenance.items():
            lines += [f"# {dataset} × {labels.get(row, row)}", made["command"]]
        return lines + ["```"]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON: every cell's scores (or why it is stale) and provenance."""
        cells = []
        for row in self.rows:
            for dataset in self.datasets:
                key = (row.name, dataset)
                cells.append({"dataset": dataset, "system": row.name, "label": row.label,
                              "first_stage": row.first_stage,
                              "scores": {m: v for m in self.experiment.metrics
                                         if (v := self.value(row, dataset, m)) is not None},
                              "published": row.published.get(dataset) if row.published else None,
                              "stale": self.stale.get(key), "provenance": self.provenance.get(key)})
        return {"experiment": self.experiment.name, "source": str(self.experiment.source or ""),
                "metrics": list(self.experiment.metrics), "cells": cells}

    def _score_table(self, metric: str) -> list[str]:
        headline = metric == self.experiment.metric
        lines = [f"{metric} ×100" + (" — ours, the published number and Δ = ours − published" if headline and
                                     any(r.published for r in self.rows) else ""), ""]
        lines += [_row(["system", *self.datasets, "avg"]), _row(["---"] + ["---:"] * (len(self.datasets) + 1))]
        for row in self.rows:
            average, complete = self.average(row, metric)
            cells = ["stale" if (row.name, d) in self.stale else _fmt(self.value(row, d, metric))
                     for d in self.datasets]
            avg = _fmt(average) + ("" if complete or average is None else f" ({self._count(row, metric)})")
            label = row.label + (" (first stage)" if row.first_stage else "")
            lines.append(_row([label, *cells, avg]))
            if headline and row.published:
                published_avg = self.published_average(row)
                lines.append(_row(["↳ published", *[_fmt_published(row.published.get(d)) for d in self.datasets],
                                   _fmt_published(published_avg)]))
                deltas = [_delta(self.value(row, d), row.published.get(d)) for d in self.datasets]
                lines.append(_row(["↳ Δ", *deltas, _delta(average if complete else None, published_avg)]))
        return lines

    def _count(self, row: Row, metric: str) -> str:
        have = sum(self.value(row, d, metric) is not None for d in self.datasets)
        return f"{have}/{len(self.datasets)}"

    def _comparison_table(self) -> list[str]:
        first = self.rows[0].label
        title = (f"Per query against {first}, {self.experiment.metric}: wins/ties/losses, paired t-test p "
                 f"(* p < {SIGNIFICANCE})")
        lines = [title, ""]
        lines += [_row(["system", *self.datasets]), _row(["---"] + ["---:"] * len(self.datasets))]
        for row in self.rows[1:]:
            cells = []
            for dataset in self.datasets:
                c = self.comparisons.get((row.name, dataset))
                cells.append("–" if c is None else f"{c.wins}/{c.ties}/{c.losses} "
                             f"{_fmt_p(c.p_value)}{'*' if c.significant else ''}")
            lines.append(_row([row.label, *cells]))
        return lines

    def _cost_table(self) -> list[str]:
        lines = ["Cost of reranking (summed over the datasets run in one go; resumed parts count once)", "",
                 _row(["system", "queries", "seconds", "s/query", "windows", "output tokens", "parse failures"]),
                 _row(["---"] + ["---:"] * 6)]
        labels = {r.name: r.label for r in self.rows}
        for name, cost in self.costs.items():
            per_query = cost["seconds"] / cost["queries"] if cost["queries"] else 0.0
            lines.append(_row([labels.get(name, name), f"{cost['queries']:.0f}", f"{cost['seconds']:.1f}",
                               f"{per_query:.2f}", f"{cost['windows']:.0f}", f"{cost['output_tokens']:.0f}",
                               f"{cost['parse_failures']:.0f}"]))
        return lines


def build_report(experiment: Experiment, output_dir: str | Path | None = None) -> Report:
    """Collect the scores ``run`` wrote under ``output_dir`` (default ``runs/<experiment>/``): only those
    whose run was made with the YAML's settings; the others are stale (see ``Report.stale``)."""
    output_dir = Path(output_dir) if output_dir else experiment.default_output_dir()
    first = experiment.first_stage
    parts, unplanned = plan(experiment, output_dir)
    by_cell = {(part.row, part.dataset.name): part for part in parts}
    unchecked = {gone.dataset: gone.reason for gone in unplanned}
    specs = [(first.name, first.label, first.published, True)] + [
        (s.name, s.label, s.published, False) for s in experiment.systems]
    records: dict[tuple[str, str], Scores] = {}
    stale: dict[tuple[str, str], str] = {}
    provenance: dict[tuple[str, str], Provenance] = {}
    rows = []
    for name, label, published, is_first in specs:
        values: dict[str, dict[str, float]] = {m: {} for m in experiment.metrics}
        for dataset in experiment.datasets:
            path = eval_path(output_dir, dataset.name, name)
            if not path.is_file():
                continue
            record: Scores = json.loads(path.read_text(encoding="utf-8"))
            part = by_cell.get((name, dataset.name))
            if part is None:
                stale[(name, dataset.name)] = f"cannot check it: {unchecked[dataset.name]}"
                continue
            why = _staleness(part, record)
            if why is not None:
                stale[(name, dataset.name)] = why
                continue
            records[(name, dataset.name)] = record
            provenance[(name, dataset.name)] = _provenance(part, experiment)
            for metric in experiment.metrics:
                if metric in record["aggregate"]:
                    values[metric][dataset.name] = record["aggregate"][metric]
        rows.append(Row(name, label, values, published, is_first))
    comparisons = {}
    for system in experiment.systems:
        for dataset in experiment.datasets:
            base, other = records.get((first.name, dataset.name)), records.get((system.name, dataset.name))
            if base and other and base["judged"] == other["judged"]:
                comparisons[(system.name, dataset.name)] = compare(base, other, experiment.metric)
    return Report(experiment, tuple(rows), comparisons, _costs(experiment, output_dir, stale), stale, provenance)


def _staleness(part: Part, scores: Scores) -> str | None:
    """Why the scores of a part are not the YAML's (None when they are): its run is not finished, was
    made with other settings, or the scores are of another run or other judgments."""
    from reasonrank_ir.job import RESUME_ONLY, difference, is_finished, recorded
    from reasonrank_ir.pipeline.job_spec import source

    try:
        record = recorded(part.files)
    except ReasonRankError:
        record = None
    if record is None or not is_finished(part.files):
        return "no finished run with its settings beside the scores"
    expected = part.settings()
    expected["--limit-queries"] = record["settings"].get("--limit-queries")  # a quick try is a subset, not stale
    changed = difference(record["settings"], expected, RESUME_ONLY)
    if changed is not None:
        key, was, now = changed
        return f"{key} {show_setting(was)} → {show_setting(now)}"
    if scores.get("run_sha256") != record["finished"]["sha256"]:
        return "the scores are of another run file"
    if scores.get("qrels") != source(part.dataset.qrels):
        return "scored with other judgments"
    return None


def _provenance(part: Part, experiment: Experiment) -> Provenance:
    """How a part's number was made, from what was recorded beside its run."""
    import hashlib
    from dataclasses import replace

    from reasonrank_ir.job import file_digest, recorded
    from reasonrank_ir.pipeline.job_spec import display_path, shell_line

    record = recorded(part.files)
    if record is None or "finished" not in record:  # _staleness found it finished a moment ago
        raise ReasonRankError(f"{part.files.run}: the job's record changed while the report was read; run it again")
    settings, finished = record["settings"], record["finished"]
    limit = settings.get("--limit-queries")
    made = replace(part, job=replace(part.job, limit_queries=limit))
    run_file = part.job.first_stage.run_file
    provenance: Provenance = {"command": shell_line(made.command(experiment.metrics)),
            "settings_sha256": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest(),
            "settings": settings, "reasonrank_ir": record.get("reasonrank_ir"), "date": finished.get("date"),
            "seconds": finished.get("seconds"), "queries": finished["queries"], "limit_queries": limit,
            "run": str(part.files.run), "run_sha256": finished["sha256"],
            "model": settings.get("--model"), "backend": settings.get("engine", settings.get("--backend")),
            "first_stage_run": display_path(run_file) if run_file else None,
            "first_stage_sha256": file_digest(run_file) if run_file else None}
    for key in ("windows", "prompt_tokens", "output_tokens", "replayed_windows"):
        if key in finished:
            provenance[key] = finished[key]
    return provenance


def _costs(experiment: Experiment, output_dir: Path,
           stale: Collection[tuple[str, str]] = ()) -> dict[str, dict[str, float]]:
    """What each system's runs cost, stale ones left out."""
    keys = ("queries", "seconds", "windows", "output_tokens", "parse_failures")
    costs: dict[str, dict[str, float]] = {}
    for system in experiment.systems:
        total = dict.fromkeys(keys, 0.0)
        found = False
        for dataset in experiment.datasets:
            path = output_dir / f"{dataset.name}.{system.name}.summary.json"
            if path.is_file() and (system.name, dataset.name) not in stale:
                record = json.loads(path.read_text(encoding="utf-8"))
                found = True
                for key in keys:
                    total[key] += float(record.get(key, 0))
        if found and system.reranker != "oracle":
            costs[system.name] = total
    return costs


def write_chart(report: Report, path: str | Path) -> Path:
    """Grouped bars of the headline metric per dataset (and the average); published numbers as markers."""
    try:
        import matplotlib
    except ImportError:
        raise ReasonRankError("the bar chart needs matplotlib: pip install -e \".[plot]\"") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = report.datasets + ["avg"]
    width = 0.8 / max(len(report.rows), 1)
    figure, axes = plt.subplots(figsize=(min(16.0, max(7.0, 0.25 * len(columns) * (len(report.rows) + 1))), 5.0))
    for i, row in enumerate(report.rows):
        ours = [report.value(row, d) for d in report.datasets] + [report.average(row)[0]]
        published = [row.published.get(d) for d in report.datasets] + [report.published_average(row)]
        xs = [j + (i - (len(report.rows) - 1) / 2) * width for j in range(len(columns))]
        axes.bar(xs, [100 * v if v is not None else 0 for v in ours], width, label=row.label)
        marked = [(x, p) for x, p in zip(xs, published) if p is not None]
        if marked:
            axes.scatter([x for x, _ in marked], [p for _, p in marked], marker="_", s=120, color="black", zorder=3,
                         label="published" if i == 0 or not any(r.published for r in report.rows[:i]) else None)
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    axes.set_ylabel(f"{report.experiment.metric} ×100")
    # Legend above the bars, under the title: rotated dataset names below take any height they need.
    axes.set_title(report.experiment.name, pad=30)
    axes.legend(fontsize="small", loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(4, len(report.rows) + 1),
                frameon=False)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def write_inspections(experiment: Experiment, output_dir: str | Path,
                      stale: Collection[tuple[str, str]] = ()) -> list[str]:
    """A ``reasonrank_ir.inspect`` page beside each reranked run with traces (rewritten when the run is
    newer), against the first stage; one markdown line linking them all. ``stale`` (system, dataset)
    parts get none: their run is not the YAML's."""
    from reasonrank_ir.experiments.runner import run_path
    from reasonrank_ir.inspect import write_report
    from reasonrank_ir.job import OutputFiles

    links = []
    for system in experiment.systems:
        for dataset in experiment.datasets:
            run = run_path(Path(output_dir), dataset.name, system.name)
            if (system.name, dataset.name) in stale or not (run.is_file() and OutputFiles.beside(run).traces.is_file()):
                continue
            page = run.with_suffix(".html")
            if not page.is_file() or page.stat().st_mtime < run.stat().st_mtime:
                first = experiment.first_stage.run_file(dataset) or run_path(Path(output_dir), dataset.name,
                                                                              experiment.first_stage.name)
                write_report(run, page, qrels=dataset.qrels or dataset.dataset,
                             topics=dataset.topics or dataset.dataset,
                             baseline=first if first.is_file() else None, metric=experiment.metric)
            links.append(f"[{dataset.name} × {system.label}]({page.name})")
    return ["What each reranker did, query by query: " + " · ".join(links)] if links else []


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _fmt_published(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _delta(ours: float | None, published: float | None) -> str:
    if ours is None or published is None:
        return ""
    text = f"{100 * ours - published:+.2f}"
    return "+0.00" if text == "-0.00" else text


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p=–"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"
