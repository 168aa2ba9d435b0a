"""Enrichment: stories, per-article analyses, entities, topics and quotes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 07:00:00

Append-only, like every migration: columns are spelled out here, not taken from
``tidings.store.schema``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("headline", sa.Text),
        sa.Column("representative_id", sa.Integer),
        sa.Column("first_seen", _datetime(), nullable=False),
        sa.Column("last_seen", _datetime(), nullable=False),
        sa.Column("article_count", sa.Integer, nullable=False),
        sa.Column("source_count", sa.Integer, nullable=False),
        sa.Column("recent_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("total", sa.LargeBinary, nullable=False),
        sa.Column("names", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
        _fk("stories", "representative_id", "articles", "SET NULL"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_stories_last_seen", "stories", ["last_seen"])
    # "Top stories": the most covered first, recent ones picked from the index alone.
    op.create_index("ix_stories_source_count_last_seen", "stories", ["source_count", "last_seen"])

    op.create_table(
        "enrichments",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("language", sa.String(35)),
        sa.Column("enriched_at", _datetime(), nullable=False),
        sa.Column("vector", sa.LargeBinary),
        sa.Column("signature", sa.LargeBinary),
        sa.Column("story_id", sa.Integer),
        sa.Column("duplicate_of", sa.Integer),
        sa.PrimaryKeyConstraint("article_id", name="pk_enrichments"),
        _fk("enrichments", "article_id", "articles", "CASCADE"),
        _fk("enrichments", "story_id", "stories", "SET NULL"),
        _fk("enrichments", "duplicate_of", "articles", "SET NULL"),
    )
    op.create_index("ix_enrichments_story_id", "enrichments", ["story_id"])
    op.create_index("ix_enrichments_duplicate_of", "enrichments", ["duplicate_of"])

    op.create_table(
        "entities",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("aliases", sa.Text, nullable=False),
        sa.Column("article_count", sa.Integer, nullable=False),
        sa.Column("first_seen", _datetime()),
        sa.Column("last_seen", _datetime()),
        sa.PrimaryKeyConstraint("id", name="pk_entities"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_entities_article_count", "entities", ["article_count"])

    op.create_table(
        "entity_keys",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("key", "entity_id", name="pk_entity_keys"),
        _fk("entity_keys", "entity_id", "entities", "CASCADE"),
    )
    op.create_index("ix_entity_keys_entity_id", "entity_keys", ["entity_id"])

    op.create_table(
        "article_entities",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("mentions", sa.Integer, nullable=False),
        sa.Column("first_offset", sa.Integer, nullable=False),
        sa.Column("description", sa.Text),
        sa.PrimaryKeyConstraint("article_id", "entity_id", name="pk_article_entities"),
        _fk("article_entities", "article_id", "articles", "CASCADE"),
        _fk("article_entities", "entity_id", "entities", "CASCADE"),
    )
    # Recent articles naming an entity: newest ids first within the entity.
    op.create_index(
        "ix_article_entities_entity_id_article_id", "article_entities", ["entity_id", "article_id"]
    )

    op.create_table(
        "topics",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_topics"),
    )

    op.create_table(
        "article_topics",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("topic_id", sa.String(200), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("article_id", "topic_id", name="pk_article_topics"),
        _fk("article_topics", "article_id", "articles", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name="fk_article_topics_topic_id_topics",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_article_topics_topic_id_article_id", "article_topics", ["topic_id", "article_id"]
    )

    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("speaker", sa.Text),
        sa.Column("entity_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_quotes"),
        _fk("quotes", "article_id", "articles", "CASCADE"),
        _fk("quotes", "entity_id", "entities", "SET NULL"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_quotes_article_id", "quotes", ["article_id"])
    op.create_index("ix_quotes_entity_id", "quotes", ["entity_id"])


def downgrade() -> None:
    for table in (
        "quotes",
        "article_topics",
        "topics",
        "article_entities",
        "entity_keys",
        "entities",
        "enrichments",
        "stories",
    ):
        op.drop_table(table)
