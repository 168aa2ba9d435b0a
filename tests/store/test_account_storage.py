"""Accounts, tokens and full-text search, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.errors import ReaderNotFoundError
from tidings.store.sql import SQLStorage
from tidings.types import ArticleDraft, DigestFrequency, TokenKind

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_an_account_starts_with_defaults_and_keeps_its_changes(storage: SQLStorage) -> None:
    ana = storage.add_reader("ana", created=T0)
    first = storage.get_account(ana.id)
    assert (first.email, first.has_password, first.digest) == (None, False, DigestFrequency.OFF)
    storage.update_account(ana.id, now=T0, email="ana@example.org", password_hash="$argon2id$x")
    changed = storage.update_account(ana.id, now=T0, digest=DigestFrequency.DAILY)
    assert changed.email == "ana@example.org"
    assert changed.has_password
    assert changed.digest is DigestFrequency.DAILY
    assert storage.password_hash("ana") == (ana.id, "$argon2id$x")
    assert storage.password_hash("nobody") is None
    assert [a.reader_id for a in storage.accounts_with_digests()] == [ana.id]
    with pytest.raises(ReaderNotFoundError):
        storage.get_account(ana.id + 1)
    with pytest.raises(ValueError, match="not account fields"):
        storage.update_account(ana.id, now=T0, name="x")


def test_tokens_are_found_by_hash_listed_and_revoked_per_reader(storage: SQLStorage) -> None:
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    api = storage.add_token(
        ana.id, kind=TokenKind.API, name="script", secret_hash="a" * 64, created=T0
    )
    storage.add_token(
        ana.id,
        kind=TokenKind.SESSION,
        name="browser",
        secret_hash="b" * 64,
        created=T0,
        expires=T0 + timedelta(days=30),
    )
    theirs = storage.add_token(
        bo.id, kind=TokenKind.API, name="x", secret_hash="c" * 64, created=T0
    )
    found = storage.token_by_secret("a" * 64)
    assert found is not None and found.id == api.id and found.kind is TokenKind.API
    assert storage.token_by_secret("d" * 64) is None
    assert [t.name for t in storage.list_tokens(ana.id)] == ["script", "browser"]
    assert [t.name for t in storage.list_tokens(ana.id, kind=TokenKind.API)] == ["script"]
    # Another reader's token id revokes nothing.
    assert storage.revoke_tokens(ana.id, at=T0, token_id=theirs.id) == 0
    assert storage.list_tokens(bo.id)[0].revoked is None
    assert storage.revoke_tokens(ana.id, at=T0, kind=TokenKind.SESSION) == 1
    assert [t.name for t in storage.list_tokens(ana.id)] == ["script"]
    storage.touch_token(api.id, at=T0 + timedelta(hours=2))
    used = storage.token_by_secret("a" * 64)
    assert used is not None and used.last_used == T0 + timedelta(hours=2)
    storage.remove_reader(ana.id)
    assert storage.token_by_secret("a" * 64) is None


def test_search_finds_stemmed_words_in_titles_first(storage: SQLStorage) -> None:
    source = storage.add_source("https://a.example/feed", added=T0)
    drafts = [
        ArticleDraft(guid="1", title="Elections in Spain", body="Voters went to the polls."),
        ArticleDraft(guid="2", title="Weather", body="Rain before the election in Spain."),
        ArticleDraft(guid="3", title="Markets", body="Shares fell."),
    ]
    storage.upsert_articles(source.id, drafts, fetched_at=T0)
    found = storage.search_articles("spanish? no: Spain election")
    assert found == []  # every word must match ("spanish", "no")
    found = storage.search_articles('Spain "election')
    assert [a.guid for a, _ in found] == ["1", "2"]
    assert found[0][1] > found[1][1]
    assert storage.search_articles("NEAR(spain election) OR *") == []
    assert storage.search_articles("   ") == []
    # Changes and removals reach the index.
    storage.upsert_articles(
        source.id,
        [ArticleDraft(guid="3", title="Markets", body="Shares fell after the election.")],
        fetched_at=T0 + timedelta(hours=1),
    )
    assert {a.guid for a, _ in storage.search_articles("election")} == {"1", "2", "3"}
    storage.remove_source(source.id)
    assert storage.search_articles("election") == []


def test_search_goes_through_its_index(storage: SQLStorage) -> None:
    import sqlalchemy as sa

    from tidings.store.sql import PG_SEARCH_VECTOR

    engine = storage._engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The GIN index over the same expression the query spells out.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            query = (
                f"EXPLAIN SELECT id FROM articles WHERE ({PG_SEARCH_VECTOR}) "
                "@@ websearch_to_tsquery('english'::regconfig, 'spain')"
            )
            expected = "ix_articles_search"
        else:
            # FTS5's own index (a full scan would say "SCAN articles_fts").
            query = (
                "EXPLAIN QUERY PLAN SELECT rowid FROM articles_fts "
                "WHERE articles_fts MATCH '\"spain\"'"
            )
            expected = "VIRTUAL TABLE INDEX"
        plan = " ".join(str(r[-1]) for r in conn.execute(sa.text(query)).all())
    assert expected in plan


def test_models_are_stored_and_replaced(storage: SQLStorage) -> None:
    assert storage.load_model("rank") is None
    storage.save_model("rank", '{"w": [1]}', fitted_at=T0, examples=10)
    storage.save_model("rank", '{"w": [2]}', fitted_at=T0 + timedelta(days=1), examples=20)
    assert storage.load_model("rank") == ('{"w": [2]}', T0 + timedelta(days=1), 20)


def test_upgrading_counts_the_events_already_stored(database_url: str) -> None:
    from pathlib import Path

    import sqlalchemy as sa
    from alembic import command

    from tidings.store.sql import alembic_config, open_storage

    database = sa.make_url(database_url).database
    if database_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    with open_storage(database_url) as storage:
        source = storage.add_source("https://a.example/feed", added=T0)
        storage.upsert_articles(
            source.id, [ArticleDraft(guid="1", title="T", body="B")], fetched_at=T0
        )
    # Events written straight into the 0003 tables, as an older Tidings did, then upgraded.
    command.downgrade(alembic_config(database_url), "0003")
    with _at_0003(database_url) as conn:
        article = conn.exec_driver_sql("SELECT id FROM articles").scalar()
        conn.exec_driver_sql(
            "INSERT INTO readers (name, created, exploration, diversity) "
            "VALUES ('ana', '2024-05-01 12:00:00', 0.1, 0.3)"
        )
        reader = conn.exec_driver_sql("SELECT id FROM readers").scalar()
        for kind, at in (
            ("impression", "2024-05-01 12:00:00"),
            ("impression", "2024-05-02 09:00:00"),
            ("open", "2024-05-02 09:01:00"),
            ("hide", "2024-05-02 09:02:00"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO events (reader_id, article_id, kind, at) VALUES (:r, :a, :k, :t)"
                ),
                {"r": reader, "a": article, "k": kind, "t": at},
            )
    with open_storage(database_url) as storage:
        # Counted as readers (migration 0006): ana was first shown it on the 1st and first
        # opened it on the 2nd; her second impression adds nobody.
        day = int(T0.timestamp() // 86400)
        assert sorted(storage.engagement_since(T0)) == [
            (article, day, 1, 0),
            (article, day + 1, 0, 1),
        ]
        assert storage.engagement_since(T0 + timedelta(days=1)) == [(article, day + 1, 0, 1)]


def _at_0003(database_url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(database_url, poolclass=sa.NullPool).begin()
