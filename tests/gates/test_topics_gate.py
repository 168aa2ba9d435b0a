"""Quality gate: zero-shot topics mapped onto AG News' four classes.

The score comes from :func:`tidings.eval.topics.evaluate_topics` (its docstring gives the
taxonomy -> AG class mapping) and must stay at or above the stored minimum in
``eval/baseline.json``. Nothing is trained on AG News; it is only read to score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tidings.eval import baseline
from tidings.eval.topics import DEFAULT_MINIMUMS, evaluate_topics, summary_line

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def report(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "ag_news"
    if not folder.is_dir():
        pytest.skip(f"AG News data not found at {folder}")
    return evaluate_topics(folder)


def test_topics_meet_baseline(report: dict[str, Any]) -> None:
    key = "topics_accuracy"
    minimum = baseline().get(key, DEFAULT_MINIMUMS[key])
    line, ok = summary_line(report, {key: minimum})
    assert ok, f"{line}; confusion (rows gold {report['classes']}): {report['confusion']}"


def test_every_class_is_recognised(report: dict[str, Any]) -> None:
    # A floor well under the overall gate: catches a mapping or taxonomy change that silently
    # drops a whole class while the others carry the average.
    assert min(report["recall"].values()) >= 0.6, report["recall"]
