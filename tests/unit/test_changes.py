"""Following the change sequence (``store/changes.py``): pure bookkeeping of numbers read."""

from __future__ import annotations

from tidings.store.changes import GAP_SECONDS, RECHECK_AT_START, ChangeFollower


def test_a_new_follower_looks_again_just_below_where_it_starts() -> None:
    follower = ChangeFollower(250, now=0.0)
    assert follower.high == 250
    assert sorted(follower.gaps) == list(range(250 - RECHECK_AT_START + 1, 251))
    assert follower.complete() == 250 - RECHECK_AT_START
    assert ChangeFollower(0, now=0.0).complete() == 0


def test_numbers_skipped_are_gaps_until_read_or_given_up() -> None:
    follower = ChangeFollower(0, now=0.0)
    follower.read([1, 2, 5], now=1.0)
    assert follower.high == 5 and sorted(follower.gaps) == [3, 4]
    assert follower.complete() == 2
    follower.read([4], now=2.0)  # committed late, found by looking again
    assert sorted(follower.gaps) == [3] and follower.complete() == 2
    follower.read([], now=1.0 + GAP_SECONDS + 0.1)  # rolled back: never commits
    assert follower.gaps == {} and follower.complete() == 5


def test_reading_nothing_new_keeps_the_position() -> None:
    follower = ChangeFollower(0, now=0.0)
    follower.read([3], now=0.0)
    follower.read([], now=1.0)
    follower.read([2], now=1.0)
    assert follower.high == 3 and sorted(follower.gaps) == [1]
