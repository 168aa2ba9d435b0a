"""Scoring one article for one reader: each term a reason with an action. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.rank.score import score_article
from tidings.rank.state import ReaderState, affinities
from tidings.rank.window import DEFAULT_HALF_LIFE, half_life_of
from tidings.types import ActionVerb, ArticleFacts, InterestKind, ReasonKind

NOW = datetime(2024, 10, 18, 12, tzinfo=UTC)


def facts(**changes: object) -> ArticleFacts:
    base = {
        "article_id": 1,
        "source_id": 7,
        "source_name": "Wire",
        "title": "Xi and Putin meet in Beijing",
        "published": NOW - timedelta(hours=2),
        "body_chars": 2000,
        "story_id": 3,
        "topics": (
            ("medtop:11000000", "politics", 0.8),
            ("relation:china-russia", "China–Russia relations", 1.0),
        ),
        "entities": ((10, "Xi Jinping", 0), (11, "Vladimir Putin", 500)),
    }
    base.update(changes)
    return ArticleFacts(**base)  # type: ignore[arg-type]


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


def test_follows_are_reasons_with_unfollow_actions() -> None:
    state = ReaderState(
        follows={
            InterestKind.ENTITY: {"10": "Xi Jinping"},
            InterestKind.TOPIC: {"relation:china-russia": "China–Russia relations"},
            InterestKind.SOURCE: {"7": "Wire"},
        }
    )
    score, reasons, exploring = score_article(state, facts(), None, NOW)
    assert [r.kind for r in reasons] == [
        ReasonKind.FOLLOW_ENTITY,
        ReasonKind.FOLLOW_TOPIC,
        ReasonKind.FOLLOW_SOURCE,
    ]
    assert reasons[0].text == "You follow Xi Jinping"
    assert all(r.action.verb is ActionVerb.UNFOLLOW for r in reasons)
    assert score > sum(r.weight for r in reasons)  # plus freshness
    assert not exploring
    # An entity named only deep in the text counts half.
    deep = ReaderState(follows={InterestKind.ENTITY: {"11": "Vladimir Putin"}})
    _, [putin], _ = score_article(deep, facts(), None, NOW)
    assert putin.weight == pytest.approx(reasons[0].weight / 2)


def test_keywords_and_authors_match_whole_words_in_any_case() -> None:
    state = ReaderState(
        follows={
            InterestKind.KEYWORD: {"beijing": "Beijing"},
            InterestKind.AUTHOR: {"ann lee": "Ann Lee"},
        }
    )
    _, reasons, _ = score_article(state, facts(authors=("Ann LEE",)), None, NOW)
    assert {r.text for r in reasons} == {"You follow Ann LEE", "Mentions Beijing, which you follow"}
    _, other, _ = score_article(state, facts(title="Beijingers celebrate"), None, NOW)
    assert all(r.kind is not ReasonKind.FOLLOW_TOPIC for r in other)


def test_taste_counts_above_the_floor_and_never_an_article_itself() -> None:
    liked = unit(1)
    close = liked * 0.9 + unit(2) * 0.1
    close /= np.linalg.norm(close)
    state = ReaderState(
        follows={InterestKind.TOPIC: {"x": "x"}},
        liked=np.stack([liked]),
        liked_titles={99: "Quake in Turkey"},
        liked_ids=(99,),
    )
    _, reasons, _ = score_article(state, facts(), close, NOW)
    assert reasons[0].kind is ReasonKind.SIMILAR_TO_READ
    assert "Quake in Turkey" in reasons[0].text
    assert reasons[0].action.verb is ActionVerb.FEWER_LIKE_THIS
    _, unrelated, _ = score_article(state, facts(), unit(3), NOW)
    assert all(r.kind is not ReasonKind.SIMILAR_TO_READ for r in unrelated)
    _, itself, _ = score_article(state, facts(article_id=99), liked, NOW)
    assert all(r.kind is not ReasonKind.SIMILAR_TO_READ for r in itself)
    rejected = ReaderState(disliked=np.stack([liked]))
    plain, _, _ = score_article(ReaderState(), facts(), close, NOW)
    lower, _, _ = score_article(rejected, facts(), close, NOW)
    assert lower < plain


def test_top_stories_fresh_news_and_quality() -> None:
    base, _, _ = score_article(ReaderState(), facts(), None, NOW)
    top, reasons, _ = score_article(
        ReaderState(), facts(story_sources=14, story_recent=9), None, NOW
    )
    assert top > base
    assert [r.text for r in reasons] == [
        "Top story: 14 sources",
        "Growing fast: 9 articles in a day",
    ]
    stale, _, _ = score_article(ReaderState(), facts(published=NOW - timedelta(days=3)), None, NOW)
    assert stale < base
    teaser, _, _ = score_article(ReaderState(), facts(body_chars=80), None, NOW)
    bait, _, _ = score_article(
        ReaderState(), facts(title="You won't believe what Xi said"), None, NOW
    )
    assert teaser < base and bait < base
    sport = facts(topics=(("medtop:15000000", "sport", 0.9),))
    assert half_life_of(sport.topics) < DEFAULT_HALF_LIFE == half_life_of(facts().topics)


def test_exploration_is_what_is_new_to_a_reader_with_interests() -> None:
    state = ReaderState(
        follows={InterestKind.ENTITY: {"999": "Somebody"}},
        known_topics=frozenset({"medtop:15000000"}),
    )
    _, reasons, exploring = score_article(state, facts(), None, NOW)
    assert exploring and reasons[0].kind is ReasonKind.EXPLORING
    assert reasons[0].action.verb is ActionVerb.LESS_EXPLORATION
    # A new reader is not "exploring": everything is new to them.
    assert not score_article(ReaderState(), facts(), None, NOW)[2]


def test_source_affinity_needs_evidence() -> None:
    shown = {1: 40, 2: 40, 3: 2}
    engaged = {1: 20, 2: 2, 3: 1}
    aff = affinities(engaged, shown)
    assert aff[1] > 0 > aff[2]
    assert abs(aff[3]) < abs(aff[1])
    assert affinities({}, {}) == {}


def test_explain_and_weigh_agree_with_the_direct_score() -> None:
    from tidings.rank.score import explain, weight_vector

    state = ReaderState(follows={InterestKind.ENTITY: {"10": "Xi Jinping"}})
    direct, reasons, _ = score_article(state, facts(story_sources=5), None, NOW)
    scored = explain(state, facts(story_sources=5), None, NOW)
    weighed, weighed_reasons = scored.weigh(weight_vector())
    assert weighed == pytest.approx(direct)
    assert [(r.text, round(r.weight, 6)) for r in weighed_reasons] == [
        (r.text, round(r.weight, 6)) for r in reasons
    ]


def test_weights_learn_from_a_readers_clicks_and_start_from_the_prior() -> None:
    from tidings.rank.learn import fit_weights
    from tidings.rank.score import FEATURE_INDEX, weight_vector

    prior = weight_vector()
    rng = np.random.default_rng(0)
    n = 400
    x = np.zeros((n, len(prior)))
    taste, fresh = FEATURE_INDEX["taste"], FEATURE_INDEX["freshness"]
    x[:, taste] = rng.uniform(0, 0.7, n)
    x[:, fresh] = rng.uniform(0, 1, n)
    # This reader clicks on what resembles their reading and ignores freshness.
    clicked = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-(12 * x[:, taste] - 4)))).astype(float)
    learned = fit_weights(x, clicked, prior)
    assert learned[taste] > prior[taste]
    assert learned[fresh] < prior[fresh]
    assert np.allclose(fit_weights(x[:0], clicked[:0], prior), prior)
    stubborn = fit_weights(x[:20], clicked[:20], prior, strength=1e6)
    assert np.allclose(stubborn, prior, atol=1e-3)


def test_popularity_is_smoothed_toward_the_overall_rate() -> None:
    state = ReaderState(engagement_rate=0.1)
    base, _, _ = score_article(state, facts(), None, NOW)
    hit, reasons, _ = score_article(state, facts(shown=100, engaged=40), None, NOW)
    flop, _, _ = score_article(state, facts(shown=100, engaged=0), None, NOW)
    lucky, _, _ = score_article(state, facts(shown=2, engaged=1), None, NOW)
    assert flop < base < lucky < hit
    assert reasons[0].text == "Popular: opened by 40 other readers"
    # A handful of readers is not popularity, however keen.
    _, few, _ = score_article(state, facts(shown=4, engaged=4), None, NOW)
    assert all(r.kind is not ReasonKind.TRENDING for r in few)


def test_a_readers_own_clicks_do_not_make_an_article_popular_for_them() -> None:
    state = ReaderState(engagement_rate=0.1)
    mine = ReaderState(engagement_rate=0.1, own_shown=frozenset({1}), own_engaged=frozenset({1}))
    others, _, _ = score_article(state, facts(shown=3, engaged=3), None, NOW)
    alone, _, _ = score_article(mine, facts(shown=3, engaged=3), None, NOW)
    assert alone < others
    # Only their own reads: nobody else's engagement, so no popularity at all.
    solo, _, _ = score_article(mine, facts(shown=1, engaged=1), None, NOW)
    plain, _, _ = score_article(state, facts(), None, NOW)
    assert solo == pytest.approx(plain)


def test_learned_topic_and_entity_affinities_are_reasons() -> None:
    state = ReaderState(
        topic_affinity={"medtop:11000000": 0.9, "relation:china-russia": -0.4},
        entity_affinity={10: 0.7},
        often_topics=frozenset({"medtop:11000000"}),
        often_entities=frozenset({10}),
    )
    plain, _, _ = score_article(ReaderState(), facts(), None, NOW)
    score, reasons, _ = score_article(state, facts(), None, NOW)
    texts = [r.text for r in reasons]
    assert "You often read about politics" in texts
    assert "You often read about Xi Jinping" in texts
    assert score > plain
    disliked = ReaderState(topic_affinity={"medtop:11000000": -1.0})
    lower, _, _ = score_article(disliked, facts(), None, NOW)
    assert lower < plain
    # Not read about often (several articles on more than one day): the affinity counts
    # in the score but is not claimed as a habit.
    once = ReaderState(topic_affinity={"medtop:11000000": 0.9}, entity_affinity={10: 0.7})
    score_once, reasons_once, _ = score_article(once, facts(), None, NOW)
    assert score_once > plain
    assert not any(r.text.startswith("You often read") for r in reasons_once)
