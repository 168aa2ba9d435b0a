"""The page cache's decisions (``tidings.rank.pages``): serve while nothing changed, rank at
once when the reader changed, serve and rank again in the background when only the window
did, only for readers still reading; and the counts it keeps."""

from __future__ import annotations

import pytest

from tidings.rank.pages import (
    LIFETIME_PER_CACHE_SECONDS,
    REFRESH_AHEAD,
    Look,
    PageCache,
    PageStats,
)
from tidings.types import FeedPage, Reader

LAG = 60.0
LIFETIME = LAG * LIFETIME_PER_CACHE_SECONDS
STAMP = (0.1, 0.3, 12, 345)


def page(reader: int = 1) -> FeedPage:
    return FeedPage(reader=Reader(id=reader, name=f"r{reader}"))


def cache_with(key: tuple[int, str | None, int] = (1, None, 30), *, at: float = 0.0) -> PageCache:
    cache = PageCache(lag=LAG, capacity=10)
    cache.put(key, page(key[0]), STAMP, 7, at)
    return cache


def test_a_page_is_served_while_nothing_changes_for_its_whole_lifetime() -> None:
    cache = cache_with()
    for now in (1.0, LAG + 1, LIFETIME * (1 - REFRESH_AHEAD) - 1):
        look, served = cache.look((1, None, 30), STAMP, 7, now)
        assert look is Look.FRESH and served is not None
    assert cache.look((1, None, 30), STAMP, 7, LIFETIME)[0] is Look.EXPIRED


def test_no_page_or_a_changed_reader_is_ranked_now() -> None:
    cache = cache_with()
    assert cache.look((2, None, 30), STAMP, 7, 1.0) == (Look.NEW, None)
    assert cache.look((1, "cursor", 30), STAMP, 7, 1.0) == (Look.NEW, None)
    assert cache.look((1, None, 30), (0.1, 0.3, 13, 346), 7, 1.0) == (Look.READER, None)
    # Even a second after it was made, whatever the window did.
    assert cache.look((1, None, 30), (0.1, 0.3, 13, 346), 8, 1.0) == (Look.READER, None)


def test_a_window_change_is_lagged_then_served_stale_and_due() -> None:
    cache = cache_with()
    # Younger than the lag: the page may miss news its reader does not follow.
    assert cache.look((1, None, 30), STAMP, 8, LAG - 1)[0] is Look.FRESH
    assert cache.due(8, LAG - 1) == []
    look, served = cache.look((1, None, 30), STAMP, 8, LAG + 1)
    assert look is Look.STALE and served is not None
    assert cache.due(8, LAG + 2) == [((1, None, 30), LAG + 1)]
    assert cache.is_due((1, None, 30), 8, LAG + 2)
    # Ranked again: fresh, and it keeps when it was last asked for.
    cache.put((1, None, 30), page(), STAMP, 8, LAG + 3, last_hit=LAG + 1)
    assert not cache.is_due((1, None, 30), 8, LAG + 4)
    assert cache.due(8, LAG + 4) == []
    assert cache.look((1, None, 30), STAMP, 8, LAG + 4)[0] is Look.FRESH


def test_only_pages_asked_for_recently_are_ranked_again() -> None:
    cache = PageCache(lag=LAG, capacity=10)
    cache.put((1, None, 30), page(1), STAMP, 7, 0.0)
    cache.put((2, None, 30), page(2), STAMP, 7, 0.0)
    cache.put((3, None, 30), page(3), STAMP, 7, 0.0)
    cache.look((2, None, 30), STAMP, 7, 100.0)
    cache.look((3, None, 30), STAMP, 7, 110.0)
    # The window changed; reader 1 has not been back: their page is left alone.
    due = cache.due(8, 120.0)
    assert due == [((3, None, 30), 110.0), ((2, None, 30), 100.0)]
    assert (1, None, 30) not in dict(due)


def test_pages_in_use_are_ranked_again_before_their_lifetime_ends() -> None:
    cache = cache_with()
    ahead = LIFETIME * (1 - REFRESH_AHEAD)
    cache.look((1, None, 30), STAMP, 7, ahead + 1)
    assert cache.due(7, ahead + 2) == [((1, None, 30), ahead + 1)]
    # Not asked for within the lag: not ranked again, and expired at the end.
    assert cache.due(7, ahead + 1 + LAG) == []
    assert cache.look((1, None, 30), STAMP, 7, LIFETIME + 1)[0] is Look.EXPIRED


def test_a_background_page_never_moves_last_asked_backwards() -> None:
    cache = cache_with()
    cache.look((1, None, 30), STAMP, 7, 90.0)
    cache.put((1, None, 30), page(), STAMP, 8, 95.0, last_hit=80.0)
    assert cache._pages[(1, None, 30)].last_hit == 90.0


def test_capacity_drops_the_least_recently_used() -> None:
    cache = PageCache(lag=LAG, capacity=2)
    for reader in (1, 2):
        cache.put((reader, None, 30), page(reader), STAMP, 7, 0.0)
    cache.look((1, None, 30), STAMP, 7, 1.0)
    cache.put((3, None, 30), page(3), STAMP, 7, 2.0)
    assert len(cache) == 2
    assert cache.look((2, None, 30), STAMP, 7, 3.0)[0] is Look.NEW
    assert cache.look((1, None, 30), STAMP, 7, 3.0)[0] is Look.FRESH
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize("count", [1, 3])
def test_stats_add_up(count: int) -> None:
    stats = PageStats()
    stats.add(Look.FRESH.value, 0.002, 0.01)
    stats.add(Look.FRESH.value, 0.004, 0.02)
    stats.add("background: changes applied", 0.0, 0.0, count)
    assert stats.snapshot() == {
        "served": {"count": 2, "cpu_s": 0.006, "wall_s": 0.03},
        "background: changes applied": {"count": count, "cpu_s": 0.0, "wall_s": 0.0},
    }
