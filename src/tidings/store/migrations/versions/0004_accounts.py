"""Accounts (passwords, email digests), tokens (sessions, API, private feeds), models
learned from all readers, per-day engagement counts and covering indexes for ranking, and
full-text search over articles.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00

Append-only, like every migration: columns are spelled out here, not taken from
``tidings.store.schema``.

Search: on SQLite an FTS5 table with external content (the articles table), kept current
by triggers; on PostgreSQL an expression GIN index over the English text-search vector of
title, summary and the first :data:`SEARCH_BODY_CHARS` of the body (a tsvector holds at
most 1 MB, and a longer hostile body must not make its INSERT fail).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_BODY_CHARS = 100_000
#: Event kinds counted as engaging (``tidings.store.sql.ENGAGING`` at this revision).
ENGAGING = ("open", "save", "share")

#: Shared with ``tidings.store.sql`` (its query must repeat the index's expression).
PG_SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B') || "
    f"to_tsvector('english'::regconfig, left(coalesce(body, ''), {SEARCH_BODY_CHARS}))"
)

_SQLITE_SEARCH = (
    # Porter stemming over Unicode words, accents folded: "elections" finds "election".
    """CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, summary, body,
        content='articles', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, summary, body)
        VALUES (new.id, new.title, new.summary, new.body);
    END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
    END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body ON articles
    BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
        INSERT INTO articles_fts(rowid, title, summary, body)
        VALUES (new.id, new.title, new.summary, new.body);
    END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
)


def _count_engagement(engagement: sa.Table) -> None:
    """Fill the per-day counts from the events stored so far (in Python: the day of a
    stored time is spelled differently on each database)."""
    events = sa.table(
        "events",
        sa.column("article_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    counts: dict[tuple[int, int], list[int]] = {}
    rows = op.get_bind().execute(
        sa.select(events.c.article_id, events.c.kind, events.c.at).where(
            events.c.kind.in_(("impression", *ENGAGING))
        )
    )
    for article_id, kind, at in rows:
        if isinstance(at, str):  # SQLite hands back the stored text
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        slot = counts.setdefault((article_id, int(at.timestamp() // 86400)), [0, 0])
        slot[0 if kind == "impression" else 1] += 1
    batch = [
        {"article_id": a, "day": d, "shown": n[0], "engaged": n[1]} for (a, d), n in counts.items()
    ]
    for start in range(0, len(batch), 5000):
        op.bulk_insert(engagement, batch[start : start + 5000])


def _datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("password_hash", sa.Text),
        sa.Column("digest", sa.String(8), nullable=False),
        sa.Column("digest_last_sent", _datetime()),
        sa.Column("created", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("reader_id", name="pk_accounts"),
        sa.ForeignKeyConstraint(
            ["reader_id"],
            ["readers.id"],
            name="fk_accounts_reader_id_readers",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created", _datetime(), nullable=False),
        sa.Column("last_used", _datetime()),
        sa.Column("expires", _datetime()),
        sa.Column("revoked", _datetime()),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["reader_id"],
            ["readers.id"],
            name="fk_tokens_reader_id_readers",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_tokens_secret_hash", "tokens", ["secret_hash"], unique=True)
    op.create_index("ix_tokens_reader_id_kind", "tokens", ["reader_id", "kind"])

    op.create_table(
        "models",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("fitted_at", _datetime(), nullable=False),
        sa.Column("examples", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_models"),
    )

    engagement = op.create_table(
        "engagement",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("shown", sa.Integer, nullable=False),
        sa.Column("engaged", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("article_id", "day", name="pk_engagement"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_engagement_article_id_articles",
            ondelete="CASCADE",
        ),
    )
    _count_engagement(engagement)
    op.create_index(
        "ix_article_entities_rank", "article_entities", ["article_id", "entity_id", "first_offset"]
    )
    op.create_index(
        "ix_article_topics_rank", "article_topics", ["article_id", "topic_id", "confidence"]
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_search ON articles USING GIN (({PG_SEARCH_VECTOR}))")
    else:
        for statement in _SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_search")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS articles_fts_{name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    op.drop_index("ix_article_topics_rank", "article_topics")
    op.drop_index("ix_article_entities_rank", "article_entities")
    op.drop_table("engagement")
    op.drop_table("models")
    op.drop_table("tokens")
    op.drop_table("accounts")
