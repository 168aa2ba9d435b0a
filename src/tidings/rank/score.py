"""Scoring articles for one reader, with the reasons behind each score. Pure.

A score is a weighted sum of features (:class:`Weights`), so every term is a reason the
reader can read and act on: "You follow Xi Jinping" carries the follow's weight and the
action that removes it. The features:

- follows: the article names a followed entity (more when early in the text), carries a
  followed topic (times the topic's confidence), comes from a followed source, is by a
  followed author, belongs to a followed story, or contains a followed keyword;
- taste: its embedding's cosine to the closest article the reader engaged with (opened for
  long, saved, shared, "more like this") minus that to the closest one they rejected ("less
  like this", "hide"), counted above a floor where cosines start to mean "same subject";
- affinities: how the reader's engagement with the article's source, topics and lead
  entities compares with their average (:mod:`tidings.rank.state`);
- importance: how many sources cover its story, and how fast the story grows;
- popularity: how other readers engaged with it lately, smoothed toward the overall rate;
- freshness: exponential decay with a half-life that suits the topic (sport and breaking
  news go stale in hours, analysis and culture in days);
- quality: a bare teaser and clickbait headlines cost a little.

Two implementations of the same features, held equal by a unit test: :func:`featurize`
computes a whole candidate pool's features at once from the window's columns (array
operations; what ranks every page and every MIND impression), and :func:`explain` one
article's features with the reasons behind them, for the few articles a page shows.

The default weights are a judgement (follows dominate, taste next, importance and freshness
order the rest); :mod:`tidings.rank.learn` fits them globally and per reader.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tidings.rank.state import LEAD_CHARS, ReaderState
from tidings.rank.window import (
    TEASER_CHARS,
    Columns,
    Joined,
    half_life_of,
    is_clickbait,
    keyword_text,
)
from tidings.types import (
    Action,
    ActionVerb,
    ArticleFacts,
    InterestKind,
    Reason,
    ReasonKind,
    TargetKind,
)

Vector = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: Cosines of MiniLM embeddings below this say little: unrelated news leads sit around
#: 0.0-0.2 (an earthquake and a stock-market report: 0.04), leads on one kind of event
#: around 0.3-0.5 (an earthquake and a flood: 0.34), one story 0.6 and up.
TASTE_FLOOR = 0.3
#: Log-lift of a learned topic or entity affinity from which it is shown as a reason (the
#: reader engages with it about 1.6 times as often as with the rest), for topics and
#: entities the reader read about often (``state.OFTEN_READS``).
AFFINITY_REASON = 0.5
#: Impressions at the overall engagement rate an article's own rate starts from. The MIND
#: evaluation's click-rate scorer found 10 best on its grid (5, 10, 20, 50).
POPULARITY_PRIOR = 10.0
#: "Popular" is said of an article other readers engaged with at least this often (distinct
#: readers) and at a rate this far (log-lift) above the overall one: a handful of readers is
#: not popularity.
POPULAR_READERS = 5
POPULAR_LIFT = 0.5


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


#: The features, in the order of feature vectors and weight vectors.
FEATURES: tuple[str, ...] = tuple(f.name for f in fields(Weights))
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}
#: Every feature at weight 1: what :func:`explain` measures with.
UNIT = Weights(**{f.name: 1.0 for f in fields(Weights)})


def weight_vector(weights: Weights | None = None) -> Floats:
    w = weights or Weights()
    return np.array([getattr(w, name) for name in FEATURES], dtype=np.float64)


def others_counts(state: ReaderState, article_id: int, shown: int, engaged: int) -> tuple[int, int]:
    """An article's popularity counts without the reader's own part: readers other than the
    one reading (their own reloads and clicks must not make an article popular for them)."""
    if article_id in state.own_shown:
        shown = max(shown - 1, 0)
    if article_id in state.own_engaged:
        engaged = max(engaged - 1, 0)
    return shown, min(engaged, shown) if shown else engaged


# --- one article, with its reasons -------------------------------------------------------


def _affinity_term(
    found: Sequence[tuple[float, int | str, str, bool]],
    weight: float,
    kind: ReasonKind,
    verb: ActionVerb,
    target: TargetKind,
) -> tuple[float, Reason | None] | None:
    """The value of a learned affinity term over the article's matching ``(affinity, id,
    name, often)``: its best positive and its worst negative affinity count; the best is a
    reason when strong enough and read about often. None when nothing matches."""
    if not found:
        return None
    top = max(found, key=lambda f: (f[0], f[3]))
    low = min(f[0] for f in found)
    value = weight * (max(top[0], 0.0) + min(low, 0.0))
    reason = None
    if top[0] >= AFFINITY_REASON and top[3]:
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
    features: Floats
    #: The reasons at weight 1, and the feature each belongs to.
    reasons: tuple[tuple[str, Reason], ...]
    exploring: bool

    def weigh(self, weights: Floats) -> tuple[float, tuple[Reason, ...]]:
        """The score under ``weights`` (in :data:`FEATURES` order) and the reasons with
        their weighed contributions, largest first."""
        return float(self.features @ weights), _weighed(self.reasons, weights)


def _weighed(reasons: Iterable[tuple[str, Reason]], weights: Floats) -> tuple[Reason, ...]:
    """Reasons at weight 1 with their weighed contributions (each feature's weight in
    ``weights``), those that count, largest first."""
    # Made afresh rather than with dataclasses.replace, which looks the fields up on every
    # call (a page weighs a hundred reasons).
    weighed = [
        Reason(
            kind=r.kind,
            text=r.text,
            weight=r.weight * float(weights[FEATURE_INDEX[name]]),
            action=r.action,
        )
        for name, r in reasons
    ]
    weighed = [r for r in weighed if r.weight > 0 or r.kind is ReasonKind.EXPLORING]
    weighed.sort(key=lambda r: -r.weight)
    return tuple(weighed)


def explain(
    state: ReaderState, facts: ArticleFacts, vector: Vector | None, now: datetime
) -> Scored:
    """One article's features for the reader with the reasons behind them (see
    :class:`Scored`): what a page shows beside each item."""
    _, reasons, exploring, terms, names = _evaluate(state, facts, vector, now, UNIT)
    values = np.zeros(len(FEATURES), dtype=np.float64)
    for name, value in terms.items():
        values[FEATURE_INDEX[name]] = value
    return Scored(values, tuple(zip(names, reasons, strict=True)), exploring)


def reasons_for(
    state: ReaderState, facts: ArticleFacts, vector: Vector | None, now: datetime, weights: Floats
) -> tuple[Reason, ...]:
    """``explain(state, facts, vector, now).weigh(weights)[1]`` without the terms that never
    give a reason (distaste, source affinity, freshness, teaser, clickbait): what a page
    shows beside an item whose features :func:`featurize` gave (those terms were a third of
    the reasons' CPU)."""
    _, reasons, _, _, names = _evaluate(state, facts, vector, now, UNIT, reasons_only=True)
    return _weighed(zip(names, reasons, strict=True), weights)


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
    *,
    reasons_only: bool = False,
) -> tuple[float, list[Reason], bool, dict[str, float], list[str]]:
    # ``reasons_only`` leaves out the terms that give no reason: the score and terms are
    # then partial, the reasons (and whether the article is exploring) the same.
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
        text = keyword_text(facts.title, facts.summary)
        for keyword, label in keywords.items():
            if _keyword_pattern(keyword).search(text):
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
        if facts.article_id in state.liked_ids:
            # An article is not "like" itself (a membership test, then one masked write:
            # a loop over a few hundred liked ids per item was a tenth of the reasons' CPU).
            sims[np.asarray(state.liked_ids, dtype=np.int64) == facts.article_id] = -1.0
        best = int(np.argmax(sims))
        value = w.taste * max(0.0, float(sims[best]) - TASTE_FLOOR)
        if value > 0:
            title = state.liked_titles.get(state.liked_ids[best], "one")
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
    if (
        not reasons_only
        and vector is not None
        and state.disliked is not None
        and len(state.disliked)
    ):
        worst = float(np.max(state.disliked @ vector))
        add("distaste", -w.distaste * max(0.0, worst - TASTE_FLOOR))

    topic_term = _affinity_term(
        [
            (state.topic_affinity[t], t, label, t in state.often_topics)
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
            (state.entity_affinity[e], e, name, e in state.often_entities)
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

    if not reasons_only:
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

    shown, engaged = others_counts(state, facts.article_id, facts.shown, facts.engaged)
    if shown:
        # Smoothed toward the overall rate by POPULARITY_PRIOR impressions, so an article
        # shown twice and opened once is not yet a hit (the MIND click-rate baseline's rule).
        base = min(max(state.engagement_rate, 1e-3), 0.999)
        rate = (engaged + POPULARITY_PRIOR * base) / (shown + POPULARITY_PRIOR)
        lift = math.log(rate / base)
        value = w.popularity * lift
        reason = None
        if engaged >= POPULAR_READERS and lift > POPULAR_LIFT:
            reason = Reason(
                kind=ReasonKind.TRENDING,
                text=f"Popular: opened by {engaged} other readers",
                weight=value,
                action=_action(
                    ActionVerb.FEWER_LIKE_THIS,
                    TargetKind.ARTICLE,
                    facts.article_id,
                    "Fewer like this",
                ),
            )
        add("popularity", value, reason)

    if not reasons_only:
        age_hours = max((now - facts.published).total_seconds() / 3600.0, 0.0)
        add("freshness", w.freshness * 0.5 ** (age_hours / half_life_of(facts.topics)))
        if facts.body_chars < TEASER_CHARS:
            add("teaser", -w.teaser)
        if is_clickbait(facts.title):
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


# --- a whole pool at once ----------------------------------------------------------------


def featurize(
    state: ReaderState,
    columns: Columns,
    now: float | Floats,
    *,
    texts: Sequence[str] | Joined | None = None,
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """The features of every article in ``columns`` for the reader (one row per article, in
    :data:`FEATURES` order), and which are exploration candidates: :func:`explain`'s
    numbers without its reasons, in array operations.

    ``now`` is one time for all (epoch seconds) or one per article (the moments past
    impressions were shown); ``texts`` the articles' keyword texts
    (:meth:`ArticleWindow.texts`), needed only when the reader follows keywords.
    """
    n = len(columns)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    exploring = np.zeros(n, dtype=np.bool_)
    if not n:
        return out, exploring
    col = FEATURE_INDEX
    # Whether some term gave the article a reason (the exploration rule looks at that).
    reasoned = np.zeros(n, dtype=np.bool_)
    vectors = columns.vectors
    if vectors is not None and state.liked is not None and len(state.liked):
        sims = state.liked @ vectors.T
        if state.liked_ids:
            # An article is not "like" itself.
            liked_ids = np.asarray(state.liked_ids, dtype=np.int64)
            sims[liked_ids[:, None] == columns.ids[None, :]] = -1.0
        taste = np.maximum(sims.max(axis=0).astype(np.float64) - TASTE_FLOOR, 0.0)
        taste[~columns.has_vector] = 0.0
        out[:, col["taste"]] = taste
        reasoned |= taste > 0
    if vectors is not None and state.disliked is not None and len(state.disliked):
        worst = (state.disliked @ vectors.T).max(axis=0).astype(np.float64)
        distaste = -np.maximum(worst - TASTE_FLOOR, 0.0)
        distaste[~columns.has_vector] = 0.0
        out[:, col["distaste"]] = distaste

    follows = state.follows
    entity_rows = np.repeat(np.arange(n), np.diff(columns.entity_ptr))
    topic_rows = np.repeat(np.arange(n), np.diff(columns.topic_ptr))
    # Followed entities: 1 when the first one named is in the lead, else 0.5.
    followed = _int_keys(follows.get(InterestKind.ENTITY, {}))
    if followed:
        hit = np.isin(columns.entity_id, followed)
        never = np.iinfo(np.int64).max
        first = np.full(n, never, dtype=np.int64)
        np.minimum.at(first, entity_rows[hit], columns.entity_offset[hit])
        found = first < never
        out[:, col["follow_entity"]] = np.where(found, np.where(first < LEAD_CHARS, 1.0, 0.5), 0.0)
        reasoned |= found
    # Followed topics: the best confidence among them.
    topic_codes = _codes(columns.topics.get, follows.get(InterestKind.TOPIC, {}))
    if topic_codes:
        hit = np.isin(columns.topic_code, topic_codes)
        best = np.full(n, -np.inf)
        np.maximum.at(best, topic_rows[hit], columns.topic_conf[hit])
        found = best > -np.inf
        out[:, col["follow_topic"]] = np.where(found, best, 0.0)
        reasoned |= found & (best != 0)
    sources = _int_keys(follows.get(InterestKind.SOURCE, {}))
    if sources:
        found = np.isin(columns.source, sources)
        out[:, col["follow_source"]] = found
        reasoned |= found
    authors = _codes(columns.authors.get, follows.get(InterestKind.AUTHOR, {}))
    if authors:
        hit = np.isin(columns.author_code, authors)
        found = np.zeros(n, dtype=np.bool_)
        found[np.repeat(np.arange(n), np.diff(columns.author_ptr))[hit]] = True
        out[:, col["follow_author"]] = found
        reasoned |= found
    stories = _int_keys(follows.get(InterestKind.STORY, {}))
    if stories:
        found = np.isin(columns.story, stories)
        out[:, col["follow_story"]] = found
        reasoned |= found
    keywords = follows.get(InterestKind.KEYWORD, {})
    if keywords and texts is not None:
        # All texts joined by line breaks (a keyword never spans one: texts hold no line
        # break but the one after the headline, which a whole-word match does not cross),
        # each keyword found with ``str.find`` (a regular expression with word boundaries
        # was several times slower over a thousand texts) and kept where it is a whole word;
        # each match is given to its text.
        if isinstance(texts, Joined):
            # UTF-8 is self-synchronising: a keyword's bytes match where its characters do.
            ends = texts.ends
            starts = _whole_words_in_bytes(texts.text, keywords)
        else:
            ends = np.cumsum([len(t) + 2 for t in texts])
            starts = _whole_words("\n\n".join(texts), keywords)
        found = np.zeros(n, dtype=np.bool_)
        if starts:
            found[np.searchsorted(ends, starts, side="right")] = True
        out[:, col["follow_keyword"]] = found
        reasoned |= found

    topic_table = {
        code: (value, t in state.often_topics)
        for t, value in state.topic_affinity.items()
        if (code := columns.topics.get(t)) is not None
    }
    entity_table = {
        e: (value, e in state.often_entities) for e, value in state.entity_affinity.items()
    }
    lead = columns.entity_offset < LEAD_CHARS
    for name, table, keys, rows, mask in (
        ("topic_affinity", topic_table, columns.topic_code, topic_rows, None),
        ("entity_affinity", entity_table, columns.entity_id, entity_rows, lead),
    ):
        term = _affinity_columns(n, table, keys, rows, mask)
        if term is not None:
            out[:, col[name]], reasons = term
            reasoned |= reasons

    if state.source_affinity:
        out[:, col["source_affinity"]] = _lookup(state.source_affinity, columns.source)

    story_sources = columns.story_sources.astype(np.float64)
    story_recent = columns.story_recent.astype(np.float64)
    out[:, col["importance"]] = np.log1p(np.maximum(story_sources - 1, 0.0))
    out[:, col["velocity"]] = np.log1p(np.maximum(story_recent - 1, 0.0))
    reasoned |= (columns.story_sources >= 3) | (columns.story_recent >= 4)

    shown, engaged = columns.shown, columns.engaged
    if state.own_shown or state.own_engaged:
        own_shown = np.isin(columns.ids, np.fromiter(state.own_shown, dtype=np.int64))
        own_engaged = np.isin(columns.ids, np.fromiter(state.own_engaged, dtype=np.int64))
        shown = np.maximum(shown - own_shown, 0)
        engaged = np.maximum(engaged - own_engaged, 0)
        engaged = np.where(shown > 0, np.minimum(engaged, shown), engaged)
    base = min(max(state.engagement_rate, 1e-3), 0.999)
    rate = (engaged + POPULARITY_PRIOR * base) / (shown + POPULARITY_PRIOR)
    lift = np.where(shown > 0, np.log(rate / base), 0.0)
    out[:, col["popularity"]] = lift
    reasoned |= (shown > 0) & (engaged >= POPULAR_READERS) & (lift > POPULAR_LIFT)

    age_hours = np.maximum((np.asarray(now, dtype=np.float64) - columns.published) / 3600.0, 0.0)
    out[:, col["freshness"]] = 0.5 ** (age_hours / columns.half_life)
    out[:, col["teaser"]] = -columns.teaser.astype(np.float64)
    out[:, col["clickbait"]] = -columns.clickbait.astype(np.float64)

    if not state.is_new:
        has_topics = np.diff(columns.topic_ptr) > 0
        known = _codes(columns.topics.get, state.known_topics)
        touches_known = np.zeros(n, dtype=np.bool_)
        if known:
            touches_known[topic_rows[np.isin(columns.topic_code, known)]] = True
        exploring = has_topics & ~touches_known & ~reasoned
    return out, exploring


@functools.lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A followed keyword as a whole word: compiled once, where building the expression for
    every keyword of every item was a fifth of the reasons' CPU."""
    return re.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)")


def _whole_words(text: str, words: Iterable[str]) -> list[int]:
    """Where each of ``words`` occurs in ``text`` as whole words (not inside a longer
    word), the way ``(?<!\\w)word(?!\\w)`` matches."""
    found = []
    size = len(text)
    for word in words:
        if not word:
            continue
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            if not (at > 0 and _wordy(text[at - 1])) and not (end < size and _wordy(text[end])):
                found.append(at)
            at = text.find(word, at + 1)
    return found


def _whole_words_in_bytes(text: bytes, words: Iterable[str]) -> list[int]:
    """:func:`_whole_words` over UTF-8 (byte offsets), the characters beside a match
    decoded only where they are not ASCII."""
    found = []
    size = len(text)
    for word in words:
        if not word:
            continue
        needle = word.encode("utf-8")
        at = text.find(needle)
        while at >= 0:
            end = at + len(needle)
            if not (at > 0 and _wordy_before(text, at)) and not (
                end < size and _wordy_from(text, end)
            ):
                found.append(at)
            at = text.find(needle, at + 1)
    return found


def _wordy_before(text: bytes, at: int) -> bool:
    """Whether the character ending just before byte ``at`` is a word character."""
    byte = text[at - 1]
    if byte < 0x80:
        return byte == 0x5F or chr(byte).isalnum()
    start = at - 1
    while start > 0 and text[start] & 0xC0 == 0x80:
        start -= 1
    return _wordy(text[start:at].decode("utf-8", errors="replace")[-1:] or " ")


def _wordy_from(text: bytes, at: int) -> bool:
    """Whether the character starting at byte ``at`` is a word character."""
    byte = text[at]
    if byte < 0x80:
        return byte == 0x5F or chr(byte).isalnum()
    stop = at + 1
    while stop < len(text) and text[stop] & 0xC0 == 0x80:
        stop += 1
    return _wordy(text[at:stop].decode("utf-8", errors="replace")[:1] or " ")


def _wordy(char: str) -> bool:
    """Whether ``char`` is a word character (``\\w``)."""
    return char.isalnum() or char == "_"


def _affinity_columns(
    n: int,
    table: Mapping[int, tuple[float, bool]],
    keys: Ints,
    rows: Ints,
    mask: npt.NDArray[np.bool_] | None,
) -> tuple[Floats, npt.NDArray[np.bool_]] | None:
    """A learned affinity term over the rows' keys (see :func:`_affinity_term`): its values
    and whether each gives a reason; None when no key has an affinity."""
    if not table:
        return None
    # The table as sorted arrays, looked up by binary search (a dictionary lookup per
    # posting was a fifth of featurising).
    size = len(table)
    known = np.fromiter(table, dtype=np.int64, count=size)
    affinity = np.fromiter((v for v, _ in table.values()), dtype=np.float64, count=size)
    frequent = np.fromiter((o for _, o in table.values()), dtype=np.bool_, count=size)
    order = np.argsort(known)
    known, affinity, frequent = known[order], affinity[order], frequent[order]
    # Which keys the table has first (a set operation), then where, for those alone: a
    # binary search of every posting (11,000 unsorted entity postings a bench page, 40 ns
    # each) was half of this function's time.
    hit = np.isin(keys, known)
    if mask is not None:
        hit &= mask
    if not hit.any():
        return None
    slot = np.searchsorted(known, keys[hit])
    values = affinity[slot]
    often = frequent[slot]
    at = rows[hit]
    top = np.full(n, -np.inf)
    low = np.full(n, np.inf)
    np.maximum.at(top, at, values)
    np.minimum.at(low, at, values)
    # The best affinity's key must be one read about often (ties: any of them).
    top_often = np.zeros(n, dtype=np.bool_)
    top_often[at[(values == top[at]) & often]] = True
    found = top > -np.inf
    value = np.where(found, np.maximum(top, 0.0) + np.minimum(low, 0.0), 0.0)
    return value, found & (top >= AFFINITY_REASON) & top_often & (value != 0)


def _lookup(table: Mapping[int, float], keys: Ints) -> Floats:
    """``table[k]`` for each key, 0 where absent."""
    known = np.fromiter(table, dtype=np.int64, count=len(table))
    values = np.fromiter(table.values(), dtype=np.float64, count=len(table))
    order = np.argsort(known)
    known, values = known[order], values[order]
    at = np.clip(np.searchsorted(known, keys), 0, len(known) - 1)
    found: Floats = np.where(known[at] == keys, values[at], 0.0)
    return found


def _int_keys(values: Iterable[str]) -> list[int]:
    """The stored values that are an integer id's own decimal text, as integers."""
    return [int(v) for v in values if v.isdecimal() and str(int(v)) == v]


def _codes(code_of: Callable[[str], int | None], names: Iterable[str]) -> list[int]:
    """The codes of the names a vocabulary knows (``Vocab.get``)."""
    return [c for name in names if (c := code_of(name)) is not None]
