"""Ingestion's own pipeline: due sources read concurrently, entries completed with their
article pages, stored idempotently, and each source's next poll planned.

An :class:`IngestionStage` runs a pass over the due sources (or those given): every source
is fetched through the safe fetcher (``fetch.py``) or read from disk (``local.py``), parsed
(``feeds.py``), its teasers completed with their pages by the extraction stage it is given
(:class:`PageReader`, so that ingestion does not import extraction), stored in batches, and
its outcome (new articles, a 304, an error with its retry) recorded on the source by the
pure schedule (``schedule.py``). One failing source never stops the others.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from tidings.config import Settings
from tidings.errors import (
    ExtractionError,
    FeedParseError,
    FetchError,
    FetchTimeoutError,
    InvalidURLError,
    NotFoundError,
    StorageError,
    TidingsError,
)
from tidings.ingest import local, opml, schedule
from tidings.ingest.feeds import ParsedFeed, canonicalize_url, parse_feed
from tidings.ingest.fetch import Fetcher
from tidings.ingest.priority import names_followed
from tidings.leases import holder_name, lease_until, new_token, source_lease_seconds
from tidings.store.base import Storage
from tidings.types import (
    Article,
    ArticleDraft,
    IngestReport,
    OutlineEntry,
    PagePolicy,
    Source,
    SourceKind,
    SourceUpdate,
    UpsertResult,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[SourceUpdate], None]

#: Articles written per storage transaction. Large enough that per-transaction overhead is
#: negligible (measured with `tidings bench ingest`), small enough to keep memory flat.
UPSERT_BATCH = 500

#: Longest a source's entries whose pages have come wait to be stored, in seconds: pages
#: that come within one such wait are stored in one transaction.
PAGE_STORE_EVERY = 1.0

#: Longest an entry waits for its article page before it is stored as the feed's teaser
#: (and analysed as such; the page makes a new version when it comes, analysed again).
#: Pages take 0.1 to 2 s, two at a time per publisher: a new entry's page is nearly always
#: in within this, and a first read's 30 pages mostly are; half the steady-flow freshness
#: goal (10 s, issue 14), so that a slow publisher's pages never hold its news back longer.
#: A page that then fails is noted on the entry stored meanwhile (storage notes news of the
#: page on an article whose content is unchanged), so it is not asked for on every poll.
PAGE_WAIT = 5.0

#: Feed parsing is CPU-bound; more parallel parses than cores only adds contention.
PARSE_CONCURRENCY = 2

#: Article pages fetched per source in one pass. A new feed's first read can hold a hundred
#: teasers; fetching them all at once would hammer the publisher, so the rest are marked
#: pending and fetched on the following passes (30 per pass at the 5-minute floor is still
#: 360 pages an hour, more than any one news feed publishes).
PAGES_PER_PASS = 30

#: Seconds one page's extraction may take before the entry is stored without it. Real
#: article pages take 10 to 200 ms; a page that takes seconds is pathological.
EXTRACT_TIMEOUT = 10.0

#: What a browser sends for a page; some sites serve feeds-only clients a stub.
HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

#: How a source's last error starts when the failure was Tidings' own (storage, a bug).
OWN_FAILURE = "Tidings' own failure, not the source's"

#: The name of the source that articles added by hand go to when none is given.
MANUAL_SOURCE = "Added by hand"


class PageReader(Protocol):
    """What ingestion needs of extraction (``tidings.extract.stage.Extraction``)."""

    #: The note an entry carries while its page waits for a later pass.
    pending_note: str

    def wants_page(self, draft: ArticleDraft, policy: PagePolicy) -> bool:
        """Whether an entry's article page should be fetched for its whole text."""

    def page_pending(self, stored: Article) -> bool:
        """Whether a stored article still waits for its page."""

    def carry_page(self, draft: ArticleDraft, stored: Article) -> ArticleDraft:
        """An entry seen again, keeping what its page gave the stored article."""

    def merge_page(self, feed: ArticleDraft, page: ArticleDraft) -> ArticleDraft:
        """An entry completed with its extracted page (the feed's own fields win)."""

    def extract_html(self, data: bytes, url: str | None) -> ArticleDraft:
        """A page's article. Raises ExtractionError."""

    def extract_text(self, text: str, url: str | None) -> ArticleDraft:
        """The article in a page's copied text. Raises ExtractionError."""


@dataclass(slots=True)
class _Counts:
    """Entries of one source stored in one pass, by outcome."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: _Counts | UpsertResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


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


class IngestionStage:
    """Reads sources into storage (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        pages: PageReader,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.pages = pages
        self._transport = transport
        self._clock = clock
        self._rng = rng or random.Random()
        self._token = new_token()

    # --- sources ---------------------------------------------------------------------

    def add_source(
        self,
        url: str,
        *,
        tags: Sequence[str] = (),
        title: str | None = None,
        pages: PagePolicy = PagePolicy.AUTO,
        operator: bool = False,
    ) -> Source:
        """Subscribe to a feed URL, or a local feed file or folder. Due for polling at once.

        ``pages`` says when entries' article pages are fetched for their whole text (feeds
        on the web only; local feed files are read as they are). Only a source the operator
        adds (``operator``) is fetched with the network allowances."""
        normalised, kind = classify_source_url(url)
        clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        return self.storage.add_source(
            normalised,
            kind=kind,
            title=title,
            tags=clean_tags,
            pages=PagePolicy(pages),
            added=self._clock(),
            operator=operator,
        )

    def import_opml(
        self, content: bytes, *, operator: bool = False
    ) -> tuple[list[Source], list[OutlineEntry]]:
        """Subscribe to every feed of an OPML document. Returns (added, already present)."""
        added: list[Source] = []
        existing: list[OutlineEntry] = []
        known = {s.source.url for s in self.storage.source_health()}
        for entry in opml.parse_opml(content):
            normalised, _ = classify_source_url(entry.url)
            if normalised in known:
                existing.append(entry)
                continue
            source = self.add_source(
                entry.url, tags=entry.tags, title=entry.title, operator=operator
            )
            if entry.site and source.site is None:
                source = self.storage.update_source(replace(source, site=entry.site))
            known.add(source.url)
            added.append(source)
        return added, existing

    def export_opml(self) -> str:
        sources = [h.source for h in self.storage.source_health()]
        return opml.write_opml([s for s in sources if s.kind is not SourceKind.MANUAL])

    # --- passes ------------------------------------------------------------------------

    def due_sources(self) -> list[Source]:
        return self.storage.list_sources(
            due_at=self._clock(), kinds=(SourceKind.FEED, SourceKind.LOCAL)
        )

    async def run(
        self,
        *,
        sources: Sequence[Source] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """One pass over the sources due now (or ``sources``, due or not). Never raises for
        a source's failure: it is recorded on the source and in the report.

        Each source is leased before it is read (``store/sql/work.py``), so processes
        sharing the database never read one source twice in a due window: due sources are
        claimed a few at a time, as slots free up, until none is left unclaimed; a source
        named in ``sources`` that another process holds is left to it.
        """
        started = self._clock()
        updates: list[SourceUpdate] = []
        parse_slots = asyncio.Semaphore(PARSE_CONCURRENCY)
        # Fetching outpaces parsing, so without a bound every fetched body would wait in
        # memory for a parse slot; this keeps at most this many sources in flight.
        slots = self.settings.fetch.total_concurrency
        source_slots = asyncio.Semaphore(slots)
        named = [s.id for s in sources] if sources is not None else None
        try:
            followed = self.storage.followed_entity_keys()
        except StorageError as e:
            log.warning("reading what readers follow failed; no entry goes first: %s", e)
            followed = frozenset()
        # The operator's network allowances are for the operator's own sources: a source a
        # reader added is fetched (feed and pages) as if none were configured.
        operators = Fetcher(self.settings.fetch, transport=self._transport)
        readers = Fetcher(
            self.settings.fetch.replace(allowed_networks=()), transport=self._transport
        )
        async with operators, readers:

            async def one(source: Source) -> None:
                fetcher = operators if source.operator else readers
                try:
                    async with source_slots:
                        update = await self._ingest_source(source, fetcher, parse_slots, followed)
                finally:
                    self._release(source)
                updates.append(update)
                if progress is not None:
                    progress(update)

            running: set[asyncio.Future[None]] = set()
            exhausted = False
            while True:
                free = slots - len(running)
                if not exhausted and (free > 0 or named is not None):
                    claimed = self._claim(limit=None if named is not None else free, ids=named)
                    # Named sources are claimed at once; due ones until none is left.
                    exhausted = named is not None or not claimed
                    running.update(asyncio.ensure_future(one(s)) for s in claimed)
                if not running:
                    break
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a failure outside any source's handling is a bug: raise
        return IngestReport(updates=tuple(updates), started=started, finished=self._clock())

    @property
    def owner(self) -> str:
        """The name this stage's leases on sources are taken under."""
        return holder_name(self._token)

    def _claim(self, *, limit: int | None, ids: Sequence[int] | None) -> list[Source]:
        now = self._clock()
        seconds = source_lease_seconds(
            self.settings.workers.lease_seconds, self.settings.fetch.source_deadline
        )
        return self.storage.claim_sources(
            self.owner, now=now, until=lease_until(now, seconds), limit=limit, ids=ids
        )

    def _release(self, source: Source) -> None:
        try:
            self.storage.release_sources(self.owner, [source.id])
        except StorageError as e:  # the lease runs out by itself
            log.warning("could not release source %s: %s", source.url, e)

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
        self,
        source: Source,
        fetcher: Fetcher,
        parse_slots: asyncio.Semaphore,
        followed: frozenset[str] = frozenset(),
    ) -> SourceUpdate:
        try:
            if source.kind is SourceKind.LOCAL:
                return await self._ingest_local(source, parse_slots, followed)
            return await self._ingest_feed(source, fetcher, parse_slots, followed)
        except (FetchError, FeedParseError, InvalidURLError) as e:
            return self._record_failure(source, str(e), getattr(e, "retry_after", None))
        except StorageError as e:
            # Ours, not the source's: the database is full, gone or refusing.
            return self._record_internal_failure(source, str(e))
        except TidingsError as e:
            return self._record_failure(source, str(e), None)
        except Exception as e:  # a bug for one source must not stop the pass
            log.exception("unexpected error while ingesting %s", source.url)
            return self._record_internal_failure(source, f"{type(e).__name__}: {e}")

    async def _ingest_feed(
        self,
        source: Source,
        fetcher: Fetcher,
        parse_slots: asyncio.Semaphore,
        followed: frozenset[str],
    ) -> SourceUpdate:
        # One deadline for the whole source, retries and pages included, so that no source
        # holds the pass (a fetch's own timeouts apply per attempt).
        budget = self.settings.fetch.source_deadline
        deadline = asyncio.get_running_loop().time() + budget
        try:
            async with asyncio.timeout_at(deadline):
                response = await fetcher.fetch(
                    source.url, etag=source.etag, last_modified=source.last_modified
                )
        except TimeoutError:
            raise FetchTimeoutError(
                f"no complete response within {budget:g} s (the per-source deadline, "
                "every attempt included)",
                resource=source.url,
            ) from None
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
        # Entries that wait for no page are stored (and queued for analysis) before any page
        # is fetched: a page takes from a tenth of a second to seconds, two at a time per
        # publisher, so 30 of them held a followed feed's 500 entries back 13 to 30 s in
        # `tidings bench freshness`. The rest are stored as their pages come.
        counts = _Counts()

        def store(ready: Sequence[ArticleDraft]) -> None:
            counts.add(self._store_drafts(source, ready, now=now, followed=followed))

        drafts = await self._complete_with_pages(
            source, feed.articles, fetcher, parse_slots, deadline, store
        )
        return self._record_success(
            source,
            [replace(feed, articles=tuple(drafts))],
            counts,
            now=now,
            etag=response.etag,
            last_modified=response.last_modified,
            max_age=response.max_age,
            warning=feed.warning,
        )

    async def _complete_with_pages(
        self,
        source: Source,
        drafts: Sequence[ArticleDraft],
        fetcher: Fetcher,
        parse_slots: asyncio.Semaphore,
        deadline: float,
        store: Callable[[Sequence[ArticleDraft]], None],
    ) -> list[ArticleDraft]:
        """Fetch and extract the article pages of entries that are only teasers, handing
        the entries to ``store`` as they are ready: first all those that wait for no page,
        then the others as their pages come; those whose pages take over :data:`PAGE_WAIT`
        are stored as teasers meanwhile. Returns every entry as last stored.

        Known articles are not fetched again: an extracted one keeps its page's fields, one
        whose page failed keeps its note (the failure is not retried on every poll), and
        one still pending is fetched now. A failing page never fails the source, and pages
        still coming at the source's ``deadline`` (event loop time) wait for the next pass.
        """
        wanted = [i for i, d in enumerate(drafts) if self.pages.wants_page(d, source.pages)]
        out = list(drafts)
        to_fetch: list[int] = []
        if wanted:
            stored = self.storage.find_articles(
                source.id,
                guids=[g for i in wanted if (g := drafts[i].guid)],
                canonical_urls=[c for i in wanted if (c := drafts[i].canonical_url)],
            )
            by_guid = {a.guid: a for a in stored if a.guid and a.source_id == source.id}
            by_canonical = {a.canonical_url: a for a in stored if a.canonical_url}
            for i in wanted:
                draft = drafts[i]
                known = by_guid.get(draft.guid or "") or by_canonical.get(draft.canonical_url or "")
                if known is None or self.pages.page_pending(known):
                    to_fetch.append(i)
                elif known.extraction_note is None:
                    out[i] = self.pages.carry_page(draft, known)
                else:
                    out[i] = replace(draft, extraction_note=known.extraction_note)
            for i in to_fetch[PAGES_PER_PASS:]:
                out[i] = self._pending(drafts[i])
        now = to_fetch[:PAGES_PER_PASS]
        fetching = set(now)
        store([d for i, d in enumerate(out) if i not in fetching])
        if not now:
            return out
        tasks = [
            asyncio.ensure_future(self._fetch_page(drafts[i], fetcher, parse_slots)) for i in now
        ]
        at: dict[asyncio.Future[ArticleDraft], int] = dict(zip(tasks, now, strict=True))
        pending: set[asyncio.Future[ArticleDraft]] = set(tasks)
        loop = asyncio.get_running_loop()
        teasers_at = loop.time() + PAGE_WAIT
        stored_as_teasers = False
        try:
            # Stored in batches as pages come (one a second at most), not one by one: a
            # transaction per entry would cost more than the wait it saves.
            while pending and (left := deadline - loop.time()) > 0:
                if not stored_as_teasers and loop.time() >= teasers_at:
                    # Pages this slow: the entries go in as teasers meanwhile (analysed as
                    # such; the page makes a new version when it comes).
                    store([self._pending(drafts[i]) for i in sorted(at[t] for t in pending)])
                    stored_as_teasers = True
                wait = min(left, PAGE_STORE_EVERY)
                if not stored_as_teasers:
                    wait = min(wait, max(teasers_at - loop.time(), 0.0))
                done, pending = await asyncio.wait(pending, timeout=wait)
                for task in done:
                    out[at[task]] = task.result()
                if done:
                    store([out[i] for i in sorted(at[task] for task in done)])
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        late = sorted(at[task] for task in pending)
        for i in late:
            out[i] = self._pending(drafts[i])
        if late and not stored_as_teasers:
            store([out[i] for i in late])
        return out

    def _pending(self, draft: ArticleDraft) -> ArticleDraft:
        return replace(draft, extraction_note=self.pages.pending_note)

    async def _fetch_page(
        self, draft: ArticleDraft, fetcher: Fetcher, parse_slots: asyncio.Semaphore
    ) -> ArticleDraft:
        assert draft.url is not None  # wants_page only picks entries with a link
        try:
            response = await fetcher.fetch(draft.url, accept=HTML_ACCEPT)
            async with parse_slots:
                page = await asyncio.wait_for(
                    asyncio.to_thread(self.pages.extract_html, response.content, response.url),
                    timeout=EXTRACT_TIMEOUT,
                )
        except TimeoutError:
            note = f"page not used: extraction took over {EXTRACT_TIMEOUT:g} s"
            return replace(draft, extraction_note=note)
        except (FetchError, ExtractionError) as e:
            return replace(draft, extraction_note=f"page not used: {e}")
        return self.pages.merge_page(draft, page)

    async def _ingest_local(
        self, source: Source, parse_slots: asyncio.Semaphore, followed: frozenset[str]
    ) -> SourceUpdate:
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
            followed=followed,
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
        followed: frozenset[str] = frozenset(),
    ) -> SourceUpdate:
        drafts = [a for feed in feeds for a in feed.articles]
        counts = _Counts()
        counts.add(self._store_drafts(source, drafts, now=now, followed=followed))
        return self._record_success(
            source,
            feeds,
            counts,
            now=now,
            etag=etag,
            last_modified=last_modified,
            max_age=max_age,
            warning=warning,
        )

    def _store_drafts(
        self,
        source: Source,
        drafts: Sequence[ArticleDraft],
        *,
        now: datetime,
        followed: frozenset[str],
    ) -> _Counts:
        """Store entries, :data:`UPSERT_BATCH` a transaction; they go on the analysis queue
        with each transaction."""
        counts = _Counts()
        for start in range(0, len(drafts), UPSERT_BATCH):
            batch = drafts[start : start + UPSERT_BATCH]
            counts.add(
                self.storage.upsert_articles(
                    source.id,
                    batch,
                    fetched_at=now,
                    followed=[d.digest() for d in batch if names_followed(d, followed)],
                )
            )
        return counts

    def _record_success(
        self,
        source: Source,
        feeds: Sequence[ParsedFeed],
        counts: _Counts,
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        max_age: float | None,
        warning: str | None,
    ) -> SourceUpdate:
        """A source read and its entries stored: its next poll planned and recorded."""
        drafts = [a for feed in feeds for a in feed.articles]
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
            source=stored,
            new=counts.new,
            updated=counts.updated,
            unchanged=counts.unchanged,
            warning=warning,
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

    def _record_internal_failure(self, source: Source, message: str) -> SourceUpdate:
        """A failure of Tidings' own while reading a source: said on the source (when
        storage still takes that much), without the backoff a failing source earns; it is
        read again after the shortest interval."""
        now = self._clock()
        error = f"{OWN_FAILURE}: {message}"
        try:
            stored = self.storage.update_source(
                replace(
                    source,
                    last_error=error,
                    last_error_at=now,
                    next_poll=now + timedelta(seconds=self.settings.schedule.min_interval),
                )
            )
        except StorageError as e:
            log.error("cannot record the failure on source %s: %s", source.url, e)
            stored = source
        return SourceUpdate(source=stored, error=error, internal=True)

    # --- one article at a time ----------------------------------------------------------

    def extract(self, location: str, *, text: bool = False, operator: bool = True) -> ArticleDraft:
        """Extract an article from a web page URL, an HTML file, or (``text``) a file of
        copied page text. Nothing is stored. Raises ExtractionError, FetchError.

        A location a reader gave (``operator=False``) must be a web address, fetched
        without the operator's network allowances: a reader's link never reaches what
        only the operator's own sources may (``[fetch] allowed_networks``)."""
        return asyncio.run(self._extract(location, text=text, operator=operator))

    async def _extract(self, location: str, *, text: bool, operator: bool = True) -> ArticleDraft:
        pages = self.pages
        if location.startswith(("http://", "https://")):
            fetch = self.settings.fetch
            if not operator:
                fetch = fetch.replace(allowed_networks=())
            async with Fetcher(fetch, transport=self._transport) as fetcher:
                response = await fetcher.fetch(location, accept=HTML_ACCEPT)
            if text:
                decoded = response.content.decode("utf-8", errors="replace")
                return pages.extract_text(decoded, response.url)
            return await asyncio.to_thread(pages.extract_html, response.content, response.url)
        if not operator:
            raise InvalidURLError(
                "give the article's web address (http or https)", resource=location
            )
        path = Path(location).expanduser()
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ExtractionError(f"cannot read {path}: {e.strerror}", resource=str(path)) from e
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise ExtractionError(f"not a gzip file: {e}", resource=str(path)) from e
        if text:
            return pages.extract_text(data.decode("utf-8", errors="replace"), None)
        return pages.extract_html(data, None)

    def add_article(
        self,
        location: str,
        *,
        text: bool = False,
        source_name: str | None = None,
        operator: bool = True,
    ) -> Article:
        """Extract an article (see :meth:`extract`; ``operator`` as there) and store it
        under a hand-kept source (``source_name``, created on first use). Raises
        ExtractionError, FetchError, InvalidURLError."""
        draft = self.extract(location, text=text, operator=operator)
        return self._store_by_hand(draft, source_name, resource=location)

    def add_article_text(self, page_text: str, *, source_name: str | None = None) -> Article:
        """Store the article in the text of a copied page (as :meth:`add_article` does
        with a file of it), under a hand-kept source. Raises ExtractionError."""
        draft = self.pages.extract_text(page_text, None)
        return self._store_by_hand(draft, source_name, resource="pasted text")

    def store_draft(self, draft: ArticleDraft, *, source_name: str | None = None) -> Article:
        """Store an article already in hand (a reader's imported saved article) under a
        hand-kept source. Raises ExtractionError when it has neither title nor text."""
        return self._store_by_hand(draft, source_name, resource=draft.url or "article")

    def _store_by_hand(
        self, draft: ArticleDraft, source_name: str | None, *, resource: str
    ) -> Article:
        if not (draft.title or draft.body):
            raise ExtractionError(
                "no article found: neither a title nor any text", resource=resource
            )
        if draft.canonical_url:
            draft = replace(draft, canonical_url=canonicalize_url(draft.canonical_url))
        # Adding the same page twice must find the same article: give it a stable id.
        guid = draft.guid or draft.canonical_url or draft.url or f"sha256:{draft.digest()}"
        draft = replace(draft, guid=guid)
        name = (source_name or MANUAL_SOURCE).strip() or MANUAL_SOURCE
        key = f"manual:{name}"
        try:
            source = self.storage.get_source(key)
        except NotFoundError:
            source = self.storage.add_source(
                key, kind=SourceKind.MANUAL, title=name, added=self._clock()
            )
        self.storage.upsert_articles(source.id, [draft], fetched_at=self._clock())
        # A page that a feed already brought is that article (one article per canonical
        # URL, across sources); otherwise the one just stored under this source.
        found = self.storage.find_articles(
            source.id,
            guids=[guid],
            canonical_urls=[draft.canonical_url] if draft.canonical_url else [],
        )
        if not found:
            raise ExtractionError("the article could not be stored", resource=resource)
        return min(found, key=lambda a: (a.source_id != source.id, a.id))
