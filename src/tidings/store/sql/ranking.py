"""What ranking reads: articles' facts, candidates, engagement across readers, a reader's
stamp for caches; and the models learned from all readers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store.schema import (
    article_entities,
    article_topics,
    articles,
    engagement,
    enrichments,
    entities,
    events,
    interests,
    models,
    readers,
    sources,
    stories,
    topics,
)
from tidings.store.sql.connection import SQLBase, chunks
from tidings.store.sql.readers import utc_day
from tidings.store.sql.rows import json_strings
from tidings.types import ArticleFacts, EnrichmentStatus


class RankingMixin(SQLBase):
    """Ranking reads and models (:class:`tidings.store.base.RankingStorage`)."""

    def rank_facts(
        self,
        *,
        since: datetime | None = None,
        limit: int = 2000,
        article_ids: Sequence[int] = (),
    ) -> list[ArticleFacts]:
        dated = sa.func.coalesce(articles.c.published, articles.c.fetched_at)
        body_chars = sa.func.length(sa.func.coalesce(articles.c.body, ""))
        columns = (
            articles.c.id,
            articles.c.source_id,
            sa.func.coalesce(sources.c.title, sources.c.url).label("source_name"),
            articles.c.title,
            articles.c.summary,
            articles.c.url,
            articles.c.authors,
            dated.label("dated"),
            body_chars.label("body_chars"),
            enrichments.c.story_id,
            enrichments.c.vector,
            enrichments.c.duplicate_of,
            stories.c.source_count,
            stories.c.recent_count,
        )
        base = (
            sa.select(*columns)
            .select_from(
                articles.join(enrichments, enrichments.c.article_id == articles.c.id)
                .join(sources, sources.c.id == articles.c.source_id)
                .outerjoin(stories, stories.c.id == enrichments.c.story_id)
            )
            .where(enrichments.c.status == EnrichmentStatus.DONE.value)
        )
        rows: dict[int, Any] = {}
        with self._transaction("read articles to rank") as conn:
            if limit > 0:
                recent = base.order_by(dated.desc(), articles.c.id.desc()).limit(limit)
                if since is not None:
                    recent = recent.where(dated >= since)
                for row in conn.execute(recent).all():
                    rows[row.id] = row
            extra = [i for i in dict.fromkeys(article_ids) if i not in rows]
            # Ids bound as one expanding parameter: the statement compiles once (and is
            # cached), where ``in_(chunk)`` builds a literal per id every call.
            by_ids = base.where(articles.c.id.in_(sa.bindparam("ids", expanding=True)))
            for chunk in chunks(extra):
                for row in conn.execute(by_ids, {"ids": list(chunk)}).all():
                    rows[row.id] = row
            ids = list(rows)
            # Narrow rows, then the names of the distinct topics and entities: a join would
            # look the same few thousand names up once per row (18,000 rows at 1,900
            # articles), and the rows' order is restored here rather than sorted by SQL.
            tagged: dict[int, list[tuple[str, float]]] = {}
            named: dict[int, list[tuple[int, int]]] = {}
            topic_rows = sa.select(
                article_topics.c.article_id,
                article_topics.c.topic_id,
                article_topics.c.confidence,
            ).where(article_topics.c.article_id.in_(sa.bindparam("ids", expanding=True)))
            entity_rows = sa.select(
                article_entities.c.article_id,
                article_entities.c.entity_id,
                article_entities.c.first_offset,
            ).where(article_entities.c.article_id.in_(sa.bindparam("ids", expanding=True)))
            for chunk in chunks(ids):
                for a, t, conf in conn.execute(topic_rows, {"ids": list(chunk)}).all():
                    tagged.setdefault(a, []).append((t, float(conf)))
                for a, e, offset in conn.execute(entity_rows, {"ids": list(chunk)}).all():
                    named.setdefault(a, []).append((int(offset), e))
            labels: dict[str, str] = {}
            query = sa.select(topics.c.id, topics.c.label).where(
                topics.c.id.in_(sa.bindparam("ids", expanding=True))
            )
            for chunk in chunks(list({t for found in tagged.values() for t, _ in found})):
                labels.update(
                    (row.id, row.label) for row in conn.execute(query, {"ids": list(chunk)}).all()
                )
            names: dict[int, str] = {}
            query = sa.select(entities.c.id, entities.c.name).where(
                entities.c.id.in_(sa.bindparam("ids", expanding=True))
            )
            for chunk in chunks(list({e for found in named.values() for _, e in found})):
                names.update(
                    (row.id, row.name) for row in conn.execute(query, {"ids": list(chunk)}).all()
                )
        tags = {
            a: tuple([(t, labels[t], conf) for t, conf in found if t in labels])
            for a, found in tagged.items()
        }
        mentions = {
            a: tuple([(e, names[e], offset) for offset, e in sorted(found) if e in names])
            for a, found in named.items()
        }
        # Rows unpacked as tuples, in ``columns`` order: a Row's attribute lookups cost
        # more than the rest of building the facts.
        return [
            ArticleFacts(
                article_id=a,
                source_id=source_id,
                source_name=source_name,
                title=title,
                summary=summary,
                url=url,
                authors=() if not authors or authors == "[]" else json_strings(authors),
                published=dated_at,
                body_chars=int(chars or 0),
                story_id=story_id,
                story_sources=int(source_count or 1),
                story_recent=int(recent_count or 1),
                vector=bytes(vector) if vector is not None else None,
                topics=tags.get(a, ()),
                entities=mentions.get(a, ()),
                duplicate_of=duplicate_of,
            )
            for (
                a,
                source_id,
                source_name,
                title,
                summary,
                url,
                authors,
                dated_at,
                chars,
                story_id,
                vector,
                duplicate_of,
                source_count,
                recent_count,
            ) in rows.values()
        ]

    def candidate_ids(
        self,
        *,
        since: datetime,
        entity_ids: Sequence[int] = (),
        topic_ids: Sequence[str] = (),
        source_ids: Sequence[int] = (),
        story_ids: Sequence[int] = (),
        per_key: int = 50,
        top_stories: int = 100,
        newest: int = 200,
    ) -> list[int]:
        dated = sa.func.coalesce(articles.c.published, articles.c.fetched_at)
        # One small indexed query per followed thing: "the newest N naming it" reads N
        # index entries, where one IN query would sort every match. They go to the
        # database as one UNION ALL, not one round trip each.
        parts: list[sa.Select[Any]] = []
        for entity_id in dict.fromkeys(entity_ids):
            parts.append(
                sa.select(article_entities.c.article_id.label("id"))
                .where(article_entities.c.entity_id == entity_id)
                .order_by(article_entities.c.article_id.desc())
                .limit(per_key)
            )
        for topic_id in dict.fromkeys(topic_ids):
            parts.append(
                sa.select(article_topics.c.article_id.label("id"))
                .where(article_topics.c.topic_id == topic_id)
                .order_by(article_topics.c.article_id.desc())
                .limit(per_key)
            )
        for source_id in dict.fromkeys(source_ids):
            parts.append(
                sa.select(articles.c.id.label("id"))
                .where(articles.c.source_id == source_id)
                .order_by(articles.c.published.desc())
                .limit(per_key)
            )
        for chunk in chunks(list(dict.fromkeys(story_ids))):
            parts.append(
                sa.select(enrichments.c.article_id.label("id"))
                .where(enrichments.c.story_id.in_(chunk))
                .order_by(enrichments.c.article_id.desc())
                .limit(per_key * len(chunk))
            )
        if top_stories:
            parts.append(
                sa.select(stories.c.representative_id.label("id"))
                .where(stories.c.last_seen >= since, stories.c.representative_id.is_not(None))
                .order_by(stories.c.source_count.desc(), stories.c.last_seen.desc())
                .limit(top_stories)
            )
        if newest:
            parts.append(
                sa.select(articles.c.id.label("id"))
                .where(dated >= since)
                .order_by(articles.c.published.desc().nulls_last(), articles.c.id.desc())
                .limit(newest)
            )
        found: dict[int, None] = {}
        with self._transaction("find candidate articles") as conn:
            # 100 parts bind at most 700 values (one story chunk of 500 and two values in
            # each other part), under the 999 of old SQLite.
            for group in chunks(parts, 100):
                union = sa.union_all(*(sa.select(part.subquery().c.id) for part in group))
                found.update(dict.fromkeys(conn.execute(union).scalars().all()))
        return [i for i in found if i is not None]

    def article_engagement(
        self, article_ids: Sequence[int], *, since: datetime
    ) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        query = (
            sa.select(
                engagement.c.article_id,
                sa.func.sum(engagement.c.shown),
                sa.func.sum(engagement.c.engaged),
            )
            .where(
                engagement.c.article_id.in_(sa.bindparam("ids", expanding=True)),
                engagement.c.day >= utc_day(since),
            )
            .group_by(engagement.c.article_id)
        )
        with self._transaction("count readers' engagement") as conn:
            for chunk in chunks(list(dict.fromkeys(article_ids))):
                for article_id, n_shown, n_engaged in conn.execute(
                    query, {"ids": list(chunk)}
                ).all():
                    found[int(article_id)] = (int(n_shown or 0), int(n_engaged or 0))
        return found

    def reader_stamp(self, reader_id: int) -> tuple[object, ...]:
        events_of = sa.select(sa.func.count(), sa.func.max(events.c.id)).where(
            events.c.reader_id == reader_id
        )
        interests_of = (
            sa.select(interests.c.kind, interests.c.value, interests.c.stance)
            .where(interests.c.reader_id == reader_id)
            .order_by(interests.c.kind, interests.c.value)
        )
        settings_of = sa.select(readers.c.exploration, readers.c.diversity).where(
            readers.c.id == reader_id
        )
        with self._transaction("read the reader's stamp") as conn:
            settings = conn.execute(settings_of).one_or_none()
            if settings is None:
                return ()
            return (
                *settings,
                *conn.execute(events_of).one(),
                hash(tuple(tuple(r) for r in conn.execute(interests_of))),
            )

    def load_model(self, name: str) -> tuple[str, datetime, int] | None:
        with self._transaction("read the model") as conn:
            row = conn.execute(sa.select(models).where(models.c.name == name)).one_or_none()
        return (row.payload, row.fitted_at, int(row.examples)) if row is not None else None

    def save_model(self, name: str, payload: str, *, fitted_at: datetime, examples: int) -> None:
        values = {"payload": payload, "fitted_at": fitted_at, "examples": examples}
        with self._transaction("store the model", writes=True) as conn:
            done = conn.execute(sa.update(models).where(models.c.name == name).values(values))
            if not done.rowcount:
                conn.execute(sa.insert(models).values(name=name, **values))
