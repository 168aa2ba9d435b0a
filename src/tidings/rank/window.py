"""The recent articles ranking reads, held in memory as columns.

A reader's page ranks the analysed articles of the last :data:`SPAN` (a week: news older
than that is rarely news). Reading their facts from storage row by row was two thirds of a
page's time at a million articles (`tidings bench feed`, issue 11), so a serving process
keeps them here instead, as numpy columns built once from storage and kept current as
articles are analysed and readers act (:class:`~tidings.rank.ranker.Ranker` follows
storage's change sequence). Candidates and features then come from array operations.

What is held, per article row:

- ids, publication times (epoch seconds), source and story ids;
- the story's distinct sources and its articles in the last 24 hours (per story, in
  :class:`_Stories`, so that a story's growth is one write, not one per member);
- the constants of the scoring that depend on the article alone: its freshness half-life,
  whether it is a teaser, whether its headline reads as clickbait;
- its embedding as int8 (the stored form, 384 bytes) and the inverse of its norm;
- its topics (codes into :attr:`ArticleWindow.topics`, with confidence), entities (ids and
  first offsets, by offset) and authors (codes, case-folded), as compressed sparse rows;
- its case-folded headline and the start of its summary, for keyword follows and mutes
  (:data:`TEXT_CHARS`);
- how many readers were shown it and engaged with it on each of the last few days.

Inverted postings (entity, topic, source, story → rows) answer "the newest articles naming
X" for candidates: a sealed CSR part rebuilt now and then, and a small dictionary of rows
added since (:class:`_Postings`).

Rows are only appended. An article analysed again gets a new row and its old one is marked
dead; articles that age out of the span are skipped by every query and dropped when the
window is compacted (:meth:`ArticleWindow.compact`), which rebuilds the arrays from the live
rows. Memory is reported by :meth:`ArticleWindow.memory_bytes` (`tidings bench feed`).

Threads: one lock serialises writers. Readers take no lock: a page reads the arrays as they
are (numpy arrays are swapped, never resized in place, so a reader holding an array sees a
consistent one) and at worst sees a count one update old.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from tidings.store.embedding import int8_rows
from tidings.types import ArticleFacts

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: How far back the window reaches: the feed's candidate age.
SPAN = timedelta(days=7)
#: Embedding length (``tidings.enrich.embed.DIMENSIONS``; not imported, so that ranking does
#: not import the enrichment stage).
DIMENSIONS = 384
#: Body length under which an article is a bare teaser.
TEASER_CHARS = 300
#: Characters of the summary kept beside the headline for keyword follows: a lead's first
#: sentence or two. Keeping whole summaries would cost ~250 MB at a million articles.
TEXT_CHARS = 200
#: Freshness half-lives by topic, in hours; the rest use :data:`DEFAULT_HALF_LIFE`.
HALF_LIVES = {
    "medtop:15000000": 12.0,  # sport
    "medtop:03000000": 12.0,  # disaster, accident and emergency incident
    "medtop:01000000": 72.0,  # arts, culture, entertainment and media
    "medtop:13000000": 72.0,  # science and technology
    "medtop:10000000": 72.0,  # lifestyle and leisure
}
DEFAULT_HALF_LIFE = 24.0
CLICKBAIT = re.compile(
    r"you won'?t believe|will blow your mind|what happened next|this one trick|"
    r"^\d+ (?:things|reasons|ways)|shocking|!!",
    re.IGNORECASE,
)
#: Days of popularity counts kept per article: the feed's two-day window reaches into a
#: third calendar day, and one more slot takes tomorrow's first counts.
POPULARITY_DAYS = 4
#: Newest rows of one story a page looks at for its "also covered by", beside the story's
#: candidates: several times the five sources an item names (the bench's biggest stories
#: hold a few hundred articles from dozens of sources in a week), and a bound on a page's
#: cost (500 each was 8 ms a page on the bench).
STORY_ROWS = 40
#: Postings added since the last seal after which the sealed part is rebuilt: about ten
#: thousand articles' worth (100,000 postings); a rebuild at a million articles takes about
#: a second, so this happens a few times a day at that volume.
SEAL_AFTER = 100_000
#: Share of dead or aged-out rows past which :meth:`ArticleWindow.compact` is worth it.
COMPACT_SHARE = 0.3
#: Initial capacity of the arrays; they double as they fill.
INITIAL_ROWS = 1024
#: The snapshot's layout (:meth:`ArticleWindow.save`); bump it when the columns change.
SNAPSHOT_FORMAT = 1


def epoch(moment: datetime) -> float:
    """Seconds since 1970 of an aware datetime."""
    return moment.timestamp()


def day_of(seconds: float) -> int:
    """Days since 1970-01-01 in UTC: the engagement counts' bucket."""
    return int(seconds // 86400)


def half_life_of(topics: Iterable[tuple[str, str, float]]) -> float:
    """Hours for an article's freshness to halve: set by its most confident topic with a
    half-life of its own (ties: the first), else :data:`DEFAULT_HALF_LIFE`."""
    life, life_conf = DEFAULT_HALF_LIFE, -math.inf
    for tid, _, conf in topics:
        if conf > life_conf and tid in HALF_LIVES:
            life, life_conf = HALF_LIVES[tid], conf
    return life


def is_clickbait(title: str | None) -> bool:
    return bool(title) and CLICKBAIT.search(title or "") is not None


class Vocab:
    """Strings numbered from 0 in order of arrival (topic ids, authors), with a label each."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.names: list[str] = []
        self.labels: list[str] = []

    def __len__(self) -> int:
        return len(self.names)

    def code(self, name: str, label: str | None = None) -> int:
        found = self.codes.get(name)
        if found is None:
            found = self.codes[name] = len(self.names)
            self.names.append(name)
            self.labels.append(label or name)
        elif label:
            self.labels[found] = label
        return found

    def get(self, name: str) -> int | None:
        return self.codes.get(name)


class _Array:
    """A numpy array that grows by doubling along its first axis."""

    def __init__(self, dtype: Any, width: int | None = None, fill: Any = 0) -> None:
        shape = (INITIAL_ROWS,) if width is None else (INITIAL_ROWS, width)
        self.data: npt.NDArray[Any] = np.full(shape, fill, dtype=dtype)
        self.size = 0
        self.fill = fill

    def extend(self, values: npt.ArrayLike) -> None:
        values = np.asarray(values, dtype=self.data.dtype)
        need = self.size + len(values)
        if need > len(self.data):
            capacity = max(need, 2 * len(self.data))
            grown = np.full((capacity, *self.data.shape[1:]), self.fill, dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            # Swapped, never resized in place: readers holding the old array stay consistent.
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    @property
    def view(self) -> npt.NDArray[Any]:
        return self.data[: self.size]


class _Postings:
    """Rows by key (an entity, topic code, source or story), in ascending row order.

    A sealed part in CSR form (``keys`` sorted, ``ptr``, ``rows``) and the rows added since,
    in a dictionary; :meth:`seal` merges the two. Entries are never removed: queries skip
    rows that died, aged out, or (stories) moved to another key.
    """

    def __init__(self) -> None:
        self.keys: Ints = np.zeros(0, dtype=np.int64)
        self.ptr: Ints = np.zeros(1, dtype=np.int64)
        self.rows: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.recent: dict[int, list[int]] = {}
        self.recent_size = 0

    def add(self, keys: Iterable[int], row: int) -> None:
        for key in keys:
            self.recent.setdefault(key, []).append(row)
            self.recent_size += 1

    def candidates(self, key: int, limit: int) -> list[npt.NDArray[np.int32]]:
        """Up to ``limit`` rows of the sealed part and the recent ones, newest last."""
        parts: list[npt.NDArray[np.int32]] = []
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            start, stop = int(self.ptr[i]), int(self.ptr[i + 1])
            parts.append(self.rows[max(start, stop - limit) : stop])
        found = self.recent.get(key)
        if found:
            parts.append(np.asarray(found[-limit:], dtype=np.int32))
        return parts

    def seal(self, keep: npt.NDArray[np.bool_] | None = None, renumber: Ints | None = None) -> None:
        """Merge the recent rows into the sealed part; with ``keep`` (a mask over rows) and
        ``renumber`` (old row -> new row), drop rows and renumber the rest (compaction)."""
        keys = [self.keys.repeat(np.diff(self.ptr))]
        rows = [self.rows.astype(np.int64)]
        for key, found in self.recent.items():
            keys.append(np.full(len(found), key, dtype=np.int64))
            rows.append(np.asarray(found, dtype=np.int64))
        all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        if keep is not None and renumber is not None:
            mask = keep[all_rows]
            all_keys, all_rows = all_keys[mask], renumber[all_rows[mask]]
        order = np.lexsort((all_rows, all_keys))
        all_keys, all_rows = all_keys[order], all_rows[order]
        unique, starts = np.unique(all_keys, return_index=True)
        self.keys = unique.astype(np.int64)
        self.ptr = np.append(starts, len(all_keys)).astype(np.int64)
        self.rows = all_rows.astype(np.int32)
        self.recent = {}
        self.recent_size = 0

    def nbytes(self) -> int:
        # A list entry holds a pointer and an int object (28 bytes for rows past 256).
        return self.keys.nbytes + self.ptr.nbytes + self.rows.nbytes + 36 * self.recent_size


class _Stories:
    """Per story: its distinct sources, its articles in the last day, its newest time and its
    representative article, as storage records them. Stories are numbered by slot."""

    def __init__(self) -> None:
        self.slot: dict[int, int] = {}
        self.ids = _Array(np.int64)
        self.sources = _Array(np.int32, fill=1)
        self.recent = _Array(np.int32, fill=1)
        self.last_seen = _Array(np.float64)
        self.representative = _Array(np.int64, fill=-1)

    def slot_of(self, story_id: int) -> int:
        found = self.slot.get(story_id)
        if found is None:
            found = self.slot[story_id] = self.ids.size
            self.ids.extend([story_id])
            self.sources.extend([1])
            self.recent.extend([1])
            self.last_seen.extend([0.0])
            self.representative.extend([-1])
        return found

    def nbytes(self) -> int:
        arrays = (self.ids, self.sources, self.recent, self.last_seen, self.representative)
        return sum(a.data.nbytes for a in arrays) + 100 * len(self.slot)


@dataclass(frozen=True, slots=True)
class Joined:
    """Texts in UTF-8 joined by blank lines (``b"\\n\\n".join(texts)``), and where each
    ends in the joined bytes (its separator counted): the form keyword matching reads."""

    text: bytes
    ends: Ints


@dataclass(frozen=True, slots=True)
class Columns:
    """Some of the window's rows, gathered for scoring (:func:`tidings.rank.score.featurize`).

    Every array is row-aligned with ``ids``; the topic, entity and author lists are in CSR
    form (row ``i``'s topics are ``topic_code[topic_ptr[i]:topic_ptr[i + 1]]``).
    """

    rows: Ints
    ids: Ints
    published: Floats
    source: Ints
    #: Story id, or -1 for none.
    story: Ints
    story_sources: Ints
    story_recent: Ints
    half_life: Floats
    teaser: Bools
    clickbait: Bools
    #: Unit embeddings (zeros where none), or None when none has one.
    vectors: npt.NDArray[np.float32] | None
    has_vector: Bools
    topic_ptr: Ints
    topic_code: Ints
    topic_conf: Floats
    entity_ptr: Ints
    entity_id: Ints
    entity_offset: Ints
    author_ptr: Ints
    author_code: Ints
    #: Readers shown it and readers who engaged, in the popularity window.
    shown: Ints
    engaged: Ints
    topics: Vocab
    authors: Vocab

    def __len__(self) -> int:
        return len(self.ids)


class ArticleWindow:
    """The analysed articles of the last :data:`SPAN`, as columns (module docstring)."""

    def __init__(self, *, span: timedelta = SPAN, dimensions: int = DIMENSIONS) -> None:
        self.span = span
        self.dimensions = dimensions
        self.topics = Vocab()
        self.authors = Vocab()
        self._lock = threading.RLock()
        self._ids = _Array(np.int64)
        self._alive = _Array(np.bool_)
        self._published = _Array(np.float64)
        self._source = _Array(np.int64)
        self._story = _Array(np.int32, fill=-1)  # a story slot, or -1
        self._half_life = _Array(np.float32)
        self._teaser = _Array(np.bool_)
        self._clickbait = _Array(np.bool_)
        self._vectors = _Array(np.int8, width=dimensions)
        self._inverse_norm = _Array(np.float32)
        self._topic_ptr = _Array(np.int64)
        self._topic_ptr.extend([0])
        self._topic_code = _Array(np.int32)
        self._topic_conf = _Array(np.float32)
        self._entity_ptr = _Array(np.int64)
        self._entity_ptr.extend([0])
        self._entity_id = _Array(np.int64)
        self._entity_offset = _Array(np.int32)
        self._author_ptr = _Array(np.int64)
        self._author_ptr.extend([0])
        self._author_code = _Array(np.int32)
        self._text_ptr = _Array(np.int64)
        self._text_ptr.extend([0])
        self._text = _Array(np.uint8)
        self._shown = _Array(np.int32, width=POPULARITY_DAYS)
        self._engaged = _Array(np.int32, width=POPULARITY_DAYS)
        #: The day each popularity slot holds, or -1.
        self._slot_day = np.full(POPULARITY_DAYS, -1, dtype=np.int64)
        #: Counts that arrived for articles not (yet) in the window, by id: applied when
        #: the article arrives (its readers can act before another process's analysis
        #: reaches this one).
        self._early_counts: dict[int, dict[int, tuple[int, int]]] = {}
        self._stories = _Stories()
        self.by_entity = _Postings()
        self.by_topic = _Postings()
        self.by_source = _Postings()
        self.by_story = _Postings()
        #: Article id -> row, for ids from ``_base`` on.
        self._base = 0
        self._row_of = np.full(0, -1, dtype=np.int32)
        self._dead = 0
        #: Bumped by every change, for caches of derived lists (:meth:`top_story_rows`).
        self.version = 0
        self._derived: dict[str, tuple[int, float, Ints]] = {}

    # --- size ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Live rows (aged-out ones included until the next compaction)."""
        return self._ids.size - self._dead

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, int) and self.row_of(article_id) >= 0

    def memory_bytes(self) -> int:
        """Bytes held by the window's arrays and dictionaries (capacity, not just rows)."""
        arrays: list[_Array] = [getattr(self, name) for name in self._COLUMNS]
        total = sum(a.data.nbytes for a in arrays) + self._row_of.nbytes
        total += self._stories.nbytes()
        total += sum(p.nbytes() for p in (self.by_entity, self.by_topic, self.by_source))
        total += self.by_story.nbytes()
        total += 120 * (len(self.topics) + len(self.authors))
        return total

    # --- ids and rows --------------------------------------------------------------------

    def row_of(self, article_id: int) -> int:
        i = article_id - self._base
        if 0 <= i < len(self._row_of):
            return int(self._row_of[i])
        return -1

    def rows_of(self, article_ids: Sequence[int] | Ints) -> Ints:
        """The rows of these articles (-1 where not in the window)."""
        ids = np.asarray(article_ids, dtype=np.int64)
        i = ids - self._base
        inside = (i >= 0) & (i < len(self._row_of))
        out = np.full(len(ids), -1, dtype=np.int64)
        out[inside] = self._row_of[i[inside]]
        return out

    # --- writes --------------------------------------------------------------------------

    def upsert(self, facts: Sequence[ArticleFacts]) -> int:
        """Add the articles, or replace what is held of them; returns how many.

        A batch is appended column by column (one numpy write per column, the per-article
        work a few list appends), so that reading a million articles at start-up is
        seconds of Python, not minutes."""
        if not facts:
            return 0
        with self._lock:
            # The last fact of an article in the batch wins.
            latest = {f.article_id: f for f in facts}
            batch = list(latest.values())
            for f in batch:
                old = self.row_of(f.article_id)
                if old >= 0:
                    self._kill(old)
            self._append(batch)
            self.version += 1
            self._maybe_seal()
            return len(batch)

    def _append(self, batch: Sequence[ArticleFacts]) -> None:
        start = self._ids.size
        n = len(batch)
        rows = range(start, start + n)
        ids = [f.article_id for f in batch]
        published = [epoch(f.published) for f in batch]
        vectors = int8_rows([f.vector for f in batch], self.dimensions)
        norms = np.linalg.norm(vectors.astype(np.float32), axis=1)
        self._ids.extend(ids)
        self._alive.extend(np.ones(n, dtype=np.bool_))
        self._published.extend(published)
        self._source.extend([f.source_id for f in batch])
        stories = self._stories
        slots = []
        for f, when in zip(batch, published, strict=True):
            if f.story_id is None:
                slots.append(-1)
                continue
            slot = stories.slot_of(f.story_id)
            stories.sources.data[slot] = max(f.story_sources, 1)
            stories.recent.data[slot] = max(f.story_recent, 1)
            stories.last_seen.data[slot] = max(float(stories.last_seen.data[slot]), when)
            slots.append(slot)
        self._story.extend(slots)
        self._half_life.extend([half_life_of(f.topics) for f in batch])
        self._teaser.extend([f.body_chars < TEASER_CHARS for f in batch])
        self._clickbait.extend([is_clickbait(f.title) for f in batch])
        self._vectors.extend(vectors)
        self._inverse_norm.extend(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
        code = self.topics.code
        topic_codes = [[code(t, label) for t, label, _ in f.topics] for f in batch]
        self._extend_csr(
            self._topic_ptr,
            (self._topic_code, [c for codes in topic_codes for c in codes]),
            (self._topic_conf, [conf for f in batch for _, _, conf in f.topics]),
            lengths=[len(codes) for codes in topic_codes],
        )
        mentions = [sorted((offset, e) for e, _, offset in f.entities) for f in batch]
        self._extend_csr(
            self._entity_ptr,
            (self._entity_id, [e for found in mentions for _, e in found]),
            (self._entity_offset, [min(o, 2**31 - 1) for found in mentions for o, _ in found]),
            lengths=[len(found) for found in mentions],
        )
        author = self.authors.code
        authors = [[author(a.casefold()) for a in f.authors] for f in batch]
        self._extend_csr(
            self._author_ptr,
            (self._author_code, [c for codes in authors for c in codes]),
            lengths=[len(codes) for codes in authors],
        )
        texts = [keyword_text(f.title, f.summary).encode("utf-8") for f in batch]
        self._extend_csr(
            self._text_ptr,
            (self._text, np.frombuffer(b"".join(texts), dtype=np.uint8)),
            lengths=[len(t) for t in texts],
        )
        self._shown.extend(np.zeros((n, POPULARITY_DAYS), dtype=np.int32))
        self._engaged.extend(np.zeros((n, POPULARITY_DAYS), dtype=np.int32))
        self._map_many(ids, start)
        for row, f, codes, found in zip(rows, batch, topic_codes, mentions, strict=True):
            early = self._early_counts.pop(f.article_id, None)
            if early:
                for day, (n_shown, n_engaged) in early.items():
                    self._set_counts(row, day, n_shown, n_engaged)
            self.by_entity.add(dict.fromkeys(e for _, e in found), row)
            self.by_topic.add(dict.fromkeys(codes), row)
            self.by_source.add((f.source_id,), row)
            if f.story_id is not None:
                self.by_story.add((f.story_id,), row)

    @staticmethod
    def _extend_csr(ptr: _Array, *columns: tuple[_Array, Any], lengths: Sequence[int]) -> None:
        """Append rows' entries to CSR columns and their end offsets to ``ptr``."""
        for column, values in columns:
            column.extend(values)
        end = int(ptr.data[ptr.size - 1])
        ptr.extend(end + np.cumsum(np.asarray(lengths, dtype=np.int64)))

    def _map_many(self, article_ids: Sequence[int], first_row: int) -> None:
        """Point these ids at consecutive rows from ``first_row``."""
        ids = np.asarray(article_ids, dtype=np.int64)
        if not len(ids):
            return
        low, high = int(ids.min()), int(ids.max())
        if not len(self._row_of):
            self._base = low
        if low < self._base:
            # An older id than any before (a late analysis of an old article): re-base.
            grown = np.full(len(self._row_of) + self._base - low, -1, dtype=np.int32)
            grown[self._base - low :] = self._row_of
            self._row_of, self._base = grown, low
        if high - self._base >= len(self._row_of):
            size = max(high - self._base + 1, 2 * len(self._row_of), 1024)
            grown = np.full(size, -1, dtype=np.int32)
            grown[: len(self._row_of)] = self._row_of
            self._row_of = grown
        self._row_of[ids - self._base] = np.arange(first_row, first_row + len(ids), dtype=np.int32)

    def _kill(self, row: int) -> None:
        if self._alive.data[row]:
            self._alive.data[row] = False
            self._dead += 1
        article_id = int(self._ids.data[row])
        if self.row_of(article_id) == row:
            self._row_of[article_id - self._base] = -1

    def remove(self, article_ids: Iterable[int]) -> int:
        """Drop these articles (deleted, or turned into duplicates); how many were held."""
        with self._lock:
            gone = 0
            for article_id in article_ids:
                row = self.row_of(article_id)
                if row >= 0:
                    self._kill(row)
                    gone += 1
            if gone:
                self.version += 1
            return gone

    def set_story(
        self,
        story_id: int,
        *,
        sources: int,
        recent: int,
        last_seen: datetime | None = None,
        representative: int | None = None,
    ) -> None:
        """What storage now records of a story (its counts change as it grows)."""
        with self._lock:
            slot = self._stories.slot.get(story_id)
            if slot is None:
                return  # none of its articles is here: nothing reads it
            self._stories.sources.data[slot] = max(sources, 1)
            self._stories.recent.data[slot] = max(recent, 1)
            if last_seen is not None:
                self._stories.last_seen.data[slot] = epoch(last_seen)
            if representative is not None:
                self._stories.representative.data[slot] = representative
            self.version += 1

    def set_engagement(self, counts: Iterable[tuple[int, int, int, int]]) -> None:
        """Readers shown and readers engaged per article and day, as storage counts them:
        ``(article id, day, shown, engaged)``, each the total for that day (not an
        increment), so that applying a row twice changes nothing."""
        with self._lock:
            for article_id, day, shown, engaged in counts:
                row = self.row_of(article_id)
                if row < 0:
                    if len(self._early_counts) < 100_000:
                        self._early_counts.setdefault(article_id, {})[day] = (shown, engaged)
                    continue
                self._set_counts(row, day, shown, engaged)

    def _set_counts(self, row: int, day: int, shown: int, engaged: int) -> None:
        slot = day % POPULARITY_DAYS
        current = int(self._slot_day[slot])
        if current > day:
            return  # a day long gone
        if current != day:
            # The slot's old day has left the window: clear it for every row at once.
            self._shown.data[:, slot] = 0
            self._engaged.data[:, slot] = 0
            self._slot_day[slot] = day
        self._shown.data[row, slot] = shown
        self._engaged.data[row, slot] = engaged

    def _maybe_seal(self) -> None:
        for postings in (self.by_entity, self.by_topic, self.by_source, self.by_story):
            if postings.recent_size > SEAL_AFTER:
                postings.seal()

    def compacted(self, now: datetime, *, force: bool = False) -> ArticleWindow | None:
        """A new window of this one's live rows, without the dead and aged-out ones, when
        enough of them are (:data:`COMPACT_SHARE`) or ``force``; else None. This window is
        left as it was, so that pages being made from it stay consistent; the caller swaps
        the new one in and writes only to it from then on."""
        with self._lock:
            n = self._ids.size
            keep = self._alive.view & (self._published.view >= epoch(now - self.span))
            kept = int(keep.sum())
            if not force and n - kept < COMPACT_SHARE * max(n, 1):
                return None
            # A shallow copy whose every mutable part is replaced below, never written to.
            fresh = copy.copy(self)
            fresh._compact_into(n, keep, kept)
            fresh._lock = threading.RLock()
            fresh._slot_day = self._slot_day.copy()
            fresh._early_counts = dict(self._early_counts)
            fresh._derived = {}
            fresh.version = self.version + 1
            return fresh

    def _compact_into(self, n: int, keep: npt.NDArray[np.bool_], kept: int) -> None:
        """Replace (never write into) every array with its ``keep`` rows, renumbered."""
        renumber = np.full(n, -1, dtype=np.int64)
        renumber[keep] = np.arange(kept)
        for name in self._ROWS:
            old: _Array = getattr(self, name)
            width = old.data.shape[1] if old.data.ndim == 2 else None
            new = _Array(old.data.dtype, width, fill=old.fill)
            new.extend(old.view[keep])
            setattr(self, name, new)
        for ptr_name, names in self._SEGMENTS:
            ptr = getattr(self, ptr_name).view
            lengths = np.diff(ptr)[keep]
            picked = _segments(ptr[:-1][keep], lengths)
            for name in names:
                old = getattr(self, name)
                new = _Array(old.data.dtype, fill=old.fill)
                new.extend(old.view[picked])
                setattr(self, name, new)
            new_ptr = _Array(np.int64)
            new_ptr.extend(np.concatenate([[0], np.cumsum(lengths)]))
            setattr(self, ptr_name, new_ptr)
        self._compact_stories()
        ids = self._ids.view
        self._row_of = np.full(0, -1, dtype=np.int32)
        self._base = 0
        if kept:
            self._base = int(ids.min())
            self._row_of = np.full(int(ids.max()) - self._base + 1, -1, dtype=np.int32)
            self._row_of[ids - self._base] = np.arange(kept, dtype=np.int32)
        for name in self._POSTINGS:
            postings = copy.copy(getattr(self, name))
            postings.seal(keep, renumber)
            setattr(self, name, postings)
        self._dead = 0

    def _compact_stories(self) -> None:
        """Keep only the stories the remaining rows belong to, renumbering their slots."""
        slots = self._story.view
        used = np.unique(slots[slots >= 0])
        old, new = self._stories, _Stories()
        for name in self._STORY_COLUMNS:
            getattr(new, name).extend(getattr(old, name).view[used])
        new.slot = {int(story_id): i for i, story_id in enumerate(new.ids.view.tolist())}
        remap = np.full(max(old.ids.size, 1), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        self._story.data[: self._story.size] = np.where(slots >= 0, remap[np.maximum(slots, 0)], -1)
        self._stories = new

    # --- a snapshot on disk ---------------------------------------------------------------

    #: The columns of one value per row, and the segmented ones (a pointer column and the
    #: columns it cuts into each row's values).
    _ROWS = (
        "_ids",
        "_alive",
        "_published",
        "_source",
        "_story",
        "_half_life",
        "_teaser",
        "_clickbait",
        "_vectors",
        "_inverse_norm",
        "_shown",
        "_engaged",
    )
    _SEGMENTS = (
        ("_topic_ptr", ("_topic_code", "_topic_conf")),
        ("_entity_ptr", ("_entity_id", "_entity_offset")),
        ("_author_ptr", ("_author_code",)),
        ("_text_ptr", ("_text",)),
    )
    _COLUMNS = _ROWS + tuple(name for ptr, cut in _SEGMENTS for name in (ptr, *cut))
    _POSTINGS = ("by_entity", "by_topic", "by_source", "by_story")
    _STORY_COLUMNS = ("ids", "sources", "recent", "last_seen", "representative")

    def save(self, path: Path, *, position: int) -> None:
        """Write the window to ``path`` (numpy's ``.npz``), with the change ``position`` it
        is complete up to: written beside and renamed over the old file, so that a reader
        or a crash finds the old snapshot or the new one, never half of one. A snapshot is
        a cache of storage: a missing or damaged one only means reading storage again."""
        with self._lock:
            for postings in (getattr(self, name) for name in self._POSTINGS):
                postings.seal()
            arrays: dict[str, npt.NDArray[Any]] = {
                f"column{name}": getattr(self, name).view for name in self._COLUMNS
            }
            for name in self._STORY_COLUMNS:
                arrays[f"story_{name}"] = getattr(self._stories, name).view
            for name in self._POSTINGS:
                postings = getattr(self, name)
                arrays[f"{name}_keys"] = postings.keys
                arrays[f"{name}_ptr"] = postings.ptr
                arrays[f"{name}_rows"] = postings.rows
            arrays["row_of"] = self._row_of
            arrays["slot_day"] = self._slot_day
            meta = {
                "format": SNAPSHOT_FORMAT,
                "position": position,
                "span_seconds": self.span.total_seconds(),
                "dimensions": self.dimensions,
                "base": self._base,
                "dead": self._dead,
                "topics": [self.topics.names, self.topics.labels],
                "authors": self.authors.names,
            }
            arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    # numpy's stubs read keyword arrays as its allow_pickle flag.
                    cast(Any, np.savez)(f, **arrays)
                    f.flush()
                    os.fsync(f.fileno())
                Path(tmp).replace(path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    @classmethod
    def load(
        cls, path: Path, *, span: timedelta = SPAN, dimensions: int = DIMENSIONS
    ) -> tuple[ArticleWindow, int] | None:
        """A window saved by :meth:`save` and the change position it is complete up to;
        None when there is no snapshot, or it is damaged, or was saved for another span,
        length of vectors or format (then storage is read instead)."""
        try:
            with np.load(path, allow_pickle=False) as found:
                data = {name: found[name] for name in found.files}
            meta = json.loads(bytes(data.pop("meta")).decode())
        except (OSError, ValueError, KeyError, EOFError, json.JSONDecodeError, zipfile.BadZipFile):
            return None
        if (
            meta.get("format") != SNAPSHOT_FORMAT
            or meta.get("span_seconds") != span.total_seconds()
            or meta.get("dimensions") != dimensions
        ):
            return None
        try:
            window = cls(span=span, dimensions=dimensions)
            for name in cls._COLUMNS:
                column = getattr(window, name)
                column.data = data[f"column{name}"]
                column.size = len(column.data)
            stories = window._stories
            for name in cls._STORY_COLUMNS:
                column = getattr(stories, name)
                column.data = data[f"story_{name}"]
                column.size = len(column.data)
            stories.slot = {int(s): i for i, s in enumerate(stories.ids.view.tolist())}
            for name in cls._POSTINGS:
                postings = getattr(window, name)
                postings.keys = data[f"{name}_keys"]
                postings.ptr = data[f"{name}_ptr"]
                postings.rows = data[f"{name}_rows"]
            window._row_of = data["row_of"]
            window._slot_day = data["slot_day"]
            window._base = int(meta["base"])
            window._dead = int(meta["dead"])
            names, labels = meta["topics"]
            for name, label in zip(names, labels, strict=True):
                window.topics.code(name, label)
            for name in meta["authors"]:
                window.authors.code(name)
        except (KeyError, ValueError, TypeError):
            return None
        return window, int(meta["position"])

    # --- reads ---------------------------------------------------------------------------

    def live(self, rows: Ints, since: float) -> Ints:
        """The rows among ``rows`` that are alive and published at or after ``since``."""
        rows = rows[rows >= 0]
        return rows[self._alive.data[rows] & (self._published.data[rows] >= since)]

    def newest(self, keys: Iterable[int], postings: _Postings, per_key: int, since: float) -> Ints:
        """Up to ``per_key`` of the newest live rows of each key (each key's last
        ``4 * per_key`` postings looked at), in no particular order. One gather for all the
        keys: key by key, its numpy calls were a millisecond of a page of fifty follows."""
        wanted = np.asarray(list(keys), dtype=np.int64)
        if not len(wanted):
            return np.zeros(0, dtype=np.int64)
        limit = 4 * per_key
        sealed = postings.keys
        at = np.minimum(np.searchsorted(sealed, wanted), max(len(sealed) - 1, 0))
        hit = np.flatnonzero(sealed[at] == wanted) if len(sealed) else np.zeros(0, np.int64)
        stops = postings.ptr[at[hit] + 1]
        starts = np.maximum(postings.ptr[at[hit]], stops - limit)
        lengths = stops - starts
        rows = [postings.rows[_segments(starts, lengths)].astype(np.int64)]
        owners = [np.repeat(hit, lengths)]
        for k, key in enumerate(wanted.tolist()):
            if found := postings.recent.get(key):
                rows.append(np.asarray(found[-limit:], dtype=np.int64))
                owners.append(np.full(len(found[-limit:]), k, dtype=np.int64))
        row = np.concatenate(rows)
        owner = np.concatenate(owners)
        live = (row >= 0) & self._alive.data[row] & (self._published.data[row] >= since)
        if postings is self.by_story:
            # Postings are never removed: a row may have moved to another story since.
            slots = self._story.data[row]
            live &= (slots >= 0) & (self._stories.ids.data[np.maximum(slots, 0)] == wanted[owner])
        row, owner = row[live], owner[live]
        # Each key's distinct rows, highest (newest) last; keep its last per_key.
        order = np.lexsort((row, owner))
        row, owner = row[order], owner[order]
        distinct = np.ones(len(row), dtype=np.bool_)
        distinct[1:] = (row[1:] != row[:-1]) | (owner[1:] != owner[:-1])
        row, owner = row[distinct], owner[distinct]
        counts = np.bincount(owner, minlength=len(wanted))
        from_end = np.cumsum(counts)[owner] - np.arange(len(row))
        newest: Ints = row[from_end <= per_key]
        return newest

    def story_rows(self, story_ids: Sequence[int], since: float) -> Ints:
        """Live rows of these stories, in ascending order: those among each story's last
        :data:`STORY_ROWS` postings (what a page names under "also covered by"). One
        gather for all the stories, where :meth:`newest` goes key by key."""
        postings = self.by_story
        keys = np.asarray(story_ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(postings.keys, keys), max(len(postings.keys) - 1, 0))
        hit = at[postings.keys[at] == keys] if len(postings.keys) else at[:0]
        stops = postings.ptr[hit + 1]
        starts = np.maximum(postings.ptr[hit], stops - STORY_ROWS)
        parts = [postings.rows[_segments(starts, stops - starts)].astype(np.int64)]
        for key in keys.tolist():
            if found := postings.recent.get(key):
                parts.append(np.asarray(found[-STORY_ROWS:], dtype=np.int64))
        rows = self.live(np.concatenate(parts), since)
        # Postings are never removed: a row may have moved to another story since.
        return np.unique(rows[np.isin(self.story_ids(rows), keys)])

    def newest_rows(self, n: int, since: float) -> Ints:
        """The ``n`` newest live rows by publication time (ties: the later row)."""
        return self._derive("newest", n, since, self._compute_newest)

    def top_story_rows(self, n: int, since: float) -> Ints:
        """A row per story for the ``n`` stories with the most sources seen since ``since``
        (ties: the most recently active): the story's representative when it is here, else
        its first article here."""
        return self._derive("top", n, since, self._compute_top)

    def _derive(self, name: str, n: int, since: float, compute: Any) -> Ints:
        # Shared by every reader's page; recomputed when the window changed or the cut-off
        # moved by more than a minute.
        cached = self._derived.get(name)
        if cached is not None and cached[0] == self.version and abs(cached[1] - since) < 60:
            return cached[2][:n]
        rows: Ints = compute(max(n, 1000), since)
        self._derived[name] = (self.version, since, rows)
        return rows[:n]

    def _compute_newest(self, n: int, since: float) -> Ints:
        size = self._ids.size
        # Rows arrive in roughly publication order: look at the latest few thousand first.
        for tail in (8 * n, size):
            start = max(size - tail, 0)
            rows = self.live(np.arange(start, size, dtype=np.int64), since)
            if len(rows) >= n or start == 0:
                break
        published = self._published.data[rows]
        order = np.lexsort((-rows, -published))
        return rows[order[:n]]

    def _compute_top(self, n: int, since: float) -> Ints:
        rows = self.live(np.arange(self._ids.size, dtype=np.int64), since)
        slots = self._story.data[rows]
        rows, slots = rows[slots >= 0], slots[slots >= 0]
        if not len(rows):
            return rows
        stories = self._stories
        unique_slots, first = np.unique(slots, return_index=True)
        representative = stories.representative.data[unique_slots]
        rep_rows = self.rows_of(representative)
        safe = np.maximum(rep_rows, 0)
        # The representative stands for its story only while it is itself a candidate.
        usable = (
            (representative >= 0)
            & (rep_rows >= 0)
            & self._alive.data[safe]
            & (self._published.data[safe] >= since)
        )
        chosen = np.where(usable, rep_rows, rows[first])
        sources = stories.sources.data[unique_slots]
        seen = stories.last_seen.data[unique_slots]
        order = np.lexsort((-seen, -sources))
        return chosen[order[:n]]

    def take(self, rows: Ints, *, popularity_since: float, vectors: bool = True) -> Columns:
        """The columns of these rows, for scoring (without ``vectors``, no vectors: cheaper
        where none is looked at)."""
        rows = np.asarray(rows, dtype=np.int64)
        slots = self._story.data[rows]
        stories = self._stories
        has_story = slots >= 0
        safe = np.maximum(slots, 0)
        inverse = self._inverse_norm.data[rows]
        has_vector = inverse > 0
        unit = None
        if vectors and has_vector.any():
            # One pass: int8 times float32 is computed in float32 (each int8 exact), as
            # converting first and multiplying after did in two.
            unit = np.multiply(self._vectors.data[rows], inverse[:, None], dtype=np.float32)
        topic_ptr, topic_rows = _gather_ptr(self._topic_ptr.data, rows)
        entity_ptr, entity_rows = _gather_ptr(self._entity_ptr.data, rows)
        author_ptr, author_rows = _gather_ptr(self._author_ptr.data, rows)
        days = self._slot_day >= day_of(popularity_since)
        return Columns(
            rows=rows,
            ids=self._ids.data[rows],
            published=self._published.data[rows],
            source=self._source.data[rows],
            story=np.where(has_story, stories.ids.data[safe], -1),
            story_sources=np.where(has_story, stories.sources.data[safe], 1).astype(np.int64),
            story_recent=np.where(has_story, stories.recent.data[safe], 1).astype(np.int64),
            half_life=self._half_life.data[rows].astype(np.float64),
            teaser=self._teaser.data[rows],
            clickbait=self._clickbait.data[rows],
            vectors=unit,
            has_vector=has_vector,
            topic_ptr=topic_ptr,
            topic_code=self._topic_code.data[topic_rows].astype(np.int64),
            topic_conf=self._topic_conf.data[topic_rows].astype(np.float64),
            entity_ptr=entity_ptr,
            entity_id=self._entity_id.data[entity_rows],
            entity_offset=self._entity_offset.data[entity_rows].astype(np.int64),
            author_ptr=author_ptr,
            author_code=self._author_code.data[author_rows].astype(np.int64),
            shown=self._shown.data[rows][:, days].sum(axis=1).astype(np.int64),
            engaged=self._engaged.data[rows][:, days].sum(axis=1).astype(np.int64),
            topics=self.topics,
            authors=self.authors,
        )

    def brief(self, rows: Ints) -> tuple[Ints, Ints, Floats]:
        """The ids, sources and publication times of these rows."""
        return self._ids.data[rows], self._source.data[rows], self._published.data[rows]

    def story_ids(self, rows: Ints) -> Ints:
        """The story id of each row (-1 for none)."""
        slots = self._story.data[rows]
        found: Ints = np.where(slots >= 0, self._stories.ids.data[np.maximum(slots, 0)], -1)
        return found

    def joined_texts(self, rows: Ints) -> Joined:
        """:meth:`texts` as UTF-8, joined by blank lines, without decoding each (decoding
        them one by one was a few milliseconds of a page that follows keywords)."""
        ptr = self._text_ptr.data
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = ptr[rows].tolist(), ptr[rows + 1].tolist()
        data = memoryview(self._text.data.data)
        joined = b"\n\n".join([data[a:b] for a, b in zip(starts, stops, strict=True)])
        lengths = ptr[rows + 1] - ptr[rows]
        return Joined(text=joined, ends=np.cumsum(lengths + 2).astype(np.int64))

    def texts(self, rows: Ints) -> list[str]:
        """The case-folded headline and summary start of each row (keyword matching)."""
        ptr, data = self._text_ptr.data, self._text.data
        return [
            data[int(ptr[r]) : int(ptr[r + 1])].tobytes().decode("utf-8", errors="replace")
            for r in rows.tolist()
        ]

    def facts(self, rows: Ints) -> list[ArticleFacts]:
        """What the window holds of these rows as facts, without what it does not keep
        (headline, summary, names, url): enough for features, not for display."""
        columns = self.take(rows, popularity_since=0.0)
        out = []
        for i in range(len(columns)):
            t0, t1 = columns.topic_ptr[i], columns.topic_ptr[i + 1]
            e0, e1 = columns.entity_ptr[i], columns.entity_ptr[i + 1]
            story = int(columns.story[i])
            out.append(
                ArticleFacts(
                    article_id=int(columns.ids[i]),
                    source_id=int(columns.source[i]),
                    source_name="",
                    published=datetime.fromtimestamp(float(columns.published[i]), UTC),
                    story_id=story if story >= 0 else None,
                    story_sources=int(columns.story_sources[i]),
                    story_recent=int(columns.story_recent[i]),
                    topics=tuple(
                        (self.topics.names[c], self.topics.labels[c], float(conf))
                        for c, conf in zip(
                            columns.topic_code[t0:t1], columns.topic_conf[t0:t1], strict=True
                        )
                    ),
                    entities=tuple(
                        (int(e), "", int(o))
                        for e, o in zip(
                            columns.entity_id[e0:e1], columns.entity_offset[e0:e1], strict=True
                        )
                    ),
                )
            )
        return out


def keyword_text(title: str | None, summary: str | None) -> str:
    """What keyword follows and mutes are matched against: the case-folded headline, a line
    break, and the start of the summary cut at a word boundary."""
    lead = " ".join((summary or "").split())
    if len(lead) > TEXT_CHARS:
        cut = lead.rfind(" ", 0, TEXT_CHARS)
        lead = lead[: cut if cut > 0 else TEXT_CHARS]
    return f"{' '.join((title or '').split())}\n{lead}".casefold()


def _segments(starts: Ints, lengths: Ints) -> Ints:
    """The indices ``starts[i] .. starts[i] + lengths[i] - 1`` of every segment, in order."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    indices: Ints = (np.arange(total, dtype=np.int64) + offsets).astype(np.int64)
    return indices


def _gather_ptr(ptr: Ints, rows: Ints) -> tuple[Ints, Ints]:
    """The CSR pointer of ``rows``' segments and the indices of their entries."""
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    new_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return new_ptr, _segments(starts, lengths)
