"""Experiment YAML files as validated frozen dataclasses.

Everything a run could trip over later — dataset names, measures, rerankers, backends, window
settings, published numbers — is checked here, before any index is opened or model loaded, so a
typo costs seconds, not the hour after the first dataset. Missing *files* (indexes, runs, models)
are not errors here: the runner reports them per dataset with the way to get them.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reasonrank_ir.errors import ReasonRankError, close_matches

AVERAGE = "average"
"""Key of a published average in ``published`` (the paper's last column)."""

_EXPERIMENT_KEYS = ("name", "description", "first_stage", "datasets", "systems", "metrics")
_FIRST_STAGE_KEYS = ("name", "label", "hits", "k1", "b", "remove_query", "runs", "pattern", "published")
_DATASET_KEYS = ("name", "dataset", "index", "topics", "qrels")
_SYSTEM_KEYS = ("name", "label", "reranker", "model", "tokenizer", "backend", "options", "depth", "window",
                "step", "passes", "passage_tokens", "max_tokens", "batch_size", "published")


@dataclass(frozen=True)
class DatasetSpec:
    """One column of the table: a registry name, or a Pyserini index with its topics and qrels."""

    name: str
    """Column name, run-file prefix and the ``{subset}`` of run-file patterns."""
    dataset: str | None = None
    """A name for ``reasonrank_ir.data.load``: ``bright-biology``, ``cranfield``, ``beir/scifact/test``, a folder."""
    index: str | None = None
    """Instead of ``dataset``: a Pyserini prebuilt index (``beir-v1.0.0-scifact.flat``) or an index folder."""
    topics: str | None = None
    """A file, a dataset name or a Pyserini topics name (``beir-v1.0.0-scifact-test``, ``dl19-passage``)."""
    qrels: str | None = None


@dataclass(frozen=True)
class FirstStageSpec:
    """Pyserini BM25 on each dataset's index, or a folder of published runs (``runs`` + ``pattern``)."""

    name: str = "bm25"
    label: str = "BM25"
    hits: int = 100
    k1: float = 0.9
    b: float = 0.4
    remove_query: bool = False
    """Pyserini's ``--remove-query`` (drop hits whose id is the query id), as in the BRIGHT 2CR runs."""
    runs: Path | None = None
    pattern: str = "{subset}.txt"
    """File name inside ``runs``; ``{subset}`` is the dataset's column name (BRIGHT: ``earth_science``)."""
    published: Mapping[str, float] = field(default_factory=dict)

    def run_file(self, dataset: DatasetSpec) -> Path | None:
        return self.runs / self.pattern.format(subset=dataset.name) if self.runs else None


@dataclass(frozen=True)
class SystemSpec:
    """One reranked row: a reranker name, its model and engine, and the sliding window."""

    name: str
    reranker: str
    label: str = ""
    model: str | None = None
    tokenizer: str | None = None
    backend: str = "auto"
    options: Mapping[str, Any] = field(default_factory=dict)
    """Engine options passed to ``create_backend`` (``n_ctx``, ``device``, ``tensor_parallel_size`` ...)."""
    depth: int = 100
    window: int = 20
    step: int = 10
    passes: int = 1
    passage_tokens: int | None = None
    """Passage truncation; None takes the dataset's (512 for BRIGHT, 100 otherwise)."""
    max_tokens: int = 3172
    batch_size: int = 128
    published: Mapping[str, float] = field(default_factory=dict)

    def rerank_config(self, passage_tokens: int):
        from reasonrank_ir.backends.base import Sampling
        from reasonrank_ir.rerank import RerankConfig

        style = self.reranker if self.reranker != "oracle" else "reasonrank"
        return RerankConfig(depth=self.depth, window=self.window, step=self.step, passes=self.passes,
                            max_passage_tokens=self.passage_tokens or passage_tokens, style=style,
                            sampling=Sampling(max_tokens=self.max_tokens))


@dataclass(frozen=True)
class Experiment:
    name: str
    first_stage: FirstStageSpec
    datasets: tuple[DatasetSpec, ...]
    systems: tuple[SystemSpec, ...] = ()
    metrics: tuple[str, ...] = ("nDCG@10",)
    """ir-measures names; the first one is the headline metric the published numbers refer to."""
    description: str = ""
    source: Path | None = None

    @property
    def metric(self) -> str:
        return self.metrics[0]

    def default_output_dir(self) -> Path:
        from reasonrank_ir.homes import runs_home

        return runs_home() / self.name

    def only(self, names: list[str] | tuple[str, ...]) -> Experiment:
        """The experiment restricted to some datasets (column names, or the names they load)."""
        chosen = []
        for wanted in names:
            match = [d for d in self.datasets if wanted in (d.name, d.dataset, d.index)]
            if not match:
                known = [d.name for d in self.datasets]
                raise ReasonRankError(f"--only {wanted!r}: {self.name} has no such dataset; it has "
                                      f"{', '.join(known)}.{close_matches(wanted, known)}")
            chosen.extend(d for d in match if d not in chosen)
        return Experiment(self.name, self.first_stage, tuple(chosen), self.systems, self.metrics,
                          self.description, self.source)


def _experiment_folders() -> list[Path]:
    """Where names are looked up: ``experiments/`` of the current folder, then the packaged YAMLs."""
    from importlib.resources import files

    return [Path.cwd() / "experiments", Path(str(files("reasonrank_ir.experiments") / "configs"))]


def experiment_names() -> dict[str, Path]:
    """Every experiment known by name (a local ``experiments/NAME.yaml`` hides a packaged one)."""
    found: dict[str, Path] = {}
    for folder in _experiment_folders():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def find_experiment(name_or_path: str | os.PathLike) -> Path:
    """An experiment YAML by path, or by name (``bright-oracle``) from any folder."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    known = experiment_names()
    name = path.name.removesuffix(".yaml")
    if name in known and (len(path.parts) == 1 or path.parent.name == "experiments"):
        return known[name]
    raise ReasonRankError(f"no experiment {str(name_or_path)!r}: not a file, and not one of "
                          f"{', '.join(known)} (python -m reasonrank_ir.experiments list)."
                          + close_matches(name, list(known)))


def load_experiment(name_or_path: str | os.PathLike) -> Experiment:
    """Read and validate an experiment YAML; raises ReasonRankError naming the bad key or value."""
    import yaml

    from reasonrank_ir.io import read_text

    path = find_experiment(name_or_path)
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as error:
        raise ReasonRankError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    return parse_experiment(data, path)


def parse_experiment(data: Any, source: Path | None = None) -> Experiment:
    """Validate a mapping as read from YAML (``source`` names the file in messages)."""
    where = str(source) if source else "experiment"
    data = _mapping(data, where, _EXPERIMENT_KEYS)
    name = data.get("name") or (source.stem if source else None)
    if not name or not isinstance(name, str):
        raise ReasonRankError(f"{where}: give the experiment a name (name: my-experiment)")
    metrics = tuple(_strings(data.get("metrics", ["nDCG@10"]), f"{where}: metrics"))
    from reasonrank_ir.evaluate import parse_measures

    try:
        parse_measures(metrics)
    except ReasonRankError as error:
        raise ReasonRankError(f"{where}: {error}") from None
    raw_datasets = data.get("datasets")
    if not raw_datasets or not isinstance(raw_datasets, list):
        raise ReasonRankError(f"{where}: datasets must be a non-empty list (e.g. [bright-biology, cranfield])")
    datasets = tuple(_dataset(entry, where) for entry in raw_datasets)
    names = [d.name for d in datasets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ReasonRankError(f"{where}: dataset {duplicates[0]!r} is listed twice (give one a name:)")
    first_stage = _first_stage(data.get("first_stage") or {}, where, names)
    systems = tuple(_system(entry, where, names) for entry in data.get("systems") or [])
    taken = [first_stage.name] + [s.name for s in systems]
    duplicates = sorted({n for n in taken if taken.count(n) > 1})
    if duplicates:
        raise ReasonRankError(f"{where}: two rows are named {duplicates[0]!r}; system names must differ")
    _check_pyserini_names(datasets, where)
    return Experiment(name, first_stage, datasets, systems, metrics, str(data.get("description") or "").strip(),
                      source)


# -- sections ------------------------------------------------------------------------------------
def _dataset(entry: Any, where: str) -> DatasetSpec:
    from reasonrank_ir.data.bright import canonical_name, hub_name

    if isinstance(entry, str):
        entry = {"dataset": entry}
    entry = _mapping(entry, f"{where}: dataset entry", _DATASET_KEYS)
    dataset, index = entry.get("dataset"), entry.get("index")
    if bool(dataset) == bool(index):
        raise ReasonRankError(f"{where}: each dataset entry needs exactly one of dataset: (a registry name) "
                              f"or index: (a Pyserini prebuilt index or folder), found {dict(entry)}")
    for key in ("topics", "qrels"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ReasonRankError(f"{where}: {key} of {dataset or index} must be a file or name, found {entry[key]!r}")
    if dataset:
        dataset = str(dataset)
        bright = canonical_name(dataset)
        if bright:
            dataset = bright
        elif not (_is_path(dataset) or _is_irds_id(dataset)):
            from reasonrank_ir.data import BRIGHT_NAMES
            from reasonrank_ir.data.irds import irds_ids

            raise ReasonRankError(
                f"{where}: unknown dataset {dataset!r}: not a BRIGHT subset, an ir_datasets id or a folder."
                + close_matches(dataset, list(BRIGHT_NAMES) + irds_ids()))
        default = hub_name(bright) if bright else Path(dataset).name if _is_path(dataset) else dataset
    else:
        index = str(index)
        default = Path(index).name if _is_path(index) else index
    name = str(entry.get("name") or default)
    return DatasetSpec(name, dataset, _expand(index), _expand(entry.get("topics")), _expand(entry.get("qrels")))


def _first_stage(entry: Any, where: str, datasets: list[str]) -> FirstStageSpec:
    entry = _mapping(entry, f"{where}: first_stage", _FIRST_STAGE_KEYS)
    runs = entry.get("runs")
    pattern = str(entry.get("pattern", "{subset}.txt"))
    if runs and "{subset}" not in pattern:
        raise ReasonRankError(f"{where}: first_stage pattern {pattern!r} must contain {{subset}} "
                              "(e.g. '{subset}.reasonir-gpt4cot.top100.trec')")
    name = str(entry.get("name") or ("first-stage" if runs else "bm25"))
    _check_name(name, f"{where}: first_stage name")
    return FirstStageSpec(
        name=name, label=str(entry.get("label") or name),
        hits=_positive(entry.get("hits", 100), f"{where}: first_stage hits"),
        k1=_number(entry.get("k1", 0.9), f"{where}: first_stage k1"),
        b=_number(entry.get("b", 0.4), f"{where}: first_stage b"),
        remove_query=_flag(entry.get("remove_query", False), f"{where}: first_stage remove_query"),
        runs=Path(_expand(str(runs))).resolve() if runs else None, pattern=pattern,
        published=_published(entry.get("published"), f"{where}: first_stage published", datasets))


def _system(entry: Any, where: str, datasets: list[str]) -> SystemSpec:
    from reasonrank_ir.backends import BACKENDS
    from reasonrank_ir.rerank import RERANKERS

    entry = _mapping(entry, f"{where}: system", _SYSTEM_KEYS)
    reranker = entry.get("reranker")
    name = str(entry.get("name") or reranker or "")
    here = f"{where}: system {name or '?'}"
    if reranker not in RERANKERS:
        raise ReasonRankError(f"{here}: unknown reranker {reranker!r}; choose one of {', '.join(RERANKERS)}."
                              + close_matches(str(reranker), RERANKERS))
    _check_name(name, f"{here}: name")
    backend = str(entry.get("backend", "auto"))
    if backend not in BACKENDS:
        raise ReasonRankError(f"{here}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}."
                              + close_matches(backend, BACKENDS))
    model = entry.get("model")
    if reranker != "oracle" and not model:
        raise ReasonRankError(f"{here}: the {reranker} reranker needs model: (a hub id such as "
                              "liuwenhan/reasonrank-7B, a local folder, or a .gguf file with backend: llamacpp)")
    options = entry.get("options") or {}
    if not isinstance(options, dict):
        raise ReasonRankError(f"{here}: options must be a mapping of backend options, found {options!r}")
    passage_tokens = entry.get("passage_tokens")
    system = SystemSpec(
        name=name, reranker=reranker, label=str(entry.get("label") or name),
        model=_expand(str(model)) if model else None, tokenizer=_expand(entry.get("tokenizer")), backend=backend,
        options=MappingProxyType(dict(options)),
        depth=_positive(entry.get("depth", 100), f"{here}: depth"),
        window=_positive(entry.get("window", 20), f"{here}: window"),
        step=_positive(entry.get("step", 10), f"{here}: step"),
        passes=_positive(entry.get("passes", 1), f"{here}: passes"),
        passage_tokens=_positive(passage_tokens, f"{here}: passage_tokens") if passage_tokens is not None else None,
        max_tokens=_positive(entry.get("max_tokens", 3172), f"{here}: max_tokens"),
        batch_size=_positive(entry.get("batch_size", 128), f"{here}: batch_size"),
        published=_published(entry.get("published"), f"{here}: published", datasets))
    system.rerank_config(512)  # the reranker's own checks (window schedule, style) before any work
    return system


def _check_pyserini_names(datasets: tuple[DatasetSpec, ...], where: str) -> None:
    """Index names are checked against Pyserini's table (only when used); topics/qrels names when read,
    since Pyserini has no public list of them."""
    for d in datasets:
        if d.index and not (d.topics and d.qrels):
            raise ReasonRankError(f"{where}: a dataset given by index: also needs topics: and qrels: "
                                  "(files, dataset names or Pyserini names such as beir-v1.0.0-scifact-test)")
    pending = [d.index for d in datasets if d.index and not _is_path(d.index)]
    if not pending:
        return
    from reasonrank_ir.storage.prebuilt import check_prebuilt_index

    for name in pending:
        try:
            check_prebuilt_index(name)
        except ReasonRankError as error:
            raise ReasonRankError(f"{where}: {error}") from None


# -- small checks ----------------------------------------------------------------------------------
def _mapping(value: Any, where: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise ReasonRankError(f"{where} must be a mapping of settings, found {value!r}")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise ReasonRankError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(keys)}."
                              + close_matches(str(unknown[0]), keys))
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ReasonRankError(f"{where} must be a list of names, found {value!r}")
    return value


def _published(value: Any, where: str, datasets: list[str]) -> Mapping[str, float]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise ReasonRankError(f"{where} must map dataset names to numbers (x100, as in the paper)")
    allowed = datasets + [AVERAGE]
    result = {}
    for key, number in value.items():
        if key not in allowed:
            raise ReasonRankError(f"{where}: {key!r} is not a dataset of this experiment."
                                  + close_matches(str(key), allowed))
        result[key] = _number(number, f"{where}: {key}")
    return MappingProxyType(result)


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ReasonRankError(f"{where} must be a positive integer, found {value!r}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReasonRankError(f"{where} must be a number, found {value!r}")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ReasonRankError(f"{where} must be true or false, found {value!r}")
    return value


def _check_name(name: str, where: str) -> None:
    if not name or any(c in name for c in "/\\ \t") or name.startswith("."):
        raise ReasonRankError(f"{where} {name!r} must be a plain word (it names run files)")


def _is_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or Path(value).exists()


def _is_irds_id(value: str) -> bool:
    from reasonrank_ir.data.irds import is_irds_id

    return is_irds_id(value)


def _expand(value: Any) -> str | None:
    return os.path.expanduser(str(value)) if value is not None else None
