"""One training list (:class:`Sample`) and its JSONL form, shared by mining, labelling and training.

The JSONL record is a superset of the released ReasonRank data (``dataset, qid, initial_list,
final_list, reasoning, relevant_docids``) that also carries the query text and the passages, so
every stage's output is self-contained and resumable by ``qid``::

    {"dataset": "cranfield", "qid": "1", "query": "...", "initial_list": ["184", ...],
     "docs": {"184": {"contents": "..."}, ...}, "positives": ["184"], "answer": "",
     "relevant_docids": [...], "final_list": [...], "reasoning": "...", "usage": {...}}
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.jsonl import jsonl_line, read_jsonl
from reasonrank_ir.types import Candidate, Query, Ranking


@dataclass(frozen=True)
class Sample:
    """A query, its candidate passages in prompt order and, once labelled, the teacher's labels."""

    dataset: str
    query: Query
    candidates: tuple[Candidate, ...]
    positives: tuple[str, ...] = ()
    """Ids known relevant before labelling: the passage a synthesised query was written from, qrels."""
    answer: str = ""
    """The gold answer of a synthesised query, shown to the teacher when it selects positives."""
    relevant: tuple[str, ...] = ()
    """The teacher's pointwise labels (``relevant_docids``)."""
    final_list: tuple[str, ...] = ()
    """The teacher's listwise ranking of ``initial_list``."""
    reasoning: str = ""
    usage: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    """Teacher token counts and cost, as written by labelling."""

    @property
    def query_id(self) -> str:
        return self.query.query_id

    @property
    def initial_list(self) -> tuple[str, ...]:
        return tuple(c.doc_id for c in self.candidates)

    @property
    def labelled(self) -> bool:
        return bool(self.final_list)

    def documents(self) -> list[Mapping[str, Any]]:
        """The candidates' stored fields in list order: a list without its passages cannot be shown to a model."""
        docs = [c.doc for c in self.candidates if c.doc is not None]
        if len(docs) < len(self.candidates):
            raise ReasonRankError(f"Sample {self.dataset}/{self.query_id}: a passage has no text to show the model")
        return docs

    def ranking(self) -> Ranking:
        """The candidates as a :class:`Ranking` (what the reranker and prompts take)."""
        return Ranking(self.query, self.candidates)

    def teacher_order(self) -> list[int]:
        """``final_list`` as 0-based positions in ``initial_list``."""
        position = {d: i for i, d in enumerate(self.initial_list)}
        missing = [d for d in self.final_list if d not in position]
        if missing or len(set(self.final_list)) != len(self.final_list):
            raise ReasonRankError(
                f"Sample {self.dataset}/{self.query_id}: final_list must be a permutation of initial_list "
                f"(unknown ids: {missing[:3]}); relabel it or drop it."
            )
        return [position[d] for d in self.final_list]

    def with_labels(self, relevant: Iterable[str], final_list: Iterable[str], reasoning: str,
                    usage: Mapping[str, Any] | None = None) -> Sample:
        return replace(self, relevant=tuple(relevant), final_list=tuple(final_list), reasoning=reasoning,
                       usage=dict(usage or {}))

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "qid": self.query_id,
            "query": self.query.text,
            "initial_list": list(self.initial_list),
            "final_list": list(self.final_list),
            "reasoning": self.reasoning,
            "relevant_docids": list(self.relevant),
            "positives": list(self.positives),
            "answer": self.answer,
            "docs": {c.doc_id: dict(c.doc) if c.doc is not None else None for c in self.candidates},
            "usage": dict(self.usage),
        }

    @classmethod
    def from_json(
        cls,
        record: Mapping[str, Any],
        queries: Mapping[str, str] | None = None,
        docs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Sample:
        """Read a record; ``queries``/``docs`` supply texts a record lacks (the released id tables)."""
        try:
            qid = str(record["qid"])
            initial = [str(d) for d in record["initial_list"]]
        except KeyError as e:
            raise ReasonRankError(f"A training record lacks the field {e}; "
                                  "expected at least qid and initial_list.") from None
        text = record.get("query")
        if text is None:
            if queries is None or qid not in queries:
                raise ReasonRankError(f"No text for query {qid!r}: "
                                      "the record has no 'query' and the query table lacks it.")
            text = queries[qid]
        stored = record.get("docs") or {}
        candidates = []
        for rank, doc_id in enumerate(initial):
            doc = stored.get(doc_id)
            if doc is None and docs is not None:
                doc = docs.get(doc_id)
            if doc is None:
                raise ReasonRankError(
                    f"No text for passage {doc_id!r} of query {qid!r}: the record has no 'docs' entry and the "
                    "passage table lacks it."
                )
            candidates.append(Candidate(doc_id, float(len(initial) - rank), doc))
        return cls(
            dataset=str(record.get("dataset", "")),
            query=Query(qid, str(text)),
            candidates=tuple(candidates),
            positives=tuple(str(d) for d in record.get("positives") or ()),
            answer=str(record.get("answer") or ""),
            relevant=tuple(str(d) for d in record.get("relevant_docids") or ()),
            final_list=tuple(str(d) for d in record.get("final_list") or ()),
            reasoning=str(record.get("reasoning") or ""),
            usage=dict(record.get("usage") or {}),
        )


def read_samples(path: str | Path) -> Iterator[Sample]:
    """Samples from a JSONL file written by :func:`append_samples` (mine, label or filter output)."""
    for where, record in read_jsonl(path):
        yield sample_at(where, record)


def sample_at(where: str, record: Any, queries: Mapping[str, str] | None = None,
              docs: Mapping[str, Mapping[str, Any]] | None = None) -> Sample:
    """:meth:`Sample.from_json` of the record read at ``where`` (``path:line``), its errors naming that line."""
    if not isinstance(record, dict):
        raise ReasonRankError(f"{where}: expected a JSON object (one training list), found {type(record).__name__}")
    try:
        return Sample.from_json(record, queries, docs)
    except ReasonRankError as error:
        raise ReasonRankError(f"{where}: {error}") from None
    except (TypeError, AttributeError, ValueError) as error:  # a field of the wrong JSON type
        raise ReasonRankError(f"{where}: a field has the wrong type ({type(error).__name__}: {error}); expected qid, "
                              "query text, initial_list and final_list as lists of ids, docs as {id: fields}") from None


def append_samples(path: str | Path, samples: Iterable[Sample]) -> int:
    """Append samples, one JSON line each, flushing per line so an interrupted job can resume.

    The file is opened at the first sample: a job that fails before it leaves no empty output behind.
    """
    path = Path(path)
    n = 0
    handle = None
    try:
        for sample in samples:
            if handle is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                _drop_cut_line(path)
                handle = path.open("a", encoding="utf-8")
            handle.write(jsonl_line(sample.to_json()))
            handle.flush()
            n += 1
    finally:
        if handle is not None:
            handle.close()
    return n


def _drop_cut_line(path: Path) -> None:
    """Remove a last line an interrupted job left without its newline, so appends stay valid JSONL."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def done_keys(path: str | Path) -> set[tuple[str, str]]:
    """``(dataset, qid)`` of the samples already in ``path`` (empty when it does not exist): for resume."""
    if not Path(path).is_file():
        return set()
    # A line cut by an interrupted write is skipped, so its sample is redone.
    return {(str(record.get("dataset", "")), str(record["qid"])) for _, record in read_jsonl(path, skip_broken=True)}
