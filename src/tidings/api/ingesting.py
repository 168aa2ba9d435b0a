"""Reading the sources beside the app: what ``tidings serve`` runs so that a source a
reader adds on the page is read within seconds, not at the next ``tidings ingest``.

One thread per serving process polls the sources as they fall due (the same passes as
``tidings ingest --watch``: :meth:`Engine.ingest`, then analysis of what it brought) and
sleeps until the next one is due, or until :meth:`BackgroundIngestion.wake` says a source
was added. It remembers, for the sources page, which sources it is reading now and what
its last read of each one brought. A failed pass is logged and never stops the thread; a
source's own failure is recorded on the source, as always.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from tidings.engine import Engine
from tidings.types import SourceUpdate

log = logging.getLogger(__name__)

#: The longest the thread sleeps between two looks at what is due, whatever the schedule
#: says: a source added by another process (``tidings source add``, a second serving
#: process) is noticed within this time. One look is one read of the sources' table.
MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class LastRead:
    """What the background ingestion's last read of one source brought."""

    update: SourceUpdate
    #: When the pass that read it finished reading it.
    at: datetime
    #: True while the articles it brought are being analysed (they reach feeds after).
    analysing: bool


class BackgroundIngestion:
    """The thread that reads due sources while the app serves. Thread-safe."""

    def __init__(self, engine: Engine, *, max_wait: float = MAX_WAIT_SECONDS) -> None:
        self._engine = engine
        self._max_wait = max_wait
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._reading: frozenset[int] = frozenset()
        self._last: dict[int, LastRead] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tidings-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for it. A pass under
        way finishes its current sources first; the thread is a daemon, so a long one never
        holds the process."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look at what is due now (a source was just added)."""
        self._wake.set()

    def reading(self, source_id: int) -> bool:
        """True while this source is being read."""
        return source_id in self._reading

    def last_read(self, source_id: int) -> LastRead | None:
        """What this process's last read of the source brought, if it read it."""
        with self._lock:
            return self._last.get(source_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._one_pass()
                wait = self._engine.seconds_until_next_poll()
            except Exception:  # a failed pass must never end the reading of sources
                log.exception("background ingestion: a pass failed")
                wait = self._max_wait
            self._wake.wait(min(wait, self._max_wait))

    def _one_pass(self) -> None:
        due = self._engine.due_sources()
        if not due:
            return
        self._reading = frozenset(s.id for s in due)
        read: list[int] = []

        def progress(update: SourceUpdate) -> None:
            now = self._engine.now()
            with self._lock:
                self._last[update.source.id] = LastRead(
                    update, now, analysing=bool(update.new or update.updated)
                )
            self._reading = self._reading - {update.source.id}
            read.append(update.source.id)

        try:
            self._engine.ingest(sources=due, progress=progress)
        finally:
            self._reading = frozenset()
            with self._lock:
                for source_id in read:
                    last = self._last[source_id]
                    if last.analysing:
                        self._last[source_id] = LastRead(last.update, last.at, analysing=False)


def ingestion_of(app: object) -> BackgroundIngestion | None:
    """The app's background ingestion, None when it reads no sources itself (``tidings
    serve --no-ingest``, or an app made for tests)."""
    state = getattr(app, "state", None)
    found = getattr(state, "ingestion", None)
    return found if isinstance(found, BackgroundIngestion) else None


def source_added(app: object) -> None:
    """Tell the app's background ingestion, if it has one, that a source is waiting."""
    ingestion = ingestion_of(app)
    if ingestion is not None:
        ingestion.wake()
