"""Passes and polling: what ``tidings ingest`` runs, once or (``--watch``) as sources fall due.

A pass reads sources through the :class:`~tidings.ingest.stage.IngestionStage`, then hands
what it brought to the analysis it is given (the engine passes enrichment, so that ingestion
never imports it, as :class:`~tidings.ingest.stage.PageReader` keeps it from importing
extraction). Watching repeats passes, sleeping until the earliest source is due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from tidings.ingest.stage import IngestionStage, Progress
from tidings.types import EnrichReport, IngestReport, Source

#: Analysis of what a pass stored; it reports a failure rather than raising (ingestion must
#: keep what it fetched even when analysis cannot run: the articles wait).
Analyse = Callable[[], EnrichReport]


async def run_pass(
    stage: IngestionStage,
    *,
    sources: Sequence[Source] | None = None,
    progress: Progress | None = None,
    analyse: Analyse | None = None,
) -> IngestReport:
    """One pass over ``sources`` (default: those due now), then ``analyse`` in a thread when
    it brought new or changed articles. Never raises for a source's failure: it is recorded
    on the source and in the report."""
    report = await stage.run(sources=sources, progress=progress)
    if analyse is not None and any(u.new or u.updated for u in report.updates):
        report = replace(report, enrichment=await asyncio.to_thread(analyse))
    return report


def watch(
    stage: IngestionStage,
    one_pass: Callable[[], IngestReport],
    *,
    on_pass: Callable[[IngestReport], None] | None = None,
    max_passes: int | None = None,
    skip_first_wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Keep polling: sleep until a source is due, run ``one_pass`` when any is, repeat
    (``max_passes`` times at most). With ``skip_first_wait`` the first pass runs at once."""
    passes = 0
    if not skip_first_wait:
        sleep(stage.seconds_until_next_poll())
    while max_passes is None or passes < max_passes:
        if stage.due_sources():
            report = one_pass()
            if on_pass is not None:
                on_pass(report)
        passes += 1
        if max_passes is not None and passes >= max_passes:
            break
        sleep(stage.seconds_until_next_poll())
