"""What the reader's own data needs of storage, on SQLite and PostgreSQL: clippings, the
deletion of a reader with the articles only they added, finding articles by address, and
the suggestions' lookups by the start of a name; and migration 0008."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from tests.store.test_enrichment_storage import (
    POLITICS,
    RELATION,
    RULES,
    T0,
    XI,
    enrichment,
    stored_articles,
)
from tidings.errors import ArticleNotFoundError, ReaderNotFoundError
from tidings.store.sql import SQLStorage, alembic_config, open_storage
from tidings.types import (
    ArticleDraft,
    EventKind,
    FoundEntity,
    Interest,
    InterestKind,
    ReaderEvent,
    SourceKind,
    TokenKind,
    TopicKind,
    TopicTag,
)

#: Every table that holds a reader's own rows.
READER_TABLES = ("interests", "events", "saved", "clippings", "accounts", "tokens")


def test_clippings_are_kept_per_reader_newest_first(storage: SQLStorage) -> None:
    a, b = stored_articles(storage, 2)
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    storage.add_clipping(ana.id, a, at=T0)
    storage.add_clipping(ana.id, b, at=T0 + timedelta(minutes=1))
    storage.add_clipping(ana.id, a, at=T0 + timedelta(minutes=2))  # idempotent: kept as it was
    assert [(x.id, at) for x, at in storage.clipped_articles(ana.id)] == [
        (b, T0 + timedelta(minutes=1)),
        (a, T0),
    ]
    assert storage.clipped_articles(bo.id) == []
    with pytest.raises(ArticleNotFoundError):
        storage.add_clipping(ana.id, 10_000, at=T0)
    with pytest.raises(ReaderNotFoundError):
        storage.clipped_articles(10_000)


def test_removing_a_reader_removes_every_row_of_theirs_and_only_their_own_articles(
    storage: SQLStorage, raw: sa.Engine
) -> None:
    feed_article, shared_feed = stored_articles(storage, 2)
    clips = storage.add_source("manual:Added by readers", kind=SourceKind.MANUAL, added=T0)
    drafts = [ArticleDraft(guid=f"sha256:{i}", title=f"Pasted {i}", body="Text.") for i in range(3)]
    storage.upsert_articles(clips.id, drafts, fetched_at=T0)
    mine, ours, carried = sorted(
        a.id for a in storage.find_articles(clips.id, guids=[d.guid or "" for d in drafts])
    )
    # The third also came from a feed: it is not in the database because of ana alone.
    other_feed = storage.add_source("https://b.example/feed", added=T0)
    storage.upsert_articles(
        other_feed.id,
        [ArticleDraft(guid="sha256:2", title="Pasted 2", body="Text.")],
        fetched_at=T0,
    )
    with raw.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO article_sources (article_id, source_id, first_seen) "
                "VALUES (:a, :s, :t)"
            ),
            {"a": carried, "s": other_feed.id, "t": T0.replace(tzinfo=None)},
        )
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    for article in (mine, ours, carried, feed_article):
        storage.add_clipping(ana.id, article, at=T0)
        storage.save_article(ana.id, article, at=T0)
    storage.add_clipping(bo.id, ours, at=T0)
    storage.save_article(bo.id, shared_feed, at=T0)
    storage.set_interest(ana.id, Interest(kind=InterestKind.KEYWORD, value="gaza"), created=T0)
    storage.record_events(ana.id, [ReaderEvent(kind=EventKind.OPEN, article_id=mine, at=T0)])
    storage.update_account(ana.id, now=T0, email="ana@example.org")
    storage.add_token(ana.id, kind=TokenKind.API, name="script", secret_hash="h" * 64, created=T0)

    assert storage.remove_reader("ana", clippings_source=clips.id) == [mine]
    with raw.connect() as conn:
        for table in READER_TABLES:
            left = conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE reader_id = :r"),
                {"r": ana.id},
            ).scalar_one()
            assert left == 0, table
        removed = conn.execute(sa.text("SELECT article_id FROM article_removals")).scalars().all()
    assert removed == [mine]
    with pytest.raises(ArticleNotFoundError):
        storage.get_article(mine)
    for kept in (ours, carried, feed_article, shared_feed):
        storage.get_article(kept)
    assert [a.id for a, _ in storage.clipped_articles(bo.id)] == [ours]
    with pytest.raises(ReaderNotFoundError):
        storage.get_reader("ana")
    # Without a clippings source, only the reader's rows go.
    assert storage.remove_reader("bo") == []
    storage.get_article(ours)


def test_articles_are_found_by_their_canonical_address(storage: SQLStorage) -> None:
    source = storage.add_source("https://a.example/feed", added=T0)
    storage.upsert_articles(
        source.id,
        [
            ArticleDraft(guid="1", canonical_url="https://a.example/one", title="One"),
            ArticleDraft(guid="2", canonical_url="https://a.example/two", title="Two"),
        ],
        fetched_at=T0,
    )
    found = storage.articles_by_address(
        ["https://a.example/two", "https://a.example/none", "https://a.example/two"]
    )
    assert {url: a.title for url, a in found.items()} == {"https://a.example/two": "Two"}
    assert storage.articles_by_address([]) == {}


def test_suggestions_find_names_and_labels_by_their_start(storage: SQLStorage) -> None:
    ids = stored_articles(storage, 4)
    mexico = FoundEntity(name="Mexico", type="PLACE")
    percent = FoundEntity(name="100% Pure_Xi Club", type="ORG")
    storage.save_enrichments(
        [
            enrichment(storage, ids[0], entities=(XI, mexico), topics=(POLITICS, RELATION)),
            enrichment(storage, ids[1], entities=(XI,), topics=(RELATION,)),
            enrichment(storage, ids[2], entities=(mexico, percent), topics=(POLITICS,)),
            enrichment(
                storage,
                ids[3],
                topics=(TopicTag(id="section:sport", label="Sport", kind=TopicKind.SECTION),),
            ),
        ],
        enriched_at=T0,
        matcher=RULES,
    )
    assert [e.name for e in storage.suggest_entities("xi")] == ["Xi Jinping"]
    assert [e.name for e in storage.suggest_entities("JINP")] == ["Xi Jinping"]
    assert [e.name for e in storage.suggest_entities("president xi")] == ["Xi Jinping"]
    assert [e.name for e in storage.suggest_entities("me")] == ["Mexico"]
    # LIKE's own characters are matched as themselves, not as wildcards.
    assert storage.suggest_entities("_") == [] and storage.suggest_entities("%") == []
    assert storage.suggest_entities("   ") == []
    assert [(t.id, n) for t, n in storage.suggest_topics("russia")] == [
        ("relation:china-russia", 2)
    ]
    assert [(t.id, n) for t, n in storage.suggest_topics("Pol")] == [("medtop:11000000", 2)]
    assert [t.label for t, _ in storage.suggest_topics("sp")] == ["Sport"]
    assert storage.suggest_topics("%") == [] and storage.suggest_topics("") == []
    assert len(storage.suggest_entities("x", limit=1)) == 1


def test_migration_0008_merges_sections_naming_a_relation(database_url: str) -> None:
    database = sa.make_url(database_url).database
    if database_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    with open_storage(database_url) as storage:
        a, b, c = stored_articles(storage, 3)
        section = TopicTag(
            id="section:china-russia-relations",
            label="China-Russia relations",
            kind=TopicKind.SECTION,
        )
        world = TopicTag(id="section:world", label="World", kind=TopicKind.SECTION)
        storage.save_enrichments(
            [
                enrichment(storage, a, topics=(section, RELATION)),  # both: one stays
                enrichment(storage, b, topics=(section, world)),
                enrichment(storage, c, topics=(RELATION,)),
            ],
            enriched_at=T0,
            matcher=RULES,
        )
        ana = storage.add_reader("ana", created=T0)
        bo = storage.add_reader("bo", created=T0)
        for who in (ana, bo):
            storage.set_interest(
                who.id,
                Interest(kind=InterestKind.TOPIC, value=section.id, label=section.label),
                created=T0,
            )
        storage.set_interest(
            bo.id,
            Interest(kind=InterestKind.TOPIC, value=RELATION.id, label=RELATION.label),
            created=T0,
        )
    command.downgrade(alembic_config(database_url), "0006")
    with open_storage(database_url) as storage:
        assert storage.schema_revision() == ("0008",)
        topics = {t.id: n for t, n in storage.list_topics()}
        assert "section:china-russia-relations" not in topics
        assert topics["relation:china-russia"] == 3 and topics["section:world"] == 1
        for who in ("ana", "bo"):
            follows = storage.list_interests(storage.get_reader(who).id)
            assert [(i.kind, i.value, i.label) for i in follows] == [
                (InterestKind.TOPIC, "relation:china-russia", "China–Russia relations")
            ], who
