"""Where a model named by a hub id lives on this machine, without hanging when the hub is unreachable.

transformers and vLLM retry a missing network for about a minute before failing with a long
traceback; here a model that is neither a local folder nor in the Hugging Face cache fails at once,
with one line saying how to get it, when the hub cannot be reached.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io.names import looks_like_path


def hf_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set, read with huggingface_hub's own truthy values."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def hub_reachable(timeout: float = 3.0) -> bool:
    if hf_offline():
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def locate(name: str | os.PathLike[str], what: str = "model") -> str:
    """A local folder for ``name`` (itself, or its Hugging Face cache snapshot), or ``name`` when the
    hub is reachable to download it; otherwise a one-line error naming the download command."""
    name = str(name)
    if Path(name).exists():
        return name
    hint = " (pass --tokenizer with a local tokenizer or model folder)" if what == "tokenizer" else ""
    if looks_like_path(name) or name.count("/") > 1:  # a path, not an owner/name hub id
        raise ReasonRankError(f"{what} folder {name} does not exist{hint}")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:  # not cached (or not a valid repo id): decide below whether the hub can help
        pass
    if hub_reachable():
        return name
    raise ReasonRankError(
        f"{what} {name!r} is not on this machine and the Hugging Face hub cannot be reached: on a machine "
        f"with internet run `huggingface-cli download {name} --local-dir DIR`, copy DIR here and pass its path"
        + hint)
