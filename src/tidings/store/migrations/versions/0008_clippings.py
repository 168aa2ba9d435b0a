"""Readers' clippings, and one topic for a relation however an article came to carry it.

Clippings: the articles a reader added themselves (a link or a copied page, on the page or
through the API), so that the reader's own list, their exported data and the deletion of
their account know which articles are theirs (``clippings``).

Topics: a publisher's section that names a relation between two countries ("China-Russia
relations", "US–China ties") was stored as a section topic (``section:china-russia-
relations``) beside the relation topic analysis finds in the text (``relation:china-
russia``, "China–Russia relations"): two topics for one thing. Analysis now gives such a
section the relation's topic; this revision merges the stored ones: each such section's
articles carry the relation instead (an article that carried both keeps one), readers who
followed or muted the section now follow or mute the relation (where they had a stance on
both, the relation's stays), and the section topic goes. A process that is already running
sees the merged topics when it restarts (a new Tidings restarts them anyway).

Downgrading drops the clippings; the merged topics stay merged (which articles carried the
relation only through their section is not recorded).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The last word of a section label that names a relation (``enrich.pipeline.
#: section_relation`` at this revision).
RELATION_WORDS = ("relation", "relations", "ties")


def upgrade() -> None:
    op.create_table(
        "clippings",
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("added", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reader_id", "article_id", name="pk_clippings"),
        sa.ForeignKeyConstraint(
            ["reader_id"],
            ["readers.id"],
            name="fk_clippings_reader_id_readers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_clippings_article_id_articles",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_clippings_article_id", "clippings", ["article_id"])
    merge_relation_sections(op.get_bind())


def merge_relation_sections(conn: sa.Connection) -> int:
    """Merge every stored section topic that names a relation into the relation's topic;
    how many were merged."""
    from tidings.enrich.relations import relation_named

    sections = conn.execute(sa.text("SELECT id, label FROM topics WHERE kind = 'section'")).all()
    merged = 0
    for section_id, label in sections:
        words = " ".join(label.split()).split(" ")
        if len(words) < 2 or words[-1].casefold() not in RELATION_WORDS:
            continue
        found = relation_named(" ".join(words[:-1]))
        if found is None:
            continue
        relation_id, relation_label = found
        _merge(conn, section_id, relation_id, relation_label)
        merged += 1
    return merged


def _merge(conn: sa.Connection, section_id: str, relation_id: str, label: str) -> None:
    ids = {"section": section_id, "relation": relation_id, "label": label}
    exists = conn.execute(sa.text("SELECT 1 FROM topics WHERE id = :relation"), ids).first()
    if exists is None:
        conn.execute(
            sa.text(
                "INSERT INTO topics (id, label, kind, parent) "
                "VALUES (:relation, :label, 'relation', NULL)"
            ),
            ids,
        )
    conn.execute(
        sa.text(
            "INSERT INTO article_topics (article_id, topic_id, confidence) "
            "SELECT s.article_id, CAST(:relation AS VARCHAR(200)), s.confidence "
            "FROM article_topics s "
            "WHERE s.topic_id = :section AND NOT EXISTS ("
            " SELECT 1 FROM article_topics r"
            " WHERE r.article_id = s.article_id AND r.topic_id = :relation)"
        ),
        ids,
    )
    conn.execute(
        sa.text(
            "UPDATE interests SET value = :relation, label = :label "
            "WHERE kind = 'topic' AND value = :section AND NOT EXISTS ("
            " SELECT 1 FROM interests r WHERE r.reader_id = interests.reader_id"
            " AND r.kind = 'topic' AND r.value = :relation)"
        ),
        ids,
    )
    conn.execute(sa.text("DELETE FROM interests WHERE kind = 'topic' AND value = :section"), ids)
    conn.execute(sa.text("DELETE FROM article_topics WHERE topic_id = :section"), ids)
    conn.execute(sa.text("DELETE FROM topics WHERE id = :section"), ids)


def downgrade() -> None:
    op.drop_index("ix_clippings_article_id", table_name="clippings")
    op.drop_table("clippings")
