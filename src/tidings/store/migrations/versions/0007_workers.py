"""Workers: leases on work shared through the database, and what serving nodes share.

Revision ID: 0007
Revises: 0006

Append-only, like every migration: columns are spelled out here, not taken from
``tidings.store.schema``.

- ``sources.operator``: the source was added from the operator's command line, so fetching
  it may use the network allowances (``allowed_networks``, ``--allow-network``); sources
  readers add through the API or the pages never may. Sources already stored cannot tell who
  added them and start as readers' (the safe side); ``tidings source trust`` vouches for one.
- ``sources.lease_owner``/``lease_until``: the worker reading a source, until when; no other
  worker takes it meanwhile, and one that dies lets it go when the lease runs out.
- ``analysis_queue``: the articles waiting for analysis, leased the same way, in priority
  order; filled here with the articles whose current version has no analysis.
- ``enrichments.depth`` (``quick`` or ``full``) and ``enrichments.analyses`` (how many were
  stored: one per pass, so work done twice shows); existing analyses are full, and one.
- ``accounts.digest_lease_owner``/``digest_lease_until``: the worker sending a digest.
- ``interests`` gets an index by what is followed (``kind``, ``value``).
- ``follow_marks``: the last change that brought something followed a new article, so that
  every serving node's cached pages go stale together.
- ``rate_limits``: attempts counted for sign-in and sign-up limits, shared by every node.
- ``database_identity``: one random token per database, recorded in files built from it (the
  vector index), so that a file of a database dropped and made again at the same URL is
  rebuilt rather than trusted.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: SQLite adds (and, since 3.35, drops) a column
    # with no constraint of its own in place, and a batch copy of a table that others
    # reference fails inside the migration's transaction.
    op.add_column(
        "sources", sa.Column("operator", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("sources", sa.Column("lease_owner", sa.String(128)))
    op.add_column("sources", _time("lease_until"))
    op.add_column(
        "enrichments", sa.Column("depth", sa.String(8), nullable=False, server_default="full")
    )
    op.add_column(
        "enrichments", sa.Column("analyses", sa.Integer, nullable=False, server_default="1")
    )
    op.add_column("accounts", sa.Column("digest_lease_owner", sa.String(128)))
    op.add_column("accounts", _time("digest_lease_until"))
    op.create_index("ix_interests_kind_value", "interests", ["kind", "value"])

    op.create_table(
        "analysis_queue",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("needs", sa.SmallInteger, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        _time("dated", nullable=False),
        _time("queued", nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        _time("lease_until"),
        sa.PrimaryKeyConstraint("article_id", name="pk_analysis_queue"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_analysis_queue_article_id_articles",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_analysis_queue_order",
        "analysis_queue",
        ["needs", "priority", sa.text("dated DESC")],
    )
    op.execute(
        "INSERT INTO analysis_queue (article_id, content_hash, needs, priority, dated, queued) "
        "SELECT articles.id, articles.content_hash, 0, 1, "
        "COALESCE(articles.published, articles.fetched_at), articles.fetched_at "
        "FROM articles LEFT JOIN enrichments ON enrichments.article_id = articles.id "
        "WHERE enrichments.article_id IS NULL "
        "OR enrichments.content_hash != articles.content_hash"
    )

    op.create_table(
        "follow_marks",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name="pk_follow_marks"),
    )
    op.create_index("ix_follow_marks_seq", "follow_marks", ["seq"])
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("hits", sa.Text, nullable=False),
        _time("until", nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_limits"),
    )
    op.create_index("ix_rate_limits_until", "rate_limits", ["until"])

    identity = op.create_table(
        "database_identity",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_database_identity"),
        sa.CheckConstraint("id = 1", name="ck_database_identity_one_row"),
    )
    op.bulk_insert(identity, [{"id": 1, "token": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("database_identity")
    op.drop_index("ix_rate_limits_until", "rate_limits")
    op.drop_table("rate_limits")
    op.drop_index("ix_follow_marks_seq", "follow_marks")
    op.drop_table("follow_marks")
    op.drop_index("ix_analysis_queue_order", "analysis_queue")
    op.drop_table("analysis_queue")
    op.drop_index("ix_interests_kind_value", "interests")
    for table, column in (
        ("accounts", "digest_lease_until"),
        ("accounts", "digest_lease_owner"),
        ("enrichments", "analyses"),
        ("enrichments", "depth"),
        ("sources", "lease_until"),
        ("sources", "lease_owner"),
        ("sources", "operator"),
    ):
        op.drop_column(table, column)
