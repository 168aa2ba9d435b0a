"""The pure parts of ``tidings eval simulate``: relevance, the click model, nDCG, the oracle,
the schedule and the readers, each deterministic for a seed."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tidings.eval.simulate import (
    CLICK_MISS,
    CLICK_NOISE,
    DAY,
    START,
    ArticleView,
    HiddenInterest,
    Offer,
    Reaction,
    SimReader,
    click_probability,
    dcg,
    draw_reader,
    events_of,
    examine_probability,
    gain,
    ideal_dcg,
    is_muted,
    ndcg,
    oracle_order,
    react,
    relevance,
    schedule,
    summary_line,
)
from tidings.types import EventKind

T = datetime(2004, 9, 1, tzinfo=UTC)
SPORT = "medtop:15000000"
TENNIS = "medtop:15000000.tennis-golf"
MARKETS = "medtop:04000000.markets"


def view(
    article_id: int,
    *,
    topics: tuple[str, ...] = (),
    entities: tuple[str, ...] = (),
    source: int = 1,
    story: int | None = None,
    hours: float = 0.0,
) -> ArticleView:
    return ArticleView(
        article_id=article_id,
        source_id=source,
        story_id=story,
        published=T + timedelta(hours=hours),
        topic_ids=frozenset(topics),
        entity_ids=frozenset(entities),
    )


READER = SimReader(
    "ana",
    (
        HiddenInterest("topic", TENNIS, "tennis and golf", 0.8),
        HiddenInterest("entity", "7", "NASA", 0.5),
    ),
    follows=(("topic", TENNIS),),
    mutes=(("entity", "9"),),
)


def test_relevance_combines_matched_interests_and_mutes_zero_it() -> None:
    assert relevance(READER, view(1)) == 0.0
    assert relevance(READER, view(2, topics=(TENNIS, SPORT))) == pytest.approx(0.8)
    assert relevance(READER, view(3, entities=("7",))) == pytest.approx(0.5)
    assert relevance(READER, view(4, topics=(TENNIS,), entities=("7",))) == pytest.approx(0.9)
    muted = view(5, topics=(TENNIS,), entities=("9",))
    assert is_muted(READER, muted)
    assert relevance(READER, muted) == 0.0


def test_gain_is_graded_in_four_steps() -> None:
    # Grades round(3 * relevance): 0, 0, 1, 2, 2, 3, 3.
    assert [gain(r) for r in (0.0, 0.1, 0.4, 0.6, 0.8, 0.9, 1.0)] == [0, 0, 1, 3, 3, 7, 7]


def test_examination_falls_with_rank() -> None:
    probabilities = [examine_probability(r) for r in range(1, 31)]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] == pytest.approx(2**-0.7)
    with pytest.raises(ValueError):
        examine_probability(0)


def test_clicks_have_noise_and_misses() -> None:
    assert click_probability(0.0) == pytest.approx(CLICK_NOISE)
    assert click_probability(1.0) == pytest.approx(1.0 - CLICK_MISS)
    assert click_probability(2.0) == click_probability(1.0)


def test_reactions_follow_position_and_relevance_on_average() -> None:
    rng = random.Random(1)
    page = [(i, 1.0 if i % 2 else 0.0) for i in range(30)]
    examined: Counter[int] = Counter()
    clicked: Counter[bool] = Counter()
    for _ in range(2000):
        for r in react(page, rng):
            examined[r.position] += 1
            if r.clicked:
                clicked[page[r.position][1] > 0] += 1
                assert r.seconds > 0
            assert not (r.less and (r.clicked or page[r.position][1] > 0))
    assert examined[0] / 2000 == pytest.approx(examine_probability(1), abs=0.03)
    assert examined[0] > examined[9] > examined[29]
    # Relevant items (every other) are clicked far more often than irrelevant ones.
    assert clicked[True] > 5 * clicked[False] > 0


def test_reactions_are_deterministic_for_a_seed() -> None:
    page = [(i, (i % 3) / 2) for i in range(30)]
    assert react(page, random.Random(7)) == react(page, random.Random(7))


def test_read_articles_are_seen_but_not_clicked_again() -> None:
    page = [(1, 1.0), (2, 0.0), (3, 1.0)]
    for seed in range(50):
        for r in react(page, random.Random(seed), already_read={1, 2}):
            if r.article_id in (1, 2):
                assert not r.clicked and not r.less


def test_events_tell_impressions_opens_reads_and_less() -> None:
    events = events_of(
        [
            Reaction(11, 0, clicked=True, seconds=42.0),
            Reaction(12, 3, clicked=False, less=True),
        ],
        T,
    )
    assert [(e.kind, e.article_id, e.value) for e in events] == [
        (EventKind.IMPRESSION, 11, 0),
        (EventKind.OPEN, 11, None),
        (EventKind.READ, 11, 42.0),
        (EventKind.IMPRESSION, 12, 3),
        (EventKind.LESS, 12, None),
    ]


def test_ndcg_counts_a_story_once_and_is_none_without_gain() -> None:
    views = {
        1: view(1, story=100),
        2: view(2, story=100),
        3: view(3),
        4: view(4),
    }
    gains = {1: 7.0, 2: 7.0, 3: 3.0, 4: 0.0}
    # The ideal takes the story once: 7, then 3.
    assert ideal_dcg(views, gains) == pytest.approx(7 + 3 / math.log2(3))
    assert ndcg([1, 3, 4], views, gains) == pytest.approx(1.0)
    # The story's second article adds nothing.
    assert ndcg([1, 2, 3], views, gains) == pytest.approx((7 + 3 / 2) / (7 + 3 / math.log2(3)))
    assert ndcg([4, 3, 1], views, gains) == pytest.approx(dcg([0, 3, 7]) / dcg([7, 3]))
    assert ndcg([1, 2], views, {1: 0.0, 2: 0.0}) is None


def test_ndcg_cuts_at_k() -> None:
    views = {i: view(i) for i in range(12)}
    gains = {i: 1.0 if i == 11 else 0.0 for i in range(12)}
    assert ndcg(list(range(12)), views, gains, k=10) == 0.0
    assert ndcg(list(range(12)), views, gains, k=12) == pytest.approx(1 / math.log2(13))


def test_oracle_keeps_the_engines_rules() -> None:
    views = [
        view(1, topics=(TENNIS,), source=1, story=5, hours=1),
        view(2, topics=(TENNIS,), source=1, story=5, hours=2),  # same story as 1
        view(3, topics=(TENNIS,), entities=("9",), source=2),  # muted
        view(4, topics=(TENNIS,), source=1, hours=3),
        view(5, topics=(TENNIS,), source=1, hours=4),
        view(6, topics=(TENNIS,), source=1, hours=5),  # a fourth from source 1
        view(7, entities=("7",), source=3),
        view(8, source=3),
    ]
    order = oracle_order(READER, views, cap=3)
    assert order[:3] == [6, 5, 4]  # newest first among equals, then source 1 is full
    assert 3 not in order and 2 not in order and 1 not in order
    assert order == [6, 5, 4, 7, 8]
    assert oracle_order(READER, views, cap=None)[:4] == [6, 5, 4, 2]


def rows() -> list[tuple[int, str, str]]:
    return [(1 + i % 4, f"title {i}", f"lead {i}") for i in range(200)]


def test_schedule_dates_batches_and_leans_sources_to_classes() -> None:
    arrivals = schedule(rows(), articles=140, backlog=40, rounds=5, rng=random.Random(3))
    assert len(arrivals) == 140
    assert len({a.guid for a in arrivals}) == 140
    assert Counter(a.day for a in arrivals) == {0: 40, 1: 20, 2: 20, 3: 20, 4: 20, 5: 20}
    for a in arrivals:
        assert START + (a.day - 1) * DAY < a.published < START + a.day * DAY
    sports = Counter(a.source for a in arrivals if a.ag_class == 2)
    assert sports["sports-desk"] + sports["match-report"] > sum(sports.values()) / 2
    again = schedule(rows(), articles=140, backlog=40, rounds=5, rng=random.Random(3))
    assert again == arrivals
    with pytest.raises(ValueError):
        schedule(rows(), articles=40, backlog=40, rounds=5, rng=random.Random(3))


OFFER = Offer(
    topics=((SPORT, "sport"), (TENNIS, "tennis and golf"), (MARKETS, "financial markets")),
    entities=tuple((str(i), f"entity {i}") for i in range(1, 9)),
)


def test_readers_follow_some_of_their_interests_and_mute_outside_them() -> None:
    rng = random.Random(5)
    people = [draw_reader(f"r{n}", OFFER, rng) for n in range(200)]
    for p in people:
        assert 1 <= len(p.interests) <= 3
        mine = {(i.kind, i.value) for i in p.interests}
        assert len(mine) == len(p.interests)
        told = [f for f in p.follows if f in mine]
        assert 1 <= len(told) <= min(2, len(mine))
        assert len(p.follows) - len(told) <= 1
        for kind, value in p.mutes:
            assert (kind, value) not in mine and (kind, value) not in p.follows
            if kind == "topic":
                # A fan of tennis never mutes sport, nor the reverse.
                branches = {i.value.split(".")[0] for i in p.interests if i.kind == "topic"}
                assert value.split(".")[0] not in branches
    assert any(p.mutes for p in people) and not all(p.mutes for p in people)
    again = random.Random(5)
    assert [draw_reader(f"r{n}", OFFER, again) for n in range(200)] == people


def test_summary_line_gates_reach_and_violations() -> None:
    report = {
        "k": 10,
        "final_rounds": 5,
        "lift_over_nonpersonal": 0.5,
        "share_of_oracle": 0.8,
        "ndcg_final": {"engine": 0.6, "non_personalised": 0.4, "random": 0.1, "oracle": 0.75},
        "violations": {"mutes": 0, "per_source_cap": 0},
    }
    line, ok = summary_line(report, {})
    assert ok and line.startswith("simulate: PASS")
    assert not summary_line(report, {"simulate_share_of_oracle": 0.9})[1]
    assert not summary_line({**report, "lift_over_nonpersonal": None}, {})[1]
    bad = {**report, "violations": {"mutes": 1, "per_source_cap": 0}}
    line, ok = summary_line(bad, {})
    assert not ok and "mutes 1" in line
