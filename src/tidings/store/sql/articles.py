"""Articles: storing batches idempotently, reading them back, and searching them."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.errors import ArticleNotFoundError, SourceNotFoundError, StorageError
from tidings.store.schema import article_sources, articles, interests, sources
from tidings.store.sql.connection import SQLBase, chunks, insert_for
from tidings.store.sql.rows import article_from_row, json_list
from tidings.store.sql.work import (
    PG_ADDRESS_LOCK_CLASS,
    PRIORITY_FOLLOWED,
    PRIORITY_OTHER,
    enqueue_analysis,
)
from tidings.types import Article, ArticleDraft, InterestKind, Stance, UpsertResult

#: Search: words of a query (at most this many) and PostgreSQL's text-search vector, the
#: expression of migration 0004's GIN index (repeated exactly, or the index goes unused).
_SEARCH_WORD = re.compile(r"\w+")
SEARCH_MAX_WORDS = 12
PG_SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(articles.title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(articles.summary, '')), 'B') || "
    "to_tsvector('english'::regconfig, left(coalesce(articles.body, ''), 100000))"
)


@dataclass(slots=True)
class _Stored:
    """What an upsert needs to know about an article already in the database."""

    id: int
    source_id: int
    content_hash: str
    updated: datetime | None
    #: Why it has no page (its page failed, or is still pending), if so.
    extraction_note: str | None = None


@dataclass(slots=True)
class _Target:
    """One article a batch resolves to: a stored one, or one to insert."""

    #: The last draft in the batch for this article (the last one wins).
    draft: ArticleDraft
    digest: str
    #: The guid to insert a new article with: the first one the batch gave it.
    guid: str | None
    stored: _Stored | None = None


class ArticlesMixin(SQLBase):
    """Articles and their search (:class:`tidings.store.base.ArticleStorage`)."""

    def upsert_articles(
        self,
        source_id: int,
        drafts: Sequence[ArticleDraft],
        *,
        fetched_at: datetime,
        followed: Collection[str] = (),
    ) -> UpsertResult:
        """Store a batch of articles in one transaction.

        Identity, in order: the guid within the source; else the canonical URL across all
        sources (an entry from another source matching that way is recorded in
        ``article_sources``); else, for drafts with neither, the content digest within the
        source. A new guid whose canonical URL is known is the known article.

        A known article is rewritten only when its digest changed, and then only if the
        draft is not older (by ``updated``) than what is stored, and, when it comes from a
        source other than the article's own, only if it is newer: two feeds carrying the
        same story with different teasers would otherwise overwrite each other every poll.

        New and rewritten articles go on the analysis queue (``analysis_queue``), first in
        line when their source is followed by a reader or their digest is in ``followed``
        (drafts that name something a reader follows).

        Cost: one query per kind of key per 500 keys, one multi-row INSERT, one
        executemany UPDATE; no per-row SELECT.
        """
        digests = [draft.digest() for draft in drafts]
        guids = list({d.guid for d in drafts if d.guid})
        canonicals = list({d.canonical_url for d in drafts if d.canonical_url})
        hashes = list(
            {h for d, h in zip(drafts, digests, strict=True) if not d.guid and not d.canonical_url}
        )
        with self._transaction("store articles", writes=True) as conn:
            # Locking the source row makes concurrent batches of one source take turns
            # on PostgreSQL (SQLite's IMMEDIATE transaction already does); NO KEY leaves
            # other transactions free to insert rows that reference the source.
            found = conn.execute(
                sa.select(sources.c.id)
                .where(sources.c.id == source_id)
                .with_for_update(key_share=True)
            ).one_or_none()
            if found is None:
                raise SourceNotFoundError(f"no such source: {source_id}", resource=str(source_id))
            if canonicals and conn.dialect.name == "postgresql":
                # An address is one article across sources, and no unique index says so:
                # two workers storing one address from two sources at once would each find
                # it absent and insert it (10 articles too many in 1,830 in a test). Batches
                # that carry addresses take turns, as SQLite's writers always do; fetching
                # and parsing stay parallel. The lock ends with the transaction.
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:c, hashtext(current_schema()))"),
                    {"c": PG_ADDRESS_LOCK_CLASS},
                )

            by_guid, by_canonical, by_hash = self._stored_keys(
                conn, source_id, guids, canonicals, hashes
            )
            targets = self._resolve(drafts, digests, by_guid, by_canonical, by_hash)
            result, queued = self._write(conn, source_id, targets, fetched_at)
            if queued:
                source_followed = conn.execute(
                    sa.select(sa.literal(1))
                    .select_from(interests)
                    .where(
                        interests.c.kind == InterestKind.SOURCE.value,
                        interests.c.value == str(source_id),
                        interests.c.stance == Stance.FOLLOW.value,
                    )
                    .limit(1)
                ).first()
                wanted = frozenset(followed)
                for row in queued:
                    if source_followed is not None or row["content_hash"] in wanted:
                        row["priority"] = PRIORITY_FOLLOWED
                enqueue_analysis(conn, queued)
            return result

    @staticmethod
    def _stored_keys(
        conn: sa.Connection,
        source_id: int,
        guids: Sequence[str],
        canonicals: Sequence[str],
        hashes: Sequence[str],
    ) -> tuple[dict[str, _Stored], dict[str, _Stored], dict[str, _Stored]]:
        columns = (
            articles.c.id,
            articles.c.source_id,
            articles.c.content_hash,
            articles.c.updated,
            articles.c.extraction_note,
        )
        by_guid: dict[str, _Stored] = {}
        for chunk in chunks(guids):
            query = sa.select(*columns, articles.c.guid).where(
                articles.c.source_id == source_id,
                articles.c.guid.is_not(None),
                articles.c.guid.in_(chunk),
            )
            for row in conn.execute(query):
                by_guid[row.guid] = _Stored(
                    row.id, row.source_id, row.content_hash, row.updated, row.extraction_note
                )
        by_canonical: dict[str, _Stored] = {}
        for chunk in chunks(canonicals):
            # Lowest id first: if two articles ever share a canonical URL, the older wins.
            query = (
                sa.select(*columns, articles.c.canonical_url)
                .where(articles.c.canonical_url.in_(chunk))
                .order_by(articles.c.id)
            )
            for row in conn.execute(query):
                by_canonical.setdefault(
                    row.canonical_url,
                    _Stored(
                        row.id, row.source_id, row.content_hash, row.updated, row.extraction_note
                    ),
                )
        by_hash: dict[str, _Stored] = {}
        for chunk in chunks(hashes):
            query = (
                sa.select(*columns)
                .where(
                    articles.c.source_id == source_id,
                    articles.c.guid.is_(None),
                    articles.c.content_hash.in_(chunk),
                )
                .order_by(articles.c.id)
            )
            for hit in conn.execute(query):
                by_hash.setdefault(
                    hit.content_hash,
                    _Stored(
                        hit.id, hit.source_id, hit.content_hash, hit.updated, hit.extraction_note
                    ),
                )
        return by_guid, by_canonical, by_hash

    @staticmethod
    def _resolve(
        drafts: Sequence[ArticleDraft],
        digests: Sequence[str],
        stored_guid: dict[str, _Stored],
        stored_canonical: dict[str, _Stored],
        stored_hash: dict[str, _Stored],
    ) -> list[_Target]:
        """Group the batch's drafts by the article each one is, in first-seen order."""
        targets: list[_Target] = []
        of_stored: dict[int, _Target] = {}
        batch_guid: dict[str, _Target] = {}
        batch_canonical: dict[str, _Target] = {}
        batch_hash: dict[str, _Target] = {}

        def for_stored(stored: _Stored | None, draft: ArticleDraft, digest: str) -> _Target | None:
            if stored is None:
                return None
            target = of_stored.get(stored.id)
            if target is None:
                target = of_stored[stored.id] = _Target(draft, digest, None, stored)
                targets.append(target)
            return target

        for draft, digest in zip(drafts, digests, strict=True):
            guid, canonical = draft.guid or None, draft.canonical_url or None
            target: _Target | None = None
            if guid:
                stored = stored_guid.get(guid)
                target = for_stored(stored, draft, digest) or batch_guid.get(guid)
            if target is None and canonical:
                stored = stored_canonical.get(canonical)
                target = for_stored(stored, draft, digest) or batch_canonical.get(canonical)
            if target is None and not guid and not canonical:
                stored = stored_hash.get(digest)
                target = for_stored(stored, draft, digest) or batch_hash.get(digest)
            if target is None:
                target = _Target(draft, digest, guid)
                targets.append(target)
            target.draft, target.digest = draft, digest
            if target.stored is None and target.guid is None:
                target.guid = guid
            if guid:
                batch_guid.setdefault(guid, target)
            if canonical:
                batch_canonical.setdefault(canonical, target)
            if not guid and not canonical:
                batch_hash.setdefault(digest, target)
        return targets

    @staticmethod
    def _write(
        conn: sa.Connection, source_id: int, targets: Sequence[_Target], fetched_at: datetime
    ) -> tuple[UpsertResult, list[dict[str, Any]]]:
        """Write the batch; the result, and the queue rows of what it stored anew."""
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        elsewhere: set[int] = set()
        unchanged = 0
        # Per target: ("new", index in inserts) or ("id", article id), in batch order.
        changed: list[tuple[str, int]] = []
        for target in targets:
            stored = target.stored
            if stored is None:
                row = _content(target.draft, target.digest)
                row.update(
                    source_id=source_id,
                    guid=target.guid,
                    # An entry without a date is dated when Tidings first saw it; the
                    # draft keeps None so its digest stays the same on every fetch.
                    published=target.draft.published or fetched_at,
                    fetched_at=fetched_at,
                    changed_at=fetched_at,
                )
                changed.append(("new", len(inserts)))
                inserts.append(row)
                continue
            if stored.source_id != source_id:
                elsewhere.add(stored.id)
            if _should_rewrite(target.draft, target.digest, stored, source_id):
                row = _content(target.draft, target.digest)
                # A dateless revision keeps the date the article was first given.
                row["b_published"] = row.pop("published")
                row.update(b_id=stored.id, changed_at=fetched_at)
                changed.append(("id", stored.id))
                updates.append(row)
            else:
                unchanged += 1
                note = target.draft.extraction_note
                if stored.source_id == source_id and note not in (None, stored.extraction_note):
                    # The same content with news of its page: a page that came too late
                    # for the entry (stored as pending meanwhile) and then failed. Noted,
                    # so the page is not asked for again on every poll.
                    notes.append({"n_id": stored.id, "n_note": note})

        new_ids: list[int] = []
        queued: list[dict[str, Any]] = []
        if inserts:
            new_ids = _insert_articles(conn, inserts)
            queued.extend(
                _queue_row(article_id, row["content_hash"], row["published"], fetched_at, 0)
                for article_id, row in zip(new_ids, inserts, strict=True)
            )
        # A rewritten article keeps its analysis (it is rankable) until the full one of its
        # new version replaces it.
        queued.extend(
            _queue_row(
                int(row["b_id"]),
                row["content_hash"],
                row["b_published"] or fetched_at,
                fetched_at,
                1,
            )
            for row in updates
        )
        if updates:
            # In id order, so that two batches touching the same articles lock them in
            # the same order on PostgreSQL and cannot deadlock.
            updates.sort(key=lambda row: int(row["b_id"]))
            statement = (
                sa.update(articles)
                .where(articles.c.id == sa.bindparam("b_id"))
                .values(
                    published=sa.func.coalesce(
                        sa.bindparam("b_published", type_=articles.c.published.type),
                        articles.c.published,
                    )
                )
            )
            conn.execute(statement, updates)
        if notes:
            notes.sort(key=lambda row: int(row["n_id"]))
            conn.execute(
                sa.update(articles)
                .where(articles.c.id == sa.bindparam("n_id"))
                .values(extraction_note=sa.bindparam("n_note")),
                notes,
            )
        if elsewhere:
            _record_elsewhere(conn, source_id, sorted(elsewhere), fetched_at)

        result = UpsertResult(
            new=len(inserts),
            updated=len(updates),
            unchanged=unchanged,
            changed_ids=tuple(new_ids[n] if kind == "new" else n for kind, n in changed),
        )
        return result, queued

    def find_articles(
        self,
        source_id: int,
        *,
        guids: Sequence[str] = (),
        canonical_urls: Sequence[str] = (),
    ) -> list[Article]:
        found: dict[int, Article] = {}
        with self._transaction("find articles") as conn:
            for chunk in chunks(list(dict.fromkeys(guids))):
                query = sa.select(articles).where(
                    articles.c.source_id == source_id, articles.c.guid.in_(chunk)
                )
                for row in conn.execute(query):
                    found.setdefault(row.id, article_from_row(row))
            for chunk in chunks(list(dict.fromkeys(canonical_urls))):
                query = sa.select(articles).where(articles.c.canonical_url.in_(chunk))
                for row in conn.execute(query):
                    found.setdefault(row.id, article_from_row(row))
        return list(found.values())

    def articles_by_address(self, urls: Sequence[str]) -> dict[str, Article]:
        with self._transaction("find articles by address") as conn:
            return _by_address(conn, urls)

    def get_article(self, article_id: int) -> Article:
        with self._transaction("read the article") as conn:
            row = conn.execute(sa.select(articles).where(articles.c.id == article_id)).one_or_none()
        if row is None:
            raise ArticleNotFoundError(f"no such article: {article_id}", resource=str(article_id))
        return article_from_row(row)

    def list_articles(
        self,
        *,
        source_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Article]:
        query = (
            sa.select(articles)
            .order_by(articles.c.published.desc().nulls_last(), articles.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if source_id is not None:
            query = query.where(articles.c.source_id == source_id)
        with self._transaction("list articles") as conn:
            return [article_from_row(row) for row in conn.execute(query)]

    def count_articles(self, *, source_id: int | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(articles)
        if source_id is not None:
            query = query.where(articles.c.source_id == source_id)
        with self._transaction("count articles") as conn:
            return int(conn.execute(query).scalar_one())

    def search_articles(
        self, query: str, *, limit: int = 20, offset: int = 0
    ) -> list[tuple[Article, float]]:
        words = _SEARCH_WORD.findall(query)[:SEARCH_MAX_WORDS]
        if not words:
            return []
        with self._transaction("search articles") as conn:
            if conn.dialect.name == "postgresql":
                vector: sa.ColumnElement[Any] = sa.literal_column(f"({PG_SEARCH_VECTOR})")
                tsquery = sa.func.websearch_to_tsquery(
                    sa.literal_column("'english'::regconfig"), " ".join(words)
                )
                relevance = sa.func.ts_rank(vector, tsquery)
                found = (
                    sa.select(articles, relevance.label("relevance"))
                    .where(vector.op("@@")(tsquery))
                    .order_by(relevance.desc(), articles.c.id.desc())
                )
            else:
                # Every word quoted: FTS5's own syntax (NEAR, column filters, "*") is not
                # the reader's to use, and an unbalanced quote would be a syntax error.
                match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
                fts = sa.table("articles_fts", sa.column("rowid"))
                # bm25 is lower for better matches; titles count most.
                bm25: sa.ColumnElement[float] = sa.literal_column(
                    "bm25(articles_fts, 8.0, 3.0, 1.0)"
                )
                found = (
                    sa.select(articles, (-bm25).label("relevance"))
                    .join(fts, fts.c.rowid == articles.c.id)
                    .where(sa.text("articles_fts MATCH :match").bindparams(match=match))
                    .order_by(bm25, articles.c.id.desc())
                )
            rows = conn.execute(found.limit(limit).offset(offset)).all()
        return [(article_from_row(r), float(r.relevance)) for r in rows]


def _by_address(conn: sa.Connection, urls: Sequence[str]) -> dict[str, Article]:
    wanted = list(dict.fromkeys(urls))
    found: dict[str, Article] = {}
    # By canonical URL (indexed) first; the rest by the address as given, which only an
    # article stored without a canonical URL needs (a scan: this is for imports, not pages).
    for column in (articles.c.canonical_url, articles.c.url):
        rest = [u for u in wanted if u not in found]
        for chunk in chunks(rest):
            query = sa.select(articles).where(column.in_(chunk)).order_by(articles.c.id)
            for row in conn.execute(query):
                # Lowest id first, as upserts decide: the older of two sharing one wins.
                key = row.canonical_url if column is articles.c.canonical_url else row.url
                found.setdefault(key, article_from_row(row))
    return found


def require_articles(conn: sa.Connection, article_ids: Sequence[int]) -> None:
    """Raise ArticleNotFoundError naming the first of ``article_ids`` that is not stored."""
    known: set[int] = set()
    for chunk in chunks(article_ids):
        known.update(
            conn.execute(sa.select(articles.c.id).where(articles.c.id.in_(chunk))).scalars()
        )
    if missing := [a for a in article_ids if a not in known]:
        raise ArticleNotFoundError(f"no such article: {missing[0]}", resource=str(missing[0]))


def _content(draft: ArticleDraft, digest: str) -> dict[str, Any]:
    """The columns an article's content fills (everything but identity and bookkeeping)."""
    return {
        "url": draft.url,
        "canonical_url": draft.canonical_url,
        "title": draft.title,
        "authors": json_list(draft.authors),
        "published": draft.published,
        "updated": draft.updated,
        "section": draft.section,
        "site_name": draft.site_name,
        "extraction_note": draft.extraction_note,
        "summary": draft.summary,
        "summary_points": json_list(draft.summary_points),
        "body": draft.body,
        "content_html": draft.content_html,
        "language": draft.language,
        "images": json_list(
            {"url": i.url, "caption": i.caption, "credit": i.credit} for i in draft.images
        ),
        "related": json_list({"url": r.url, "title": r.title} for r in draft.related),
        "tags": json_list(draft.tags),
        "content_hash": digest,
    }


def _should_rewrite(draft: ArticleDraft, digest: str, stored: _Stored, source_id: int) -> bool:
    if digest == stored.content_hash:
        return False
    if draft.updated is not None and stored.updated is not None:
        if draft.updated < stored.updated:
            # A stale copy (a lagging feed, a mirror): never go back in time.
            return False
        newer = draft.updated > stored.updated
    else:
        newer = draft.updated is not None
    # Another source's copy may only bring a revision it dates later than ours.
    return newer or stored.source_id == source_id


def _queue_row(
    article_id: int, digest: str, dated: datetime, queued: datetime, needs: int
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "content_hash": digest,
        "needs": needs,
        "priority": PRIORITY_OTHER,
        "dated": dated,
        "queued": queued,
    }


def _insert_articles(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert in multi-row statements and return the new ids in the order of ``rows``.

    ``sort_by_parameter_order`` would make SQLAlchemy insert one row per statement on
    SQLite (three times slower on a batch of 500), so rows are matched to their ids by
    (guid, canonical URL, digest) instead: unique within a batch, because drafts sharing
    any of the keys that identify them were merged into one article before this.
    """
    key = (articles.c.guid, articles.c.canonical_url, articles.c.content_hash)
    result = conn.execute(sa.insert(articles).returning(articles.c.id, *key), rows)
    ids = {(r.guid, r.canonical_url, r.content_hash): r.id for r in result}
    try:
        return [ids[(row["guid"], row["canonical_url"], row["content_hash"])] for row in rows]
    except KeyError as e:  # pragma: no cover - would mean the merge above is wrong
        raise StorageError(f"inserted articles could not be matched to their ids: {e}") from e


def _record_elsewhere(
    conn: sa.Connection, source_id: int, article_ids: Sequence[int], seen: datetime
) -> None:
    """Note that these articles, owned by other sources, also appeared in this one."""
    known: set[int] = set()
    for chunk in chunks(article_ids):
        known.update(
            conn.execute(
                sa.select(article_sources.c.article_id).where(
                    article_sources.c.source_id == source_id,
                    article_sources.c.article_id.in_(chunk),
                )
            ).scalars()
        )
    rows = [
        {"article_id": a, "source_id": source_id, "first_seen": seen}
        for a in article_ids
        if a not in known
    ]
    if not rows:
        return
    conn.execute(insert_for(conn)(article_sources).on_conflict_do_nothing(), rows)
