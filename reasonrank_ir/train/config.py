"""One typed settings model per training CLI: its flags, YAML keys and ``--set`` overrides.

A pydantic model (``extra="forbid"``) holds each CLI's names, types and defaults once: the flags are
generated from its fields (``list_size`` is ``--list-size``), ``--config FILE`` gives the same keys
in YAML (a packaged name: ``sft``, ``grpo``), and ``--set a.b=value`` reaches nested sections (values
read as YAML: ``1e-5``, ``true``, ``[q_proj, v_proj]``). Flags win over the file, ``--set`` over both.
A key that does not exist, or a value of the wrong type, is one error naming it and close matches.

Pydantic rather than trl's ``TrlParser``: mining and labelling need no trl, and the flags users know
(``--base-url`` repeated, ``--set`` into trl's ``training`` section) are not HfArgumentParser's.
"""
from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ConfigDict, Field, field_validator

from reasonrank_ir.backends.base import Backend
from reasonrank_ir.errors import ArgumentParser, ReasonRankError, close_matches
from reasonrank_ir import settings as settings_module

S = TypeVar("S", bound="Settings")


class Settings(settings_module.Settings):
    """A training CLI's settings: YAML sections become the dataclasses they describe (``prompt``, ``reward``)."""

    model_config = ConfigDict(strict=False)


def flag(description: str, *, default: Any = None, name: str | None = None, **field: Any) -> Any:
    """A settings field that is also a command-line flag (``name``: a flag spelt other than its key)."""
    return Field(default, description=description, json_schema_extra={"flag": name} if name else None, **field)


def settings_parser(settings: type[Settings], prog: str, description: str, overrides: bool = False
                    ) -> argparse.ArgumentParser:
    """A parser with ``--config``, a flag per field of ``settings`` that has a description and, with
    ``overrides``, ``--set KEY=VALUE``. No flag has a default: those are the model's."""
    parser = ArgumentParser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    parser.add_argument("--config", help="YAML file whose keys are these settings"
                        + (" (packaged: sft, grpo)" if overrides else ""))
    if overrides:
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help="override a setting, e.g. --set training.learning_rate=1e-5 --set lora.r=16")
    for key, field in settings.model_fields.items():
        if field.description is None:
            continue
        option = (field.json_schema_extra or {}).get("flag") or "--" + key.replace("_", "-")
        kind = _unwrap(field.annotation)
        default = "" if field.default in (None, False) else f" (default: {field.default})"
        kwargs: dict[str, Any] = {"dest": key, "help": field.description + default}
        if kind is bool:
            kwargs["action"] = "store_true"
        elif typing.get_origin(kind) is list:
            kwargs["action"] = "append"
        elif typing.get_origin(kind) is Literal:
            kwargs["choices"] = typing.get_args(kind)
        elif kind in (int, float):
            kwargs["type"] = kind
        parser.add_argument(option, **kwargs)
    return parser


def parse_settings(settings: type[S], parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> S:
    """Parse ``argv``: the ``--config`` file's keys, then the flags given, then ``--set`` overrides."""
    given = vars(parser.parse_args(argv))
    config, assignments = given.pop("config", None), given.pop("set", [])
    values: dict[str, Any] = {}
    if config:
        values = {k.replace("-", "_"): v for k, v in read_config(config).items()}
        settings.parse(values, config)  # a bad key of the file names the file
    values.update(given)
    flags = {key for key, field in settings.model_fields.items() if field.description is not None}

    def place(loc: tuple) -> str:
        """A key with a flag as the flag (``--num-queries``), others as their ``--set`` path (``reward.p``)."""
        return "--" + str(loc[0]).replace("_", "-") if len(loc) == 1 and loc[0] in flags else ".".join(map(str, loc))

    return settings_module.validate(settings, apply_overrides(values, assignments), place=place)


def find_config(name_or_path: str | Path) -> Path:
    """A YAML file, or the name of a packaged config (``sft``, ``grpo``: the paper's settings)."""
    from importlib.resources import files

    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = Path(str(files("reasonrank_ir.train") / "configs"))
    known = sorted(p.stem for p in packaged.glob("*.yaml"))
    if len(path.parts) == 1 and path.stem in known:
        return packaged / f"{path.stem}.yaml"
    raise ReasonRankError(f"Config file not found: {path} (packaged configs: {', '.join(known)})."
                          + close_matches(path.stem, known))


def read_config(name_or_path: str | Path) -> dict[str, Any]:
    import yaml

    from reasonrank_ir.io import read_text

    path = find_config(name_or_path)
    try:
        data = yaml.safe_load(read_text(path)) or {}
    except yaml.YAMLError as error:
        raise ReasonRankError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ReasonRankError(f"{path} must hold a YAML mapping of settings.")
    return data


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


def check_keys(section: str, values: Mapping[str, Any], known: Sequence[str]) -> None:
    """Refuse a key of a free-form section (trl's ``training``, peft's ``lora``) its library lacks."""
    for key in values:
        if key not in known:
            raise ValueError(f"unknown setting {key!r}.{close_matches(key, known)}")


def check_types(section: str, values: Mapping[str, Any], owner: type) -> None:
    """Refuse a value of a free-form section whose type the library's dataclass ``owner`` does not
    take (``learning_rate=abc`` would otherwise surface deep in the trainer, or never)."""
    from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

    hints = typing.get_type_hints(owner)
    for key, value in values.items():
        if key not in hints:
            continue
        try:
            adapter = TypeAdapter(hints[key])
        except (PydanticSchemaGenerationError, TypeError, NameError):
            continue  # a type pydantic cannot describe: left to the library
        try:
            adapter.validate_python(value)
        except ValidationError as error:
            kind = hints[key]
            wanted = kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")
            raise ValueError(f"{key}={value!r} is not a valid {wanted} "
                             f"({error.errors()[0]['msg'].lower()})") from None


def _unwrap(annotation: Any) -> Any:
    """The type an optional annotation wraps (``int | None`` is ``int``); others as they are."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


# -- the teacher that mining and labelling share ----------------------------------------------------

class TeacherSettings(Settings):
    """An OpenAI-compatible teacher server (DeepSeek-R1 on its API, vLLM, SGLang, llama.cpp)."""

    model: str | None = flag("teacher model name, e.g. deepseek-reasoner")
    base_urls: list[str] | None = flag("server URL; repeat to spread requests over several servers",
                                       name="--base-url")
    api_key: str | None = flag("default: $OPENAI_API_KEY")
    concurrency: int = flag("requests in flight", default=8, ge=1)
    max_retries: int = flag("retries of a failed request, with backoff", default=5, ge=0)
    timeout: float = flag("seconds one request may take", default=600.0)
    max_tokens: int = flag("teacher output budget per request", default=16384, ge=1)
    temperature: float = flag("teacher sampling temperature", default=0.6)

    @field_validator("base_urls", mode="before")
    @classmethod
    def _one_url(cls, value: Any) -> Any:
        """A YAML file may give one URL as a plain string."""
        return [value] if isinstance(value, str) else value


def teacher_backend(settings: TeacherSettings) -> Backend:
    from reasonrank_ir.backends.openai import OpenAIBackend

    if not settings.model or not settings.base_urls:
        raise ReasonRankError("The teacher needs --model and --base-url (e.g. --base-url https://api.deepseek.com).")
    return OpenAIBackend(settings.model, settings.base_urls, api_key=settings.api_key,
                         concurrency=settings.concurrency, max_retries=settings.max_retries, timeout=settings.timeout)
