"""Where reasonrank-ir writes: caches under one home, results under the current folder, never the package.

Indexes and caches (built Lucene/FAISS indexes, query expansions) live under ``$REASONRANK_HOME``
(default ``~/.cache/reasonrank``), as Pyserini keeps ``~/.cache/pyserini`` and ir_datasets
``~/.ir_datasets``. Results a user asked for (runs, traces, experiment folders) go under ``runs/``
of the current directory, where the user will look for them.
"""
from __future__ import annotations

import os
from pathlib import Path


def reasonrank_home() -> Path:
    """``$REASONRANK_HOME``, else ``~/.cache/reasonrank``."""
    return Path(os.environ.get("REASONRANK_HOME") or "~/.cache/reasonrank").expanduser()


def indexes_home() -> Path:
    """Local Lucene and FAISS indexes, one folder per corpus."""
    return reasonrank_home() / "indexes"


def expansions_home() -> Path:
    """Cached LLM query expansions (one JSONL per model), reused across runs and folders."""
    return reasonrank_home() / "expansions"


def runs_home() -> Path:
    """Default folder of run files and experiment outputs: ``runs/`` of the current directory."""
    return Path("runs")
