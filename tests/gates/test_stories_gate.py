"""Quality gate: story clustering on ECB+ (two same-kind events per topic), through the
enrichment stage, in the file's order, shuffled, and shuffled with unrelated news mixed in.

The scores come from :func:`tidings.eval.stories.evaluate_stories` (its docstring says how
articles are ordered, timed and scored); each must stay at or above its stored minimum in
``eval/baseline.json``: the mean B-cubed F1 over the seeds and, shuffled and mixed, its mean
lead over TF-IDF told the true number of stories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tidings.enrich.pipeline import Analysis
from tidings.eval import baseline
from tidings.eval.stories import (
    GATE_DISTRACTORS,
    GATE_SEEDS,
    analyse,
    distractor_docs,
    ecb_docs,
    evaluate_stories,
    format_report,
    summary_line,
)

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def folders(shared_data: Path) -> tuple[Path, Path]:
    ecb, ag = shared_data / "ecbplus", shared_data / "ag_news"
    for folder in (ecb, ag):
        if not folder.is_dir():
            pytest.skip(f"data not found at {folder}")
    return ecb, ag


@pytest.fixture(scope="module")
def analyses(folders: tuple[Path, Path]) -> dict[str, Analysis]:
    """Every article analysed once for the three settings."""
    ecb, ag = folders
    return analyse([*ecb_docs(ecb), *distractor_docs(ag, GATE_DISTRACTORS)])


@pytest.mark.parametrize(
    ("order", "seeds", "distractors"),
    [
        ("file", (0,), 0),
        ("shuffled", GATE_SEEDS, 0),
        ("shuffled", GATE_SEEDS, GATE_DISTRACTORS),
    ],
    ids=["file", "shuffled", "mixed"],
)
def test_story_bcubed_f1_meets_baseline(
    folders: tuple[Path, Path],
    analyses: dict[str, Analysis],
    order: str,
    seeds: tuple[int, ...],
    distractors: int,
) -> None:
    ecb, ag = folders
    report: dict[str, Any] = evaluate_stories(
        ecb, order=order, seeds=seeds, distractors=distractors, ag_dir=ag, analyses=analyses
    )
    line, ok = summary_line(report, baseline())
    assert ok, line + "\n" + format_report(report)
