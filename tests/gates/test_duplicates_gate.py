"""Quality gate: near-duplicate detection on ECB+ articles and generated syndication variants.

The score comes from :func:`tidings.eval.duplicates.evaluate` (its docstring says how the
variants are made and which pairs count); the pair F1 must stay at or above the stored
minimum in ``eval/baseline.json``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.eval import baseline
from tidings.eval.duplicates import DEFAULT_MINIMUM, KEY, evaluate, summary_line

pytestmark = pytest.mark.data


def test_duplicate_pair_f1_meets_baseline(shared_data: Path) -> None:
    folder = shared_data / "ecbplus"
    if not folder.is_dir():
        pytest.skip(f"ECB+ data not found at {folder}")
    report = evaluate(folder)
    minimum = baseline().get(KEY, DEFAULT_MINIMUM)
    line, ok = summary_line(report, {KEY: minimum})
    assert ok, line
