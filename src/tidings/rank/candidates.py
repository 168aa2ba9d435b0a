"""Which articles a reader's page considers: what they follow, what is like what they read,
the top stories and the newest news. Pure: it reads the window and asks the vector index
through a function it is given.

Every source of candidates goes through an index (the window's postings, the vector index),
so a page's cost does not grow with the archive: about a thousand candidates a page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tidings.rank.state import ReaderState
from tidings.rank.window import ArticleWindow, epoch
from tidings.types import InterestKind

Ints = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
#: Nearest articles to each row of a matrix, in one search of the vector index:
#: ``(vectors, how many) -> article ids per row``.
Similar = Callable[[Vectors, int], Sequence[Sequence[int]]]

#: Newest articles per followed thing. 20 keeps a week of a followed entity's coverage in
#: view for all but the busiest names.
PER_FOLLOW_CANDIDATES = 20
#: Candidates brought by follows and learned affinities together: a reader of a few things
#: gets :data:`PER_FOLLOW_CANDIDATES` of each, one of fifty follows and twenty affinities
#: about eight of each (never fewer than :data:`MIN_PER_FOLLOW`), so a page's cost stops
#: growing with the number of follows (`tidings bench feed`: 1,900 candidates a page at 50
#: follows before this budget).
FOLLOW_CANDIDATE_BUDGET = 600
MIN_PER_FOLLOW = 5
#: Learned topic and entity affinities that also bring candidates, the strongest first.
AFFINITY_KEYS = 5
#: Engaged articles whose mean vector probes the vector index for "more like what you
#: read", how many neighbours each probe brings, and how many of the latest reads are
#: probed one by one besides their mean (one probe per interest keeps a reader of two
#: subjects from getting only their average).
TASTE_PROBES = 20
SIMILAR_CANDIDATES = 50
SEPARATE_PROBES = 3
#: Top stories and newest articles every page considers.
TOP_STORIES = 100
NEWEST = 200


def candidate_rows(
    window: ArticleWindow,
    state: ReaderState,
    now: datetime,
    *,
    history: Sequence[int] = (),
    similar: Similar | None = None,
) -> Ints:
    """The window rows a reader's page considers, each once (order carries no meaning).

    ``history`` holds the articles the reader met (shown, read, rejected): those still in
    the window stay candidates, so that a story the reader read is known as read when it
    comes round again."""
    since = epoch(now - window.span)
    follows = state.follows
    liked_entities = sorted(state.entity_affinity, key=lambda e: -state.entity_affinity[e])
    liked_topics = sorted(state.topic_affinity, key=lambda t: -state.topic_affinity[t])
    entity_keys = list(
        dict.fromkeys(
            [
                *(int(v) for v in follows.get(InterestKind.ENTITY, {}) if v.isdecimal()),
                *(e for e in liked_entities[:AFFINITY_KEYS] if state.entity_affinity[e] > 0),
            ]
        )
    )
    topic_names = list(
        dict.fromkeys(
            [
                *follows.get(InterestKind.TOPIC, {}),
                *(t for t in liked_topics[:AFFINITY_KEYS] if state.topic_affinity[t] > 0),
            ]
        )
    )
    topic_keys = [c for t in topic_names if (c := window.topics.get(t)) is not None]
    source_keys = [int(v) for v in follows.get(InterestKind.SOURCE, {}) if v.isdecimal()]
    story_keys = [int(v) for v in follows.get(InterestKind.STORY, {}) if v.isdecimal()]
    keys = len(entity_keys) + len(topic_names) + len(source_keys) + len(story_keys)
    per_key = max(
        MIN_PER_FOLLOW, min(PER_FOLLOW_CANDIDATES, FOLLOW_CANDIDATE_BUDGET // max(keys, 1))
    )
    parts = [
        window.newest(entity_keys, window.by_entity, per_key, since),
        window.newest(topic_keys, window.by_topic, per_key, since),
        window.newest(source_keys, window.by_source, per_key, since),
        window.newest(story_keys, window.by_story, per_key, since),
        window.top_story_rows(TOP_STORIES, since),
        window.newest_rows(NEWEST, since),
        window.live(window.rows_of(list(history)), since),
    ]
    if similar is not None and state.liked is not None and len(state.liked):
        recent = state.liked[:TASTE_PROBES]
        mean = recent.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        probes = [*recent[:SEPARATE_PROBES], *([mean / norm] if norm > 0 else [])]
        found = [
            a
            for near in similar(np.stack(probes).astype(np.float32), SIMILAR_CANDIDATES)
            for a in near
        ]
        parts.append(window.live(window.rows_of(found), since))
    rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    if state.hidden:
        # Hiding an item hides its story: the reader does not want it back through another
        # source's article.
        hidden = window.rows_of(sorted(state.hidden))
        hidden = hidden[hidden >= 0]
        stories = window.story_ids(hidden)
        rows = rows[~np.isin(rows, hidden)]
        stories = stories[stories >= 0]
        if len(stories):
            rows = rows[~np.isin(window.story_ids(rows), stories)]
    return rows.astype(np.int64)
