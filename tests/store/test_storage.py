"""SQLStorage against real databases: SQLite always, PostgreSQL with TIDINGS_TEST_DATABASE_URL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tidings.errors import (
    ArticleNotFoundError,
    SourceExistsError,
    SourceNotFoundError,
    StorageError,
)
from tidings.store import Storage
from tidings.store.schema import article_sources, metadata, objects_for
from tidings.store.sql import SQLStorage, alembic_config, open_storage
from tidings.types import ArticleDraft, Image, Link, PagePolicy, Source, SourceKind

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


def draft(n: int, **changes: object) -> ArticleDraft:
    base = ArticleDraft(
        guid=f"guid-{n}",
        url=f"https://example.com/{n}",
        canonical_url=f"https://example.com/{n}",
        title=f"Headline {n}",
        published=T0 + timedelta(minutes=n),
        body=f"Body {n}.",
    )
    return replace(base, **changes)


def also_seen_in(engine: sa.Engine) -> set[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(article_sources.c.article_id, article_sources.c.source_id))
        return {(row.article_id, row.source_id) for row in rows}


def test_sql_storage_satisfies_protocol(storage: SQLStorage) -> None:
    checked: Storage = storage
    assert checked is storage


# --- sources ---------------------------------------------------------------------------


def test_source_round_trips_every_field(storage: SQLStorage) -> None:
    added = storage.add_source(
        "https://example.com/feed.xml",
        kind=SourceKind.LOCAL,
        title="Exämple ✓",
        site="https://example.com/",
        tags=("world", "Politik"),
        added=T0.astimezone(CEST),
    )
    assert added.id > 0
    assert added.added == T0
    assert added.added is not None and added.added.tzinfo == UTC
    assert added.next_poll is None
    assert added.failures == 0

    polled = replace(
        added,
        kind=SourceKind.FEED,
        title="New title",
        site=None,
        tags=("tech",),
        etag='W/"abc"',
        last_modified="Wed, 01 May 2024 10:00:00 GMT",
        last_success=T0 + timedelta(hours=1),
        last_error="HTTP 503 from example.com",
        last_error_at=(T0 + timedelta(hours=2)).astimezone(CEST),
        failures=3,
        warning="ill-formed XML",
        interval=1800,
        next_poll=T0 + timedelta(hours=3, microseconds=7),
    )
    stored = storage.update_source(polled)
    assert stored == polled
    assert storage.get_source(added.id) == polled
    assert storage.get_source("https://example.com/feed.xml") == polled
    for when in (stored.last_success, stored.last_error_at, stored.next_poll):
        assert when is not None and when.utcoffset() == timedelta(0)


def test_update_source_leaves_id_url_and_added_alone(storage: SQLStorage) -> None:
    added = storage.add_source("https://example.com/a", added=T0)
    stored = storage.update_source(
        replace(added, url="https://elsewhere/", added=T0 + timedelta(days=1), title="t")
    )
    assert (stored.id, stored.url, stored.added, stored.title) == (
        added.id,
        added.url,
        T0,
        "t",
    )


def test_adding_a_source_twice_is_refused(storage: SQLStorage) -> None:
    storage.add_source("https://example.com/feed", added=T0)
    with pytest.raises(SourceExistsError) as caught:
        storage.add_source("https://example.com/feed", added=T0, title="again")
    assert "https://example.com/feed" in str(caught.value)
    assert len(storage.list_sources()) == 1


def test_unknown_sources_are_not_found(storage: SQLStorage) -> None:
    with pytest.raises(SourceNotFoundError):
        storage.get_source(404)
    with pytest.raises(SourceNotFoundError):
        storage.get_source("https://nowhere/")
    with pytest.raises(SourceNotFoundError):
        storage.update_source(Source(id=404, url="https://nowhere/"))
    with pytest.raises(SourceNotFoundError):
        storage.remove_source(404)
    with pytest.raises(SourceNotFoundError):
        storage.upsert_articles(404, [draft(1)], fetched_at=T0)


def test_list_sources_filters(storage: SQLStorage) -> None:
    never = storage.add_source("https://a/", tags=("news", "de"), added=T0)
    past = storage.add_source("https://b/", tags=("newsletter",), added=T0)
    future = storage.add_source("https://c/", tags=("News",), added=T0)
    manual = storage.add_source("https://d/", kind=SourceKind.MANUAL, tags=("news",), added=T0)
    storage.update_source(replace(past, next_poll=T0 - timedelta(minutes=1)))
    storage.update_source(replace(future, next_poll=T0 + timedelta(minutes=1)))
    storage.update_source(replace(manual, next_poll=T0))

    def ids(sources: list[Source]) -> list[int]:
        return [s.id for s in sources]

    assert ids(storage.list_sources()) == [never.id, past.id, future.id, manual.id]
    assert ids(storage.list_sources(due_at=T0)) == [never.id, past.id, manual.id]
    assert ids(storage.list_sources(due_at=T0.astimezone(CEST))) == [never.id, past.id, manual.id]
    # Tags match exactly: not "newsletter" for "news", not "News".
    assert ids(storage.list_sources(tag="news")) == [never.id, manual.id]
    assert ids(storage.list_sources(tag="%")) == []
    assert ids(storage.list_sources(kinds=[SourceKind.FEED])) == [never.id, past.id, future.id]
    assert ids(storage.list_sources(kinds=[])) == []
    assert ids(
        storage.list_sources(due_at=T0, tag="news", kinds=[SourceKind.FEED, SourceKind.LOCAL])
    ) == [never.id]


def test_remove_source_deletes_its_articles(storage: SQLStorage) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    storage.upsert_articles(a.id, [draft(1), draft(2)], fetched_at=T0)
    storage.upsert_articles(b.id, [draft(3)], fetched_at=T0)
    storage.remove_source("https://a/")
    assert [s.id for s in storage.list_sources()] == [b.id]
    assert storage.count_articles() == 1
    assert [x.title for x in storage.list_articles()] == ["Headline 3"]


def test_remove_source_hands_shared_articles_to_the_other_source(
    storage: SQLStorage, raw: sa.Engine
) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    c = storage.add_source("https://c/", added=T0)
    shared_id = storage.upsert_articles(a.id, [draft(1)], fetched_at=T0).changed_ids[0]
    storage.upsert_articles(a.id, [draft(2)], fetched_at=T0)
    # B and C carry the same story under their own guids; B saw it first.
    storage.upsert_articles(b.id, [draft(1, guid="b-1")], fetched_at=T0 + timedelta(hours=1))
    storage.upsert_articles(c.id, [draft(1, guid="c-1")], fetched_at=T0 + timedelta(hours=2))
    assert also_seen_in(raw) == {(shared_id, b.id), (shared_id, c.id)}

    storage.remove_source(a.id)

    shared = storage.get_article(shared_id)
    assert shared.source_id == b.id
    assert shared.guid is None
    assert shared.fetched_at == T0
    assert storage.count_articles() == 1
    assert also_seen_in(raw) == {(shared_id, c.id)}
    # B keeps recognising it by canonical URL.
    again = storage.upsert_articles(b.id, [draft(1, guid="b-1")], fetched_at=T0)
    assert (again.new, again.unchanged) == (0, 1)
    storage.remove_source(b.id)
    assert storage.get_article(shared_id).source_id == c.id
    assert also_seen_in(raw) == set()


# --- articles --------------------------------------------------------------------------


def test_article_round_trips_every_field(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    full = ArticleDraft(
        url="https://example.com/2024/05/01/naïve-story?x=1",
        canonical_url="https://example.com/naïve-story",
        guid="urn:uuid:0f8e-✓",
        title="Zürich: „Quotes“ & <tags> 🚀",
        authors=("Ana Lopez", "李雷"),
        published=datetime(2024, 5, 1, 14, 30, 5, 123456, tzinfo=CEST),
        updated=datetime(2024, 5, 1, 13, 0, tzinfo=UTC),
        section="China-Russia relations",
        summary="A teaser.",
        summary_points=("One point.", "Two — points."),
        body="First paragraph.\n\nSecond paragraph.",
        content_html="<p>First <b>paragraph</b>.</p>",
        language="de-CH",
        images=(
            Image(url="https://img/1.jpg", caption="A caption", credit="Reuters/John Smith"),
            Image(url="https://img/2.jpg"),
        ),
        related=(Link(url="https://example.com/r", title="Related"), Link(title="No URL")),
        tags=("politics", "Europe"),
    )
    result = storage.upsert_articles(source.id, [full], fetched_at=T0.astimezone(CEST))
    assert (result.new, result.updated, result.unchanged) == (1, 0, 0)
    stored = storage.get_article(result.changed_ids[0])
    expected_fields = {
        **{name: getattr(full, name) for name in ArticleDraft.__dataclass_fields__},
        "id": result.changed_ids[0],
        "source_id": source.id,
        "content_hash": full.digest(),
        "fetched_at": T0,
        "changed_at": T0,
    }
    assert {name: getattr(stored, name) for name in expected_fields} == expected_fields
    assert stored.published is not None and stored.published.tzinfo == UTC

    empty = ArticleDraft()
    empty_id = storage.upsert_articles(source.id, [empty], fetched_at=T0).changed_ids[0]
    stored_empty = storage.get_article(empty_id)
    assert stored_empty.content_hash == empty.digest()
    assert stored_empty.published == T0  # undated: dated when first seen
    assert stored_empty.authors == () and stored_empty.images == ()


def test_undated_article_keeps_its_first_date(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    undated = ArticleDraft(guid="u", title="No date given")
    first = storage.upsert_articles(source.id, [undated], fetched_at=T0)
    later = T0 + timedelta(hours=5)
    again = storage.upsert_articles(source.id, [undated], fetched_at=later)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    revised = replace(undated, title="No date given, revised")
    third = storage.upsert_articles(source.id, [revised], fetched_at=later)
    assert third.updated == 1
    stored = storage.get_article(first.changed_ids[0])
    assert stored.title == "No date given, revised"
    assert stored.published == T0


def test_reingesting_updates_only_what_changed(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    first = storage.upsert_articles(source.id, [draft(1), draft(2)], fetched_at=T0)
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    id1, id2 = first.changed_ids

    later = T0 + timedelta(hours=1)
    same = storage.upsert_articles(source.id, [draft(1), draft(2)], fetched_at=later)
    assert (same.new, same.updated, same.unchanged, same.changed_ids) == (0, 0, 2, ())
    assert storage.get_article(id1).changed_at == T0

    edited = draft(2, title="Corrected headline")
    changed = storage.upsert_articles(source.id, [draft(1), edited], fetched_at=later)
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 1)
    assert changed.changed_ids == (id2,)
    article = storage.get_article(id2)
    assert article.title == "Corrected headline"
    assert article.content_hash == edited.digest()
    assert (article.fetched_at, article.changed_at, article.source_id) == (T0, later, source.id)
    assert article.digest() == article.content_hash
    assert storage.count_articles() == 2


def test_guid_match_wins_even_if_urls_changed(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    (article_id,) = storage.upsert_articles(source.id, [draft(1)], fetched_at=T0).changed_ids
    moved = draft(1, url="https://example.com/moved", canonical_url="https://example.com/moved")
    result = storage.upsert_articles(source.id, [moved], fetched_at=T0)
    assert (result.new, result.updated, result.changed_ids) == (0, 1, (article_id,))
    assert storage.get_article(article_id).canonical_url == "https://example.com/moved"


def test_guid_identity_is_per_source(storage: SQLStorage) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    storage.upsert_articles(a.id, [draft(1, guid="1")], fetched_at=T0)
    result = storage.upsert_articles(b.id, [draft(2, guid="1")], fetched_at=T0)
    assert result.new == 1
    assert storage.count_articles() == 2


def test_new_guid_with_known_canonical_url_is_the_known_article(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    (article_id,) = storage.upsert_articles(source.id, [draft(1)], fetched_at=T0).changed_ids
    result = storage.upsert_articles(source.id, [draft(1, guid="renumbered")], fetched_at=T0)
    assert (result.new, result.unchanged) == (0, 1)
    assert storage.get_article(article_id).guid == "guid-1"


def test_same_canonical_url_in_another_source_is_one_article(
    storage: SQLStorage, raw: sa.Engine
) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    (article_id,) = storage.upsert_articles(a.id, [draft(1)], fetched_at=T0).changed_ids
    result = storage.upsert_articles(b.id, [draft(1, guid="b-7")], fetched_at=T0)
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    assert storage.count_articles() == 1
    assert storage.get_article(article_id).source_id == a.id
    assert also_seen_in(raw) == {(article_id, b.id)}
    storage.upsert_articles(b.id, [draft(1, guid="b-7")], fetched_at=T0)
    assert also_seen_in(raw) == {(article_id, b.id)}
    assert storage.count_articles(source_id=a.id) == 1
    assert storage.count_articles(source_id=b.id) == 0


def test_another_sources_copy_only_brings_newer_revisions(storage: SQLStorage) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    mine = draft(1, updated=T0)
    (article_id,) = storage.upsert_articles(a.id, [mine], fetched_at=T0).changed_ids

    # Two feeds with different teasers must not overwrite each other on every poll.
    teaser = draft(1, guid="b-1", summary="B's teaser", updated=T0)
    assert storage.upsert_articles(b.id, [teaser], fetched_at=T0).unchanged == 1
    assert storage.get_article(article_id).summary is None

    revised = draft(1, guid="b-1", title="Revised", updated=T0 + timedelta(hours=1))
    result = storage.upsert_articles(b.id, [revised], fetched_at=T0 + timedelta(hours=1))
    assert (result.updated, result.changed_ids) == (1, (article_id,))
    article = storage.get_article(article_id)
    assert (article.title, article.source_id) == ("Revised", a.id)

    # The owner's stale copy does not take it back.
    assert storage.upsert_articles(a.id, [mine], fetched_at=T0).unchanged == 1
    assert storage.get_article(article_id).title == "Revised"


def test_entries_without_guid_or_canonical_url_are_known_by_content(storage: SQLStorage) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    bare = ArticleDraft(title="Untitled note", body="Text.")
    (article_id,) = storage.upsert_articles(a.id, [bare], fetched_at=T0).changed_ids
    assert storage.upsert_articles(a.id, [bare], fetched_at=T0).unchanged == 1
    # Changed content has no identity to be matched by: it is another article.
    assert storage.upsert_articles(a.id, [replace(bare, body="Other.")], fetched_at=T0).new == 1
    # Content identity is per source.
    assert storage.upsert_articles(b.id, [bare], fetched_at=T0).new == 1
    assert storage.count_articles() == 3
    assert storage.get_article(article_id).body == "Text."


def test_duplicates_in_one_batch_count_once_and_the_last_wins(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    batch = [
        draft(1, title="first"),
        draft(2),
        draft(1, title="second"),
        draft(3, guid=None, canonical_url="https://example.com/3"),
        draft(4, guid="other", canonical_url="https://example.com/3", title="by canonical"),
        ArticleDraft(title="bare"),
        ArticleDraft(title="bare"),
    ]
    result = storage.upsert_articles(source.id, batch, fetched_at=T0)
    assert (result.new, result.updated, result.unchanged) == (4, 0, 0)
    id1, _id2, id3, _bare = result.changed_ids
    assert storage.get_article(id1).title == "second"
    merged = storage.get_article(id3)
    assert (merged.title, merged.guid) == ("by canonical", "other")
    assert storage.count_articles() == 4

    # A known article seen twice in a batch: unchanged, then changed, counts as updated.
    again = storage.upsert_articles(
        source.id, [draft(2), draft(1, title="second"), draft(2, title="edited")], fetched_at=T0
    )
    assert (again.new, again.updated, again.unchanged) == (0, 1, 1)
    assert storage.get_article(again.changed_ids[0]).title == "edited"


def test_changed_ids_follow_input_order(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    first = storage.upsert_articles(source.id, [draft(1), draft(2)], fetched_at=T0)
    id1, id2 = first.changed_ids
    result = storage.upsert_articles(
        source.id,
        [draft(3), draft(2, title="edit"), draft(1), draft(4), draft(1, title="edit")],
        fetched_at=T0,
    )
    id3, id4 = (a.id for a in sorted(storage.list_articles(), key=lambda a: a.id)[2:])
    assert result.changed_ids == (id3, id2, id1, id4)


def test_large_batches_are_looked_up_in_chunks(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    drafts = [draft(n) for n in range(1234)]
    assert storage.upsert_articles(source.id, drafts, fetched_at=T0).new == 1234
    drafts[1000] = draft(1000, title="edited")
    result = storage.upsert_articles(source.id, drafts, fetched_at=T0)
    assert (result.new, result.updated, result.unchanged) == (0, 1, 1233)
    assert storage.count_articles() == 1234


def test_empty_batch_writes_nothing(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    result = storage.upsert_articles(source.id, [], fetched_at=T0)
    assert (result.new, result.updated, result.unchanged, result.changed_ids) == (0, 0, 0, ())


def test_naive_datetimes_are_refused(storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    with pytest.raises(StorageError, match="naive datetime"):
        storage.upsert_articles(source.id, [draft(1)], fetched_at=datetime(2024, 5, 1))
    assert storage.count_articles() == 0


def test_list_articles_newest_first_with_undated_last(storage: SQLStorage) -> None:
    a = storage.add_source("https://a/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    storage.upsert_articles(
        a.id,
        [draft(1), draft(5, published=None), draft(3), draft(6, published=None)],
        fetched_at=T0,
    )
    storage.upsert_articles(
        b.id, [draft(4), draft(2), draft(7, published=T0 + timedelta(minutes=3))], fetched_at=T0
    )

    def titles(**kwargs: int) -> list[str]:
        return [x.title or "" for x in storage.list_articles(**kwargs)]

    # Equal dates fall back to the newest id; undated articles come last.
    assert titles() == [
        "Headline 4",
        "Headline 7",
        "Headline 3",
        "Headline 2",
        "Headline 1",
        "Headline 6",
        "Headline 5",
    ]
    assert titles(limit=2, offset=2) == ["Headline 3", "Headline 2"]
    assert titles(source_id=a.id) == ["Headline 3", "Headline 1", "Headline 6", "Headline 5"]
    assert titles(limit=0) == []
    assert storage.count_articles() == 7
    assert storage.count_articles(source_id=b.id) == 3


def test_get_article_unknown_id(storage: SQLStorage) -> None:
    with pytest.raises(ArticleNotFoundError):
        storage.get_article(12345)


def test_source_health_counts_every_source(storage: SQLStorage) -> None:
    a = storage.add_source("https://a/", added=T0)
    empty = storage.add_source("https://empty/", added=T0)
    b = storage.add_source("https://b/", added=T0)
    storage.upsert_articles(a.id, [draft(1), draft(9), draft(3, published=None)], fetched_at=T0)
    storage.upsert_articles(b.id, [draft(2, published=None)], fetched_at=T0)
    health = storage.source_health()
    assert [(h.source.id, h.articles, h.latest_article) for h in health] == [
        (a.id, 3, T0 + timedelta(minutes=9)),
        (empty.id, 0, None),
        (b.id, 1, T0),  # an undated article is dated when first seen
    ]
    assert health[0].source == a


# --- migrations ------------------------------------------------------------------------


def test_opening_again_keeps_the_data(database_url: str, storage: SQLStorage) -> None:
    source = storage.add_source("https://example.com/feed", added=T0)
    with open_storage(database_url) as again:
        assert again.get_source(source.id) == source


def test_database_is_at_the_head_revision(storage: SQLStorage) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads == ["0008"]
    assert storage.schema_revision() == tuple(heads)


def test_migrations_build_what_the_schema_module_describes(raw: sa.Engine) -> None:
    with raw.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": objects_for(conn.dialect.name)},
        )
        assert compare_metadata(context, metadata) == []


def test_concurrent_first_opens_migrate_once(database_url: str) -> None:
    opened: list[SQLStorage] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_storage(database_url))
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            failures.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        heads = tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
        assert [s.schema_revision() for s in opened] == [heads] * 4
    finally:
        for s in opened:
            s.close()


def test_alembic_runs_from_a_url_for_developers(database_url: str) -> None:
    database = sa.make_url(database_url).database
    if database_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")
    with open_storage(database_url) as storage:
        assert storage.schema_revision() == tuple(
            ScriptDirectory.from_config(alembic_config()).get_heads()
        )


def test_a_database_at_the_first_revision_is_upgraded_with_its_data(database_url: str) -> None:
    database = sa.make_url(database_url).database
    if database_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "0001")
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sources (url, kind, tags, failures) "
            "VALUES ('https://example.com/feed', 'feed', '[]', 0)"
        )
    engine.dispose()
    with open_storage(database_url) as storage:
        assert storage.schema_revision() == tuple(
            ScriptDirectory.from_config(alembic_config()).get_heads()
        )
        assert storage.get_source("https://example.com/feed").kind is SourceKind.FEED


def test_a_schema_from_a_newer_tidings_is_refused(database_url: str, storage: SQLStorage) -> None:
    storage.close()
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(StorageError, match=r"9999.*newer Tidings"):
        open_storage(database_url)


# --- SQLite specifics and errors -------------------------------------------------------


def test_sqlite_connections_are_set_up_for_sharing(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "tidings.sqlite"
    with open_storage(f"sqlite:///{path}") as storage:
        assert path.is_file()
        engine = storage._engine
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15_000


def test_sqlite_writers_wait_for_each_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.sqlite'}"
    with open_storage(url) as first, open_storage(url) as second:
        sources = [first.add_source(f"https://{n}/", added=T0) for n in range(2)]
        errors: list[BaseException] = []

        def ingest(storage: SQLStorage, source: Source) -> None:
            try:
                for batch in range(10):
                    drafts = [draft(batch * 50 + n) for n in range(50)]
                    storage.upsert_articles(source.id, drafts, fetched_at=T0)
            except BaseException as e:  # noqa: BLE001 - handed to the main thread  # noqa: BLE001 - handed to the main thread
                errors.append(e)

        threads = [
            threading.Thread(target=ingest, args=(s, src))
            for s, src in zip((first, second), sources, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        # Both sources carry the same canonical URLs: each article is stored once.
        assert first.count_articles() == 500


def test_unreachable_postgresql_is_a_clear_error_without_the_password() -> None:
    secret = "s3cr3t-Pa55"
    with pytest.raises(StorageError) as caught:
        open_storage(f"postgresql+psycopg://tidings:{secret}@127.0.0.1:1/tidings?connect_timeout=3")
    error = caught.value
    assert "connect to the database" in str(error)
    assert "127.0.0.1" in str(error)
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert all(secret not in str(e) and secret not in repr(e) for e in chain)
    assert secret not in (error.resource or "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://u:s3cr3t@host:port/db", "not a database URL"),
        ("mysql://u:s3cr3t@host/db", "unsupported database"),
        ("postgresql+psycopg2://u:s3cr3t@host/db", "not installed"),
    ],
)
def test_bad_urls_are_clear_errors_without_the_password(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as caught:
        open_storage(url)
    assert "s3cr3t" not in str(caught.value)


def test_find_articles_by_guid_and_canonical_url(storage: SQLStorage) -> None:
    a = storage.add_source("https://a.example/feed", added=T0)
    b = storage.add_source("https://b.example/feed", added=T0)
    storage.upsert_articles(
        a.id,
        [
            ArticleDraft(guid="g1", title="One", canonical_url="https://news.example/1"),
            ArticleDraft(guid="g2", title="Two", canonical_url="https://news.example/2"),
        ],
        fetched_at=T0,
    )
    found = storage.find_articles(a.id, guids=["g1", "nope"])
    assert [x.title for x in found] == ["One"]
    # guids are per source; canonical URLs identify articles across sources.
    assert storage.find_articles(b.id, guids=["g1"]) == []
    across = storage.find_articles(b.id, canonical_urls=["https://news.example/2"])
    assert [x.title for x in across] == ["Two"]
    both = storage.find_articles(a.id, guids=["g1"], canonical_urls=["https://news.example/1"])
    assert len(both) == 1
    assert storage.find_articles(a.id) == []


def test_source_page_policy_round_trips(storage: SQLStorage) -> None:
    source = storage.add_source("https://a.example/feed", pages=PagePolicy.NEVER, added=T0)
    assert storage.get_source(source.id).pages is PagePolicy.NEVER
    changed = storage.update_source(replace(source, pages=PagePolicy.ALWAYS))
    assert changed.pages is PagePolicy.ALWAYS
