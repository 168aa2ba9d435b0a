"""What ranking reads: articles' facts, candidates, engagement across readers, a reader's
stamp for caches; and the models learned from all readers."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store.schema import (
    article_entities,
    article_removals,
    article_topics,
    articles,
    change_counter,
    engagement,
    enrichments,
    entities,
    events,
    follow_marks,
    interests,
    models,
    readers,
    sources,
    stories,
    topics,
)
from tidings.store.sql.connection import SQLBase, chunks
from tidings.store.sql.marks import EVERYTHING, mark_followed
from tidings.store.sql.readers import utc_day
from tidings.store.sql.rows import json_strings, sequence_window
from tidings.types import (
    ArticleFacts,
    EnrichmentStatus,
    EventKind,
    RankingChanges,
    Stance,
    StoryCounts,
)


@functools.cache
def _facts_query(vectors: bool = True) -> tuple[sa.Select[Any], sa.ColumnElement[Any]]:
    """Analysed articles' narrow rows (``_facts`` reads them) and their date; without
    ``vectors``, the embedding column reads as NULL (what a page displays needs none). Built
    once: building it was a tenth of a page's storage reads."""
    dated = sa.func.coalesce(articles.c.published, articles.c.fetched_at)
    body_chars = sa.func.length(sa.func.coalesce(articles.c.body, ""))
    vector = enrichments.c.vector if vectors else sa.null().label("vector")
    # Pictures are read for display only, where vectors are not.
    images = sa.null().label("images") if vectors else articles.c.images
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
        vector,
        enrichments.c.duplicate_of,
        stories.c.source_count,
        stories.c.recent_count,
        images,
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
    return base, dated


@functools.cache
def _facts_by_ids(vectors: bool = True) -> sa.Select[Any]:
    """:func:`_facts_query` of the articles with the ids bound as ``ids``: one expanding
    parameter, so the statement compiles once (and is cached), where ``in_(chunk)`` builds a
    literal per id every call."""
    base, _ = _facts_query(vectors)
    return base.where(articles.c.id.in_(sa.bindparam("ids", expanding=True)))


class RankingMixin(SQLBase):
    """Ranking reads and models (:class:`tidings.store.base.RankingStorage`)."""

    def rank_facts(
        self,
        *,
        since: datetime | None = None,
        limit: int = 2000,
        article_ids: Sequence[int] = (),
    ) -> list[ArticleFacts]:
        base, dated = _facts_query()
        rows: dict[int, Any] = {}
        with self._transaction("read articles to rank") as conn:
            if limit > 0:
                recent = base.order_by(dated.desc(), articles.c.id.desc()).limit(limit)
                if since is not None:
                    recent = recent.where(dated >= since)
                for row in conn.execute(recent).all():
                    rows[row.id] = row
            extra = [i for i in dict.fromkeys(article_ids) if i not in rows]
            by_ids = _facts_by_ids()
            for chunk in chunks(extra):
                for row in conn.execute(by_ids, {"ids": list(chunk)}).all():
                    rows[row.id] = row
            return _facts(conn, list(rows.values()), names=True)

    def display_facts(self, article_ids: Sequence[int]) -> list[ArticleFacts]:
        by_ids = _facts_by_ids(vectors=False)
        with self._transaction("read the page's articles") as conn:
            rows: list[Any] = []
            for chunk in chunks(list(dict.fromkeys(article_ids))):
                rows.extend(conn.execute(by_ids, {"ids": list(chunk)}).all())
            return _facts(conn, rows, names=False, tags=False)

    def entity_names(self, entity_ids: Sequence[int]) -> dict[int, str]:
        query = sa.select(entities.c.id, entities.c.name).where(
            entities.c.id.in_(sa.bindparam("ids", expanding=True))
        )
        out: dict[int, str] = {}
        with self._transaction("read entities' names") as conn:
            for chunk in chunks(list(dict.fromkeys(entity_ids))):
                out.update((int(i), n) for i, n in conn.execute(query, {"ids": list(chunk)}))
        return out

    def window_facts(
        self, *, since: datetime, after_id: int = 0, limit: int = 5000
    ) -> list[ArticleFacts]:
        base, dated = _facts_query()
        query = (
            base.where(dated >= since, articles.c.id > after_id)
            .order_by(articles.c.id)
            .limit(limit)
        )
        with self._transaction("read the articles to hold for ranking") as conn:
            return _facts(conn, conn.execute(query).all(), names=False)

    def engagement_since(self, since: datetime) -> list[tuple[int, int, int, int]]:
        query = sa.select(
            engagement.c.article_id, engagement.c.day, engagement.c.shown, engagement.c.engaged
        ).where(engagement.c.day >= utc_day(since))
        with self._transaction("read readers' engagement") as conn:
            return [(int(a), int(d), int(s), int(e)) for a, d, s, e in conn.execute(query)]

    def change_position(self) -> int:
        with self._transaction("read the change sequence") as conn:
            if conn.dialect.name == "postgresql":
                value = conn.execute(
                    sa.text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq")
                ).scalar_one()
            else:
                value = conn.execute(sa.select(change_counter.c.value)).scalar_one()
        return int(value)

    def ranking_changes(
        self, *, after: int, also: Sequence[int] = (), limit: int = 5000
    ) -> RankingChanges:
        tables = (enrichments, stories, engagement, article_removals)
        with self._transaction("read what changed for ranking") as conn:
            wanted = sequence_window(conn, tables, after=after, also=also, limit=limit)

            seqs: set[int] = set()
            changed = conn.execute(
                sa.select(enrichments.c.article_id, enrichments.c.status, enrichments.c.seq).where(
                    wanted(enrichments)
                )
            ).all()
            done = [a for a, status, _ in changed if status == EnrichmentStatus.DONE.value]
            seqs.update(int(q) for _, _, q in changed)
            by_ids = _facts_by_ids()
            rows: list[Any] = []
            for chunk in chunks(done):
                rows.extend(conn.execute(by_ids, {"ids": list(chunk)}).all())
            facts = _facts(conn, rows, names=False)
            found = {f.article_id for f in facts}
            dropped = [a for a, _, _ in changed if a not in found]
            removals = conn.execute(
                sa.select(article_removals.c.article_id, article_removals.c.seq).where(
                    wanted(article_removals)
                )
            ).all()
            dropped.extend(int(a) for a, _ in removals)
            seqs.update(int(q) for _, q in removals)
            story_rows = conn.execute(
                sa.select(
                    stories.c.id,
                    stories.c.source_count,
                    stories.c.recent_count,
                    stories.c.last_seen,
                    stories.c.representative_id,
                    stories.c.seq,
                ).where(wanted(stories))
            ).all()
            seqs.update(int(row.seq) for row in story_rows)
            counts = conn.execute(
                sa.select(
                    engagement.c.article_id,
                    engagement.c.day,
                    engagement.c.shown,
                    engagement.c.engaged,
                    engagement.c.seq,
                ).where(wanted(engagement))
            ).all()
            seqs.update(int(row.seq) for row in counts)
        return RankingChanges(
            articles=tuple(facts),
            dropped=tuple(dict.fromkeys(dropped)),
            stories=tuple(
                StoryCounts(
                    story_id=int(row.id),
                    sources=int(row.source_count or 1),
                    recent=int(row.recent_count or 1),
                    last_seen=row.last_seen,
                    representative_id=row.representative_id,
                )
                for row in story_rows
            ),
            engagement=tuple(
                (int(row.article_id), int(row.day), int(row.shown), int(row.engaged))
                for row in counts
            ),
            seqs=tuple(sorted(seqs)),
        )

    def reader_stamp(self, reader_id: int) -> tuple[object, ...]:
        # Impressions are left out: showing a page records them, and a page must not go
        # stale by being shown (they reach the next page when the cached one expires).
        events_of = sa.select(sa.func.count(), sa.func.max(events.c.id)).where(
            events.c.reader_id == reader_id, events.c.kind != EventKind.IMPRESSION.value
        )
        # The last change that brought something the reader follows a new article, and
        # the last that changed everyone's pages: whichever process wrote it.
        news_of = (
            sa.select(sa.func.max(follow_marks.c.seq))
            .select_from(
                interests.join(
                    follow_marks,
                    sa.and_(
                        follow_marks.c.kind == interests.c.kind,
                        follow_marks.c.value == interests.c.value,
                    ),
                )
            )
            .where(interests.c.reader_id == reader_id, interests.c.stance == Stance.FOLLOW.value)
        )
        for_everyone = sa.select(follow_marks.c.seq).where(
            follow_marks.c.kind == EVERYTHING[0], follow_marks.c.value == EVERYTHING[1]
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
                conn.execute(news_of).scalar_one_or_none(),
                conn.execute(for_everyone).scalar_one_or_none(),
            )

    def latest_follow_mark(self) -> int:
        with self._transaction("read the latest news of what readers follow") as conn:
            found = conn.execute(sa.select(sa.func.max(follow_marks.c.seq))).scalar_one()
        return int(found or 0)

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
            mark_followed(conn, {EVERYTHING})  # new weights: every page is stale


def _facts(
    conn: sa.Connection, rows: Sequence[Any], *, names: bool, tags: bool = True
) -> list[ArticleFacts]:
    """Facts of the rows ``RankingMixin._facts_query`` selects, with their topics (and
    labels) and entities (with their names when ``names``; the window keeps ids only);
    without ``tags``, neither topics nor entities."""
    ids = [row[0] for row in rows] if tags else []
    # Narrow rows, then the names of the distinct topics and entities: a join would look
    # the same few thousand names up once per row (18,000 rows at 1,900 articles).
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
        labels.update((row.id, row.label) for row in conn.execute(query, {"ids": list(chunk)}))
    entity_names: dict[int, str] = {}
    if names:
        query = sa.select(entities.c.id, entities.c.name).where(
            entities.c.id.in_(sa.bindparam("ids", expanding=True))
        )
        for chunk in chunks(list({e for found in named.values() for _, e in found})):
            entity_names.update(
                (row.id, row.name) for row in conn.execute(query, {"ids": list(chunk)})
            )
    topic_tags = {
        a: tuple([(t, labels[t], conf) for t, conf in found if t in labels])
        for a, found in tagged.items()
    }
    if names:
        mentions = {
            a: tuple(
                [(e, entity_names[e], offset) for offset, e in sorted(found) if e in entity_names]
            )
            for a, found in named.items()
        }
    else:
        mentions = {
            a: tuple([(e, "", offset) for offset, e in sorted(found)]) for a, found in named.items()
        }
    # Rows unpacked as tuples, in the query's column order: a Row's attribute lookups cost
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
            topics=topic_tags.get(a, ()),
            entities=mentions.get(a, ()),
            duplicate_of=duplicate_of,
            image=_first_image(images),
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
            images,
        ) in rows
    ]


def _first_image(images: str | None) -> str | None:
    """The first picture's address of an article's stored images (JSON), if any."""
    if not images or images == "[]":
        return None
    for image in json.loads(images):
        if isinstance(image, dict) and image.get("url"):
            return str(image["url"])
    return None
