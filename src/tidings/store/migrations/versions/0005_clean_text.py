"""Stored titles and summaries cleaned of the escapes feeds left in them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 16:00:00

Ingestion now cleans titles and summaries once, as they enter
(:func:`tidings.text.clean_text`: entities escaped twice or missing their ``&``, backslash
escapes, stray tags). This data migration gives the articles stored before the same
cleaning: their ``title`` and ``summary``, the story headlines copied from those titles and
the sources' titles. No schema changes.

An article whose text changes gets the content digest of its cleaned content, computed as
storage computes it (:meth:`tidings.types.ArticleDraft.digest`), so that:

* its analysis is redone by the next ``tidings enrich`` (or ingestion pass), as for any
  changed article: entities and topics found in "PM #39;s" are found again in "PM's";
* the next fetch of the same, now cleaned, feed entry finds it unchanged instead of
  rewriting it. Undated entries are digested without the date storage gave them, as storage
  does; where the stored digest cannot be reproduced from the row at all, the new digest is
  still the row's, and the next fetch of that entry rewrites it once.

Rows are read and written in batches by id (keyset pagination), so memory stays flat on
millions of articles, on SQLite and PostgreSQL alike (SQLite's full-text index follows
through its update trigger, PostgreSQL's is an expression index). Downgrading keeps the
cleaned text: the escapes cannot be put back, and no earlier code needs them.

Append-only, like every migration: the columns are spelled out here. The cleaning itself is
the project's one cleaner, imported, so that stored and newly ingested text agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from tidings.text import clean_text
from tidings.types import ArticleDraft, Image, Link

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Rows read and written per batch: large enough that round trips do not dominate (a batch
#: of 1,000 articles is about 5 MB with bodies), small enough to keep memory flat.
BATCH = 1000

_articles = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("url", sa.Text),
    sa.column("canonical_url", sa.Text),
    sa.column("title", sa.Text),
    sa.column("authors", sa.Text),
    sa.column("published", sa.DateTime(timezone=True)),
    sa.column("updated", sa.DateTime(timezone=True)),
    sa.column("section", sa.Text),
    sa.column("site_name", sa.Text),
    sa.column("summary", sa.Text),
    sa.column("summary_points", sa.Text),
    sa.column("body", sa.Text),
    sa.column("content_html", sa.Text),
    sa.column("language", sa.String),
    sa.column("images", sa.Text),
    sa.column("related", sa.Text),
    sa.column("tags", sa.Text),
    sa.column("content_hash", sa.String),
)
_stories = sa.table("stories", sa.column("id", sa.Integer), sa.column("headline", sa.Text))
_sources = sa.table("sources", sa.column("id", sa.Integer), sa.column("title", sa.Text))


def upgrade() -> None:
    connection = op.get_bind()
    _clean_articles(connection)
    for table, column in ((_stories, "headline"), (_sources, "title")):
        _clean_column(connection, table, column)


def downgrade() -> None:
    """Nothing to undo in the schema; the cleaned text stays (see the module's docstring)."""


def _batches(connection: sa.Connection, table: Any, *columns: Any) -> Iterator[Sequence[Any]]:
    """The rows of ``table`` in id order, ``BATCH`` at a time."""
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, *columns)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _clean_articles(connection: sa.Connection) -> None:
    update = (
        _articles.update()
        .where(_articles.c.id == sa.bindparam("row_id"))
        .values(
            title=sa.bindparam("new_title"),
            summary=sa.bindparam("new_summary"),
            content_hash=sa.bindparam("new_hash"),
        )
    )
    columns = [c for c in _articles.c if c.name != "id"]
    for rows in _batches(connection, _articles, *columns):
        changes = []
        for row in rows:
            title = _cleaned(row.title)
            summary = _cleaned(row.summary, paragraphs=True)
            if title == row.title and summary == row.summary:
                continue
            stored = _draft(row)
            if stored.digest() != row.content_hash:
                undated = replace(stored, published=None)
                if undated.digest() == row.content_hash:
                    stored = undated  # storage dated an undated entry; its digest has no date
            cleaned = replace(stored, title=title, summary=summary)
            changes.append(
                {
                    "row_id": row.id,
                    "new_title": title,
                    "new_summary": summary,
                    "new_hash": cleaned.digest(),
                }
            )
        if changes:
            connection.execute(update, changes)


def _clean_column(connection: sa.Connection, table: Any, name: str) -> None:
    column = table.c[name]
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam("new_value")})
    )
    for rows in _batches(connection, table, column):
        changes = [
            {"row_id": row.id, "new_value": _cleaned(row[1])}
            for row in rows
            if _cleaned(row[1]) != row[1]
        ]
        if changes:
            connection.execute(update, changes)


def _cleaned(value: str | None, *, paragraphs: bool = False) -> str | None:
    if value is None:
        return None
    return clean_text(value, paragraphs=paragraphs) or None


def _draft(row: Any) -> ArticleDraft:
    """The article's content as storage read it back (``tidings.store`` at this revision)."""
    return ArticleDraft(
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        authors=tuple(_strings(row.authors)),
        published=_utc(row.published),
        updated=_utc(row.updated),
        section=row.section,
        site_name=row.site_name,
        summary=row.summary,
        summary_points=tuple(_strings(row.summary_points)),
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
        tags=tuple(_strings(row.tags)),
    )


def _strings(value: str | None) -> list[str]:
    loaded = json.loads(value or "[]")
    return [str(v) for v in loaded] if isinstance(loaded, list) else []


def _utc(value: datetime | str | None) -> datetime | None:
    """Stored times are UTC: SQLite hands back naive values (or text), PostgreSQL aware."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
