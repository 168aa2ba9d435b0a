"""Rate limits on signing in and signing up, shared by the API and the reader's pages.

The app keeps one :class:`AuthRateLimits` at ``request.app.state.auth_limits``; the API's
``/api/login`` and ``/api/signup`` and the pages' sign-in and sign-up forms all call::

    request.app.state.auth_limits.check(request, name=form_name, action="login")

which raises :class:`~tidings.errors.RateLimitedError` (429 with Retry-After in the API; a
form shows its message) once a client address, or a reader name, has made too many attempts
in the window. Counting by address slows one machine guessing many names; counting by name
slows many machines guessing one reader's password. The app's limits are counted in the
database (:class:`SharedLimiter`), so that every serving process and machine counts
together: with ``serve --workers 4`` a per-process count would allow four times the limit.

The client address is the connection's, unless the connection comes from a reverse proxy
named in ``TIDINGS_TRUSTED_PROXIES``: then it is the one the proxy puts in
``X-Forwarded-For`` (``api/app.py``). Anyone else could put any address there and get a
fresh limit with each.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from fastapi import Request

from tidings.errors import RateLimitedError

if TYPE_CHECKING:
    from tidings.engine import Engine

#: Attempts allowed per window. Ten a minute is more than a person mistyping a password ever
#: needs, and caps an online guesser at 14,400 a day per name.
ATTEMPTS = 10
WINDOW = 60.0
#: Keys remembered at most (oldest activity forgotten first): bounds memory under a flood
#: of distinct addresses or names, at about 200 bytes a key.
MAX_KEYS = 100_000


class SlidingWindowLimiter:
    """At most ``limit`` hits per key in any ``window`` seconds (a log of hit times per
    key: exact, unlike fixed windows, which allow twice the limit across a boundary).
    Thread-safe."""

    def __init__(
        self,
        limit: int = ATTEMPTS,
        window: float = WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs a limit >= 1 and a positive window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count an attempt for ``key``. Returns 0 when it is allowed, else the seconds until
        one will be (a refused attempt is not counted)."""
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
                while len(self._hits) > self._max_keys:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            return 0.0

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


class Limiter(Protocol):
    """At most a number of hits per key in a sliding window."""

    def hit(self, key: str) -> float:
        """0 when allowed, else the seconds until a hit will be."""

    def clear(self) -> None:
        """Forget every hit."""


class SharedLimiter:
    """:class:`SlidingWindowLimiter`'s limit, counted in the database so that every serving
    process and machine counts together (``Engine.hit_rate_limit``). Keys are stored as
    hashes: no address or name is kept."""

    def __init__(self, engine: Engine, scope: str, limit: int = ATTEMPTS, window: float = WINDOW):
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs a limit >= 1 and a positive window")
        self.engine = engine
        self.prefix = f"{scope}:"
        self.limit = limit
        self.window = window

    def hit(self, key: str) -> float:
        digest = hashlib.sha256(key.encode()).hexdigest()[: 63 - len(self.prefix)]
        return self.engine.hit_rate_limit(
            self.prefix + digest, limit=self.limit, window=self.window
        )

    def clear(self) -> None:
        self.engine.clear_rate_limits(self.prefix)


class AuthRateLimits:
    """The limits on sign-in and sign-up attempts, per client address and per name: shared
    by every process through the database when given the ``engine`` (what the app does),
    else counted in this process (tests with a clock of their own)."""

    def __init__(
        self,
        limit: int = ATTEMPTS,
        window: float = WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        engine: Engine | None = None,
    ) -> None:
        self.by_address: Limiter
        self.by_name: Limiter
        if engine is not None:
            self.by_address = SharedLimiter(engine, "address", limit, window)
            self.by_name = SharedLimiter(engine, "name", limit, window)
        else:
            self.by_address = SlidingWindowLimiter(limit, window, clock=clock)
            self.by_name = SlidingWindowLimiter(limit, window, clock=clock)

    def check(self, request: Request, *, name: str | None, action: str = "login") -> None:
        """Count an attempt at ``action`` ("login" or "signup") by this request's client
        for ``name``. Raises RateLimitedError when either count is over its limit."""
        address = request.client.host if request.client else "unknown"
        waits = [self.by_address.hit(f"{action}\x00{address}")]
        if name:
            waits.append(self.by_name.hit(f"{action}\x00{name.strip().casefold()}"))
        wait = max(waits)
        if wait > 0:
            seconds = int(wait) + 1
            raise RateLimitedError(
                f"too many attempts: try again in {seconds} seconds", retry_after=seconds
            )

    def clear(self) -> None:
        self.by_address.clear()
        self.by_name.clear()
