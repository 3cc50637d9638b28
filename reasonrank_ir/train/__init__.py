"""Training a listwise reasoning reranker: mine -> label -> filter -> SFT -> GRPO (docs/training.md).

Submodules: ``sample`` (the training list and its JSONL), ``mine``, ``label``, ``filter``,
``formats`` (released data in, SFT/GRPO rows out), ``reward``, ``sft``, ``grpo``; ``config`` and
``run`` hold what the CLIs and trainers share. Nothing heavy loads until a trainer runs.
"""
