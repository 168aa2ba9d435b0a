"""Quality gate: article body extraction from HTML on the Zyte benchmark's dev split.

Tidings must reach the stored minimum and must not fall below plain trafilatura measured in
the same run. Speed is reported by ``evaluate_html`` but not asserted here: timings on a
shared test machine are too noisy for a pass/fail line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.eval import baseline
from tidings.eval.html_body import evaluate_html

pytestmark = pytest.mark.data


def test_html_body_f1_meets_baseline_and_beats_trafilatura(shared_data: Path) -> None:
    folder = shared_data / "aeb"
    if not (folder / "ground-truth.json").is_file():
        pytest.skip(f"benchmark pages not found at {folder}")
    minimums = baseline()
    report = evaluate_html(folder)
    ours, peer = report["ours"], report["trafilatura"]
    summary = json.dumps(report, indent=1)
    assert report["documents"] > 0
    assert ours["f1"] >= minimums["extract_html_body_f1"], summary
    assert ours["f1"] >= peer["f1"], summary
