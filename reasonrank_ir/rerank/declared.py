"""Every reranker setting, declared once: the search flags, YAML keys, spec fields and job keys come from here.

Light enough for ``--help`` (no pydantic): ``search`` makes its reranking flags from
:class:`RerankerSettings`, ``RerankerSpec`` (and so an experiment's ``systems:``) inherits its fields,
``JobSpec.settings`` records the ``recorded`` ones under their flags, and ``RerankConfig`` checks its
windows with the same bounds. docs/architecture.md shows how to add a setting.
"""
from __future__ import annotations

from typing import Annotated, Any

from reasonrank_ir.backends import BACKENDS
from reasonrank_ir.backends.base import Sampling
from reasonrank_ir.declare import Declared, Setting, declared
from reasonrank_ir.rerank.window import STEP, WINDOW

RERANKERS = ("reasonrank", "rankgpt", "qwen3", "oracle")
DEFAULT_MODELS = {"reasonrank": "liuwenhan/reasonrank-7B", "rankgpt": "Qwen/Qwen2.5-7B-Instruct",
                  "qwen3": "liuwenhan/reasonrank-8B"}
"""The model the search CLI takes when ``--model`` is not given (the oracle needs none)."""
SCHEDULES = ("rounds", "pipelined")
"""The window schedules of ``rerank.listwise``: the same run either way, at different speeds."""


class RerankerSettings:
    """Everything a user chooses about a reranker (``RerankerSpec`` adds the checks across settings)."""

    reranker: Annotated[str, Setting(
        "reasonrank (reasoning prompt), rankgpt (no reasoning), qwen3 (ReasonRank-8B), oracle (windows ordered "
        "by the qrels: the upper bound), none (default)", choices=RERANKERS, what="reranker", flag="--rerank")]
    model: Annotated[str | None, Setting(
        "model id or local path (default: " + ", ".join(f"{model} for {name}" for name, model in DEFAULT_MODELS.items())
        + "); for the llamacpp backend a .gguf file", engine=True)] = None
    """A local path, hub id, served model name or .gguf file; every reranker but the oracle needs one."""
    tokenizer: Annotated[str | None, Setting(
        "tokenizer for prompts and passage truncation (default: --model)", engine=True)] = None
    backend: Annotated[str, Setting(
        "LLM engine (default: %(default)s = vllm with a GPU, else hf)", choices=BACKENDS, what="backend",
        engine=True)] = "auto"
    options: Annotated[dict[str, Any], Setting(
        "engine options for create_backend (n_ctx, device, tensor_parallel_size ...)", flag="--backend-option",
        recorded=False, engine=True)] = {}
    """Recorded one by one (``--backend-option KEY``), the ones that cannot change a window left out."""
    depth: Annotated[int, Setting("candidates reranked per query (default: %(default)s)", minimum=1)] = 100
    window: Annotated[int, Setting("window size (default: %(default)s)", minimum=1)] = WINDOW
    step: Annotated[int, Setting("window step (default: %(default)s)", minimum=1)] = STEP
    passes: Annotated[int, Setting("sliding-window passes (default: %(default)s)", minimum=1)] = 1
    """Each pass runs the whole schedule again on the previous pass's order."""
    passage_tokens: Annotated[int | None, Setting(
        "passage truncation in tokens (default: 512 for BRIGHT, 100 otherwise)", minimum=1)] = None
    """None: the dataset's (recorded resolved)."""
    max_tokens: Annotated[int, Setting("generation budget per window (default: %(default)s)", minimum=1,
                                       note="engines read 0 as no limit", engine=True)] = Sampling.max_tokens
    batch_size: Annotated[int, Setting(
        "queries per reranking batch (default: %(default)s): what a batch engine (vllm, hf) sees at once",
        minimum=1, recorded=False)] = 128
    """Changes speed and memory, never the run."""
    schedule: Annotated[str | None, Setting(
        "pipelined: each query's next window starts as soon as its last one is parsed; rounds: all queries' "
        "k-th windows in one batch (default: pipelined where the engine takes concurrent requests: vllm, openai, "
        "llamacpp; rounds for hf). Same run either way", choices=SCHEDULES, what="schedule", recorded=False,
        engine=True)] = None


RERANKER_SETTINGS: dict[str, Declared] = declared(RerankerSettings)
"""The declarations by name (``RERANKER_SETTINGS["window"].flag`` is ``--window``)."""
