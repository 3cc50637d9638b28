"""Pyserini's prebuilt indexes: unpacked in Pyserini's cache, downloaded where the network allows."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.java import import_pyserini


def download_prebuilt(name: str, info: Mapping[str, Any], what: str = "index", holds: str = "the index",
                      flag: str = "--index") -> str:
    """The local folder of prebuilt ``name`` (``info`` its row of Pyserini's table), or one line saying
    which archive to fetch and where to unpack it when Pyserini cannot download it."""
    util = import_pyserini("pyserini.util")
    try:
        return util.download_prebuilt_index(name, verbose=False)
    except Exception:  # Pyserini raises bare ValueError/URLError/HTTPError when offline
        from reasonrank_ir.pyserini_compat import cache_home

        stem = info.get("filename", info["urls"][0].rsplit("/", 1)[-1]).removesuffix(".tar.gz")
        target = cache_home() / "indexes" / f"{stem}.{info['md5']}"
        raise ReasonRankError(
            f"cannot download the prebuilt {what} {name!r}: fetch {info['urls'][0]} on a machine with "
            f"internet and unpack it so that {target} holds {holds} (or pass {flag} with a local path)"
        ) from None
