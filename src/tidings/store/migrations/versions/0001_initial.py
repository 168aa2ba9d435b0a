"""Initial schema: sources, articles, and the other sources an article appeared in.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Migrations are append-only: once released, never edit this file; add another one. The
columns are spelled out here rather than taken from ``tidings.store.schema``, so that later
changes to that module cannot change what this revision did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("site", sa.Text),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("pages", sa.String(16), nullable=False, server_default="auto"),
        sa.Column("added", _datetime()),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_success", _datetime()),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", _datetime()),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("warning", sa.Text),
        sa.Column("interval", sa.Integer),
        sa.Column("next_poll", _datetime()),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_sources_url", "sources", ["url"], unique=True)
    op.create_index("ix_sources_next_poll", "sources", ["next_poll"])

    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("guid", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("canonical_url", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("authors", sa.Text, nullable=False),
        sa.Column("published", _datetime()),
        sa.Column("updated", _datetime()),
        sa.Column("section", sa.Text),
        sa.Column("site_name", sa.Text),
        sa.Column("extraction_note", sa.Text),
        sa.Column("summary", sa.Text),
        sa.Column("summary_points", sa.Text, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("content_html", sa.Text),
        sa.Column("language", sa.String(35)),
        sa.Column("images", sa.Text, nullable=False),
        sa.Column("related", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("fetched_at", _datetime(), nullable=False),
        sa.Column("changed_at", _datetime()),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name="fk_articles_source_id_sources",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ux_articles_source_guid",
        "articles",
        ["source_id", "guid"],
        unique=True,
        sqlite_where=sa.text("guid IS NOT NULL"),
        postgresql_where=sa.text("guid IS NOT NULL"),
    )
    op.create_index("ix_articles_canonical_url", "articles", ["canonical_url"])
    op.create_index("ix_articles_source_id_content_hash", "articles", ["source_id", "content_hash"])
    op.create_index("ix_articles_source_id_published", "articles", ["source_id", "published"])
    # SQLite refuses NULLS LAST in an index but already sorts NULL last in DESC order;
    # PostgreSQL needs it said to match ORDER BY published DESC NULLS LAST.
    published: sa.ColumnClause[object] = sa.column("published")
    published_desc = published.desc().nulls_last() if dialect == "postgresql" else published.desc()
    op.create_index("ix_articles_published", "articles", [published_desc, sa.column("id").desc()])

    op.create_table(
        "article_sources",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("first_seen", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "source_id", name="pk_article_sources"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_sources_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name="fk_article_sources_source_id_sources",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_article_sources_source_id", "article_sources", ["source_id"])


def downgrade() -> None:
    op.drop_table("article_sources")
    op.drop_table("articles")
    op.drop_table("sources")
