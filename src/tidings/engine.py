"""The Engine: the one entry point that wires storage, fetching, parsing and scheduling.

Command line, HTTP API and web pages talk to an :class:`Engine`, never to storage directly.
An ingestion pass reads every due source concurrently; each source's outcome (new articles,
a 304, an error) is recorded on the source, and one failing source never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tidings.config import Settings, load_settings
from tidings.errors import FeedParseError, FetchError, InvalidURLError, TidingsError
from tidings.ingest import local, opml, schedule
from tidings.ingest.feeds import ParsedFeed, parse_feed
from tidings.ingest.fetch import Fetcher
from tidings.store.base import Storage
from tidings.store.sql import open_storage
from tidings.types import (
    Article,
    ArticleDraft,
    IngestReport,
    OutlineEntry,
    Source,
    SourceHealth,
    SourceKind,
    SourceUpdate,
)

log = logging.getLogger(__name__)

#: Articles written per storage transaction. Large enough that per-transaction overhead is
#: negligible (measured with `tidings bench ingest`), small enough to keep memory flat.
UPSERT_BATCH = 500

#: Feed parsing is CPU-bound; more parallel parses than cores only adds contention.
PARSE_CONCURRENCY = 2

Clock = Callable[[], datetime]
Progress = Callable[[SourceUpdate], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def classify_source_url(url: str) -> tuple[str, SourceKind]:
    """Normalise what a user typed into a source URL and tell its kind.

    ``http(s)://`` URLs are feeds; ``file://`` URLs and existing local paths are local
    sources. Raises InvalidURLError for anything else.
    """
    text = url.strip()
    if not text:
        raise InvalidURLError("empty source URL")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise InvalidURLError(f"not a valid URL (no host): {text}")
        return text, SourceKind.FEED
    if scheme == "file":
        return local.url_from_path(local.path_from_url(text)), SourceKind.LOCAL
    if not scheme or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        path = Path(text).expanduser()
        if path.exists():
            return local.url_from_path(path.resolve()), SourceKind.LOCAL
        raise InvalidURLError(f"no such file or folder, and not an http(s) URL: {text}")
    raise InvalidURLError(f"unsupported URL scheme {scheme!r} (use http, https or file): {text}")


class Engine:
    """Tidings, wired. Create with :func:`make_engine`; close with :meth:`close`."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self._transport = transport
        self._clock = clock
        self._rng = rng or random.Random()

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sources -----------------------------------------------------------------------

    def add_source(self, url: str, *, tags: Sequence[str] = (), title: str | None = None) -> Source:
        """Subscribe to a feed URL, or a local feed file or folder. Due for polling at once."""
        normalised, kind = classify_source_url(url)
        clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        return self.storage.add_source(
            normalised, kind=kind, title=title, tags=clean_tags, added=self._clock()
        )

    def get_source(self, key: int | str) -> Source:
        return self.storage.get_source(key)

    def list_sources(self) -> list[SourceHealth]:
        return self.storage.source_health()

    def remove_source(self, key: int | str) -> None:
        self.storage.remove_source(key)

    def import_opml(self, content: bytes) -> tuple[list[Source], list[OutlineEntry]]:
        """Subscribe to every feed of an OPML document. Returns (added, already present)."""
        added: list[Source] = []
        existing: list[OutlineEntry] = []
        known = {s.source.url for s in self.storage.source_health()}
        for entry in opml.parse_opml(content):
            normalised, _ = classify_source_url(entry.url)
            if normalised in known:
                existing.append(entry)
                continue
            source = self.add_source(entry.url, tags=entry.tags, title=entry.title)
            if entry.site and source.site is None:
                source = self.storage.update_source(replace(source, site=entry.site))
            known.add(source.url)
            added.append(source)
        return added, existing

    def export_opml(self) -> str:
        sources = [h.source for h in self.storage.source_health()]
        return opml.write_opml([s for s in sources if s.kind is not SourceKind.MANUAL])

    # --- articles ----------------------------------------------------------------------

    def get_article(self, article_id: int) -> Article:
        return self.storage.get_article(article_id)

    def list_articles(
        self, *, source: int | str | None = None, limit: int = 50, offset: int = 0
    ) -> list[Article]:
        source_id = self.storage.get_source(source).id if source is not None else None
        return self.storage.list_articles(source_id=source_id, limit=limit, offset=offset)

    # --- ingestion ---------------------------------------------------------------------

    def due_sources(self) -> list[Source]:
        return self.storage.list_sources(
            due_at=self._clock(), kinds=(SourceKind.FEED, SourceKind.LOCAL)
        )

    def ingest(
        self,
        *,
        sources: Sequence[Source] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """One pass over ``sources`` (default: those due now). Never raises for a source's
        failure: it is recorded on the source and in the report."""
        return asyncio.run(self.ingest_async(sources=sources, progress=progress))

    async def ingest_async(
        self,
        *,
        sources: Sequence[Source] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        started = self._clock()
        todo = list(self.due_sources() if sources is None else sources)
        updates: list[SourceUpdate] = []
        parse_slots = asyncio.Semaphore(PARSE_CONCURRENCY)
        # Fetching outpaces parsing, so without a bound every fetched body would wait in
        # memory for a parse slot; this keeps at most this many sources in flight.
        source_slots = asyncio.Semaphore(self.settings.fetch.total_concurrency)
        async with Fetcher(self.settings.fetch, transport=self._transport) as fetcher:

            async def run(source: Source) -> None:
                async with source_slots:
                    update = await self._ingest_source(source, fetcher, parse_slots)
                updates.append(update)
                if progress is not None:
                    progress(update)

            await asyncio.gather(*(run(s) for s in todo))
        return IngestReport(updates=tuple(updates), started=started, finished=self._clock())

    def watch(
        self,
        *,
        progress: Progress | None = None,
        on_pass: Callable[[IngestReport], None] | None = None,
        max_passes: int | None = None,
        skip_first_wait: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Keep polling: sleep until a source is due, run a pass over the due ones, repeat.

        With ``skip_first_wait`` the first pass runs at once.
        """
        passes = 0
        if not skip_first_wait:
            sleep(self.seconds_until_next_poll())
        while max_passes is None or passes < max_passes:
            if self.due_sources():
                report = self.ingest(progress=progress)
                if on_pass is not None:
                    on_pass(report)
            passes += 1
            if max_passes is not None and passes >= max_passes:
                break
            sleep(self.seconds_until_next_poll())

    def seconds_until_next_poll(self) -> float:
        """Seconds until the earliest source is due (bounded to [1 s, min_interval])."""
        now = self._clock()
        polled = [
            s.next_poll
            for s in self.storage.list_sources(kinds=(SourceKind.FEED, SourceKind.LOCAL))
        ]
        if not polled:
            return float(self.settings.schedule.min_interval)
        if any(p is None for p in polled):
            return 1.0
        earliest = min(p for p in polled if p is not None)
        wait = (earliest - now).total_seconds()
        return max(1.0, min(wait, float(self.settings.schedule.min_interval)))

    async def _ingest_source(
        self, source: Source, fetcher: Fetcher, parse_slots: asyncio.Semaphore
    ) -> SourceUpdate:
        try:
            if source.kind is SourceKind.LOCAL:
                return await self._ingest_local(source, parse_slots)
            return await self._ingest_feed(source, fetcher, parse_slots)
        except (FetchError, FeedParseError, InvalidURLError) as e:
            return self._record_failure(source, str(e), getattr(e, "retry_after", None))
        except TidingsError as e:
            return self._record_failure(source, str(e), None)
        except Exception as e:  # a bug for one source must not stop the pass
            log.exception("unexpected error while ingesting %s", source.url)
            return self._record_failure(source, f"internal error: {type(e).__name__}: {e}", None)

    async def _ingest_feed(
        self, source: Source, fetcher: Fetcher, parse_slots: asyncio.Semaphore
    ) -> SourceUpdate:
        response = await fetcher.fetch(
            source.url, etag=source.etag, last_modified=source.last_modified
        )
        now = response.fetched_at
        if response.not_modified:
            return self._record_not_modified(
                replace(
                    source,
                    etag=response.etag or source.etag,
                    last_modified=response.last_modified or source.last_modified,
                ),
                now=now,
                max_age=response.max_age,
            )
        async with parse_slots:
            feed = await asyncio.to_thread(
                parse_feed,
                response.content,
                url=response.url,
                content_type=response.content_type,
            )
        return self._store_feeds(
            source,
            [feed],
            now=now,
            etag=response.etag,
            last_modified=response.last_modified,
            max_age=response.max_age,
            warning=feed.warning,
        )

    async def _ingest_local(self, source: Source, parse_slots: asyncio.Semaphore) -> SourceUpdate:
        now = self._clock()
        async with parse_slots:
            read = await asyncio.to_thread(
                local.read_local, source.url, previous_signature=source.etag
            )
        if read.not_modified:
            return self._record_not_modified(source, now=now, max_age=None)
        if not read.feeds and read.errors:
            raise FeedParseError(
                f"no feed could be read ({len(read.errors)} file(s) failed; first: "
                f"{read.errors[0]})",
                resource=source.url,
            )
        warning = None
        if read.errors:
            warning = (
                f"{len(read.errors)} of {len(read.errors) + len(read.feeds)} file(s) could not "
                f"be read as feeds; first: {read.errors[0]}"
            )
        return self._store_feeds(
            source,
            list(read.feeds),
            now=now,
            etag=read.signature,
            last_modified=None,
            max_age=None,
            warning=warning,
        )

    def _store_feeds(
        self,
        source: Source,
        feeds: Sequence[ParsedFeed],
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        max_age: float | None,
        warning: str | None,
    ) -> SourceUpdate:
        drafts: list[ArticleDraft] = [a for feed in feeds for a in feed.articles]
        new = updated = unchanged = 0
        for start in range(0, len(drafts), UPSERT_BATCH):
            result = self.storage.upsert_articles(
                source.id, drafts[start : start + UPSERT_BATCH], fetched_at=now
            )
            new += result.new
            updated += result.updated
            unchanged += result.unchanged
        ttls = [f.ttl for f in feeds if f.ttl is not None]
        interval, next_poll = schedule.plan_after_success(
            source,
            now=now,
            published=[d.published for d in drafts if d.published is not None],
            ttl=max(ttls) if ttls else None,
            max_age=max_age,
            settings=self.settings.schedule,
        )
        first = feeds[0] if len(feeds) == 1 else None
        stored = self.storage.update_source(
            replace(
                source,
                title=source.title or (first.title if first else None),
                site=source.site or (first.site if first else None),
                etag=etag,
                last_modified=last_modified,
                last_success=now,
                last_error=None,
                failures=0,
                warning=warning,
                interval=interval,
                next_poll=next_poll,
            )
        )
        return SourceUpdate(
            source=stored, new=new, updated=updated, unchanged=unchanged, warning=warning
        )

    def _record_not_modified(
        self, source: Source, *, now: datetime, max_age: float | None
    ) -> SourceUpdate:
        """Nothing changed since the last read (HTTP 304, or unchanged local files)."""
        interval, next_poll = schedule.plan_after_not_modified(
            source, now=now, max_age=max_age, settings=self.settings.schedule
        )
        stored = self.storage.update_source(
            replace(
                source,
                last_success=now,
                last_error=None,
                failures=0,
                interval=interval,
                next_poll=next_poll,
            )
        )
        return SourceUpdate(source=stored, not_modified=True)

    def _record_failure(
        self, source: Source, message: str, retry_after: float | None
    ) -> SourceUpdate:
        now = self._clock()
        failures = source.failures + 1
        next_poll = schedule.plan_after_failure(
            source,
            now=now,
            failures=failures,
            retry_after=retry_after,
            settings=self.settings.schedule,
            rng=self._rng,
        )
        stored = self.storage.update_source(
            replace(
                source,
                last_error=message,
                last_error_at=now,
                failures=failures,
                next_poll=next_poll,
            )
        )
        return SourceUpdate(source=stored, error=message)


def make_engine(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utc_now,
) -> Engine:
    """Open (and migrate) the configured database and return a ready Engine."""
    settings = settings or load_settings()
    if database_url is not None:
        settings = replace(settings, database_url=database_url)
    storage = open_storage(settings.database_url)
    return Engine(settings, storage, transport=transport, clock=clock)
