"""When to poll each source: pure decisions over a source's state and what its last read saw.

No I/O and no clock reads: callers pass ``now`` (and, for jitter, a ``random.Random``), so
every decision is reproducible in a test. Three outcomes of a read, three planners:

* :func:`plan_after_success` adapts the interval to how often the source publishes, judged
  from the dates of the entries in the feed;
* :func:`plan_after_not_modified` (HTTP 304, or an unchanged local file) lengthens it gently;
* :func:`plan_after_failure` backs off exponentially with jitter, honouring Retry-After.

Every interval ends up within ``[settings.min_interval, settings.max_interval]``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

from tidings.config import ScheduleSettings
from tidings.types import Source, SourceKind

__all__ = [
    "is_due",
    "plan_after_failure",
    "plan_after_not_modified",
    "plan_after_success",
    "publishing_gap",
]

#: How many of the most recent distinct entry dates the rhythm estimate looks at. Ten spans
#: a few hours of a wire feed and a few weeks of a blog; news feeds carry 10 to 100 items, so
#: this stays within what one document shows, and older dates say little about today's pace.
RECENT_DATES = 10
#: Polls per typical gap between entries. Two (sampling at twice the rate, as in Nyquist)
#: means a new entry waits about a quarter of a gap on average and a burst is not missed by
#: more than half a gap.
POLLS_PER_GAP = 2
#: Silence longer than this many typical gaps stretches the estimate (silence / 4): the source
#: has slowed or stopped. For a source publishing at random (Poisson) times, a silence of
#: four median gaps happens by chance about 1 time in 16, so a live feed is rarely mistaken
#: for a dead one, and a dead one drifts towards max_interval.
DORMANCY_GAPS = 4
#: Largest factor by which one poll may change the interval. Combined with the halfway
#: (geometric-mean) step below, the estimate from one odd-looking document cannot swing the
#: schedule, while a real change of pace is followed within a few polls (16x in 4).
MAX_STEP = 2.0
#: Interval growth after a 304: nothing new since the last poll is evidence the source is
#: slower than we thought, but weak evidence (one quiet gap), so grow by half, not double.
NOT_MODIFIED_GROWTH = 1.5
#: Retry jitter, as a fraction of the delay: ±15 % spreads sources that failed together
#: (one host down) so their retries do not arrive in lockstep.
JITTER = 0.15
#: Cap on the backoff exponent, so an absurd failure count cannot overflow a float.
_MAX_DOUBLINGS = 40


def is_due(source: Source, now: datetime) -> bool:
    """Whether ``source`` should be read at ``now``. Manual sources are never polled."""
    if source.kind is SourceKind.MANUAL:
        return False
    return source.next_poll is None or source.next_poll <= now


def publishing_gap(published: Sequence[datetime], now: datetime) -> float | None:
    """The typical time between a source's entries, in seconds; None if it cannot tell.

    The median gap between the :data:`RECENT_DATES` most recent distinct dates (the median,
    so one odd date does not skew it), stretched to a quarter of the current silence when the
    source has been quiet for longer than :data:`DORMANCY_GAPS` gaps. Needs two distinct dates.
    Dates equal to ``now`` are ignored: they are the fetch time that entries without a date
    were given, not publishing times.
    """
    stamps = heapq.nlargest(RECENT_DATES, {int(p.timestamp()) for p in published if p != now})
    if len(stamps) < 2:
        return None
    gap = statistics.median(a - b for a, b in itertools.pairwise(stamps))
    silence = max(0.0, now.timestamp() - stamps[0])
    return max(float(gap), silence / DORMANCY_GAPS)


def plan_after_success(
    source: Source,
    *,
    now: datetime,
    published: Sequence[datetime],
    ttl: int | None,
    max_age: float | None,
    settings: ScheduleSettings,
) -> tuple[int, datetime]:
    """The interval (seconds) and next poll after a successful read.

    ``published`` are the entry dates in the feed (leave out entries that were given the fetch
    time for lack of a date); ``ttl`` is the feed's own ``<ttl>`` in seconds; ``max_age`` is
    how long the server said the response stays fresh (Cache-Control max-age or Expires).

    The target is half the typical gap between entries (:func:`publishing_gap`), or
    ``settings.default_interval`` when the dates do not tell. It moves halfway (geometrically)
    from the source's current interval, by at most :data:`MAX_STEP`; it is never below the
    feed's ttl or the server's max-age, and always within [min_interval, max_interval].
    """
    gap = publishing_gap(published, now)
    target = float(settings.default_interval) if gap is None else gap / POLLS_PER_GAP
    if source.interval:
        target = _step_towards(float(source.interval), target)
    interval = _bounded(target, settings, ttl, max_age)
    return interval, now + timedelta(seconds=interval)


def plan_after_not_modified(
    source: Source,
    *,
    now: datetime,
    settings: ScheduleSettings,
    max_age: float | None = None,
    ttl: int | None = None,
) -> tuple[int, datetime]:
    """The interval (seconds) and next poll after a 304 Not Modified (or an unchanged file).

    The current interval (``settings.default_interval`` if none yet) grows by
    :data:`NOT_MODIFIED_GROWTH`; never below ``max_age`` (from the 304's caching headers) or
    a ``ttl`` the caller remembers, and always within [min_interval, max_interval].
    """
    current = float(source.interval or settings.default_interval)
    interval = _bounded(current * NOT_MODIFIED_GROWTH, settings, ttl, max_age)
    return interval, now + timedelta(seconds=interval)


def plan_after_failure(
    source: Source,
    *,
    now: datetime,
    failures: int,
    retry_after: float | None,
    settings: ScheduleSettings,
    rng: random.Random,
) -> datetime:
    """When to try again after a failed read.

    ``failures`` counts consecutive failures including this one. The delay starts at
    ``min_interval`` and doubles with each failure up to ``max_interval``, with ±:data:`JITTER`
    jitter; it is never shorter than ``retry_after`` (seconds the server asked for) unless
    that exceeds ``max_interval``, which always caps the delay. The source's own interval is
    left alone: it still describes the source once it recovers.
    """
    doublings = min(max(failures, 1) - 1, _MAX_DOUBLINGS)
    delay = min(settings.min_interval * 2.0**doublings, float(settings.max_interval))
    delay *= rng.uniform(1.0 - JITTER, 1.0 + JITTER)
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, retry_after)
    delay = min(delay, float(settings.max_interval))
    return now + timedelta(seconds=delay)


def _step_towards(current: float, target: float) -> float:
    """Halfway from ``current`` to ``target`` on a log scale, by at most :data:`MAX_STEP`."""
    if target <= 0:
        return current / MAX_STEP
    step = math.sqrt(current * target)
    return min(max(step, current / MAX_STEP), current * MAX_STEP)


def _bounded(
    seconds: float, settings: ScheduleSettings, ttl: int | None, max_age: float | None
) -> int:
    """Raise to the ttl/max-age floors, then clamp to [min_interval, max_interval]."""
    for floor in (ttl, max_age):
        if floor is not None and math.isfinite(floor) and floor > seconds:
            seconds = float(floor)
    low, high = settings.min_interval, max(settings.min_interval, settings.max_interval)
    return round(min(max(seconds, low), high))
