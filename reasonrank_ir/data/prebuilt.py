"""Pyserini's own names: any prebuilt Lucene index (``msmarco-v1-passage``, ``beir-v1.0.0-scifact.flat``)
and any topics/qrels name (``dl19-passage``, ``beir-v1.0.0-scifact-test``), as its CLI takes them.

Pyserini fetches these into its cache where the internet is reachable; offline, the error says what
to fetch and where it goes. Index names are checked against ``pyserini.prebuilt_index_info``; topics
and qrels names only by asking for them (no public function lists them), so the registry asks here last.
"""
from __future__ import annotations

from reasonrank_ir import pyserini_compat
from reasonrank_ir.data.base import Dataset
from reasonrank_ir.errors import ReasonRankError, close_matches
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.java import import_pyserini
from reasonrank_ir.types import Qrels, Query


def prebuilt_indexes():
    """Pyserini's table of prebuilt Lucene (BM25) indexes: name -> urls, md5, filename."""
    return import_pyserini("pyserini.prebuilt_index_info").TF_INDEX_INFO


def is_prebuilt_index(name: str) -> bool:
    return name in prebuilt_indexes()


def check_prebuilt_index(name: str) -> None:
    if not is_prebuilt_index(name):
        raise ReasonRankError(f"unknown Pyserini prebuilt index {name!r}.{close_matches(name, prebuilt_indexes())}")


_FUNCTIONS = {"topics": "get_topics", "qrels": "get_qrels_file"}


def _fetch(kind: str, name: str):
    """Pyserini's ``get_topics``/``get_qrels_file`` for ``name``, its errors turned into one line each."""
    search = import_pyserini("pyserini.search")
    try:
        with pyserini_compat.network_timeout():
            return getattr(search, _FUNCTIONS[kind])(name)
    except Exception as error:
        if str(error) in (f"Topic {name} Not Found", f"no qrels file for {name}"):  # Pyserini's own wording
            raise ReasonRankError(f"unknown Pyserini {kind} {name!r}: Pyserini has no {kind} of that name "
                                  "(pass a file, a dataset name or one of Pyserini's names)") from None
        # offline: Pyserini raises from urllib (2.4) or from inside the JVM
        raise pyserini_compat.unreachable(error) or _offline(kind, name, error) from None


def _offline(kind: str, name: str, error: Exception) -> ReasonRankError:
    function = _FUNCTIONS[kind]
    return ReasonRankError(
        f"Pyserini could not provide the {kind} {name!r} ({type(error).__name__}); on a machine with internet run "
        f"`python -c \"from pyserini.search import {function}; {function}('{name}')\"` and copy "
        f"{pyserini_compat.cache_dirs(kind)[0]} here (or pass a file)")


def pyserini_topics(name: str) -> dict[str, Query]:
    return {str(q): Query(str(q), " ".join(str(t.get("title") or t.get("query") or "").split()))
            for q, t in _fetch("topics", name).items()}


def pyserini_qrels(name: str) -> Qrels:
    return read_qrels(_fetch("qrels", name))


class PrebuiltDataset(Dataset):
    """A Pyserini prebuilt index; topics and qrels come from ``--topics``/``--qrels``."""

    def index_path(self) -> str:
        from reasonrank_ir.retrieval.lucene import prebuilt_index_path

        return prebuilt_index_path(self.name)
