"""What a ranker's pages cost: :class:`PageStats` counts what each request and background
pass did (a page served from the cache, ranked inside a request and why, ranked again in
the background, changes read from storage) and the CPU it took, for ``tidings bench http``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum


class Look(Enum):
    """What a request did for the page it asked for."""

    FRESH = "served"
    STALE = "served stale"
    NEW = "ranked: no page yet"
    READER = "ranked: the reader changed"
    EXPIRED = "ranked: expired"


@dataclass(slots=True)
class Tally:
    count: int = 0
    #: CPU seconds of the threads that did it (``time.thread_time``), and wall seconds.
    cpu: float = 0.0
    wall: float = 0.0


class PageStats:
    """Counts of what requests and the background did, and their CPU and wall seconds, by
    kind (a :class:`Look`'s value, ``background: ...``, ``window: ...``)."""

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
