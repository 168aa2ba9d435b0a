"""Quality gate: named-entity mentions and their grouping on entity-linking news.

Scores come from :func:`tidings.eval.entities.evaluate_entities` (its docstring says how each
is counted) and must stay at or above the stored minimums in ``eval/baseline.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tidings.eval import baseline
from tidings.eval.entities import DEFAULT_MINIMUMS, evaluate_entities

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def report(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "entity_linking_news"
    if not folder.is_dir():
        pytest.skip(f"entity-linking news data not found at {folder}")
    return evaluate_entities(folder)


@pytest.mark.parametrize(
    ("path", "key"),
    [(("mentions", "f1"), "entities_mention_f1"), (("pairwise", "f1"), "entities_pairwise_f1")],
)
def test_entities_meet_baseline(report: dict[str, Any], path: tuple[str, str], key: str) -> None:
    minimum = baseline().get(key, DEFAULT_MINIMUMS[key])
    part = report[path[0]]
    score = part[path[1]]
    assert score >= minimum, (
        f"entities {key} {score:.3f} < stored minimum {minimum:.3f} "
        f"(precision {part['precision']:.3f}, recall {part['recall']:.3f})"
    )
