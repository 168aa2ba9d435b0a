"""Quality gate: article metadata on Mozilla Readability's test pages.

Scores are computed by :func:`tidings.eval.metadata.evaluate_metadata` (its docstring says how
each is counted) and must stay at or above the stored minimums in ``eval/baseline.json``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tidings.eval.metadata import evaluate_metadata

pytestmark = pytest.mark.data


def _baseline() -> dict[str, float]:
    text = resources.files("tidings.eval").joinpath("baseline.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


@pytest.fixture(scope="module")
def report(shared_data: Path) -> dict[str, Any]:
    pages = shared_data / "readability_pages"
    if not pages.is_dir():
        pytest.skip(f"Readability test pages not found at {pages}")
    return evaluate_metadata(pages)


def _misses(report: dict[str, Any], field: str) -> str:
    lines = [
        f"  {m['page']}: expected {m['expected']!r}, got {m['got']!r}"
        for m in report["misses"]
        if m["field"] == field
    ]
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("title", "extract_metadata_title"),
        ("byline", "extract_metadata_byline"),
        ("date", "extract_metadata_date"),
    ],
)
def test_metadata_meets_baseline(report: dict[str, Any], field: str, key: str) -> None:
    minimum = _baseline()[key]
    score = report["ours"][field]
    assert score >= minimum, (
        f"metadata {field} accuracy {score:.3f} < stored minimum {minimum:.3f} "
        f"(trafilatura: {report['trafilatura'][field]:.3f}); misses:\n{_misses(report, field)}"
    )
