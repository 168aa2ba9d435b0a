"""Rows to Tidings types and back, where several parts of the storage need the same.

Tuples (authors, tags, aliases, …) are stored as JSON lists of strings
(:mod:`tidings.store.schema` says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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
