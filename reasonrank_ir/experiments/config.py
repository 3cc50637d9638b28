"""The experiment YAML schema: pydantic models of an experiment, its datasets, first stage and systems.

Everything a run could trip over later — dataset names, measures, rerankers, backends, window
settings, published numbers — is checked here, before any index is opened or model loaded, so a
typo costs seconds, not the hour after the first dataset. Missing *files* (indexes, runs, models)
are not errors here: the runner reports them per dataset with the way to get them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import (AfterValidator, BeforeValidator, Field, PrivateAttr, ValidationInfo, field_validator,
                      model_validator)

from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.io.names import looks_like_path
from reasonrank_ir.pipeline.first_stage import FirstStageSettings
from reasonrank_ir.rerank.spec import RerankerSpec
from reasonrank_ir.settings import Settings, checked, validate

AVERAGE = "average"
"""Key of a published average in ``published`` (the paper's last column)."""


def _plain_word(name: str) -> str:
    if not name or any(c in name for c in "/\\ \t") or name.startswith("."):
        raise ValueError(f"{name!r} must be a plain word (it names run files)")
    return name


PlainWord = Annotated[str, AfterValidator(_plain_word)]


def _named(entry: Any, default: str | None) -> Any:
    """A table row's ``name`` (``default`` when not given) and ``label`` (the name when not given)."""
    if isinstance(entry, dict):
        entry = {"name": default, **entry}
        entry.setdefault("label", entry["name"])
    return entry


def _expand(value: Any) -> Any:
    return os.path.expanduser(value) if isinstance(value, str) else value


def _folder(value: Any) -> Any:
    return Path(os.path.expanduser(value)).resolve() if isinstance(value, str) else value


class DatasetSpec(Settings):
    """One column of the table: a registry name, or a Pyserini index with its topics and qrels."""

    name: str
    """Column name, run-file prefix and the ``{subset}`` of run-file patterns (default: the dataset's label)."""
    dataset: str | None = None
    """A name for ``reasonrank_ir.data.load``: ``bright-biology``, ``cranfield``, ``beir/scifact/test``, a folder."""
    index: str | None = None
    """Instead of ``dataset``: a Pyserini prebuilt index (``beir-v1.0.0-scifact.flat``) or an index folder."""
    topics: Annotated[str | None, BeforeValidator(_expand)] = None
    """A file, a dataset name or a Pyserini topics name (``beir-v1.0.0-scifact-test``, ``dl19-passage``)."""
    qrels: Annotated[str | None, BeforeValidator(_expand)] = None

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, entry: Any) -> Any:
        """A bare name is ``dataset: name``; the name is resolved by the registry (canonical spelling, label)."""
        if isinstance(entry, str):
            entry = {"dataset": entry}
        if not isinstance(entry, dict):
            return entry
        entry = dict(entry)
        given = [key for key in ("dataset", "index") if entry.get(key) is not None]
        if len(given) != 1:
            raise ValueError("needs exactly one of dataset: (a registry name) or index: (a Pyserini prebuilt "
                             f"index or folder), found {entry}")
        key = given[0]
        if isinstance(entry[key], str):
            name = os.path.expanduser(entry[key])
            if looks_like_path(name) and not Path(name).exists():  # not there yet: the runner says so
                entry[key], label = name, Path(name).name
            else:
                from reasonrank_ir.data import resolve

                try:
                    ref = resolve(name)
                except ReasonRankError as error:  # resolve's reason, after what the key was meant to name
                    raise ValueError(f"unknown {key} {name!r}: {str(error).split(': ', 1)[-1]}") from None
                entry[key], label = (ref.name if key == "dataset" else name), ref.label
            entry.setdefault("name", label)
        return entry


class FirstStageSpec(Settings, FirstStageSettings):
    """Pyserini BM25 on each dataset's index, or a folder of published runs (``runs`` + ``pattern``).

    ``hits``, ``k1``, ``b`` and ``remove_query`` are the search flags' (``FirstStageSettings``)."""

    name: PlainWord
    """Default: ``bm25``, or ``first-stage`` when ``runs`` is given."""
    label: str
    """Default: the name."""
    runs: Annotated[Path | None, BeforeValidator(_folder)] = None
    pattern: str = "{subset}.txt"
    """File name inside ``runs``; ``{subset}`` is the dataset's column name (BRIGHT: ``earth_science``)."""
    published: dict[str, float] = {}

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, entry: Any) -> Any:
        entry = {} if entry is None else entry
        return _named(entry, "first-stage" if isinstance(entry, dict) and entry.get("runs") else "bm25")

    @model_validator(mode="after")
    def _pattern(self) -> FirstStageSpec:
        if self.runs and "{subset}" not in self.pattern:
            raise ValueError(f"pattern {self.pattern!r} must contain {{subset}} "
                             "(e.g. '{subset}.reasonir-gpt4cot.top100.trec')")
        return self

    def run_file(self, dataset: DatasetSpec) -> Path | None:
        return self.runs / self.pattern.format(subset=dataset.name) if self.runs else None


class SystemSpec(RerankerSpec):
    """One reranked row: a reranker spec, named, with the paper's numbers."""

    name: PlainWord
    """Default: the reranker's name."""
    label: str
    """Default: the name."""
    published: dict[str, float] = {}

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, entry: Any) -> Any:
        return _named(entry, entry.get("reranker") if isinstance(entry, dict) else None)

    @model_validator(mode="after")
    def _model(self) -> SystemSpec:
        if self.reranker != "oracle" and not self.model:
            raise ValueError(f"the {self.reranker} reranker needs model: (a hub id such as liuwenhan/reasonrank-7B, "
                             "a local folder, or a .gguf file with backend: llamacpp)")
        return self


class Experiment(Settings):
    """A table of the paper: datasets (columns), a first stage and reranked systems (rows), measures."""

    name: str
    """Default: the YAML file's name."""
    description: str = ""
    first_stage: FirstStageSpec = FirstStageSpec.model_validate({})  # name and label filled in by its validator
    datasets: tuple[DatasetSpec, ...] = Field((), strict=False, validate_default=True)
    systems: tuple[SystemSpec, ...] = Field((), strict=False)
    metrics: tuple[str, ...] = Field(("nDCG@10",), strict=False)
    """ir-measures names; the first one is the headline metric the published numbers refer to."""
    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        source = (info.context or {}).get("source")
        data = {key: value for key, value in data.items() if value is not None or key == "name"}
        if not data.get("name") and source:
            data["name"] = Path(source).stem
        if isinstance(data.get("metrics"), str):
            data["metrics"] = [data["metrics"]]
        return data

    @field_validator("description")
    @classmethod
    def _strip(cls, text: str) -> str:
        return text.strip()

    @field_validator("datasets", mode="before")
    @classmethod
    def _some(cls, datasets: Any) -> Any:
        if not datasets or not isinstance(datasets, list | tuple):
            raise ValueError("must be a non-empty list (e.g. [bright-biology, cranfield])")
        return datasets

    @field_validator("metrics")
    @classmethod
    def _measures(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        from reasonrank_ir.evaluate import parse_measures

        if not metrics:
            raise ValueError("must name at least one measure (e.g. [nDCG@10])")
        checked(lambda: parse_measures(metrics))
        return metrics

    @model_validator(mode="after")
    def _rows_and_columns(self) -> Experiment:
        """Names that must differ, and published numbers only for this experiment's columns."""
        names = [d.name for d in self.datasets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"dataset {twice[0]!r} is listed twice (give one a name:)")
        rows = [self.first_stage.name] + [s.name for s in self.systems]
        twice = sorted({n for n in rows if rows.count(n) > 1})
        if twice:
            raise ValueError(f"two rows are named {twice[0]!r}; system names must differ")
        for d in self.datasets:
            if d.index and not (d.topics and d.qrels):
                raise ValueError(f"dataset {d.name}: a dataset given by index: also needs topics: and qrels: "
                                 "(files, dataset names or Pyserini names such as beir-v1.0.0-scifact-test)")
        allowed = names + [AVERAGE]
        for where, published in [("first_stage", self.first_stage.published)] + [
                (f"systems[{i}]", s.published) for i, s in enumerate(self.systems)]:
            for key in published:
                if key not in allowed:
                    raise ValueError(f"{where}.published: "
                                     + unknown("dataset", key, allowed, hint="not a dataset of this experiment"))
        return self

    @property
    def source(self) -> Path | None:
        """The YAML file it was read from."""
        return self._source

    @property
    def metric(self) -> str:
        return self.metrics[0]

    def default_output_dir(self) -> Path:
        from reasonrank_ir.homes import runs_home

        return runs_home() / self.name

    def only(self, names: list[str] | tuple[str, ...]) -> Experiment:
        """The experiment restricted to some datasets (column names, or the names they load)."""
        chosen: list[DatasetSpec] = []
        for wanted in names:
            match = [d for d in self.datasets if wanted in (d.name, d.dataset, d.index)]
            if not match:
                known = [d.name for d in self.datasets]
                raise ReasonRankError("--only: " + unknown("dataset", wanted, known,
                                                           hint=f"{self.name} has no such dataset"))
            chosen.extend(d for d in match if d not in chosen)
        return self.model_copy(update={"datasets": tuple(chosen)})


def parse_experiment(data: Any, source: Path | None = None) -> Experiment:
    """Validate a mapping as read from YAML; ``source`` names the file in messages and the default name."""
    if not isinstance(data, dict):
        raise ReasonRankError(f"{source or 'experiment'} must be a mapping of settings, found {data!r}")
    experiment = validate(Experiment, data, where=str(source) if source else "experiment",
                          context={"source": source})
    experiment._source = source
    return experiment
