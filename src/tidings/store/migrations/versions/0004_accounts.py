"""Accounts (passwords, email digests), tokens (sessions, API, private feeds) and
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

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_BODY_CHARS = 100_000

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
    op.drop_table("tokens")
    op.drop_table("accounts")
