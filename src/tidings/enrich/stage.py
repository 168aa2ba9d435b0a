"""The enrichment stage wired to storage: analyse, then file across articles.

One run takes the articles whose current version has not been analysed, in batches by id:

1. :class:`tidings.enrich.pipeline.Enricher` analyses the batch (no I/O);
2. near-duplicates are looked up among the articles of the last :data:`DUPLICATE_WINDOW`
   (MinHash/LSH over shingles, confirmed by embedding cosine) and linked to the earliest;
3. the analyses are stored; storage matches each found entity to a stored one, as
   :class:`tidings.enrich.linking.EntityRules` decide;
4. new articles are filed under stories (:class:`tidings.enrich.story_feed.StoryFiler`):
   the open stories they touch are clustered again with them, and the changed stories are
   written back;
5. their vectors go into the vector index.

Every step reaches storage through :class:`tidings.store.base.Storage` only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from tidings.enrich.duplicates import DuplicateIndex
from tidings.enrich.embed import Vector
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
from tidings.errors import TidingsError
from tidings.store.base import Storage
from tidings.store.embedding import from_bytes
from tidings.store.vectors import VectorIndex
from tidings.types import Article, Enrichment, EnrichmentStatus, EnrichReport

log = logging.getLogger(__name__)

#: Articles analysed per batch: large enough for the models' batching (embedding batches of
#: 32, spaCy's pipe) to pay off, small enough that a progress bar moves and a crash loses
#: little work.
BATCH = 64

#: How far back near-duplicates are looked for. Syndicated copies appear within hours of
#: the original; a week also catches a feed that republishes late, and keeps the in-memory
#: LSH index to a week of articles.
DUPLICATE_WINDOW = timedelta(days=7)

Progress = Callable[[int, int], None]
Clock = Callable[[], datetime]


def index_path(data_dir: Path, database_url: str) -> Path:
    """Where the vector index of one database lives: the data folder, one file per database
    (tests and operators may point several databases at one data folder)."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return data_dir / "vectors" / f"{digest}.usearch"


class EnrichmentStage:
    """Runs enrichment for one storage; holds the in-memory duplicate and vector indexes."""

    def __init__(
        self,
        storage: Storage,
        *,
        vector_path: Path | None,
        clock: Clock,
        enricher: Enricher | None = None,
        params: StoryParams | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.params = params or StoryParams()
        self._enricher = enricher
        self._vector_path = vector_path
        self._vectors: VectorIndex | None = None
        self._duplicates: DuplicateIndex | None = None
        self._duplicates_since: datetime | None = None
        self._roots: dict[int, int] = {}
        self._stories = StoryFiler(self.params)
        self._lock = threading.Lock()

    @property
    def enricher(self) -> Enricher:
        if self._enricher is None:
            self._enricher = Enricher()
        return self._enricher

    def close(self) -> None:
        """Write the vector index to disk."""
        with self._lock:
            self._save_vectors()

    # --- the run -----------------------------------------------------------------------

    def run(
        self,
        *,
        everything: bool = False,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> EnrichReport:
        """Analyse what is pending (with ``everything``, every article again)."""
        with self._lock:
            return self._run(everything=everything, limit=limit, progress=progress)

    def _run(
        self, *, everything: bool, limit: int | None, progress: Progress | None
    ) -> EnrichReport:
        started = time.perf_counter()
        total = self.storage.count_to_enrich(everything=everything)
        if limit is not None:
            total = min(total, limit)
        analysed = skipped = new_stories = changed_stories = dups = 0
        after = 0
        done = 0
        if progress is not None:
            progress(0, total)
        if total:
            self.vectors()  # opened (or rebuilt) before this run adds to storage
        while done < total:
            size = min(BATCH, total - done)
            batch = self.storage.articles_to_enrich(
                limit=size, after_id=after, everything=everything
            )
            if not batch:
                break
            after = batch[-1].id
            analyses = self.enricher.analyse(batch)
            analyses = self._link_duplicates(batch, analyses)
            dups += sum(1 for a in analyses if a.enrichment.duplicate_of is not None)
            names = self.storage.save_enrichments(
                [a.enrichment for a in analyses], enriched_at=self.clock(), matcher=EntityRules()
            )
            started_n, changed_n = self._file_stories(batch, analyses, names)
            new_stories += started_n
            changed_stories += changed_n
            self._index_vectors(analyses)
            analysed += sum(1 for a in analyses if a.enrichment.status is EnrichmentStatus.DONE)
            skipped += sum(1 for a in analyses if a.enrichment.status is EnrichmentStatus.SKIPPED)
            done += len(batch)
            if progress is not None:
                progress(done, total)
        self._save_vectors()
        return EnrichReport(
            analysed=analysed,
            skipped=skipped,
            new_stories=new_stories,
            changed_stories=changed_stories,
            duplicates=dups,
            seconds=time.perf_counter() - started,
        )

    # --- near-duplicates -----------------------------------------------------------------

    def _duplicate_index(self, since: datetime) -> DuplicateIndex:
        if (
            self._duplicates is None
            or self._duplicates_since is None
            or since < self._duplicates_since
        ):
            index = DuplicateIndex()
            for article_id, signature, vector, root in self.storage.recent_signatures(since):
                index.add(article_id, signature, from_bytes(vector) if vector else None)
                self._roots[article_id] = root or article_id
            self._duplicates, self._duplicates_since = index, since
        return self._duplicates

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
        """The vector index, opened on first use; a missing or damaged file is rebuilt
        from the vectors in storage (storage is the truth, the index a cache of it)."""
        if self._vector_path is None:
            return None
        if self._vectors is None:
            index = VectorIndex(self._vector_path, rows=self._stored_vectors)
            if index.rebuilt == "corrupt" or (index.rebuilt and len(index)):
                log.warning(
                    "vector index %s was %s; rebuilt from storage (%d vectors)",
                    self._vector_path,
                    index.rebuilt,
                    len(index),
                )
            self._vectors = index
        return self._vectors

    def _stored_vectors(self) -> Iterator[tuple[int, Vector]]:
        after = 0
        while rows := self.storage.article_vectors(after_id=after):
            for article_id, data in rows:
                yield article_id, from_bytes(data)
            after = rows[-1][0]

    def _index_vectors(self, analyses: Sequence[Analysis]) -> None:
        index = self.vectors()
        if index is None:
            return
        rows = [(a.enrichment.article_id, a.vector) for a in analyses if a.vector is not None]
        if rows:
            index.add([r[0] for r in rows], np.stack([r[1] for r in rows]))

    def _save_vectors(self) -> None:
        if self._vectors is not None:
            try:
                self._vectors.save()
            except TidingsError as e:
                log.warning("cannot save the vector index: %s", e)

    def similar(self, article_id: int, k: int = 10) -> list[tuple[int, float]]:
        """Articles most like this one, by embedding (best first, itself excluded)."""
        index = self.vectors()
        insight_vector = self.storage.article_vector(article_id)
        if index is None or insight_vector is None:
            return []
        return index.search(from_bytes(insight_vector), k, exclude=(article_id,))


def _with(analysis: Analysis, *, duplicate_of: int | None) -> Analysis:
    from dataclasses import replace

    enrichment: Enrichment = replace(analysis.enrichment, duplicate_of=duplicate_of)
    return Analysis(enrichment, analysis.vector, analysis.lead_names)
