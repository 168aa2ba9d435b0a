"""Workers: who added each source (the operator's network allowances are theirs alone).

Revision ID: 0007
Revises: 0006

Append-only, like every migration: columns are spelled out here, not taken from
``tidings.store.schema``.

``sources.operator``: the source was added from the operator's command line, so fetching it
may use the network allowances (``allowed_networks``, ``--allow-network``). Sources readers
add through the API or the pages never may. Sources already stored cannot tell who added
them and start as readers' (the safe side); ``tidings source trust`` vouches for one.
"""

from __future__ import annotations

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


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("operator")
