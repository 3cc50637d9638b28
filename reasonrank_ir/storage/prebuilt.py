"""Pyserini's prebuilt tables: index names, their folders, and topics and qrels by name, as its CLI takes them.

Pyserini fetches these into its cache where the internet is reachable; offline, the error says what
to fetch and where it goes. Index names are checked against ``pyserini.prebuilt_index_info``; topics
and qrels names only by asking for them (no public function lists them), so the registry asks here last.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from reasonrank_ir import pyserini_compat
from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.io.trec import read_qrels
from reasonrank_ir.java import import_pyserini
from reasonrank_ir.types import Qrels, Query


def download_prebuilt(name: str, info: Mapping[str, Any], what: str = "index", holds: str = "the index",
                      flag: str = "--index") -> str:
    """The local folder of prebuilt ``name`` (``info`` its row of Pyserini's table), or one line saying
    which archive to fetch and where to unpack it when Pyserini cannot download it."""
    util = import_pyserini("pyserini.util")
    try:
        return str(util.download_prebuilt_index(name, verbose=False))
    except Exception:  # Pyserini raises bare ValueError/URLError/HTTPError when offline
        stem = info.get("filename", info["urls"][0].rsplit("/", 1)[-1]).removesuffix(".tar.gz")
        target = pyserini_compat.cache_home() / "indexes" / f"{stem}.{info['md5']}"
        raise ReasonRankError(
            f"cannot download the prebuilt {what} {name!r}: fetch {info['urls'][0]} on a machine with "
            f"internet and unpack it so that {target} holds {holds} (or pass {flag} with a local path)"
        ) from None


def prebuilt_indexes() -> dict[str, dict[str, Any]]:
    """Pyserini's table of prebuilt Lucene (BM25) indexes: name -> urls, md5, filename."""
    table: dict[str, dict[str, Any]] = import_pyserini("pyserini.prebuilt_index_info").TF_INDEX_INFO
    return table


@cache
def _declared_index_names() -> frozenset[str] | None:
    """The prebuilt index names as written in Pyserini's source, read without running it.

    Running it starts the JVM (seconds), far too slow to refuse a typo. None when the file is not
    laid out as expected (``TF_INDEX_INFO = {**PART, ...}`` of literal-keyed dicts): then ask Pyserini.
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec("pyserini")
    folders = spec.submodule_search_locations if spec else None
    source = Path(folders[0], "prebuilt_index_info.py") if folders else None
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
        keys = [k.value for k in part.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)] if part else []
        if part is None or len(keys) != len(part.keys):
            return None
        names.update(keys)
    return frozenset(names)


def prebuilt_index_names() -> Collection[str]:
    """The prebuilt index names, read from Pyserini's source where possible (no JVM, no network)."""
    declared = _declared_index_names()
    return declared if declared is not None else prebuilt_indexes()


def is_prebuilt_index(name: str) -> bool:
    return name in prebuilt_index_names()


def check_prebuilt_index(name: str) -> None:
    if not is_prebuilt_index(name):
        raise ReasonRankError(unknown("Pyserini prebuilt index", name, prebuilt_index_names(), listed=False))


def prebuilt_index_path(name: str) -> str:
    """The local folder of a Pyserini prebuilt index, downloading it where the network allows."""
    check_prebuilt_index(name)
    return download_prebuilt(name, prebuilt_indexes()[name])


_FUNCTIONS = {"topics": "get_topics", "qrels": "get_qrels_file"}


def _fetch(kind: str, name: str) -> Any:
    """Pyserini's ``get_topics``/``get_qrels_file`` for ``name`` (untyped: its callers type the value), its errors
    turned into one line each."""
    search = import_pyserini("pyserini.search")
    try:
        with pyserini_compat.network_timeout():
            return getattr(search, _FUNCTIONS[kind])(name)
    except Exception as error:
        if str(error) in (f"Topic {name} Not Found", f"no qrels file for {name}"):  # Pyserini's own wording
            raise ReasonRankError(unknown(f"Pyserini {kind}", name, (), hint=f"Pyserini has no {kind} of that name "
                                          "(pass a file, a dataset name or one of Pyserini's names)")) from None
        # offline: Pyserini raises from urllib (2.4) or from inside the JVM
        raise pyserini_compat.unreachable(error) or _offline(kind, name, error) from None


def _offline(kind: str, name: str, error: Exception) -> ReasonRankError:
    function = _FUNCTIONS[kind]
    return ReasonRankError(
        f"Pyserini could not provide the {kind} {name!r} ({type(error).__name__}); on a machine with internet run "
        f"`python -c \"from pyserini.search import {function}; {function}('{name}')\"` and copy "
        f"{pyserini_compat.cache_dirs(kind)[0]} here (or pass a file)")


def pyserini_topics(name: str) -> dict[str, Query]:
    topics: Mapping[object, Mapping[str, object]] = _fetch("topics", name)  # int or str ids, as Pyserini has them
    return {str(q): Query(str(q), " ".join(str(t.get("title") or t.get("query") or "").split()))
            for q, t in topics.items()}


def pyserini_qrels(name: str) -> Qrels:
    path: str = _fetch("qrels", name)
    return read_qrels(path)
