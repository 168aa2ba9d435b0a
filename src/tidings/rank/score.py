"""Scoring one article for one reader, with the reasons behind the score. Pure.

A score is a weighted sum of features (:class:`Weights`), so every term is a reason the
reader can read and act on: "You follow Xi Jinping" carries the follow's weight and the
action that removes it. The features:

- follows: the article names a followed entity (more when early in the text), carries a
  followed topic (times the topic's confidence), comes from a followed source, is by a
  followed author, belongs to a followed story, or contains a followed keyword;
- taste: its embedding's cosine to the closest article the reader engaged with (opened for
  long, saved, shared, "more like this") minus that to the closest one they rejected ("less
  like this", "hide"), counted above a floor where cosines start to mean "same subject";
- source affinity: how the reader's engagement with this source compares with their average;
- importance: how many sources cover its story, and how fast the story grows;
- freshness: exponential decay with a half-life that suits the topic (sport and breaking
  news go stale in hours, analysis and culture in days);
- quality: a bare teaser and clickbait headlines cost a little.

The default weights are a judgement (follows dominate, taste next, importance and freshness
order the rest); learning from a reader's events adjusts them per reader (issue 5 goes on).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from tidings.rank.assemble import Action, ActionVerb, Reason, ReasonKind, TargetKind
from tidings.types import ArticleFacts, InterestKind

Vector = npt.NDArray[np.float32]
K = TypeVar("K", int, str)

#: Cosines of MiniLM embeddings below this say little: unrelated news leads sit around
#: 0.0-0.2 (an earthquake and a stock-market report: 0.04), leads on one kind of event
#: around 0.3-0.5 (an earthquake and a flood: 0.34), one story 0.6 and up.
TASTE_FLOOR = 0.3
#: Entities first named within this many characters are what the article is about.
LEAD_CHARS = 300
#: Freshness half-lives by topic, in hours; the rest use :data:`DEFAULT_HALF_LIFE`.
HALF_LIVES = {
    "medtop:15000000": 12.0,  # sport
    "medtop:03000000": 12.0,  # disaster, accident and emergency incident
    "medtop:01000000": 72.0,  # arts, culture, entertainment and media
    "medtop:13000000": 72.0,  # science and technology
    "medtop:10000000": 72.0,  # lifestyle and leisure
}
DEFAULT_HALF_LIFE = 24.0
#: How strongly a reader's own weights are pulled toward the global ones (L2, in units of
#: impressions' log-likelihood): about this many impressions of evidence move a weight by
#: its own size.
PRIOR_STRENGTH = 20.0
#: Log-lift of a learned topic or entity affinity from which it is shown as a reason (the
#: reader engages with it about 1.6 times as often as with the rest).
AFFINITY_REASON = 0.5
#: Impressions at the overall engagement rate an article's own rate starts from. The MIND
#: evaluation's click-rate scorer found 10 best on its grid (5, 10, 20, 50).
POPULARITY_PRIOR = 10.0
_CLICKBAIT = re.compile(
    r"you won'?t believe|will blow your mind|what happened next|this one trick|"
    r"^\d+ (?:things|reasons|ways)|shocking|!!",
    re.IGNORECASE,
)

#: Every headline :data:`_CLICKBAIT` matches contains one of these once case-folded (or starts
#: with a digit): a cheap test that spares most headlines the regular expression.
_CLICKBAIT_WORDS = ("believe", "mind", "next", "trick", "shocking", "!!")


def _int_keys(values: Mapping[str, str]) -> frozenset[int]:
    """The stored values that are an integer id's own decimal text, as integers."""
    return frozenset(int(v) for v in values if v.isdecimal() and str(int(v)) == v)


def _maybe_clickbait(title: str) -> bool:
    if title[:1].isdigit():
        return True
    folded = title.casefold()
    return any(w in folded for w in _CLICKBAIT_WORDS)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each feature counts. Follows dominate: a followed entity outranks a top story
    on a subject the reader never asked for."""

    follow_entity: float = 3.0
    follow_topic: float = 2.5
    follow_source: float = 1.5
    follow_author: float = 2.0
    follow_story: float = 3.0
    follow_keyword: float = 2.0
    taste: float = 4.0
    distaste: float = 4.0
    source_affinity: float = 0.5
    importance: float = 0.8
    velocity: float = 0.4
    freshness: float = 1.0
    teaser: float = 0.3
    clickbait: float = 0.5
    popularity: float = 1.0
    topic_affinity: float = 1.5
    entity_affinity: float = 1.5


@dataclass(frozen=True, slots=True)
class ReaderState:
    """What the scorer knows of a reader. Values of follows are stored interest values."""

    #: kind -> {value: label} of what the reader follows.
    follows: Mapping[InterestKind, Mapping[str, str]] = field(default_factory=dict)
    #: Unit vectors of articles the reader engaged with, and their titles (row-aligned).
    liked: Vector | None = None
    liked_titles: tuple[str, ...] = ()
    #: The ids of those articles (row-aligned): an article is not "like" itself.
    liked_ids: tuple[int, ...] = ()
    #: Unit vectors of articles the reader rejected.
    disliked: Vector | None = None
    #: Articles the reader opened.
    read: frozenset[int] = frozenset()
    #: Source id -> engagement relative to the reader's average (log scale, 0 = average).
    source_affinity: Mapping[int, float] = field(default_factory=dict)
    #: Topics of articles the reader engaged with or follows: what is not new to them.
    known_topics: frozenset[str] = frozenset()
    #: Topic id -> engagement relative to the reader's average (as ``source_affinity``): what
    #: the reader reads about without having followed it.
    topic_affinity: Mapping[str, float] = field(default_factory=dict)
    #: Entity id -> the same, for entities named in the lead.
    entity_affinity: Mapping[int, float] = field(default_factory=dict)
    #: Share of impressions engaged with, over all readers and recent articles: what an
    #: article's own rate is compared with.
    engagement_rate: float = 0.1

    @property
    def is_new(self) -> bool:
        """No follows and no engagement yet."""
        return not any(self.follows.values()) and self.liked is None


def half_life(facts: ArticleFacts) -> float:
    """Hours for the article's freshness to halve, by its most confident topic."""
    for topic_id, _, _ in sorted(facts.topics, key=lambda t: -t[2]):
        if topic_id in HALF_LIVES:
            return HALF_LIVES[topic_id]
    return DEFAULT_HALF_LIFE


def _affinity_term(
    found: Sequence[tuple[float, int | str, str]],
    weight: float,
    kind: ReasonKind,
    verb: ActionVerb,
    target: TargetKind,
) -> tuple[float, Reason | None] | None:
    """The value of a learned affinity term over the article's matching ``(affinity, id,
    name)``: its best positive and its worst negative affinity count; the best is a reason
    when strong enough. None when nothing matches."""
    if not found:
        return None
    top = max(found)
    low = min(found)
    value = weight * (max(top[0], 0.0) + min(low[0], 0.0))
    reason = None
    if top[0] >= AFFINITY_REASON:
        reason = Reason(
            kind=kind,
            text=f"You often read about {top[2]}",
            weight=value,
            action=_action(verb, target, top[1], f"Less about {top[2]}"),
        )
    return value, reason


def _action(verb: ActionVerb, kind: TargetKind, target: int | str, label: str) -> Action:
    return Action(verb=verb, target_kind=kind, target_id=target, label=label)


@dataclass(frozen=True, slots=True)
class Scored:
    """One article's features for one reader, ready to be weighed."""

    #: Feature values in :data:`FEATURES` order (each term at weight 1).
    features: npt.NDArray[np.float64]
    #: The reasons at weight 1, and the feature each belongs to.
    reasons: tuple[tuple[str, Reason], ...]
    exploring: bool

    def weigh(self, weights: npt.NDArray[np.float64]) -> tuple[float, tuple[Reason, ...]]:
        """The score under ``weights`` (in :data:`FEATURES` order) and the reasons with
        their weighed contributions, largest first."""
        score = float(self.features @ weights)
        reasons = [
            replace(r, weight=r.weight * float(weights[FEATURE_INDEX[name]]))
            for name, r in self.reasons
        ]
        reasons = [r for r in reasons if r.weight > 0 or r.kind is ReasonKind.EXPLORING]
        reasons.sort(key=lambda r: -r.weight)
        return score, tuple(reasons)


#: The features, in the order of feature vectors and weight vectors.
FEATURES: tuple[str, ...] = tuple(f.name for f in fields(Weights))
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}


def weight_vector(weights: Weights | None = None) -> npt.NDArray[np.float64]:
    w = weights or Weights()
    return np.array([getattr(w, name) for name in FEATURES], dtype=np.float64)


def featurize(
    state: ReaderState, facts: ArticleFacts, vector: Vector | None, now: datetime
) -> Scored:
    """The article's features for the reader (see :class:`Scored`)."""
    _, reasons, exploring, terms, names = _evaluate(state, facts, vector, now, UNIT)
    values = np.zeros(len(FEATURES), dtype=np.float64)
    for name, value in terms.items():
        values[FEATURE_INDEX[name]] = value
    return Scored(values, tuple(zip(names, reasons, strict=True)), exploring)


def score_article(
    state: ReaderState,
    facts: ArticleFacts,
    vector: Vector | None,
    now: datetime,
    weights: Weights | None = None,
) -> tuple[float, tuple[Reason, ...], bool]:
    """The article's score for the reader, its reasons (largest first), and whether it is
    outside the reader's known interests (an exploration candidate)."""
    score, reasons, exploring, _, _ = _evaluate(state, facts, vector, now, weights or Weights())
    return score, tuple(sorted(reasons, key=lambda r: -r.weight)), exploring


def _evaluate(
    state: ReaderState,
    facts: ArticleFacts,
    vector: Vector | None,
    now: datetime,
    w: Weights,
) -> tuple[float, list[Reason], bool, dict[str, float], list[str]]:
    reasons: list[Reason] = []
    reason_terms: list[str] = []
    terms: dict[str, float] = {}
    score = 0.0
    follows = state.follows

    def add(name: str, value: float, reason: Reason | None = None) -> None:
        nonlocal score
        score += value
        terms[name] = terms.get(name, 0.0) + value
        if reason is not None and value:
            reasons.append(reason)
            reason_terms.append(name)

    followed_entities = follows.get(InterestKind.ENTITY, {})
    for entity_id, name, offset in facts.entities:
        if str(entity_id) in followed_entities:
            value = w.follow_entity * (1.0 if offset < LEAD_CHARS else 0.5)
            add(
                "follow_entity",
                value,
                Reason(
                    kind=ReasonKind.FOLLOW_ENTITY,
                    text=f"You follow {name}",
                    weight=value,
                    action=_action(
                        ActionVerb.UNFOLLOW, TargetKind.ENTITY, entity_id, f"Unfollow {name}"
                    ),
                ),
            )
            break
    followed_topics = follows.get(InterestKind.TOPIC, {})
    best_topic = max(
        ((conf, tid, label) for tid, label, conf in facts.topics if tid in followed_topics),
        default=None,
    )
    if best_topic is not None:
        conf, tid, label = best_topic
        value = w.follow_topic * conf
        add(
            "follow_topic",
            value,
            Reason(
                kind=ReasonKind.FOLLOW_TOPIC,
                text=f"You follow {label}",
                weight=value,
                action=_action(ActionVerb.UNFOLLOW, TargetKind.TOPIC, tid, f"Unfollow {label}"),
            ),
        )
    if str(facts.source_id) in follows.get(InterestKind.SOURCE, {}):
        add(
            "follow_source",
            w.follow_source,
            Reason(
                kind=ReasonKind.FOLLOW_SOURCE,
                text=f"You follow {facts.source_name}",
                weight=w.follow_source,
                action=_action(
                    ActionVerb.UNFOLLOW,
                    TargetKind.SOURCE,
                    facts.source_id,
                    f"Unfollow {facts.source_name}",
                ),
            ),
        )
    followed_authors = follows.get(InterestKind.AUTHOR, {})
    for author in facts.authors:
        if author.casefold() in followed_authors:
            add(
                "follow_author",
                w.follow_author,
                Reason(
                    kind=ReasonKind.FOLLOW_AUTHOR,
                    text=f"You follow {author}",
                    weight=w.follow_author,
                    action=_action(
                        ActionVerb.UNFOLLOW,
                        TargetKind.AUTHOR,
                        author.casefold(),
                        f"Unfollow {author}",
                    ),
                ),
            )
            break
    if facts.story_id is not None and str(facts.story_id) in follows.get(InterestKind.STORY, {}):
        add(
            "follow_story",
            w.follow_story,
            Reason(
                kind=ReasonKind.FOLLOW_STORY,
                text="You follow this story",
                weight=w.follow_story,
                action=_action(
                    ActionVerb.UNFOLLOW, TargetKind.STORY, facts.story_id, "Unfollow this story"
                ),
            ),
        )
    keywords = follows.get(InterestKind.KEYWORD, {})
    if keywords:
        text = f"{facts.title or ''} {facts.summary or ''}".casefold()
        for keyword, label in keywords.items():
            if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text):
                add(
                    "follow_keyword",
                    w.follow_keyword,
                    Reason(
                        kind=ReasonKind.FOLLOW_TOPIC,
                        text=f"Mentions {label}, which you follow",
                        weight=w.follow_keyword,
                        action=_action(
                            ActionVerb.UNFOLLOW, TargetKind.TOPIC, keyword, f"Unfollow {label}"
                        ),
                    ),
                )
                break

    if vector is not None and state.liked is not None and len(state.liked):
        sims = state.liked @ vector
        for row, liked_id in enumerate(state.liked_ids):
            if liked_id == facts.article_id:
                sims[row] = -1.0
        best = int(np.argmax(sims))
        value = w.taste * max(0.0, float(sims[best]) - TASTE_FLOOR)
        if value > 0:
            title = state.liked_titles[best] if best < len(state.liked_titles) else "one"
            add(
                "taste",
                value,
                Reason(
                    kind=ReasonKind.SIMILAR_TO_READ,
                    text=f"Like the article on \u201c{title}\u201d you read",
                    weight=value,
                    action=_action(
                        ActionVerb.FEWER_LIKE_THIS,
                        TargetKind.ARTICLE,
                        facts.article_id,
                        "Fewer like this",
                    ),
                ),
            )
    if vector is not None and state.disliked is not None and len(state.disliked):
        worst = float(np.max(state.disliked @ vector))
        add("distaste", -w.distaste * max(0.0, worst - TASTE_FLOOR))

    topic_term = _affinity_term(
        [
            (state.topic_affinity[t], t, label)
            for t, label, _ in facts.topics
            if t in state.topic_affinity
        ],
        w.topic_affinity,
        ReasonKind.FOLLOW_TOPIC,
        ActionVerb.MUTE_TOPIC,
        TargetKind.TOPIC,
    )
    if topic_term is not None:
        add("topic_affinity", *topic_term)
    entity_term = _affinity_term(
        [
            (state.entity_affinity[e], e, name)
            for e, name, offset in facts.entities
            if offset < LEAD_CHARS and e in state.entity_affinity
        ],
        w.entity_affinity,
        ReasonKind.FOLLOW_ENTITY,
        ActionVerb.MUTE_ENTITY,
        TargetKind.ENTITY,
    )
    if entity_term is not None:
        add("entity_affinity", *entity_term)

    affinity = state.source_affinity.get(facts.source_id, 0.0)
    add("source_affinity", w.source_affinity * affinity)

    importance = w.importance * math.log1p(max(facts.story_sources - 1, 0))
    if facts.story_sources >= 3:
        add(
            "importance",
            importance,
            Reason(
                kind=ReasonKind.TOP_STORY,
                text=f"Top story: {facts.story_sources} sources",
                weight=importance,
                action=_action(
                    ActionVerb.MUTE_STORY, TargetKind.STORY, facts.story_id or 0, "Mute this story"
                ),
            ),
        )
    else:
        add("importance", importance)
    velocity = w.velocity * math.log1p(max(facts.story_recent - 1, 0))
    if facts.story_recent >= 4:
        add(
            "velocity",
            velocity,
            Reason(
                kind=ReasonKind.TRENDING,
                text=f"Growing fast: {facts.story_recent} articles in a day",
                weight=velocity,
                action=_action(
                    ActionVerb.MUTE_STORY, TargetKind.STORY, facts.story_id or 0, "Mute this story"
                ),
            ),
        )
    else:
        add("velocity", velocity)

    if facts.shown:
        # Smoothed toward the overall rate by POPULARITY_PRIOR impressions, so an article
        # shown twice and opened once is not yet a hit (the MIND click-rate baseline's rule).
        base = min(max(state.engagement_rate, 1e-3), 0.999)
        rate = (facts.engaged + POPULARITY_PRIOR * base) / (facts.shown + POPULARITY_PRIOR)
        lift = math.log(rate / base)
        value = w.popularity * lift
        reason = None
        if facts.engaged >= 5 and lift > 0.5:
            reason = Reason(
                kind=ReasonKind.TRENDING,
                text=f"Popular: opened by {facts.engaged} readers",
                weight=value,
                action=_action(
                    ActionVerb.FEWER_LIKE_THIS,
                    TargetKind.ARTICLE,
                    facts.article_id,
                    "Fewer like this",
                ),
            )
        add("popularity", value, reason)

    age_hours = max((now - facts.published).total_seconds() / 3600.0, 0.0)
    add("freshness", w.freshness * 0.5 ** (age_hours / half_life(facts)))
    if facts.body_chars < 300:
        add("teaser", -w.teaser)
    if facts.title and _CLICKBAIT.search(facts.title):
        add("clickbait", -w.clickbait)

    topic_ids = {t for t, _, _ in facts.topics}
    exploring = bool(
        not state.is_new and topic_ids and not topic_ids & state.known_topics and not reasons
    )
    if exploring:
        main = max(facts.topics, key=lambda t: t[2])
        reason_terms.append("freshness")
        reasons.append(
            Reason(
                kind=ReasonKind.EXPLORING,
                text=f"Exploring: {main[1]} is new for you",
                weight=0.0,
                action=_action(
                    ActionVerb.LESS_EXPLORATION,
                    TargetKind.SETTING,
                    "exploration",
                    "Explore less",
                ),
            )
        )
    return score, reasons, exploring, terms, reason_terms


#: Every feature at weight 1: what :func:`featurize` measures with.
UNIT = Weights(**{f.name: 1.0 for f in fields(Weights)})


def featurize_many(
    state: ReaderState,
    facts: Sequence[ArticleFacts],
    vectors: Vector | None,
    now: datetime | Sequence[datetime],
    *,
    engagement: Mapping[int, tuple[int, int]] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """:func:`featurize` of many articles at once, without their reasons: the feature matrix
    (one row per article, in :data:`FEATURES` order) and which articles are exploration
    candidates. ``vectors`` holds the articles' unit embeddings row-aligned with ``facts``
    (a row of zeros where an article has none), or is None when none has one; ``now`` is
    one time for all, or one per article (the moments impressions were shown);
    ``engagement`` (article id -> times shown, times engaged), where given, stands for the
    facts' own ``shown`` and ``engaged``.

    The similarities are one matrix product and the rest a plain loop of set lookups, some
    twenty times faster than :func:`featurize` per article; build reasons with
    :func:`featurize` only for the articles a page shows."""
    n = len(facts)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    exploring = np.zeros(n, dtype=np.bool_)
    if not n:
        return out, exploring
    # Whether a term at weight 1 gave a reason (the exploration rule looks at that).
    reasoned = np.zeros(n, dtype=np.bool_)
    col = FEATURE_INDEX
    if vectors is not None and state.liked is not None and len(state.liked):
        sims = state.liked @ vectors.T
        if state.liked_ids:
            where: dict[int, list[int]] = {}
            for i, f in enumerate(facts):
                where.setdefault(f.article_id, []).append(i)
            for row, liked_id in enumerate(state.liked_ids):
                for i in where.get(liked_id, ()):
                    sims[row, i] = -1.0
        taste = np.maximum(sims.max(axis=0).astype(np.float64) - TASTE_FLOOR, 0.0)
        out[:, col["taste"]] = taste
        reasoned |= taste > 0
    if vectors is not None and state.disliked is not None and len(state.disliked):
        worst = (state.disliked @ vectors.T).max(axis=0).astype(np.float64)
        out[:, col["distaste"]] = -np.maximum(worst - TASTE_FLOOR, 0.0)

    follows = state.follows
    # Followed ids as the integers facts carry (a stored value matches when it is the id's
    # own decimal text, as ``str(id) in follows`` asks).
    f_entities = _int_keys(follows.get(InterestKind.ENTITY, {}))
    f_topics = follows.get(InterestKind.TOPIC, {})
    f_sources = _int_keys(follows.get(InterestKind.SOURCE, {}))
    f_authors = follows.get(InterestKind.AUTHOR, {})
    f_stories = _int_keys(follows.get(InterestKind.STORY, {}))
    keywords = follows.get(InterestKind.KEYWORD, {})
    # One pattern for all keywords ("contains any" is all the feature asks), tried only on
    # text that contains one as a substring: most do not, and a plain ``in`` is far cheaper.
    keyword = (
        re.compile("|".join(rf"(?<!\w){re.escape(k)}(?!\w)" for k in keywords))
        if keywords
        else None
    )
    needles = tuple(keywords)
    topic_affinity = state.topic_affinity
    entity_affinity = state.entity_affinity
    source_affinity = state.source_affinity
    known = state.known_topics
    is_new = state.is_new
    base = min(max(state.engagement_rate, 1e-3), 0.999)
    times = [now] * n if isinstance(now, datetime) else list(now)
    log1p, log = math.log1p, math.log
    # Plain lists per feature, one matrix at the end: numpy item assignment costs more.
    f_entity = [0.0] * n
    f_topic = [0.0] * n
    f_source = [0.0] * n
    f_author = [0.0] * n
    f_story = [0.0] * n
    f_keyword = [0.0] * n
    topic_aff = [0.0] * n
    entity_aff = [0.0] * n
    source_aff = [0.0] * n
    importance = [0.0] * n
    velocity = [0.0] * n
    popularity = [0.0] * n
    freshness = [0.0] * n
    teaser = [0.0] * n
    clickbait = [0.0] * n
    taste_reasons = reasoned.tolist()
    for i, f in enumerate(facts):
        reason = False
        if f_entities:
            for entity_id, _, offset in f.entities:
                if entity_id in f_entities:
                    f_entity[i] = 1.0 if offset < LEAD_CHARS else 0.5
                    reason = True
                    break
        if f_topics:
            best = max((conf for tid, _, conf in f.topics if tid in f_topics), default=None)
            if best is not None:
                f_topic[i] = best
                reason = reason or best != 0
        if f.source_id in f_sources:
            f_source[i] = 1.0
            reason = True
        if f_authors:
            for author in f.authors:
                if author.casefold() in f_authors:
                    f_author[i] = 1.0
                    reason = True
                    break
        if f.story_id in f_stories:
            f_story[i] = 1.0
            reason = True
        if keyword is not None:
            text = f"{f.title or ''} {f.summary or ''}".casefold()
            if any(k in text for k in needles) and keyword.search(text):
                f_keyword[i] = 1.0
                reason = True
        if topic_affinity:
            found = [topic_affinity[t] for t, _, _ in f.topics if t in topic_affinity]
            if found:
                top, low = max(found), min(found)
                value = max(top, 0.0) + min(low, 0.0)
                topic_aff[i] = value
                reason = reason or (top >= AFFINITY_REASON and value != 0)
        if entity_affinity:
            found = [
                entity_affinity[e]
                for e, _, offset in f.entities
                if offset < LEAD_CHARS and e in entity_affinity
            ]
            if found:
                top, low = max(found), min(found)
                value = max(top, 0.0) + min(low, 0.0)
                entity_aff[i] = value
                reason = reason or (top >= AFFINITY_REASON and value != 0)
        source_aff[i] = source_affinity.get(f.source_id, 0.0)
        if f.story_sources > 1:
            importance[i] = log1p(f.story_sources - 1)
        if f.story_recent > 1:
            velocity[i] = log1p(f.story_recent - 1)
        reason = reason or f.story_sources >= 3 or f.story_recent >= 4
        n_shown, n_engaged = f.shown, f.engaged
        if engagement is not None:
            n_shown, n_engaged = engagement.get(f.article_id, (0, 0))
        if n_shown:
            rate = (n_engaged + POPULARITY_PRIOR * base) / (n_shown + POPULARITY_PRIOR)
            lift = log(rate / base)
            popularity[i] = lift
            reason = reason or (n_engaged >= 5 and lift > 0.5)
        # The most confident topic with a half-life of its own sets it (ties: the first).
        life, life_conf = DEFAULT_HALF_LIFE, -math.inf
        for tid, _, conf in f.topics:
            if conf > life_conf and tid in HALF_LIVES:
                life, life_conf = HALF_LIVES[tid], conf
        age_hours = max((times[i] - f.published).total_seconds() / 3600.0, 0.0)
        freshness[i] = 0.5 ** (age_hours / life)
        if f.body_chars < 300:
            teaser[i] = -1.0
        if f.title and _maybe_clickbait(f.title) and _CLICKBAIT.search(f.title):
            clickbait[i] = -1.0
        if not is_new and not reason and not taste_reasons[i] and f.topics:
            exploring[i] = all(t not in known for t, _, _ in f.topics)
    for name, values in (
        ("follow_entity", f_entity),
        ("follow_topic", f_topic),
        ("follow_source", f_source),
        ("follow_author", f_author),
        ("follow_story", f_story),
        ("follow_keyword", f_keyword),
        ("topic_affinity", topic_aff),
        ("entity_affinity", entity_aff),
        ("source_affinity", source_aff),
        ("importance", importance),
        ("velocity", velocity),
        ("popularity", popularity),
        ("freshness", freshness),
        ("teaser", teaser),
        ("clickbait", clickbait),
    ):
        out[:, col[name]] = values
    return out, exploring


def fit_weights(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64],
    prior: npt.NDArray[np.float64],
    *,
    strength: float = PRIOR_STRENGTH,
    iterations: int = 25,
) -> npt.NDArray[np.float64]:
    """Weights for one reader: logistic regression of engagement on the features of what
    they were shown, pulled toward ``prior`` (the global weights) with an L2 penalty of
    ``strength``. With few events the prior dominates, so a new reader's page is the global
    model's; with hundreds, their own habits take over. Newton steps on the penalised
    log-likelihood; an intercept absorbs the reader's overall click rate."""
    n, k = features.shape
    if n == 0:
        return prior.copy()
    x = np.hstack([features, np.ones((n, 1))])
    target = np.append(prior, 0.0)
    w = target.copy()
    w[-1] = np.log((labels.mean() + 1e-3) / (1 - labels.mean() + 1e-3))
    penalty = np.full(k + 1, strength)
    penalty[-1] = 1e-6  # the intercept is free
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - labels) + penalty * (w - target)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    return w[:-1]


def learned_affinities(
    seen: Iterable[tuple[ArticleFacts, bool]],
) -> tuple[dict[str, float], dict[int, float]]:
    """A reader's topic and entity affinities (see :func:`affinities`) from the articles they
    were shown or engaged with, each with whether they engaged with it: what they read about
    without having followed it. Entities count when named in the lead (:data:`LEAD_CHARS`)."""
    topic_seen: dict[str, int] = {}
    topic_read: dict[str, int] = {}
    entity_seen: dict[int, int] = {}
    entity_read: dict[int, int] = {}
    for facts, read_it in seen:
        for t, _, _ in facts.topics:
            topic_seen[t] = topic_seen.get(t, 0) + 1
            if read_it:
                topic_read[t] = topic_read.get(t, 0) + 1
        for e, _, offset in facts.entities:
            if offset < LEAD_CHARS:
                entity_seen[e] = entity_seen.get(e, 0) + 1
                if read_it:
                    entity_read[e] = entity_read.get(e, 0) + 1
    return affinities(topic_read, topic_seen), affinities(entity_read, entity_seen)


def affinities(
    engaged: Mapping[K, int], shown: Mapping[K, int], prior: float = 5.0
) -> dict[K, float]:
    """Per key (a source, topic or entity), the log ratio of its engagement rate to the
    reader's overall rate, with a prior of ``prior`` impressions at the overall rate (a source
    shown twice and opened once is not yet a favourite)."""
    total_shown = sum(shown.values())
    if not total_shown:
        return {}
    overall = (sum(engaged.values()) + 1.0) / (total_shown + 2.0)
    out: dict[K, float] = {}
    for source, n in shown.items():
        rate = (engaged.get(source, 0) + prior * overall) / (n + prior)
        out[source] = math.log(rate / overall)
    return out


def stack(vectors: Sequence[Vector]) -> Vector | None:
    """Rows as one matrix, or None for none."""
    return np.stack(vectors).astype(np.float32) if vectors else None
