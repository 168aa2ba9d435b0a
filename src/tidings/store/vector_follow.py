"""A vector index that follows storage: complete after any crash, current in every process.

The index (:class:`~tidings.store.vectors.VectorIndex`) is a cache of the embeddings stored
with analyses. Several processes keep one each (every serving node for "more like this" and
ranking candidates, every analysing worker), and any of them may be killed at any moment.
:class:`FollowedIndex` keeps one correct by following storage's change sequence
(:mod:`tidings.store.changes`) rather than by trusting whoever wrote the file:

- **The file says how far it is complete.** Its header records the change position up to
  which every analysis and deletion is in it, and the identity of the database. The
  position written is the follower's :meth:`~tidings.store.changes.ChangeFollower.complete`
  position, never beyond what was applied, so a file is at worst behind storage, never
  ahead: a writer killed between storing analyses and saving the file leaves storage ahead,
  and the next open reads the difference.
- **Opening catches up.** A file that is missing, damaged, of an older format, of another
  database or ahead of storage (a database restored from a backup) is rebuilt from the
  stored vectors; any other is loaded and brought up to date from its position.
- **Using it catches up.** :meth:`FollowedIndex.index` looks at storage at most every
  :data:`REFRESH_EVERY` seconds, so vectors analysed by other processes reach this one's
  searches within that; the enrichment stage calls :meth:`FollowedIndex.catch_up` after
  each batch it stores.
- **Saving is occasional.** The file is written when the process closes and after
  :data:`SAVE_EVERY` seconds of changes; a crash costs only a longer catch-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from tidings.errors import TidingsError, VectorIndexCorruptError
from tidings.store.base import Storage
from tidings.store.changes import ChangeFollower
from tidings.store.embedding import from_bytes
from tidings.store.vectors import VectorIndex

log = logging.getLogger(__name__)

#: Seconds between two looks at storage while the index is used: how late another
#: process's analyses may reach this process's searches. One query, usually empty.
REFRESH_EVERY = 1.0
#: Changes read per query while catching up.
CHANGES_BATCH = 5_000
#: Seconds after which an index with unsaved changes is written at the next catch-up.
#: Saving 100,000 vectors writes ~53 MB; every 10 minutes bounds the catch-up after a crash
#: to 10 minutes of analyses without making saving a noticeable share of the work.
SAVE_EVERY = 600.0

Monotonic = Callable[[], float]


class FollowedIndex:
    """The vector index at ``path`` (None: in memory only), kept current with ``storage``
    (module docstring). Thread-safe. Raises StorageError and VectorIndexError."""

    def __init__(
        self, path: Path | None, storage: Storage, *, monotonic: Monotonic = time.monotonic
    ) -> None:
        self.path = path
        self.storage = storage
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._follower: ChangeFollower | None = None
        self._identity = b""
        self._last_look = -float("inf")
        self._dirty_since: float | None = None
        #: Why the index was rebuilt when opened ("missing", "corrupt", "old", "foreign",
        #: "ahead"), or None.
        self.rebuilt: str | None = None

    # --- opening -----------------------------------------------------------------------

    def index(self) -> VectorIndex:
        """The index, opened on first use and caught up with storage when due."""
        with self._lock:
            if self._index is None:
                self._open()
            elif self._monotonic() - self._last_look >= REFRESH_EVERY:
                self.catch_up()
            assert self._index is not None
            return self._index

    def _open(self) -> None:
        storage = self.storage
        self._identity = storage.database_identity()
        # Taken before anything is read: whatever commits meanwhile is read by catching up.
        position = storage.change_position()
        reason: str | None = None
        index: VectorIndex | None = None
        if self.path is None or not self.path.exists():
            reason = "missing"
        else:
            try:
                index = VectorIndex(self.path)
            except VectorIndexCorruptError as e:
                reason = "old" if "format" in str(e) else "corrupt"
                log.warning("the vector index %s is unusable (%s); rebuilding it", self.path, e)
            else:
                if index.identity != self._identity:
                    reason = "foreign"
                elif index.position > position:
                    reason = "ahead"
        if reason is not None or index is None:
            # Built in memory, then given its path: VectorIndex(path) would load the file.
            index = VectorIndex(None)
            index.rebuild(self._stored_vectors())
            index.path = self.path
            index.position, index.identity = position, self._identity
            self.rebuilt = reason
            if reason != "missing" or len(index):
                log.warning(
                    "vector index %s was %s; rebuilt from storage (%d vectors)",
                    self.path,
                    reason,
                    len(index),
                )
            self._index = index
            self._follower = ChangeFollower(position, self._monotonic())
            self._dirty_since = self._monotonic()
        else:
            self._index = index
            self._follower = ChangeFollower(index.position, self._monotonic())
        self.catch_up()
        if self.rebuilt is not None:
            self.save()

    def _stored_vectors(self) -> Iterator[tuple[int, np.ndarray]]:
        after = 0
        while rows := self.storage.article_vectors(after_id=after):
            for article_id, data in rows:
                yield article_id, from_bytes(data)
            after = rows[-1][0]

    # --- following ---------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply what storage changed since the last look (opening first if needed);
        returns how many change numbers were read. Saves when :data:`SAVE_EVERY` is due."""
        with self._lock:
            if self._index is None:
                self._open()
                return 0
            index, follower = self._index, self._follower
            assert follower is not None
            self._last_look = self._monotonic()
            total = 0
            while True:
                changes = self.storage.analysis_changes(
                    after=follower.high, also=sorted(follower.gaps), limit=CHANGES_BATCH
                )
                if not changes.seqs:
                    break
                total += len(changes.seqs)
                keep = [(c.article_id, c.vector) for c in changes.changed if c.vector]
                drop = [c.article_id for c in changes.changed if c.vector is None]
                drop.extend(changes.removed)
                if drop:
                    index.remove(drop)
                if keep:
                    # A later change of one article wins, as the rows come in change order.
                    latest = dict(keep)
                    ids = list(latest)
                    index.add(ids, np.stack([from_bytes(latest[i]) for i in ids]))
                follower.read(changes.seqs, self._monotonic())
                # Only now, with the changes applied, may a saved file claim them.
                index.position = follower.complete()
                if self._dirty_since is None:
                    self._dirty_since = self._monotonic()
                if len(changes.seqs) < CHANGES_BATCH:
                    break
            if not total:
                # Gaps that expired still move the position on.
                follower.read((), self._monotonic())
                if follower.complete() != index.position:
                    index.position = follower.complete()
                    if self._dirty_since is None:
                        self._dirty_since = self._monotonic()
            due = self._dirty_since is not None and (
                self._monotonic() - self._dirty_since >= SAVE_EVERY
            )
            if due:
                self.save()
            return total

    def save(self) -> None:
        """Write the index (with the position it is complete up to) to its file; a failure
        is logged, not raised: storage is the truth and the next open catches up."""
        with self._lock:
            if self._index is None or self.path is None:
                return
            try:
                self._index.save()
            except TidingsError as e:
                log.warning("cannot save the vector index: %s", e)
                return
            self._dirty_since = None

    def close(self) -> None:
        """Catch up and save (a process that stops cleanly leaves a current file)."""
        with self._lock:
            if self._index is None:
                return
            try:
                self.catch_up()
            except TidingsError as e:
                log.warning("cannot bring the vector index up to date: %s", e)
            if self._dirty_since is not None:
                self.save()
