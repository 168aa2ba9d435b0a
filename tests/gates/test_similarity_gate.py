"""Quality gate: pair similarity against human scores on STS Benchmark news pairs.

The score is computed by :func:`tidings.eval.similarity.evaluate_similarity` (Spearman between
the engine's :class:`~tidings.enrich.similarity.SimilarityModel` score and gold over the
``main-news`` pairs of the dev split, which the model was not fitted on) and must stay at or
above the stored minimum ``similarity_spearman`` in ``eval/baseline.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tidings.eval import baseline
from tidings.eval.similarity import evaluate_similarity

pytestmark = pytest.mark.data

#: Used only if baseline.json loses the key. The plain cosine of the int8 all-MiniLM-L6-v2
#: scores 0.723 on these 500 pairs (the fp32 reference the same); that floor still catches a
#: broken tokenizer, pooling or export, while the stored minimum guards the fitted model.
DEFAULT_MINIMUM = 0.72


@pytest.fixture(scope="module")
def report(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "sts_news"
    if not (folder / "sts-dev.csv").is_file():
        pytest.skip(f"STS Benchmark not found at {folder}")
    return evaluate_similarity(folder)


def test_similarity_meets_baseline(report: dict[str, Any]) -> None:
    minimum = baseline().get("similarity_spearman", DEFAULT_MINIMUM)
    assert report["pairs"] == 500
    assert report["spearman"] >= minimum, (
        f"similarity Spearman {report['spearman']:.3f} < stored minimum {minimum:.3f} "
        f"(pearson {report['pearson']:.3f}; by file {report['by_file']}; plain cosine "
        f"{report['cosine_spearman']:.3f})"
    )


def test_model_beats_plain_cosine(report: dict[str, Any]) -> None:
    # The fitted model exists to add to the cosine; if it stops doing so it is dead weight.
    assert report["spearman"] > report["cosine_spearman"], report
