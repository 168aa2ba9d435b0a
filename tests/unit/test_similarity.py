"""Pair similarity: surface features, the tree walk, and the shipped model's sanity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tidings.enrich.embed import DIMENSIONS
from tidings.enrich.similarity import SimilarityModel, feature_names, pair_features
from tidings.store.embedding import normalize

NAMES = feature_names()


def column(row: list[float], name: str) -> float:
    return row[NAMES.index(name)]


@pytest.fixture(scope="module")
def model() -> SimilarityModel:
    return SimilarityModel()


def unit_pair(cosine: float) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Two unit vectors whose dot product is ``cosine``."""
    a = np.zeros(DIMENSIONS, dtype=np.float32)
    b = np.zeros(DIMENSIONS, dtype=np.float32)
    a[0] = 1.0
    b[0], b[1] = cosine, np.sqrt(1.0 - cosine**2)
    return a, b


def test_features_have_names_and_are_symmetric() -> None:
    first = "Apple shares rose 3.5% to $120 on Monday, traders said."
    second = "On Monday Apple's stock climbed to $120."
    row = pair_features(first, second, 0.7)
    assert len(row) == len(NAMES) == len(set(NAMES))
    assert row == pair_features(second, first, 0.7)
    assert column(row, "cosine") == 0.7


def test_identical_texts_overlap_fully() -> None:
    text = "Storms cut power to 40,000 homes along the coast."
    row = pair_features(text, text, 1.0)
    for name in NAMES:
        if name.endswith(("jaccard", "containment_small", "containment_large", "overlap")):
            assert column(row, name) == 1.0, name
        if name.endswith("unshared"):
            assert column(row, name) == 0.0, name
    assert column(row, "length_ratio") == 1.0


def test_numbers_and_names_that_differ_are_counted() -> None:
    row = pair_features(
        "Obama won 52 percent of the vote in Ohio.",
        "Romney won 48 percent of the vote in Ohio.",
        0.9,
    )
    assert column(row, "numbers_unshared") == 2.0
    assert column(row, "number_jaccard") == 0.0
    assert column(row, "names_unshared") == 2.0  # obama, romney; ohio is shared


def test_stemming_matches_inflections() -> None:
    row = pair_features("Prices rising", "price rises", 0.5)
    assert column(row, "word_jaccard") == 1.0


def test_empty_texts_give_a_finite_row() -> None:
    for first, second in [("", ""), ("", "Something happened."), ("...", "!!")]:
        row = pair_features(first, second, 0.0)
        assert len(row) == len(NAMES)
        assert all(np.isfinite(row))


def test_tree_walk_matches_a_hand_made_model() -> None:
    # One depth-2 tree: split on cosine at 0.5, then on word_jaccard at 0.25.
    data = {
        "features": NAMES,
        "init": 2.0,
        "rate": 0.5,
        "depth": 2,
        "trees": [
            {
                "feature": [0, 1, 0, 0, 1, 0, 0],
                "threshold": [0.5, 0.25, 0, 0, 0.25, 0, 0],
                "left": [1, 2, -1, -1, 5, -1, -1],
                "right": [4, 3, -1, -1, 6, -1, -1],
                "value": [0, 0, -4.0, -2.0, 0, 2.0, 4.0],
            },
            # A lone leaf: trees of different sizes share one padded table.
            {"feature": [0], "threshold": [0], "left": [-1], "right": [-1], "value": [1.0]},
        ],
    }
    small = SimilarityModel(data=data)
    rows = np.zeros((4, len(NAMES)))
    rows[:, 0] = [0.2, 0.2, 0.5, 0.9]
    rows[:, 1] = [0.1, 0.9, 0.25, 0.9]
    expected = 2.0 + 0.5 * (np.array([-4.0, -2.0, -4.0, 4.0]) + 1.0)
    assert np.allclose(small.predict(rows), expected)


def test_model_refuses_other_features() -> None:
    with pytest.raises(RuntimeError, match="retrain"):
        SimilarityModel(data={"features": ["cosine"], "trees": [], "depth": 1})


def test_shipped_model_loads(model: SimilarityModel) -> None:
    # predict() of a row of the right width runs; a wrong width is refused.
    assert model.predict([pair_features("a b", "a c", 0.5)]).shape == (1,)
    with pytest.raises(ValueError, match="shape"):
        model.predict([[0.5]])


def test_scores_are_in_range_and_follow_the_cosine(model: SimilarityModel) -> None:
    pairs = [
        ("The central bank raised interest rates.", "The central bank raised rates."),
        ("Shares rose 3% after the earnings report.", "A storm cut power to the coast."),
        ("Obama visits Kenya.", "Obama visits Kenya on Friday."),
    ]
    by_cosine = []
    for cosine in (0.0, 0.3, 0.6, 0.9, 1.0):
        a, b = unit_pair(cosine)
        scores = model.score(pairs, (np.tile(a, (3, 1)), np.tile(b, (3, 1))))
        assert scores.shape == (3,)
        assert np.all((scores >= 0.0) & (scores <= 1.0))
        by_cosine.append(scores)
    # The trees need not be monotonic in every step, but from unrelated vectors to the same
    # vector the score must rise clearly for every pair.
    assert np.all(by_cosine[-1] - by_cosine[0] > 0.3)


def test_same_text_outscores_unrelated_text(model: SimilarityModel) -> None:
    same = "Storms cut power to 40,000 homes along the coast."
    other = "The film festival opens in Venice with a new Italian drama."
    a, b = unit_pair(0.15)
    scores = model.score(
        [(same, same), (same, other)],
        (np.stack([a, a]), normalize(np.stack([a, b]))),
    )
    assert scores[0] > 0.9
    assert scores[1] < 0.2


def test_empty_input_and_mismatched_vectors(model: SimilarityModel) -> None:
    assert model.score([]).shape == (0,)
    a, b = unit_pair(0.5)
    with pytest.raises(ValueError, match="one row per pair"):
        model.score([("a", "b"), ("c", "d")], (a[None, :], b[None, :]))
