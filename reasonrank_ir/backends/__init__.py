"""LLM engines behind :class:`Backend`; each engine module imports its heavy library lazily.

``create_backend("hf", "path/or/hub-id", batch_size=4)`` builds one by name; ``"auto"`` takes
vLLM where vLLM is installed and has a device to generate on (a GPU, or vLLM's CPU build), else
transformers, and the returned backend's ``name`` says which. All engines return ``sampling.n``
generations per prompt, prompt by prompt.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import typing
from typing import Any

from reasonrank_ir.backends.base import Backend, Generation, Message, Prompt, Sampling
from reasonrank_ir.errors import ReasonRankError, unknown

BACKENDS = ("auto", "vllm", "hf", "openai", "llamacpp")

_ENGINES = {
    "vllm": ("reasonrank_ir.backends.vllm", "VLLMBackend"),
    "hf": ("reasonrank_ir.backends.hf", "HFBackend"),
    "openai": ("reasonrank_ir.backends.openai", "OpenAIBackend"),
    "llamacpp": ("reasonrank_ir.backends.llamacpp", "LlamaCppBackend"),
}


def resolve_backend_name(name: str) -> str:
    """The engine ``name`` stands for: itself, or for ``auto`` vllm (where vLLM can generate) else hf.

    vLLM is imported only where it is installed: its own platform (``current_platform``) says
    whether it found a device, which ``torch.cuda`` cannot (ROCm, vLLM's CPU build).
    """
    if name not in BACKENDS:
        raise ReasonRankError(unknown("backend", name, BACKENDS))
    if name != "auto":
        return name
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    from vllm.platforms import current_platform

    from reasonrank_ir.backends.vllm import device_problem

    return "hf" if device_problem(current_platform) else "vllm"


def _engine(name: str) -> type:
    """The backend class of engine ``name`` (its module imports no engine library until constructed)."""
    module_name, class_name = _ENGINES[name]
    engine: type = getattr(importlib.import_module(module_name), class_name)
    return engine


_NOT_OPTIONS = ("self", "model", "model_path")


def _parameters(engine: type, lenient: bool = False) -> dict[str, Any]:
    """Option name -> annotation of an engine's constructor. An engine that takes ``**options`` (vllm)
    lists them itself (``engine_option_names`` in its module: vLLM's engine arguments, typed by vLLM);
    ``lenient`` skips that list where it cannot be had (vLLM not installed, under ``auto``)."""
    init = next(vars(cls)["__init__"] for cls in engine.__mro__ if "__init__" in vars(cls))  # the constructor's
    hints = typing.get_type_hints(init)
    signature = inspect.signature(engine).parameters
    parameters = {key: hints.get(key, Any) for key, p in signature.items()
                  if key not in _NOT_OPTIONS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    if _takes_any_option(engine):
        try:
            names = sys.modules[engine.__module__].engine_option_names()
        except ReasonRankError:
            if not lenient:
                raise
            names = []
        parameters.update({key: Any for key in names if key not in parameters})
    return parameters


def _takes_any_option(engine: type) -> bool:
    """Whether the engine's constructor takes ``**options`` whose names its module lists (vllm)."""
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(engine).parameters.values())


def _unknown_option(name: str, key: str, engine: type, parameters: dict[str, Any]) -> ReasonRankError:
    if _takes_any_option(engine):
        return ReasonRankError(unknown(f"{name} backend option", key, parameters, listed=False,
                                       hint="it takes vLLM's engine arguments (vllm.EngineArgs) and progress"))
    return ReasonRankError(unknown(f"{name} backend option", key, parameters))


def check_backend_options(name: str, options: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """Check ``options`` for engine ``name`` before any work: each must be a parameter of the engine's
    constructor, of the type its annotation says; an engine class may check values further in a
    ``check_options(model, options)`` static method (URLs, ranges, the model file) that loads nothing heavy.

    Returns the options without the unset (None) ones. Under ``auto`` a name is checked against every
    engine ``auto`` may choose (vllm, hf), as :func:`create_backend` then ignores the others'.
    """
    from pydantic import TypeAdapter, ValidationError

    if name not in BACKENDS:
        resolve_backend_name(name)  # the unknown-backend error
    options = {key: value for key, value in options.items() if value is not None}
    engines = [_engine(n) for n in (("vllm", "hf") if name == "auto" else (name,))]
    parameters: dict[str, Any] = {}
    for engine in reversed(engines):  # hf's annotation wins under auto
        parameters.update({key: kind for key, kind in _parameters(engine, lenient=name == "auto").items()
                           if key not in parameters or kind is not Any})
    for key, value in options.items():
        if key not in parameters:
            if name == "auto":
                continue
            raise _unknown_option(name, key, engines[0], parameters)
        try:
            TypeAdapter(parameters[key]).validate_python(value)
        except ValidationError as error:
            kind = parameters[key]
            wanted = kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "").replace(
                "collections.abc.", "")
            raise ReasonRankError(f"backend option {key}={value!r}: expected {wanted} "
                                  f"({error.errors()[0]['msg'].lower()})") from None
    for engine in engines if name != "auto" else ():
        _check_values(engine, model, options)
    return options


def create_backend(name: str, model: str, **options: Any) -> Backend:
    """Build the backend ``name`` for ``model`` (a path, hub id, served model name or .gguf file), its
    options checked first: :func:`build_backend` after the checks.

    Options set to None are dropped so the engine's defaults apply (CLIs pass unset flags as None).
    An option the engine does not take is an error, except under ``auto``, where options meant
    for the engine that was not chosen (e.g. ``tensor_parallel_size`` on a CPU machine) are
    ignored.
    """
    chosen = resolve_backend_name(name)
    engine = _engine(chosen)
    accepted = _parameters(engine)
    options = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(options) - set(accepted))
    if unknown and name != "auto":
        raise _unknown_option(chosen, unknown[0], engine, accepted)
    parameters = inspect.signature(engine).parameters
    missing = [key for key, p in parameters.items()
               if key not in _NOT_OPTIONS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
               and p.default is inspect.Parameter.empty and key not in options]
    if missing:
        flags = {"base_urls": "--base-url URL"}
        raise ReasonRankError(f"The {chosen} backend needs {missing[0]}"
                              + (f" ({flags[missing[0]]})" if missing[0] in flags else "") + ".")
    options = {key: value for key, value in options.items() if key in accepted}
    _check_values(engine, model, options)
    return build_backend(chosen, model, **options)


def build_backend(name: str, model: str, **options: Any) -> Backend:
    """Build the backend ``name`` from options already checked (by :func:`check_backend_options`, as a
    ``RerankerSpec`` is, or by :func:`create_backend`): the engine's checks (a whole GGUF file, a vLLM
    engine argument) do not run again, except for the engine ``auto`` picks, which only now is known.
    Options the chosen engine does not take are dropped (under ``auto``, the other engine's)."""
    chosen = resolve_backend_name(name)
    engine = _engine(chosen)
    accepted = _parameters(engine)
    options = {key: value for key, value in options.items() if value is not None and key in accepted}
    if name == "auto":
        _check_values(engine, model, options)
    backend: Backend = engine(model, **options)
    return backend


def _check_values(engine: type, model: str | None, options: dict[str, Any]) -> None:
    """An engine's own checks of option values (``check_options``: URLs, ranges, the model file), if it has them."""
    check = getattr(engine, "check_options", None)
    if check is not None:
        check(model, options)


__all__ = ["BACKENDS", "Backend", "Generation", "Message", "Prompt", "Sampling",
           "build_backend", "check_backend_options", "create_backend", "resolve_backend_name"]
