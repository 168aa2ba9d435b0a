"""Quality gate: online story clustering on ECB+ (two same-kind events per topic).

The score comes from :func:`tidings.eval.stories.evaluate_stories` (its docstring says how
articles are ordered and timed, and how B-cubed is counted); it must stay at or above the
stored minimum in ``eval/baseline.json``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.eval import baseline
from tidings.eval.stories import DEFAULT_MINIMUM, KEY, evaluate_stories, summary_line

pytestmark = pytest.mark.data


def test_story_bcubed_f1_meets_baseline(shared_data: Path) -> None:
    folder = shared_data / "ecbplus"
    if not folder.is_dir():
        pytest.skip(f"ECB+ data not found at {folder}")
    report = evaluate_stories(folder, with_baseline=False)
    minimum = baseline().get(KEY, DEFAULT_MINIMUM)
    line, ok = summary_line(report, {KEY: minimum})
    assert ok, line
