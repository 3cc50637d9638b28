"""LLM engines behind :class:`Backend`; each engine module imports its heavy library lazily.

``create_backend("hf", "path/or/hub-id", batch_size=4)`` builds one by name; ``"auto"`` takes
vLLM where vLLM is installed and has a device to generate on (a GPU, or vLLM's CPU build), else
transformers, and the returned backend's ``name`` says which. All engines return ``sampling.n`` generations per prompt, prompt by prompt.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from reasonrank_ir.backends.base import Backend, Generation, Message, Prompt, Sampling
from reasonrank_ir.errors import ReasonRankError, close_matches

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
        raise ReasonRankError(f"Unknown backend {name!r}; expected one of {', '.join(BACKENDS)}."
                              + close_matches(name, BACKENDS))
    if name != "auto":
        return name
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    from vllm.platforms import current_platform

    from reasonrank_ir.backends.vllm import device_problem

    return "hf" if device_problem(current_platform) else "vllm"


def create_backend(name: str, model: str, **options: Any) -> Backend:
    """Build the backend ``name`` for ``model`` (a path, hub id, served model name or .gguf file).

    Options set to None are dropped so the engine's defaults apply (CLIs pass unset flags as None).
    An option the engine does not take is an error, except under ``auto``, where options meant
    for the engine that was not chosen (e.g. ``tensor_parallel_size`` on a CPU machine) are
    ignored.
    """
    chosen = resolve_backend_name(name)
    module_name, class_name = _ENGINES[chosen]
    engine = getattr(importlib.import_module(module_name), class_name)
    parameters = inspect.signature(engine).parameters
    accepted = [parameter for parameter, p in parameters.items()
                if parameter not in ("self", "model", "model_path") and p.kind is not p.VAR_KEYWORD]
    options = {key: value for key, value in options.items() if value is not None}
    option_names = getattr(importlib.import_module(module_name), "engine_option_names", None)
    if option_names is not None:  # vllm: every engine argument of the installed vLLM
        accepted = option_names()
    unknown = sorted(set(options) - set(accepted))
    if unknown and name != "auto":
        takes = ("vLLM's engine arguments (vllm.EngineArgs) and progress" if option_names is not None
                 else ", ".join(accepted))
        raise ReasonRankError(
            f"The {chosen} backend has no option {unknown[0]!r}; it takes {takes}."
            + close_matches(unknown[0], accepted))
    missing = [name for name, p in parameters.items()
               if name not in ("self", "model", "model_path") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
               and p.default is inspect.Parameter.empty and name not in options]
    if missing:
        flags = {"base_urls": "--base-url URL"}
        raise ReasonRankError(f"The {chosen} backend needs {missing[0]}"
                              + (f" ({flags[missing[0]]})" if missing[0] in flags else "") + ".")
    return engine(model, **{key: value for key, value in options.items() if key in accepted})


__all__ = ["BACKENDS", "Backend", "Generation", "Message", "Prompt", "Sampling",
           "create_backend", "resolve_backend_name"]
