"""Quality gate: personalisation measured on simulated readers over AG News.

The run comes from :func:`tidings.eval.simulate.evaluate` (its docstring says how the news
arrives, what the readers want and do, and how the four rankings are scored). The engine's
nDCG@10 must stay at or above the stored minimums in ``eval/baseline.json`` relative to the
non-personalised ranking and to the oracle, and no page may show a muted article or break
the per-source cap. About a minute and a half on 2 cores (enrichment of 1,500 articles is
most of it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.eval import baseline
from tidings.eval.simulate import DEFAULT_MINIMUMS, evaluate, summary_line

pytestmark = pytest.mark.data


def test_simulated_readers_meet_baseline(shared_data: Path) -> None:
    folder = shared_data / "ag_news"
    if not folder.is_dir():
        pytest.skip(f"AG News data not found at {folder}")
    report = evaluate(folder)
    assert report["violations"] == {"mutes": 0, "per_source_cap": 0}, report["violations"]
    line, ok = summary_line(report, {**DEFAULT_MINIMUMS, **baseline()})
    assert ok, line
