"""See what the reranker thought: one self-contained HTML page per run.

    python -m reasonrank_ir.inspect runs/run.bright-biology.bm25.reasonrank-7B-w20s10.txt --qrels bright-biology

The page shows the metric before and after reranking, per-query wins and losses, answer statuses and
token counts, and for each query both lists with graded labels and every window's input, reasoning
and answer. It opens from disk with nothing fetched.
"""
from __future__ import annotations

from reasonrank_ir.inspect.report import write_report

__all__ = ["write_report"]
