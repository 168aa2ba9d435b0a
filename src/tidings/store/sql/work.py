"""What processes sharing one database need to share the work and follow each other.

**Leases.** Work is divided through the database itself: a worker *claims* due sources,
pending articles or due digests by writing its name and a time into their rows (a lease),
and no other worker takes them until the lease runs out, so a worker that dies lets its work
go to the others. On PostgreSQL the claim is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE
SKIP LOCKED)``: concurrent claimers skip each other's rows instead of waiting, and a row
another claimer has just leased fails the re-check of the lease condition when it is locked.
On SQLite every writing transaction is serialised (``BEGIN IMMEDIATE``), so the same
statement without the locking clause is exact. Same code, either database.

**The analysis lock.** The steps of analysis that look across articles (near-duplicates,
matching entities, clustering stories) read what earlier analyses stored and write what
later ones read, so they run one process at a time: :meth:`WorkMixin.analysis_lock`, a
PostgreSQL advisory lock held by a connection (released if the process dies) or a lock on a
file beside the SQLite database. The models' work (seconds per batch) runs in parallel; the
locked steps take a few milliseconds per article.

**Following.** The database's identity and the analyses written since a change position,
for vector indexes and near-duplicate indexes kept in memory.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tidings.store.base import AnalysisChange, AnalysisChanges, AnalysisClaim
from tidings.store.schema import (
    accounts,
    analysis_queue,
    article_removals,
    articles,
    database_identity,
    enrichments,
    entity_keys,
    interests,
    sources,
)
from tidings.store.sql.connection import SQLBase, chunks, insert_for
from tidings.store.sql.rows import article_from_row, sequence_window
from tidings.store.sql.sources import source_from_row
from tidings.types import EnrichmentStatus, InterestKind, Source, SourceKind, Stance

#: Queue priority: articles naming something a reader follows go before the rest.
PRIORITY_FOLLOWED = 0
PRIORITY_OTHER = 1
#: What an article on the queue waits for: its first analysis (a quick one makes it
#: rankable), or its full one.
NEEDS_FIRST = 0
NEEDS_FULL = 1

#: The PostgreSQL advisory lock of the analysis steps that look across articles: a class
#: of our own ("tid" in ASCII), and the schema's hash, so that schemas sharing a server
#: (tests, several installations) do not wait for each other.
PG_ANALYSIS_LOCK_CLASS = 0x746964
#: The PostgreSQL advisory lock that batches of articles carrying addresses take in turn
#: (:meth:`~tidings.store.sql.articles.ArticlesMixin.upsert_articles`), keyed the same way.
PG_ADDRESS_LOCK_CLASS = 0x746961

#: One lock per SQLite file for the threads of this process (a lock on the file keeps
#: other processes out; these keep this process's threads apart before they touch it).
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _min(new: Any, old: Any) -> Any:
    return sa.case((new < old, new), else_=old)


def _followers(source_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    """How many readers follow the source ``source_id`` names (a correlated count)."""
    return (
        sa.select(sa.func.count())
        .select_from(interests)
        .where(
            interests.c.kind == InterestKind.SOURCE.value,
            interests.c.value == sa.cast(source_id, sa.Text),
            interests.c.stance == Stance.FOLLOW.value,
        )
        .scalar_subquery()
    )


def enqueue_analysis(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Put articles on the analysis queue (inside the transaction that stored them); one
    already there keeps its lease and the more urgent of its two needs and priorities."""
    if not rows:
        return
    insert = insert_for(conn)(analysis_queue)
    excluded = insert.excluded
    statement = insert.on_conflict_do_update(
        index_elements=[analysis_queue.c.article_id],
        set_={
            "content_hash": excluded.content_hash,
            "needs": _min(excluded.needs, analysis_queue.c.needs),
            "priority": _min(excluded.priority, analysis_queue.c.priority),
            "dated": excluded.dated,
            "queued": excluded.queued,
        },
    )
    for chunk in chunks(rows):
        conn.execute(statement, list(chunk))


def put_source_first(conn: sa.Connection, source_id: int) -> None:
    """A source a reader has just followed: its articles waiting on the analysis queue go
    first in line, as those stored from now on do (inside the transaction that records the
    follow). A backlog that was stored before the follow would otherwise wait behind every
    other source's."""
    conn.execute(
        sa.update(analysis_queue)
        .where(
            analysis_queue.c.priority != PRIORITY_FOLLOWED,
            analysis_queue.c.article_id.in_(
                sa.select(articles.c.id).where(articles.c.source_id == source_id)
            ),
        )
        .values(priority=PRIORITY_FOLLOWED)
    )


class WorkMixin(SQLBase):
    """Sharing work and following changes (:class:`tidings.store.base.WorkStorage`)."""

    # --- sources ------------------------------------------------------------------------

    def claim_sources(
        self,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[Source]:
        free = sa.or_(sources.c.lease_until.is_(None), sources.c.lease_until < now)
        polled = (SourceKind.FEED.value, SourceKind.LOCAL.value)
        base = sa.select(sources.c.id).where(free, sources.c.kind.in_(polled))
        groups: list[sa.Select[Any]] = []
        if ids is None:
            due = sa.or_(sources.c.next_poll.is_(None), sources.c.next_poll <= now)
            groups.append(base.where(due))
        else:
            groups.extend(base.where(sources.c.id.in_(list(chunk))) for chunk in chunks(ids))
        claimed: list[Source] = []
        with self._transaction("claim sources to read", writes=True) as conn:
            for group in groups:
                # The sources with the most followers first: their news reaches the most
                # readers (and a reader who just followed a source waits for nothing else).
                wanted = group.order_by(
                    _followers(sources.c.id).desc(),
                    sa.case((sources.c.next_poll.is_(None), 0), else_=1),
                    sources.c.next_poll,
                    sources.c.id,
                )
                if limit is not None:
                    wanted = wanted.limit(limit - len(claimed))
                wanted = self._skip_locked(conn, wanted)
                rows = conn.execute(
                    sa.update(sources)
                    .where(sources.c.id.in_(wanted.scalar_subquery()))
                    .values(lease_owner=owner, lease_until=until)
                    .returning(sources)
                ).all()
                claimed.extend(source_from_row(row) for row in rows)
                if limit is not None and len(claimed) >= limit:
                    break
            # In the same order, for the caller to read them in (UPDATE … RETURNING keeps
            # none): one small query for the claimed sources' followers.
            followers: dict[int, int] = {}
            for chunk in chunks([s.id for s in claimed]):
                counted = sa.select(sources.c.id, _followers(sources.c.id))
                for source_id, count in conn.execute(counted.where(sources.c.id.in_(chunk))):
                    followers[int(source_id)] = int(count)
        never = datetime.min.replace(tzinfo=now.tzinfo)
        return sorted(
            claimed,
            key=lambda s: (
                -followers.get(s.id, 0),
                s.next_poll is not None,
                s.next_poll or never,
                s.id,
            ),
        )

    def release_sources(self, owner: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._transaction("release sources", writes=True) as conn:
            for chunk in chunks(ids):
                conn.execute(
                    sa.update(sources)
                    .where(sources.c.id.in_(list(chunk)), sources.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )

    # --- analysis -------------------------------------------------------------------------

    def claim_analysis(
        self,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        first_only: bool = False,
    ) -> list[AnalysisClaim]:
        queue = analysis_queue
        wanted = sa.select(queue.c.article_id).where(
            sa.or_(queue.c.lease_until.is_(None), queue.c.lease_until < now)
        )
        if first_only:
            wanted = wanted.where(queue.c.needs == NEEDS_FIRST)
        # Newest first; articles of one date in the order they were stored.
        wanted = wanted.order_by(
            queue.c.needs, queue.c.priority, queue.c.dated.desc(), queue.c.article_id
        ).limit(limit)
        with self._transaction("claim articles to analyse", writes=True) as conn:
            leased = conn.execute(
                sa.update(queue)
                .where(queue.c.article_id.in_(self._skip_locked(conn, wanted).scalar_subquery()))
                .values(lease_owner=owner, lease_until=until)
                .returning(
                    queue.c.article_id,
                    queue.c.needs,
                    queue.c.priority,
                    queue.c.dated,
                    queue.c.queued,
                )
            ).all()
            ids = [row.article_id for row in leased]
            found = {}
            quick: dict[int, bytes] = {}
            for chunk in chunks(ids):
                for row in conn.execute(sa.select(articles).where(articles.c.id.in_(chunk))):
                    found[row.id] = article_from_row(row)
                # The quick pass's embedding of this very version is the full pass's too.
                for article_id, vector in conn.execute(
                    sa.select(enrichments.c.article_id, enrichments.c.vector)
                    .join(articles, articles.c.id == enrichments.c.article_id)
                    .where(
                        enrichments.c.article_id.in_(chunk),
                        enrichments.c.depth == "quick",
                        enrichments.c.content_hash == articles.c.content_hash,
                        enrichments.c.vector.is_not(None),
                    )
                ):
                    quick[article_id] = bytes(vector)
        claims = [
            AnalysisClaim(
                article=found[row.article_id],
                first=row.needs == NEEDS_FIRST,
                followed=row.priority == PRIORITY_FOLLOWED,
                queued=row.queued,
                vector=quick.get(row.article_id),
            )
            for row in sorted(
                leased, key=lambda r: (r.needs, r.priority, -r.dated.timestamp(), r.article_id)
            )
            if row.article_id in found
        ]
        return claims

    def finish_analysis(self, owner: str, done: Sequence[tuple[int, str]], *, quick: bool) -> None:
        if not done:
            return
        queue = analysis_queue
        ours = sa.and_(
            queue.c.article_id == sa.bindparam("b_id"),
            queue.c.content_hash == sa.bindparam("b_hash"),
            queue.c.lease_owner == owner,
        )
        rows = [{"b_id": a, "b_hash": h} for a, h in done]
        with self._transaction("take analysed articles off the queue", writes=True) as conn:
            if quick:
                conn.execute(
                    sa.update(queue)
                    .where(ours)
                    .values(needs=NEEDS_FULL, lease_owner=None, lease_until=None),
                    rows,
                )
            else:
                conn.execute(sa.delete(queue).where(ours), rows)
            # What changed meanwhile (a newer version queued) waits for whoever comes next.
            for chunk in chunks([a for a, _ in done]):
                conn.execute(
                    sa.update(queue)
                    .where(queue.c.article_id.in_(list(chunk)), queue.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )

    def release_analysis(self, owner: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._transaction("release articles to analyse", writes=True) as conn:
            for chunk in chunks(ids):
                conn.execute(
                    sa.update(analysis_queue)
                    .where(
                        analysis_queue.c.article_id.in_(list(chunk)),
                        analysis_queue.c.lease_owner == owner,
                    )
                    .values(lease_owner=None, lease_until=None)
                )

    def analysis_backlog(self) -> tuple[int, int]:
        query = sa.select(analysis_queue.c.needs, sa.func.count()).group_by(analysis_queue.c.needs)
        with self._transaction("count articles waiting for analysis") as conn:
            counts = {int(n): int(c) for n, c in conn.execute(query)}
        return counts.get(NEEDS_FIRST, 0), counts.get(NEEDS_FULL, 0)

    def queue_everything(self, *, now: datetime) -> int:
        analysed = sa.exists().where(enrichments.c.article_id == articles.c.id)
        rows = sa.select(
            articles.c.id,
            articles.c.content_hash,
            sa.case((analysed, NEEDS_FULL), else_=NEEDS_FIRST),
            sa.literal(PRIORITY_OTHER),
            sa.func.coalesce(articles.c.published, articles.c.fetched_at),
            sa.literal(now, analysis_queue.c.queued.type),
        ).where(sa.true())  # SQLite needs a WHERE to tell INSERT … SELECT from an upsert
        columns = ["article_id", "content_hash", "needs", "priority", "dated", "queued"]
        with self._transaction("queue every article for analysis", writes=True) as conn:
            insert = insert_for(conn)(analysis_queue).from_select(columns, rows)
            added = conn.execute(
                insert.on_conflict_do_nothing().returning(analysis_queue.c.article_id)
            ).all()
        return len(added)

    def followed_entity_keys(self) -> frozenset[str]:
        query = (
            sa.select(entity_keys.c.key)
            .join(
                interests,
                sa.and_(
                    interests.c.kind == InterestKind.ENTITY.value,
                    interests.c.value == sa.cast(entity_keys.c.entity_id, sa.Text),
                    interests.c.stance == Stance.FOLLOW.value,
                ),
            )
            .distinct()
        )
        with self._transaction("read what readers follow") as conn:
            return frozenset(str(k) for k in conn.execute(query).scalars())

    @contextlib.contextmanager
    def analysis_lock(self) -> Iterator[None]:
        if self._engine.dialect.name == "postgresql":
            with self._pg_analysis_lock():
                yield
            return
        database = self._engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            with _thread_lock(f"memory:{id(self._engine)}"):
                yield
            return
        path = Path(database).expanduser().resolve()
        with _thread_lock(str(path)), _file_lock(path.with_name(path.name + ".analysis.lock")):
            yield

    @contextlib.contextmanager
    def _pg_analysis_lock(self) -> Iterator[None]:
        try:
            conn = self._engine.connect()
        except sa.exc.SQLAlchemyError as e:
            raise self._error("connect to the database", e) from e
        try:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            key = zlib.crc32(str(schema).encode()) - 2**31
            lock = sa.text("SELECT pg_advisory_lock(:c, :k)")
            conn.execute(lock, {"c": PG_ANALYSIS_LOCK_CLASS, "k": key})
            conn.commit()
            try:
                yield
            finally:
                unlock = sa.text("SELECT pg_advisory_unlock(:c, :k)")
                conn.execute(unlock, {"c": PG_ANALYSIS_LOCK_CLASS, "k": key})
                conn.commit()
        except sa.exc.SQLAlchemyError as e:
            raise self._error("take the analysis lock", e) from e
        finally:
            conn.close()

    # --- digests --------------------------------------------------------------------------

    def claim_digest(
        self,
        reader_id: int,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        last_sent: datetime | None,
    ) -> bool:
        unchanged = (
            accounts.c.digest_last_sent.is_(None)
            if last_sent is None
            else accounts.c.digest_last_sent == last_sent
        )
        with self._transaction("claim a digest to send", writes=True) as conn:
            done = conn.execute(
                sa.update(accounts)
                .where(
                    accounts.c.reader_id == reader_id,
                    unchanged,
                    sa.or_(
                        accounts.c.digest_lease_until.is_(None),
                        accounts.c.digest_lease_until < now,
                    ),
                )
                .values(digest_lease_owner=owner, digest_lease_until=until)
            )
        return bool(done.rowcount)

    def release_digest(self, reader_id: int, owner: str) -> None:
        with self._transaction("release a digest", writes=True) as conn:
            conn.execute(
                sa.update(accounts)
                .where(accounts.c.reader_id == reader_id, accounts.c.digest_lease_owner == owner)
                .values(digest_lease_owner=None, digest_lease_until=None)
            )

    @staticmethod
    def _skip_locked(conn: sa.Connection, query: sa.Select[Any]) -> sa.Select[Any]:
        """``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's writers are serialised."""
        if conn.dialect.name == "postgresql":
            return query.with_for_update(skip_locked=True)
        return query

    # --- following ------------------------------------------------------------------------

    def database_identity(self) -> bytes:
        with self._transaction("read the database's identity") as conn:
            token = conn.execute(sa.select(database_identity.c.token)).scalar_one()
        return bytes.fromhex(str(token))

    def analysis_changes(
        self,
        *,
        after: int,
        also: Sequence[int] = (),
        limit: int = 5000,
        signatures: bool = False,
    ) -> AnalysisChanges:
        tables = (enrichments, article_removals)
        with self._transaction("read what analyses changed") as conn:
            wanted = sequence_window(conn, tables, after=after, also=also, limit=limit)

            signature: Any = enrichments.c.signature if signatures else sa.null()
            rows = conn.execute(
                sa.select(
                    enrichments.c.article_id,
                    enrichments.c.status,
                    enrichments.c.vector,
                    signature,
                    enrichments.c.duplicate_of,
                    sa.func.coalesce(articles.c.published, articles.c.fetched_at),
                    enrichments.c.seq,
                )
                .join(articles, articles.c.id == enrichments.c.article_id)
                .where(wanted(enrichments))
                .order_by(enrichments.c.seq, enrichments.c.article_id)
            ).all()
            removals = conn.execute(
                sa.select(article_removals.c.article_id, article_removals.c.seq).where(
                    wanted(article_removals)
                )
            ).all()
        done = EnrichmentStatus.DONE.value
        return AnalysisChanges(
            changed=tuple(
                AnalysisChange(
                    article_id=int(a),
                    vector=bytes(v) if v is not None and status == done else None,
                    signature=bytes(sig) if sig is not None and status == done else None,
                    duplicate_of=dup,
                    dated=dated,
                )
                for a, status, v, sig, dup, dated, _ in rows
            ),
            removed=tuple(dict.fromkeys(int(a) for a, _ in removals)),
            seqs=tuple(sorted({int(r[-1]) for r in rows} | {int(q) for _, q in removals})),
        )


def _thread_lock(name: str) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(name, threading.Lock())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if needed), released when the block ends or
    the process dies."""
    import fcntl  # POSIX only, like the rest of Tidings' deployment

    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
