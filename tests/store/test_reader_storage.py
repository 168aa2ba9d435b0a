"""Readers, their follows and mutes, events and saved articles; one reader never sees
another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.errors import ArticleNotFoundError, ReaderExistsError, ReaderNotFoundError
from tidings.store.base import EventColumns
from tidings.store.sql import SQLStorage
from tidings.types import (
    ArticleDraft,
    EventKind,
    Interest,
    InterestKind,
    Reader,
    ReaderEvent,
    Stance,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def two_articles(storage: SQLStorage) -> tuple[int, int]:
    source = storage.add_source("https://a.example/feed", added=T0)
    drafts = [ArticleDraft(guid=f"g{i}", title=f"Headline {i}", body="Text.") for i in (1, 2)]
    storage.upsert_articles(source.id, drafts, fetched_at=T0)
    a, b = sorted(x.id for x in storage.find_articles(source.id, guids=["g1", "g2"]))
    return a, b


def test_readers_are_added_found_and_changed(storage: SQLStorage) -> None:
    ana = storage.add_reader("ana", created=T0)
    assert ana == Reader(id=ana.id, name="ana", created=T0, exploration=0.1, diversity=0.3)
    assert storage.get_reader("ana") == storage.get_reader(ana.id) == ana
    with pytest.raises(ReaderExistsError):
        storage.add_reader("ana", created=T0)
    with pytest.raises(ReaderNotFoundError):
        storage.get_reader("bo")
    changed = storage.update_reader(
        Reader(id=ana.id, name="ignored", exploration=0.3, diversity=0.9)
    )
    assert (changed.name, changed.exploration, changed.diversity) == ("ana", 0.3, 0.9)
    assert [r.name for r in storage.list_readers()] == ["ana"]


def test_a_stance_replaces_the_earlier_one(storage: SQLStorage) -> None:
    ana = storage.add_reader("ana", created=T0)
    xi = Interest(kind=InterestKind.ENTITY, value="7", label="Xi Jinping")
    storage.set_interest(ana.id, xi, created=T0)
    storage.set_interest(
        ana.id,
        Interest(kind=InterestKind.KEYWORD, value="football", stance=Stance.MUTE),
        created=T0,
    )
    assert [(i.kind, i.value, i.stance) for i in storage.list_interests(ana.id)] == [
        (InterestKind.ENTITY, "7", Stance.FOLLOW),
        (InterestKind.KEYWORD, "football", Stance.MUTE),
    ]
    storage.set_interest(
        ana.id, Interest(kind=InterestKind.ENTITY, value="7", stance=Stance.MUTE), created=T0
    )
    assert [i.value for i in storage.list_interests(ana.id, stance=Stance.MUTE)] == [
        "7",
        "football",
    ]
    assert storage.list_interests(ana.id, stance=Stance.FOLLOW) == []
    assert storage.remove_interest(ana.id, InterestKind.ENTITY, "7")
    assert not storage.remove_interest(ana.id, InterestKind.ENTITY, "7")


def test_events_are_all_or_nothing(storage: SQLStorage) -> None:
    a, b = two_articles(storage)
    ana = storage.add_reader("ana", created=T0)
    shown = [
        ReaderEvent(kind=EventKind.IMPRESSION, article_id=a, at=T0, value=0),
        ReaderEvent(kind=EventKind.IMPRESSION, article_id=b, at=T0, value=1),
        ReaderEvent(kind=EventKind.READ, article_id=b, at=T0 + timedelta(minutes=1), value=95),
    ]
    assert storage.record_events(ana.id, shown) == 3
    with pytest.raises(ArticleNotFoundError, match="99999"):
        storage.record_events(
            ana.id,
            [
                ReaderEvent(kind=EventKind.OPEN, article_id=a, at=T0),
                ReaderEvent(kind=EventKind.OPEN, article_id=99999, at=T0),
            ],
        )
    history = storage.reader_events(ana.id)
    assert [e.kind for e in history] == [EventKind.READ, EventKind.IMPRESSION, EventKind.IMPRESSION]
    assert history[0].value == 95
    reads = storage.reader_events(ana.id, kinds=[EventKind.READ])
    assert [e.article_id for e in reads] == [b]
    assert storage.reader_events(ana.id, since=T0 + timedelta(seconds=30)) == reads


def test_events_read_as_columns_are_the_events(storage: SQLStorage) -> None:
    """The columnar read (what a page reads) holds the same events as the objects, in the
    same order, with the same times to the microsecond, values and features."""
    a, b = two_articles(storage)
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    at = T0 + timedelta(microseconds=123_456)
    storage.record_events(
        ana.id,
        [
            ReaderEvent(kind=EventKind.IMPRESSION, article_id=a, at=at, value=0, features=b"\x01"),
            ReaderEvent(kind=EventKind.IMPRESSION, article_id=b, at=at, value=1),
            ReaderEvent(kind=EventKind.OPEN, article_id=b, at=at + timedelta(seconds=5)),
            ReaderEvent(kind=EventKind.READ, article_id=b, at=at + timedelta(days=1), value=42.5),
            ReaderEvent(kind=EventKind.HIDE, article_id=a, at=at + timedelta(days=2)),
        ],
    )
    objects = storage.reader_events(ana.id)
    columns = storage.reader_event_columns(ana.id)
    assert len(columns) == 5
    assert columns.events() == objects
    assert [e.kind for e in objects] == [
        EventKind.HIDE,
        EventKind.READ,
        EventKind.OPEN,
        EventKind.IMPRESSION,
        EventKind.IMPRESSION,
    ]
    assert columns.features[-2:] in ((b"\x01", None), (None, b"\x01"))
    assert EventColumns.of(objects).events() == objects
    since = at + timedelta(hours=1)
    assert storage.reader_event_columns(ana.id, since=since).events() == [
        e for e in objects if e.at >= since
    ]
    assert storage.reader_event_columns(ana.id, limit=2).events() == objects[:2]
    assert len(storage.reader_event_columns(bo.id)) == 0
    assert storage.reader_event_columns(bo.id).events() == []
    with pytest.raises(ReaderNotFoundError):
        storage.reader_event_columns(99999)


def test_impressions_keep_the_features_given_them_later(storage: SQLStorage) -> None:
    """Impressions recorded without features take them afterwards (featurised once by
    ranking); only the reader's own impressions of that article at that moment do."""
    a, b = two_articles(storage)
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    at = T0 + timedelta(microseconds=123_456)
    for who in (ana, bo):
        storage.record_events(
            who.id,
            [
                ReaderEvent(kind=EventKind.IMPRESSION, article_id=a, at=at, value=0),
                ReaderEvent(kind=EventKind.IMPRESSION, article_id=b, at=at, value=1),
                ReaderEvent(kind=EventKind.OPEN, article_id=a, at=at),
            ],
        )
    kept = [(a, at, b"\x01\x02"), (b, at, b""), (a, at + timedelta(seconds=1), b"\x03")]
    assert storage.keep_impression_features(ana.id, kept) == 2  # the third names no impression
    by_article = {
        e.article_id: e.features
        for e in storage.reader_events(ana.id, kinds=[EventKind.IMPRESSION])
    }
    assert by_article == {a: b"\x01\x02", b: b""}
    # Another reader's impressions, and events of other kinds, are untouched.
    assert all(e.features is None for e in storage.reader_events(bo.id))
    assert [e.features for e in storage.reader_events(ana.id, kinds=[EventKind.OPEN])] == [None]
    assert storage.keep_impression_features(ana.id, []) == 0
    with pytest.raises(ReaderNotFoundError):
        storage.keep_impression_features(99999, kept)


def test_saving_is_idempotent(storage: SQLStorage) -> None:
    a, b = two_articles(storage)
    ana = storage.add_reader("ana", created=T0)
    storage.save_article(ana.id, a, at=T0)
    storage.save_article(ana.id, a, at=T0 + timedelta(hours=1))
    storage.save_article(ana.id, b, at=T0 + timedelta(hours=2))
    assert [x.id for x in storage.saved_articles(ana.id)] == [b, a]
    assert storage.unsave_article(ana.id, b) and not storage.unsave_article(ana.id, b)
    with pytest.raises(ArticleNotFoundError):
        storage.save_article(ana.id, 99999, at=T0)


def test_one_reader_never_sees_anothers_data(storage: SQLStorage) -> None:
    a, _ = two_articles(storage)
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    storage.set_interest(
        ana.id, Interest(kind=InterestKind.TOPIC, value="medtop:15000000"), created=T0
    )
    storage.record_events(ana.id, [ReaderEvent(kind=EventKind.OPEN, article_id=a, at=T0)])
    storage.save_article(ana.id, a, at=T0)
    assert storage.list_interests(bo.id) == []
    assert storage.reader_events(bo.id) == []
    assert storage.saved_articles(bo.id) == []
    assert not storage.remove_interest(bo.id, InterestKind.TOPIC, "medtop:15000000")
    assert not storage.unsave_article(bo.id, a)
    assert len(storage.list_interests(ana.id)) == 1
    # Removing a reader removes everything of theirs, and nothing of anyone else's.
    storage.set_interest(bo.id, Interest(kind=InterestKind.KEYWORD, value="chess"), created=T0)
    storage.remove_reader("ana")
    with pytest.raises(ReaderNotFoundError):
        storage.list_interests(ana.id)
    assert [i.value for i in storage.list_interests(bo.id)] == ["chess"]


def test_removing_an_article_removes_its_events(storage: SQLStorage) -> None:
    a, _ = two_articles(storage)
    ana = storage.add_reader("ana", created=T0)
    storage.record_events(ana.id, [ReaderEvent(kind=EventKind.OPEN, article_id=a, at=T0)])
    storage.save_article(ana.id, a, at=T0)
    storage.remove_source(storage.get_article(a).source_id)
    assert storage.reader_events(ana.id) == [] and storage.saved_articles(ana.id) == []


def test_engagement_is_counted_across_readers(storage: SQLStorage) -> None:
    a, b = two_articles(storage)
    for name in ("ana", "bo"):
        reader = storage.add_reader(name, created=T0)
        storage.record_events(
            reader.id,
            [
                ReaderEvent(kind=EventKind.IMPRESSION, article_id=a, at=T0, value=0),
                ReaderEvent(kind=EventKind.OPEN, article_id=a, at=T0),
                ReaderEvent(kind=EventKind.IMPRESSION, article_id=b, at=T0, value=1),
            ],
        )
    day = int(T0.timestamp() // 86400)
    assert sorted(storage.engagement_since(T0)) == [(a, day, 2, 2), (b, day, 2, 0)]
    assert storage.engagement_since(T0 + timedelta(days=1)) == []
    # A reader counts once per article: reloading the page or opening it again adds nobody,
    # even on a later day; a new reader does.
    ana = storage.get_reader("ana")
    later = T0 + timedelta(hours=30)
    storage.record_events(
        ana.id,
        [
            ReaderEvent(kind=EventKind.IMPRESSION, article_id=a, at=later, value=0),
            ReaderEvent(kind=EventKind.OPEN, article_id=a, at=later),
            ReaderEvent(kind=EventKind.OPEN, article_id=b, at=later),
            ReaderEvent(kind=EventKind.SAVE, article_id=b, at=later),
        ],
    )
    assert sorted(storage.engagement_since(T0)) == [
        (a, day, 2, 2),
        (b, day, 2, 0),
        (b, day + 1, 0, 1),
    ]
