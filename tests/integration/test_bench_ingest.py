"""The PostgreSQL side of `tidings bench ingest --workers N`: ingest workers on a scratch
schema store between them exactly what one process stores on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.bench.ingest import FeedServer, collect_feeds, run_tidings, run_tidings_workers

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.data]


def test_two_ingest_workers_read_every_entry_once(
    postgres_url: str, shared_data: Path, tmp_path: Path
) -> None:
    feeds = collect_feeds(shared_data)[:12]
    assert feeds, "no real feeds in the shared data"
    server = FeedServer(feeds)
    with server.running() as base:
        urls = [f"{base}/{copy}/{feed.name}" for copy in range(2) for feed in feeds]
        result = run_tidings_workers(urls, postgres_url, 2, tmp_path)
        alone = run_tidings(urls, tmp_path / "alone.sqlite")
    # Each copy's links and GUIDs are distinct (some files repeat an entry within).
    assert result["entries"] == alone["entries"] > sum(f.entries for f in feeds), result
    assert result["failed_sources"] == 0
    assert result["workers"] == 2 and result["cpu_seconds"] > 0
    assert 0 < result["startup_seconds"] < result["seconds"]
