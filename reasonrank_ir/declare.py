"""Each user setting declared once: type, default, bounds, help, flag and YAML key in one annotation.

A plain class lists the settings, ``name: Annotated[type, Setting(help, ...)] = default``; the name
is the YAML key and, dashed, the flag (``passage_tokens`` is ``--passage-tokens``). From it come a
CLI's flags and help (:func:`add_flags`, :func:`command_parser`; stdlib only, so ``--help`` stays
light), the fields of a pydantic model that inherits the class (the ``Setting`` checks its own bounds
and choices there), the key a job records it under (the flag) and a dataclass's checks
(:meth:`Declared.check`).

It is the one CLI mechanism of the package: the training CLIs' pydantic settings models get their
flags, ``--config FILE`` and ``--set a.b=value`` from :func:`settings_parser` and
:func:`parse_settings`, which read a field's ``description`` as its help through the same flag
builder. Our own rather than jsonargparse, cyclopts or pydantic-settings' CLI source: each of those
imports pydantic or its own machinery at ``--help`` time, spells errors its own way rather than our
one ``error:`` line, and none keeps the flags users know (``--base-url`` repeated, ``--rerank none``).
"""
from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from reasonrank_ir.errors import ArgumentParser, ReasonRankError, unknown

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
    """The noun of an unknown choice's error (``reranker``: ``unknown reranker 'x'; choose one of ...``)."""
    flag: str | None = None
    """Default: ``--`` and the name with dashes."""
    metavar: str | None = None
    positional: bool = False
    """An argument without a flag (``RUN``), named by ``metavar`` in the usage line."""
    nargs: str | None = None
    """``+`` for a flag that takes several values (``--metrics nDCG@10 R@100``); a list type without
    it is a repeated flag (``--base-url A --base-url B``)."""
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

    def check_flag(self, value: Any) -> None:
        """:meth:`check` as a user's error naming the flag: ``--list-size must be at least 2, found 1``."""
        problem = self.setting.problem(value, self.kind)
        if problem is not None:
            raise ReasonRankError(f"{self.flag}{':' if problem.startswith('unknown') else ''} {problem}")


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


Group = argparse.ArgumentParser | argparse._ArgumentGroup


def command_parser(settings: type, prog: str, description: str) -> argparse.ArgumentParser:
    """A command's parser (the package's one-line errors), a flag or argument per declared setting."""
    parser = ArgumentParser(prog=prog, description=description)
    add_flags(parser, settings)
    return parser


def add_flags(parser: Group, settings: type, names: Collection[str] | None = None,
              **overrides: Mapping[str, Any]) -> None:
    """A flag for each of ``names`` (default: every declared setting but mappings) of ``settings``,
    default and help from the declaration; ``overrides[name]`` replaces argparse keywords of one flag."""
    for item in _chosen(settings, names):
        add_flag(parser, item, **overrides.get(item.name, {}))


def add_flag(parser: Group, item: Declared, **overrides: Any) -> argparse.Action:
    """The flag (or positional argument) of one declared setting: the one flag builder of every CLI."""
    kwargs: dict[str, Any] = {"help": item.setting.help}
    if not item.setting.positional:
        kwargs["dest"] = item.name
        if item.default is REQUIRED and "default" not in overrides:
            kwargs["required"] = True
    if item.default is not REQUIRED:
        kwargs["default"] = item.default
    if item.setting.metavar:
        kwargs["metavar"] = item.setting.metavar
    choices = item.setting.choices or (typing.get_args(item.kind) if typing.get_origin(item.kind) is Literal else ())
    if choices:
        kwargs["choices"] = choices
    if item.kind is bool:
        kwargs["action"] = "store_true"
    elif item.setting.nargs:
        kwargs["nargs"] = item.setting.nargs
    elif typing.get_origin(item.kind) is list:
        kwargs["action"] = "append"
    elif item.kind in (int, float):
        kwargs["type"] = item.kind
    kwargs.update(overrides)
    return parser.add_argument(*([item.name] if item.setting.positional else [item.flag]), **kwargs)


def _chosen(settings: type, names: Collection[str] | None) -> Iterator[Declared]:
    table = declared(settings)
    if names is None:
        yield from (item for item in table.values() if typing.get_origin(item.kind) is not dict
                    and item.kind is not dict)
        return
    for name in names:
        yield table[name]


# -- pydantic settings models as CLIs: --config FILE, flags, --set a.b=value -------------------------

def model_flags(model: Any) -> dict[str, Declared]:
    """The fields of a pydantic settings model that are flags: those declared with a :class:`Setting`
    (inherited from a plain settings class) or with a ``description``; the help gets the model's
    default. A ``description``'s flag is ``--`` and the dashed name unless ``json_schema_extra={"flag": ...}``."""
    flags = {}
    for key, field in model.model_fields.items():
        setting = next((mark for mark in field.metadata if isinstance(mark, Setting)), None)
        if setting is None and field.description is None:
            continue
        default = "" if field.default in (None, False) else f" (default: {field.default})"
        if setting is None:
            setting = Setting(field.description or "", flag=(field.json_schema_extra or {}).get("flag"))
        flags[key] = Declared(key, _unwrap(field.annotation), REQUIRED, replace(setting, help=setting.help + default))
    return flags


def settings_parser(model: Any, prog: str, description: str, overrides: bool = False,
                    config_help: str = "YAML file whose keys are these settings") -> argparse.ArgumentParser:
    """A parser with ``--config``, a flag per field of ``model`` that has a description and, with
    ``overrides``, ``--set KEY=VALUE``. No flag has a default: those are the model's."""
    parser = ArgumentParser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    parser.add_argument("--config", help=config_help)
    if overrides:
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help="override a setting, e.g. --set training.learning_rate=1e-5 --set lora.r=16")
    for item in model_flags(model).values():
        add_flag(parser, item, required=False)
    return parser


def parse_settings(model: Any, parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                   read: Callable[[str], dict[str, Any]]) -> Any:
    """Parse ``argv``: the ``--config`` file's keys (``read`` gives them), then the flags given, then
    ``--set`` overrides; one error naming the flag, or the ``--set`` path, of a bad value."""
    from reasonrank_ir.settings import validate

    given = vars(parser.parse_args(argv))
    config, assignments = given.pop("config", None), given.pop("set", [])
    values: dict[str, Any] = {}
    if config:
        values = {k.replace("-", "_"): v for k, v in read(config).items()}
        model.parse(values, config)  # a bad key of the file names the file
    values.update(given)
    flags = model_flags(model)

    def place(loc: tuple[Any, ...]) -> str:
        """A key with a flag as the flag (``--num-queries``), others as their ``--set`` path (``reward.p``)."""
        return flags[loc[0]].flag if len(loc) == 1 and loc[0] in flags else ".".join(map(str, loc))

    return validate(model, apply_overrides(values, assignments), place=place)


def apply_overrides(config: Mapping[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """``config`` with each ``a.b.c=value`` applied (a copy; nested sections are created as needed)."""
    import copy

    import yaml

    result = copy.deepcopy(dict(config))
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ReasonRankError(f"--set expects key=value (e.g. training.learning_rate=1e-5), got {assignment!r}.")
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ReasonRankError(f"--set {key}: {part!r} is a value, not a section.")
            node = child
        # YAML 1.1 reads no/yes/on/off as booleans; trl's "save_strategy=no" must stay a string.
        word = raw.strip().lower() in ("no", "yes", "on", "off", "y", "n")
        node[parts[-1]] = raw.strip() if word else _scalar(yaml.safe_load(raw)) if raw else None
    return result


def _scalar(value: Any) -> Any:
    """YAML 1.1 reads ``1e-5`` as a string; a learning rate written that way must still be a float."""
    if isinstance(value, str):
        try:
            return float(value) if any(c.isdigit() for c in value) else value
        except ValueError:
            return value
    return value


def _unwrap(annotation: Any) -> Any:
    """The type an optional annotation wraps (``int | None`` is ``int``), metadata dropped."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = annotation.__origin__
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
