"""``tidings bench feed``: how long a reader's page takes at a million articles.

The data is synthetic, generated straight into a fresh SQLite database whose schema comes
from our migrations (``open_storage``). What it imitates, and how:

* **Time.** Everything lies in the ``DAYS`` days before a fixed instant, ``NOW``; the engine
  is given a clock stopped at ``NOW`` so that every run (and every cached database) sees
  the same week. Article ids follow publication time, as ingestion assigns them.
* **Sources.** ``SOURCES`` of them with Zipf volumes (the biggest publishes about a hundred
  times as much as the smallest), each with a few authors and sections.
* **Stories.** Sizes are Zipf (exponent ``STORY_ZIPF``): most stories are one article, a few
  run to hundreds. A story starts at a uniform time and its members follow at exponential
  delays (``STORY_SPREAD_S``). Its first article is its representative.
* **Vectors.** 384 dimensions, unit length, stored with ``tidings.enrich.embed`` 's int8
  format (built in bulk with the same arithmetic as ``to_bytes``). Each taxonomy topic has
  a random direction; a story's centroid is its topic's direction plus a random unit vector
  (cosine between stories of one topic about 0.4, of different topics about 0). An article
  is its story's centroid plus isotropic Gaussian noise of norm ``SPREAD`` (members of a
  story sit at cosine about 0.75 from each other) and then renormalised. The representative
  and ``DUPLICATES`` of the later members (wire copies, ``duplicate_of`` set) get noise of
  norm ``TIGHT`` instead, so a copy sits at cosine about 0.98 from its original.
* **Entities.** A vocabulary of ``ENTITIES`` with Zipf popularity. Each story has
  ``STORY_CORE`` core entities; an article names 5 to 15 entities: 2 to 4 of its story's core
  first, the 1 to 3 first of them in the lead (``first_offset`` < 300), then popularity
  draws later in the text.
* **Topics.** Every story has a second-level taxonomy topic (popularity Zipf); an article
  gets it, its parent half the time and an unrelated taxonomy topic a fifth of the time,
  plus a section of its source most of the time and the story's relation topic, if any.
* **Readers.** ``FOLLOWS`` follows each, split over kinds by ``FOLLOW_MIX``, each kind's
  values drawn by popularity (entities and topics by their Zipf weights, sources by volume,
  stories by size), stored as ``Readers._resolve_interest`` stores them (ids as text,
  authors and keywords case-folded); and ``MUTES`` mutes of unpopular things. ``EVENTS``
  events each over the week: impressions, then opens of some, reads (seconds, log-normal)
  of some opened, and "less" and "hide" of some not opened. Events are about recent
  articles in general, not about what the reader follows: this is a timing bench, and the
  engine's cost does not depend on whether a reader's history is consistent.

What it does not imitate: bodies are filler text of realistic length (their length is what
``rank_facts`` reads), story ``total`` is count x centroid, not the exact sum of members,
and story ``names`` are empty (neither is read when building a page).

Loading bypasses SQLAlchemy's per-row type processing: statements are compiled from the
tables in ``tidings.store.schema`` and run with ``executemany`` over tuples in chunks of
``CHUNK`` rows, datetimes pre-formatted the way ``UTCDateTime`` stores them on SQLite
(naive UTC text). Secondary indexes are dropped during the load and rebuilt from the
migrations' own definitions after it, and the load runs with ``journal_mode = OFF`` and
``synchronous = OFF``: only on this throwaway database; it is back in WAL mode afterwards,
as Tidings opens every database. No ``ANALYZE`` is run, as none is in a real deployment.

Generation runs in a child process, so that its memory is not counted in the peak RSS of
the measurement, and the database is cached in ``workdir`` under a name made of the
parameters: a rerun with the same parameters skips generation.

Measurement: ``engine.feed(reader, size=30)`` for ``pages`` readers drawn at random (fixed
seed) after ``WARMUP`` warm-up pages, one thread; then the same pages over two threads
sharing the engine; then ``PROFILED`` pages under cProfile to split the time.
"""

from __future__ import annotations

import cProfile
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import statistics
import struct
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from tidings.store import schema

#: Bump when the generator changes, so cached databases of the old shape are not reused.
GENERATOR_VERSION = 3
SEED = 20260115
#: The bench's fixed "now": the week of news ends here.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAYS = 7
DIMENSIONS = 384
#: A few hundred feeds: the deployment size the issue names.
SOURCES = 300
#: Zipf exponent of source volumes: 1.0 gives the biggest of 300 sources 1/H(300) = 16% of
#: all articles and the median one 0.1%: a few agencies, a long tail of small sites.
SOURCE_ZIPF = 1.0
#: Zipf exponent of story sizes: 2.0 makes 1/zeta(2) = 61% of stories single articles; the
#: mean story is 4.5 articles (219,836 stories for 1,000,000 articles).
STORY_ZIPF = 2.0
#: The largest story, also at most 1/250 of all articles, so that a tiny run (tests) is
#: not a handful of stories; at 100,000 articles and more it is 400.
MAX_STORY = 400
#: Mean delay of a story's later articles after its first: news follows within hours.
STORY_SPREAD_S = 8 * 3600.0
#: Distinct entities in a week of news at a million articles; smaller runs get one per
#: four articles, so that a small run's entities are not all one-offs.
ENTITIES = 50_000
#: Zipf exponent of entity popularity: the usual ~1 of word frequencies.
ENTITY_ZIPF = 1.0
STORY_CORE = 4
TOPIC_ZIPF = 0.8
#: Share of stories about two countries (a relation topic).
RELATION_SHARE = 0.05
#: Noise norms of article vectors around their story's centroid (see the module docstring).
SPREAD = 0.6
TIGHT = 0.15
#: Share of a story's later members that are copies of its first.
DUPLICATES = 0.04
#: Body lengths in characters (uniform): teaser-less news articles.
BODY_CHARS = (400, 4000)
AUTHORS_PER_SOURCE = 12
SECTIONS_PER_SOURCE = 3
FOLLOWS = 50
#: How a reader's follows split over kinds: entities and topics are what people pick first.
FOLLOW_MIX = {"entity": 20, "topic": 12, "source": 8, "author": 5, "keyword": 3, "story": 2}
MUTES = 2
EVENTS = 500
#: How a reader's events split: a click-through rate of ~25% and a few rejections.
EVENT_MIX = {"impression": 340, "open": 80, "read": 60, "less": 12, "hide": 8}
#: Rows per executemany: large enough to amortise the call, small enough to stream.
CHUNK = 10_000
PAGE_SIZE = 30
#: Pages before timing: the first page pays imports and cold caches; a few suffice.
WARMUP = 5
#: Pages under cProfile: enough for stable shares, few as a page can take seconds.
PROFILED = 30
#: ``--quick``: a tenth of the articles and readers, for iterating (generation ~15 s).
QUICK = {"articles": 100_000, "readers": 1_000}
#: The issue's goal for a page, in-process on SQLite (issue 11: must reach 50, goal 20).
GOAL_P99_MS = 50.0

SECTIONS = (
    "World",
    "Politics",
    "Business",
    "Technology",
    "Science",
    "Health",
    "Sport",
    "Culture",
    "Opinion",
    "Climate",
    "Local",
    "Markets",
)
COUNTRIES = (
    "China",
    "Russia",
    "United States",
    "India",
    "Germany",
    "France",
    "Japan",
    "Brazil",
    "Iran",
    "Israel",
    "Ukraine",
    "Turkey",
)
SYLLABLES = ("ka", "ro", "mi", "tel", "san", "vo", "der", "lin", "ma", "ost", "fer", "qu", "bel")
ENTITY_TYPES = ("PERSON", "ORG", "PLACE", "EVENT", "PRODUCT", "WORK")
#: Share of each entity type in news: people and organisations dominate.
ENTITY_TYPE_SHARE = (0.4, 0.3, 0.2, 0.04, 0.04, 0.02)
FILLER = (
    "Officials said on Tuesday that the talks would continue next week, while analysts "
    "warned that the outcome remained uncertain and markets reacted cautiously. "
)

Echo = Callable[[str], None]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


# --- generation ------------------------------------------------------------------------------


def _zipf_weights(n: int, exponent: float) -> Floats:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    result: Floats = w / w.sum()
    return result


def _draw(rng: np.random.Generator, weights: Floats, size: int | tuple[int, ...]) -> Ints:
    """Indices drawn by ``weights`` (inverse CDF: much faster than ``choice`` with p)."""
    cdf = np.cumsum(weights)
    picks: Ints = np.searchsorted(cdf, rng.random(size) * cdf[-1]).astype(np.int64)
    return np.minimum(picks, len(weights) - 1)


def _stamps(seconds: Floats) -> list[str]:
    """Seconds after the window's start as ``UTCDateTime``'s SQLite text."""
    start = np.datetime64((NOW - timedelta(days=DAYS)).replace(tzinfo=None), "us")
    at = start + (seconds * 1e6).astype("timedelta64[us]")
    text = np.char.replace(np.datetime_as_string(at, unit="us"), "T", " ")
    return [str(s) for s in text.tolist()]


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    result: npt.NDArray[np.float32] = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def vectors_to_bytes(rows: npt.NDArray[np.float32]) -> list[bytes]:
    """``tidings.store.embedding.to_bytes`` of each row, computed for all rows at once."""
    peak = np.max(np.abs(rows), axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    header = struct.Struct("<Bf")
    return [header.pack(1, float(s)) + r.tobytes() for s, r in zip(scale, q, strict=True)]


def _words(n: int) -> list[str]:
    """``n`` distinct pronounceable words (keywords, names)."""
    out: list[str] = []
    k = len(SYLLABLES)
    i = 0
    while len(out) < n:
        a, b, c = i % k, (i // k) % k, (i // (k * k)) % k
        word = SYLLABLES[a] + SYLLABLES[b] + (SYLLABLES[c] if i >= k * k else "")
        if i >= k * k * k:
            word += str(i // (k * k * k))
        out.append(word)
        i += 1
    return out


class _Loader:
    """Bulk inserts over one connection, statements compiled from the schema's tables."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.rows: dict[str, int] = {}

    def insert(
        self, table: sa.Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> None:
        statement = str(
            sa.insert(table).compile(dialect=sqlite.dialect(), column_keys=list(columns))
        )
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                self._flush(table.name, statement, batch)
                batch = []
        if batch:
            self._flush(table.name, statement, batch)

    def _flush(self, name: str, statement: str, batch: list[tuple[Any, ...]]) -> None:
        self.conn.exec_driver_sql(statement, batch)
        self.rows[name] = self.rows.get(name, 0) + len(batch)


def generate(path: Path, *, articles: int, readers: int, seed: int = SEED) -> dict[str, Any]:
    """Create the bench database at ``path`` and return what was made and how long it took."""
    from tidings.enrich.topics import load_taxonomy
    from tidings.store.base import entity_key
    from tidings.store.sql import open_storage

    began = time.perf_counter()
    url = f"sqlite:///{path}"
    # The schema, exactly as the migrations make it.
    open_storage(url).close()
    rng = np.random.default_rng(seed)
    window = DAYS * 86400.0

    # Sources, with their volumes, authors and sections.
    n_sources = min(SOURCES, max(5, articles // 50))
    source_weights = _zipf_weights(n_sources, SOURCE_ZIPF)
    given, family = _words(60), _words(400)[60:]
    authors = [
        [
            f"{given[(s * 7 + a) % 60].title()} {family[(s * 13 + a * 31) % 340].title()}"
            for a in range(AUTHORS_PER_SOURCE)
        ]
        for s in range(n_sources)
    ]
    source_sections = rng.integers(0, len(SECTIONS), size=(n_sources, SECTIONS_PER_SOURCE))

    # Stories: Zipf sizes until they hold every article.
    sizes_list: list[int] = []
    total = 0
    while total < articles:
        largest = min(MAX_STORY, max(8, articles // 250))
        draw = np.minimum(rng.zipf(STORY_ZIPF, size=max(1024, articles // 3)), largest)
        sizes_list.extend(draw.tolist())
        total += int(draw.sum())
    sizes = np.array(sizes_list, dtype=np.int64)
    ends = np.cumsum(sizes)
    n_stories = int(np.searchsorted(ends, articles) + 1)
    sizes = sizes[:n_stories]
    sizes[-1] -= int(ends[n_stories - 1]) - articles
    story_start = rng.random(n_stories) * window * 0.98

    taxonomy = list(load_taxonomy())
    leaves = [i for i, t in enumerate(taxonomy) if t.parent is not None]
    topic_index = {t.id: i for i, t in enumerate(taxonomy)}
    leaf_order = rng.permutation(len(leaves))
    story_leaf = np.array(leaves)[leaf_order][
        _draw(rng, _zipf_weights(len(leaves), TOPIC_ZIPF), n_stories)
    ]
    relations = [
        (
            f"relation:{a.lower().replace(' ', '-')}-{b.lower().replace(' ', '-')}",
            f"{a}–{b} relations",
        )
        for i, a in enumerate(COUNTRIES)
        for b in COUNTRIES[i + 1 :]
    ]
    story_relation = np.where(
        rng.random(n_stories) < RELATION_SHARE, rng.integers(0, len(relations), n_stories), -1
    )
    n_entities = min(ENTITIES, max(500, articles // 4))
    entity_weights = _zipf_weights(n_entities, ENTITY_ZIPF)
    story_core = _draw(rng, entity_weights, (n_stories, STORY_CORE))

    # Articles, ordered by time so that ids follow it.
    a_story = np.repeat(np.arange(n_stories), sizes)
    first = np.zeros(articles, dtype=bool)
    first[np.concatenate(([0], ends[: n_stories - 1]))] = True
    delay = np.where(first, 0.0, rng.exponential(STORY_SPREAD_S, articles))
    a_time = np.minimum(story_start[a_story] + delay, window - 60.0)
    order = np.argsort(a_time, kind="stable")
    a_story, a_time, first = a_story[order], a_time[order], first[order]
    a_source = _draw(rng, source_weights, articles)
    a_author = rng.integers(0, AUTHORS_PER_SOURCE, articles)
    representative = np.zeros(n_stories, dtype=np.int64)
    representative[a_story[first]] = np.flatnonzero(first) + 1
    duplicate = ~first & (rng.random(articles) < DUPLICATES)

    # Entities of each article: core first, then popularity draws; repeats dropped.
    k = rng.integers(5, 16, articles)
    core_n = rng.integers(2, STORY_CORE + 1, articles)
    named = _draw(rng, entity_weights, (articles, 15))
    named[:, :STORY_CORE] = np.where(
        np.arange(STORY_CORE)[None, :] < core_n[:, None], story_core[a_story], named[:, :STORY_CORE]
    )
    by_value = np.argsort(named, axis=1, kind="stable")
    ordered = np.take_along_axis(named, by_value, axis=1)
    repeated = np.zeros_like(named, dtype=bool)
    repeat_sorted = np.zeros_like(named, dtype=bool)
    repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    np.put_along_axis(repeated, by_value, repeat_sorted, axis=1)
    named[repeated] = -1
    # Keep the first k distinct names: at least 5, as a repeat drawn above is dropped first.
    named[np.cumsum(named >= 0, axis=1) > k[:, None]] = -1
    lead_n = rng.integers(1, 4, articles)
    valid = named >= 0
    flat_entity = named[valid]
    counts = np.bincount(flat_entity, minlength=n_entities)
    flat_article = np.broadcast_to(np.arange(articles)[:, None], named.shape)[valid]
    _, first_at = np.unique(flat_entity, return_index=True)
    last_rev = np.unique(flat_entity[::-1], return_index=True)[1]
    seen_entities = np.unique(flat_entity)
    entity_first = np.full(n_entities, -1.0)
    entity_last = np.full(n_entities, -1.0)
    entity_first[seen_entities] = a_time[flat_article[first_at]]
    entity_last[seen_entities] = a_time[flat_article[len(flat_entity) - 1 - last_rev]]
    entity_names = [
        f"{given[i % 60].title()} {family[(i // 60) % 340].title()}"
        + (f" {i // 20400}" if i >= 20400 else "")
        for i in range(n_entities)
    ]
    entity_type = _draw(rng, np.array(ENTITY_TYPE_SHARE), n_entities)

    with sa.create_engine(url).connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode = OFF")
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
        conn.exec_driver_sql("PRAGMA cache_size = -1000000")
        indexes = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).all()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        conn.commit()
        load = _Loader(conn)
        added = _stamp(NOW - timedelta(days=90))
        load.insert(
            schema.sources,
            ("id", "url", "kind", "title", "site", "tags", "pages", "added", "failures"),
            (
                (
                    s + 1,
                    f"https://news{s}.example/feed",
                    "feed",
                    f"News {s}",
                    f"news{s}.example",
                    "[]",
                    "auto",
                    added,
                    0,
                )
                for s in range(n_sources)
            ),
        )
        load.insert(
            schema.entities,
            ("id", "name", "type", "aliases", "article_count", "first_seen", "last_seen"),
            (
                (
                    i + 1,
                    entity_names[i],
                    ENTITY_TYPES[int(entity_type[i])],
                    "[]",
                    int(counts[i]),
                    f,
                    la,
                )
                for i, f, la in _entity_seen(n_entities, entity_first, entity_last)
            ),
        )
        load.insert(
            schema.entity_keys,
            ("key", "entity_id"),
            ((entity_key(name), i + 1) for i, name in enumerate(entity_names)),
        )
        load.insert(
            schema.topics,
            ("id", "label", "kind", "parent"),
            [
                *((t.id, t.label, "taxonomy", t.parent) for t in taxonomy),
                *((f"section:{s.lower()}", s, "section", None) for s in SECTIONS),
                *((rid, label, "relation", None) for rid, label in relations),
            ],
        )

        # Stories need their representatives' titles; titles are made from story words.
        vocabulary = _words(2000)
        word_weights = _zipf_weights(len(vocabulary), 1.0)
        story_words = _draw(rng, word_weights, (n_stories, 3))

        def title(story: int, article: int) -> str:
            w = story_words[story]
            return (
                f"{vocabulary[w[0]].title()} {vocabulary[w[1]]} {vocabulary[w[2]]}: "
                f"{taxonomy[int(story_leaf[story])].label} update {article}"
            )

        # Articles, enrichments, their entities and topics, a chunk at a time.
        topic_centroids = _unit(rng.standard_normal((len(taxonomy), DIMENSIONS)).astype(np.float32))
        story_centroids = _unit(
            topic_centroids[story_leaf] * 0.8
            + _unit(rng.standard_normal((n_stories, DIMENSIONS)).astype(np.float32))
        )
        topic_ids = [t.id for t in taxonomy]
        parents = np.array([topic_index.get(t.parent or "", -1) for t in taxonomy], dtype=np.int64)
        body_len = rng.integers(BODY_CHARS[0], BODY_CHARS[1], articles)
        filler = FILLER * (BODY_CHARS[1] // len(FILLER) + 1)
        offsets_lead = rng.integers(0, 300, (articles, 15))
        offsets_later = rng.integers(300, 6000, (articles, 15))
        mentions = 1 + rng.geometric(0.5, (articles, 15))
        confidence = rng.uniform(0.3, 0.95, (articles, 5))
        other_topic = rng.integers(0, len(taxonomy), articles)
        dice = rng.random((articles, 4))
        section_pick = rng.integers(0, SECTIONS_PER_SOURCE, articles)
        for lo in range(0, articles, 50_000):
            hi = min(articles, lo + 50_000)
            ids = np.arange(lo, hi)
            tight = first[ids] | duplicate[ids]
            noise = rng.standard_normal((hi - lo, DIMENSIONS)).astype(np.float32)
            noise *= np.where(tight, TIGHT, SPREAD)[:, None].astype(np.float32) / np.sqrt(
                DIMENSIONS
            )
            vectors = vectors_to_bytes(_unit(story_centroids[a_story[ids]] + noise))
            published = _stamps(a_time[ids])
            fetched = _stamps(a_time[ids] + 45.0)
            load.insert(
                schema.articles,
                (
                    "id",
                    "source_id",
                    "guid",
                    "url",
                    "canonical_url",
                    "title",
                    "authors",
                    "published",
                    "section",
                    "site_name",
                    "summary",
                    "summary_points",
                    "body",
                    "language",
                    "images",
                    "related",
                    "tags",
                    "content_hash",
                    "fetched_at",
                ),
                (
                    (
                        i + 1,
                        int(a_source[i]) + 1,
                        f"urn:bench:{i + 1}",
                        f"https://news{a_source[i]}.example/a/{i + 1}",
                        f"https://news{a_source[i]}.example/a/{i + 1}",
                        title(int(a_story[i]), i + 1),
                        json.dumps([authors[int(a_source[i])][int(a_author[i])]]),
                        published[i - lo],
                        SECTIONS[int(source_sections[a_source[i], section_pick[i]])],
                        f"news{a_source[i]}.example",
                        filler[:200],
                        "[]",
                        filler[: int(body_len[i])],
                        "en",
                        "[]",
                        "[]",
                        "[]",
                        f"{i + 1:064x}",
                        fetched[i - lo],
                    )
                    for i in range(lo, hi)
                ),
            )
            load.insert(
                schema.enrichments,
                (
                    "article_id",
                    "content_hash",
                    "status",
                    "language",
                    "enriched_at",
                    "vector",
                    "story_id",
                    "duplicate_of",
                ),
                (
                    (
                        i + 1,
                        f"{i + 1:064x}",
                        "done",
                        "en",
                        fetched[i - lo],
                        vectors[i - lo],
                        int(a_story[i]) + 1,
                        int(representative[a_story[i]]) if duplicate[i] else None,
                    )
                    for i in range(lo, hi)
                ),
            )
            load.insert(
                schema.article_entities,
                ("article_id", "entity_id", "mentions", "first_offset"),
                (
                    (
                        i + 1,
                        int(named[i, j]) + 1,
                        int(mentions[i, j]),
                        int(offsets_lead[i, j] if j < lead_n[i] else offsets_later[i, j]),
                    )
                    for i in range(lo, hi)
                    for j in range(15)
                    if named[i, j] >= 0
                ),
            )
            load.insert(
                schema.article_topics,
                ("article_id", "topic_id", "confidence"),
                (
                    row
                    for i in range(lo, hi)
                    for row in _article_topics(
                        i,
                        leaf=int(story_leaf[a_story[i]]),
                        parent=int(parents[story_leaf[a_story[i]]]),
                        other=int(other_topic[i]),
                        relation=int(story_relation[a_story[i]]),
                        section=SECTIONS[int(source_sections[a_source[i], section_pick[i]])],
                        dice=dice[i],
                        confidence=confidence[i],
                        topic_ids=topic_ids,
                        relations=relations,
                    )
                ),
            )
            conn.commit()

        story_sources = np.zeros(n_stories, dtype=np.int64)
        pairs = np.unique(a_story * n_sources + a_source)
        np.add.at(story_sources, pairs // n_sources, 1)
        last_time = np.zeros(n_stories)
        np.maximum.at(last_time, a_story, a_time)
        first_time = a_time[representative - 1]
        story_first, story_last = _stamps(first_time), _stamps(last_time)
        load.insert(
            schema.stories,
            (
                "id",
                "headline",
                "representative_id",
                "first_seen",
                "last_seen",
                "article_count",
                "source_count",
                "total",
                "names",
            ),
            (
                (
                    s + 1,
                    title(s, int(representative[s])),
                    int(representative[s]),
                    story_first[s],
                    story_last[s],
                    int(sizes[s]),
                    int(story_sources[s]),
                    (story_centroids[s] * np.float32(sizes[s])).astype(np.float32).tobytes(),
                    "[]",
                )
                for s in range(n_stories)
            ),
        )
        conn.commit()

        follow_stats = _load_readers(
            load,
            rng,
            readers=readers,
            articles=articles,
            a_time=a_time,
            entity_weights=entity_weights,
            entity_names=entity_names,
            taxonomy=taxonomy,
            leaves=np.array(leaves)[leaf_order],
            source_weights=source_weights,
            authors=authors,
            sizes=sizes,
            vocabulary=vocabulary,
            word_weights=word_weights,
        )
        conn.commit()
        loaded = time.perf_counter() - began
        for _, sql in indexes:
            conn.exec_driver_sql(sql)
        conn.commit()
        conn.exec_driver_sql("PRAGMA journal_mode = WAL")
        rows = dict(load.rows)
    return {
        "seconds": round(time.perf_counter() - began, 1),
        "load_seconds": round(loaded, 1),
        "index_seconds": round(time.perf_counter() - began - loaded, 1),
        "rows": rows,
        "stories": n_stories,
        "sources": n_sources,
        "entities": n_entities,
        "follow_kinds": follow_stats,
    }


def _entity_seen(
    n: int, first: Floats, last: Floats
) -> Iterator[tuple[int, str | None, str | None]]:
    seen = first >= 0
    firsts = _stamps(np.where(seen, first, 0.0))
    lasts = _stamps(np.where(seen, last, 0.0))
    for i in range(n):
        if seen[i]:
            yield i, firsts[i], lasts[i]
        else:
            yield i, None, None


def _article_topics(
    article: int,
    *,
    leaf: int,
    parent: int,
    other: int,
    relation: int,
    section: str,
    dice: Floats,
    confidence: Floats,
    topic_ids: Sequence[str],
    relations: Sequence[tuple[str, str]],
) -> Iterator[tuple[int, str, float]]:
    """An article's topics: its story's, maybe the parent and an unrelated one (so 1-3 from
    the taxonomy), maybe its section, and its story's relation most of the time."""
    aid = article + 1
    yield aid, topic_ids[leaf], round(float(confidence[0]), 3)
    if parent >= 0 and dice[0] < 0.5:
        yield aid, topic_ids[parent], round(float(confidence[1]), 3)
    if dice[1] < 0.2 and other not in (leaf, parent):
        yield aid, topic_ids[other], round(float(confidence[2]) * 0.6, 3)
    if dice[2] < 0.7:
        yield aid, f"section:{section.lower()}", 1.0
    if relation >= 0 and dice[3] < 0.8:
        yield aid, relations[relation][0], round(float(confidence[4]), 3)


def _distinct(rng: np.random.Generator, weights: Floats, n: int) -> Ints:
    """``n`` distinct indices drawn by ``weights`` (fewer if there are fewer than ``n``)."""
    n = min(n, len(weights))
    got: Ints = np.zeros(0, dtype=np.int64)
    while len(got) < n:
        more = _draw(rng, weights, 4 * n)
        got = np.concatenate((got, more))
        _, index = np.unique(got, return_index=True)
        got = got[np.sort(index)]
    return got[:n]


def _load_readers(
    load: _Loader,
    rng: np.random.Generator,
    *,
    readers: int,
    articles: int,
    a_time: Floats,
    entity_weights: Floats,
    entity_names: Sequence[str],
    taxonomy: Sequence[Any],
    leaves: Ints,
    source_weights: Floats,
    authors: Sequence[Sequence[str]],
    sizes: Ints,
    vocabulary: Sequence[str],
    word_weights: Floats,
) -> dict[str, int]:
    """Readers, their follows and mutes, and their events."""
    created = _stamp(NOW - timedelta(days=30))
    load.insert(
        schema.readers,
        ("id", "name", "created", "exploration", "diversity"),
        ((r + 1, reader_name(r), created, 0.1, 0.3) for r in range(readers)),
    )
    # Popularity of each kind's values, and how they are stored (value, label).
    topic_weights = np.zeros(len(taxonomy))
    topic_weights[leaves] = _zipf_weights(len(leaves), TOPIC_ZIPF)
    topic_weights[[i for i, t in enumerate(taxonomy) if t.parent is None]] = 0.02
    topic_weights /= topic_weights.sum()
    flat_authors = [a for names in authors for a in names]
    author_weights = np.repeat(source_weights, AUTHORS_PER_SOURCE) / AUTHORS_PER_SOURCE
    story_weights = sizes.astype(np.float64) / sizes.sum()

    def entity(i: int) -> tuple[str, str]:
        return str(i + 1), entity_names[i]

    def topic(i: int) -> tuple[str, str]:
        return str(taxonomy[i].id), str(taxonomy[i].label)

    def source(i: int) -> tuple[str, str]:
        return str(i + 1), f"News {i}"

    def author(i: int) -> tuple[str, str]:
        return flat_authors[i].casefold(), flat_authors[i]

    def keyword(i: int) -> tuple[str, str]:
        return vocabulary[i], vocabulary[i]

    def story(i: int) -> tuple[str, str]:
        return str(i + 1), f"story {i + 1}"

    kinds: dict[str, tuple[Floats, Callable[[int], tuple[str, str]]]] = {
        "entity": (entity_weights, entity),
        "topic": (topic_weights, topic),
        "source": (source_weights, source),
        "author": (author_weights, author),
        "keyword": (word_weights, keyword),
        "story": (story_weights, story),
    }
    made: dict[str, int] = {}

    def interests() -> Iterator[tuple[Any, ...]]:
        ages = rng.random((readers, FOLLOWS + MUTES)) * 29 * 86400
        for r in range(readers):
            n = 0
            taken: set[tuple[str, str]] = set()
            for kind, count in FOLLOW_MIX.items():
                weights, named = kinds[kind]
                # Overdrawn, as two indices may name one value (two authors of one name).
                picks = 0
                for i in _distinct(rng, weights, 3 * count).tolist():
                    value, label = named(int(i))
                    if (kind, value) in taken:
                        continue
                    taken.add((kind, value))
                    when = _stamp(NOW - timedelta(days=30) + timedelta(seconds=ages[r, n]))
                    n += 1
                    picks += 1
                    made[kind] = made.get(kind, 0) + 1
                    yield r + 1, kind, value, "follow", label, when
                    if picks == count:
                        break
            # Mutes of unpopular entities, none of them followed (one stance per thing).
            tail = len(entity_weights) // 2
            candidates = rng.choice(len(entity_weights) - tail, 4 * MUTES, replace=False)
            muted = [
                tail + int(i)
                for i in candidates.tolist()
                if ("entity", entity(tail + int(i))[0]) not in taken
            ]
            for i in muted[:MUTES]:
                value, label = entity(i)
                yield r + 1, "entity", value, "mute", label, created

    load.insert(
        schema.interests, ("reader_id", "kind", "value", "stance", "label", "created"), interests()
    )

    def events() -> Iterator[tuple[Any, ...]]:
        window = DAYS * 86400.0
        # Readers look at recent articles: how far back from the newest one published
        # before the impression, in articles (an exponential over about six hours of news).
        recent = max(1.0, articles / (DAYS * 4))
        mix = EVENT_MIX
        for r in range(readers):
            shown_at = np.sort(rng.random(mix["impression"]) * window)
            newest = np.searchsorted(a_time, shown_at) - 1
            shown = np.maximum(0, newest - rng.exponential(recent, len(newest)).astype(np.int64))
            opened = rng.choice(len(shown), mix["open"], replace=False)
            read = opened[: mix["read"]]
            rest = np.setdiff1d(np.arange(len(shown)), opened)
            rejected = rng.choice(rest, mix["less"] + mix["hide"], replace=False)
            open_at = shown_at[opened] + rng.uniform(5, 300, len(opened))
            read_at = open_at[: mix["read"]] + rng.uniform(10, 600, len(read))
            seconds = np.clip(rng.lognormal(np.log(45.0), 1.0, len(read)), 1, 3600)
            reject_at = shown_at[rejected] + rng.uniform(2, 60, len(rejected))
            kinds = (
                ["impression"] * len(shown)
                + ["open"] * len(opened)
                + ["read"] * len(read)
                + ["less"] * mix["less"]
                + ["hide"] * mix["hide"]
            )
            ids = np.concatenate((shown, shown[opened], shown[read], shown[rejected])) + 1
            values: list[float | None] = [
                *(float(p % PAGE_SIZE) for p in range(len(shown))),
                *([None] * len(opened)),
                *(round(float(s), 1) for s in seconds),
                *([None] * len(rejected)),
            ]
            at = np.minimum(np.concatenate((shown_at, open_at, read_at, reject_at)), window - 1.0)
            # Popularity counts readers: each reader once per article, on the day they first
            # saw (or opened) it, as storage counts them when events are recorded.
            for which, article, seen_at in ((0, shown, shown_at), (1, shown[opened], open_at)):
                _, first = np.unique(article, return_index=True)
                day = _days(np.minimum(seen_at[first], window - 1))
                counted[which].append((article[first] + 1, day))
            stamps = _stamps(at)
            for kind, aid, value, when in zip(kinds, ids.tolist(), values, stamps, strict=True):
                yield r + 1, aid, kind, value, when

    counted: tuple[list[tuple[Ints, Ints]], list[tuple[Ints, Ints]]] = ([], [])
    load.insert(schema.events, ("reader_id", "article_id", "kind", "value", "at"), events())
    load.insert(
        schema.engagement, ("article_id", "day", "shown", "engaged"), _engagement_rows(*counted)
    )
    return {k: v // max(1, readers) for k, v in made.items()}


def _days(seconds: Floats) -> Ints:
    """UTC day numbers of times given as seconds after the bench's first day."""
    start = (NOW - timedelta(days=DAYS)).timestamp()
    days: Ints = ((start + seconds) // 86400).astype(np.int64)
    return days


def _engagement_rows(
    shown: list[tuple[Ints, Ints]], engaged: list[tuple[Ints, Ints]]
) -> Iterator[tuple[int, int, int, int]]:
    """Per article and day: readers shown, readers engaged."""
    counts: dict[tuple[int, int], list[int]] = {}
    for which, parts in ((0, shown), (1, engaged)):
        if not parts:
            continue
        articles = np.concatenate([a for a, _ in parts])
        days = np.concatenate([d for _, d in parts])
        keys, n = np.unique(np.stack([articles, days], axis=1), axis=0, return_counts=True)
        for (article, day), count in zip(keys.tolist(), n.tolist(), strict=True):
            counts.setdefault((article, day), [0, 0])[which] = count
    for (article, day), (s, e) in sorted(counts.items()):
        yield article, day, s, e


def reader_name(index: int) -> str:
    return f"reader{index:06d}"


def _generate_into(path: str, articles: int, readers: int, seed: int) -> None:
    """Child-process entry: generate, then write the stats beside the database; the stats
    file is written last, so its presence says the database is complete."""
    target = Path(path)
    stats = generate(target, articles=articles, readers=readers, seed=seed)
    stats["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    target.with_suffix(".json").write_text(json.dumps(stats, indent=2), encoding="utf-8")


def prepare(
    workdir: Path, *, articles: int, readers: int, seed: int = SEED, echo: Echo = print
) -> tuple[Path, dict[str, Any]]:
    """The cached bench database for these parameters, generated first if need be."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"feed-v{GENERATOR_VERSION}-a{articles}-r{readers}-s{seed}.sqlite"
    meta = path.with_suffix(".json")
    if meta.is_file() and path.is_file():
        stats = json.loads(meta.read_text(encoding="utf-8"))
        stats["cached"] = True
        echo(f"using cached {path} (generated in {stats['seconds']} s)")
        return path, stats
    from tidings.enrich.stage import index_path

    # The engine's vector index of an older database of this name would be stale.
    index = index_path(workdir, f"sqlite:///{path}")
    for stale in (path, meta, Path(f"{path}-wal"), Path(f"{path}-shm"), index):
        stale.unlink(missing_ok=True)
    echo(f"generating {articles:,} articles and {readers:,} readers into {path} ...")
    # A child process, so that generation's memory does not count in the measured peak.
    child = multiprocessing.get_context("spawn").Process(
        target=_generate_into, args=(str(path), articles, readers, seed)
    )
    child.start()
    child.join()
    if child.exitcode != 0 or not meta.is_file():
        raise RuntimeError(f"generating the bench database failed (exit {child.exitcode})")
    stats = json.loads(meta.read_text(encoding="utf-8"))
    stats["cached"] = False
    echo(f"generated in {stats['seconds']} s")
    return path, stats


# --- measurement -----------------------------------------------------------------------------

#: Where the time of a page goes: profile rows (file suffix, function, and the calling
#: function when only the calls from there count) and their label; rows that a run never
#: calls are left out of the report.
PROFILE_PARTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("store/sql/ranking.py", "reader_stamp", None, "storage: reader_stamp"),
    ("store/sql/readers.py", "get_reader", None, "storage: get_reader"),
    ("store/sql/readers.py", "list_interests", None, "storage: list_interests"),
    ("store/sql/readers.py", "reader_events", None, "storage: reader_events"),
    ("store/sql/readers.py", "reader_event_columns", None, "storage: reader_events as columns"),
    ("rank/ranker.py", "seen", "state", "rank: what the window knows of the history"),
    ("rank/state.py", "reader_state", "state", "rank: reader_state"),
    ("rank/candidates.py", "candidate_rows", None, "rank: candidate_rows"),
    ("store/vectors.py", "_search", None, "  of which the vector index"),
    ("rank/ranker.py", "reader_weights", None, "rank: reader_weights (rows + fit)"),
    ("rank/learn.py", "fit_weights", None, "  of which fit_weights"),
    ("rank/ranker.py", "score", "_rank", "rank: score (take + featurize)"),
    ("rank/ranker.py", "_pool", None, "rank: the pool's arrays (mutes, read)"),
    ("rank/assemble.py", "assemble_pool", None, "rank: assemble_pool"),
    ("rank/ranker.py", "_covered", None, "rank: other sources of the page's stories"),
    ("rank/ranker.py", "_explained", None, "rank: reasons for the page's items"),
    ("rank/ranker.py", "_display", "_rank", "storage: the page's headlines and names"),
)
#: Parts inside others (counted where they are called too).
NESTED_PARTS = frozenset({"  of which the vector index", "  of which fit_weights"})


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    at = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[at]


def _profile(engine: Any, names: Sequence[str]) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    began = time.perf_counter()
    for name in names:
        engine.feed(name, size=PAGE_SIZE)
    wall = time.perf_counter() - began
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = 0.0
    for (file, _, func), (_, _, _, cumulative, _) in stats.items():
        if file.endswith("tidings/engine.py") and func == "feed":
            total = cumulative
    parts: dict[str, dict[str, float]] = {}
    # featurize runs in fit_weights' caller, not inside fit_weights, so parts do not contain
    # each other, except the nested ones (below), which are counted where called too.
    for suffix, func, caller, label in PROFILE_PARTS:
        calls, seconds = 0, 0.0
        for (file, _, name), (_, ncalls, _, cumulative, callers) in stats.items():
            if not (file.endswith(suffix) and name == func):
                continue
            if caller is None:
                calls += ncalls
                seconds += cumulative
                continue
            for (_, _, by), (_, by_calls, _, by_seconds) in callers.items():
                if by == caller:
                    calls += by_calls
                    seconds += by_seconds
        if not calls:
            continue
        parts[label] = {
            "ms_per_page": round(1000 * seconds / len(names), 2),
            "share": round(seconds / total, 3) if total else 0.0,
            "calls_per_page": round(calls / len(names), 1),
            "us_per_call": round(1e6 * seconds / calls, 1) if calls else 0.0,
        }
    # Nested parts are inside others already.
    counted = [v for k, v in parts.items() if k not in NESTED_PARTS]
    rest = total - sum(v["ms_per_page"] for v in counted) * len(names) / 1000
    parts["rest of engine.feed"] = {
        "ms_per_page": round(1000 * rest / len(names), 2),
        "share": round(rest / total, 3) if total else 0.0,
        "calls_per_page": 1.0,
        "us_per_call": round(1e6 * rest / len(names), 1),
    }
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    return {
        "pages": len(names),
        "ms_per_page_profiled": round(1000 * total / len(names), 2),
        "ms_per_page_wall": round(1000 * wall / len(names), 2),
        "parts": parts,
        "top_self_time": [
            {
                "function": f"{Path(file).name}:{line}:{func}",
                "ms_per_page": round(1000 * own / len(names), 2),
                "calls_per_page": round(ncalls / len(names), 1),
            }
            for (file, line, func), (_, ncalls, own, _, _) in top
        ],
    }


def _rank_facts_cost(storage: Any, articles: int, seed: int) -> dict[str, dict[str, float]]:
    """``rank_facts`` alone for N random articles of the last day, as ``Engine.feed``
    asks for its candidates (by id), best of three: its cost per row."""
    pick = random.Random(seed)
    newest = max(1, articles // DAYS)
    out: dict[str, dict[str, float]] = {}
    for n in (100, 1000, 3000):
        ids = [articles - pick.randrange(newest) for _ in range(n)]
        timings, rows = [], 0
        for _ in range(3):
            began = time.perf_counter()
            rows = len(storage.rank_facts(limit=0, article_ids=ids))
            timings.append(time.perf_counter() - began)
        best = min(timings)
        out[str(n)] = {
            "rows": rows,
            "ms": round(1000 * best, 1),
            "us_per_row": round(1e6 * best / max(1, rows), 1),
        }
    return out


def _rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    try:
        with Path("/proc/self/statm").open() as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _pages_in_processes(engine: Any, names: Sequence[str], processes: int) -> float:
    """Seconds for ``processes`` forked copies of this process (its window held once, shared
    copy-on-write, as ``tidings serve --workers`` forks after loading) to make the pages
    between them."""
    share = [names[k::processes] for k in range(processes)]
    ready = multiprocessing.get_context("fork")
    began = time.perf_counter()
    children = []
    for part in share:

        def work(part: Sequence[str] = part) -> None:
            # Connections are not shared across a fork: the child opens its own.
            engine.storage.after_fork()
            for name in part:
                engine.feed(name, size=PAGE_SIZE)

        child = ready.Process(target=work)
        child.start()
        children.append(child)
    for child in children:
        child.join()
    if any(c.exitcode != 0 for c in children):
        raise RuntimeError("a bench process failed")
    return time.perf_counter() - began


def measure(
    path: Path,
    workdir: Path,
    *,
    articles: int,
    readers: int,
    pages: int,
    seed: int = SEED,
    echo: Echo = print,
    warmup: int = WARMUP,
    profiled: int = PROFILED,
) -> dict[str, Any]:
    """Time pages of the feed on the database at ``path``."""
    from tidings.config import Settings
    from tidings.engine import Engine
    from tidings.store.sql import open_storage

    url = f"sqlite:///{path}"
    # Every page ranked afresh: this measures ranking, not the page cache (bench http
    # reports the cache's share beside its figures).
    settings = Settings(database_url=url, data_dir=workdir, feed_cache_seconds=0)
    engine = Engine(settings, open_storage(url), clock=lambda: NOW)
    pick = random.Random(seed)
    names = [reader_name(pick.randrange(readers)) for _ in range(pages)]
    try:
        # The feed searches the vector index for readers with a taste; opening it (and
        # building it from storage the first time, then cached in workdir) is start-up
        # work, timed apart from the pages.
        began = time.perf_counter()
        index = engine.enrichment.vectors()
        index_seconds = time.perf_counter() - began
        echo(f"vector index ready in {index_seconds:.1f} s ({len(index) if index else 0:,})")
        # So is reading the window of recent articles into memory.
        # The first start reads the window from storage; later ones from its snapshot.
        ranker = engine.ranker
        snapshot, ranker.snapshot = ranker.snapshot, None
        rss_before = _rss_mb()
        began = time.perf_counter()
        ranker.ensure_loaded()
        window_seconds = time.perf_counter() - began
        ranker.snapshot = snapshot
        window = ranker.window
        window_mb = window.memory_bytes() / 2**20
        rss_window = _rss_mb() - rss_before
        began = time.perf_counter()
        ranker.save_snapshot(force=True)
        save_seconds = time.perf_counter() - began
        began = time.perf_counter()
        ranker.load()
        restart_seconds = time.perf_counter() - began
        window = ranker.window
        echo(
            f"window of {len(window):,} articles read in {window_seconds:.1f} s from storage, "
            f"{restart_seconds:.1f} s from its snapshot (saved in {save_seconds:.1f} s): "
            f"{window_mb:,.0f} MB of arrays, resident memory +{rss_window:,.0f} MB"
        )
        # Impressions the generator recorded without the features they were shown with
        # are featurised and stored once, as an upgraded installation's readers' first
        # pages do: pages are timed as they run from then on.
        began = time.perf_counter()
        kept = ranker.keep_features(engine.storage.list_readers())
        if kept:
            echo(
                f"{kept:,} impressions recorded without features featurised and kept in "
                f"{time.perf_counter() - began:.1f} s (once per database)"
            )
        for _ in range(warmup):
            engine.feed(reader_name(pick.randrange(readers)), size=PAGE_SIZE)
        echo(f"timing {pages} pages ...")
        timings: list[float] = []
        # The page's own CPU time (its thread's): what a busy machine does not inflate.
        cpu: list[float] = []
        items: list[int] = []
        reasons: list[int] = []
        began = time.perf_counter()
        for name in names:
            start, start_cpu = time.perf_counter(), time.thread_time()
            page = engine.feed(name, size=PAGE_SIZE)
            timings.append(1000 * (time.perf_counter() - start))
            cpu.append(1000 * (time.thread_time() - start_cpu))
            items.append(len(page.items))
            reasons.append(sum(len(item.reasons) for item in page.items))
        single = time.perf_counter() - began
        # Other work on the machine inflates every figure; say how busy it was.
        load = os.getloadavg()[0]
        echo("timing the same pages on 2 threads ...")
        with ThreadPoolExecutor(max_workers=2) as pool:
            began = time.perf_counter()
            list(pool.map(lambda n: engine.feed(n, size=PAGE_SIZE), names))
            double = time.perf_counter() - began
        echo("timing the same pages in 2 processes ...")
        forked = _pages_in_processes(engine, names, 2)
        echo(f"profiling {min(profiled, pages)} pages ...")
        profile = _profile(engine, names[: max(1, min(profiled, pages))])
        facts = _rank_facts_cost(engine.storage, articles, seed)
    finally:
        engine.close()
        engine.storage.close()
    p99 = _percentile(timings, 99)
    return {
        "pages": pages,
        "page_size": PAGE_SIZE,
        "items_per_page": round(statistics.fmean(items), 1),
        "reasons_per_item": round(sum(reasons) / max(1, sum(items)), 2),
        "empty_pages": sum(1 for n in items if n == 0),
        "ms": {
            "p50": round(_percentile(timings, 50), 1),
            "p90": round(_percentile(timings, 90), 1),
            "p99": round(p99, 1),
            "max": round(max(timings), 1),
            "mean": round(statistics.fmean(timings), 1),
        },
        "cpu_ms": {
            "p50": round(_percentile(cpu, 50), 1),
            "p99": round(_percentile(cpu, 99), 1),
        },
        "pages_per_second": {
            "threads_1": round(pages / single, 1),
            "threads_2": round(pages / double, 1),
            "processes_2": round(pages / forked, 1),
        },
        "window": {
            "articles": len(window),
            "read_seconds": round(window_seconds, 1),
            "snapshot_save_seconds": round(save_seconds, 1),
            "restart_seconds": round(restart_seconds, 1),
            "arrays_mb": round(window_mb, 1),
            "rss_mb": round(rss_window, 1),
            "mb_per_million_articles": round(window_mb * 1e6 / max(1, len(window)), 1),
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "goal": {"p99_ms": GOAL_P99_MS, "met": p99 <= GOAL_P99_MS},
        "vector_index_open_seconds": round(index_seconds, 1),
        "load_average_1min": round(load, 2),
        "profile": profile,
        "rank_facts_alone": facts,
    }


def run(
    *,
    articles: int = 1_000_000,
    readers: int = 10_000,
    pages: int = 500,
    workdir: Path | None = None,
    echo: Echo = print,
    seed: int = SEED,
    warmup: int = WARMUP,
    profiled: int = PROFILED,
) -> dict[str, Any]:
    """Generate (or reuse) the database, then time the feed on it."""
    if articles < 100 or readers < 1 or pages < 1:
        raise ValueError("need at least 100 articles, 1 reader and 1 page")
    folder = workdir or Path(tempfile.gettempdir()) / "tidings-bench-feed"
    path, generation = prepare(folder, articles=articles, readers=readers, seed=seed, echo=echo)
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file())
    generation["database_mb"] = round(size / 2**20, 1)
    result = measure(
        path,
        folder,
        articles=articles,
        readers=readers,
        pages=pages,
        seed=seed,
        echo=echo,
        warmup=warmup,
        profiled=profiled,
    )
    return {
        "bench": "feed",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": multiprocessing.cpu_count(),
            "sqlite": sqlite3_version(),
        },
        "parameters": {
            "articles": articles,
            "readers": readers,
            "pages": pages,
            "follows": FOLLOWS,
            "events": EVENTS,
            "days": DAYS,
            "now": NOW.isoformat(),
            "seed": seed,
            "database": str(path),
        },
        "generation": generation,
        **result,
    }


def sqlite3_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def format_report(result: dict[str, Any]) -> str:
    p, g, ms = result["parameters"], result["generation"], result["ms"]
    rate = result["pages_per_second"]
    lines = [
        f"tidings bench feed: {p['articles']:,} articles over {p['days']} days, "
        f"{p['readers']:,} readers ({p['follows']} follows, {p['events']} events each)",
        f"machine: {result['machine']['processor']}, {result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}, SQLite {result['machine']['sqlite']}",
        "",
        f"generation: {'cached, ' if g.get('cached') else ''}{g['seconds']} s "
        f"(load {g['load_seconds']} s, indexes {g['index_seconds']} s), "
        f"database {g['database_mb']:,} MB, peak {g.get('peak_rss_mb', '?')} MB",
        "  rows: " + ", ".join(f"{k} {v:,}" for k, v in g["rows"].items()),
        "",
        f"page of {result['page_size']} with explanations, {result['pages']} random readers "
        f"(avg {result['items_per_page']} items, {result['reasons_per_item']} reasons each):",
        f"  p50 {ms['p50']} ms   p90 {ms['p90']} ms   p99 {ms['p99']} ms   max {ms['max']} ms",
        f"  CPU of the page's thread: p50 {result['cpu_ms']['p50']} ms   "
        f"p99 {result['cpu_ms']['p99']} ms (what other work on the machine does not inflate)",
        f"  pages/s: {rate['threads_1']} on 1 thread, {rate['threads_2']} on 2 threads, "
        f"{rate.get('processes_2', '?')} in 2 processes",
        f"  window: {result['window']['articles']:,} articles read in "
        f"{result['window']['read_seconds']} s from storage, "
        f"{result['window'].get('restart_seconds', '?')} s from its snapshot; "
        f"{result['window']['arrays_mb']:,} MB of arrays "
        f"({result['window']['mb_per_million_articles']:,} MB per million articles), "
        f"resident +{result['window']['rss_mb']:,} MB",
        f"  peak RSS {result['peak_rss_mb']} MB; 1-minute load average while timing "
        f"{result.get('load_average_1min', '?')} on {result['machine']['cpus']} CPUs",
        f"  goal p99 <= {result['goal']['p99_ms']} ms: "
        + ("met" if result["goal"]["met"] else "NOT met"),
        "",
        f"where a page's time goes (cProfile over {result['profile']['pages']} pages, "
        f"{result['profile']['ms_per_page_profiled']} ms/page profiled):",
    ]
    for label, part in result["profile"]["parts"].items():
        lines.append(
            f"  {label:<50} {part['ms_per_page']:>8.2f} ms {100 * part['share']:>5.1f}%"
            f"  {part['calls_per_page']:>7.1f} calls  {part['us_per_call']:>9.1f} us/call"
        )
    lines.append("rank_facts alone, by id, newest day (best of 3):")
    for n, facts in result["rank_facts_alone"].items():
        lines.append(
            f"  {int(n):>5,} ids: {facts['rows']:,} rows in {facts['ms']} ms "
            f"({facts['us_per_row']} us/row)"
        )
    lines += [
        f"vector index opened in {result['vector_index_open_seconds']} s (not in page times)",
        "top self time:",
    ]
    for row in result["profile"]["top_self_time"]:
        lines.append(
            f"  {row['function']:<60} {row['ms_per_page']:>8.2f} ms  {row['calls_per_page']} calls"
        )
    return "\n".join(lines)
