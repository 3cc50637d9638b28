"""The one place that knows how Pyserini versions differ; everything else uses its public API directly.

Pyserini 1.6 to 2.3 ship their name tables (prebuilt indexes, topics, qrels) inside the package and
cache topics and qrels together in ``topics-and-qrels/``. From 2.4 the tables are fetched from
GitHub, uncached, in every process (the prebuilt-index table already when ``pyserini.search`` is
imported), and topics and qrels are cached apart in ``topics/`` and ``qrels/``. The version is read
from the installed metadata, so nothing here imports Pyserini.
"""
from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

from reasonrank_ir.errors import ReasonRankError

REMOTE_TABLES = (2, 4)
"""The first Pyserini release that fetches its name tables from the network."""
NETWORK_TIMEOUT = 30.0
"""Seconds any one of Pyserini's table or file fetches may wait (2.4 sets none for topics/qrels)."""


@cache
def version() -> tuple[int, int]:
    """(major, minor) of the installed Pyserini."""
    try:
        installed = metadata.version("pyserini")
    except metadata.PackageNotFoundError:
        raise ReasonRankError("Pyserini is not installed: run `pip install 'pyserini>=1.6'`") from None
    major, minor = (int("".join(c for c in part if c.isdigit()) or 0) for part in installed.split(".")[:2])
    return major, minor


def remote_tables() -> bool:
    return version() >= REMOTE_TABLES


def cache_home() -> Path:
    """Pyserini's cache root, resolved as the installed version's ``pyserini.util.get_cache_home`` does."""
    custom = os.environ.get("PYSERINI_CACHE")
    if custom:
        return Path(custom)
    if remote_tables() and Path(".cache").is_dir():  # 2.4 prefers ./.cache/pyserini when ./.cache exists
        return Path(".cache").resolve() / "pyserini"
    return Path.home() / ".cache" / "pyserini"


def cache_dirs(kind: str) -> tuple[Path, Path]:
    """Where Pyserini caches topic files (``kind="topics"``) or qrels files (``"qrels"``): the installed
    version's folder first, then the other versions' (files imported before an upgrade still count)."""
    together, apart = cache_home() / "topics-and-qrels", cache_home() / kind
    return (apart, together) if remote_tables() else (together, apart)


@contextlib.contextmanager
def network_timeout() -> Iterator[None]:
    """Bound Pyserini's fetches, so an unreachable network fails instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(NETWORK_TIMEOUT)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def unreachable(error: BaseException) -> ReasonRankError | None:
    """The one-line error for Pyserini 2.4+ failing to fetch its tables, or None for other errors."""
    if not remote_tables() or not isinstance(error, OSError):  # URLError and socket errors are OSErrors
        return None
    installed = ".".join(map(str, version()))
    return ReasonRankError(
        f"Pyserini {installed} fetches its index, topics and qrels tables from GitHub and cannot reach it "
        f"({type(error).__name__}: {error}); connect to the internet, or install `pyserini<2.4` "
        "(Python 3.12+) or `pyserini==1.6.0` (Python 3.11), which carry their tables with them")
