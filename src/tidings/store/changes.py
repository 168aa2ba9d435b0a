"""Following storage's change sequence (migration 0006) from another process: pure.

Every write of an analysis, a story's counts or engagement counts stamps its rows with one
number per transaction, and deletions leave ``article_removals`` rows with theirs. A process
that keeps something in memory built from those rows (ranking's window, a vector index, the
enrichment stage's near-duplicate index) asks storage for the rows stamped after the highest
number it has read, and applies them.

On SQLite writers are serialised, so numbers commit in order and "after the highest read"
misses nothing. On PostgreSQL a transaction takes its number when it first writes and may
commit after a transaction that took a later one: a follower that has read past a number
not yet committed would never see it. So :class:`ChangeFollower` also remembers the numbers
missing below the highest it read and asks for them again, for :data:`GAP_SECONDS` (a
number that never commits, from a transaction rolled back, is given up then).

:meth:`ChangeFollower.complete` is the position up to which everything has been read or
given up: what a cache written to disk may record as the point it is complete up to, so
that after a restart it reads from there and misses nothing still in flight.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Change numbers missing below the highest one read are looked for again on every refresh
#: for this long: a change written by a transaction that commits after a later-numbered one
#: (PostgreSQL: several writers) is read when it commits. Writers hold no transaction open
#: for anywhere near this long (the longest, a batch of analyses with its stories, commits
#: in well under a second).
GAP_SECONDS = 120.0
#: Numbers just below the position a follower starts at that are looked for again: more
#: than the writers that can be open at once.
RECHECK_AT_START = 100


class ChangeFollower:
    """A position in storage's change sequence: the highest number read, and the numbers
    below it not read yet (see the module docstring). ``now`` is any monotonic clock."""

    def __init__(self, position: int, now: float) -> None:
        self.high = position
        # Writers still open when the position was taken may hold numbers just below it:
        # those are looked for too, for a while.
        self.gaps = dict.fromkeys(range(max(position - RECHECK_AT_START, 0) + 1, position + 1), now)

    def read(self, seqs: Iterable[int], now: float) -> None:
        """Record the numbers a read returned (and let old gaps go)."""
        found = set(seqs)
        for seq in found:
            self.gaps.pop(seq, None)
        top = max(found, default=self.high)
        if top > self.high:
            # Numbers skipped between the old high and the new one may still commit.
            for seq in range(self.high + 1, top):
                if seq not in found:
                    self.gaps[seq] = now
            self.high = top
        for seq, since in list(self.gaps.items()):
            if now - since > GAP_SECONDS:
                del self.gaps[seq]

    def complete(self) -> int:
        """The highest number up to which every change has been read (or given up)."""
        return min(self.gaps) - 1 if self.gaps else self.high
