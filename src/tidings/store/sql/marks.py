"""Marks that tell every serving process a reader's cached page is stale: the last change
that brought something readers follow a new article (``follow_marks``)."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from tidings.store.schema import follow_marks, interests
from tidings.store.sql.connection import change_seq, chunks, insert_for
from tidings.types import Stance

#: The mark that makes every reader's cached page stale (a source removed, new weights).
EVERYTHING = ("*", "*")


def mark_followed(conn: sa.Connection, keys: Collection[tuple[str, str]]) -> None:
    """Stamp ``(kind, value)`` things with this transaction's change number where a reader
    follows them (or :data:`EVERYTHING`): each reader's stamp (``reader_stamp``) takes the
    highest of their follows', so every serving process sees their cached pages are stale."""
    if not keys:
        return
    seq = change_seq(conn)
    wanted = sorted(k for k in keys if k != EVERYTHING)
    rows = (
        [{"kind": EVERYTHING[0], "value": EVERYTHING[1], "seq": seq}] if EVERYTHING in keys else []
    )
    for chunk in chunks(wanted):
        followed = conn.execute(
            sa.select(interests.c.kind, interests.c.value)
            .where(
                sa.tuple_(interests.c.kind, interests.c.value).in_(list(chunk)),
                interests.c.stance == Stance.FOLLOW.value,
            )
            .distinct()
        ).all()
        rows.extend({"kind": k, "value": v, "seq": seq} for k, v in followed)
    if not rows:
        return
    insert = insert_for(conn)(follow_marks)
    # In key order, so that two writers marking the same things cannot deadlock.
    rows.sort(key=lambda r: (r["kind"], r["value"]))
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[follow_marks.c.kind, follow_marks.c.value],
            set_={"seq": insert.excluded.seq},
        ),
        rows,
    )
