"""The sliding-window schedule of RankGPT/ReasonRank: back to front, overlapping windows."""
from __future__ import annotations

from reasonrank_ir.errors import ReasonRankError

WINDOW, STEP = 20, 10
"""ReasonRank's sliding window: 20 passages, moved 10 at a time."""


def windows(n: int, window: int = WINDOW, step: int = STEP) -> list[tuple[int, int]]:
    """``[start, end)`` spans over the top ``n`` in the order they are reranked.

    Upstream's loop, clamped start carried over: n=100, window=20, step=10 gives [80,100), [70,90),
    ..., [0,20) (9 windows). Fewer than ``window`` candidates make one window of all of them
    (upstream's loop would skip e.g. n=10 with window=20, step=10 entirely).
    """
    if window < 1 or step < 1:
        raise ReasonRankError(f"window and step must be at least 1, found window={window}, step={step}")
    if n <= 0:
        return []
    if n < window:
        return [(0, n)]
    spans = []
    end, start = n, n - window
    while end > 0 and start + step != 0:
        start = max(start, 0)
        spans.append((start, end))
        end, start = end - step, start - step
    return spans
