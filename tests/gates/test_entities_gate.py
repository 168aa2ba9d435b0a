"""Quality gate: named-entity mentions, their grouping, and the share of well-formed entities
among those a reader is shown (onboarding suggestions, names in reasons), on entity-linking
news.

Scores come from :func:`tidings.eval.entities.evaluate_entities` (its docstring says how each
is counted) and must stay at or above the stored minimums in ``eval/baseline.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tidings.eval import baseline
from tidings.eval.entities import DEFAULT_MINIMUMS, GATED, evaluate_entities, gated_score

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def report(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "entity_linking_news"
    if not folder.is_dir():
        pytest.skip(f"entity-linking news data not found at {folder}")
    return evaluate_entities(folder)


@pytest.mark.parametrize(("label", "path", "key"), GATED, ids=[key for _, _, key in GATED])
def test_entities_meet_baseline(
    report: dict[str, Any], label: str, path: tuple[str, ...], key: str
) -> None:
    minimum = baseline().get(key, DEFAULT_MINIMUMS[key])
    score = gated_score(report, path)
    part = report[path[0]] if path[0] != "reader" else report["reader"][path[1]]
    detail = ", ".join(f"{k} {v:.3f}" for k, v in part.items() if isinstance(v, float))
    assert score >= minimum, (
        f"entities {label} {score:.3f} < stored minimum {minimum:.3f} ({detail})"
    )


def test_every_half_is_reported(report: dict[str, Any]) -> None:
    # The figures on each half are what show whether a rule generalises (BENCHMARKS.md).
    halves = report["halves"]
    assert {"odd", "even"} <= set(halves)
    assert (
        sum(h["documents"] for n, h in halves.items() if n not in ("odd", "even"))
        == (report["documents"])
    )
    assert halves["odd"]["documents"] + halves["even"]["documents"] == report["documents"]
