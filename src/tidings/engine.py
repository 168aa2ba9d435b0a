"""The Engine: the one entry point. It checks input and hands the work to the stages.

Command line, HTTP API and web pages talk to an :class:`Engine`, never to storage directly.
The stages do the work and never import each other; the engine wires them:

- ingestion (``ingest/stage.py``) reads the due sources, with extraction
  (``extract/stage.py``) completing teasers with their pages; ``ingest/watch.py`` runs the
  passes, once or as sources fall due;
- understanding (``enrich/stage.py``) analyses what ingestion stored, after every pass;
- ranking (``rank/ranker.py``) makes each reader's page and learns the weights.

Accounts and readers are two sub-façades that check their own input, and callers reach
them directly rather than through pass-throughs here: ``engine.accounts``
(:class:`~tidings.accounts.Accounts`: passwords, sessions, tokens, digests and their
leases) and ``engine.readers`` (:class:`~tidings.readers.Readers`: readers, what they
follow, mute, do and save, suggestions). The engine keeps what wires stages together, such
as :meth:`Engine.clip` (a reader's article: ingestion, then analysis).

Digests (``deliver/digest.py``) and readers' files (``portability.py``) sit above the engine
and use it as the command line and the API do.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

from tidings.accounts import Accounts
from tidings.config import Settings, derived_path, load_settings
from tidings.errors import InvalidInputError, TidingsError
from tidings.extract.stage import Extraction
from tidings.ingest.stage import IngestionStage, Progress
from tidings.ingest.watch import run_pass, watch
from tidings.rank.learn import LEARN_READERS
from tidings.rank.ranker import MAX_PAGE_SIZE, Ranker
from tidings.readers import CLIPPINGS_SOURCE, Readers
from tidings.store.base import Storage
from tidings.store.sql import open_storage
from tidings.types import (
    Article,
    ArticleDraft,
    ArticleInsight,
    EnrichReport,
    Entity,
    EntityPage,
    FeedPage,
    IngestReport,
    OutlineEntry,
    PagePolicy,
    Source,
    SourceHealth,
    Story,
    StoryPage,
    TopicTag,
)

if TYPE_CHECKING:
    from tidings.enrich.stage import EnrichmentStage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Longest search a reader can make.
MAX_QUERY_CHARS = 200


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self._clock = clock
        #: The seconds that time the ranker's caches (an evaluation's simulated days pass
        #: them, so that its pages do not depend on how fast the machine ran).
        self._timer = timer
        self._rng = rng or random.Random()
        #: Accounts, sessions, tokens and digests: a public sub-façade, called directly.
        self.accounts = Accounts(storage, clock, lease_seconds=settings.workers.lease_seconds)
        #: Readers, their follows, mutes, events and saves: a public sub-façade, likewise.
        self.readers = Readers(storage, clock, self._content_changed)
        self.ingestion = IngestionStage(
            settings, storage, Extraction(), transport=transport, clock=clock, rng=self._rng
        )
        self._enrichment: EnrichmentStage | None = None
        self._ranker: Ranker | None = None
        self._closed = False

    def close(self) -> None:
        """Stop background work, save the vector index and release the database (once:
        a server closes its engine at shutdown, and the command again when it ends)."""
        if self._closed:
            return
        self._closed = True
        if self._ranker is not None:
            self._ranker.close()
        if self._enrichment is not None:
            self._enrichment.close()
        self.storage.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        """The engine's clock (events without a time happened now by it)."""
        return self._clock()

    def _content_changed(self) -> None:
        """This engine changed articles or what is known of them: its pages follow at once
        (other processes' pages within ``Ranker``'s refresh and cache times)."""
        if self._ranker is not None and self._ranker.is_loaded():
            self._ranker.refresh()
            self._ranker.invalidate()

    # --- sources -----------------------------------------------------------------------

    def add_source(
        self,
        url: str,
        *,
        tags: Sequence[str] = (),
        title: str | None = None,
        pages: PagePolicy = PagePolicy.AUTO,
        operator: bool = False,
    ) -> Source:
        """Subscribe to a feed URL, or a local feed file or folder (see
        :meth:`IngestionStage.add_source`). ``operator`` only from the operator's own
        command line: such a source may reach the networks of ``allowed_networks``.
        Raises InvalidURLError, SourceExistsError."""
        return self.ingestion.add_source(
            url, tags=tags, title=title, pages=pages, operator=operator
        )

    def trust_source(self, key: int | str) -> Source:
        """Let a source use the operator's network allowances (the operator vouches for
        it). Raises SourceNotFoundError."""
        return self.storage.update_source(replace(self.storage.get_source(key), operator=True))

    def get_source(self, key: int | str) -> Source:
        return self.storage.get_source(key)

    def list_sources(self) -> list[SourceHealth]:
        return self.storage.source_health()

    def remove_source(self, key: int | str) -> None:
        self.storage.remove_source(key)
        self._content_changed()

    def import_opml(
        self, content: bytes, *, operator: bool = False
    ) -> tuple[list[Source], list[OutlineEntry]]:
        """Subscribe to every feed of an OPML document. Returns (added, already present).
        Raises OPMLError."""
        return self.ingestion.import_opml(content, operator=operator)

    def export_opml(self) -> str:
        return self.ingestion.export_opml()

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
        return self.ingestion.extract(location, text=text)

    def add_article(
        self, location: str, *, text: bool = False, source_name: str | None = None
    ) -> Article:
        """Extract an article (see :meth:`extract`), store it under a hand-kept source
        (``source_name``, created on first use) and analyse it. Raises ExtractionError,
        FetchError."""
        article = self.ingestion.add_article(location, text=text, source_name=source_name)
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
            from tidings.enrich.stage import EnrichmentStage

            self._enrichment = EnrichmentStage.for_settings(
                self.storage, self.settings, self._clock, vectors=True
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
            self._content_changed()

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
        """Articles most like this one by meaning, best first. Raises ArticleNotFoundError."""
        return self.enrichment.similar(article_id, limit)

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

    # --- the reader's own articles (readers.py) -----------------------------------------

    def clip(
        self, reader: int | str, *, url: str | None = None, text: str | None = None
    ) -> Article:
        """Add an article a reader brings (see :meth:`Readers.clip`), stored under
        :data:`CLIPPINGS_SOURCE` and analysed. Raises InvalidInputError or InvalidURLError
        for bad input (nothing is stored then), FetchError when the page cannot be
        fetched."""
        return self.readers.clip(
            reader,
            url=url,
            text=text,
            add_page=lambda address: self.ingestion.add_article(
                address, source_name=CLIPPINGS_SOURCE, operator=False
            ),
            add_text=lambda page: self.ingestion.add_article_text(
                page, source_name=CLIPPINGS_SOURCE
            ),
            analyse=self.enrich_safely if self.settings.enrich else None,
        )

    def clippings(self, reader: int | str, *, limit: int = 50) -> list[tuple[Article, datetime]]:
        """The articles the reader added themselves, with when, most recent first."""
        return self.storage.clipped_articles(self.storage.get_reader(reader).id, limit=limit)

    # --- limits shared by every serving process (store/sql/work.py) -------------------

    def hit_rate_limit(self, key: str, *, limit: int, window: float) -> float:
        """Count an attempt for ``key`` against a limit every serving process shares; 0 when
        allowed, else the seconds to wait."""
        return self.storage.hit_rate_limit(key, limit=limit, window=window, now=self._clock())

    def clear_rate_limits(self, prefix: str) -> None:
        self.storage.clear_rate_limits(prefix)

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

    # --- the reader's feed (rank/) -----------------------------------------------------

    @property
    def ranker(self) -> Ranker:
        """Ranking's state in this process (built from storage on the first page)."""
        if self._ranker is None:
            self._ranker = Ranker(
                self.storage,
                clock=self._clock,
                similar=lambda vectors, k: self.enrichment.nearest(vectors, k),
                cache_seconds=self.settings.feed_cache_seconds,
                snapshot=derived_path(
                    self.settings.data_dir, self.settings.database_url, "ranking", ".npz"
                ),
                timer=self._timer,
            )
        return self._ranker

    def prepare_to_serve(self) -> None:
        """Read what pages need into memory now (the vector index and the window of recent
        articles), so that the first request does not wait for it."""
        self.enrichment.vectors()
        self.ranker.ensure_loaded()

    def feed(self, reader: int | str, *, cursor: str | None = None, size: int = 30) -> FeedPage:
        """A page of the reader's feed: one item per story, each with its reasons; pass the
        previous page's ``next_cursor`` for the next (see :meth:`Ranker.page`). Raises
        InvalidInputError, InvalidCursorError, ReaderNotFoundError."""
        who = reader if isinstance(reader, int) else self.storage.get_reader(reader)
        return self.ranker.page(who, cursor=cursor, size=size)

    def learn(self, *, readers: int = LEARN_READERS) -> tuple[int, int]:
        """Fit the global ranking weights on a sample of up to ``readers`` readers'
        impressions (see :mod:`tidings.rank.learn`), stored for every process; returns
        (readers, impressions) learned from, (0, 0) when nobody has a history yet."""
        everyone = self.storage.list_readers()
        return self.ranker.learn(self._rng.sample(everyone, min(readers, len(everyone))))

    def ranking_weights(self) -> dict[str, float]:
        """The global weights in use, by feature."""
        return self.ranker.weights_by_feature()

    # --- ingestion (ingest/stage.py, ingest/watch.py) -----------------------------------

    def due_sources(self) -> list[Source]:
        return self.ingestion.due_sources()

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
        analyse = self.settings.enrich if enrich is None else enrich
        return asyncio.run(
            run_pass(
                self.ingestion,
                sources=sources,
                progress=progress,
                analyse=self.enrich_safely if analyse else None,
            )
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
        """Keep polling: sleep until a source is due, run a pass over the due ones (see
        :meth:`ingest`), repeat. With ``skip_first_wait`` the first pass runs at once."""
        watch(
            self.ingestion,
            lambda: self.ingest(progress=progress),
            on_pass=on_pass,
            max_passes=max_passes,
            skip_first_wait=skip_first_wait,
            sleep=sleep,
        )

    def seconds_until_next_poll(self) -> float:
        """Seconds until the earliest source is due (bounded to [1 s, min_interval])."""
        return self.ingestion.seconds_until_next_poll()


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
