"""Page assembly over arrays (``assemble_pool``) gives the page ``assemble_page`` gives over
a Candidate per row: the ranker uses the first, the rules are written and tested on the
second, so the two are held equal item for item on random pools."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.rank.assemble import (
    Candidate,
    Mutes,
    Page,
    PageCursor,
    PageSettings,
    Pool,
    _muted,
    assemble_page,
    assemble_pool,
)

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TOPICS = ("politics", "sport", "science", "business", "culture")


def random_candidates(rng: random.Random, n: int, *, vectors: bool) -> list[Candidate]:
    generator = np.random.default_rng(rng.randrange(2**32))
    out = []
    for i in range(n):
        vector = None
        if vectors and rng.random() < 0.9:
            v = generator.normal(size=8).astype(np.float32)
            vector = v / np.linalg.norm(v)
        out.append(
            Candidate(
                article_id=1000 + i,
                story_id=rng.randrange(n // 3) if rng.random() < 0.6 else None,
                source_id=rng.randrange(12),
                published=(T0 - timedelta(minutes=rng.randrange(3000))).timestamp(),
                # Ties on purpose: rounded scores.
                score=round(rng.uniform(-2, 5), 1),
                vector=vector,
                topic_ids=tuple(rng.sample(TOPICS, rng.randrange(3))),
                read=rng.random() < 0.15,
                is_exploration=rng.random() < 0.15,
                title=f"Article {i}",
            )
        )
    return out


def pool_of(candidates: list[Candidate], mutes: Mutes) -> Pool:
    muted = _muted(candidates, mutes)
    has_vector = np.array([c.vector is not None for c in candidates], dtype=np.bool_)
    vectors = np.zeros((len(candidates), 8), dtype=np.float32)
    for i, c in enumerate(candidates):
        if c.vector is not None:
            vectors[i] = c.vector
    return Pool(
        ids=np.array([c.article_id for c in candidates], dtype=np.int64),
        story=np.array([-1 if c.story_id is None else c.story_id for c in candidates]),
        source=np.array([c.source_id for c in candidates], dtype=np.int64),
        published=np.array([c.published for c in candidates], dtype=np.float64),
        score=np.array([c.score for c in candidates], dtype=np.float64),
        read=np.array([c.read for c in candidates], dtype=np.bool_),
        exploring=np.array([c.is_exploration for c in candidates], dtype=np.bool_),
        muted=np.array([c.article_id in muted for c in candidates], dtype=np.bool_),
        vectors=vectors if has_vector.any() else None,
        has_vector=has_vector,
        topics=lambda i: candidates[i].topic_ids,
    )


def same(a: Page, b: Page) -> None:
    assert a.items == b.items
    assert a.next_cursor == b.next_cursor


@pytest.mark.parametrize("seed", range(12))
def test_pool_pages_equal_candidate_pages(seed: int) -> None:
    rng = random.Random(seed)
    candidates = random_candidates(rng, rng.choice([5, 60, 400]), vectors=seed % 4 != 3)
    mutes = Mutes(
        source_ids=frozenset({3}) if seed % 2 else frozenset(),
        topic_ids=frozenset({"sport"}) if seed % 3 == 0 else frozenset(),
    )
    settings = PageSettings(
        size=rng.choice([1, 10, 30]),
        diversity=rng.choice([0.0, 0.3, 0.7]),
        exploration=rng.choice([0.0, 0.1, 0.3]),
        per_source_cap=rng.choice([None, 2, 3]),
    )
    pool = pool_of(candidates, mutes)
    cursor: PageCursor | None = None
    # A whole session of pages: the cursor carries what was shown.
    for _ in range(6):
        expected = assemble_page(candidates, settings, mutes, cursor=cursor, now=T0)
        got = assemble_pool(pool, settings, cursor=cursor, now=T0)
        same(got, expected)
        if expected.next_cursor is None:
            break
        cursor = expected.next_cursor


def test_empty_pool() -> None:
    pool = pool_of([], Mutes())
    assert assemble_pool(pool, PageSettings()).items == ()
    assert assemble_pool(pool, PageSettings(), now=T0).next_cursor is None


def test_read_stories_never_lead_and_nan_is_refused() -> None:
    rng = random.Random(5)
    candidates = random_candidates(rng, 50, vectors=True)
    candidates[0].read = True
    candidates[0].score = 100.0
    candidates[0].is_exploration = False
    settings = PageSettings(size=5)
    same(
        assemble_pool(pool_of(candidates, Mutes()), settings, now=T0),
        assemble_page(candidates, settings, Mutes(), now=T0),
    )
    candidates[1].score = float("nan")
    candidates[1].story_id = None
    with pytest.raises(ValueError, match="finite"):
        assemble_pool(pool_of(candidates, Mutes()), settings, now=T0)
