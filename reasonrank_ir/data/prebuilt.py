"""Pyserini's own names: any prebuilt Lucene index (``msmarco-v1-passage``, ``beir-v1.0.0-scifact.flat``)
and any topics/qrels name (``dl19-passage``, ``beir-v1.0.0-scifact-test``), as its CLI takes them.

Pyserini fetches these into its cache where the internet is reachable; offline, the error says what
to fetch and where it goes. Checking a name loads Pyserini (a JVM), so the registry asks here last.
"""
from __future__ import annotations

from functools import cache

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


def is_pyserini_name(kind: str, name: str) -> bool:
    """Whether ``name`` is a Pyserini prebuilt index / topics / qrels name (``kind``)."""
    return name in _tables()[kind]


def pyserini_names(kind: str) -> list[str]:
    return list(_tables()[kind])


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
