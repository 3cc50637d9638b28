"""The one exception type for mistakes a user can fix (bad names, files, settings).

CLIs print its message on one line and exit with status 2; library callers catch it.
"""
from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Iterable


class ReasonRankError(Exception):
    """A user-facing error: its message alone must say what to do."""


def close_matches(name: str, choices: Iterable[str], n: int = 5) -> str:
    """A ' Did you mean: a, b?' suffix for unknown-name errors ('' when nothing is close)."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""


def cli_main(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a CLI's ``main``: a user error prints one ``error:`` line and exits 2, Ctrl-C exits 130.

    Every ``python -m reasonrank_ir...`` command behaves the same way, never with a traceback for a
    mistake the user can fix. Long jobs save as they go, so an interruption loses no finished work.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except ReasonRankError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: finished work is saved; rerun with --resume where the command has it",
                  file=sys.stderr)
            return 130

    return wrapper
