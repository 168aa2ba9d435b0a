"""Rows to Tidings types and back, where several parts of the storage need the same.

Tuples (authors, tags, aliases, …) are stored as JSON lists of strings
(:mod:`tidings.store.schema` says why).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tidings.types import Article, Image, Link

#: One encoder for all tuples: ``json.dumps`` with options builds a new encoder per call,
#: which showed up as a tenth of the ingest time in profiles.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def utc(value: datetime | str) -> datetime:
    """An aware UTC datetime of a stored time read without SQLAlchemy's conversion: what
    PostgreSQL's driver gives, or SQLite's naive UTC text (``UTCDateTime``'s format)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def json_list(values: Iterable[Any]) -> str:
    """A JSON list of the values."""
    items = list(values)
    return _JSON.encode(items) if items else "[]"


def json_strings(text: str | None) -> tuple[str, ...]:
    """The strings of a stored JSON list (none for NULL)."""
    return tuple(json.loads(text)) if text else ()


def article_from_row(row: sa.Row[Any]) -> Article:
    return Article(
        id=row.id,
        source_id=row.source_id,
        guid=row.guid,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        authors=json_strings(row.authors),
        published=row.published,
        updated=row.updated,
        section=row.section,
        site_name=row.site_name,
        extraction_note=row.extraction_note,
        summary=row.summary,
        summary_points=json_strings(row.summary_points),
        body=row.body,
        content_html=row.content_html,
        language=row.language,
        images=tuple(
            Image(url=i["url"], caption=i.get("caption"), credit=i.get("credit"))
            for i in json.loads(row.images or "[]")
        ),
        related=tuple(
            Link(url=r.get("url"), title=r.get("title")) for r in json.loads(row.related or "[]")
        ),
        tags=json_strings(row.tags),
        content_hash=row.content_hash,
        fetched_at=row.fetched_at,
        changed_at=row.changed_at,
    )


def sequence_window(
    conn: sa.Connection,
    tables: Sequence[sa.Table],
    *,
    after: int,
    also: Sequence[int] = (),
    limit: int,
) -> Callable[[sa.Table], sa.ColumnElement[bool]]:
    """The condition on a table's ``seq`` that reads the change sequence after ``after`` (and
    the numbers ``also``, gaps being filled) across ``tables``, at most about ``limit`` rows
    each: a whole prefix of the sequence, since the lowest of the tables' limit-th numbers
    bounds what is read, so no number's rows are read in part."""
    cutoff: int | None = None
    for table in tables:
        nth = conn.execute(
            sa.select(table.c.seq)
            .where(table.c.seq > after)
            .order_by(table.c.seq)
            .offset(limit - 1)
            .limit(1)
        ).scalar_one_or_none()
        if nth is not None:
            cutoff = int(nth) if cutoff is None else min(cutoff, int(nth))

    def wanted(table: sa.Table) -> sa.ColumnElement[bool]:
        window = table.c.seq > after
        if cutoff is not None:
            window = sa.and_(window, table.c.seq <= cutoff)
        if also:
            window = sa.or_(window, table.c.seq.in_(list(also)))
        return window

    return wanted
