"""The window of recent articles held as columns: rows, postings, stories, popularity by
day, compaction, and the candidates read from it. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from tidings.rank.candidates import candidate_rows
from tidings.rank.state import ReaderState
from tidings.rank.window import ArticleWindow, epoch
from tidings.store.embedding import to_bytes
from tidings.types import ArticleFacts, InterestKind

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
DIMENSIONS = 8


def vector(seed: int) -> bytes:
    v = np.random.default_rng(seed).standard_normal(DIMENSIONS).astype(np.float32)
    return to_bytes(v / np.linalg.norm(v))


def facts(article_id: int, hours_ago: float, **changes: object) -> ArticleFacts:
    base: dict[str, object] = {
        "article_id": article_id,
        "source_id": 1 + article_id % 3,
        "source_name": "S",
        "title": f"Headline {article_id}",
        "summary": "A summary that goes on",
        "published": NOW - timedelta(hours=hours_ago),
        "body_chars": 2000,
        "vector": vector(article_id),
        "topics": (("medtop:11000000", "politics", 0.8),),
        "entities": ((100 + article_id % 4, "", 500), (7, "", 0)),
    }
    base.update(changes)
    return ArticleFacts(**base)  # type: ignore[arg-type]


def window_of(*articles: ArticleFacts) -> ArticleWindow:
    window = ArticleWindow(dimensions=DIMENSIONS)
    window.upsert(list(articles))
    return window


SINCE = epoch(NOW - timedelta(days=7))


def test_rows_are_found_by_id_and_replaced_not_duplicated() -> None:
    window = window_of(*(facts(i, i) for i in range(1, 6)))
    assert len(window) == 5 and 3 in window and 9 not in window
    rows = window.rows_of([5, 9, 1])
    assert rows[1] == -1 and rows[0] >= 0 and rows[2] >= 0
    window.upsert([facts(3, 1, topics=(("medtop:15000000", "sport", 1.0),))])
    assert len(window) == 5
    columns = window.take(window.rows_of([3]), popularity_since=SINCE)
    assert [window.topics.names[c] for c in columns.topic_code] == ["medtop:15000000"]
    # Sport goes stale faster than politics.
    assert columns.half_life[0] == 12.0
    window.remove([3, 42])
    assert 3 not in window and len(window) == 4


def test_postings_give_the_newest_live_rows_of_each_key() -> None:
    window = window_of(*(facts(i, 100 - i) for i in range(1, 41)))
    rows = window.newest([7], window.by_entity, 5, SINCE)
    assert sorted(window.take(rows, popularity_since=SINCE).ids.tolist()) == [36, 37, 38, 39, 40]
    # Articles older than the window are skipped.
    old = window.newest([7], window.by_entity, 50, epoch(NOW - timedelta(hours=70)))
    assert min(window.take(old, popularity_since=SINCE).ids.tolist()) == 30  # 70 h ago
    politics = window.topics.get("medtop:11000000")
    assert politics is not None and len(window.newest([politics], window.by_topic, 3, SINCE)) == 3
    # Postings survive sealing and compaction.
    window.by_entity.seal()
    window.remove(range(30, 41))
    old_rows = window.newest([7], window.by_entity, 5, SINCE)
    compacted = window.compacted(NOW, force=True)
    assert compacted is not None
    # The old window is untouched: a page being made from it stays consistent.
    assert window.take(old_rows, popularity_since=SINCE).ids.tolist() == [25, 26, 27, 28, 29]
    window = compacted
    rows = window.newest([7], window.by_entity, 5, SINCE)
    assert sorted(window.take(rows, popularity_since=SINCE).ids.tolist()) == [25, 26, 27, 28, 29]


def test_stories_count_once_and_follow_storage() -> None:
    window = window_of(
        facts(1, 3, story_id=9, story_sources=2),
        facts(2, 2, story_id=9, story_sources=2),
        facts(3, 1, story_id=4),
    )
    window.set_story(9, sources=5, recent=4, last_seen=NOW, representative=2)
    columns = window.take(window.rows_of([1, 2, 3]), popularity_since=SINCE)
    assert columns.story_sources.tolist() == [5, 5, 1]
    assert columns.story.tolist() == [9, 9, 4]
    top = window.top_story_rows(1, SINCE)
    assert window.take(top, popularity_since=SINCE).ids.tolist() == [2]  # its representative
    # A member moved to another story is no longer found under the old one.
    window.upsert([facts(1, 3, story_id=4)])
    moved = window.newest([9], window.by_story, 10, SINCE)
    assert window.take(moved, popularity_since=SINCE).ids.tolist() == [2]


def test_popularity_is_counted_per_day_and_forgotten() -> None:
    window = window_of(facts(1, 1), facts(2, 1))
    today = int(epoch(NOW) // 86400)
    window.set_engagement([(1, today, 10, 4), (2, today - 1, 5, 1), (3, today, 9, 9)])
    window.set_engagement([(1, today, 12, 5)])  # a day's total, not an increment
    cols = window.take(window.rows_of([1, 2]), popularity_since=epoch(NOW - timedelta(days=2)))
    assert (cols.shown.tolist(), cols.engaged.tolist()) == ([12, 5], [5, 1])
    today_only = window.take(window.rows_of([1, 2]), popularity_since=epoch(NOW))
    assert today_only.shown.tolist() == [12, 0]
    # Counts for an article not held yet wait for it.
    window.upsert([facts(3, 1)])
    assert window.take(window.rows_of([3]), popularity_since=epoch(NOW)).shown.tolist() == [9]
    # Four days on, the slot of the first day is reused and its counts are gone.
    window.set_engagement([(2, today + 4, 1, 0)])
    later = window.take(window.rows_of([1, 2]), popularity_since=0.0)
    assert later.shown.tolist() == [0, 1 + 5]


def test_compaction_drops_aged_out_and_dead_rows_and_keeps_the_rest() -> None:
    # Published 153 to 180 hours ago: five hours on, a week back reaches the first four.
    window = window_of(*(facts(i, 150 + 3 * i) for i in range(1, 11)))
    window.remove([3])
    keep = window.take(window.rows_of([1, 2]), popularity_since=SINCE)
    assert window.compacted(NOW - timedelta(hours=20)) is None  # one dead in ten: not yet
    compacted = window.compacted(NOW + timedelta(hours=5), force=True)
    assert compacted is not None and len(window) == 9
    window = compacted
    assert len(window) == 3 and 3 not in window and 4 in window and 5 not in window
    again = window.take(window.rows_of([1, 2]), popularity_since=SINCE)
    for name in ("ids", "published", "source", "topic_code", "entity_id", "entity_offset"):
        np.testing.assert_array_equal(getattr(again, name), getattr(keep, name))
    np.testing.assert_allclose(again.vectors, keep.vectors)
    assert window.memory_bytes() > 0


def test_candidates_come_from_follows_top_stories_taste_and_the_newest() -> None:
    window = window_of(
        *(facts(i, 150 - 5 * i) for i in range(1, 30)),
        facts(50, 1, source_id=9, story_id=3, story_sources=4),
    )
    state = ReaderState(
        follows={
            InterestKind.SOURCE: {"9": "Nine"},
            InterestKind.ENTITY: {"101": "Somebody"},
        }
    )
    found: list[int] = []

    def similar(vectors: np.ndarray, limit: int) -> list[list[int]]:
        # One search for every probe (the liked article, and the mean of all liked).
        assert vectors.ndim == 2 and len(vectors) == 2
        found.append(limit)
        return [[2, 999], []]

    liked = window.take(window.rows_of([5]), popularity_since=SINCE).vectors
    assert liked is not None
    reader = ReaderState(follows=state.follows, liked=liked, liked_ids=(5,))
    rows = candidate_rows(window, reader, NOW, history=[4], similar=similar)
    ids = set(window.take(rows, popularity_since=SINCE).ids.tolist())
    assert 50 in ids  # followed source, and a top story
    assert {29, 25, 21} <= ids  # the followed entity 101's newest
    assert 2 in ids and 4 in ids and found  # the vector index's, the reader's history
    hidden = ReaderState(follows=state.follows, hidden=frozenset({50}))
    rows = candidate_rows(window, hidden, NOW)
    assert 50 not in window.take(rows, popularity_since=SINCE).ids.tolist()


def test_a_top_storys_representative_is_used_only_while_it_is_recent() -> None:
    window = window_of(
        facts(1, 24 * 7 + 2, story_id=5, story_sources=4),  # older than the week
        facts(2, 5, story_id=5, story_sources=4),
    )
    window.set_story(5, sources=4, recent=1, representative=1)
    top = window.top_story_rows(10, SINCE)
    assert window.take(top, popularity_since=SINCE).ids.tolist() == [2]


def test_a_snapshot_gives_back_the_same_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    window = window_of(
        *(facts(i, 100 - i, story_id=i % 4, authors=("Ann Lee",)) for i in range(1, 30))
    )
    window.remove([5])
    window.set_engagement([(7, int(epoch(NOW) // 86400), 9, 2)])
    path = tmp_path / "window.npz"
    window.save(path, position=42)
    loaded = ArticleWindow.load(path, dimensions=DIMENSIONS)
    assert loaded is not None
    again, position = loaded
    assert position == 42 and len(again) == len(window) and 5 not in again
    ids = [i for i in range(1, 30) if i != 5]
    a = window.take(window.rows_of(ids), popularity_since=SINCE)
    b = again.take(again.rows_of(ids), popularity_since=SINCE)
    for name in ("ids", "published", "story", "story_sources", "topic_code", "entity_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert window.texts(window.rows_of(ids)) == again.texts(again.rows_of(ids))
    assert again.topics.names == window.topics.names
    rows = again.newest([7], again.by_entity, 3, SINCE)
    assert sorted(again.take(rows, popularity_since=SINCE).ids.tolist()) == [27, 28, 29]
    # It goes on growing like any window.
    again.upsert([facts(99, 1)])
    assert 99 in again
    # Damaged, missing, or made for other vectors: storage is read instead.
    path.write_bytes(path.read_bytes()[:100])
    assert ArticleWindow.load(path, dimensions=DIMENSIONS) is None
    assert ArticleWindow.load(tmp_path / "none.npz", dimensions=DIMENSIONS) is None
    window.save(path, position=1)
    assert ArticleWindow.load(path, dimensions=DIMENSIONS + 1) is None


def test_newest_of_keys_with_nothing_live_or_unknown() -> None:
    window = window_of(*(facts(i, 100 - i) for i in range(1, 6)))
    late = epoch(NOW + timedelta(hours=1))  # nothing published since
    assert len(window.newest([7], window.by_entity, 5, late)) == 0
    assert len(window.newest([12345], window.by_entity, 5, SINCE)) == 0
    assert len(window.newest([], window.by_entity, 5, SINCE)) == 0
    window.by_entity.seal()
    assert len(window.newest([7, 12345], window.by_entity, 5, late)) == 0
    # Empty postings (no article ever named a source this way).
    assert len(ArticleWindow(dimensions=DIMENSIONS).newest([1], window.by_story, 5, SINCE)) == 0


def test_newest_gives_each_key_its_own_newest_rows_sealed_or_recent() -> None:
    window = window_of(*(facts(i, 100 - i) for i in range(1, 41)))
    window.by_entity.seal()
    window.upsert([facts(i, 100 - i) for i in range(41, 46)])  # recent postings
    rows = window.newest([7, 101], window.by_entity, 3, SINCE)
    ids = window.take(rows, popularity_since=SINCE).ids.tolist()
    # Entity 7 is in every article, 101 in those with id % 4 == 1 (a row of both keys may
    # come twice: callers take the union).
    assert set(ids) == {43, 44, 45} | {37, 41, 45}


def test_story_rows_are_the_live_members_of_each_story() -> None:
    window = window_of(
        facts(1, 3, story_id=9), facts(2, 2, story_id=9), facts(3, 1, story_id=4), facts(5, 1)
    )
    rows = window.story_rows([9, 4, 77], SINCE)
    assert sorted(window.take(rows, popularity_since=SINCE).ids.tolist()) == [1, 2, 3]
    window.upsert([facts(1, 3, story_id=4)])  # moved to another story
    rows = window.story_rows([9], SINCE)
    assert window.take(rows, popularity_since=SINCE).ids.tolist() == [2]
    assert len(window.story_rows([], SINCE)) == 0
