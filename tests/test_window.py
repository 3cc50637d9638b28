"""The sliding-window schedule: upstream's loop, including its edge cases."""
from __future__ import annotations

import pytest

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.window import pass_windows, windows


def test_defaults_give_nine_windows_back_to_front():
    assert windows(100) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30), (0, 20)]
    assert windows(100, 20, 10) == windows(100)


def test_leaderboard_setting_gives_nineteen_windows():
    spans = windows(100, 10, 5)
    assert len(spans) == 19
    assert spans[0] == (90, 100) and spans[-1] == (0, 10)
    assert all(end - start == 10 for start, end in spans)


def test_fewer_candidates_than_the_window():
    assert windows(7) == [(0, 7)]
    assert windows(10, 20, 10) == [(0, 10)]  # upstream's loop would skip it entirely
    assert windows(20) == [(0, 20)]
    assert windows(0) == []


def test_clamped_start_is_carried_over_as_upstream():
    # [5,25), then start -5 clamps to 0: [0,15); next start 0-10=-10, and -10+10 == 0 stops the loop
    assert windows(25) == [(5, 25), (0, 15)]
    assert windows(50) == [(30, 50), (20, 40), (10, 30), (0, 20)]
    assert windows(21, 20, 10) == [(1, 21), (0, 11)]


@pytest.mark.parametrize("n", range(1, 130))
def test_every_position_is_covered_and_the_top_is_last(n):
    spans = windows(n, 20, 10)
    covered = {i for start, end in spans for i in range(start, end)}
    assert covered == set(range(n))
    assert spans[-1][0] == 0


def test_bad_settings():
    with pytest.raises(ReasonRankError):
        windows(100, 0, 10)
    with pytest.raises(ReasonRankError):
        windows(100, 20, 0)


def _upstream_pass(n: int, window: int, step: int, rank_start: int) -> list[tuple[int, int]]:
    """REFERENCE.md section 3's loop with upstream's ``rank_start``, written from its description."""
    if n - rank_start <= 0:
        return []
    if n - rank_start < window:  # the package's one window of all of them (see above)
        return [(rank_start, n)]
    spans, end, start = [], n, n - window
    while end > rank_start and start + step != rank_start:
        start = max(start, rank_start)
        spans.append((start, end))
        end, start = end - step, start - step
    return spans


@pytest.mark.parametrize("passes, count", [(1, 9), (2, 17), (3, 24)])
def test_pass_p_starts_at_rank_step_times_p_as_upstream(passes, count):
    schedule = pass_windows(100, 20, 10, passes)
    assert len(schedule) == count
    assert [min(s for p, s, _ in schedule if p == index) for index in range(passes)] == [0, 10, 20][:passes]
    assert all(end == 100 for p, _, end in schedule[:1] + [w for w, v in zip(schedule[1:], schedule) if w[0] != v[0]])


@pytest.mark.parametrize("n", [1, 3, 10, 15, 20, 21, 25, 30, 37, 50, 100, 123])
@pytest.mark.parametrize("window, step, passes", [(20, 10, 3), (10, 5, 4), (20, 20, 2), (4, 1, 5)])
def test_multi_pass_schedule_is_upstreams_loop(n, window, step, passes):
    expected = [(p, s, e) for p in range(passes) for s, e in _upstream_pass(n, window, step, step * p)]
    assert pass_windows(n, window, step, passes) == expected
