"""The storage protocol: everything the rest of Tidings may ask of a database.

Implementations: :class:`tidings.store.sql.SQLStorage` (SQLite and PostgreSQL through
SQLAlchemy Core). Every method raises :class:`~tidings.errors.StorageError` (or a subclass)
when the database fails; no driver exception escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tidings.types import (
    Article,
    ArticleDraft,
    PagePolicy,
    Source,
    SourceHealth,
    SourceKind,
    UpsertResult,
)


class Storage(Protocol):
    """Persistent state of one Tidings installation.

    Raises:
        SourceNotFoundError: a source id or URL does not exist.
        ArticleNotFoundError: an article id does not exist.
        SourceExistsError: adding a source whose URL is already stored.
        StorageError: any other database failure.
    """

    def close(self) -> None:
        """Release connections. The storage must not be used afterwards."""

    # --- sources ---------------------------------------------------------------------

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
    ) -> Source:
        """Store a new source, due for polling at once. Raises SourceExistsError."""

    def get_source(self, key: int | str) -> Source:
        """The source with this id (int) or URL (str). Raises SourceNotFoundError."""

    def list_sources(
        self,
        *,
        due_at: datetime | None = None,
        tag: str | None = None,
        kinds: Sequence[SourceKind] | None = None,
    ) -> list[Source]:
        """Sources ordered by id; with ``due_at``, only those whose ``next_poll`` is
        ``None`` or not after it; with ``tag``, only those carrying it."""

    def source_health(self) -> list[SourceHealth]:
        """Every source with its article count and newest article date, ordered by id."""

    def update_source(self, source: Source) -> Source:
        """Write every mutable field of ``source`` (all but id, url, added) and return
        it as stored. Raises SourceNotFoundError."""

    def remove_source(self, key: int | str) -> None:
        """Delete a source and the articles that came only from it.
        Raises SourceNotFoundError."""

    # --- articles --------------------------------------------------------------------

    def upsert_articles(
        self, source_id: int, drafts: Sequence[ArticleDraft], *, fetched_at: datetime
    ) -> UpsertResult:
        """Store articles idempotently.

        An article is identified by its ``guid`` within the source, or else by its
        ``canonical_url`` across all sources (a story that appears in two feeds of one
        publisher is one article). A known article is rewritten in place only when its
        content hash changed; otherwise nothing is written. Drafts with neither guid nor
        canonical URL are identified by their content hash within the source.
        """

    def find_articles(
        self,
        source_id: int,
        *,
        guids: Sequence[str] = (),
        canonical_urls: Sequence[str] = (),
    ) -> list[Article]:
        """Stored articles that these keys identify, as ``upsert_articles`` would match
        them: this source's articles with one of ``guids``, and any source's articles with
        one of ``canonical_urls``. Each article at most once, in no particular order."""

    def get_article(self, article_id: int) -> Article:
        """Raises ArticleNotFoundError."""

    def list_articles(
        self,
        *,
        source_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Article]:
        """Articles newest first (by published, then id)."""

    def count_articles(self, *, source_id: int | None = None) -> int:
        """How many articles are stored (from one source, if given)."""
