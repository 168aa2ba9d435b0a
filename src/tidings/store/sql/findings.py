"""What enrichment found, as the reader's pages read it: an article's analysis, entities,
stories and topics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.errors import EntityNotFoundError, StoryNotFoundError
from tidings.store.base import entity_key
from tidings.store.schema import (
    article_entities,
    article_topics,
    articles,
    enrichments,
    entities,
    entity_keys,
    quotes,
    stories,
    topics,
)
from tidings.store.sql.articles import require_articles
from tidings.store.sql.connection import SQLBase, chunks
from tidings.store.sql.rows import article_from_row, json_strings
from tidings.types import (
    Article,
    ArticleEntity,
    ArticleInsight,
    EnrichmentStatus,
    Entity,
    Quote,
    Story,
    TopicKind,
    TopicTag,
)


class FindingsMixin(SQLBase):
    """Entities, stories and topics (:class:`tidings.store.base.FindingsStorage`)."""

    def article_insight(self, article_id: int) -> ArticleInsight | None:
        with self._transaction("read the article's analysis") as conn:
            row = conn.execute(
                sa.select(enrichments).where(enrichments.c.article_id == article_id)
            ).one_or_none()
            if row is None:
                require_articles(conn, [article_id])
                return None
            found = conn.execute(
                sa.select(
                    entities,
                    article_entities.c.mentions,
                    article_entities.c.first_offset,
                    article_entities.c.description.label("role"),
                )
                .join(article_entities, article_entities.c.entity_id == entities.c.id)
                .where(article_entities.c.article_id == article_id)
                .order_by(article_entities.c.first_offset)
            ).all()
            tags = conn.execute(
                sa.select(topics, article_topics.c.confidence)
                .join(article_topics, article_topics.c.topic_id == topics.c.id)
                .where(article_topics.c.article_id == article_id)
                .order_by(article_topics.c.confidence.desc())
            ).all()
            said = conn.execute(
                sa.select(quotes, entities.c.name.label("entity_name"))
                .outerjoin(entities, entities.c.id == quotes.c.entity_id)
                .where(quotes.c.article_id == article_id)
                .order_by(quotes.c.position)
            ).all()
            story = _stories_by_id(conn, [row.story_id]).get(row.story_id) if row.story_id else None
            root = row.duplicate_of or article_id
            duplicates = [
                a
                for a in conn.execute(
                    sa.select(enrichments.c.article_id)
                    .where(
                        sa.or_(
                            enrichments.c.duplicate_of == root,
                            enrichments.c.article_id == root,
                        )
                    )
                    .order_by(enrichments.c.article_id)
                ).scalars()
                if a != article_id
            ]
        return ArticleInsight(
            article_id=article_id,
            status=EnrichmentStatus(row.status),
            note=row.note,
            language=row.language,
            enriched_at=row.enriched_at,
            entities=tuple(
                ArticleEntity(
                    entity=_entity(e),
                    mentions=e.mentions,
                    first_offset=e.first_offset,
                    description=e.role,
                )
                for e in found
            ),
            topics=tuple(_topic(t, t.confidence) for t in tags),
            quotes=tuple(_quote(q) for q in said),
            story=story,
            duplicates=tuple(duplicates),
        )

    def list_entities(
        self,
        *,
        type: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Entity]:
        select = (
            sa.select(entities)
            .where(entities.c.article_count > 0)
            .order_by(entities.c.article_count.desc(), entities.c.id)
            .limit(limit)
            .offset(offset)
        )
        if type is not None:
            select = select.where(entities.c.type == type.upper())
        if query:
            select = select.where(
                entities.c.id.in_(
                    sa.select(entity_keys.c.entity_id).where(
                        entity_keys.c.key.like(f"%{entity_key(query)}%")
                    )
                )
            )
        with self._transaction("list entities") as conn:
            return [_entity(row) for row in conn.execute(select)]

    def suggest_entities(self, query: str, *, limit: int = 20) -> list[Entity]:
        key = entity_key(query)
        if not key:
            return []
        # Any of its names starting with the query, or with a word of it: "xi" finds
        # "Xi Jinping" and "President Xi", not "Mexico".
        like = _like_escape(key)
        keyed = sa.select(entity_keys.c.entity_id).where(
            sa.or_(
                entity_keys.c.key.like(f"{like}%", escape="\\"),
                entity_keys.c.key.like(f"% {like}%", escape="\\"),
            )
        )
        select = (
            sa.select(entities)
            .where(entities.c.article_count > 0, entities.c.id.in_(keyed))
            .order_by(entities.c.article_count.desc(), entities.c.id)
            .limit(limit)
        )
        with self._transaction("suggest entities") as conn:
            return [_entity(row) for row in conn.execute(select)]

    def get_entity(self, key: int | str) -> Entity:
        with self._transaction("read the entity") as conn:
            if isinstance(key, int):
                row = conn.execute(sa.select(entities).where(entities.c.id == key)).one_or_none()
            else:
                row = conn.execute(
                    sa.select(entities)
                    .join(entity_keys, entity_keys.c.entity_id == entities.c.id)
                    .where(entity_keys.c.key == entity_key(key))
                    .order_by(entities.c.article_count.desc(), entities.c.id)
                    .limit(1)
                ).one_or_none()
        if row is None:
            raise EntityNotFoundError(f"no such entity: {key}", resource=str(key))
        return _entity(row)

    def entity_articles(self, entity_id: int, *, limit: int = 50) -> list[Article]:
        query = (
            sa.select(articles)
            .join(article_entities, article_entities.c.article_id == articles.c.id)
            .where(article_entities.c.entity_id == entity_id)
            .order_by(articles.c.published.desc().nulls_last(), articles.c.id.desc())
            .limit(limit)
        )
        with self._transaction("list the entity's articles") as conn:
            return [article_from_row(row) for row in conn.execute(query)]

    def entity_quotes(self, entity_id: int, *, limit: int = 20) -> list[Quote]:
        query = (
            sa.select(quotes, entities.c.name.label("entity_name"))
            .join(entities, entities.c.id == quotes.c.entity_id)
            .where(quotes.c.entity_id == entity_id)
            .order_by(quotes.c.article_id.desc(), quotes.c.position)
            .limit(limit)
        )
        with self._transaction("list the entity's quotes") as conn:
            return [_quote(q) for q in conn.execute(query)]

    def list_stories(
        self, *, since: datetime | None = None, limit: int = 50, offset: int = 0
    ) -> list[Story]:
        query = (
            sa.select(stories.c.id)
            .order_by(stories.c.last_seen.desc(), stories.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if since is not None:
            query = query.where(stories.c.last_seen >= since)
        with self._transaction("list stories") as conn:
            ids = list(conn.execute(query).scalars())
            found = _stories_by_id(conn, ids)
        return [found[i] for i in ids if i in found]

    def get_story(self, story_id: int) -> Story:
        with self._transaction("read the story") as conn:
            found = _stories_by_id(conn, [story_id])
        if story_id not in found:
            raise StoryNotFoundError(f"no such story: {story_id}", resource=str(story_id))
        return found[story_id]

    def story_articles(self, story_id: int) -> list[Article]:
        query = (
            sa.select(articles)
            .join(enrichments, enrichments.c.article_id == articles.c.id)
            .where(enrichments.c.story_id == story_id)
            .order_by(articles.c.published.desc().nulls_last(), articles.c.id.desc())
        )
        with self._transaction("list the story's articles") as conn:
            return [article_from_row(row) for row in conn.execute(query)]

    def find_topic(self, name: str) -> TopicTag | None:
        folded = name.casefold()
        query = sa.select(topics).where(
            sa.or_(sa.func.lower(topics.c.id) == folded, sa.func.lower(topics.c.label) == folded)
        )
        with self._transaction("find the topic") as conn:
            row = conn.execute(query.order_by(topics.c.id).limit(1)).one_or_none()
        return _topic(row, 1.0) if row is not None else None

    def topic_articles(self, topic_id: str, *, limit: int = 20) -> list[Article]:
        # "The newest N carrying it" reads N entries of the topic's index.
        newest = (
            sa.select(article_topics.c.article_id)
            .where(article_topics.c.topic_id == topic_id)
            .order_by(article_topics.c.article_id.desc())
            .limit(limit)
            .subquery()
        )
        query = (
            sa.select(articles)
            .where(articles.c.id.in_(sa.select(newest.c.article_id)))
            .order_by(
                sa.func.coalesce(articles.c.published, articles.c.fetched_at).desc(),
                articles.c.id.desc(),
            )
        )
        with self._transaction("list the topic's articles") as conn:
            return [article_from_row(row) for row in conn.execute(query)]

    def suggest_topics(self, query: str, *, limit: int = 20) -> list[tuple[TopicTag, int]]:
        folded = " ".join(query.casefold().split())
        if not folded:
            return []
        like = _like_escape(folded)
        label = sa.func.lower(topics.c.label)
        count = (
            sa.select(sa.func.count())
            .where(article_topics.c.topic_id == topics.c.id)
            .scalar_subquery()
        )
        query_ = (
            sa.select(topics, count.label("n"))
            .where(
                sa.or_(
                    label.like(f"{like}%", escape="\\"),
                    label.like(f"% {like}%", escape="\\"),
                    label.like(f"%-{like}%", escape="\\"),
                    label.like(f"%\u2013{like}%", escape="\\"),
                )
            )
            .order_by(sa.desc("n"), topics.c.id)
            .limit(limit)
        )
        with self._transaction("suggest topics") as conn:
            return [(_topic(row, 1.0), int(row.n)) for row in conn.execute(query_)]

    def list_topics(self, *, kind: TopicKind | None = None) -> list[tuple[TopicTag, int]]:
        count = sa.func.count(article_topics.c.article_id)
        query = (
            sa.select(topics, count.label("n"))
            .outerjoin(article_topics, article_topics.c.topic_id == topics.c.id)
            .group_by(topics.c.id, topics.c.label, topics.c.kind, topics.c.parent)
            .order_by(count.desc(), topics.c.id)
        )
        if kind is not None:
            query = query.where(topics.c.kind == kind.value)
        with self._transaction("list topics") as conn:
            return [(_topic(row, 1.0), int(row.n)) for row in conn.execute(query)]


def _like_escape(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _entity(row: Any) -> Entity:
    return Entity(
        id=row.id,
        name=row.name,
        type=row.type,
        description=row.description,
        aliases=json_strings(row.aliases),
        article_count=row.article_count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def _quote(row: Any) -> Quote:
    """A quote from a row of ``quotes`` joined with its entity's name as ``entity_name``."""
    return Quote(
        text=row.text,
        speaker=row.speaker,
        entity_id=row.entity_id,
        entity_name=row.entity_name,
        article_id=row.article_id,
    )


def _topic(row: Any, confidence: float) -> TopicTag:
    return TopicTag(
        id=row.id,
        label=row.label,
        kind=TopicKind(row.kind),
        parent=row.parent,
        confidence=float(confidence),
    )


def _stories_by_id(conn: sa.Connection, story_ids: Sequence[int]) -> dict[int, Story]:
    found: dict[int, Story] = {}
    for chunk in chunks(list(dict.fromkeys(story_ids))):
        for row in conn.execute(sa.select(stories).where(stories.c.id.in_(chunk))):
            found[row.id] = Story(
                id=row.id,
                headline=row.headline,
                representative_id=row.representative_id,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                article_count=row.article_count,
                source_count=row.source_count,
                recent_count=row.recent_count,
            )
    return found
