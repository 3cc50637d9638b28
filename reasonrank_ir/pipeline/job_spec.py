"""One run as its settings (keyed by search flag) and the search command that makes it alone.

``search`` and the experiments both describe a run with a :class:`JobSpec`, so the settings they
record beside a run (``<run>.settings.json``) are the same for the same work: an experiment's part
and the ``python -m reasonrank_ir.search`` command printed for it recognise each other's finished
run, and a changed setting is caught the same way by both.
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.job import file_digest
from reasonrank_ir.pipeline.first_stage import FIRST_STAGE_SETTINGS, FirstStage
from reasonrank_ir.rerank.declared import RERANKER_SETTINGS

if TYPE_CHECKING:
    from reasonrank_ir.data import Dataset
    from reasonrank_ir.rerank.spec import RerankerSpec
    from reasonrank_ir.types import Query

UNRECORDED_OPTIONS = frozenset({"api_key", "concurrency", "max_retries", "timeout", "backoff", "max_backoff",
                                "progress"})
"""Engine options that cannot change a window's text (how many requests, how long to wait) or are
secret: left out of the settings, so a job may resume with other values. Every other option is
recorded and must match (an engine's context length or dtype can change what it generates)."""


def file_source(path: str | os.PathLike[str]) -> str:
    """A file as its name and content digest (moving it changes nothing, editing it does)."""
    return f"{Path(path).name} sha256:{file_digest(path)[:12]}"


def source(value: str | None) -> str | None:
    """A name, or a file (see :func:`file_source`), as ``--topics`` and ``--qrels`` take them."""
    return file_source(value) if value is not None and Path(value).is_file() else value


def run_tag(output: str | os.PathLike[str]) -> str:
    """The TREC tag of a run written to ``output`` (its file name): the same file, the same bytes."""
    return Path(output).stem.removeprefix("run.")[:60]


@dataclass(frozen=True)
class JobSpec:
    """What a search job does: a dataset (``--index``, ``--topics``, ``--qrels``), a first stage and
    optionally a reranker. Scoring (``--metrics``) is not part of it: it changes no run."""

    index: str
    first_stage: FirstStage = field(default_factory=FirstStage)
    reranker: RerankerSpec | None = None
    topics: str | None = None
    qrels: str | None = None
    limit_queries: int | None = None
    """Only the first N topics (a quick try): checked here, applied by :meth:`queries`."""

    def __post_init__(self) -> None:
        if self.limit_queries is not None and self.limit_queries < 1:  # 0 would mean all, -1 all but the last
            raise ReasonRankError(f"--limit-queries must be a positive integer, found {self.limit_queries}")

    def queries(self, dataset: Dataset) -> dict[str, Query]:
        """The topics this job ranks: the dataset's (or ``--topics``), or those of a rank_llm requests
        file given as ``--run`` without ``--topics`` (queries travel with their candidates), cut to
        ``limit_queries``."""
        from reasonrank_ir.pipeline.first_stage import is_requests_file, read_candidates

        run_file = self.first_stage.run_file
        if run_file and not self.topics and is_requests_file(run_file):
            topics = {r.query_id: r.query for r in read_candidates(run_file)}
        else:
            topics = dataset.topics()
        return dict(list(topics.items())[:self.limit_queries]) if self.limit_queries else topics

    def settings(self, passage_tokens: int | None = None) -> dict[str, Any]:
        """What decides the run's content, keyed by flag; ``passage_tokens`` is the dataset's truncation
        (the reranker's own wins). A resumed or repeated job must have the same."""
        first, spec = self.first_stage, self.reranker
        settings = {"--index": self.index, "--topics": source(self.topics), "--limit-queries": self.limit_queries,
                    "first stage": first.name, "--run": file_source(first.run_file) if first.run_file else None,
                    "--fuse-runs": [file_source(path) for path in first.fuse_runs],
                    **{item.flag: first.setting(name) for name, item in FIRST_STAGE_SETTINGS.items()},
                    "--rerank": spec.reranker if spec else "none"}
        if first.fusion:
            settings.update({"--alpha": first.fusion.alpha, "--rrf-k": first.fusion.rrf_k})
        if spec is None:
            return settings
        oracle = spec.reranker == "oracle"
        if oracle:
            settings["--qrels"] = source(self.qrels)
        else:
            from reasonrank_ir.backends import resolve_backend_name

            options = {k: v for k, v in spec.options.items() if k not in UNRECORDED_OPTIONS and v is not None}
            urls = options.pop("base_urls", None)
            # the flag before the engine it resolves to: a changed --backend is named as the user typed it
            settings.update({"--backend": spec.backend, "engine": resolve_backend_name(spec.backend),
                             "--base-url": sorted([urls] if isinstance(urls, str) else urls or [])})
            settings.update({f"--backend-option {k}": v for k, v in sorted(options.items())})
        for name, item in RERANKER_SETTINGS.items():  # every recorded setting, under its flag
            if item.setting.recorded and name != "reranker" and not (oracle and item.setting.engine):
                settings[item.flag] = getattr(spec, name)
        settings["--passage-tokens"] = spec.config(passage_tokens).max_passage_tokens  # the dataset's when unset
        return settings

    def command(self, output: str | os.PathLike[str], passage_tokens: int | None = None,
                metrics: Sequence[str] = ()) -> list[str]:
        """The ``python -m reasonrank_ir.search`` argv that makes this run alone at ``output``, every
        setting spelled out (defaults may change; the command must not). Secrets are never printed:
        an ``api_key`` option is left to ``$OPENAI_API_KEY``."""
        first, spec = self.first_stage, self.reranker
        if first.dense or first.fusion or first.fuse_runs or first.expansion:
            raise ReasonRankError(f"no search command for the first stage {first.name}: only BM25 and --run are "
                                  "written out")
        argv = ["python", "-m", "reasonrank_ir.search", "--index", self.index]
        for flag, value in (("--topics", self.topics), ("--qrels", self.qrels),
                            ("--limit-queries", self.limit_queries)):
            if value is not None:
                argv += [flag, display_path(value)]
        if first.run_file:
            argv += ["--run", display_path(first.run_file), "--hits", str(first.hits)]
        else:
            argv += ["--hits", str(first.hits)] + (["--bm25qs"] if first.bm25.query_side else [])
            argv += ["--k1", _number(first.bm25.k1), "--b", _number(first.bm25.b)]
        if first.bm25.remove_query:
            argv.append("--remove-query")
        if spec is not None:
            argv += ["--rerank", spec.reranker]
            for name, item in RERANKER_SETTINGS.items():  # every setting the spec has, as its flag
                if name == "reranker" or (spec.reranker == "oracle" and item.setting.engine):
                    continue
                if name == "options":
                    argv += _option_flags(spec.options)
                    continue
                value = (spec.config(passage_tokens).max_passage_tokens if name == "passage_tokens"
                         else getattr(spec, name))
                if isinstance(value, bool):
                    argv += [item.flag] if value else []
                elif value is not None:
                    argv += [item.flag, _number(value) if isinstance(value, float) else str(value)]
        argv += ["--output", display_path(output)]
        if metrics:
            argv += ["--metrics", *metrics]
        return argv


def shell_line(argv: Sequence[str]) -> str:
    """An argv as one line a shell runs as is."""
    return " ".join(shlex.quote(str(arg)) for arg in argv)


def display_path(value: str | os.PathLike[str] | int) -> str:
    """A path under the current folder as a relative one (shorter, and valid in a copy of the folder)."""
    text = str(value)
    if os.path.isabs(text):
        try:
            relative = os.path.relpath(text)
        except ValueError:
            return text
        return text if relative.startswith("..") else relative
    return text


def _option_flags(options: dict[str, Any]) -> list[str]:
    """Engine options as ``--base-url``/``--backend-option`` flags (an ``api_key`` is left to the environment)."""
    argv: list[str] = []
    for key, value in options.items():
        if key == "base_urls":
            argv += [item for url in ([value] if isinstance(value, str) else value) for item in ("--base-url", url)]
        elif key != "api_key" and value is not None:
            argv += ["--backend-option", f"{key}={_yaml_scalar(value)}"]
    return argv


def _number(value: float) -> str:
    return repr(float(value))


def _yaml_scalar(value: Any) -> str:
    """A value written so that ``--backend-option``'s YAML reading gives it back unchanged."""
    import json

    import yaml

    if isinstance(value, str) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value)  # JSON is YAML: numbers, booleans, lists and odd strings come back as they were
