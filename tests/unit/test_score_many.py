"""The vectorised scorer (``featurize_many``) against the scalar one (``featurize``). Pure."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.rank.score import (
    FEATURES,
    HALF_LIVES,
    ReaderState,
    featurize,
    featurize_many,
)
from tidings.types import ArticleFacts, InterestKind

NOW = datetime(2024, 10, 18, 12, tzinfo=UTC)
TOPICS = [*HALF_LIVES, "medtop:11000000", "medtop:04000000", "section:world", "relation:a-b"]
TITLES = [
    "Xi and Putin meet in Beijing",
    "You won't believe what the markets did",
    "Flood waters rise in the delta",
    "10 things to know about the summit",
    None,
]


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _facts(pick: random.Random, article_id: int) -> ArticleFacts:
    topics = tuple(
        (t, t.upper(), round(pick.random(), 2)) for t in pick.sample(TOPICS, pick.randrange(4))
    )
    entities = tuple(
        (e, f"Entity {e}", pick.randrange(0, 900))
        for e in pick.sample(range(30), pick.randrange(6))
    )
    shown = pick.choice([0, 0, 3, 40])
    return ArticleFacts(
        article_id=article_id,
        source_id=pick.randrange(5),
        source_name="Wire",
        title=pick.choice(TITLES),
        summary=pick.choice([None, "Talks on trade and the climate", "Markets fell"]),
        authors=tuple(pick.sample(["Ann Lee", "Bo Chan", "Cy Ode"], pick.randrange(3))),
        published=NOW - timedelta(hours=pick.uniform(-1, 100)),
        body_chars=pick.choice([0, 120, 2000]),
        story_id=pick.choice([None, 1, 2, 3]),
        story_sources=pick.randrange(1, 8),
        story_recent=pick.randrange(1, 8),
        topics=topics,
        entities=tuple(sorted(entities, key=lambda e: e[2])),
        shown=shown,
        engaged=pick.randrange(shown + 1),
    )


def _state(
    pick: random.Random, rng: np.random.Generator, articles: list[ArticleFacts]
) -> ReaderState:
    liked_ids = tuple(a.article_id for a in pick.sample(articles, 3))
    return ReaderState(
        follows={
            InterestKind.ENTITY: {str(e): f"Entity {e}" for e in pick.sample(range(30), 4)},
            InterestKind.TOPIC: {t: t for t in pick.sample(TOPICS, 2)},
            InterestKind.SOURCE: {"1": "One"},
            InterestKind.AUTHOR: {"bo chan": "Bo Chan"},
            InterestKind.STORY: {"2": "Two"},
            InterestKind.KEYWORD: {"climate": "climate", "putin": "Putin"},
        },
        liked=_unit(rng, 3),
        liked_titles=("a", "b", "c"),
        liked_ids=liked_ids,
        disliked=_unit(rng, 2),
        source_affinity={0: 0.4, 3: -0.7},
        known_topics=frozenset(pick.sample(TOPICS, 3)),
        topic_affinity={t: pick.uniform(-1, 1) for t in pick.sample(TOPICS, 4)},
        entity_affinity={e: pick.uniform(-1, 1) for e in pick.sample(range(30), 10)},
        engagement_rate=0.2,
    )


@pytest.mark.parametrize("seed", range(20))
def test_featurize_many_agrees_with_featurize(seed: int) -> None:
    pick = random.Random(seed)
    rng = np.random.default_rng(seed)
    articles = [_facts(pick, i) for i in range(1, 41)]
    state = _state(pick, rng, articles) if seed % 5 else ReaderState()
    vectors = _unit(rng, len(articles))
    vectors[::7] = 0.0  # articles without an embedding
    times = [NOW - timedelta(hours=pick.uniform(0, 10)) for _ in articles]
    matrix, exploring = featurize_many(state, articles, vectors, times)
    assert matrix.shape == (len(articles), len(FEATURES))
    for i, facts in enumerate(articles):
        vector = vectors[i] if vectors[i].any() else None
        scored = featurize(state, facts, vector, times[i])
        np.testing.assert_allclose(matrix[i], scored.features, rtol=1e-5, atol=1e-6)
        assert bool(exploring[i]) == scored.exploring


def test_engagement_stands_for_the_facts_counts() -> None:
    pick = random.Random(1)
    articles = [_facts(pick, i) for i in range(1, 6)]
    state = ReaderState(engagement_rate=0.1)
    counts = {2: (50, 30), 4: (8, 0)}
    matrix, _ = featurize_many(state, articles, None, NOW, engagement=counts)
    for i, a in enumerate(articles):
        shown, engaged = counts.get(a.article_id, (0, 0))
        expected = featurize(state, replace(a, shown=shown, engaged=engaged), None, NOW)
        np.testing.assert_allclose(matrix[i], expected.features, rtol=1e-9)


def test_no_articles() -> None:
    matrix, exploring = featurize_many(ReaderState(), [], None, NOW)
    assert matrix.shape == (0, len(FEATURES))
    assert exploring.shape == (0,)
