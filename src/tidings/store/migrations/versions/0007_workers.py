"""Workers: who added each source, and the database's identity.

Revision ID: 0007
Revises: 0006

Append-only, like every migration: columns are spelled out here, not taken from
``tidings.store.schema``.

``sources.operator``: the source was added from the operator's command line, so fetching it
may use the network allowances (``allowed_networks``, ``--allow-network``). Sources readers
add through the API or the pages never may. Sources already stored cannot tell who added
them and start as readers' (the safe side); ``tidings source trust`` vouches for one.

``database_identity``: one random token per database, recorded in files built from it (the
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


def upgrade() -> None:
    op.add_column(
        "sources",
        sa.Column("operator", sa.Boolean, nullable=False, server_default=sa.false()),
    )
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
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("operator")
