"""Pyserini's own names: any prebuilt Lucene index (``msmarco-v1-passage``, ``beir-v1.0.0-scifact.flat``)
and any topics/qrels name (``dl19-passage``, ``beir-v1.0.0-scifact-test``), as its CLI takes them.

Pyserini fetches these into its cache where the internet is reachable; offline, the error says what
to fetch and where it goes. Checking a name loads Pyserini (a JVM), so the registry asks here last.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from reasonrank_ir.data.base import Dataset
from reasonrank_ir.errors import ReasonRankError, close_matches
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.java import import_pyserini
from reasonrank_ir.types import Qrels, Query


@cache
def _tables() -> dict[str, object]:
    import_pyserini("pyserini.search.lucene")
    from pyserini.prebuilt_index_info import TF_INDEX_INFO
    from pyserini.search._base import qrels_mapping, topics_mapping

    return {"index": TF_INDEX_INFO, "topics": topics_mapping, "qrels": qrels_mapping}


@cache
def _declared_index_names() -> frozenset[str] | None:
    """The prebuilt index names as written in Pyserini's source, read without running it.

    Running it starts the JVM (seconds), far too slow to refuse a typo. None when the file is not
    laid out as expected (``TF_INDEX_INFO = {**PART, ...}`` of literal-keyed dicts): then ask Pyserini.
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec("pyserini")
    source = Path(spec.submodule_search_locations[0], "prebuilt_index_info.py") if spec else None
    if source is None or not source.is_file():
        return None
    dicts = {node.targets[0].id: node.value for node in ast.parse(source.read_bytes()).body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
             and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)}
    whole = dicts.get("TF_INDEX_INFO")
    if whole is None:
        return None
    names: set[str] = set()
    for key, value in zip(whole.keys, whole.values):
        part = dicts.get(value.id) if key is None and isinstance(value, ast.Name) else None
        if part is None or not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in part.keys):
            return None
        names.update(k.value for k in part.keys)
    return frozenset(names)


def is_pyserini_name(kind: str, name: str) -> bool:
    """Whether ``name`` is a Pyserini prebuilt index / topics / qrels name (``kind``)."""
    declared = _declared_index_names() if kind == "index" else None
    return name in (declared if declared is not None else _tables()[kind])


def pyserini_names(kind: str) -> list[str]:
    declared = _declared_index_names() if kind == "index" else None
    return sorted(declared) if declared is not None else list(_tables()[kind])


def check_pyserini_name(kind: str, name: str) -> None:
    if not is_pyserini_name(kind, name):
        what = {"index": "Pyserini prebuilt index", "topics": "Pyserini topics", "qrels": "Pyserini qrels"}[kind]
        raise ReasonRankError(f"unknown {what} {name!r}." + close_matches(name, pyserini_names(kind)))


def _offline(kind: str, name: str, error: Exception) -> ReasonRankError:
    function = "get_qrels_file" if kind == "qrels" else "get_topics"
    return ReasonRankError(
        f"Pyserini could not provide the {kind} {name!r} ({type(error).__name__}); on a machine with internet run "
        f"`python -c \"from pyserini.search import {function}; {function}('{name}')\"` and copy "
        "~/.cache/pyserini/topics-and-qrels here (or pass a file)")


def pyserini_topics(name: str) -> dict[str, Query]:
    check_pyserini_name("topics", name)
    search = import_pyserini("pyserini.search")
    try:
        fetched = search.get_topics(name)
    except Exception as error:  # offline: Pyserini raises from urllib or from inside the JVM
        raise _offline("topics", name, error) from None
    return {str(q): Query(str(q), " ".join(str(t.get("title") or t.get("query") or "").split()))
            for q, t in fetched.items()}


def pyserini_qrels(name: str) -> Qrels:
    check_pyserini_name("qrels", name)
    search = import_pyserini("pyserini.search")
    try:
        path = search.get_qrels_file(name)
    except Exception as error:
        raise _offline("qrels", name, error) from None
    return read_qrels(path)


class PrebuiltDataset(Dataset):
    """A Pyserini prebuilt index; topics and qrels come from ``--topics``/``--qrels``."""

    def index_path(self) -> str:
        from reasonrank_ir.retrieval.lucene import prebuilt_index_path

        return prebuilt_index_path(self.name)
