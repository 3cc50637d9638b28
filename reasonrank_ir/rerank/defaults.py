"""The rerankers by name and every default of their settings, light enough for ``--help`` (no pydantic).

``RerankerSpec`` and the search flags both take their defaults from here; the window schedule's
are ``RerankConfig``'s and the generation budget ``Sampling``'s, each written once.
"""
from __future__ import annotations

from reasonrank_ir.backends.base import Sampling
from reasonrank_ir.rerank.listwise import BATCH_SIZE, RerankConfig

RERANKERS = ("reasonrank", "rankgpt", "qwen3", "oracle")
DEFAULT_MODELS = {"reasonrank": "liuwenhan/reasonrank-7B", "rankgpt": "Qwen/Qwen2.5-7B-Instruct",
                  "qwen3": "liuwenhan/reasonrank-8B"}
"""The model the search CLI takes when ``--model`` is not given (the oracle needs none)."""
DEFAULTS = {"backend": "auto", "depth": RerankConfig.depth, "window": RerankConfig.window,
            "step": RerankConfig.step, "passes": RerankConfig.passes, "max_tokens": Sampling.max_tokens,
            "batch_size": BATCH_SIZE}
"""``RerankerSpec``'s defaults (``--backend``, ``--depth`` ... ``--batch-size``)."""
