"""One typed settings model per training CLI: its flags, YAML keys and ``--set`` overrides.

A pydantic model (``extra="forbid"``) holds each CLI's names, types and defaults once: the flags are
generated from its fields (``list_size`` is ``--list-size``), ``--config FILE`` gives the same keys
in YAML (a packaged name: ``sft``, ``grpo``), and ``--set a.b=value`` reaches nested sections (values
read as YAML: ``1e-5``, ``true``, ``[q_proj, v_proj]``). Flags win over the file, ``--set`` over both.
A key that does not exist, or a value of the wrong type, is one error naming it and close matches.

Pydantic rather than trl's ``TrlParser``: mining and labelling need no trl, and the flags users know
(``--base-url`` repeated, ``--set`` into trl's ``training`` section) are not HfArgumentParser's. The
parser and the ``--config``/``--set`` reading are the package's one CLI mechanism (``declare``).
"""
from __future__ import annotations

import argparse
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ConfigDict, Field, field_validator

from reasonrank_ir import declare
from reasonrank_ir import settings as settings_module
from reasonrank_ir.backends.base import Backend
from reasonrank_ir.declare import apply_overrides as apply_overrides  # the --set reading, kept importable here
from reasonrank_ir.errors import ReasonRankError, close_matches

S = TypeVar("S", bound="Settings")


class Settings(settings_module.Settings):
    """A training CLI's settings: YAML sections become the dataclasses they describe (``prompt``, ``reward``)."""

    model_config = ConfigDict(strict=False)


def flag(description: str, *, default: Any = None, name: str | None = None, **field: Any) -> Any:
    """A settings field that is also a command-line flag (``name``: a flag spelt other than its key)."""
    return Field(default, description=description, json_schema_extra={"flag": name} if name else None, **field)


def settings_parser(settings: type[Settings], prog: str, description: str, overrides: bool = False
                    ) -> argparse.ArgumentParser:
    """``declare.settings_parser`` with the packaged configs named in ``--config``'s help."""
    return declare.settings_parser(settings, prog, description, overrides, config_help="YAML file whose keys are "
                                   "these settings" + (" (packaged: sft, grpo)" if overrides else ""))


def parse_settings(settings: type[S], parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> S:
    """Parse ``argv`` (``declare.parse_settings``): the ``--config`` file's keys (a packaged name or a
    file), then the flags given, then ``--set`` overrides."""
    parsed: S = declare.parse_settings(settings, parser, argv, read=read_config)
    return parsed


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


def check_keys(section: str, values: Mapping[str, Any], known: Sequence[str]) -> None:
    """Refuse a key of a free-form section (trl's ``training``, peft's ``lora``) its library lacks."""
    for key in values:
        if key not in known:
            raise ValueError(f"unknown setting {key!r}.{close_matches(key, known)}")


def check_types(section: str, values: Mapping[str, Any], hints: Mapping[str, Any]) -> None:
    """Refuse a value of a free-form section whose type the library's field does not take (``hints``:
    field name -> type; ``learning_rate=abc`` would otherwise surface deep in the trainer, or never)."""
    from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

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
            choices = literal_values(kind)
            if choices and isinstance(value, str):
                raise ValueError(f"{key}={value!r} is not one of {', '.join(choices)}."
                                 + close_matches(value, choices)) from None
            wanted = kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")
            raise ValueError(f"{key}={value!r} is not a valid {wanted} "
                             f"({error.errors()[0]['msg'].lower()})") from None


def literal_values(kind: Any) -> list[str]:
    """The values a ``Literal`` type (or an optional one) allows, as text; empty for any other type."""
    import types

    members = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else (kind,)
    members = tuple(member for member in members if member is not type(None))
    if not members or any(typing.get_origin(member) is not typing.Literal for member in members):
        return []
    return [str(value) for member in members for value in typing.get_args(member)]


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
