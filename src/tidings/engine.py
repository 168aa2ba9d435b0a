"""The Engine: the one entry point that wires storage, fetching, parsing and scheduling.

Command line, HTTP API and web pages talk to an :class:`Engine`, never to storage directly.
An ingestion pass reads every due source concurrently; each source's outcome (new articles,
a 304, an error) is recorded on the source, and one failing source never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from tidings.config import Settings, load_settings
from tidings.errors import (
    AuthenticationError,
    FeedParseError,
    FetchError,
    InvalidInputError,
    InvalidURLError,
    NotFoundError,
    TidingsError,
    TokenNotFoundError,
    TopicNotFoundError,
)
from tidings.extract import merge
from tidings.extract.page import ExtractionError
from tidings.ingest import local, opml, schedule
from tidings.ingest.feeds import ParsedFeed, canonicalize_url, parse_feed
from tidings.ingest.fetch import Fetcher
from tidings.store.base import Storage
from tidings.store.sql import open_storage
from tidings.types import (
    Account,
    Article,
    ArticleDraft,
    ArticleInsight,
    DigestFrequency,
    EnrichReport,
    Entity,
    EntityPage,
    EventKind,
    FeedPage,
    IngestReport,
    Interest,
    InterestKind,
    OutlineEntry,
    PagePolicy,
    Reader,
    ReaderEvent,
    Source,
    SourceHealth,
    SourceKind,
    SourceUpdate,
    Stance,
    Story,
    StoryPage,
    Token,
    TokenKind,
    TopicTag,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from argon2 import PasswordHasher

    from tidings.enrich.stage import EnrichmentStage
    from tidings.rank.score import ReaderState
    from tidings.types import ArticleFacts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _CachedPage:
    page: FeedPage
    #: What the page depended on: the engine's content version and the reader's stamp.
    stamp: tuple[object, ...]
    at: datetime


#: The stored model of global ranking weights (:meth:`Engine.learn`), and how often a
#: process looks for a newer one.
GLOBAL_MODEL = "rank-weights"
GLOBAL_MODEL_REFRESH = 300.0
#: Readers :meth:`Engine.learn` samples: 200 readers' 500 impressions are 100,000 rows,
#: plenty for 17 weights, and about a page's time each.
LEARN_READERS = 200

#: Articles' ranking facts kept across pages (about 2 KB each with their vector) and for
#: how long, in seconds: see ``Engine._rank_facts``.
CACHED_FACTS = 50_000
FACTS_SECONDS = 120.0
#: Pages kept by :meth:`Engine.feed` (about 30 KB each with their facts).
CACHED_PAGES = 2048


class Unset:
    """The type of :data:`UNSET`: "leave as it is", apart from None ("remove")."""


UNSET = Unset()

#: Articles written per storage transaction. Large enough that per-transaction overhead is
#: negligible (measured with `tidings bench ingest`), small enough to keep memory flat.
UPSERT_BATCH = 500

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

#: The name of the source that articles added by hand go to when none is given.
MANUAL_SOURCE = "Added by hand"

Clock = Callable[[], datetime]
Progress = Callable[[SourceUpdate], None]


#: What a reader may be called: safe in URLs, feeds and file names.
READER_NAME = re.compile(r"[\w.@+-]{1,64}")
#: The largest share of a page given to exploring beyond known interests.
MAX_EXPLORATION = 0.5
#: Longest name or keyword a reader can follow.
MAX_INTEREST_CHARS = 200
#: Longest read time taken as real (seconds): a tab left open overnight is not reading.
MAX_READ_SECONDS = 4 * 60 * 60
#: Events dated further ahead than this are clock errors.
FUTURE_SLACK = timedelta(minutes=5)


#: Largest page a reader can ask for.
MAX_PAGE_SIZE = 100
#: How old an article may be to be a candidate: news older than a week is rarely news.
CANDIDATE_AGE = timedelta(days=7)
#: How far back all readers' engagement counts toward an article's popularity.
POPULARITY_WINDOW = timedelta(days=2)
#: Impressions a reader's own weights are learned from (the newest), and how many it takes
#: before they are: with fewer, the global weights serve them.
LEARN_FROM = 500
LEARN_AFTER = 20
#: Readers whose fitted weights the engine keeps (refitted only after their next event or
#: change of follows): about 150 bytes each, so a few thousand active readers cost little.
FITTED_READERS = 4096
#: Engaged articles whose mean vector probes the vector index for "more like what you
#: read", and how many neighbours it brings.
TASTE_PROBES = 20
SIMILAR_CANDIDATES = 50
#: Newest articles per followed thing. Each candidate costs a page reading its facts from
#: storage (most of a page's time since scoring is one matrix product: `tidings bench
#: feed`), so 50 follows at 50 each would triple a page's candidates; 20 keeps a week of a
#: followed entity's coverage in view for all but the busiest names.
PER_FOLLOW_CANDIDATES = 20
#: Candidates brought by follows and learned affinities together: a reader of a few things
#: gets :data:`PER_FOLLOW_CANDIDATES` of each, one of fifty follows and twenty affinities
#: about eight of each (never fewer than :data:`MIN_PER_FOLLOW`), so a page's cost stops
#: growing with the number of follows (`tidings bench feed`: 1,900 candidates a page at 50
#: follows before this budget).
FOLLOW_CANDIDATE_BUDGET = 600
MIN_PER_FOLLOW = 5
#: Latest reads probed one by one (besides their mean).
SEPARATE_PROBES = 3
#: Learned topic and entity affinities that also bring candidates, the strongest first.
AFFINITY_KEYS = 5
#: How far back, and how many of, a reader's events shape their page.
HISTORY = timedelta(days=60)
HISTORY_EVENTS = 2000
#: Events that reject an article.
REJECTIONS = frozenset({EventKind.LESS, EventKind.HIDE})
#: Seconds of reading that count as engagement (a glance is not).
ENGAGED_READ_SECONDS = 15.0


def _engaged(event: ReaderEvent) -> bool:
    if event.kind is EventKind.READ:
        return (event.value or 0.0) >= ENGAGED_READ_SECONDS
    return event.kind in (EventKind.OPEN, EventKind.SAVE, EventKind.SHARE, EventKind.MORE)


def _interest_kind(kind: InterestKind | str) -> InterestKind:
    try:
        return InterestKind(str(kind).lower())
    except ValueError:
        names = ", ".join(k.value for k in InterestKind)
        raise InvalidInputError(f"cannot follow a {kind!r}: choose one of {names}") from None


def event_problem(event: ReaderEvent, now: datetime) -> str | None:
    """What is wrong with an event, or None. Pure."""
    if event.at.tzinfo is None:
        return "its time has no time zone"
    if event.at > now + FUTURE_SLACK:
        return "it is dated in the future"
    if event.article_id < 1:
        return "no article"
    if event.kind is EventKind.READ:
        if event.value is None or not 0 <= event.value <= MAX_READ_SECONDS:
            return f"a read needs its seconds, 0 to {MAX_READ_SECONDS}"
    elif event.kind is EventKind.IMPRESSION:
        if event.value is not None and (event.value < 0 or event.value != int(event.value)):
            return "an impression's position is a whole number from 0"
    elif event.value is not None:
        return "this kind of event carries no value"
    return None


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
        self._enrichment: EnrichmentStage | None = None
        #: Per-reader weights fitted on their impressions (see ``_reader_weights``).
        self._fitted_weights: OrderedDict[object, npt.NDArray[np.float64]] = OrderedDict()
        #: Pages recently made, by (reader, cursor, size): see :meth:`feed`.
        self._pages: OrderedDict[tuple[int, str | None, int], _CachedPage] = OrderedDict()
        self._pages_lock = threading.Lock()
        #: Articles' ranking facts by id, with the content version and when read.
        self._facts: OrderedDict[int, tuple[ArticleFacts, int, float]] = OrderedDict()
        #: The global weights, their version and when they were read (monotonic seconds).
        self._global: tuple[npt.NDArray[np.float64], object, float] | None = None
        #: While :meth:`learn` runs: where readers' impression rows are collected.
        self._learning: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] | None = None
        #: Bumped whenever this engine changes what articles there are or what is known of
        #: them, so that its own cached pages are never staler than its own changes.
        self._content_version = 0

    def close(self) -> None:
        if self._enrichment is not None:
            self._enrichment.close()
        self.storage.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sources -----------------------------------------------------------------------

    def add_source(
        self,
        url: str,
        *,
        tags: Sequence[str] = (),
        title: str | None = None,
        pages: PagePolicy = PagePolicy.AUTO,
    ) -> Source:
        """Subscribe to a feed URL, or a local feed file or folder. Due for polling at once.

        ``pages`` says when entries' article pages are fetched for their whole text (feeds
        on the web only; local feed files are read as they are)."""
        normalised, kind = classify_source_url(url)
        clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        return self.storage.add_source(
            normalised,
            kind=kind,
            title=title,
            tags=clean_tags,
            pages=PagePolicy(pages),
            added=self._clock(),
        )

    def get_source(self, key: int | str) -> Source:
        return self.storage.get_source(key)

    def list_sources(self) -> list[SourceHealth]:
        return self.storage.source_health()

    def remove_source(self, key: int | str) -> None:
        self.storage.remove_source(key)
        self._content_version += 1

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

    def extract(self, location: str, *, text: bool = False) -> ArticleDraft:
        """Extract an article from a web page URL, an HTML file, or (``text``) a file of
        copied page text. Nothing is stored. Raises ExtractionError, FetchError."""
        return asyncio.run(self._extract(location, text=text))

    async def _extract(self, location: str, *, text: bool) -> ArticleDraft:
        from tidings.extract.html import extract_html
        from tidings.extract.text import extract_text

        if location.startswith(("http://", "https://")):
            async with Fetcher(self.settings.fetch, transport=self._transport) as fetcher:
                response = await fetcher.fetch(location, accept=HTML_ACCEPT)
            if text:
                decoded = response.content.decode("utf-8", errors="replace")
                return extract_text(decoded, url=response.url)
            return await asyncio.to_thread(extract_html, response.content, url=response.url)
        path = Path(location).expanduser()
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ExtractionError(f"cannot read {path}: {e.strerror}", resource=str(path)) from e
        if path.suffix == ".gz":
            import gzip

            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise ExtractionError(f"not a gzip file: {e}", resource=str(path)) from e
        if text:
            return extract_text(data.decode("utf-8", errors="replace"))
        return extract_html(data)

    def add_article(
        self, location: str, *, text: bool = False, source_name: str | None = None
    ) -> Article:
        """Extract an article (see :meth:`extract`) and store it under a hand-kept source
        (``source_name``, created on first use). Raises ExtractionError, FetchError."""
        draft = self.extract(location, text=text)
        if not (draft.title or draft.body):
            raise ExtractionError(
                "no article found: neither a title nor any text", resource=location
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
        [article] = self.storage.find_articles(source.id, guids=[guid])[:1]
        if self.settings.enrich:
            self.enrich_safely()
        return article

    # --- understanding -----------------------------------------------------------------

    @property
    def enrichment(self) -> EnrichmentStage:
        """The enrichment stage (models load on first analysis, not here)."""
        if self._enrichment is None:
            # Imported here: the models' libraries cost a second of start-up that commands
            # which never analyse anything should not pay.
            from tidings.enrich.stage import EnrichmentStage, index_path

            self._enrichment = EnrichmentStage(
                self.storage,
                vector_path=index_path(self.settings.data_dir, self.settings.database_url),
                clock=self._clock,
            )
        return self._enrichment

    def enrich(
        self,
        *,
        everything: bool = False,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> EnrichReport:
        """Analyse the articles not analysed yet (with ``everything``, all of them again).
        Raises TidingsError when a model cannot be loaded."""
        try:
            return self.enrichment.run(everything=everything, limit=limit, progress=progress)
        finally:
            self._content_version += 1

    def check_enrichment(self) -> None:
        """When enrichment is on, make sure its models are installed: raises ModelLoadError
        naming the package to install, so that start-up stops with a clear message rather
        than every ingestion pass failing later."""
        if self.settings.enrich:
            from tidings.enrich.pipeline import check_models

            check_models()

    def enrich_safely(self) -> EnrichReport:
        """:meth:`enrich`, with a failure reported rather than raised: ingestion must
        store what it fetched even when analysis cannot run; the articles wait."""
        try:
            return self.enrich()
        except TidingsError as e:
            log.warning("enrichment did not run: %s", e)
            return EnrichReport(error=str(e))

    def article_insight(self, article_id: int) -> ArticleInsight | None:
        """What enrichment found in an article (None if not analysed yet)."""
        return self.storage.article_insight(article_id)

    def similar_articles(self, article_id: int, *, limit: int = 10) -> list[tuple[Article, float]]:
        """Articles most like this one by meaning, best first."""
        self.storage.get_article(article_id)
        found = self.enrichment.similar(article_id, limit)
        out: list[tuple[Article, float]] = []
        for other, score in found:
            try:
                out.append((self.storage.get_article(other), score))
            except NotFoundError:
                continue  # removed since it was indexed
        return out

    def list_entities(
        self, *, type: str | None = None, query: str | None = None, limit: int = 50
    ) -> list[Entity]:
        return self.storage.list_entities(type=type, query=query, limit=limit)

    def entity_page(self, key: int | str, *, limit: int = 20) -> EntityPage:
        """An entity with its latest articles and quotes. Raises EntityNotFoundError."""
        entity = self.storage.get_entity(key)
        return EntityPage(
            entity=entity,
            articles=tuple(self.storage.entity_articles(entity.id, limit=limit)),
            quotes=tuple(self.storage.entity_quotes(entity.id, limit=limit)),
        )

    def list_stories(self, *, limit: int = 50) -> list[Story]:
        return self.storage.list_stories(limit=limit)

    def story_page(self, story_id: int) -> StoryPage:
        """A story with all its articles and their sources. Raises StoryNotFoundError."""
        story = self.storage.get_story(story_id)
        found = self.storage.story_articles(story_id)
        names = {h.source.id: h.source.title or h.source.url for h in self.storage.source_health()}
        return StoryPage(
            story=story,
            articles=tuple(found),
            sources=tuple(dict.fromkeys(names.get(a.source_id, str(a.source_id)) for a in found)),
        )

    def list_topics(self) -> list[tuple[TopicTag, int]]:
        return self.storage.list_topics()

    # --- readers -----------------------------------------------------------------------

    def add_reader(self, name: str) -> Reader:
        """A new reader. Raises InvalidInputError for a bad name, ReaderExistsError."""
        clean = name.strip()
        if not READER_NAME.fullmatch(clean):
            raise InvalidInputError(
                "a reader name is 1 to 64 letters, digits or . _ @ + - (no spaces)",
                resource=name,
            )
        return self.storage.add_reader(clean, created=self._clock())

    def get_reader(self, key: int | str) -> Reader:
        return self.storage.get_reader(key)

    def list_readers(self) -> list[Reader]:
        return self.storage.list_readers()

    def remove_reader(self, key: int | str) -> None:
        """Delete a reader with everything they said and did."""
        self.storage.remove_reader(key)

    def set_reader_settings(
        self,
        key: int | str,
        *,
        exploration: float | None = None,
        diversity: float | None = None,
    ) -> Reader:
        """Change how adventurous (exploration, 0 to 0.5) and how mixed (diversity, 0 to 1)
        a reader's page is. Raises InvalidInputError for values out of range."""
        reader = self.storage.get_reader(key)
        if exploration is not None:
            if not 0.0 <= exploration <= MAX_EXPLORATION:
                raise InvalidInputError(f"exploration must be between 0 and {MAX_EXPLORATION}")
            reader = replace(reader, exploration=exploration)
        if diversity is not None:
            if not 0.0 <= diversity <= 1.0:
                raise InvalidInputError("diversity must be between 0 and 1")
            reader = replace(reader, diversity=diversity)
        return self.storage.update_reader(reader)

    def follow(self, reader: int | str, kind: InterestKind | str, value: str) -> Interest:
        """Follow a topic, entity, source, author, story or keyword (replacing a mute of it).
        Raises NotFoundError when the thing does not exist, InvalidInputError when the
        value cannot name one."""
        return self._set_interest(reader, kind, value, Stance.FOLLOW)

    def mute(self, reader: int | str, kind: InterestKind | str, value: str) -> Interest:
        """Never show what matches (replacing a follow of it)."""
        return self._set_interest(reader, kind, value, Stance.MUTE)

    def unfollow(self, reader: int | str, kind: InterestKind | str, value: str) -> bool:
        """Forget a follow or a mute; whether there was one."""
        who = self.storage.get_reader(reader)
        resolved, _ = self._resolve_interest(_interest_kind(kind), value)
        return self.storage.remove_interest(who.id, _interest_kind(kind), resolved)

    def interests(self, reader: int | str) -> list[Interest]:
        return self.storage.list_interests(self.storage.get_reader(reader).id)

    def _set_interest(
        self, reader: int | str, kind: InterestKind | str, value: str, stance: Stance
    ) -> Interest:
        who = self.storage.get_reader(reader)
        kind = _interest_kind(kind)
        resolved, label = self._resolve_interest(kind, value)
        interest = Interest(kind=kind, value=resolved, stance=stance, label=label)
        return self.storage.set_interest(who.id, interest, created=self._clock())

    def _resolve_interest(self, kind: InterestKind, value: str) -> tuple[str, str]:
        """The stored value and label of what a reader names (by id or by name)."""
        text = " ".join(value.split())
        if not text or len(text) > MAX_INTEREST_CHARS:
            raise InvalidInputError(
                f"a {kind.value} to follow is 1 to {MAX_INTEREST_CHARS} characters", resource=value
            )
        if kind is InterestKind.ENTITY:
            entity = self.storage.get_entity(int(text) if text.isdigit() else text)
            return str(entity.id), entity.name
        if kind is InterestKind.SOURCE:
            source = self.storage.get_source(int(text) if text.isdigit() else text)
            return str(source.id), source.title or source.url
        if kind is InterestKind.STORY:
            if not text.isdigit():
                raise InvalidInputError("a story is named by its id", resource=value)
            story = self.storage.get_story(int(text))
            return str(story.id), story.headline or f"story {story.id}"
        if kind is InterestKind.TOPIC:
            return self._resolve_topic(text)
        # Authors and keywords are matched case-insensitively, as bylines and text vary.
        return text.casefold(), text

    def _resolve_topic(self, text: str) -> tuple[str, str]:
        from tidings.enrich.relations import relation_named
        from tidings.enrich.topics import load_taxonomy

        if (tag := self.storage.find_topic(text)) is not None:
            return tag.id, tag.label
        folded = text.casefold()
        for topic in load_taxonomy():
            if folded in (topic.id.casefold(), topic.label.casefold()):
                return topic.id, topic.label
        if (relation := relation_named(text)) is not None:
            return relation
        raise TopicNotFoundError(
            f"no such topic: {text} (see `tidings topic list`; relations are named like "
            '"China–Russia relations")',
            resource=text,
        )

    def record_events(self, reader: int | str, items: Sequence[ReaderEvent]) -> int:
        """Store what a reader saw and did. Raises InvalidInputError for a malformed event
        (nothing is stored then), ArticleNotFoundError for an unknown article."""
        who = self.storage.get_reader(reader)
        now = self._clock()
        for event in items:
            problem = event_problem(event, now)
            if problem is not None:
                raise InvalidInputError(f"malformed {event.kind.value} event: {problem}")
        return self.storage.record_events(who.id, items)

    def save_article(self, reader: int | str, article_id: int) -> None:
        self.storage.save_article(self.storage.get_reader(reader).id, article_id, at=self._clock())

    def unsave_article(self, reader: int | str, article_id: int) -> bool:
        return self.storage.unsave_article(self.storage.get_reader(reader).id, article_id)

    def saved_articles(self, reader: int | str, *, limit: int = 50) -> list[Article]:
        return self.storage.saved_articles(self.storage.get_reader(reader).id, limit=limit)

    # --- accounts, sessions and tokens -------------------------------------------------

    def sign_up(self, name: str, password: str, *, email: str | None = None) -> Reader:
        """A new reader who signs in with ``password``. Raises InvalidInputError (a bad name,
        password or email address) or ReaderExistsError."""
        _check_password(password)
        address = _clean_email(email) if email else None
        who = self.add_reader(name)
        try:
            self.storage.update_account(
                who.id, now=self._clock(), password_hash=_hasher().hash(password), email=address
            )
        except BaseException:
            self.storage.remove_reader(who.id)
            raise
        return who

    def set_password(self, reader: int | str, password: str) -> None:
        """Set or change the reader's password; their other sessions end."""
        _check_password(password)
        who = self.storage.get_reader(reader)
        now = self._clock()
        self.storage.update_account(who.id, now=now, password_hash=_hasher().hash(password))
        self.storage.revoke_tokens(who.id, at=now, kind=TokenKind.SESSION)

    def authenticate(self, name: str, password: str) -> Reader:
        """The reader with this name and password. Raises AuthenticationError, whose message
        does not say whether the name exists; an unknown name costs as much time as a known
        one, so timing does not tell either."""
        from argon2.exceptions import InvalidHashError, VerificationError

        found = self.storage.password_hash(name.strip()) if len(password) <= MAX_PASSWORD else None
        hasher = _hasher()
        try:
            if found is None:
                hasher.verify(_dummy_hash(), password + "\x00")
                raise AuthenticationError("wrong name or password")
            hasher.verify(found[1], password)
        except (VerificationError, InvalidHashError) as e:
            raise AuthenticationError("wrong name or password") from e
        reader_id, stored = found
        if hasher.check_needs_rehash(stored):
            self.storage.update_account(
                reader_id, now=self._clock(), password_hash=hasher.hash(password)
            )
        return self.storage.get_reader(reader_id)

    def open_session(self, reader: int | str, *, name: str = "browser") -> str:
        """A new session's secret (for a cookie); it expires after :data:`SESSION_LIFETIME`."""
        who = self.storage.get_reader(reader)
        _, secret = self._new_token(who.id, TokenKind.SESSION, name, lifetime=SESSION_LIFETIME)
        return secret

    def end_session(self, secret: str) -> None:
        """Sign a session out; unknown secrets are ignored."""
        token = self.storage.token_by_secret(_secret_hash(secret))
        if token is not None and token.kind is TokenKind.SESSION:
            self.storage.revoke_tokens(token.reader_id, at=self._clock(), token_id=token.id)

    def reader_for_token(self, secret: str, kind: TokenKind) -> Reader:
        """Whose token this is, if it is a live token of ``kind``. Raises
        AuthenticationError."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            raise AuthenticationError("not signed in")
        token = self.storage.token_by_secret(_secret_hash(secret))
        now = self._clock()
        if (
            token is None
            or token.kind is not kind
            or token.revoked is not None
            or (token.expires is not None and token.expires <= now)
        ):
            raise AuthenticationError("not signed in, or the token was revoked or expired")
        if token.last_used is None or now - token.last_used > TOKEN_TOUCH_EVERY:
            # Not on every request: a page view should not be a database write.
            self.storage.touch_token(token.id, at=now)
        return self.storage.get_reader(token.reader_id)

    def create_token(
        self, reader: int | str, name: str, *, kind: TokenKind = TokenKind.API
    ) -> tuple[Token, str]:
        """A new API (or private-feed) token and its secret, which is shown only now."""
        clean = " ".join(name.split())
        if not 1 <= len(clean) <= 100:
            raise InvalidInputError("a token's name is 1 to 100 characters", resource=name)
        if kind is TokenKind.SESSION:
            raise InvalidInputError("sessions are opened by signing in")
        return self._new_token(self.storage.get_reader(reader).id, kind, clean)

    def list_tokens(self, reader: int | str, *, kind: TokenKind | None = None) -> list[Token]:
        return self.storage.list_tokens(self.storage.get_reader(reader).id, kind=kind)

    def revoke_token(self, reader: int | str, token_id: int) -> None:
        """Revoke one of the reader's tokens. Raises TokenNotFoundError (also for another
        reader's token: its existence is not theirs to learn)."""
        who = self.storage.get_reader(reader)
        if not self.storage.revoke_tokens(who.id, at=self._clock(), token_id=token_id):
            raise TokenNotFoundError(f"no such token: {token_id}", resource=str(token_id))

    def private_feed_token(self, reader: int | str) -> str:
        """A new secret for the reader's private feed URLs; the old ones stop working."""
        who = self.storage.get_reader(reader)
        self.storage.revoke_tokens(who.id, at=self._clock(), kind=TokenKind.FEED)
        _, secret = self._new_token(who.id, TokenKind.FEED, "private feed")
        return secret

    def _new_token(
        self, reader_id: int, kind: TokenKind, name: str, *, lifetime: timedelta | None = None
    ) -> tuple[Token, str]:
        import secrets

        secret = TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)
        now = self._clock()
        token = self.storage.add_token(
            reader_id,
            kind=kind,
            name=name,
            secret_hash=_secret_hash(secret),
            created=now,
            expires=now + lifetime if lifetime else None,
        )
        return token, secret

    def account(self, reader: int | str) -> Account:
        return self.storage.get_account(self.storage.get_reader(reader).id)

    def set_account(
        self,
        reader: int | str,
        *,
        email: str | Unset | None = UNSET,
        digest: DigestFrequency | str | Unset = UNSET,
    ) -> Account:
        """Change the reader's email address ("" or None removes it) and digest frequency.
        Raises InvalidInputError."""
        changes: dict[str, object] = {}
        if not isinstance(email, Unset):
            changes["email"] = _clean_email(email) if email else None
        if not isinstance(digest, Unset):
            try:
                changes["digest"] = DigestFrequency(digest)
            except ValueError as e:
                choices = ", ".join(f.value for f in DigestFrequency)
                raise InvalidInputError(f"digests are one of {choices}") from e
        who = self.storage.get_reader(reader)
        return self.storage.update_account(who.id, now=self._clock(), **changes)

    def due_digests(self, now: datetime | None = None) -> list[Account]:
        """Accounts whose digest is due at ``now`` (by default, the clock's now)."""
        from tidings.deliver.digest import digest_due

        moment = now or self._clock()
        return [
            a
            for a in self.storage.accounts_with_digests()
            if digest_due(a.digest, a.digest_last_sent, moment)
        ]

    def mark_digest_sent(self, reader: int | str, at: datetime) -> None:
        who = self.storage.get_reader(reader)
        self.storage.update_account(who.id, now=self._clock(), digest_last_sent=at)

    # --- search ------------------------------------------------------------------------

    def search(
        self, query: str, *, limit: int = 20, offset: int = 0
    ) -> list[tuple[Article, float]]:
        """Articles matching every word of ``query``, best first. Raises InvalidInputError
        for an empty or overlong query."""
        text = query.strip()
        if not text or len(text) > MAX_QUERY_CHARS:
            raise InvalidInputError(f"a search is 1 to {MAX_QUERY_CHARS} characters")
        if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
            raise InvalidInputError(f"a page of results holds 1 to {MAX_PAGE_SIZE}")
        return self.storage.search_articles(text, limit=limit, offset=offset)

    def source_usefulness(self, reader: int | str) -> dict[int, tuple[int, int, int]]:
        """Per source id, from the reader's recent history: (articles seen: shown on a page
        or reached otherwise, articles read, articles liked: saved, shared or asked more
        of). Counts of distinct articles, so that read and liked never exceed seen."""
        who = self.storage.get_reader(reader)
        history = self.storage.reader_events(
            who.id, since=self._clock() - HISTORY, limit=HISTORY_EVENTS
        )
        ids = list(dict.fromkeys(e.article_id for e in history))
        source_of = {
            f.article_id: f.source_id for f in self.storage.rank_facts(limit=0, article_ids=ids)
        }
        liked_kinds = (EventKind.SAVE, EventKind.SHARE, EventKind.MORE)
        sets: dict[int, tuple[set[int], set[int], set[int]]] = {}
        for e in history:
            source = source_of.get(e.article_id)
            if source is None:
                continue
            shown, read, liked = sets.setdefault(source, (set(), set(), set()))
            shown.add(e.article_id)
            if _engaged(e) and e.kind in (EventKind.OPEN, EventKind.READ):
                read.add(e.article_id)
            if e.kind in liked_kinds:
                liked.add(e.article_id)
        return {s: (len(a), len(b), len(c)) for s, (a, b, c) in sets.items()}

    def now(self) -> datetime:
        """The engine's clock (events without a time happened now by it)."""
        return self._clock()

    def topic_page(self, key: str, *, limit: int = 20) -> tuple[TopicTag, list[Article]]:
        """A topic (by id or name; a relation such as "China–Russia relations" even before
        any article) with its newest articles. Raises TopicNotFoundError."""
        topic_id, label = self._resolve_topic(key)
        tag = self.storage.find_topic(topic_id) or TopicTag(id=topic_id, label=label)
        # The per-topic candidate query is "the newest N carrying it", through its index.
        ids = self.storage.candidate_ids(
            since=self._clock(), topic_ids=[tag.id], per_key=limit, top_stories=0, newest=0
        )
        found: list[Article] = []
        for article_id in ids:
            try:
                found.append(self.storage.get_article(article_id))
            except NotFoundError:
                continue  # removed meanwhile
        found.sort(key=lambda a: a.published or a.fetched_at, reverse=True)
        return tag, found[:limit]

    # --- the reader's feed -------------------------------------------------------------

    def feed(self, reader: int | str, *, cursor: str | None = None, size: int = 30) -> FeedPage:
        """A page of the reader's feed: one item per story, each with its reasons; pass the
        previous page's ``next_cursor`` for the next. Raises InvalidCursorError.

        A page made for the same reader, cursor and size is served again for up to
        ``settings.feed_cache_seconds`` (0 turns this off) as long as nothing of the reader
        changed (an event, a follow or mute, a setting; from any process, read from storage
        with one indexed query) and this engine has not ingested or analysed anything since.
        Articles that other processes analyse meanwhile reach the reader when it expires.
        """
        ttl = self.settings.feed_cache_seconds
        if ttl <= 0:
            return self._rank_page(reader, cursor=cursor, size=size)
        # By id (the API's and the page's way) one query says both that the reader exists
        # (their settings are in the stamp) and whether their page is still good.
        reader_id = reader if isinstance(reader, int) else self.storage.get_reader(reader).id
        found = self.storage.reader_stamp(reader_id)
        if not found:
            self.storage.get_reader(reader_id)  # raises ReaderNotFoundError
        stamp = (self._content_version, found)
        key = (reader_id, cursor, size)
        now = self._clock()
        with self._pages_lock:
            hit = self._pages.get(key)
            if hit is not None and hit.stamp == stamp and now - hit.at < timedelta(seconds=ttl):
                self._pages.move_to_end(key)
                return hit.page
        page = self._rank_page(reader_id, cursor=cursor, size=size)
        with self._pages_lock:
            self._pages[key] = _CachedPage(page=page, stamp=stamp, at=now)
            self._pages.move_to_end(key)
            while len(self._pages) > CACHED_PAGES:
                self._pages.popitem(last=False)
        return page

    def _rank_page(self, reader: int | str, *, cursor: str | None, size: int) -> FeedPage:
        """:meth:`feed` without its cache."""
        from operator import itemgetter

        import numpy as np

        from tidings.enrich.embed import from_bytes, normalize
        from tidings.rank.assemble import (
            Candidate,
            Mutes,
            PageCursor,
            PageSettings,
            assemble_page,
        )
        from tidings.rank.score import (
            ReaderState,
            affinities,
            featurize,
            featurize_many,
            learned_affinities,
            stack,
        )

        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"a page holds 1 to {MAX_PAGE_SIZE} items")
        who = self.storage.get_reader(reader)
        now = self._clock()
        previous = PageCursor.decode(cursor) if cursor else None
        found = self.storage.list_interests(who.id)
        follows: dict[InterestKind, dict[str, str]] = {}
        muted: dict[InterestKind, set[str]] = {}
        for i in found:
            if i.stance is Stance.FOLLOW:
                follows.setdefault(i.kind, {})[i.value] = i.label or i.value
            else:
                muted.setdefault(i.kind, set()).add(i.value)
        history = self.storage.reader_events(who.id, since=now - HISTORY, limit=HISTORY_EVENTS)
        engaged = [e.article_id for e in history if _engaged(e)]
        rejected = {e.article_id for e in history if e.kind in REJECTIONS}
        hidden = {e.article_id for e in history if e.kind is EventKind.HIDE}
        opened = {e.article_id for e in history if e.kind in (EventKind.OPEN, EventKind.READ)}
        since = now - CANDIDATE_AGE
        # What the reader was shown, engaged with or rejected (any age): their taste, and
        # the topics and entities they read about without having followed them.
        impressions = [e for e in history if e.kind is EventKind.IMPRESSION][:LEARN_FROM]
        history_facts = self._rank_facts(
            [
                *dict.fromkeys(engaged),
                *rejected,
                *(e.article_id for e in impressions),
            ]
        )
        by_id = {f.article_id: f for f in history_facts}
        liked = [by_id[a] for a in dict.fromkeys(engaged) if a in by_id and by_id[a].vector]
        disliked = [by_id[a] for a in rejected if a in by_id and by_id[a].vector]
        engaged_ids = set(engaged)
        topic_affinity, entity_affinity = learned_affinities(
            (by_id[a], a in engaged_ids)
            for a in {e.article_id for e in impressions} | engaged_ids
            if a in by_id
        )
        liked_topics = sorted(topic_affinity, key=lambda t: -topic_affinity[t])[:AFFINITY_KEYS]
        liked_entities = sorted(entity_affinity, key=lambda e: -entity_affinity[e])[:AFFINITY_KEYS]
        # Candidates: what the reader follows, what is like what they read, top stories and
        # the newest news; each through an index, so the cost does not grow with the archive.
        entity_keys = list(
            dict.fromkeys(
                [
                    *(int(v) for v in follows.get(InterestKind.ENTITY, {}) if v.isdigit()),
                    *(e for e in liked_entities if entity_affinity[e] > 0),
                ]
            )
        )
        topic_keys = list(
            dict.fromkeys(
                [
                    *follows.get(InterestKind.TOPIC, {}),
                    *(t for t in liked_topics if topic_affinity[t] > 0),
                ]
            )
        )
        source_keys = [int(v) for v in follows.get(InterestKind.SOURCE, {}) if v.isdigit()]
        story_keys = [int(v) for v in follows.get(InterestKind.STORY, {}) if v.isdigit()]
        keys = len(entity_keys) + len(topic_keys) + len(source_keys) + len(story_keys)
        ids = self.storage.candidate_ids(
            since=since,
            entity_ids=entity_keys,
            topic_ids=topic_keys,
            source_ids=source_keys,
            story_ids=story_keys,
            per_key=max(
                MIN_PER_FOLLOW, min(PER_FOLLOW_CANDIDATES, FOLLOW_CANDIDATE_BUDGET // max(keys, 1))
            ),
        )
        if liked:
            index = self.enrichment.vectors()
            if index is not None and len(index):
                # Around each of the latest reads, and around their mean: one probe per
                # interest keeps a reader of two subjects from getting only their average.
                recent = [from_bytes(f.vector) for f in liked[:TASTE_PROBES] if f.vector]
                mean = normalize(np.mean(recent, axis=0, keepdims=True))[0]
                probes = [*recent[:SEPARATE_PROBES], mean]
                for probe in probes:
                    ids += [i for i, _ in index.search(probe, SIMILAR_CANDIDATES)]
        wanted = [i for i in dict.fromkeys(ids) if i not in by_id]
        facts = [
            *(f for f in history_facts if f.published >= since),
            *self._rank_facts(wanted),
        ]
        # How the articles fare with all readers lately (counts only).
        counts = self.storage.article_engagement(
            [f.article_id for f in facts], since=now - POPULARITY_WINDOW
        )
        total_shown = sum(n for n, _ in counts.values())
        rate = (sum(e for _, e in counts.values()) + 1.0) / (total_shown + 10.0)
        by_id.update((f.article_id, f) for f in facts)
        shown: dict[int, int] = {}
        clicked: dict[int, int] = {}
        for e in history:
            if e.article_id in by_id:
                source = by_id[e.article_id].source_id
                if e.kind is EventKind.IMPRESSION:
                    shown[source] = shown.get(source, 0) + 1
                elif _engaged(e):
                    clicked[source] = clicked.get(source, 0) + 1
        known = {t for f in liked for t, _, _ in f.topics} | set(
            follows.get(InterestKind.TOPIC, {})
        )
        state = ReaderState(
            follows=follows,
            liked=stack([from_bytes(f.vector) for f in liked if f.vector]),
            liked_titles=tuple(f.title or "an article" for f in liked),
            liked_ids=tuple(f.article_id for f in liked),
            disliked=stack([from_bytes(f.vector) for f in disliked if f.vector]),
            read=frozenset(opened),
            source_affinity=affinities(clicked, shown),
            known_topics=frozenset(known),
            engagement_rate=rate,
            topic_affinity=topic_affinity,
            entity_affinity=entity_affinity,
        )
        # The reader's own weights, learned from what they were shown and what they engaged
        # with, pulled toward the global weights (which alone serve a new reader); kept
        # until the reader's next event or change of follows.
        weights = self._reader_weights(
            who.id, history, follows, impressions, engaged, state, by_id, counts
        )
        oldest = now - CANDIDATE_AGE
        pool = [f for f in facts if f.article_id not in hidden and f.published >= oldest]
        vectors = self._stored_vectors([f.vector for f in pool])
        features, exploring = featurize_many(state, pool, vectors, now, engagement=counts)
        scores = features @ weights
        first = itemgetter(0)
        candidates = [
            Candidate(
                article_id=f.article_id,
                story_id=f.story_id,
                source_id=f.source_id,
                published=f.published,
                title=f.title or "",
                score=float(scores[i]),
                vector=vectors[i] if vectors is not None and f.vector else None,
                topic_ids=tuple(map(first, f.topics)),
                entity_ids=tuple(map(first, f.entities)),
                authors=tuple(map(str.casefold, f.authors)),
                read=f.article_id in opened,
                is_exploration=bool(exploring[i]),
            )
            for i, f in enumerate(pool)
        ]
        mutes = Mutes(
            topic_ids=frozenset(muted.get(InterestKind.TOPIC, ())),
            entity_ids=frozenset(int(v) for v in muted.get(InterestKind.ENTITY, ()) if v.isdigit()),
            source_ids=frozenset(int(v) for v in muted.get(InterestKind.SOURCE, ()) if v.isdigit()),
            authors=frozenset(muted.get(InterestKind.AUTHOR, ())),
            story_ids=frozenset(int(v) for v in muted.get(InterestKind.STORY, ()) if v.isdigit()),
            keywords=frozenset(muted.get(InterestKind.KEYWORD, ())),
        )
        settings = PageSettings(size=size, diversity=who.diversity, exploration=who.exploration)
        page = assemble_page(candidates, settings, mutes, cursor=previous, now=now)

        # Reasons only for what the page shows: building them costs far more than the
        # score, and assembly does not look at them.
        def counted(f: ArticleFacts) -> ArticleFacts:
            if f.article_id not in counts:
                return f
            return replace(f, shown=counts[f.article_id][0], engaged=counts[f.article_id][1])

        row_of = {f.article_id: i for i, f in enumerate(pool)}
        items = []
        for item in page.items:
            row = row_of[item.article_id]
            scored = featurize(
                state,
                counted(pool[row]),
                vectors[row] if vectors is not None and pool[row].vector else None,
                now,
            )
            reasons = scored.weigh(weights)[1]
            items.append(
                replace(
                    item,
                    reasons=tuple(sorted(reasons, key=lambda r: (-r.weight, r.kind, r.text))),
                )
            )
        involved = {i.article_id for i in items} | {
            c.article_id for i in items for c in i.also_covered_by
        }
        articles = {f.article_id: counted(f) for f in facts if f.article_id in involved}
        hint = None
        if not page.items:
            if not facts:
                hint = (
                    "nothing to show yet: add sources (tidings source add URL) and ingest them "
                    "(tidings ingest)"
                )
            else:
                hint = "nothing more to show: everything recent is on earlier pages or muted"
        return FeedPage(
            reader=who,
            items=tuple(items),
            articles=articles,
            next_cursor=page.next_cursor.encode() if page.next_cursor else None,
            hint=hint,
        )

    def _reader_weights(
        self,
        reader_id: int,
        history: Sequence[ReaderEvent],
        follows: dict[InterestKind, dict[str, str]],
        impressions: Sequence[ReaderEvent],
        engaged: Sequence[int],
        state: ReaderState,
        by_id: dict[int, ArticleFacts],
        counts: dict[int, tuple[int, int]],
    ) -> npt.NDArray[np.float64]:
        """The reader's own weights (see :func:`tidings.rank.score.fit_weights`), fitted
        once per state of their history and follows and kept in a small LRU."""

        import numpy as np

        from tidings.rank.score import featurize_many, fit_weights

        prior, version = self._global_weights()
        engaged_set = set(engaged)
        learning = self._learning
        if learning is None and (len(impressions) < LEARN_AFTER or not engaged_set):
            return prior
        newest = history[0] if history else None
        key = (
            version,
            reader_id,
            len(history),
            (newest.kind, newest.article_id, newest.at, newest.value) if newest else None,
            tuple(sorted((k.value, v) for k, values in follows.items() for v in values)),
        )
        cache = self._fitted_weights
        found = cache.get(key) if learning is None else None
        if found is not None:
            return found
        shown = [e for e in impressions if e.article_id in by_id]
        if not shown:
            return prior
        features, _ = featurize_many(
            state,
            [by_id[e.article_id] for e in shown],
            self._stored_vectors([by_id[e.article_id].vector for e in shown]),
            [e.at for e in shown],
            engagement=counts,
        )
        labels = np.array([float(e.article_id in engaged_set) for e in shown])
        if learning is not None:
            learning.append((features, labels))
            return prior
        weights = fit_weights(features, labels, prior)
        cache[key] = weights
        while len(cache) > FITTED_READERS:
            try:
                cache.popitem(last=False)
            except KeyError:  # another thread emptied it first
                break
        return weights

    def _rank_facts(self, article_ids: Sequence[int]) -> list[ArticleFacts]:
        """What ranking knows of these articles (analysed ones only), from a cache shared by
        all readers' pages: most of a page's candidates (the newest, the top stories, the
        articles on popular names) are every reader's. An entry lives :data:`FACTS_SECONDS`
        (a story's coverage moves slowly) and never past this engine's own ingestion or
        analysis."""
        now = time.monotonic()
        version = self._content_version
        found: list[ArticleFacts] = []
        missing: list[int] = []
        with self._pages_lock:
            cache = self._facts
            for article_id in dict.fromkeys(article_ids):
                hit = cache.get(article_id)
                if hit is not None and hit[1] == version and now - hit[2] < FACTS_SECONDS:
                    cache.move_to_end(article_id)
                    found.append(hit[0])
                else:
                    missing.append(article_id)
        fresh = self.storage.rank_facts(limit=0, article_ids=missing) if missing else []
        with self._pages_lock:
            for facts in fresh:
                cache[facts.article_id] = (facts, version, now)
            while len(cache) > CACHED_FACTS:
                cache.popitem(last=False)
        # In the order asked for, whatever was cached: ties on the page must not depend on
        # which readers came before.
        by_id = {f.article_id: f for f in (*found, *fresh)}
        return [by_id[i] for i in dict.fromkeys(article_ids) if i in by_id]

    def _global_weights(self) -> tuple[npt.NDArray[np.float64], object]:
        """The global weights (learned by :meth:`learn`, else the judged defaults) and a
        version for caches; read from storage at most every :data:`GLOBAL_MODEL_REFRESH`."""
        import json

        from tidings.rank.score import FEATURE_INDEX, weight_vector

        now = time.monotonic()
        with self._pages_lock:
            cached = self._global
        if cached is not None and now - cached[2] < GLOBAL_MODEL_REFRESH:
            return cached[0], cached[1]
        weights, version = weight_vector(), None
        stored = self.storage.load_model(GLOBAL_MODEL)
        if stored is not None:
            payload, fitted_at, _ = stored
            try:
                learned = json.loads(payload)
                for name, value in zip(learned["features"], learned["weights"], strict=True):
                    if name in FEATURE_INDEX and math.isfinite(float(value)):
                        weights[FEATURE_INDEX[name]] = float(value)
                version = fitted_at
            except (ValueError, KeyError, TypeError) as e:
                log.warning("the stored ranking model is unreadable, using defaults: %s", e)
                weights = weight_vector()
        with self._pages_lock:
            self._global = (weights, version, now)
        return weights, version

    def learn(self, *, readers: int = LEARN_READERS) -> tuple[int, int]:
        """Fit the global ranking weights, which serve new readers and pull each reader's
        own fit, on what a sample of up to ``readers`` readers were shown and engaged with
        (a logistic regression of engagement on the same features the feed scores with,
        pulled toward the judged defaults). Stored for every process; returns (readers,
        impressions) learned from, (0, 0) when nobody has a history yet."""
        import json

        import numpy as np

        from tidings.rank.score import FEATURES, fit_weights, weight_vector

        everyone = self.storage.list_readers()
        sample = self._rng.sample(everyone, min(readers, len(everyone)))
        rows: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
        self._learning = rows
        try:
            for who in sample:
                self._rank_page(who.id, cursor=None, size=1)
        finally:
            self._learning = None
        if not rows:
            return 0, 0
        features = np.vstack([f for f, _ in rows])
        labels = np.concatenate([y for _, y in rows])
        if labels.min() == labels.max():
            return 0, 0  # all shown or all engaged with: nothing to tell apart
        weights = fit_weights(features, labels, weight_vector())
        payload = json.dumps({"features": list(FEATURES), "weights": [float(w) for w in weights]})
        self.storage.save_model(
            GLOBAL_MODEL, payload, fitted_at=self._clock(), examples=len(labels)
        )
        with self._pages_lock:
            self._global = None
            self._pages.clear()
        return len(rows), len(labels)

    def ranking_weights(self) -> dict[str, float]:
        """The global weights in use, by feature."""
        from tidings.rank.score import FEATURES

        weights, _ = self._global_weights()
        return {name: float(w) for name, w in zip(FEATURES, weights, strict=True)}

    @staticmethod
    def _stored_vectors(blobs: Sequence[bytes | None]) -> npt.NDArray[np.float32] | None:
        """Stored embeddings (:func:`tidings.enrich.embed.to_bytes` form) as rows of unit
        vectors, zeros where there is none; None when none has one. Decoded as one array
        (``from_bytes`` a row at a time cost 30 us each) when all have one length."""
        import numpy as np

        from tidings.enrich.embed import from_bytes, normalize

        sizes = {len(b) for b in blobs if b}
        if not sizes:
            return None
        if len(sizes) == 1:
            size = sizes.pop()
            raw = np.frombuffer(
                b"".join(b if b else bytes(size) for b in blobs), dtype=np.uint8
            ).reshape(len(blobs), size)
            # Byte 0 is the format (1: int8 values after a 5-byte header); the per-vector
            # scale does not matter once rows are normalised.
            if size > 5 and bool(np.all((raw[:, 0] == 1) | (raw[:, 0] == 0))):
                values = raw[:, 5:].view(np.int8).astype(np.float32)
                return normalize(values)
        rows = [from_bytes(b) if b else None for b in blobs]
        width = max(len(r) for r in rows if r is not None)
        out = np.zeros((len(blobs), width), dtype=np.float32)
        for i, r in enumerate(rows):
            if r is not None:
                out[i, : len(r)] = r
        return out

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
        enrich: bool | None = None,
    ) -> IngestReport:
        """One pass over ``sources`` (default: those due now), then enrichment of what it
        brought (``enrich``; default: the ``enrich`` setting). Never raises for a source's
        failure: it is recorded on the source and in the report."""
        return asyncio.run(self.ingest_async(sources=sources, progress=progress, enrich=enrich))

    async def ingest_async(
        self,
        *,
        sources: Sequence[Source] | None = None,
        progress: Progress | None = None,
        enrich: bool | None = None,
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
        enrichment = None
        if enrich is None:
            enrich = self.settings.enrich
        if enrich and any(u.new or u.updated for u in updates):
            enrichment = await asyncio.to_thread(self.enrich_safely)
        return IngestReport(
            updates=tuple(updates),
            started=started,
            finished=self._clock(),
            enrichment=enrichment,
        )

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
        drafts = await self._complete_with_pages(source, feed.articles, fetcher, parse_slots)
        feed = replace(feed, articles=tuple(drafts))
        return self._store_feeds(
            source,
            [feed],
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
    ) -> list[ArticleDraft]:
        """Fetch and extract the article pages of entries that are only teasers.

        Known articles are not fetched again: an extracted one keeps its page's fields, one
        whose page failed keeps its note (the failure is not retried on every poll), and
        one still pending is fetched now. A failing page never fails the source.
        """
        wanted = [i for i, d in enumerate(drafts) if merge.wants_page(d, source.pages)]
        out = list(drafts)
        if not wanted:
            return out
        stored = self.storage.find_articles(
            source.id,
            guids=[g for i in wanted if (g := drafts[i].guid)],
            canonical_urls=[c for i in wanted if (c := drafts[i].canonical_url)],
        )
        by_guid = {a.guid: a for a in stored if a.guid and a.source_id == source.id}
        by_canonical = {a.canonical_url: a for a in stored if a.canonical_url}
        to_fetch: list[int] = []
        for i in wanted:
            draft = drafts[i]
            known = by_guid.get(draft.guid or "") or by_canonical.get(draft.canonical_url or "")
            if known is None or merge.page_pending(known):
                to_fetch.append(i)
            elif known.extraction_note is None:
                out[i] = merge.carry_page(draft, known)
            else:
                out[i] = replace(draft, extraction_note=known.extraction_note)
        for i in to_fetch[PAGES_PER_PASS:]:
            out[i] = replace(drafts[i], extraction_note=merge.PENDING_NOTE)
        now = to_fetch[:PAGES_PER_PASS]
        pages = await asyncio.gather(
            *(self._fetch_page(drafts[i], fetcher, parse_slots) for i in now)
        )
        for i, completed in zip(now, pages, strict=True):
            out[i] = completed
        return out

    async def _fetch_page(
        self, draft: ArticleDraft, fetcher: Fetcher, parse_slots: asyncio.Semaphore
    ) -> ArticleDraft:
        assert draft.url is not None  # wants_page only picks entries with a link
        # Imported on first use: extraction pulls in lxml and trafilatura, which commands
        # that never extract (source list, a feed-only ingest) should not pay for.
        from tidings.extract.html import extract_html

        try:
            response = await fetcher.fetch(draft.url, accept=HTML_ACCEPT)
            async with parse_slots:
                page = await asyncio.wait_for(
                    asyncio.to_thread(extract_html, response.content, url=response.url),
                    timeout=EXTRACT_TIMEOUT,
                )
        except TimeoutError:
            note = f"page not used: extraction took over {EXTRACT_TIMEOUT:g} s"
            return replace(draft, extraction_note=note)
        except (FetchError, ExtractionError) as e:
            return replace(draft, extraction_note=f"page not used: {e}")
        return merge.merge_page(draft, page)

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


# --- accounts ------------------------------------------------------------------------------

#: Passwords: long enough to resist guessing, short enough that hashing one is no attack.
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
SESSION_LIFETIME = timedelta(days=30)
#: A token's last use is written at most this often.
TOKEN_TOUCH_EVERY = timedelta(hours=1)
MAX_SECRET_CHARS = 200
#: Secrets say what they are (like GitHub's ``ghp_``), so a leaked one is recognised.
TOKEN_PREFIX = {TokenKind.SESSION: "tds_", TokenKind.API: "tda_", TokenKind.FEED: "tdf_"}
MAX_QUERY_CHARS = 200
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    global _HASHER
    if _HASHER is None:
        # argon2id with the library's defaults (RFC 9106's second recommendation).
        _HASHER = PasswordHasher()
    return _HASHER


_HASHER: PasswordHasher | None = None
_DUMMY: str | None = None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = _hasher().hash("not anyone's password")
    return _DUMMY


def _secret_hash(secret: str) -> str:
    import hashlib

    # Secrets are 256 random bits: a fast hash is enough (no guessing to slow down).
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(
            f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters", resource="password"
        )


def _clean_email(address: str) -> str:
    clean = address.strip()
    if len(clean) > 254 or not _EMAIL.fullmatch(clean):
        raise InvalidInputError("not an email address", resource=address)
    return clean


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
        settings = settings.replace(database_url=database_url)
    storage = open_storage(settings.database_url)
    return Engine(settings, storage, transport=transport, clock=clock)
