"""What ranking knows of a reader, built by one pure function from what they told us.

:func:`reader_state` turns a reader's follows and mutes, their events (what they were shown,
opened, read, saved, rejected) and what is known of the articles those events are about
(:class:`Seen`) into a :class:`ReaderState`: what they follow and mute, the vectors of what
they liked and rejected, their affinities to sources, topics and entities, and which
articles they already met. The page (``Ranker.page``), the learning of weights (at each past
impression, from the events before it: :mod:`tidings.rank.learn`) and the offline evaluation
(``tidings eval rank``) all build it with this function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from tidings.rank.assemble import Mutes
from tidings.store.base import EVENT_CODES, EVENT_KINDS, EventColumns
from tidings.types import EventKind, Interest, InterestKind, ReaderEvent, Stance

Vector = npt.NDArray[np.float32]
K = TypeVar("K", int, str)

#: How far back, and how many of, a reader's events shape their page.
HISTORY = timedelta(days=60)
HISTORY_EVENTS = 2000
#: Seconds of reading that count as engagement (a glance is not).
ENGAGED_READ_SECONDS = 15.0
#: Events that reject an article.
REJECTIONS = frozenset({EventKind.LESS, EventKind.HIDE})
#: How far back all readers' engagement counts toward an article's popularity.
POPULARITY_WINDOW = timedelta(days=2)
#: Entities first named within this many characters are what the article is about.
LEAD_CHARS = 300
#: Impressions at the overall rate a key's own rate starts from in :func:`affinities`: a
#: source shown twice and opened once is not yet a favourite.
AFFINITY_PRIOR = 5.0
#: "You often read about X" needs this many articles about X engaged with, on this many
#: different days: one read, or a burst of reads on one breaking story, is not "often".
#: See ``rank/learn.py`` (`OFTEN_*` measured on MIND histories) for how it was chosen.
OFTEN_READS = 3
OFTEN_DAYS = 2
#: Impressions (the newest) that a reader's topic and entity affinities are learned from.
AFFINITY_IMPRESSIONS = 500


#: Event kinds that show interest whatever their value (see :func:`engaged`).
_ENGAGING = (EventKind.OPEN, EventKind.SAVE, EventKind.SHARE, EventKind.MORE)


def engaged(event: ReaderEvent) -> bool:
    """Whether an event shows interest: an open, a save, a share, "more like this", or a
    read of at least :data:`ENGAGED_READ_SECONDS`."""
    if event.kind is EventKind.READ:
        return (event.value or 0.0) >= ENGAGED_READ_SECONDS
    return event.kind in _ENGAGING


_ENGAGING_CODES = [EVENT_CODES[k] for k in _ENGAGING]


# Not frozen: a page makes a few hundred (the articles of a reader's history the ranker has
# not kept), and a frozen dataclass's __init__ (one object.__setattr__ per field) cost three
# times as much. Nothing changes one after it is made.
@dataclass(slots=True)
class Seen:
    """What a reader's state needs of an article they met."""

    article_id: int
    source_id: int
    #: Its topic ids.
    topics: tuple[str, ...] = ()
    #: The entities named in its lead (:data:`LEAD_CHARS`).
    lead_entities: tuple[int, ...] = ()
    #: Its unit embedding, if it has one.
    vector: Vector | None = None
    #: When it was published (epoch seconds; 0 when unknown).
    published: float = 0.0


@dataclass(frozen=True, slots=True)
class ReaderState:
    """What the scorer knows of a reader. Values of follows are stored interest values."""

    #: kind -> {value: label} of what the reader follows.
    follows: Mapping[InterestKind, Mapping[str, str]] = field(default_factory=dict)
    #: What the reader never wants to see.
    mutes: Mutes = field(default_factory=Mutes)
    #: Unit vectors of articles the reader engaged with, newest first, and their ids.
    liked: Vector | None = None
    liked_ids: tuple[int, ...] = ()
    #: Titles of liked articles by id, for "like the article you read" reasons: filled for
    #: the few a page's reasons name (:meth:`Ranker.page`), not for all.
    liked_titles: Mapping[int, str] = field(default_factory=dict)
    #: Unit vectors of articles the reader rejected.
    disliked: Vector | None = None
    #: Articles the reader opened or read; articles they hid.
    read: frozenset[int] = frozenset()
    hidden: frozenset[int] = frozenset()
    #: Source id -> engagement relative to the reader's average (log scale, 0 = average).
    source_affinity: Mapping[int, float] = field(default_factory=dict)
    #: Topics of articles the reader engaged with or follows: what is not new to them.
    known_topics: frozenset[str] = frozenset()
    #: Topic id -> engagement relative to the reader's average (as ``source_affinity``): what
    #: the reader reads about without having followed it.
    topic_affinity: Mapping[str, float] = field(default_factory=dict)
    #: Entity id -> the same, for entities named in the lead.
    entity_affinity: Mapping[int, float] = field(default_factory=dict)
    #: Topics and entities the reader has read about often enough to be told so
    #: (:data:`OFTEN_READS` over :data:`OFTEN_DAYS`).
    often_topics: frozenset[str] = frozenset()
    often_entities: frozenset[int] = frozenset()
    #: Articles this reader was shown, and engaged with, within the popularity window: their
    #: own part of the counts, which an article's popularity for them leaves out.
    own_shown: frozenset[int] = frozenset()
    own_engaged: frozenset[int] = frozenset()
    #: Share of impressions engaged with, over all readers and the page's candidates: what an
    #: article's own rate is compared with (set when a page is scored: :func:`engagement_rate`).
    engagement_rate: float = 0.1

    @property
    def is_new(self) -> bool:
        """No follows and no engagement yet."""
        return not any(self.follows.values()) and self.liked is None


def _int(value: str) -> int | None:
    return int(value) if value.isdecimal() and str(int(value)) == value else None


def mutes_of(interests: Iterable[Interest]) -> Mutes:
    """The reader's mutes, as page assembly applies them."""
    muted: dict[InterestKind, set[str]] = {}
    for i in interests:
        if i.stance is Stance.MUTE:
            muted.setdefault(i.kind, set()).add(i.value)

    def ints(kind: InterestKind) -> frozenset[int]:
        return frozenset(n for v in muted.get(kind, ()) if (n := _int(v)) is not None)

    return Mutes(
        topic_ids=frozenset(muted.get(InterestKind.TOPIC, ())),
        entity_ids=ints(InterestKind.ENTITY),
        source_ids=ints(InterestKind.SOURCE),
        authors=frozenset(muted.get(InterestKind.AUTHOR, ())),
        story_ids=ints(InterestKind.STORY),
        keywords=frozenset(muted.get(InterestKind.KEYWORD, ())),
    )


def reader_state(
    interests: Iterable[Interest],
    events: Sequence[ReaderEvent] | EventColumns,
    seen: Mapping[int, Seen],
    now: datetime,
    *,
    habits: bool = True,
) -> ReaderState:
    """The reader as ranking sees them at ``now`` from these follows, mutes and events.

    ``events`` are the reader's events, newest first (as storage gives them, as objects or
    as columns); the state of
    a past moment is built from the interests and events of before it (:func:`as_of`).
    ``seen`` holds what is known of the articles the events are about; events about others
    (removed, or not analysed) count for what they say of the reader's own history only.
    Without ``habits`` the topics and entities read about often are left out: they shape
    reasons only, which learning does not read.
    """
    follows: dict[InterestKind, dict[str, str]] = {}
    kept = list(interests)
    for i in kept:
        if i.stance is Stance.FOLLOW:
            follows.setdefault(i.kind, {})[i.value] = i.label or i.value
    popularity_day = int((now - POPULARITY_WINDOW).timestamp() // 86400)
    # One pass over the events, newest first: (kind, article, recent, engaged, UTC day).
    passes: Iterable[tuple[EventKind, int, bool, bool, int]]
    if isinstance(events, EventColumns):
        passes = _passes(events, popularity_day)
    else:
        passes = (
            (
                e.kind,
                e.article_id,
                e.at.timestamp() // 86400 >= popularity_day,
                engaged(e),
                e.at.toordinal(),
            )
            for e in events
        )
    engaged_ids: dict[int, None] = {}
    rejected: dict[int, None] = {}
    hidden: set[int] = set()
    opened: set[int] = set()
    impressions: list[int] = []
    habit: list[tuple[Seen, int]] = []
    own_shown: set[int] = set()
    own_engaged: set[int] = set()
    shown_by_source: dict[int, int] = {}
    clicked_by_source: dict[int, int] = {}
    impression, read, opening = EventKind.IMPRESSION, EventKind.READ, EventKind.OPEN
    for kind, article, recent, engages, day in passes:
        found = seen.get(article)
        if kind is impression:
            if len(impressions) < AFFINITY_IMPRESSIONS:
                impressions.append(article)
            if found is not None:
                shown_by_source[found.source_id] = shown_by_source.get(found.source_id, 0) + 1
            if recent:
                own_shown.add(article)
            continue
        if kind is read or kind is opening:
            opened.add(article)
        if kind in REJECTIONS:
            rejected[article] = None
            if kind is EventKind.HIDE:
                hidden.add(article)
        if recent and kind in (opening, EventKind.SAVE, EventKind.SHARE):
            own_engaged.add(article)
        if engages:
            engaged_ids[article] = None
            if found is not None:
                clicked_by_source[found.source_id] = clicked_by_source.get(found.source_id, 0) + 1
                if habits:
                    habit.append((found, day))
    liked = [f for a in engaged_ids if (f := seen.get(a)) is not None and f.vector is not None]
    disliked = [f for a in rejected if (f := seen.get(a)) is not None and f.vector is not None]
    met = dict.fromkeys(impressions) | engaged_ids
    topic_affinity, entity_affinity = learned_affinities(
        (found, a in engaged_ids) for a in met if (found := seen.get(a)) is not None
    )
    often_topics, often_entities = often_read(habit) if habits else (frozenset(), frozenset())
    known = {t for s in liked for t in s.topics} | set(follows.get(InterestKind.TOPIC, {}))
    return ReaderState(
        follows=follows,
        mutes=mutes_of(kept),
        liked=stack([s.vector for s in liked if s.vector is not None]),
        liked_ids=tuple(s.article_id for s in liked),
        disliked=stack([s.vector for s in disliked if s.vector is not None]),
        read=frozenset(opened),
        hidden=frozenset(hidden),
        source_affinity=affinities(clicked_by_source, shown_by_source),
        known_topics=frozenset(known),
        topic_affinity=topic_affinity,
        entity_affinity=entity_affinity,
        often_topics=often_topics,
        often_entities=often_entities,
        own_shown=frozenset(own_shown),
        own_engaged=frozenset(own_engaged),
    )


#: Microseconds in a day.
_DAY_US = 86_400_000_000


def _passes(
    events: EventColumns, popularity_day: int
) -> Iterable[tuple[EventKind, int, bool, bool, int]]:
    """What :func:`reader_state` looks at of each event, from columns: its kind, article,
    whether it is within the popularity window, whether it shows interest (:func:`engaged`)
    and its UTC day, each column computed at once."""
    kinds = [EVENT_KINDS[k] for k in events.kind.tolist()]
    days = events.at.astype(np.int64) // _DAY_US
    return zip(
        kinds,
        events.article_id.tolist(),
        (days >= popularity_day).tolist(),
        engaged_columns(events).tolist(),
        days.tolist(),
        strict=True,
    )


def engaged_columns(events: EventColumns) -> npt.NDArray[np.bool_]:
    """:func:`engaged` of every event of the columns."""
    kind = events.kind
    found: npt.NDArray[np.bool_] = np.isin(kind, _ENGAGING_CODES) | (
        (kind == EVENT_CODES[EventKind.READ])
        & events.has_value
        & (events.value >= ENGAGED_READ_SECONDS)
    )
    return found


def as_of(
    interests: Iterable[Interest], events: Sequence[ReaderEvent], moment: datetime
) -> tuple[list[Interest], list[ReaderEvent]]:
    """The follows and mutes made before ``moment`` (those of unknown time included) and the
    events before it: what the reader had told us then."""
    return (
        [i for i in interests if i.created is None or i.created <= moment],
        [e for e in events if e.at < moment],
    )


def learned_affinities(
    seen: Iterable[tuple[Seen, bool]],
) -> tuple[dict[str, float], dict[int, float]]:
    """A reader's topic and entity affinities (see :func:`affinities`) from the articles they
    were shown or engaged with, each with whether they engaged with it: what they read about
    without having followed it. Entities count when named in the lead."""
    topic_seen: dict[str, int] = {}
    topic_read: dict[str, int] = {}
    entity_seen: dict[int, int] = {}
    entity_read: dict[int, int] = {}
    for facts, read_it in seen:
        for t in facts.topics:
            topic_seen[t] = topic_seen.get(t, 0) + 1
            if read_it:
                topic_read[t] = topic_read.get(t, 0) + 1
        for e in facts.lead_entities:
            entity_seen[e] = entity_seen.get(e, 0) + 1
            if read_it:
                entity_read[e] = entity_read.get(e, 0) + 1
    return affinities(topic_read, topic_seen), affinities(entity_read, entity_seen)


def often_read(
    engagements: Iterable[tuple[Seen, int]],
) -> tuple[frozenset[str], frozenset[int]]:
    """Topics and entities the reader engaged with in at least :data:`OFTEN_READS`
    different articles on at least :data:`OFTEN_DAYS` different UTC days (each engagement
    with the number of its day)."""
    topic_articles: dict[str, set[int]] = {}
    topic_days: dict[str, set[int]] = {}
    entity_articles: dict[int, set[int]] = {}
    entity_days: dict[int, set[int]] = {}
    for facts, day in engagements:
        for t in facts.topics:
            topic_articles.setdefault(t, set()).add(facts.article_id)
            topic_days.setdefault(t, set()).add(day)
        for e in facts.lead_entities:
            entity_articles.setdefault(e, set()).add(facts.article_id)
            entity_days.setdefault(e, set()).add(day)
    topics = frozenset(
        t
        for t, found in topic_articles.items()
        if len(found) >= OFTEN_READS and len(topic_days[t]) >= OFTEN_DAYS
    )
    entities = frozenset(
        e
        for e, found in entity_articles.items()
        if len(found) >= OFTEN_READS and len(entity_days[e]) >= OFTEN_DAYS
    )
    return topics, entities


def affinities(
    engaged: Mapping[K, int], shown: Mapping[K, int], prior: float = AFFINITY_PRIOR
) -> dict[K, float]:
    """Per key (a source, topic or entity), the log ratio of its engagement rate to the
    reader's overall rate, with a prior of ``prior`` impressions at the overall rate."""
    total_shown = sum(shown.values())
    if not total_shown:
        return {}
    overall = (sum(engaged.values()) + 1.0) / (total_shown + 2.0)
    out: dict[K, float] = {}
    for key, n in shown.items():
        rate = (engaged.get(key, 0) + prior * overall) / (n + prior)
        out[key] = math.log(rate / overall)
    return out


def engagement_rate(shown: npt.NDArray[np.int64], engaged: npt.NDArray[np.int64]) -> float:
    """The share of impressions engaged with over some articles' counts, with one engagement
    in ten impressions of prior: what each article's own rate is compared with."""
    return (float(engaged.sum()) + 1.0) / (float(shown.sum()) + 10.0)


def stack(vectors: Sequence[Vector]) -> Vector | None:
    """Rows as one matrix, or None for none."""
    return np.stack(vectors).astype(np.float32) if vectors else None


def source_usefulness(
    events: Iterable[ReaderEvent], source_of: Mapping[int, int]
) -> dict[int, tuple[int, int, int]]:
    """Per source id, from a reader's events: (articles seen: shown on a page or reached
    otherwise, articles read, articles liked: saved, shared or asked more of). Counts of
    distinct articles, so that read and liked never exceed seen. ``source_of`` maps the
    events' articles to their sources; events about others are left out."""
    liked_kinds = (EventKind.SAVE, EventKind.SHARE, EventKind.MORE)
    sets: dict[int, tuple[set[int], set[int], set[int]]] = {}
    for e in events:
        source = source_of.get(e.article_id)
        if source is None:
            continue
        shown, read, liked = sets.setdefault(source, (set(), set(), set()))
        shown.add(e.article_id)
        if engaged(e) and e.kind in (EventKind.OPEN, EventKind.READ):
            read.add(e.article_id)
        if e.kind in liked_kinds:
            liked.add(e.article_id)
    return {s: (len(a), len(b), len(c)) for s, (a, b, c) in sets.items()}
