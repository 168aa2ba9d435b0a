"""The pages a ranker keeps: which to serve, which to rank again, and what they cost.

A page depends on three things: the reader (their events other than impressions, follows,
mutes and settings, news of what they follow, and every page going stale at once: storage's
:meth:`~tidings.store.base.Storage.reader_stamp`), what the window holds (new analyses,
stories' and engagement counts, read from storage's change sequence), and the news's clock
(freshness). :class:`PageCache` decides, for each request, from those alone:

* the reader changed, or there is no page: rank it now (a changed reader gets a fresh page
  at once);
* nothing changed: serve it, for up to :attr:`PageCache.lifetime` seconds (freshness moves
  too little in that time to change a page: :data:`LIFETIME_PER_CACHE_SECONDS`);
* the window changed but the page is younger than ``lag`` seconds: serve it (a page may lag
  the news its reader does not follow by that much; this is what bounds background work);
* the window changed and the page is older, or it nears the end of its lifetime: serve it
  and have the background rank it again (:meth:`PageCache.due`), unless it has outlived its
  lifetime, when it is ranked now.

Only pages asked for within the last ``lag`` seconds are ranked again in the background, so
work follows readers who are reading, not every page ever made. The decisions are pure (the
caller passes the time and what the page depends on); :class:`PageStats` counts what each
request and background pass did (a page served from the cache, ranked inside a request and
why, ranked again in the background, changes read from storage) and the CPU it took, for
``tidings bench http``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from tidings.types import FeedPage

#: A page: the reader, the cursor, the size.
PageKey = tuple[int, str | None, int]

#: A page is served while nothing it depends on changed for this many times ``lag``
#: (default 60 s, so 10 minutes): the shortest freshness half-life is 12 hours
#: (``window.HALF_LIVES``), over which 10 minutes moves an item's freshness by under 1%.
LIFETIME_PER_CACHE_SECONDS = 10.0
#: Pages in use are ranked again in the background when this share of their lifetime is
#: left, so that a reader who keeps reading never meets an expired page.
REFRESH_AHEAD = 0.25


class Look(Enum):
    """What a request did for the page it asked for."""

    FRESH = "served"
    STALE = "served stale"
    NEW = "ranked: no page yet"
    READER = "ranked: the reader changed"
    EXPIRED = "ranked: expired"


@dataclass(slots=True)
class CachedPage:
    page: FeedPage
    #: The reader's stamp when the page was made.
    stamp: tuple[object, ...]
    #: The version of the window's contents the page was made from.
    content: int
    #: When it was made and last served, in the process's seconds.
    at: float
    last_hit: float


class PageCache:
    """Pages by (reader, cursor, size), and the decisions of the module docstring. Safe to
    use from several threads; it never reads storage and never ranks."""

    def __init__(self, *, lag: float, capacity: int) -> None:
        self.lag = lag
        self.lifetime = lag * LIFETIME_PER_CACHE_SECONDS
        self.capacity = capacity
        self._pages: OrderedDict[PageKey, CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def look(
        self, key: PageKey, stamp: tuple[object, ...], content: int, now: float
    ) -> tuple[Look, FeedPage | None]:
        """What to do for a request of ``key`` by a reader whose stamp is ``stamp``, with the
        window at version ``content``; the page to serve when it is served."""
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return Look.NEW, None
            if found.stamp != stamp:
                return Look.READER, None
            age = now - found.at
            if age >= self.lifetime:
                return Look.EXPIRED, None
            found.last_hit = now
            self._pages.move_to_end(key)
            return (Look.STALE if self._wants_ranking(found, content, now) else Look.FRESH), (
                found.page
            )

    def put(
        self,
        key: PageKey,
        page: FeedPage,
        stamp: tuple[object, ...],
        content: int,
        at: float,
        *,
        last_hit: float | None = None,
    ) -> None:
        """Keep ``page``, made at ``at`` from the window at version ``content``. A page
        ranked again in the background keeps the time it was last asked for."""
        with self._lock:
            old = self._pages.get(key)
            hit = last_hit if last_hit is not None else at
            if old is not None and last_hit is not None:
                hit = max(hit, old.last_hit)
            self._pages[key] = CachedPage(page, stamp, content, at, hit)
            self._pages.move_to_end(key)
            while len(self._pages) > self.capacity:
                self._pages.popitem(last=False)

    def due(self, content: int, now: float) -> list[tuple[PageKey, float]]:
        """Pages to rank again in the background, with when each was last asked for: those
        asked for within ``lag`` seconds whose window changed more than ``lag`` seconds after
        they were made, or that near the end of their lifetime; the most recently asked for
        first."""
        with self._lock:
            wanted = [
                (key, entry.last_hit)
                for key, entry in self._pages.items()
                if now - entry.last_hit < self.lag and self._wants_ranking(entry, content, now)
            ]
        wanted.sort(key=lambda kv: kv[1], reverse=True)
        return wanted

    def is_due(self, key: PageKey, content: int, now: float) -> bool:
        """Whether the page is still one to rank again (a request may have meanwhile)."""
        with self._lock:
            entry = self._pages.get(key)
            return entry is not None and self._wants_ranking(entry, content, now)

    def _wants_ranking(self, entry: CachedPage, content: int, now: float) -> bool:
        age = now - entry.at
        return (entry.content != content and age >= self.lag) or (
            age >= self.lifetime * (1 - REFRESH_AHEAD)
        )

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


@dataclass(slots=True)
class Tally:
    count: int = 0
    #: CPU seconds of the threads that did it (``time.thread_time``), and wall seconds.
    cpu: float = 0.0
    wall: float = 0.0


class PageStats:
    """Counts of what requests and the background did, and their CPU and wall seconds, by
    kind (a :class:`Look`'s value, ``background: ...``, ``request: ...``)."""

    def __init__(self) -> None:
        self._tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()

    def add(self, kind: str, cpu: float, wall: float, count: int = 1) -> None:
        with self._lock:
            tally = self._tallies.get(kind)
            if tally is None:
                tally = self._tallies[kind] = Tally()
            tally.count += count
            tally.cpu += cpu
            tally.wall += wall

    def snapshot(self) -> dict[str, dict[str, float]]:
        """``{kind: {"count", "cpu_s", "wall_s"}}`` so far."""
        with self._lock:
            return {
                kind: {"count": t.count, "cpu_s": round(t.cpu, 4), "wall_s": round(t.wall, 4)}
                for kind, t in self._tallies.items()
            }
