"""The sliding-window schedule of RankGPT/ReasonRank: back to front, overlapping windows."""
from __future__ import annotations

from reasonrank_ir.errors import ReasonRankError

WINDOW, STEP = 20, 10
"""ReasonRank's sliding window: 20 passages, moved 10 at a time."""


def windows(n: int, window: int = WINDOW, step: int = STEP, first: int = 0) -> list[tuple[int, int]]:
    """``[start, end)`` spans over ranks ``first .. n`` in the order they are reranked.

    Upstream's loop, clamped start carried over: n=100, window=20, step=10 gives [80,100), [70,90),
    ..., [0,20) (9 windows). Fewer than ``window`` candidates make one window of all of them
    (upstream's loop would skip e.g. n=10 with window=20, step=10 entirely). ``first`` is upstream's
    ``rank_start``: pass p of a multi-pass run starts at ``step * p`` (see :func:`pass_windows`).
    """
    if window < 1 or step < 1:
        raise ReasonRankError(f"window and step must be at least 1, found window={window}, step={step}")
    if first > 0:
        return [(start + first, end + first) for start, end in windows(n - first, window, step)]
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


def pass_windows(n: int, window: int = WINDOW, step: int = STEP, passes: int = 1) -> list[tuple[int, int, int]]:
    """``(pass, start, end)`` of every window of ``passes`` passes over the top ``n``, as upstream runs them.

    Upstream's run script gives pass p ``rank_start = step * p``: later passes leave the top ranks as
    the previous pass put them (w=20, s=10, n=100: 9 + 8 + 7 windows for 3 passes).
    """
    return [(p, start, end) for p in range(passes) for start, end in windows(n, window, step, first=step * p)]
