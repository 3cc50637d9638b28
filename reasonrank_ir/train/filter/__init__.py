"""Self-consistency filter: keep a labelled list only when the teacher's ranking agrees with its own
pointwise labels (NDCG@10 of ``final_list`` against ``relevant_docids`` >= alpha, default 0.4).

:func:`filter_file` filters a labelled JSONL file (``python -m reasonrank_ir.train.filter`` runs it);
its :class:`FilterReport` counts the samples each dataset (domain) kept.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import check_output_file
from reasonrank_ir.io.jsonl import read_jsonl
from reasonrank_ir.train.reward import ndcg_at
from reasonrank_ir.train.sample import Sample, append_samples, read_samples


def consistency(sample: Sample, k: int = 10) -> float:
    """NDCG@k of the teacher's listwise ranking, judged by its own pointwise labels."""
    return ndcg_at(sample.final_list, sample.relevant, k)


@dataclass
class FilterReport:
    """Per-dataset counts of samples seen and kept."""

    alpha: float
    seen: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def count(self, dataset: str, kept: bool) -> None:
        self.seen[dataset] = self.seen.get(dataset, 0) + 1
        self.kept[dataset] = self.kept.get(dataset, 0) + int(kept)

    def table(self) -> str:
        rows = [f"{'dataset':<24} {'kept':>7} {'seen':>7} {'share':>7}"]
        for name in sorted(self.seen):
            seen, kept = self.seen[name], self.kept[name]
            rows.append(f"{name:<24} {kept:>7} {seen:>7} {kept / seen:>7.1%}")
        total_seen, total_kept = sum(self.seen.values()), sum(self.kept.values())
        if total_seen:
            rows.append(f"{'all':<24} {total_kept:>7} {total_seen:>7} {total_kept / total_seen:>7.1%}")
        return "\n".join(rows)


def self_consistent(samples: Iterable[Sample], alpha: float = 0.4, report: FilterReport | None = None,
                    k: int = 10) -> Iterator[Sample]:
    """The samples whose :func:`consistency` is at least ``alpha``.

    An unlabelled sample is an error: it has no teacher list to judge (a mined file, not a labelled one).
    """
    for sample in samples:
        if not sample.labelled:
            raise ReasonRankError(f"list {sample.dataset}/{sample.query_id} is not labelled (no final_list); "
                                  "the filter reads the output of reasonrank_ir.train.label")
        keep = consistency(sample, k) >= alpha
        if report is not None:
            report.count(sample.dataset, keep)
        if keep:
            yield sample


def filter_file(labelled: str | Path, output: str | Path, alpha: float = 0.4) -> FilterReport:
    """Write the lists of ``labelled`` that :func:`self_consistent` keeps to ``output`` (replaced).

    The file is refused before anything is written when it holds no labelled lists; a job that fails
    midway removes its partial output, which would pass for a filtered file.
    """
    if not 0.0 <= alpha <= 1.0:  # also refuses nan
        raise ReasonRankError(f"--alpha is an NDCG@10 threshold between 0 and 1, found {alpha}")
    output = Path(output)
    if output.resolve() == Path(labelled).resolve():
        raise ReasonRankError("--output must differ from --input.")
    check_output_file(output, "--output")
    first = next(read_jsonl(labelled), None)
    if first is None:
        raise ReasonRankError(f"{labelled}: no labelled lists in the file (the output of reasonrank_ir.train.label)")
    if isinstance(first[1], dict) and not first[1].get("final_list"):
        raise ReasonRankError(f"{first[0]}: this list is not labelled (no final_list); the filter reads the output "
                              "of reasonrank_ir.train.label, not of train.mine")
    output.unlink(missing_ok=True)
    report = FilterReport(alpha)
    try:
        append_samples(output, self_consistent(read_samples(labelled), alpha, report))
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    return report
