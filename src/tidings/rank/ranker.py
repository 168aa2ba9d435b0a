"""The ranker: a reader's page, from their state to assembled items with reasons.

:class:`Ranker` owns what ranking keeps in a process: the window of recent articles
(:mod:`tidings.rank.window`), kept current from storage's change sequence; an archive of the
older articles readers' histories name; the global weights and each reader's own fitted
weights; and the pages recently made (:mod:`tidings.rank.pages`: served until what they
depend on changes), which a background thread ranks again, for readers still reading, when
the window changed under them. ``Engine.feed`` calls :meth:`Ranker.page`; ``tidings eval
rank`` and ``tidings eval simulate`` call the same methods (:meth:`Ranker.state`,
:meth:`Ranker.score`, :meth:`Ranker.reader_weights`), so that the gates measure what readers
get.

One page, in order:

1. the reader's follows, mutes and events (two indexed reads) become their state
   (:func:`~tidings.rank.state.reader_state`), with what the window (or the archive) knows
   of the articles their events name;
2. candidates come from the window's postings and the vector index
   (:func:`~tidings.rank.candidates.candidate_rows`);
3. their features are array operations over the window's columns
   (:func:`~tidings.rank.score.featurize`) and the score one matrix product with the
   reader's weights (:mod:`tidings.rank.learn`);
4. :func:`~tidings.rank.assemble.assemble_pool` picks the page from the pool as arrays
   (no object per candidate): mutes, one item per story, diversity, the per-source cap,
   exploration, stable pagination;
5. each item's story names its other sources from the window's articles of the story,
   whether or not they were candidates (:meth:`Ranker._covered`);
6. only the page's items get reasons (:func:`~tidings.rank.score.reasons_for`), with the
   headlines and names read from storage for them alone.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from tidings.errors import InvalidInputError, TidingsError
from tidings.rank import learn
from tidings.rank.assemble import (
    ALSO_COVERED_MAX,
    Mutes,
    PageCursor,
    PageSettings,
    Pool,
    assemble_pool,
    title_muter,
)
from tidings.rank.candidates import Similar, candidate_rows
from tidings.rank.pages import Look, PageCache, PageKey, PageStats
from tidings.rank.score import FEATURES, featurize, reasons_for, weight_vector
from tidings.rank.state import (
    HISTORY,
    HISTORY_EVENTS,
    LEAD_CHARS,
    POPULARITY_WINDOW,
    ReaderState,
    Seen,
    engagement_rate,
    reader_state,
)
from tidings.rank.window import ArticleWindow, Columns, epoch
from tidings.store.base import EVENT_CODES, EventColumns, Storage
from tidings.store.changes import ChangeFollower
from tidings.types import (
    ArticleFacts,
    CoveredBy,
    EventKind,
    FeedItem,
    FeedPage,
    Interest,
    InterestKind,
    RankingChanges,
    Reader,
    ReaderEvent,
)

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Clock = Callable[[], datetime]
#: The window's numbers of an article a page names: story id (-1 for none), the story's
#: sources and articles of the last day, readers shown it and readers who engaged.
_Numbers = tuple[int, int, int, int, int]

#: Largest page a reader can ask for.
MAX_PAGE_SIZE = 100
#: How often a process looks for a newer stored global model, in seconds.
GLOBAL_MODEL_REFRESH = 300.0
#: Readers whose fitted weights are kept (refitted only after their next event or change of
#: follows): about 150 bytes each, so a few thousand active readers cost little.
FITTED_READERS = 4096
#: Pages kept (about 30 KB each with their facts).
CACHED_PAGES = 2048
#: Seconds between two looks at storage's change sequence while pages are asked for: new
#: analyses and other readers' engagement reach pages within this.
REFRESH_EVERY = 1.0
#: Articles kept in the archive of older articles that readers' histories name, after which
#: it starts afresh: about 2 KB each.
ARCHIVE_ROWS = 100_000
#: Articles whose :class:`~tidings.rank.state.Seen` is kept between pages (readers'
#: histories share many): about 2 KB each with its vector.
SEEN_KEPT = 20_000
#: The cyclic collector's first threshold in a process that ranks pages (:meth:`Ranker.load`).
GC_YOUNG_THRESHOLD = 20_000
#: Entity names kept for the reasons pages show, and for how many seconds.
NAMES_KEPT = 50_000
NAMES_FOR = 600.0
#: Articles whose display facts (headline, summary, address, source's name, picture) are
#: kept for pages, and for how many seconds: readers' pages share most of their articles
#: (top stories, their coverage), and reading them was a tenth of a page's CPU. An edited
#: headline reaches pages within this; the story's numbers come from the window.
DISPLAY_KEPT = 20_000
DISPLAY_FOR = 60.0
#: Rows read from storage per batch when the window is built, and changes per read.
LOAD_BATCH = 5_000
CHANGES_BATCH = 5_000
#: Seconds between two saves of the window's snapshot while serving: a restart then reads
#: at most this much of the change sequence (and the close of a process saves it too).
SNAPSHOT_EVERY = 600.0
#: The share of one core the background thread may use ranking pages again: after each page
#: it sleeps for the CPU time the page took times ``1 / share - 1``. Chosen for the bench's
#: host (2 cores, 2 serving processes, wrk and ingestion beside them): a quarter of a core per
#: process leaves requests most of the interpreter, and still ranks about 3 pages a second
#: (70-85 ms of CPU each on the bench), about 180 readers' pages a minute per process.
BACKGROUND_SHARE = 0.25
#: The longest the background thread sleeps after a page (a page costing more than this
#: over the share is rare: a reader with thousands of follows).
BACKGROUND_PAUSE_MAX = 1.0
#: What :attr:`Ranker.stats` calls a request that waited for the same page another request
#: was ranking.
WAITED = "waited for the same page being ranked"


@dataclass(frozen=True, slots=True)
class Scoring:
    """A pool of candidates scored for one reader."""

    columns: Columns
    features: Floats
    scores: Floats
    exploring: npt.NDArray[np.bool_]
    #: The reader's state with the pool's overall engagement rate.
    state: ReaderState
    #: The window the rows are of (a compaction swaps in a new one; a page keeps its own).
    window: ArticleWindow


class _Kept(Generic[K, V]):
    """Values read from storage, kept for ``seconds`` of the process clock, at most
    ``capacity`` of them (the longest kept go first). Safe to share between threads."""

    def __init__(self, capacity: int, seconds: float) -> None:
        self.capacity = capacity
        self.seconds = seconds
        self._kept: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(
        self, keys: Iterable[K], now: float, read: Callable[[list[K]], Mapping[K, V]]
    ) -> dict[K, V]:
        """The values of ``keys``: those kept, and the rest from ``read`` (then kept); keys
        ``read`` does not find are left out."""
        out: dict[K, V] = {}
        missing = []
        for key in dict.fromkeys(keys):
            kept = self._kept.get(key)
            if kept is not None and now - kept[1] < self.seconds:
                out[key] = kept[0]
            else:
                missing.append(key)
        if missing:
            fresh = read(missing)
            out.update(fresh)
            with self._lock:
                for key, value in fresh.items():
                    self._kept.pop(key, None)
                    self._kept[key] = (value, now)
                while len(self._kept) > self.capacity:
                    del self._kept[next(iter(self._kept))]
        return out


class Ranker:
    """Ranking's state in one process (module docstring). ``storage`` None: an evaluation
    that feeds the window itself (``tidings eval rank``); pages then cannot be made."""

    def __init__(
        self,
        storage: Storage | None,
        *,
        clock: Clock,
        window: ArticleWindow | None = None,
        similar: Similar | None = None,
        cache_seconds: float = 60.0,
        mask: Floats | None = None,
        centre: bool = learn.CENTRE_WITHIN_PAGES,
        snapshot: Path | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        #: The news's time (what is recent, what a reader did when), and the process's
        #: seconds, which time caches and refreshes (a stopped news clock, as benchmarks use,
        #: must not stop them).
        self.clock = clock
        self.timer = timer
        _one_blas_thread()
        self.window = window if window is not None else ArticleWindow()
        self.archive = self._new_archive()
        self.similar = similar
        self.cache_seconds = cache_seconds
        #: Features held at 0 (an evaluation's ablations), and whether fits centre pages.
        self.mask = mask
        self.centre = centre
        #: Where the window is saved between runs, and the position last saved there.
        self.snapshot = snapshot
        self._saved_position: int | None = None
        self._last_save = self.timer()
        self._lock = threading.RLock()
        self._loaded = storage is None
        self._follower: ChangeFollower | None = None
        self._last_refresh = -np.inf
        #: The latest news of a follow the window has read (:meth:`_catch_up_with_followed_news`).
        self._followed_news_read = 0
        self._fitted: OrderedDict[tuple[object, ...], Floats] = OrderedDict()
        self._seen: dict[int, Seen] = {}
        #: Entity names (a merge or a better name reaches pages within NAMES_FOR), and
        #: what pages show of articles.
        self._names: _Kept[int, str] = _Kept(NAMES_KEPT, NAMES_FOR)
        self._display: _Kept[int, ArticleFacts] = _Kept(DISPLAY_KEPT, DISPLAY_FOR)
        self._global: tuple[Floats, object, float] | None = None
        self._cache = PageCache(lag=cache_seconds, capacity=CACHED_PAGES)
        #: The version of the window's contents: moved by every change read from storage,
        #: so that a cached page knows whether the window changed since it was made.
        self._content = 0
        #: What requests, the background and the change follower did, and their CPU.
        self.stats = PageStats()
        self._background: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        #: Pages being ranked by a request now, by key and stamp (see :meth:`_rank_once`).
        self._flights: dict[tuple[PageKey, tuple[object, ...]], Future[FeedPage]] = {}
        self._flights_lock = threading.Lock()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._background is not None:
            self._background.join(timeout=5)
            self._background = None
        if self._loaded and self.storage is not None:
            try:
                self.save_snapshot()
            except OSError as e:  # the next start reads storage instead
                log.warning("the ranking window could not be saved: %s", e)

    # --- what is known of articles -----------------------------------------------------

    def seen(self, article_ids: Iterable[int]) -> dict[int, Seen]:
        """What a reader state needs of these articles (those analysed): kept from an
        earlier page (readers share articles), else from the window, else the archive, else
        storage (then kept in the archive)."""
        wanted = list(dict.fromkeys(article_ids))
        if not wanted:
            return {}
        known = self._seen
        out: dict[int, Seen] = {a: found for a in wanted if (found := known.get(a)) is not None}
        ids = [a for a in wanted if a not in out]
        if ids:
            fresh = self._seen_afresh(ids)
            out.update(fresh)
            with self._lock:
                known.update(fresh)
                while len(known) > SEEN_KEPT:
                    del known[next(iter(known))]
        return out

    def _seen_afresh(self, ids: list[int]) -> dict[int, Seen]:
        out: dict[int, Seen] = {}
        missing: list[int] = []
        for where in (self.window, self.archive):
            rows = where.rows_of(ids)
            inside = rows >= 0
            if inside.any():
                out.update(_seen(where.take(rows[inside], popularity_since=0.0)))
            ids = [i for i, r in zip(ids, rows.tolist(), strict=True) if r < 0]
            if not ids:
                break
        missing = ids
        if missing and self.storage is not None:
            found = self.storage.rank_facts(limit=0, article_ids=missing)
            if found:
                if len(self.archive) + len(found) > ARCHIVE_ROWS:
                    self.archive = self._new_archive()
                self.archive.upsert(found)
                rows = self.archive.rows_of([f.article_id for f in found])
                out.update(_seen(self.archive.take(rows[rows >= 0], popularity_since=0.0)))
        return out

    def _new_archive(self) -> ArticleWindow:
        return ArticleWindow(span=HISTORY + self.window.span, dimensions=self.window.dimensions)

    def state(
        self,
        interests: Sequence[Interest],
        events: Sequence[ReaderEvent] | EventColumns,
        now: datetime,
    ) -> ReaderState:
        """The reader's state at ``now`` (:func:`~tidings.rank.state.reader_state`)."""
        return reader_state(interests, events, self.seen(_article_ids(events)), now)

    def score(
        self,
        state: ReaderState,
        rows: Ints,
        now: datetime | float,
        weights: Floats,
        *,
        window: ArticleWindow | None = None,
    ) -> Scoring:
        """Features and scores of ``rows`` of the window (by default the current one) for
        the reader at ``now``."""
        window = window if window is not None else self.window
        moment = now if isinstance(now, float) else epoch(now)
        columns = window.take(rows, popularity_since=moment - POPULARITY_WINDOW.total_seconds())
        state = replace(state, engagement_rate=engagement_rate(columns.shown, columns.engaged))
        texts = window.joined_texts(rows) if _needs_text(state) else None
        features, exploring = featurize(state, columns, moment, texts=texts)
        if self.mask is not None:
            features = features * self.mask
        return Scoring(columns, features, features @ weights, exploring, state, window)

    def features_of(
        self, state: ReaderState, article_ids: Sequence[int], moment: float
    ) -> tuple[Floats, list[int]]:
        """Features of any articles (window or archive) for the reader at ``moment``, and
        the ids they are of (those the window or the archive hold: :meth:`seen` brings
        older ones into the archive): the featuriser of
        :func:`tidings.rank.learn.impression_rows`."""
        parts: list[Floats] = []
        kept: list[int] = []
        since = moment - POPULARITY_WINDOW.total_seconds()
        todo = list(dict.fromkeys(article_ids))
        for where in (self.window, self.archive):
            if not todo:
                break
            rows = where.rows_of(todo)
            inside = rows >= 0
            if inside.any():
                chosen = rows[inside]
                columns = where.take(chosen, popularity_since=since)
                texts = where.joined_texts(chosen) if _needs_text(state) else None
                features, _ = featurize(state, columns, moment, texts=texts)
                parts.append(features if self.mask is None else features * self.mask)
                kept.extend(columns.ids.tolist())
            todo = [a for a, r in zip(todo, rows.tolist(), strict=True) if r < 0]
        if not parts:
            return np.zeros((0, len(FEATURES))), []
        return np.vstack(parts), kept

    # --- weights -----------------------------------------------------------------------

    def global_weights(self) -> tuple[Floats, object]:
        """The global weights (learned by :meth:`learn`, else the judged defaults) and a
        version for caches; read from storage at most every :data:`GLOBAL_MODEL_REFRESH`."""
        now = self.timer()
        with self._lock:
            cached = self._global
        if cached is not None and now - cached[2] < GLOBAL_MODEL_REFRESH:
            return cached[0], cached[1]
        weights, version = weight_vector(), None
        stored = self.storage.load_model(learn.GLOBAL_MODEL) if self.storage else None
        if stored is not None:
            payload, fitted_at, _ = stored
            try:
                weights, version = learn.decode_model(payload, FEATURES, weight_vector()), fitted_at
            except ValueError as e:
                log.warning("the stored ranking model is unreadable, using defaults: %s", e)
        with self._lock:
            self._global = (weights, version, now)
        return weights, version

    def weights_by_feature(self) -> dict[str, float]:
        """The global weights in use, by feature name."""
        weights, _ = self.global_weights()
        return {name: float(w) for name, w in zip(FEATURES, weights, strict=True)}

    def set_global_weights(self, weights: Floats, version: object) -> None:
        """Use these global weights (an evaluation's refit, or a model just learned)."""
        with self._lock:
            self._global = (weights, version, self.timer())
            self._fitted.clear()
        self._cache.clear()

    def reader_weights(
        self,
        key: object,
        interests: Sequence[Interest],
        events: Sequence[ReaderEvent] | EventColumns,
    ) -> Floats:
        """The reader's own weights (:func:`~tidings.rank.learn.personal_weights` on their
        impressions featurised as they were), fitted once per state of their history and
        follows and kept for :data:`FITTED_READERS` readers; ``key`` names the reader."""
        prior, version = self.global_weights()
        if isinstance(events, EventColumns):
            impressions = int(np.count_nonzero(events.kind == EVENT_CODES[EventKind.IMPRESSION]))
            newest = events.event(0) if len(events) else None
        else:
            impressions = sum(1 for e in events if e.kind is EventKind.IMPRESSION)
            newest = events[0] if events else None
        if impressions < learn.LEARN_AFTER:
            return prior
        cache_key = (
            version,
            key,
            len(events),
            (newest.kind, newest.article_id, newest.at, newest.value) if newest else None,
            tuple(sorted((i.kind.value, i.value, i.stance.value) for i in interests)),
        )
        with self._lock:
            found = self._fitted.get(cache_key)
        if found is not None:
            return found
        rows = self.impression_rows(
            interests, events, reader_id=key if isinstance(key, int) else None
        )
        weights = learn.personal_weights(rows, prior, centre=self.centre)
        with self._lock:
            self._fitted[cache_key] = weights
            while len(self._fitted) > FITTED_READERS:
                self._fitted.popitem(last=False)
        return weights

    def impression_rows(
        self,
        interests: Sequence[Interest],
        events: Sequence[ReaderEvent] | EventColumns,
        *,
        reader_id: int | None = None,
    ) -> learn.Rows:
        """A reader's impressions as fit rows, featurised as they were when shown. Those
        recorded without their features (before features were stored) are featurised with
        the state the reader had then, and, given the reader's id, stored with them, so
        that each is featurised once: their history's states were most of a page's cost."""
        if isinstance(events, EventColumns):
            # Read from the columns when every impression kept its features (the usual
            # case); else as objects, the unrecorded ones featurised as below.
            stored = learn.stored_impression_rows(events, names=FEATURES)
            if stored is not None:
                return stored
            events = events.events()
        recorded = [e for e in events if e.kind is EventKind.IMPRESSION][: learn.LEARN_FROM]
        # What is known of the history is read only for impressions recorded without the
        # features they were shown with.
        needs = any(
            e.features != learn.UNFEATURISABLE and not learn.packed_for(e.features, FEATURES)
            for e in recorded
        )
        seen = self.seen(e.article_id for e in events) if needs else {}
        rows = learn.impression_rows(interests, events, seen, self.features_of, names=FEATURES)
        if rows.unrecorded and reader_id is not None and self.storage is not None:
            kept = [
                (
                    e.article_id,
                    e.at,
                    learn.UNFEATURISABLE if row is None else learn.pack_features(row, FEATURES),
                )
                for e, row in rows.unrecorded
            ]
            try:
                self.storage.keep_impression_features(reader_id, kept)
            except TidingsError as e:  # a busy or read-only database: featurised again later
                log.warning("reader %s's impressions' features were not kept: %s", reader_id, e)
        return rows

    def keep_features(self, readers: Sequence[Reader]) -> int:
        """Featurise and store these readers' impressions recorded without features (an
        installation from before features were stored), once, rather than on each reader's
        first page; how many impressions were kept."""
        if self.storage is None:
            raise InvalidInputError("keeping features needs storage")
        self.ensure_loaded()
        since = self.clock() - HISTORY
        kept = 0
        for who in readers:
            interests = self.storage.list_interests(who.id)
            events = self.storage.reader_events(who.id, since=since, limit=HISTORY_EVENTS)
            kept += len(self.impression_rows(interests, events, reader_id=who.id).unrecorded)
        return kept

    def learn(self, readers: Sequence[Reader]) -> tuple[int, int]:
        """Fit the global weights on these readers' impressions (see :mod:`learn`), store
        them for every process and use them here; (readers, impressions) learned from,
        (0, 0) when the impressions cannot tell engagement apart."""
        if self.storage is None:
            raise InvalidInputError("learning needs storage")
        self.ensure_loaded()
        since = self.clock() - HISTORY
        parts: list[learn.Rows] = []
        for who in readers:
            interests = self.storage.list_interests(who.id)
            events = self.storage.reader_events(who.id, since=since, limit=HISTORY_EVENTS)
            rows = self.impression_rows(interests, events, reader_id=who.id)
            if len(rows):
                parts.append(rows)
        rows = learn.Rows.concatenate(parts, len(FEATURES))
        weights = learn.global_weights(rows, weight_vector(), centre=self.centre)
        if weights is None:
            return 0, 0
        fitted_at = self.clock()
        self.storage.save_model(
            learn.GLOBAL_MODEL,
            learn.encode_model(FEATURES, weights),
            fitted_at=fitted_at,
            examples=len(rows),
        )
        self.set_global_weights(weights, fitted_at)
        return len(parts), len(rows)

    # --- pages -------------------------------------------------------------------------

    def page(self, reader: int | Reader, *, cursor: str | None = None, size: int = 30) -> FeedPage:
        """A page of the reader's feed (module docstring). A page made for the same reader,
        cursor and size is served again while nothing of the reader changed (read from
        storage with one indexed query, so a change from any process counts); when the
        window changed under it, the background thread ranks it again and the request is
        served the page it has (:mod:`tidings.rank.pages`). ``reader`` is their id, or the
        reader as the caller just read them (not read again for an uncached page). Raises
        InvalidInputError, InvalidCursorError, ReaderNotFoundError."""
        reader_id = reader if isinstance(reader, int) else reader.id
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"a page holds 1 to {MAX_PAGE_SIZE} items")
        storage = self._storage()
        if self.is_loaded():
            self._catch_up_with_followed_news(storage)
        else:
            self.ensure_loaded()
        began, cpu = time.perf_counter(), time.thread_time()
        if self._background is None:
            # Once running, the background thread follows storage's changes: a request that
            # the cache answers does nothing else.
            self.refresh_if_due()
        if self.cache_seconds <= 0:
            who = reader if isinstance(reader, Reader) else storage.get_reader(reader_id)
            page = self._rank(who, cursor, size)
            self._count("ranked: no cache", began, cpu)
            return page
        # A page to keep is ranked with the reader read after their stamp (in _rank_once):
        # settings at least as new as the stamp it is kept under.
        found = storage.reader_stamp(reader_id)
        if not found:
            storage.get_reader(reader_id)  # raises ReaderNotFoundError
        stamp = (*found,)
        key = (reader_id, cursor, size)
        # Read before ranking: a change applied meanwhile leaves the page due again.
        content = self._content
        now = self.timer()
        look, cached = self._cache.look(key, stamp, content, now)
        if cached is None:
            page, ranked = self._rank_once(key, stamp, content, now)
            self._start_background()
            if not ranked:
                self._count(WAITED, began, cpu)
                return page
        else:
            page = cached
            if look is Look.STALE:
                self._wake.set()
        self._count(look.value, began, cpu)
        return page

    def _rank_once(
        self, key: PageKey, stamp: tuple[object, ...], content: int, now: float
    ) -> tuple[FeedPage, bool]:
        """Rank the page and keep it, or, when another request is ranking the same page for
        the same stamp, wait for theirs (a reader's first page, asked for again before it is
        ready, is ranked once); the page, and whether this request ranked it."""
        with self._flights_lock:
            flight = self._flights.get((key, stamp))
            leading = flight is None
            if flight is None:
                flight = self._flights[(key, stamp)] = Future()
        if not leading:
            return flight.result(), False
        try:
            reader_id, cursor, size = key
            page = self._rank(self._storage().get_reader(reader_id), cursor, size)
            self._cache.put(key, page, stamp, content, now)
            flight.set_result(page)
            return page, True
        except BaseException as e:
            flight.set_exception(e)
            raise
        finally:
            with self._flights_lock:
                del self._flights[(key, stamp)]

    def invalidate(self) -> None:
        """Forget every cached page (global weights or the window changed wholesale)."""
        self._cache.clear()

    def _count(self, kind: str, began: float, cpu: float, count: int = 1) -> None:
        self.stats.add(kind, time.thread_time() - cpu, time.perf_counter() - began, count)

    def _rank(self, who: Reader, cursor: str | None, size: int) -> FeedPage:
        storage = self._storage()
        now = self.clock()
        previous = PageCursor.decode(cursor) if cursor else None
        interests = storage.list_interests(who.id)
        events = storage.reader_event_columns(who.id, since=now - HISTORY, limit=HISTORY_EVENTS)
        # One window for the whole page: a compaction elsewhere swaps in a new one, whose row
        # numbers are not this one's.
        window = self.window
        state = self.state(interests, events, now)
        rows = candidate_rows(
            window,
            state,
            now,
            history=events.article_id.tolist(),
            similar=self.similar,
        )
        weights = self.reader_weights(who.id, interests, events)
        scoring = self.score(state, rows, now, weights, window=window)
        state = scoring.state
        settings = PageSettings(size=size, diversity=who.diversity, exploration=who.exploration)
        assembled = assemble_pool(self._pool(scoring), settings, cursor=previous, now=now)
        covered, numbers = self._covered(assembled.items, scoring, now, settings, previous)
        items, facts = self._explained(covered, scoring, weights, now, numbers)
        hint = None
        if not items:
            if not len(self.window):
                hint = (
                    "nothing to show yet: add sources (tidings source add URL) and ingest them "
                    "(tidings ingest)"
                )
            else:
                hint = "nothing more to show: everything recent is on earlier pages or muted"
        return FeedPage(
            reader=who,
            items=tuple(items),
            articles=facts,
            next_cursor=assembled.next_cursor.encode() if assembled.next_cursor else None,
            hint=hint,
        )

    def _pool(self, scoring: Scoring) -> Pool:
        """The scored candidates as page assembly takes them."""
        columns, state = scoring.columns, scoring.state
        window = scoring.window
        # Topics drive diversity where an article has no vector (and, as a candidate's
        # topics were filled, wherever the reader mutes topics).
        wants_topics = bool(state.mutes.topic_ids) or columns.vectors is None
        codes, tp, has_vector = columns.topic_code, columns.topic_ptr, columns.has_vector

        def topics(i: int) -> tuple[int, ...]:
            if wants_topics or not has_vector[i]:
                return tuple(codes[tp[i] : tp[i + 1]].tolist())
            return ()

        return Pool(
            ids=columns.ids,
            story=columns.story,
            source=columns.source,
            published=columns.published,
            score=scoring.scores,
            read=np.isin(
                columns.ids, np.fromiter(state.read, dtype=np.int64, count=len(state.read))
            ),
            exploring=scoring.exploring,
            muted=_muted_rows(window, columns, state.mutes),
            vectors=columns.vectors,
            has_vector=has_vector,
            topics=topics,
        )

    def _covered(
        self,
        items: Sequence[FeedItem],
        scoring: Scoring,
        now: datetime,
        settings: PageSettings,
        cursor: PageCursor | None,
    ) -> tuple[list[FeedItem], dict[int, _Numbers]]:
        """The items with the other sources of their stories (``also_covered_by``: the
        window's articles of the story, one per source, the item's own source left out,
        muted ones never) and the count of the story's sources, and the window's numbers
        of every article named.

        Taken from the window's members of the story rather than the page's candidates
        alone, so that every item names its other sources the same way, whether or not
        they were candidates. Best first: the candidates as assembly ranks a story's
        articles (unread before read, then by score, then by id), then the others, newest
        first (scoring them too cost more than the rest of the page: the bench's big
        stories have a hundred articles in the window each). The count is the story's (as
        its reason and its page say it), and never below the sources named: what an item
        shows beyond its names is ``source_count - 1 - len(also_covered_by)``."""
        window, columns, state = scoring.window, scoring.columns, scoring.state
        since_popular = epoch(now) - POPULARITY_WINDOW.total_seconds()
        stories = np.asarray(
            sorted({i.story_id for i in items if i.story_id is not None}), dtype=np.int64
        )
        # The stories' candidates, and their newest articles.
        members = np.union1d(
            columns.rows[np.isin(columns.story, stories)],
            window.story_rows(stories.tolist(), epoch(now - window.span)),
        )
        mutes = state.mutes
        if mutes.topic_ids or mutes.entity_ids or mutes.authors:
            found = window.take(members, popularity_since=since_popular, vectors=False)
            keep = ~_muted_rows(window, found, mutes, titles=False)
            ids, story, source, published = found.ids, found.story, found.source, found.published
        else:
            ids, source, published = window.brief(members)
            story = window.story_ids(members)
            keep = np.ones(len(members), dtype=np.bool_)
            if mutes.source_ids:
                keep &= ~np.isin(source, list(mutes.source_ids))
            if mutes.story_ids:
                keep &= ~np.isin(story, list(mutes.story_ids))
        # As assembly leaves articles out of a page: muted, arrived after the session
        # began, exploration when it is off (known of the candidates).
        if cursor is not None:
            keep &= published <= cursor.snapshot.timestamp()
        order = np.argsort(columns.rows)
        at = np.minimum(np.searchsorted(columns.rows, members, sorter=order), len(order) - 1)
        pool = order[at] if len(order) else np.zeros(len(members), dtype=np.int64)
        in_pool = columns.rows[pool] == members if len(order) else np.zeros(len(members), bool)
        if settings.exploration == 0:
            keep &= ~(in_pool & scoring.exploring[pool])
        # The rank within a story: candidates by score, then the others by time.
        score = np.where(in_pool, -scoring.scores[pool], 0.0)[keep]
        newest = np.where(in_pool, 0.0, -published)[keep]
        extra = ~in_pool[keep]
        ids, story, source, rows = ids[keep], story[keep], source[keep], members[keep]
        read = np.isin(ids, np.fromiter(state.read, dtype=np.int64, count=len(state.read)))
        ranked = np.lexsort((ids, newest, score, extra, read, story))
        # A story's best article from each source (the first in rank order), and of those
        # the first few of each story (all when keyword mutes may pass some over).
        _, story_code = np.unique(story, return_inverse=True)
        _, source_code = np.unique(source, return_inverse=True)
        pair = story_code.astype(np.int64) * (int(source_code.max(initial=0)) + 1) + source_code
        first = ranked[np.sort(np.unique(pair[ranked], return_index=True)[1])]
        if not mutes.keywords and len(first):
            grouped = story[first]
            starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
            within = np.arange(len(first)) - np.repeat(starts, np.diff(np.r_[starts, len(first)]))
            first = first[within < ALSO_COVERED_MAX + 2]
        by_story: dict[int, list[tuple[int, int, int]]] = {}
        for s, a, src, row in zip(
            story[first].tolist(),
            ids[first].tolist(),
            source[first].tolist(),
            rows[first].tolist(),
            strict=True,
        ):
            by_story.setdefault(s, []).append((a, src, row))
        mutes_title = title_muter(state.mutes.keywords)
        index = dict(zip(columns.ids.tolist(), range(len(columns)), strict=True))
        out = []
        named: list[int] = []
        for item in items:
            if item.story_id is None:
                out.append(replace(item, also_covered_by=(), source_count=1))
                continue
            covered: list[CoveredBy] = []
            for other, src, row in by_story.get(item.story_id, ()):
                if len(covered) == ALSO_COVERED_MAX:
                    break
                if src == item.source_id or other == item.article_id:
                    continue
                if mutes_title is not None and mutes_title(_title(window, row)):
                    continue
                covered.append(CoveredBy(article_id=other, source_id=src))
                named.append(row)
            i = index.get(item.article_id)
            counted = int(columns.story_sources[i]) if i is not None else 1
            out.append(
                replace(
                    item,
                    also_covered_by=tuple(covered),
                    source_count=max(counted, 1 + len(covered)),
                )
            )
        numbers: dict[int, _Numbers] = {}
        if named:
            taken = window.take(
                np.asarray(named, dtype=np.int64), popularity_since=since_popular, vectors=False
            )
            for k, article_id in enumerate(taken.ids.tolist()):
                numbers[article_id] = (
                    int(taken.story[k]),
                    int(taken.story_sources[k]),
                    int(taken.story_recent[k]),
                    int(taken.shown[k]),
                    int(taken.engaged[k]),
                )
        return out, numbers

    def _explained(
        self,
        items: Sequence[FeedItem],
        scoring: Scoring,
        weights: Floats,
        now: datetime,
        numbers: Mapping[int, _Numbers],
    ) -> tuple[list[FeedItem], dict[int, ArticleFacts]]:
        """The items with their reasons, and what the page shows of its articles (the items
        and those covering their stories), from one storage read. Reasons are built for
        the items alone: they cost far more than scores, and assembly does not look at
        them. ``numbers`` holds the window's numbers of the covering articles."""
        if not items:
            return [], {}
        columns, state = scoring.columns, scoring.state
        index = dict(zip(columns.ids.tolist(), range(len(columns)), strict=True))
        wanted = [index[item.article_id] for item in items]
        # The liked article a "like the article you read" reason may name: the closest one
        # to each item.
        named: list[int] = []
        if columns.vectors is not None and state.liked is not None and len(state.liked):
            sims = state.liked @ columns.vectors[wanted].T
            liked_ids = np.asarray(state.liked_ids, dtype=np.int64)
            sims[liked_ids[:, None] == columns.ids[wanted][None, :]] = -1.0
            named = sorted({int(liked_ids[j]) for j in sims.argmax(axis=0).tolist()})
        shown = [item.article_id for item in items]
        covering = [c.article_id for item in items for c in item.also_covered_by]
        found = self._display.get(
            [*shown, *covering, *named],
            self.timer(),
            lambda ids: {f.article_id: f for f in self._storage().display_facts(ids)},
        )
        # The items' topics and entities (their reasons name them) are the window's.
        topics, entities = _tags(columns, wanted)
        names = self._names.get(
            {e for tagged in entities.values() for e, _, _ in tagged},
            self.timer(),
            self._storage().entity_names,
        )
        facts = {}
        for a, i in zip(shown, wanted, strict=True):
            if a in found:
                story = int(columns.story[i])
                facts[a] = replace(
                    found[a],
                    # The story's as the window holds it (storage's, within a second): the
                    # display facts may be older.
                    story_id=story if story >= 0 else None,
                    story_sources=int(columns.story_sources[i]),
                    story_recent=int(columns.story_recent[i]),
                    shown=int(columns.shown[i]),
                    engaged=int(columns.engaged[i]),
                    topics=topics[a],
                    entities=tuple((e, names[e], o) for e, _, o in entities[a] if e in names),
                )
        for a in covering:
            if a in found and a not in facts and (known := numbers.get(a)) is not None:
                story, sources, recent, shown_to, engaged = known
                facts[a] = replace(
                    found[a],
                    story_id=story if story >= 0 else None,
                    story_sources=sources,
                    story_recent=recent,
                    shown=shown_to,
                    engaged=engaged,
                    topics=(),
                    entities=(),
                )
        titles = {a: found[a].title or "an article" for a in named if a in found}
        explaining = replace(state, liked_titles=titles)
        out = []
        for item, row in zip(items, wanted, strict=True):
            own = facts.get(item.article_id)
            if own is None:  # removed since the window last heard
                continue
            vector = columns.vectors[row] if columns.vectors is not None else None
            if not columns.has_vector[row]:
                vector = None
            reasons = reasons_for(explaining, own, vector, now, weights)
            out.append(
                replace(
                    item,
                    reasons=tuple(sorted(reasons, key=lambda r: (-r.weight, r.kind, r.text))),
                    features=learn.pack_features(scoring.features[row], FEATURES),
                )
            )
        return out, facts

    # --- keeping current ---------------------------------------------------------------

    def ensure_loaded(self) -> None:
        """Build the window from storage on first use."""
        if not self._loaded:
            with self._lock:
                # Another thread may have built it while this one waited.
                if not self.is_loaded():
                    self.load()

    def is_loaded(self) -> bool:
        return self._loaded

    def load(self) -> int:
        """(Re)build the window: from its snapshot when there is a usable one, else from
        storage (the analysed articles of its span); then follow storage's change sequence
        from where the snapshot, or storage before the read, stood."""
        storage = self._storage()
        span, dimensions = self.window.span, self.window.dimensions
        found = (
            ArticleWindow.load(self.snapshot, span=span, dimensions=dimensions)
            if (self.snapshot is not None)
            else None
        )
        if found is not None:
            window, position = found
            self._saved_position = position
        else:
            position = storage.change_position()
            window = ArticleWindow(span=span, dimensions=dimensions)
            since = self.clock() - window.span
            after = 0
            while True:
                batch = storage.window_facts(since=since, after_id=after, limit=LOAD_BATCH)
                if not batch:
                    break
                window.upsert(batch)
                after = batch[-1].article_id
                if len(batch) < LOAD_BATCH:
                    break
            window.set_engagement(storage.engagement_since(since - POPULARITY_WINDOW))
            # Read in batches, the arrays grew by doubling: a compacted copy holds the rows
            # at their size (a third less memory on the bench's 100,000 articles).
            window = window.compacted(self.clock(), force=True) or window
        self.window = window
        self._seen.clear()
        self._follower = ChangeFollower(position, self.timer())
        self._loaded = True
        self._last_refresh = -np.inf
        # Catch up at once: a snapshot is as old as its last save.
        self.refresh()
        self.invalidate()
        if found is None:
            # The next start (or a worker starting beside this one) reads this instead.
            try:
                self.save_snapshot(force=True)
            except OSError as e:
                log.warning("the ranking window could not be saved: %s", e)
        # What ranking built to here (vocabularies, dictionaries, caches) lives about as
        # long as the process: out of the cyclic collector's sight, a full collection no
        # longer walks it. Those collections were the slowest pages (bench feed at 100k:
        # page CPU p99 124 ms with them, 57 ms without; p50 44 and 41 ms).
        gc.freeze()
        # A page makes thousands of short-lived objects. With the collector's default first
        # threshold (700) they are collected, and promoted, several times a page, and the
        # caches filled since (what the window knows of readers' histories, display facts)
        # are walked by a full collection every forty pages or so, 12-30 ms each at 1M.
        # A higher first threshold lets a page's objects die by reference counting before
        # a collection sees them (bench feed's 500 pages at 1M, in process: page CPU p99
        # 60-66 ms -> 44-45 ms, p50 unchanged or lower; no full collection in 500 pages).
        young, middle, old = gc.get_threshold()
        if young:  # 0: the application turned automatic collection off; leave it so
            gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), middle, old)
        return len(self.window)

    def save_snapshot(self, *, force: bool = False) -> bool:
        """Save the window for the next start, if it changed since the last save (or
        ``force``); whether it was saved. The position saved is one the window is complete
        up to (:meth:`tidings.store.changes.ChangeFollower.complete`)."""
        follower = self._follower
        if self.snapshot is None or follower is None:
            return False
        with self._lock:
            position = follower.complete()
            if position == self._saved_position and not force:
                return False
            self.window.save(self.snapshot, position=position)
            self._saved_position = position
        return True

    def _catch_up_with_followed_news(self, storage: Storage) -> None:
        """News of something followed, written by any process, moves its followers' stamps
        at once; the window looks at storage only every :data:`REFRESH_EVERY`. A page ranked
        in between would be cached under the new stamp without the news, so the window reads
        the news first (one indexed query per page; a refresh only after new analyses)."""
        mark = storage.latest_follow_mark()
        if mark > self._followed_news_read:
            self.refresh()
            self._followed_news_read = mark

    def refresh_if_due(self) -> int:
        if self.timer() - self._last_refresh >= REFRESH_EVERY:
            return self.refresh()
        return 0

    def refresh(self) -> int:
        """Apply what storage changed since the last look; how many changes."""
        began, cpu = time.perf_counter(), time.thread_time()
        total = self._refresh()
        where = "background" if threading.current_thread() is self._background else "request"
        self._count(f"{where}: looks at the change sequence", began, cpu)
        if total:
            self.stats.add(f"{where}: changes applied", 0.0, 0.0, total)
        return total

    def _refresh(self) -> int:
        storage = self.storage
        follower = self._follower
        if storage is None or follower is None:
            return 0
        with self._lock:
            self._last_refresh = self.timer()
            total = 0
            # Most looks find nothing: one read of the sequence's position says so.
            if not follower.gaps and storage.change_position() <= follower.high:
                return 0
            while True:
                changes = storage.ranking_changes(
                    after=follower.high, also=sorted(follower.gaps), limit=CHANGES_BATCH
                )
                if not changes.seqs:
                    break
                total += len(changes.seqs)
                self._apply(changes)
                follower.read(changes.seqs, self.timer())
                if len(changes.seqs) < CHANGES_BATCH:
                    break
            if total:
                self._content += 1
                if (compacted := self.window.compacted(self.clock())) is not None:
                    self.window = compacted
        return total

    def upsert(self, facts: Sequence[ArticleFacts]) -> None:
        """Put these articles' facts in the window (new, or changed since)."""
        for f in facts:
            self._seen.pop(f.article_id, None)
        self.window.upsert(facts)

    def _apply(self, changes: RankingChanges) -> None:
        window = self.window
        if changes.dropped:
            for article_id in changes.dropped:
                self._seen.pop(article_id, None)
            window.remove(changes.dropped)
        if changes.articles:
            self.upsert(changes.articles)
        for story in changes.stories:
            window.set_story(
                story.story_id,
                sources=story.sources,
                recent=story.recent,
                last_seen=story.last_seen,
                representative=story.representative_id,
            )
        if changes.engagement:
            window.set_engagement(changes.engagement)

    def _start_background(self) -> None:
        if self._background is not None or self.cache_seconds <= 0:
            return
        with self._lock:
            if self._background is None:
                self._background = threading.Thread(
                    target=self._refresh_pages, name="tidings-pages", daemon=True
                )
                self._background.start()

    def _refresh_pages(self) -> None:
        """Follow storage's changes, and rank again the cached pages readers are still
        asking for whose window changed (:meth:`PageCache.due`), a share of a core at most
        (:data:`BACKGROUND_SHARE`), so that requests find pages ready without waiting
        behind them."""
        while not self._stop.is_set():
            self._wake.wait(REFRESH_EVERY)
            self._wake.clear()
            try:
                self.refresh_if_due()
                if self.timer() - self._last_save >= SNAPSHOT_EVERY:
                    self._last_save = self.timer()
                    self.save_snapshot()
                for key, last_hit in self._cache.due(self._content, self.timer()):
                    if self._stop.is_set():
                        return
                    pause = self._rank_again(key, last_hit)
                    if pause and self._stop.wait(min(pause, BACKGROUND_PAUSE_MAX)):
                        return
            except Exception:  # a background failure must never take the process down
                log.exception("ranking pages again in the background failed")

    def _rank_again(self, key: PageKey, last_hit: float) -> float:
        """Rank one cached page again (if still due); the seconds to pause after it."""
        began, cpu = time.perf_counter(), time.thread_time()
        content, now = self._content, self.timer()
        if not self._cache.is_due(key, content, now):
            return 0.0  # a request ranked it meanwhile
        reader_id, cursor, size = key
        storage = self._storage()
        stamp = (*storage.reader_stamp(reader_id),)
        if not stamp:
            return 0.0
        page = self._rank(storage.get_reader(reader_id), cursor, size)
        self._cache.put(key, page, stamp, content, now, last_hit=last_hit)
        used = time.thread_time() - cpu
        self.stats.add("background: ranked again", used, time.perf_counter() - began)
        return used * (1 / BACKGROUND_SHARE - 1)

    def _storage(self) -> Storage:
        if self.storage is None:
            raise InvalidInputError("this ranker has no storage")
        return self.storage


def _article_ids(events: Sequence[ReaderEvent] | EventColumns) -> list[int]:
    """The articles of these events, in their order."""
    if isinstance(events, EventColumns):
        ids: list[int] = events.article_id.tolist()
        return ids
    return [e.article_id for e in events]


def _one_blas_thread() -> None:
    """Hold BLAS to one thread in this process. A page's products are small (a reader's
    liked vectors by a thousand candidates): one thread does one in about a millisecond,
    while BLAS's own threads, contending with the server's, made it ten times the CPU and
    twenty times the wall time on a busy two-core host (measured). A server ranks pages in
    parallel, not the products within one."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


_Topics = tuple[tuple[str, str, float], ...]
_Entities = tuple[tuple[int, str, int], ...]


def _tags(
    columns: Columns, wanted: Sequence[int]
) -> tuple[dict[int, _Topics], dict[int, _Entities]]:
    """The topics (id, label, confidence) and entities (id, no name, offset) of these
    positions of ``columns``, by article id: what reasons name, straight from the columns."""
    names, labels = columns.topics.names, columns.topics.labels
    tp, tc, tf = columns.topic_ptr.tolist(), columns.topic_code, columns.topic_conf
    ep, ei, eo = columns.entity_ptr.tolist(), columns.entity_id, columns.entity_offset
    topics = {}
    entities = {}
    for i in wanted:
        article_id = int(columns.ids[i])
        t0, t1, e0, e1 = tp[i], tp[i + 1], ep[i], ep[i + 1]
        topics[article_id] = tuple(
            (names[c], labels[c], f)
            for c, f in zip(tc[t0:t1].tolist(), tf[t0:t1].tolist(), strict=True)
        )
        entities[article_id] = tuple(
            (e, "", o) for e, o in zip(ei[e0:e1].tolist(), eo[e0:e1].tolist(), strict=True)
        )
    return topics, entities


def _muted_rows(
    window: ArticleWindow, columns: Columns, mutes: Mutes, *, titles: bool = True
) -> npt.NDArray[np.bool_]:
    """Which rows of ``columns`` the reader's mutes catch, as assembly's rules catch a
    candidate (:class:`~tidings.rank.assemble.Mutes`), in array operations; without
    ``titles``, all but keyword mutes (matched one by one where few titles are looked
    at)."""
    n = len(columns)
    muted = np.zeros(n, dtype=np.bool_)
    if mutes.source_ids:
        muted |= np.isin(columns.source, list(mutes.source_ids))
    if mutes.story_ids:
        muted |= np.isin(columns.story, list(mutes.story_ids))
    for ptr, codes, wanted in (
        (
            columns.topic_ptr,
            columns.topic_code,
            [c for t in mutes.topic_ids if (c := columns.topics.get(t)) is not None],
        ),
        (columns.entity_ptr, columns.entity_id, list(mutes.entity_ids)),
        (columns.author_ptr, columns.author_code, _author_codes(columns, mutes.authors)),
    ):
        if wanted:
            hit = np.isin(codes, wanted)
            muted[np.repeat(np.arange(n), np.diff(ptr))[hit]] = True
    if titles and (mutes_title := title_muter(mutes.keywords)) is not None:
        texts = window.texts(columns.rows)
        muted |= np.fromiter((mutes_title(_first_line(t)) for t in texts), np.bool_, count=n)
    return muted


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def _title(window: ArticleWindow, row: int) -> str:
    """The case-folded headline of a row (what keyword mutes are matched against)."""
    return _first_line(window.texts(np.asarray([row], dtype=np.int64))[0])


def _author_codes(columns: Columns, authors: Iterable[str]) -> list[int]:
    """The codes of the columns' authors whose names are among ``authors``, without regard
    to case."""
    folded = {a.casefold() for a in authors}
    if not folded:
        return []
    names = columns.authors.names
    return [c for c in set(columns.author_code.tolist()) if names[c].casefold() in folded]


def _needs_text(state: ReaderState) -> bool:
    return bool(state.follows.get(InterestKind.KEYWORD))


def _seen(columns: Columns) -> dict[int, Seen]:
    """What a reader state needs of each row of ``columns``: the lists each row's tuples
    are cut from made once for all rows (per row, they were most of a page's reading of
    its reader's history)."""
    n = len(columns)
    names = columns.topics.names
    topics = [names[c] for c in columns.topic_code.tolist()]
    tp = columns.topic_ptr.tolist()
    # The entities named in the lead, and where each row's begin among them.
    lead = columns.entity_offset < LEAD_CHARS
    owner = np.repeat(np.arange(n), np.diff(columns.entity_ptr))
    lp = np.concatenate([[0], np.cumsum(np.bincount(owner[lead], minlength=n))]).tolist()
    leads = columns.entity_id[lead].tolist()
    vectors = columns.vectors
    rows: Iterable[npt.NDArray[np.float32] | None] = (
        [v if has else None for v, has in zip(vectors, columns.has_vector.tolist(), strict=True)]
        if vectors is not None
        else [None] * n
    )
    return {
        article_id: Seen(
            article_id,
            source,
            tuple(topics[tp[i] : tp[i + 1]]),
            tuple(leads[lp[i] : lp[i + 1]]),
            vector,
            published,
        )
        for i, (article_id, source, published, vector) in enumerate(
            zip(
                columns.ids.tolist(),
                columns.source.tolist(),
                columns.published.tolist(),
                rows,
                strict=True,
            )
        )
    }
