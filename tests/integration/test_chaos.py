"""The chaos run of `tidings bench chaos`, short: 3 workers and 2 serving processes on
PostgreSQL over the demo news, a process killed every few seconds while readers read,
save and record events; nothing lost, nothing duplicated, no index gaps, no 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.bench.chaos import bench_chaos, format_report, passed

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.data]


def test_killing_processes_at_random_loses_and_duplicates_nothing(
    postgres_url: str, shared_data: Path
) -> None:
    result = bench_chaos(postgres_url, shared_data, seconds=40, kill_every=6, readers=4)
    report = format_report(result)
    assert passed(result), report
    assert result["kills"] >= 5, report
    # The run did real work: everything published was stored, and readers were answered.
    assert result["articles_stored"] == result["entries_served"] == result["entries_planned"]
    assert result["analysed"] > 0 and result["requests"] > 0, report
