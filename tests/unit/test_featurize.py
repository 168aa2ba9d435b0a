"""The pool featuriser over the window's columns (``featurize``) against the one-article
explainer (``explain``): the same numbers for every feature. Pure."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.rank.score import (
    FEATURE_INDEX,
    FEATURES,
    explain,
    featurize,
    reasons_for,
    weight_vector,
)
from tidings.rank.state import ReaderState
from tidings.rank.window import HALF_LIVES, ArticleWindow, epoch
from tidings.store.embedding import to_bytes
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
DIMENSIONS = 16
STORY_COUNTS = {1: (3, 1), 2: (7, 5), 3: (1, 4)}


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _facts(pick: random.Random, article_id: int, vector: np.ndarray | None) -> ArticleFacts:
    topics = tuple(
        (t, t.upper(), round(pick.random(), 2)) for t in pick.sample(TOPICS, pick.randrange(4))
    )
    entities = tuple(
        (e, f"Entity {e}", pick.randrange(0, 900))
        for e in pick.sample(range(30), pick.randrange(6))
    )
    shown = pick.choice([0, 0, 3, 40])
    story = pick.choice([None, 1, 2, 3])
    # A story's counts are the story's: the same on each of its articles.
    sources, recent = STORY_COUNTS.get(story, (1, 1))
    return ArticleFacts(
        article_id=article_id,
        source_id=pick.randrange(5),
        source_name="Wire",
        title=pick.choice(TITLES),
        summary=pick.choice([None, "Talks on trade and the climate", "Markets fell"]),
        authors=tuple(pick.sample(["Ann Lee", "Bo Chan", "Cy Ode"], pick.randrange(3))),
        published=NOW - timedelta(hours=pick.uniform(-1, 100)),
        body_chars=pick.choice([0, 120, 2000]),
        story_id=story,
        story_sources=sources,
        story_recent=recent,
        topics=topics,
        entities=tuple(sorted(entities, key=lambda e: e[2])),
        vector=to_bytes(vector) if vector is not None else None,
        shown=shown,
        engaged=pick.randrange(shown + 1),
    )


def _state(pick: random.Random, rng: np.random.Generator, ids: list[int]) -> ReaderState:
    liked_ids = tuple(pick.sample(ids, 3))
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
        liked_ids=liked_ids,
        disliked=_unit(rng, 2),
        source_affinity={0: 0.4, 3: -0.7},
        known_topics=frozenset(pick.sample(TOPICS, 3)),
        topic_affinity={t: pick.uniform(-1, 1) for t in pick.sample(TOPICS, 4)},
        entity_affinity={e: pick.uniform(-1, 1) for e in pick.sample(range(30), 10)},
        often_topics=frozenset(pick.sample(TOPICS, 2)),
        often_entities=frozenset(pick.sample(range(30), 5)),
        own_shown=frozenset(pick.sample(ids, 5)),
        own_engaged=frozenset(pick.sample(ids, 3)),
        engagement_rate=0.2,
    )


def _engagement(window: ArticleWindow, articles: list[ArticleFacts]) -> None:
    day = int(epoch(NOW) // 86400)
    window.set_engagement([(a.article_id, day, a.shown, a.engaged) for a in articles])


@pytest.mark.parametrize("seed", range(20))
def test_featurize_agrees_with_explain(seed: int) -> None:
    pick = random.Random(seed)
    rng = np.random.default_rng(seed)
    vectors = _unit(rng, 40)
    articles = [
        _facts(pick, i + 1, None if i % 7 == 0 else vectors[i]) for i in range(len(vectors))
    ]
    window = ArticleWindow(span=timedelta(days=30), dimensions=DIMENSIONS)
    window.upsert(articles)
    _engagement(window, articles)
    ids = [a.article_id for a in articles]
    state = _state(pick, rng, ids) if seed % 5 else ReaderState()
    rows = window.rows_of(ids)
    columns = window.take(rows, popularity_since=epoch(NOW - timedelta(days=1)))
    times = np.array([epoch(NOW - timedelta(hours=pick.uniform(0, 10))) for _ in articles])
    matrix, exploring = featurize(state, columns, times, texts=window.texts(rows))
    assert matrix.shape == (len(articles), len(FEATURES))
    for i, facts in enumerate(articles):
        vector = columns.vectors[i] if columns.has_vector[i] else None
        moment = datetime.fromtimestamp(times[i], UTC)
        scored = explain(state, facts, vector, moment)
        np.testing.assert_allclose(matrix[i], scored.features, rtol=1e-5, atol=1e-6)
        assert bool(exploring[i]) == scored.exploring


@pytest.mark.parametrize("seed", range(20))
def test_a_pages_reasons_are_explains(seed: int) -> None:
    """``reasons_for`` (what a page shows) gives explain's weighed reasons exactly: the
    same texts, kinds, actions and weights to the bit, in the same order."""
    pick = random.Random(seed)
    rng = np.random.default_rng(seed)
    vectors = _unit(rng, 40)
    articles = [_facts(pick, i + 1, None if i % 7 == 0 else vectors[i]) for i in range(40)]
    state = _state(pick, rng, [a.article_id for a in articles]) if seed % 5 else ReaderState()
    state = replace(state, liked_titles={a: f"Title {a}" for a in state.liked_ids})
    weights = weight_vector() * rng.uniform(0.2, 2.0, len(FEATURES))
    given = 0
    for i, facts in enumerate(articles):
        vector = vectors[i] if i % 7 else None
        expected = explain(state, facts, vector, NOW).weigh(weights)[1]
        assert reasons_for(state, facts, vector, NOW, weights) == expected
        given += len(expected)
    assert given >= 40


def test_a_readers_own_engagement_is_not_popularity() -> None:
    pick = random.Random(3)
    article = replace(_facts(pick, 1, None), shown=6, engaged=6)
    window = ArticleWindow(dimensions=DIMENSIONS)
    window.upsert([article])
    _engagement(window, [article])
    columns = window.take(window.rows_of([1]), popularity_since=epoch(NOW - timedelta(days=2)))
    alone, _ = featurize(ReaderState(), columns, epoch(NOW))
    own = ReaderState(own_shown=frozenset({1}), own_engaged=frozenset({1}))
    mine, _ = featurize(own, columns, epoch(NOW))
    popularity = FEATURE_INDEX["popularity"]
    # Six readers opened it, one of them this reader: five others are still popular; the
    # reader's own part is gone from their count.
    assert mine[0, popularity] < alone[0, popularity]
    scored = explain(own, article, None, NOW)
    np.testing.assert_allclose(mine[0], scored.features, rtol=1e-6)


def test_no_articles() -> None:
    window = ArticleWindow(dimensions=DIMENSIONS)
    columns = window.take(np.zeros(0, dtype=np.int64), popularity_since=0.0)
    matrix, exploring = featurize(ReaderState(), columns, epoch(NOW))
    assert matrix.shape == (0, len(FEATURES))
    assert exploring.shape == (0,)


def test_keywords_match_whole_words_as_the_explainer_does() -> None:
    import re

    from tidings.rank.score import _whole_words

    text = "ai rules\n\nsaid the ai-lab; world cup; cupcake; x-ai; naïve ai_x"
    for word in ("ai", "cup", "world cup", "-ai", "ai_x", "rules"):
        expected = [m.start() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text)]
        assert sorted(_whole_words(text, [word])) == expected, word


def test_keywords_in_utf8_bytes_match_as_in_text() -> None:
    import re

    from tidings.rank.score import _whole_words_in_bytes

    text = "naïve ai rules\n\nsaid the ai-lab; éai; aié; 東京ai; ai東京; café cup; x-ai; ai_x ai"
    data = text.encode("utf-8")
    for word in ("ai", "cup", "café", "東京", "-ai", "ai_x", "naïve"):
        expected = [
            len(text[: m.start()].encode("utf-8"))
            for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text)
        ]
        assert sorted(_whole_words_in_bytes(data, [word])) == expected, word


@pytest.mark.parametrize("seed", range(5))
def test_joined_texts_featurise_as_the_texts_do(seed: int) -> None:
    pick = random.Random(seed)
    rng = np.random.default_rng(seed)
    vectors = _unit(rng, 30)
    # Headlines with characters beyond ASCII, so that byte and character offsets differ.
    articles = [
        replace(
            _facts(pick, i + 1, vectors[i]),
            title=pick.choice(["Naïve climate plan", "Café talks: Putin", "東京 climate", None]),
        )
        for i in range(len(vectors))
    ]
    window = ArticleWindow(span=timedelta(days=30), dimensions=DIMENSIONS)
    window.upsert(articles)
    state = _state(pick, rng, [a.article_id for a in articles])
    state = replace(
        state, follows={**state.follows, InterestKind.KEYWORD: {"climate": "c", "café": "x"}}
    )
    rows = window.rows_of([a.article_id for a in articles])[::-1].copy()
    columns = window.take(rows, popularity_since=0.0)
    joined = window.joined_texts(rows)
    assert joined.text.decode("utf-8") == "\n\n".join(window.texts(rows))
    by_text, _ = featurize(state, columns, epoch(NOW), texts=window.texts(rows))
    by_bytes, _ = featurize(state, columns, epoch(NOW), texts=joined)
    np.testing.assert_array_equal(by_text, by_bytes)
    assert by_text[:, FEATURE_INDEX["follow_keyword"]].any()
