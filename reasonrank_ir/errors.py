"""The one exception type for mistakes a user can fix (bad names, files, settings).

CLIs print its message on one line and exit with status 2; library callers catch it.
"""
from __future__ import annotations

import argparse
import difflib
import functools
import re
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn, ParamSpec, TypeVar, overload

P = ParamSpec("P")
N = TypeVar("N")


class ReasonRankError(Exception):
    """A user-facing error: its message alone must say what to do."""


def close_matches(name: str, choices: Iterable[str], n: int = 5) -> str:
    """A ' Did you mean: a, b?' suffix for unknown-name errors ('' when nothing is close)."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""


def unknown(what: str, name: object, known: Iterable[str], *, hint: str = "", listed: bool = True,
            near: str | None = None) -> str:
    """Every "unknown X" error, worded one way: ``unknown reranker 'x'; choose one of a, b. Did you mean: a?``.

    ``hint`` says what the name may be instead (after a colon), ``listed=False`` leaves out a list
    too long to read (Pyserini's prebuilt indexes); close matches are of ``near`` (default: the name).
    """
    known = list(known)
    choices = f"; choose one of {', '.join(known)}" if listed and known else ""
    reason = f": {hint}" if hint else ""
    return f"unknown {what} {name!r}{reason}{choices}." + close_matches(str(name if near is None else near), known)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the package's error format: a usage mistake is one ``error:`` line, not a usage dump.

    ``error: --hits: invalid int value 'abc' (see --help)`` instead of argparse's usage lines; the
    message goes through :func:`cli_main` as a :class:`ReasonRankError`, so it exits 2 like any other.
    Subcommand parsers (``add_subparsers``) are of this class too.
    """

    @overload  # argparse's three signatures (typeshed's): the namespace given, or a new Namespace
    def parse_known_args(self, args: Iterable[str] | None = None,
                         namespace: None = None) -> tuple[argparse.Namespace, list[str]]: ...
    @overload
    def parse_known_args(self, args: Iterable[str] | None, namespace: N) -> tuple[N, list[str]]: ...
    @overload
    def parse_known_args(self, *, namespace: N) -> tuple[N, list[str]]: ...

    def parse_known_args(self, args: Iterable[str] | None = None,
                         namespace: object = None) -> tuple[object, list[str]]:
        """argparse's parsing, then an empty text value (``--index ''``) refused by its flag's name:
        it would otherwise mean "unset" (the dataset's topics) or the current folder. A flag's own
        ``const`` (a bare ``--ray``) is not a value given."""
        namespace, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(namespace, action.dest, None)
            values = value if isinstance(value, list) else [value]
            given = value not in (action.default, action.const)
            if given and any(isinstance(v, str) and not v.strip() for v in values):
                name = action.option_strings[0] if action.option_strings else action.metavar or action.dest
                self.error(f"{name}: empty value {value!r}; give a name, file or value")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        message = re.sub(r"(invalid \S+ value|invalid choice): ", r"\1 ", message)
        raise ReasonRankError(f"{message} (see {self.prog} --help)")


def cli_main(main: Callable[P, int]) -> Callable[P, int]:
    """Wrap a CLI's ``main``: a user error prints one ``error:`` line and exits 2, Ctrl-C exits 130.

    Every ``python -m reasonrank_ir...`` command behaves the same way, never with a traceback for a
    mistake the user can fix. Long jobs save as they go, so an interruption loses no finished work.
    """

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
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
