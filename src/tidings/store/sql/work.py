"""What processes sharing one database need to share the work and follow each other: the
database's identity, and the analyses written since a change position (for vector indexes
and near-duplicate indexes kept in memory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tidings.store.base import AnalysisChange, AnalysisChanges
from tidings.store.schema import article_removals, articles, database_identity, enrichments
from tidings.store.sql.connection import SQLBase
from tidings.types import EnrichmentStatus


class WorkMixin(SQLBase):
    """Sharing work and following changes (:class:`tidings.store.base.WorkStorage`)."""

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
            # A whole prefix of the sequence: the lowest of the tables' limit-th numbers
            # bounds what is read, so no number's rows are read in part.
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
