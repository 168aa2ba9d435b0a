"""Sources: what Tidings reads news from, with their polling state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tidings.errors import SourceExistsError, SourceNotFoundError
from tidings.store.schema import (
    article_removals,
    article_sources,
    articles,
    enrichments,
    sources,
)
from tidings.store.sql.connection import SQLBase, change_seq, chunks
from tidings.store.sql.marks import EVERYTHING, mark_followed
from tidings.store.sql.rows import json_list, json_strings
from tidings.types import PagePolicy, Source, SourceHealth, SourceKind


class SourcesMixin(SQLBase):
    """Sources (:class:`tidings.store.base.SourceStorage`)."""

    def add_source(
        self,
        url: str,
        *,
        kind: SourceKind = SourceKind.FEED,
        title: str | None = None,
        site: str | None = None,
        tags: Sequence[str] = (),
        pages: PagePolicy = PagePolicy.AUTO,
        added: datetime,
        operator: bool = False,
    ) -> Source:
        values = {
            "operator": operator,
            "url": url,
            "kind": SourceKind(kind).value,
            "title": title,
            "site": site,
            "tags": json_list(tags),
            "pages": PagePolicy(pages).value,
            "added": added,
            "failures": 0,
        }
        # The unique index on url is the only constraint this insert can break.
        taken = SourceExistsError(f"source already exists: {url}", resource=url)
        return source_from_row(self._insert_one("add the source", sources, values, taken=taken))

    def _source_row(self, conn: sa.Connection, key: int | str) -> sa.Row[Any]:
        column = sources.c.url if isinstance(key, str) else sources.c.id
        row = conn.execute(sa.select(sources).where(column == key)).one_or_none()
        if row is None:
            raise SourceNotFoundError(f"no such source: {key}", resource=str(key))
        return row

    def get_source(self, key: int | str) -> Source:
        with self._transaction("read the source") as conn:
            return source_from_row(self._source_row(conn, key))

    def list_sources(
        self,
        *,
        due_at: datetime | None = None,
        tag: str | None = None,
        kinds: Sequence[SourceKind] | None = None,
    ) -> list[Source]:
        query = sa.select(sources).order_by(sources.c.id)
        if due_at is not None:
            query = query.where(
                sa.or_(sources.c.next_poll.is_(None), sources.c.next_poll <= due_at)
            )
        if kinds is not None:
            query = query.where(sources.c.kind.in_([SourceKind(k).value for k in kinds]))
        if tag is not None:
            # Narrow in SQL by the tag's JSON spelling; the exact test is below, because
            # LIKE is case-insensitive on SQLite and a tag may contain another.
            query = query.where(
                sources.c.tags.contains(json.dumps(tag, ensure_ascii=False), autoescape=True)
            )
        with self._transaction("list sources") as conn:
            found = [source_from_row(row) for row in conn.execute(query)]
        if tag is not None:
            found = [s for s in found if tag in s.tags]
        return found

    def source_health(self) -> list[SourceHealth]:
        stats = (
            sa.select(
                articles.c.source_id,
                sa.func.count().label("article_count"),
                sa.func.max(articles.c.published).label("latest_article"),
            )
            .group_by(articles.c.source_id)
            .subquery()
        )
        query = (
            sa.select(sources, stats.c.article_count, stats.c.latest_article)
            .outerjoin(stats, stats.c.source_id == sources.c.id)
            .order_by(sources.c.id)
        )
        with self._transaction("read source health") as conn:
            return [
                SourceHealth(
                    source=source_from_row(row),
                    articles=row.article_count or 0,
                    latest_article=row.latest_article,
                )
                for row in conn.execute(query)
            ]

    def update_source(self, source: Source) -> Source:
        values = {
            "kind": SourceKind(source.kind).value,
            "title": source.title,
            "site": source.site,
            "tags": json_list(source.tags),
            "pages": PagePolicy(source.pages).value,
            "etag": source.etag,
            "last_modified": source.last_modified,
            "last_success": source.last_success,
            "last_error": source.last_error,
            "last_error_at": source.last_error_at,
            "failures": source.failures,
            "warning": source.warning,
            "interval": source.interval,
            "next_poll": source.next_poll,
            "operator": source.operator,
        }
        with self._transaction("update the source", writes=True) as conn:
            row = conn.execute(
                sa.update(sources)
                .where(sources.c.id == source.id)
                .values(values)
                .returning(sources)
            ).one_or_none()
            if row is None:
                raise SourceNotFoundError(f"no such source: {source.id}", resource=str(source.id))
            return source_from_row(row)

    def remove_source(self, key: int | str) -> None:
        with self._transaction("remove the source", writes=True) as conn:
            source_id = self._source_row(conn, key).id
            ids = (
                conn.execute(sa.select(articles.c.id).where(articles.c.source_id == source_id))
                .scalars()
                .all()
            )
            # Articles that also appeared elsewhere move to the source that saw them
            # first. Their guid belonged to the removed source and could clash with one
            # of the new source's, so it goes; the canonical URL still identifies them.
            heir = (
                sa.select(article_sources.c.source_id)
                .where(article_sources.c.article_id == articles.c.id)
                .order_by(article_sources.c.first_seen, article_sources.c.source_id)
                .limit(1)
                .scalar_subquery()
            )
            seen_elsewhere = sa.exists().where(article_sources.c.article_id == articles.c.id)
            conn.execute(
                sa.update(articles)
                .where(articles.c.source_id == source_id, seen_elsewhere)
                .values(source_id=heir, guid=None)
            )
            # The heir now owns them, and owners are not listed as "also appeared in".
            conn.execute(
                sa.delete(article_sources).where(
                    sa.exists().where(
                        articles.c.id == article_sources.c.article_id,
                        articles.c.source_id == article_sources.c.source_id,
                    )
                )
            )
            moved = sa.select(articles.c.id).where(
                articles.c.id.in_(sa.bindparam("ids", expanding=True)),
                articles.c.source_id != source_id,
            )
            gone = (
                conn.execute(sa.select(articles.c.id).where(articles.c.source_id == source_id))
                .scalars()
                .all()
            )
            # What ranking holds in memory follows: moved articles are stamped as changed,
            # deleted ones recorded as removed (the change sequence, migration 0006).
            seq = change_seq(conn)
            for chunk in chunks(list(ids)):
                conn.execute(
                    sa.update(enrichments)
                    .where(enrichments.c.article_id.in_(moved.scalar_subquery()))
                    .values(seq=seq),
                    {"ids": list(chunk)},
                )
            if gone:
                removed = datetime.now(UTC)
                conn.execute(
                    sa.insert(article_removals),
                    [{"seq": seq, "article_id": a, "removed": removed} for a in gone],
                )
            # Pages showing them, in every serving process, are stale now.
            mark_followed(conn, {EVERYTHING})
            conn.execute(sa.delete(articles).where(articles.c.source_id == source_id))
            conn.execute(sa.delete(article_sources).where(article_sources.c.source_id == source_id))
            conn.execute(sa.delete(sources).where(sources.c.id == source_id))


def source_from_row(row: sa.Row[Any]) -> Source:
    return Source(
        id=row.id,
        url=row.url,
        kind=SourceKind(row.kind),
        title=row.title,
        site=row.site,
        tags=json_strings(row.tags),
        pages=PagePolicy(row.pages),
        added=row.added,
        etag=row.etag,
        last_modified=row.last_modified,
        last_success=row.last_success,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        failures=row.failures,
        warning=row.warning,
        interval=row.interval,
        next_poll=row.next_poll,
        operator=bool(row.operator),
    )
