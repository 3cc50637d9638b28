"""The one exception type for mistakes a user can fix (bad names, files, settings).

CLIs print its message on one line and exit with status 2; library callers catch it.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ReasonRankError(Exception):
    """A user-facing error: its message alone must say what to do."""


def close_matches(name: str, choices: Iterable[str], n: int = 5) -> str:
    """A ' Did you mean: a, b?' suffix for unknown-name errors ('' when nothing is close)."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""
