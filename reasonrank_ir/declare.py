"""Each user setting declared once: type, default, bounds, help, flag and YAML key in one annotation.

A plain class lists the settings, ``name: Annotated[type, Setting(help, ...)] = default``; the name
is the YAML key and, dashed, the flag (``passage_tokens`` is ``--passage-tokens``). From it come a
CLI's flags and help (:func:`add_flags`, stdlib only, so ``--help`` stays light), the fields of a
pydantic model that inherits the class (the ``Setting`` checks its own bounds and choices there),
the key a job records it under (the flag) and a dataclass's checks (:meth:`Declared.check`).
"""
from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reasonrank_ir.errors import unknown

REQUIRED: Any = ...
"""The default of a setting that has none (it must be given)."""


@dataclass(frozen=True)
class Setting:
    """How a user sees one setting: its help, bounds, choices and flag (the annotation gives its type)."""

    help: str
    """The flag's help; ``%(default)s`` is the default, as in argparse."""
    minimum: int | float | None = None
    note: str = ""
    """Why the minimum, in the error (``engines read 0 as no limit``)."""
    choices: tuple[str, ...] = ()
    what: str = ""
    """The noun of an unknown choice's error (default: the name, ``reranker``)."""
    flag: str | None = None
    """Default: ``--`` and the name with dashes."""
    metavar: str | None = None
    recorded: bool = True
    """Recorded in a job's settings under its flag: a run made with another value is other work."""
    engine: bool = False
    """Meaningful only with an LLM (the oracle has no model, backend or budget)."""

    def problem(self, value: Any, kind: Any) -> str | None:
        """Why ``value`` is not a valid value of this setting (None when it is, or is unset)."""
        if value is None:
            return None
        if self.choices and value not in self.choices:
            return unknown(self.what or "value", value, self.choices)
        if self.minimum is None:
            return None
        integer = kind is int
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float) or value < self.minimum:
            if integer and self.minimum == 1 and not self.note:
                return f"must be a positive integer, found {value!r}"
            note = f" ({self.note})" if self.note else ""
            return f"must be at least {self.minimum}{note}, found {value!r}"
        return None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """Pydantic's hook for ``Annotated`` metadata: the bound and choice checks, before the type's."""
        from pydantic_core import core_schema

        kind = _unwrap(source)

        def check(value: Any) -> Any:
            problem = self.problem(value, kind)
            if problem is not None:
                raise ValueError(problem)
            return value

        return core_schema.no_info_before_validator_function(check, handler(source))


@dataclass(frozen=True)
class Declared:
    """One declared setting: its name (the YAML key), type, default and :class:`Setting`."""

    name: str
    kind: Any
    """The type, ``None`` removed (``int | None`` is ``int``)."""
    default: Any
    setting: Setting

    @property
    def flag(self) -> str:
        return self.setting.flag or "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> None:
        """Raise ValueError when ``value`` is out of bounds or not a choice (a dataclass's own check)."""
        problem = self.setting.problem(value, self.kind)
        if problem is not None:
            raise ValueError(problem)


def declared(settings: type) -> dict[str, Declared]:
    """The settings a class declares, in declaration order (its bases' first)."""
    hints = typing.get_type_hints(settings, include_extras=True)
    found = {}
    for name, hint in hints.items():
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        marks = [m for m in hint.__metadata__ if isinstance(m, Setting)]
        if marks:
            found[name] = Declared(name, _unwrap(hint.__origin__), getattr(settings, name, REQUIRED), marks[0])
    return found


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, settings: type,
              names: Collection[str] | None = None, **overrides: Mapping[str, Any]) -> None:
    """A flag for each of ``names`` (default: every declared setting with a flag type) of ``settings``,
    default and help from the declaration; ``overrides[name]`` replaces argparse keywords of one flag."""
    for item in _chosen(settings, names):
        kwargs: dict[str, Any] = {"dest": item.name, "help": item.setting.help}
        if item.default is not REQUIRED:
            kwargs["default"] = item.default
        if item.setting.metavar:
            kwargs["metavar"] = item.setting.metavar
        if item.setting.choices:
            kwargs["choices"] = item.setting.choices
        if item.kind is bool:
            kwargs["action"] = "store_true"
        elif item.kind in (int, float):
            kwargs["type"] = item.kind
        kwargs.update(overrides.get(item.name, {}))
        parser.add_argument(item.flag, **kwargs)


def _chosen(settings: type, names: Collection[str] | None) -> Iterator[Declared]:
    table = declared(settings)
    if names is None:
        yield from (item for item in table.values() if item.kind in (bool, int, float, str))
        return
    for name in names:
        yield table[name]


def _unwrap(annotation: Any) -> Any:
    """The type an optional annotation wraps (``int | None`` is ``int``), metadata dropped."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = annotation.__origin__
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
