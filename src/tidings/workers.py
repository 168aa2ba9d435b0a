"""Workers: the background work of Tidings, in roles, in any number of processes.

``tidings worker`` runs one or more roles, each in a thread of its own, until it is told to
stop (SIGTERM, Ctrl-C) or fails:

- **ingest**: reads the sources as they fall due (:class:`tidings.ingest.stage.IngestionStage`);
- **analyse**: analyses what ingestion stored, a batch at a time, from the analysis queue
  (:class:`tidings.enrich.stage.EnrichmentStage`);
- **digests**: sends the email digests that are due (:mod:`tidings.deliver.digest`).

Any number of workers, on any number of machines, may share one PostgreSQL database: they
divide the work through it, by leases (``store/sql/work.py``), so that no source is read
twice in a due window, no article analysed twice and no digest sent twice, and the work of a
worker that dies is taken over when its leases run out. On SQLite, one process with every
role is the usual set-up, through the same code.

A worker exits with a non-zero status when a role fails for Tidings' own reasons (storage
full or gone, a bug), so that systemd restarts it and cron reports it; a source that fails
or a mail server that refuses is recorded, not fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tidings.engine import Engine
from tidings.errors import TidingsError
from tidings.types import EnrichReport, IngestReport

if TYPE_CHECKING:
    from tidings.enrich.stage import EnrichmentStage

log = logging.getLogger(__name__)

ROLES = ("ingest", "analyse", "digests")

#: Longest an ingest role sleeps between looks for due sources: sources added, or released
#: by a worker that died, are noticed within this (one indexed query per look).
INGEST_LOOK_EVERY = 5.0
#: How long an analyse role waits before looking at an empty queue again: the time an
#: article waits, at worst, between being stored and its analysis starting. One indexed
#: query per look; a second is small beside the analysis itself.
ANALYSE_LOOK_EVERY = 1.0
#: How often the digests role looks for digests that fell due (they are due by the day).
DIGESTS_LOOK_EVERY = 60.0

Say = Callable[[str], None]


class OwnFailure(TidingsError):
    """A role stopped for Tidings' own reasons (storage, a bug); the worker exits non-zero."""

    key = "worker_failed"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    #: Stop each role once no work is left: no source due, no article queued, no digest
    #: due (work other workers hold counts: it may come back when their leases run out).
    #: For a one-off catch-up from cron, benchmarks and tests.
    until_idle: bool = False


class Worker:
    """Roles of one worker process over one engine (module docstring)."""

    def __init__(
        self,
        engine: Engine,
        roles: Sequence[str],
        *,
        say: Say = lambda line: None,
        options: WorkerOptions | None = None,
    ) -> None:
        unknown = [r for r in roles if r not in ROLES]
        if unknown or not roles:
            raise ValueError(f"roles are {', '.join(ROLES)}; not {unknown or 'none'}")
        self.engine = engine
        self.roles = tuple(dict.fromkeys(roles))
        self.say = say
        self.options = options or WorkerOptions()
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        # Set once this worker's ingest role is over (or when it has none): an analyse role
        # running until idle waits for what ingestion brings.
        self._ingested = threading.Event()
        if "ingest" not in self.roles:
            self._ingested.set()
        self._analysis: EnrichmentStage | None = None

    def run(self) -> None:
        """Run every role until :attr:`stop` is set or one fails; raises that failure."""
        threads = [
            threading.Thread(target=self._guarded, args=(role,), name=f"tidings-{role}")
            for role in self.roles
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
        if self.failure is not None:
            raise self.failure

    def _guarded(self, role: str) -> None:
        try:
            {"ingest": self._ingest, "analyse": self._analyse, "digests": self._digests}[role]()
        except BaseException as e:  # noqa: BLE001 - handed to run(): any failure stops all roles
            if self.failure is None:
                self.failure = e
            self.stop.set()
        finally:
            if role == "ingest":
                self._ingested.set()

    # --- ingest ------------------------------------------------------------------------

    def _ingest(self) -> None:
        engine = self.engine
        while not self.stop.is_set():
            report = engine.ingest(enrich=False)
            if report.updates:
                self.say(f"ingest: {_ingest_line(report)}")
            if ours := report.internal_failures:
                raise OwnFailure(
                    f"{len(ours)} source(s) could not be read for Tidings' own reasons; "
                    f"the first: {ours[0].error}"
                )
            if report.updates:
                continue  # more may have fallen due meanwhile
            if self.options.until_idle and not engine.due_sources():
                return  # nothing due, not even held by a worker that may have died
            self.stop.wait(min(engine.seconds_until_next_poll(), INGEST_LOOK_EVERY))

    # --- analyse -----------------------------------------------------------------------

    def _analyse(self) -> None:
        stage = self._analysis_stage()
        while not self.stop.is_set():
            report = stage.run(limit=stage_batch())
            if report.analysed or report.quick or report.skipped:
                self.say(f"analyse: {_analysis_line(report)}")
                continue
            if (
                self.options.until_idle
                and self._ingested.is_set()
                and stage.storage.analysis_backlog() == (0, 0)
            ):
                return  # the queue is empty, not merely held by other workers
            self.stop.wait(ANALYSE_LOOK_EVERY)

    def _analysis_stage(self) -> EnrichmentStage:
        """The worker's own enrichment stage: without the vector index, which serving
        processes keep (a worker would only hold it in memory for nobody)."""
        if self._analysis is None:
            from tidings.enrich.stage import EnrichmentStage

            engine = self.engine
            self._analysis = EnrichmentStage.for_settings(
                engine.storage, engine.settings, engine.now, vectors=False
            )
        return self._analysis

    # --- digests -----------------------------------------------------------------------

    def _digests(self) -> None:
        from tidings.deliver.digest import send_due_digests

        engine = self.engine
        smtp = engine.settings.smtp
        if not (smtp.host and smtp.sender):
            self.say("digests: no SMTP server or sender configured (TIDINGS_SMTP_*): idle")
            if not self.options.until_idle:
                self.stop.wait()
            return
        while not self.stop.is_set():
            report = send_due_digests(engine, engine.settings, datetime.now(UTC))
            for outcome in report.outcomes:
                if outcome.error is not None:
                    self.say(f"digests: {outcome.reader}: failed: {outcome.error}")
                elif outcome.sent:
                    self.say(f"digests: sent {outcome.reader}'s ({outcome.stories} stories)")
            if self.options.until_idle:
                return
            self.stop.wait(DIGESTS_LOOK_EVERY)


def stage_batch() -> int:
    """Analyses per call of the analyse role: one batch, so that a stop is noticed between
    batches (a batch takes seconds)."""
    from tidings.enrich.stage import BATCH

    return BATCH


def _ingest_line(report: IngestReport) -> str:
    failed = len(report.failed)
    return (
        f"{len(report.updates)} source(s) read: {report.new} new, {report.updated} updated "
        f"article(s); {failed} failed"
    )


def _analysis_line(report: EnrichReport) -> str:
    parts = []
    if report.quick:
        parts.append(f"{report.quick} quick")
    if report.analysed:
        parts.append(f"{report.analysed} in full")
    if report.skipped:
        parts.append(f"{report.skipped} skipped")
    rate = (report.quick + report.analysed + report.skipped) / max(report.seconds, 1e-9)
    return f"{', '.join(parts)} ({rate:.1f} articles/s)"
