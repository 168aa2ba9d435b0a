"""The polling schedule: pure functions, tested exhaustively with a fixed clock."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from tidings.config import ScheduleSettings
from tidings.ingest.schedule import (
    JITTER,
    MAX_STEP,
    NOT_MODIFIED_GROWTH,
    RECENT_DATES,
    is_due,
    plan_after_failure,
    plan_after_not_modified,
    plan_after_success,
    publishing_gap,
)
from tidings.types import Source, SourceKind

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = ScheduleSettings()  # 5 min .. 24 h, default 1 h
MIN, MAX, DEFAULT = SETTINGS.min_interval, SETTINGS.max_interval, SETTINGS.default_interval
HOUR = 3600


def source(**kwargs: object) -> Source:
    return Source(id=1, url="https://example.com/feed", **kwargs)  # type: ignore[arg-type]


def every(
    seconds: float, count: int = 10, *, last: datetime = NOW - timedelta(minutes=1)
) -> list[datetime]:
    """``count`` entry dates ``seconds`` apart, the newest at ``last`` (a minute ago)."""
    return [last - timedelta(seconds=seconds * i) for i in range(count)]


def success(
    published: list[datetime],
    *,
    interval: int | None = None,
    ttl: int | None = None,
    max_age: float | None = None,
    settings: ScheduleSettings = SETTINGS,
) -> int:
    seconds, next_poll = plan_after_success(
        source(interval=interval),
        now=NOW,
        published=published,
        ttl=ttl,
        max_age=max_age,
        settings=settings,
    )
    assert isinstance(seconds, int)
    assert next_poll == NOW + timedelta(seconds=seconds)
    return seconds


class FixedRandom(random.Random):
    """A Random whose uniform() always lands at the same fraction of its range."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def failure_delay(
    failures: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    settings: ScheduleSettings = SETTINGS,
) -> float:
    when = plan_after_failure(
        source(interval=HOUR),
        now=NOW,
        failures=failures,
        retry_after=retry_after,
        settings=settings,
        rng=rng or FixedRandom(0.5),
    )
    return (when - NOW).total_seconds()


# --- is_due ------------------------------------------------------------------------------


def test_is_due() -> None:
    assert is_due(source(), NOW)  # never polled
    assert is_due(source(next_poll=NOW), NOW)
    assert is_due(source(next_poll=NOW - timedelta(seconds=1)), NOW)
    assert not is_due(source(next_poll=NOW + timedelta(seconds=1)), NOW)


def test_manual_sources_are_never_due() -> None:
    assert not is_due(source(kind=SourceKind.MANUAL), NOW)
    assert not is_due(source(kind=SourceKind.MANUAL, next_poll=NOW - timedelta(days=1)), NOW)
    assert is_due(source(kind=SourceKind.LOCAL), NOW)


# --- publishing_gap ----------------------------------------------------------------------


def test_gap_needs_two_distinct_dates() -> None:
    assert publishing_gap([], NOW) is None
    assert publishing_gap([NOW - timedelta(hours=1)], NOW) is None
    assert publishing_gap([NOW - timedelta(hours=1)] * 5, NOW) is None


def test_gap_of_a_regular_source() -> None:
    assert publishing_gap(every(HOUR), NOW) == HOUR
    assert publishing_gap(every(HOUR, 2), NOW) == HOUR


def test_gap_ignores_order_and_duplicates() -> None:
    dates = every(HOUR)
    shuffled = dates[::-1] + dates[:3]
    assert publishing_gap(shuffled, NOW) == HOUR


def test_gap_uses_only_the_most_recent_dates() -> None:
    recent = every(600, RECENT_DATES)  # every 10 minutes lately
    old = every(86400, 50, last=recent[-1] - timedelta(days=1))  # daily before that
    assert publishing_gap(recent + old, NOW) == 600


def test_gap_median_shrugs_off_an_outlier() -> None:
    dates = every(HOUR)
    dates[-1] -= timedelta(days=30)  # one entry from a month earlier
    assert publishing_gap(dates, NOW) == HOUR


def test_gap_stretches_when_the_source_falls_silent() -> None:
    dates = every(HOUR, last=NOW - timedelta(days=40))
    assert publishing_gap(dates, NOW) == pytest.approx(40 * 86400 / 4)
    # A silence of under four gaps is normal and changes nothing.
    assert publishing_gap(every(HOUR, last=NOW - timedelta(hours=3)), NOW) == HOUR


def test_gap_ignores_dates_equal_to_now() -> None:
    """Entries without a date were given the fetch time; that is not a publishing time."""
    assert publishing_gap([*every(HOUR, last=NOW - timedelta(minutes=10)), NOW], NOW) == HOUR
    assert publishing_gap([NOW, NOW, NOW - timedelta(hours=2)], NOW) is None


def test_future_dates_do_not_break_the_estimate() -> None:
    dates = every(HOUR, last=NOW + timedelta(hours=2))  # a publisher with a clock problem
    assert publishing_gap(dates, NOW) == HOUR


# --- plan_after_success ------------------------------------------------------------------


def test_unknown_rhythm_uses_the_default() -> None:
    assert success([]) == DEFAULT
    assert success([NOW - timedelta(days=1)]) == DEFAULT


def test_first_estimate_is_half_the_gap() -> None:
    assert success(every(2 * HOUR)) == HOUR
    assert success(every(HOUR)) == HOUR // 2


def test_interval_is_clamped() -> None:
    assert success(every(60)) == MIN  # a post a minute: no faster than min_interval
    assert success(every(7 * 86400)) == MAX  # weekly: still at least daily


def test_custom_bounds() -> None:
    settings = ScheduleSettings(min_interval=60, max_interval=600, default_interval=300)
    assert success(every(10), settings=settings) == 60
    assert success(every(HOUR), settings=settings) == 600
    assert success([], settings=settings) == 300


def test_ttl_is_a_floor() -> None:
    assert success(every(600), ttl=2 * HOUR) == 2 * HOUR
    assert success(every(4 * HOUR), ttl=HOUR) == 2 * HOUR  # a ttl below the target changes nothing
    assert success(every(600), ttl=30 * 86400) == MAX  # but never beyond max_interval


def test_server_max_age_is_a_floor() -> None:
    assert success(every(600), max_age=HOUR) == HOUR
    assert success(every(600), max_age=0) == MIN
    assert success(every(600), max_age=10 * 86400) == MAX
    assert success(every(600), ttl=HOUR, max_age=3 * HOUR) == 3 * HOUR
    assert success(every(600), max_age=math.nan) == MIN


def test_interval_moves_halfway_towards_the_target() -> None:
    # From 1 h towards 4 h (gap 8 h): the geometric mean, 2 h.
    assert success(every(8 * HOUR), interval=HOUR) == 2 * HOUR
    # Already there: stays.
    assert success(every(2 * HOUR), interval=HOUR) == HOUR


@pytest.mark.parametrize("interval", [MIN, 600, HOUR, 6 * HOUR, MAX])
@pytest.mark.parametrize("gap", [60, 600, HOUR, 86400, 30 * 86400])
def test_one_poll_never_jumps_more_than_max_step(interval: int, gap: int) -> None:
    new = success(every(gap), interval=interval)
    assert interval / MAX_STEP - 1 <= new <= interval * MAX_STEP + 1
    assert MIN <= new <= MAX


def test_a_change_of_pace_is_followed_within_a_few_polls() -> None:
    interval = MIN
    for _ in range(10):
        interval = success(every(12 * HOUR), interval=interval)
    assert interval == pytest.approx(6 * HOUR, rel=0.05)  # 16x in 4 polls, then halving the rest


def test_interval_outside_new_settings_is_brought_back() -> None:
    assert success(every(HOUR), interval=10 * MAX) == MAX


# --- plan_after_not_modified ------------------------------------------------------------


def test_not_modified_lengthens_gently() -> None:
    seconds, next_poll = plan_after_not_modified(source(interval=HOUR), now=NOW, settings=SETTINGS)
    assert seconds == HOUR * NOT_MODIFIED_GROWTH
    assert next_poll == NOW + timedelta(seconds=seconds)


def test_not_modified_without_an_interval_starts_from_the_default() -> None:
    seconds, _ = plan_after_not_modified(source(), now=NOW, settings=SETTINGS)
    assert seconds == DEFAULT * NOT_MODIFIED_GROWTH


def test_not_modified_is_bounded_and_floored() -> None:
    at_cap, _ = plan_after_not_modified(source(interval=MAX), now=NOW, settings=SETTINGS)
    assert at_cap == MAX
    seconds, _ = plan_after_not_modified(
        source(interval=600), now=NOW, settings=SETTINGS, max_age=2 * HOUR
    )
    assert seconds == 2 * HOUR
    seconds, _ = plan_after_not_modified(
        source(interval=600), now=NOW, settings=SETTINGS, ttl=3 * HOUR
    )
    assert seconds == 3 * HOUR


def test_repeated_304s_reach_the_cap_and_stay() -> None:
    interval = MIN
    for _ in range(40):
        interval, _ = plan_after_not_modified(source(interval=interval), now=NOW, settings=SETTINGS)
    assert interval == MAX


# --- plan_after_failure -----------------------------------------------------------------


def test_backoff_doubles_from_min_interval() -> None:
    delays = [failure_delay(n) for n in range(1, 6)]
    assert delays == [MIN * 2**i for i in range(5)]


def test_backoff_is_capped() -> None:
    assert failure_delay(30) == MAX
    assert failure_delay(10**9) == MAX  # no overflow
    assert failure_delay(0) == failure_delay(1) == MIN  # a count of 0 is treated as 1


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 20])
def test_jitter_stays_within_bounds(failures: int) -> None:
    base = min(MIN * 2 ** (failures - 1), MAX)
    delays = [failure_delay(failures, rng=random.Random(seed)) for seed in range(300)]
    assert all(base * (1 - JITTER) - 1e-6 <= d <= min(base * (1 + JITTER), MAX) for d in delays)
    if base < MAX:
        assert len({round(d) for d in delays}) > 50  # spread, not lockstep
        assert min(delays) < base < max(delays)


def test_jitter_extremes() -> None:
    assert failure_delay(2, rng=FixedRandom(0.0)) == pytest.approx(2 * MIN * (1 - JITTER))
    assert failure_delay(2, rng=FixedRandom(1.0)) == pytest.approx(2 * MIN * (1 + JITTER))
    assert failure_delay(40, rng=FixedRandom(1.0)) == MAX  # jitter never pushes past the cap


def test_retry_after_is_honoured() -> None:
    assert failure_delay(1, retry_after=2 * HOUR) == 2 * HOUR
    for seed in range(100):
        assert failure_delay(1, retry_after=1800, rng=random.Random(seed)) >= 1800
    # Shorter than our own backoff: our backoff wins.
    assert failure_delay(5, retry_after=10) == MIN * 16


def test_retry_after_is_still_capped() -> None:
    assert failure_delay(1, retry_after=7 * 86400) == MAX


@pytest.mark.parametrize("retry_after", [None, 0, -5, math.nan, math.inf])
def test_meaningless_retry_after_is_ignored(retry_after: float | None) -> None:
    assert failure_delay(3, retry_after=retry_after) == 4 * MIN


def test_failure_leaves_the_source_alone() -> None:
    before = source(interval=HOUR, failures=2)
    plan_after_failure(
        before, now=NOW, failures=3, retry_after=None, settings=SETTINGS, rng=random.Random(1)
    )
    assert before.interval == HOUR and before.failures == 2
