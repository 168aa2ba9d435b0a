"""A change sequence for what ranking holds in memory, and popularity by distinct readers.

Serving processes keep the recent articles' ranking facts in memory (``rank/window.py``) and
follow what other processes change through one increasing number: every write of an
analysis (``enrichments``), of a story's counts (``stories``) or of an article's engagement
counts (``engagement``) stamps the rows it writes with the next number of the sequence
(``seq``), and a deleted article leaves a row in ``article_removals``. A process asks for
the rows stamped after the last number it read.

The number comes from a PostgreSQL sequence (``change_seq``), and on SQLite from the one row
of ``change_counter`` (SQLite has no sequences; its writers are serialised, so numbers are
also handed out in commit order there).

Impressions keep the features the ranker scored the article with when it showed it
(``events.features``), so that a reader's weights are learned from what they were shown.

Engagement counts now count readers, not events: an article's ``shown`` on a day is the
readers whose first impression of it fell on that day, and ``engaged`` likewise for their
first open, save or share. Reloading a page or opening an article twice no longer makes it
popular. The counts are rebuilt from the stored events.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Event kinds counted as engaging (``tidings.store.sql.readers.ENGAGING`` at this revision).
ENGAGING = ("open", "save", "share")
CHANGED = ("enrichments", "stories", "engagement")


def _recount_engagement() -> None:
    """Rebuild the per-day counts as distinct readers (in Python: the day of a stored time
    is spelled differently on each database)."""
    bind = op.get_bind()
    events = sa.table(
        "events",
        sa.column("reader_id", sa.Integer),
        sa.column("article_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    engagement = sa.table(
        "engagement",
        sa.column("article_id", sa.Integer),
        sa.column("day", sa.Integer),
        sa.column("shown", sa.Integer),
        sa.column("engaged", sa.Integer),
        sa.column("seq", sa.BigInteger),
    )
    first = (
        sa.select(
            events.c.reader_id,
            events.c.article_id,
            sa.case((events.c.kind == "impression", 0), else_=1).label("engaging"),
            sa.func.min(events.c.at),
        )
        .where(events.c.kind.in_(("impression", *ENGAGING)))
        .group_by(events.c.reader_id, events.c.article_id, sa.text("3"))
    )
    counts: dict[tuple[int, int], list[int]] = {}
    for _, article_id, engaging, at in bind.execute(first):
        if isinstance(at, str):  # SQLite hands back the stored text
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        slot = counts.setdefault((article_id, int(at.timestamp() // 86400)), [0, 0])
        slot[int(engaging)] += 1
    bind.execute(sa.delete(engagement))
    batch = [
        {"article_id": a, "day": d, "shown": n[0], "engaged": n[1], "seq": 0}
        for (a, d), n in sorted(counts.items())
    ]
    for start in range(0, len(batch), 5000):
        bind.execute(sa.insert(engagement), batch[start : start + 5000])


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE SEQUENCE change_seq AS BIGINT")
    else:
        op.create_table(
            "change_counter",
            sa.Column("id", sa.Integer, nullable=False),
            sa.Column("value", sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_change_counter"),
            sa.CheckConstraint("id = 1", name="ck_change_counter_one_row"),
        )
        op.execute("INSERT INTO change_counter (id, value) VALUES (1, 0)")
    for table in CHANGED:
        op.add_column(table, sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"))
        op.create_index(f"ix_{table}_seq", table, ["seq"])
    op.add_column("events", sa.Column("features", sa.LargeBinary))
    op.create_table(
        "article_removals",
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("removed", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", "article_id", name="pk_article_removals"),
    )
    _recount_engagement()


def downgrade() -> None:
    op.drop_table("article_removals")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("features")
    for table in CHANGED:
        op.drop_index(f"ix_{table}_seq", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seq")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS change_seq")
    else:
        op.drop_table("change_counter")
