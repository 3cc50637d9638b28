"""The sliding-window schedule: upstream's loop, including its edge cases."""
from __future__ import annotations

import pytest

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.window import windows


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
