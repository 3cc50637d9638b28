"""Settings as pydantic models, and a rejected setting as one ReasonRankError line.

Every model refuses unknown keys and coercion (``"10"`` is not a window size), and is frozen. A
``ValidationError`` lists pydantic's internals; users get one line instead: where (a file, a flag),
the path of the bad key (``systems[1].window``), what was expected, and close matches for typos.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar, get_args, get_type_hints

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from reasonrank_ir.errors import ReasonRankError, unknown

Model = TypeVar("Model", bound=BaseModel)


class Settings(BaseModel):
    """Frozen, strict, and a typo'd key is an error, never a silently ignored setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @classmethod
    def parse(cls: type[Model], values: Any, where: str = "") -> Model:
        """``values`` (a mapping, or already these settings) validated; see :func:`validate`."""
        return values if isinstance(values, cls) else validate(cls, values, where=where)


def checked(check: Callable[[], object]) -> None:
    """Run a plain object's own checks inside a pydantic validator: the ReasonRankError they raise
    becomes the ValueError pydantic reports at its key (so the one-line error names where it is)."""
    try:
        check()
    except ReasonRankError as error:
        raise ValueError(str(error)) from None


def _positive(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a positive integer, found {value!r}")
    return value


PositiveInt = Annotated[int, BeforeValidator(_positive)]

_EXPECTED = {  # pydantic's error types, as what the value must be
    "int_type": "an integer", "int_parsing": "an integer", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "string_type": "text", "dict_type": "a mapping of settings",
    "model_type": "a mapping of settings", "model_attributes_type": "a mapping of settings",
    "list_type": "a list", "tuple_type": "a list", "none_required": "empty",
}


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``("systems", 1, "window")`` as ``systems[1].window``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def validate(model: type[Model], data: Any, *, where: str = "", place: Callable[[tuple[int | str, ...]], str] = _dotted,
             context: Mapping[str, Any] | None = None) -> Model:
    """``model`` validated from ``data``, or a ReasonRankError naming ``where`` and the first bad key.

    ``place`` writes a key's location as the user knows it (a YAML path by default, a CLI flag).
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise ReasonRankError(_one_line(error.errors()[0], model, where, place)) from None


def _one_line(problem: Mapping[str, Any], model: type[BaseModel], where: str,
              place: Callable[[tuple[int | str, ...]], str]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as a sentence."""
    loc, kind = tuple(problem["loc"]), problem["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # a model's, a dataclass's
        key, loc = str(loc[-1]), loc[:-1]
        known = _fields_at(model, loc)
        message = unknown("setting", key, known)
    elif kind == "value_error":
        message = str(problem["ctx"]["error"])
    elif kind == "greater_than_equal":
        message = f"must be at least {problem['ctx']['ge']}, found {problem['input']!r}"
    elif kind == "missing":
        message = "must be given"
    elif kind in _EXPECTED:
        message = f"must be {_EXPECTED[kind]}, found {problem['input']!r}"
    else:
        message = f"{problem['msg'][0].lower()}{problem['msg'][1:]}, found {problem['input']!r}"
    path = place(loc) if loc else ""
    if path:  # "window must be ..." reads on; other messages follow the key after a colon
        message = f"{path} {message}" if message.startswith("must ") else f"{path}: {message}"
    return f"{where}: {message}" if where else message


def _fields_at(model: type, loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model (or dataclass) nested at ``loc`` takes (for an unknown key's close matches)."""
    for part in loc:
        if isinstance(part, int):
            continue
        inner = _model_in(_fields(model).get(part))
        if inner is None:
            break
        model = inner
    return list(_fields(model))


def _fields(model: type) -> dict[str, Any]:
    """Field name -> annotation of a pydantic model or a dataclass."""
    if dataclasses.is_dataclass(model):
        hints = get_type_hints(model)
        return {field.name: hints.get(field.name) for field in dataclasses.fields(model)}
    return {name: field.annotation for name, field in getattr(model, "model_fields", {}).items()}


def _model_in(annotation: Any) -> type | None:
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
