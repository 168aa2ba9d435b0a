"""Readers and what they say and do: follows and mutes, events, saved articles; and the
per-day engagement counts that events add to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from tidings.errors import ReaderExistsError, ReaderNotFoundError
from tidings.store.base import EVENT_CODES, EventColumns
from tidings.store.schema import (
    article_removals,
    article_sources,
    articles,
    clippings,
    engagement,
    events,
    interests,
    readers,
    saved,
)
from tidings.store.sql.articles import require_articles
from tidings.store.sql.connection import SQLBase, change_seq, chunks, insert_for
from tidings.store.sql.rows import article_from_row, utc
from tidings.store.sql.work import put_source_first
from tidings.types import Article, EventKind, Interest, InterestKind, Reader, ReaderEvent, Stance


class ReadersMixin(SQLBase):
    """Readers, interests, events and saved articles (:class:`tidings.store.base.ReaderStorage`)."""

    def add_reader(
        self, name: str, *, created: datetime, exploration: float = 0.1, diversity: float = 0.3
    ) -> Reader:
        values = {
            "name": name,
            "created": created,
            "exploration": exploration,
            "diversity": diversity,
        }
        # The unique index on name is the only constraint this insert can break.
        taken = ReaderExistsError(f"reader already exists: {name}", resource=name)
        return _reader(self._insert_one("add the reader", readers, values, taken=taken))

    def get_reader(self, key: int | str) -> Reader:
        with self._transaction("read the reader") as conn:
            return _reader(reader_row(conn, key))

    def list_readers(self) -> list[Reader]:
        with self._transaction("list readers") as conn:
            return [_reader(r) for r in conn.execute(sa.select(readers).order_by(readers.c.id))]

    def update_reader(self, reader: Reader) -> Reader:
        with self._transaction("update the reader", writes=True) as conn:
            reader_row(conn, reader.id)
            conn.execute(
                sa.update(readers)
                .where(readers.c.id == reader.id)
                .values(exploration=reader.exploration, diversity=reader.diversity)
            )
            return _reader(reader_row(conn, reader.id))

    def remove_reader(self, key: int | str, *, clippings_source: int | None = None) -> list[int]:
        with self._transaction("remove the reader", writes=True) as conn:
            row = reader_row(conn, key)
            gone: list[int] = []
            if clippings_source is not None:
                gone = _only_theirs(conn, row.id, clippings_source)
            conn.execute(sa.delete(readers).where(readers.c.id == row.id))
            _delete_articles(conn, gone)
            return gone

    def add_clipping(self, reader_id: int, article_id: int, *, at: datetime) -> None:
        with self._transaction("keep the clipping", writes=True) as conn:
            reader_row(conn, reader_id)
            require_articles(conn, [article_id])
            conn.execute(
                insert_for(conn)(clippings)
                .values(reader_id=reader_id, article_id=article_id, added=at)
                .on_conflict_do_nothing()
            )

    def clipped_articles(
        self, reader_id: int, *, limit: int = 50, offset: int = 0
    ) -> list[tuple[Article, datetime]]:
        query = (
            sa.select(articles, clippings.c.added.label("clipped_at"))
            .join(clippings, clippings.c.article_id == articles.c.id)
            .where(clippings.c.reader_id == reader_id)
            .order_by(clippings.c.added.desc(), articles.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._transaction("list the reader's clippings") as conn:
            reader_row(conn, reader_id)
            return [(article_from_row(r), utc(r.clipped_at)) for r in conn.execute(query)]

    def set_interest(self, reader_id: int, interest: Interest, *, created: datetime) -> Interest:
        values = {
            "stance": interest.stance.value,
            "label": interest.label,
            "created": created,
        }
        key = (
            interests.c.reader_id == reader_id,
            interests.c.kind == interest.kind.value,
            interests.c.value == interest.value,
        )
        with self._transaction("store the reader's interest", writes=True) as conn:
            reader_row(conn, reader_id)
            done = conn.execute(sa.update(interests).where(*key).values(values))
            if not done.rowcount:
                conn.execute(
                    sa.insert(interests).values(
                        reader_id=reader_id,
                        kind=interest.kind.value,
                        value=interest.value,
                        **values,
                    )
                )
            source = interest.kind is InterestKind.SOURCE and interest.value.isdigit()
            if source and interest.stance is Stance.FOLLOW:
                put_source_first(conn, int(interest.value))
        return Interest(
            kind=interest.kind,
            value=interest.value,
            stance=interest.stance,
            label=interest.label,
            created=created,
        )

    def remove_interest(self, reader_id: int, kind: InterestKind, value: str) -> bool:
        with self._transaction("remove the reader's interest", writes=True) as conn:
            reader_row(conn, reader_id)
            done = conn.execute(
                sa.delete(interests).where(
                    interests.c.reader_id == reader_id,
                    interests.c.kind == kind.value,
                    interests.c.value == value,
                )
            )
            return bool(done.rowcount)

    def list_interests(self, reader_id: int, *, stance: Stance | None = None) -> list[Interest]:
        query = (
            sa.select(interests)
            .where(interests.c.reader_id == reader_id)
            .order_by(interests.c.kind, interests.c.created, interests.c.value)
        )
        if stance is not None:
            query = query.where(interests.c.stance == stance.value)
        with self._transaction("list the reader's interests") as conn:
            reader_row(conn, reader_id)
            return [
                Interest(
                    kind=InterestKind(r.kind),
                    value=r.value,
                    stance=Stance(r.stance),
                    label=r.label,
                    created=r.created,
                )
                for r in conn.execute(query)
            ]

    def record_events(self, reader_id: int, items: Sequence[ReaderEvent]) -> int:
        if not items:
            return 0
        with self._transaction("record the reader's events", writes=True) as conn:
            reader_row(conn, reader_id)
            require_articles(conn, sorted({e.article_id for e in items}))
            # Counted before the events are stored: the lookup of earlier events must not
            # find these.
            _count_engagement(conn, reader_id, items)
            conn.execute(
                sa.insert(events),
                [
                    {
                        "reader_id": reader_id,
                        "article_id": e.article_id,
                        "kind": e.kind.value,
                        "value": e.value,
                        "at": e.at,
                        "features": e.features,
                    }
                    for e in items
                ],
            )
        return len(items)

    def keep_impression_features(
        self, reader_id: int, rows: Sequence[tuple[int, datetime, bytes]]
    ) -> int:
        if not rows:
            return 0
        statement = (
            sa.update(events)
            .where(
                events.c.reader_id == reader_id,
                events.c.kind == EventKind.IMPRESSION.value,
                events.c.article_id == sa.bindparam("shown_article"),
                events.c.at == sa.bindparam("shown_at", type_=events.c.at.type),
            )
            .values(features=sa.bindparam("shown_features"))
        )
        with self._transaction("keep the impressions' features", writes=True) as conn:
            reader_row(conn, reader_id)
            result = conn.execute(
                statement,
                [
                    {"shown_article": a, "shown_at": at, "shown_features": data}
                    for a, at, data in rows
                ],
            )
            return int(result.rowcount)

    def reader_events(
        self,
        reader_id: int,
        *,
        since: datetime | None = None,
        kinds: Sequence[EventKind] | None = None,
        limit: int = 1000,
    ) -> list[ReaderEvent]:
        query = _events_query(reader_id, since, limit)
        if kinds is not None:
            query = query.where(events.c.kind.in_([k.value for k in kinds]))
        kind_of = {k.value: k for k in EventKind}
        with self._transaction("read the reader's events") as conn:
            reader_row(conn, reader_id)
            return [
                ReaderEvent(
                    kind=kind_of[kind],
                    article_id=article,
                    at=utc(when),
                    value=value,
                    features=bytes(features) if features is not None else None,
                )
                for kind, article, when, value, features in conn.execute(query).all()
            ]

    def reader_event_columns(
        self, reader_id: int, *, since: datetime | None = None, limit: int = 1000
    ) -> EventColumns:
        query = _events_query(reader_id, since, limit)
        code_of = {k.value: code for k, code in EVENT_CODES.items()}
        with self._transaction("read the reader's events") as conn:
            reader_row(conn, reader_id)
            rows = conn.execute(query).all()
        n = len(rows)
        if not n:
            kinds: Sequence[str] = ()
            ids: Sequence[int] = ()
            times: Sequence[datetime | str] = ()
            values: Sequence[float | None] = ()
            features: Sequence[Any] = ()
        else:
            kinds, ids, times, values, features = zip(*rows, strict=True)
        if times and not isinstance(times[0], str):
            # PostgreSQL's driver gives aware datetimes; SQLite gives naive UTC text,
            # which numpy parses as it is.
            times = [utc(t).replace(tzinfo=None) for t in times]
        return EventColumns(
            kind=np.fromiter((code_of[k] for k in kinds), dtype=np.int8, count=n),
            article_id=np.fromiter(ids, dtype=np.int64, count=n),
            at=np.array(times, dtype="datetime64[us]"),
            value=np.fromiter((v or 0.0 for v in values), dtype=np.float64, count=n),
            has_value=np.fromiter((v is not None for v in values), dtype=np.bool_, count=n),
            features=tuple(bytes(f) if f is not None else None for f in features),
        )

    def save_article(self, reader_id: int, article_id: int, *, at: datetime) -> None:
        with self._transaction("save the article", writes=True) as conn:
            reader_row(conn, reader_id)
            require_articles(conn, [article_id])
            conn.execute(
                insert_for(conn)(saved)
                .values(reader_id=reader_id, article_id=article_id, at=at)
                .on_conflict_do_nothing()
            )

    def unsave_article(self, reader_id: int, article_id: int) -> bool:
        with self._transaction("unsave the article", writes=True) as conn:
            reader_row(conn, reader_id)
            done = conn.execute(
                sa.delete(saved).where(
                    saved.c.reader_id == reader_id, saved.c.article_id == article_id
                )
            )
            return bool(done.rowcount)

    def saved_articles(self, reader_id: int, *, limit: int = 50, offset: int = 0) -> list[Article]:
        query = (
            sa.select(articles)
            .join(saved, saved.c.article_id == articles.c.id)
            .where(saved.c.reader_id == reader_id)
            .order_by(saved.c.at.desc(), articles.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._transaction("list saved articles") as conn:
            reader_row(conn, reader_id)
            return [article_from_row(r) for r in conn.execute(query)]

    def saved_among(self, reader_id: int, article_ids: Sequence[int]) -> set[int]:
        query = sa.select(saved.c.article_id).where(
            saved.c.reader_id == reader_id,
            saved.c.article_id.in_(sa.bindparam("ids", expanding=True)),
        )
        found: set[int] = set()
        with self._transaction("look up saved articles") as conn:
            reader_row(conn, reader_id)
            for chunk in chunks(list(dict.fromkeys(article_ids))):
                found.update(conn.execute(query, {"ids": list(chunk)}).scalars())
        return found

    def forget_events(self, reader_id: int, article_id: int, kinds: Sequence[EventKind]) -> int:
        with self._transaction("forget the reader's events", writes=True) as conn:
            reader_row(conn, reader_id)
            done = conn.execute(
                sa.delete(events).where(
                    events.c.reader_id == reader_id,
                    events.c.article_id == article_id,
                    events.c.kind.in_([k.value for k in kinds]),
                )
            )
            return int(done.rowcount or 0)


def _only_theirs(conn: sa.Connection, reader_id: int, source_id: int) -> list[int]:
    """The articles of ``source_id`` that this reader clipped, no other reader clipped and
    no other source carried: those that are in the database only because of them."""
    other = clippings.alias("other")
    others = sa.exists().where(other.c.article_id == articles.c.id, other.c.reader_id != reader_id)
    elsewhere = sa.exists().where(
        article_sources.c.article_id == articles.c.id, article_sources.c.source_id != source_id
    )
    query = (
        sa.select(articles.c.id)
        .join(clippings, clippings.c.article_id == articles.c.id)
        .where(
            clippings.c.reader_id == reader_id,
            articles.c.source_id == source_id,
            ~others,
            ~elsewhere,
        )
        .order_by(articles.c.id)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def _delete_articles(conn: sa.Connection, article_ids: Sequence[int]) -> None:
    """Delete these articles (with everything that hangs on them), recording each in the
    change sequence so that serving processes drop them (migration 0006)."""
    if not article_ids:
        return
    seq = change_seq(conn)
    removed = datetime.now(UTC)
    conn.execute(
        sa.insert(article_removals),
        [{"seq": seq, "article_id": a, "removed": removed} for a in article_ids],
    )
    for chunk in chunks(list(article_ids)):
        conn.execute(sa.delete(article_sources).where(article_sources.c.article_id.in_(chunk)))
        conn.execute(sa.delete(articles).where(articles.c.id.in_(chunk)))


def reader_row(conn: sa.Connection, key: int | str) -> sa.Row[Any]:
    """The reader with this id (int) or name (str). Raises ReaderNotFoundError."""
    column = readers.c.name if isinstance(key, str) else readers.c.id
    row = conn.execute(sa.select(readers).where(column == key)).one_or_none()
    if row is None:
        raise ReaderNotFoundError(f"no such reader: {key}", resource=str(key))
    return row


def _reader(row: Any) -> Reader:
    return Reader(
        id=row.id,
        name=row.name,
        created=row.created,
        exploration=row.exploration,
        diversity=row.diversity,
    )


#: Event kinds that count as engaging with an article, for popularity across readers.
ENGAGING = frozenset({EventKind.OPEN, EventKind.SAVE, EventKind.SHARE})


def utc_day(at: datetime) -> int:
    """Days since 1970-01-01 in UTC: the engagement table's bucket."""
    return int(at.timestamp() // 86400)


def _count_engagement(conn: sa.Connection, reader_id: int, items: Sequence[ReaderEvent]) -> None:
    """Add the reader to the per-article, per-day counts of readers shown and readers
    engaged, for the articles these events show them or engage them with for the first
    time (their earlier events are looked up: a reader counts once per article)."""
    wanted = [e for e in items if e.kind is EventKind.IMPRESSION or e.kind in ENGAGING]
    if not wanted:
        return
    kinds = ("impression", *(k.value for k in ENGAGING))
    known: set[tuple[int, int]] = set()
    query = sa.select(events.c.article_id, events.c.kind).where(
        events.c.reader_id == reader_id,
        events.c.article_id.in_(sa.bindparam("ids", expanding=True)),
        events.c.kind.in_(kinds),
    )
    for chunk in chunks(sorted({e.article_id for e in wanted})):
        for article_id, kind in conn.execute(query, {"ids": list(chunk)}):
            known.add((article_id, 0 if kind == "impression" else 1))
    counts: dict[tuple[int, int], list[int]] = {}
    for e in sorted(wanted, key=lambda e: e.at):
        which = 0 if e.kind is EventKind.IMPRESSION else 1
        if (e.article_id, which) in known:
            continue
        known.add((e.article_id, which))
        counts.setdefault((e.article_id, utc_day(e.at)), [0, 0])[which] += 1
    if not counts:
        return
    seq = change_seq(conn)
    insert = insert_for(conn)(engagement)
    upsert = insert.on_conflict_do_update(
        index_elements=[engagement.c.article_id, engagement.c.day],
        set_={
            "shown": engagement.c.shown + insert.excluded.shown,
            "engaged": engagement.c.engaged + insert.excluded.engaged,
            "seq": insert.excluded.seq,
        },
    )
    conn.execute(
        upsert,
        [
            {"article_id": a, "day": d, "shown": n[0], "engaged": n[1], "seq": seq}
            for (a, d), n in sorted(counts.items())
        ],
    )


def _events_query(reader_id: int, since: datetime | None, limit: int) -> sa.Select[Any]:
    """A reader's events, newest first. The time is read as stored (SQLite: naive UTC text)
    and made aware by the reader: SQLAlchemy's own conversion of SQLite text was most of
    this read's time, and a page reads up to 2,000 events."""
    at = sa.type_coerce(events.c.at, sa.String).label("at")
    query = (
        sa.select(events.c.kind, events.c.article_id, at, events.c.value, events.c.features)
        .where(events.c.reader_id == reader_id)
        .order_by(events.c.at.desc(), events.c.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(events.c.at >= since)
    return query
