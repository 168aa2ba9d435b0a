"""The enrichment stage wired to storage: analyse, then file across articles.

One run takes the articles whose current version has not been analysed, in batches by id:

1. :class:`tidings.enrich.pipeline.Enricher` analyses the batch (no I/O);
2. near-duplicates are looked up among the articles of the last :data:`DUPLICATE_WINDOW`
   (MinHash/LSH over shingles, confirmed by embedding cosine) and linked to the earliest;
3. the analyses are stored; storage matches each found entity to a stored one, as
   :class:`tidings.enrich.linking.EntityRules` decide;
4. new articles are filed under stories (:class:`tidings.enrich.story_feed.StoryFiler`):
   the open stories they touch are clustered again with them, and the changed stories are
   written back.

The vector index follows storage (:class:`tidings.store.vector_follow.FollowedIndex`): a run
brings it up to date at its end, and any process that uses it catches up with what others
stored, so a run killed half-way leaves nothing missing from it.

Every step reaches storage through :class:`tidings.store.base.Storage` only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tidings.config import derived_path
from tidings.enrich.duplicates import DuplicateIndex
from tidings.enrich.linking import EntityRules
from tidings.enrich.pipeline import Analysis, Enricher
from tidings.enrich.stories import StoryItem, StoryParams
from tidings.enrich.story_feed import (
    MEMBERS_READ,
    StoryFiler,
    published,
    stored_item,
    story_item,
)
from tidings.errors import NotFoundError
from tidings.leases import holder_name, lease_until, new_token
from tidings.store.base import AnalysisClaim, Storage
from tidings.store.changes import ChangeFollower
from tidings.store.embedding import from_bytes
from tidings.store.vector_follow import FollowedIndex
from tidings.store.vectors import VectorIndex
from tidings.types import Article, Enrichment, EnrichmentStatus, EnrichReport

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from tidings.config import Settings

log = logging.getLogger(__name__)

#: Articles analysed per batch: large enough for the models' batching (embedding batches of
#: 32, spaCy's pipe) to pay off, small enough that a progress bar moves and a crash loses
#: little work.
BATCH = 64

#: Articles per batch of quick first passes. A worker cannot take up followed articles
#: stored while it analyses a batch, and the last of a backlog's followed articles wait for
#: the slowest worker's last batch: half a batch halves both waits, while the models'
#: batching still pays (embedding batches of 8, spaCy's pipe), and a batch's fixed cost
#: (claim, lock, stories, storage) stays small beside 32 quick passes (about 1 s of CPU).
QUICK_BATCH = 32

#: How far back near-duplicates are looked for. Syndicated copies appear within hours of
#: the original; a week also catches a feed that republishes late, and keeps the in-memory
#: LSH index to a week of articles.
DUPLICATE_WINDOW = timedelta(days=7)

#: Extra reach of the near-duplicate index when it is built (see ``_duplicate_index``).
DUPLICATE_SLACK = timedelta(days=1)
#: Changes read per query when the near-duplicate index catches up.
CHANGES_BATCH = 5_000

Progress = Callable[[int, int], None]
Clock = Callable[[], datetime]


def quick_pass(waiting_first: int, quick_backlog: int) -> bool:
    """Whether the next batch gets a quick first pass: when more articles wait for their
    first analysis than ``quick_backlog``. Pure."""
    return waiting_first > quick_backlog


@dataclass(slots=True)
class _Tally:
    analysed: int = 0
    quick: int = 0
    skipped: int = 0
    new_stories: int = 0
    changed_stories: int = 0
    duplicates: int = 0


def index_path(data_dir: Path, database_url: str) -> Path:
    """Where the vector index of one database lives: the data folder, one file per database
    (tests and operators may point several databases at one data folder)."""
    return derived_path(data_dir, database_url, "vectors", ".usearch")


class EnrichmentStage:
    """Runs enrichment for one storage; holds the in-memory duplicate and vector indexes.

    Work comes from storage's analysis queue (``store/sql/work.py``): a run leases a batch,
    analyses it (the models' work, in parallel with any other worker), then, holding the
    analysis lock, brings its near-duplicate index up to date with what other workers stored,
    links duplicates, stores the analyses and files stories, and takes the batch off the
    queue. While more than ``quick_backlog`` articles wait for their first analysis, batches
    get a quick one first (see :meth:`tidings.enrich.pipeline.Enricher.analyse`).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        vector_path: Path | None,
        clock: Clock,
        enricher: Enricher | None = None,
        params: StoryParams | None = None,
        lease_seconds: float = 300.0,
        quick_backlog: int = 2 * BATCH,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.params = params or StoryParams()
        self.lease_seconds = lease_seconds
        self.quick_backlog = quick_backlog
        self._enricher = enricher
        self._vector_path = vector_path
        self._vectors: FollowedIndex | None = None
        self._duplicates: DuplicateIndex | None = None
        self._duplicates_since: datetime | None = None
        self._duplicates_follower: ChangeFollower | None = None
        self._roots: dict[int, int] = {}
        self._stories = StoryFiler(self.params)
        self._lock = threading.Lock()
        self._token = new_token()

    @classmethod
    def for_settings(
        cls, storage: Storage, settings: Settings, clock: Clock, *, vectors: bool
    ) -> EnrichmentStage:
        """The stage as ``settings`` configure it; with ``vectors``, keeping the vector
        index in the data folder (serving processes do; a worker would hold it for nobody)."""
        return cls(
            storage,
            vector_path=index_path(settings.data_dir, settings.database_url) if vectors else None,
            clock=clock,
            lease_seconds=settings.workers.lease_seconds,
            quick_backlog=settings.workers.quick_backlog,
        )

    @property
    def owner(self) -> str:
        """The name this stage's leases are taken under."""
        return holder_name(self._token)

    @property
    def enricher(self) -> Enricher:
        if self._enricher is None:
            self._enricher = Enricher()
        return self._enricher

    def close(self) -> None:
        """Bring the vector index up to date and write it to disk."""
        with self._lock:
            if self._vectors is not None:
                self._vectors.close()

    # --- the run -----------------------------------------------------------------------

    def run(
        self,
        *,
        everything: bool = False,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> EnrichReport:
        """Analyse what waits on the queue (with ``everything``, every article again), at
        most ``limit`` analyses."""
        with self._lock:
            return self._run(everything=everything, limit=limit, progress=progress)

    def _run(
        self, *, everything: bool, limit: int | None, progress: Progress | None
    ) -> EnrichReport:
        started = time.perf_counter()
        storage = self.storage
        if everything:
            storage.queue_everything(now=self.clock())
        first, full = storage.analysis_backlog()
        total = first * (2 if quick_pass(first, self.quick_backlog) else 1) + full
        if limit is not None:
            total = min(total, limit)
        report = _Tally()
        done = 0
        if progress is not None:
            progress(0, total)
        while limit is None or done < limit:
            waiting, _ = storage.analysis_backlog()
            quick = quick_pass(waiting, self.quick_backlog)
            batch = QUICK_BATCH if quick else BATCH
            size = batch if limit is None else min(batch, limit - done)
            now = self.clock()
            claims = storage.claim_analysis(
                self.owner,
                now=now,
                until=lease_until(now, self.lease_seconds),
                limit=size,
                first_only=quick,
            )
            if not claims:
                break
            try:
                self._analyse(claims, quick, report)
            finally:
                # Whatever was not stored (a failure, a lease lost) goes back to the queue.
                storage.release_analysis(self.owner, [c.article.id for c in claims])
            done += len(claims)
            if progress is not None:
                progress(min(done, max(total, done)), max(total, done))
        if report.analysed and (followed := self._followed()) is not None:
            followed.catch_up()
        return EnrichReport(
            analysed=report.analysed,
            skipped=report.skipped,
            quick=report.quick,
            new_stories=report.new_stories,
            changed_stories=report.changed_stories,
            duplicates=report.duplicates,
            seconds=time.perf_counter() - started,
        )

    def _analyse(self, claims: Sequence[AnalysisClaim], quick: bool, report: _Tally) -> None:
        """Analyse one leased batch and store it (class docstring)."""
        storage = self.storage
        batch = [c.article for c in claims]
        known = {c.article.id: from_bytes(c.vector) for c in claims if c.vector is not None}
        analyses = self.enricher.analyse(batch, quick=quick, vectors=known)
        quick_bytes = {c.article.id: c.vector for c in claims if c.vector is not None}
        # The quick pass's bytes as stored, not read and written again (which would round
        # the scale differently): one embedding per version of an article.
        analyses = [
            _with_vector(a, quick_bytes[a.enrichment.article_id])
            if a.enrichment.article_id in quick_bytes and a.enrichment.vector is not None
            else a
            for a in analyses
        ]
        with storage.analysis_lock():
            self._catch_up_duplicates()
            analyses = self._link_duplicates(batch, analyses)
            names = storage.save_enrichments(
                [a.enrichment for a in analyses],
                enriched_at=self.clock(),
                matcher=EntityRules(),
                owner=self.owner,
                quick=quick,
            )
            started_n, changed_n = self._file_stories(batch, analyses, names)
            kept = [a for a in analyses if a.enrichment.article_id in names]
            done = [a.enrichment for a in kept if a.enrichment.status is EnrichmentStatus.DONE]
            # A skipped article is skipped for good: no full pass follows.
            final = [
                (e.article_id, e.content_hash)
                for a in kept
                if (e := a.enrichment).status is not EnrichmentStatus.DONE or not quick
            ]
            storage.finish_analysis(self.owner, final, quick=False)
            if quick:
                storage.finish_analysis(
                    self.owner, [(e.article_id, e.content_hash) for e in done], quick=True
                )
        report.new_stories += started_n
        report.changed_stories += changed_n
        report.duplicates += sum(1 for a in kept if a.enrichment.duplicate_of is not None)
        if quick:
            report.quick += len(done)
        else:
            report.analysed += len(done)
        report.skipped += sum(1 for a in kept if a.enrichment.status is EnrichmentStatus.SKIPPED)

    # --- near-duplicates -----------------------------------------------------------------

    def _duplicate_index(self, since: datetime) -> DuplicateIndex:
        if (
            self._duplicates is None
            or self._duplicates_since is None
            or since < self._duplicates_since
        ):
            # Newest first, a backlog's batches reach further back one after another: a
            # day of slack spares a rebuild for each of them.
            since -= DUPLICATE_SLACK
            position = self.storage.change_position()
            index = DuplicateIndex()
            for article_id, signature, vector, root in self.storage.recent_signatures(since):
                index.add(article_id, signature, from_bytes(vector) if vector else None)
                self._roots[article_id] = root or article_id
            self._duplicates, self._duplicates_since = index, since
            self._duplicates_follower = ChangeFollower(position, time.monotonic())
            self._catch_up_duplicates()
        return self._duplicates

    def _catch_up_duplicates(self) -> None:
        """Add what other workers stored since the index was read (under the analysis lock,
        so nothing is stored meanwhile)."""
        index, follower = self._duplicates, self._duplicates_follower
        if index is None or follower is None or self._duplicates_since is None:
            return
        while True:
            changes = self.storage.analysis_changes(
                after=follower.high, also=sorted(follower.gaps), signatures=True
            )
            if not changes.seqs:
                return
            for change in changes.changed:
                if change.signature is None:
                    index.remove(change.article_id)
                elif change.dated >= self._duplicates_since:
                    vector = from_bytes(change.vector) if change.vector else None
                    index.add(change.article_id, change.signature, vector)
                    self._roots[change.article_id] = change.duplicate_of or change.article_id
            for article_id in changes.removed:
                index.remove(article_id)
            follower.read(changes.seqs, time.monotonic())
            if len(changes.seqs) < CHANGES_BATCH:
                return

    def _link_duplicates(
        self, batch: Sequence[Article], analyses: list[Analysis]
    ) -> list[Analysis]:
        dated = [published(a) for a in batch]
        index = self._duplicate_index(min(dated) - DUPLICATE_WINDOW)
        linked: list[Analysis] = []
        for article, analysis in zip(batch, analyses, strict=True):
            e = analysis.enrichment
            if e.signature is None:
                linked.append(analysis)
                continue
            index.remove(article.id)  # a re-analysed article must not match itself
            matches = index.find(None, e.signature, analysis.vector)
            index.add(article.id, e.signature, analysis.vector)
            roots = [self._roots.get(m.other_id, m.other_id) for m in matches]
            if roots:
                root = min(roots)
                self._roots[article.id] = root
                linked.append(_with(analysis, duplicate_of=root if root != article.id else None))
            else:
                self._roots[article.id] = article.id
                linked.append(analysis)
        return linked

    # --- stories -----------------------------------------------------------------------

    def _file_stories(
        self,
        batch: Sequence[Article],
        analyses: Sequence[Analysis],
        names: dict[int, dict[str, int]],
    ) -> tuple[int, int]:
        """File the batch's new articles under stories; returns (started, changed)."""
        filed = self.storage.stories_of([a.id for a in batch])
        items = [
            item
            for article, analysis in zip(batch, analyses, strict=True)
            if article.id not in filed
            and article.id in names
            and (item := story_item(article, analysis, names[article.id])) is not None
        ]
        if not items:
            return 0, 0
        earliest = min(i.published for i in items)
        latest = max(i.published for i in items)
        window = self.params.window
        states = self.storage.open_stories(earliest - window)
        states = [s for s in states if s.first_seen <= latest + window]
        mentioned = {int(n) for i in items for n in i.names}
        mentioned.update(int(n) for s in states for n, _ in s.names)
        frequencies, seen = self.storage.entity_frequencies(sorted(mentioned))
        changes = self._stories.file(
            items,
            states,
            {str(k): v for k, v in frequencies.items()},
            seen,
            load=self._story_members,
        )
        self._stories.remember(changes, self.storage.save_stories(changes))
        self._stories.forget_before(earliest - window)
        started = sum(1 for c in changes if c.id is None)
        return started, len(changes) - started

    def _story_members(self, story_ids: Sequence[int]) -> dict[int, list[StoryItem]]:
        """Stored stories' latest members as the clusterer sees them (for stories filed
        before this process started, which a batch touches)."""
        stored = self.storage.story_members(story_ids, limit=MEMBERS_READ)
        return {
            story_id: [
                stored_item(m.article, from_bytes(m.vector), m.entities)
                for m in stored.get(story_id, ())
            ]
            for story_id in story_ids
        }

    # --- vectors -----------------------------------------------------------------------

    def vectors(self) -> VectorIndex | None:
        """The vector index, opened (or rebuilt from storage) on first use and caught up
        with what any process stored since (see :mod:`tidings.store.vector_follow`)."""
        followed = self._followed()
        return followed.index() if followed is not None else None

    def _followed(self) -> FollowedIndex | None:
        if self._vector_path is None:
            return None
        if self._vectors is None:
            self._vectors = FollowedIndex(self._vector_path, self.storage)
        return self._vectors

    def similar(self, article_id: int, k: int = 10) -> list[tuple[Article, float]]:
        """Articles most like this one, by embedding (best first, itself excluded). Raises
        ArticleNotFoundError for an unknown article."""
        self.storage.get_article(article_id)
        index = self.vectors()
        insight_vector = self.storage.article_vector(article_id)
        if index is None or insight_vector is None:
            return []
        out: list[tuple[Article, float]] = []
        for other, score in index.search(from_bytes(insight_vector), k, exclude=(article_id,)):
            try:
                out.append((self.storage.get_article(other), score))
            except NotFoundError:
                continue  # removed since it was indexed
        return out

    def nearest(self, vectors: npt.NDArray[np.float32], k: int) -> list[list[int]]:
        """The ids of the ``k`` articles nearest each row of ``vectors`` (none without an
        index), in one search on one thread: a page's few probes, while other requests use
        the other cores."""
        index = self.vectors()
        if index is None or not len(index):
            return [[] for _ in range(len(vectors))]
        return [[i for i, _ in found] for found in index.search_many(vectors, k, threads=1)]


def _with_vector(analysis: Analysis, vector: bytes) -> Analysis:
    return Analysis(
        replace(analysis.enrichment, vector=vector), analysis.vector, analysis.lead_names
    )


def _with(analysis: Analysis, *, duplicate_of: int | None) -> Analysis:
    enrichment: Enrichment = replace(analysis.enrichment, duplicate_of=duplicate_of)
    return Analysis(enrichment, analysis.vector, analysis.lead_names)
