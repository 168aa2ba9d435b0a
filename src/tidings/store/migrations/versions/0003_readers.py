"""Readers, what they follow and mute, their events and saved articles.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 08:00:00

Append-only, like every migration: columns are spelled out here, not taken from
``tidings.store.schema``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "readers",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created", _datetime(), nullable=False),
        sa.Column("exploration", sa.Float, nullable=False),
        sa.Column("diversity", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_readers"),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_readers_name", "readers", ["name"], unique=True)

    op.create_table(
        "interests",
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("stance", sa.String(16), nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("created", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("reader_id", "kind", "value", name="pk_interests"),
        _fk("interests", "reader_id", "readers"),
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        _fk("events", "reader_id", "readers"),
        _fk("events", "article_id", "articles"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_reader_id_at", "events", ["reader_id", "at"])
    op.create_index("ix_events_reader_id_article_id", "events", ["reader_id", "article_id"])
    op.create_index("ix_events_article_id", "events", ["article_id"])

    op.create_table(
        "saved",
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("reader_id", "article_id", name="pk_saved"),
        _fk("saved", "reader_id", "readers"),
        _fk("saved", "article_id", "articles"),
    )
    op.create_index("ix_saved_article_id", "saved", ["article_id"])


def downgrade() -> None:
    for table in ("saved", "events", "interests", "readers"):
        op.drop_table(table)
