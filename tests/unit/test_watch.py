"""The polling loop of ``tidings ingest --watch`` (``ingest/watch.py``), over a stand-in stage:
when it sleeps, for how long, and when it runs a pass."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from tidings.ingest.stage import IngestionStage
from tidings.ingest.watch import watch
from tidings.types import IngestReport


class Stage:
    """Due sources by pass (a list per look), and the wait the schedule gives each time."""

    def __init__(self, due: list[list[str]], wait: float) -> None:
        self.due = due
        self.wait = wait
        self.looks = 0

    def due_sources(self) -> list[Any]:
        self.looks += 1
        return self.due.pop(0) if self.due else []

    def seconds_until_next_poll(self) -> float:
        return self.wait


def report() -> IngestReport:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return IngestReport(updates=(), started=now, finished=now)


def test_passes_run_only_when_something_is_due_and_sleep_between() -> None:
    stage = Stage([["a"], [], ["b", "c"]], wait=7.5)
    sleeps: list[float] = []
    passes: list[IngestReport] = []
    seen: list[IngestReport] = []

    def one_pass() -> IngestReport:
        passes.append(report())
        return passes[-1]

    watch(
        cast(IngestionStage, stage),
        one_pass,
        on_pass=seen.append,
        max_passes=3,
        sleep=sleeps.append,
    )
    assert len(passes) == 2  # the second look found nothing due
    assert seen == passes
    assert stage.looks == 3
    assert sleeps == [7.5, 7.5]  # between passes, never after the last


def test_the_first_wait_is_kept_unless_skipped() -> None:
    sleeps: list[float] = []
    watch(
        cast(IngestionStage, Stage([], wait=3.0)),
        report,
        max_passes=1,
        skip_first_wait=False,
        sleep=sleeps.append,
    )
    assert sleeps == [3.0]
