"""What ranking reads from storage to hold recent articles in memory and follow what other
processes change: the window's pages, engagement counts, and the change sequence (migration
0006), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tidings.store.sql import SQLStorage, open_storage
from tidings.types import EventKind, ReaderEvent, StoryChange

from .test_enrichment_storage import (
    RULES,
    XI,
    enrichment,
    stored_articles,
    vector_bytes,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_the_window_is_read_in_pages_of_analysed_articles(storage: SQLStorage) -> None:
    ids = stored_articles(storage, 7)
    storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,)) for a in ids[:6]], enriched_at=T0, matcher=RULES
    )
    first = storage.window_facts(since=T0 - timedelta(days=1), limit=4)
    rest = storage.window_facts(since=T0 - timedelta(days=1), after_id=first[-1].article_id)
    # Analysed ones only (the seventh is not), in id order, entity ids without names.
    assert [f.article_id for f in first + rest] == ids[:6]
    assert first[0].entities[0][1] == ""
    assert [f.article_id for f in storage.window_facts(since=T0 + timedelta(hours=4))] == ids[4:6]


def test_a_page_reads_lean_facts_and_names_entities_apart(storage: SQLStorage) -> None:
    ids = stored_articles(storage, 2)
    storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,)) for a in ids], enriched_at=T0, matcher=RULES
    )
    shown = storage.display_facts([ids[1], ids[0], ids[1], 999_999])
    # Each analysed article once (an unknown id is left out), without tags: ranking's window
    # holds those, and the names come from entity_names.
    assert sorted(f.article_id for f in shown) == ids
    assert all(f.topics == () and f.entities == () for f in shown)
    [(entity, _, _)] = storage.window_facts(since=T0 - timedelta(days=1))[0].entities
    assert storage.entity_names([entity, entity, 999_999]) == {entity: XI.name}
    assert storage.entity_names([]) == {}


def test_the_change_sequence_says_what_changed_since(storage: SQLStorage) -> None:
    ids = stored_articles(storage, 3)
    start = storage.change_position()
    assert storage.ranking_changes(after=start).seqs == ()
    storage.save_enrichments([enrichment(storage, a) for a in ids], enriched_at=T0, matcher=RULES)
    analysed = storage.ranking_changes(after=start)
    assert sorted(f.article_id for f in analysed.articles) == ids
    assert len(set(analysed.seqs)) == 1  # one transaction, one number
    after_analysis = analysed.seqs[-1]
    assert storage.change_position() == after_analysis

    [story] = storage.save_stories(
        [
            StoryChange(
                id=None,
                total=vector_bytes(1),
                names=(),
                article_count=2,
                first_seen=T0,
                last_seen=T0 + timedelta(hours=1),
                headline="Headline",
                representative_id=ids[0],
                new_members=(ids[0], ids[1]),
            )
        ]
    ).values()
    grouped = storage.ranking_changes(after=after_analysis)
    # The members are stamped (their story changed), and the story with its counts.
    assert sorted(f.article_id for f in grouped.articles) == ids[:2]
    assert {f.story_id for f in grouped.articles} == {story}
    assert [(s.story_id, s.sources, s.representative_id) for s in grouped.stories] == [
        (story, 1, ids[0])
    ]

    reader = storage.add_reader("ana", created=T0)
    storage.record_events(reader.id, [ReaderEvent(kind=EventKind.OPEN, article_id=ids[2], at=T0)])
    engaged = storage.ranking_changes(after=grouped.seqs[-1])
    day = int(T0.timestamp() // 86400)
    assert engaged.engagement == ((ids[2], day, 0, 1),)
    assert engaged.articles == () and engaged.stories == ()

    storage.remove_source(storage.get_article(ids[0]).source_id)
    removed = storage.ranking_changes(after=engaged.seqs[-1])
    assert set(removed.dropped) == set(ids)
    # Everything from the start, read in small prefixes: no number's rows are split.
    seen: list[int] = []
    position = start
    while True:
        part = storage.ranking_changes(after=position, limit=1)
        if not part.seqs:
            break
        seen.extend(part.seqs)
        position = part.seqs[-1]
    assert seen == sorted(set(seen)) and position == removed.seqs[-1]
    # A number asked for again is read again, whatever the position (the removal's: the
    # analyses went with their articles).
    again = storage.ranking_changes(after=position, also=[removed.seqs[0]])
    assert again.seqs == (removed.seqs[0],) and set(again.dropped) == set(ids)


@pytest.mark.postgres
def test_a_change_committed_late_is_found_by_looking_again(
    storage: SQLStorage, database_url: str
) -> None:
    """On PostgreSQL a writer may take a number and commit after a later one: a follower
    that read past it finds it by asking for the missing number again."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's writers are serialised: numbers commit in order")
    (first, second) = stored_articles(storage, 2)
    start = storage.change_position()
    slow = sa.create_engine(database_url, poolclass=sa.NullPool)
    taken = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        with slow.begin() as conn:
            seq = conn.execute(sa.text("SELECT nextval('change_seq')")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO engagement (article_id, day, shown, engaged, seq) "
                    "VALUES (:a, 1, 1, 0, :s)"
                ),
                {"a": first, "s": seq},
            )
            taken.set()
            release.wait(10)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert taken.wait(10)
        reader = storage.add_reader("ana", created=T0)
        storage.record_events(
            reader.id, [ReaderEvent(kind=EventKind.IMPRESSION, article_id=second, at=T0)]
        )
        early = storage.ranking_changes(after=start)
        assert [row[0] for row in early.engagement] == [second]
        missing = [q for q in range(start + 1, early.seqs[-1]) if q not in early.seqs]
        assert missing  # the slow writer's number, not committed yet
    finally:
        release.set()
        thread.join()
        slow.dispose()
    late = storage.ranking_changes(after=early.seqs[-1], also=missing)
    assert [row[0] for row in late.engagement] == [first]


def test_opening_a_database_twice_shares_one_sequence(database_url: str) -> None:
    with open_storage(database_url) as a, open_storage(database_url) as b:
        (article,) = stored_articles(a, 1)
        a.save_enrichments([enrichment(a, article)], enriched_at=T0, matcher=RULES)
        assert b.change_position() == a.change_position() > 0
