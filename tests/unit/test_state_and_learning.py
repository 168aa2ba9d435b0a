"""A reader's state from their follows and events, and the learning of weights from their
impressions as they were when shown. Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.rank import learn
from tidings.rank.score import FEATURE_INDEX, FEATURES, weight_vector
from tidings.rank.state import (
    OFTEN_DAYS,
    OFTEN_READS,
    ReaderState,
    Seen,
    as_of,
    mutes_of,
    reader_state,
    source_usefulness,
)
from tidings.store.base import EventColumns
from tidings.types import EventKind, Interest, InterestKind, ReaderEvent, Stance

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
    return v / np.linalg.norm(v)


def seen(article_id: int, topic: str = "medtop:11000000", entity: int = 7) -> Seen:
    return Seen(
        article_id=article_id,
        source_id=article_id % 2,
        topics=(topic,),
        lead_entities=(entity,),
        vector=unit(article_id),
    )


def event(kind: EventKind, article_id: int, hours_ago: float, value: float | None = None):
    return ReaderEvent(
        kind=kind, article_id=article_id, at=NOW - timedelta(hours=hours_ago), value=value
    )


def newest_first(events: list[ReaderEvent]) -> list[ReaderEvent]:
    return sorted(events, key=lambda e: e.at, reverse=True)


def test_the_state_says_what_the_reader_liked_rejected_and_read() -> None:
    events = newest_first(
        [
            event(EventKind.IMPRESSION, 1, 5),
            event(EventKind.OPEN, 1, 5),
            event(EventKind.READ, 2, 4, 5.0),  # a glance: read, not engaged
            event(EventKind.READ, 3, 3, 90.0),
            event(EventKind.HIDE, 4, 2),
            event(EventKind.LESS, 5, 1),
        ]
    )
    state = reader_state([], events, {i: seen(i) for i in range(1, 6)}, NOW)
    assert state.liked_ids == (3, 1)  # newest first
    assert state.liked is not None and state.liked.shape == (2, 8)
    assert state.disliked is not None and len(state.disliked) == 2
    assert state.read == {1, 2, 3} and state.hidden == {4}
    assert not state.is_new and ReaderState().is_new


def test_a_readers_own_part_of_popularity_is_what_they_did_lately() -> None:
    events = newest_first(
        [
            event(EventKind.IMPRESSION, 1, 1),
            event(EventKind.OPEN, 1, 1),
            event(EventKind.IMPRESSION, 2, 24 * 5),  # days ago: outside the counts
        ]
    )
    state = reader_state([], events, {}, NOW)
    assert state.own_shown == {1} and state.own_engaged == {1}


def test_often_means_several_articles_over_more_than_one_day() -> None:
    sports = {i: seen(i, "medtop:15000000", entity=50) for i in range(1, 10)}
    # Many reads, all within one hour: a burst on one story, not a habit.
    burst = newest_first([event(EventKind.OPEN, i, 1 + i / 60) for i in range(1, 8)])
    state = reader_state([], burst, sports, NOW)
    assert not state.often_topics and not state.often_entities
    # OFTEN_READS articles over OFTEN_DAYS days is a habit.
    spread = newest_first(
        [event(EventKind.OPEN, i, 30 * i) for i in range(1, OFTEN_READS + OFTEN_DAYS)]
    )
    state = reader_state([], spread, sports, NOW)
    assert state.often_topics == {"medtop:15000000"} and state.often_entities == {50}


def test_the_state_at_a_past_moment_knows_only_what_came_before() -> None:
    interests = [
        Interest(kind=InterestKind.ENTITY, value="7", created=NOW - timedelta(hours=10)),
        Interest(kind=InterestKind.ENTITY, value="8", created=NOW),
        Interest(kind=InterestKind.SOURCE, value="3", stance=Stance.MUTE),
    ]
    events = newest_first([event(EventKind.OPEN, 1, 1), event(EventKind.OPEN, 2, 20)])
    then, before = as_of(interests, events, NOW - timedelta(hours=5))
    assert [i.value for i in then] == ["7", "3"]
    assert [e.article_id for e in before] == [2]
    assert mutes_of(interests).source_ids == {3}


def test_source_usefulness_counts_distinct_articles() -> None:
    events = [
        event(EventKind.IMPRESSION, 1, 3),
        event(EventKind.IMPRESSION, 1, 2),
        event(EventKind.OPEN, 1, 2),
        event(EventKind.SAVE, 2, 1),
        event(EventKind.OPEN, 9, 1),  # an article no longer known
    ]
    assert source_usefulness(events, {1: 10, 2: 10}) == {10: (2, 1, 1)}


def test_impressions_are_featurised_with_the_state_before_them() -> None:
    """A click must not leak into its own features: the topic read after an impression is
    no affinity at that impression."""
    history = {i: seen(i, "medtop:15000000" if i % 2 else "medtop:04000000") for i in range(60)}
    events: list[ReaderEvent] = []
    for i in range(60):
        events.append(event(EventKind.IMPRESSION, i, 100 - i))
        if i % 2:
            events.append(event(EventKind.OPEN, i, 100 - i - 0.5))
    events = newest_first(events)
    states: list[tuple[float, ReaderState]] = []

    def featurize(state: ReaderState, ids, moment: float):
        states.append((moment, state))
        rows = np.zeros((len(ids), len(FEATURES)))
        for r, a in enumerate(ids):
            rows[r, FEATURE_INDEX["topic_affinity"]] = state.topic_affinity.get(
                history[a].topics[0], 0.0
            )
        return rows, list(ids)

    rows = learn.impression_rows([], events, history, featurize, names=FEATURES)
    assert len(rows) == 60 and rows.labels.sum() == 30
    assert len(states) <= learn.CHUNKS
    for moment, state in states:
        # Each state knows only what happened before the run it featurises.
        assert all(a < 100 - (NOW.timestamp() - moment) / 3600 + 1e-6 for a in state.read)
    # The first run starts with no history at all.
    assert states[0][1].read == frozenset() and not states[0][1].topic_affinity
    assert set(np.unique(rows.pages)) == set(range(60))


def test_fits_centre_pages_and_fall_back_on_the_prior() -> None:
    x = np.array([[1.0, 0.0], [3.0, 2.0], [10.0, 1.0], [12.0, 5.0]])
    centred = learn.centre_within_pages(x, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(centred, [[-1, -1], [1, 1], [-1, -2], [1, 2]])
    prior = weight_vector()
    few = learn.Rows(np.zeros((5, len(FEATURES))), np.ones(5), np.arange(5))
    assert learn.personal_weights(few, prior) is prior
    assert learn.global_weights(few, prior) is None  # all engaged: nothing to tell apart
    payload = learn.encode_model(FEATURES, prior * 2)
    np.testing.assert_allclose(learn.decode_model(payload, FEATURES, prior), prior * 2)
    with pytest.raises(ValueError, match="not a stored ranking model"):
        learn.decode_model("{}", FEATURES, prior)


def test_impressions_shown_with_their_features_are_learned_from_those() -> None:
    """A page's items carry the features they were scored with; an impression recorded with
    them is a row as it was, and only the others are featurised again."""
    shown = np.arange(len(FEATURES), dtype=np.float64) / 10
    packed = learn.pack_features(shown, FEATURES)
    np.testing.assert_allclose(learn.unpack_features(packed, FEATURES), shown, rtol=1e-6)
    # Packed for another set of features: not read as these.
    assert learn.unpack_features(packed, [*FEATURES[:-1], "something else"]) is None
    assert learn.unpack_features(b"junk", FEATURES) is None
    events = newest_first(
        [
            ReaderEvent(
                kind=EventKind.IMPRESSION,
                article_id=1,
                at=NOW - timedelta(hours=2),
                features=packed,
            ),
            event(EventKind.IMPRESSION, 2, 2),
            event(EventKind.OPEN, 1, 1),
        ]
    )
    asked: list[list[int]] = []

    def featurize(state: ReaderState, ids, moment: float):
        asked.append(list(ids))
        return np.ones((len(ids), len(FEATURES))), list(ids)

    rows = learn.impression_rows([], events, {}, featurize, names=FEATURES)
    assert asked == [[2]]
    by_label = {float(y): x for x, y in zip(rows.features, rows.labels, strict=True)}
    np.testing.assert_allclose(by_label[1.0], shown, rtol=1e-6)
    np.testing.assert_allclose(by_label[0.0], np.ones(len(FEATURES)))
    # The one featurised here is handed back with its features, for storage to keep.
    ((again, row),) = rows.unrecorded
    assert again.article_id == 2
    np.testing.assert_allclose(row, np.ones(len(FEATURES)))


def random_history(seed: int, n: int = 400) -> list[ReaderEvent]:
    """A reader's events over a few days, newest first: every kind, shared moments (a
    page's impressions), reads long and short, some impressions with stored features."""
    rng = np.random.default_rng(seed)
    kinds = list(EventKind)
    names = FEATURES
    events = []
    moments = (
        NOW
        - timedelta(days=4)
        + np.sort(rng.uniform(0, 4 * 86400e6, n // 5)) * timedelta(microseconds=1)
    )
    for _ in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        if rng.random() < 0.6:
            kind = EventKind.IMPRESSION
        at = moments[int(rng.integers(len(moments)))]
        value = None
        features = None
        if kind is EventKind.IMPRESSION:
            value = float(rng.integers(30))
            features = learn.pack_features(rng.standard_normal(len(names)), names)
        elif kind is EventKind.READ:
            value = float(rng.choice([0.0, 5.0, 15.0, 90.0]))
        events.append(
            ReaderEvent(
                kind=kind,
                article_id=int(rng.integers(1, 60)),
                at=at,
                value=value,
                features=features,
            )
        )
    return sorted(events, key=lambda e: e.at, reverse=True)


@pytest.mark.parametrize("seed", range(5))
def test_the_state_from_columns_is_the_state_from_events(seed: int) -> None:
    """A page reads events as columns; the state is the one the objects give, field by
    field, affinities' order included (it breaks ties between candidates' keys)."""
    events = random_history(seed)
    known = {a: seen(a, topic=f"t{a % 4}", entity=a % 5) for a in range(1, 60) if a % 7}
    interests = [Interest(kind=InterestKind.TOPIC, value="t1")]
    for moment in (NOW, NOW - timedelta(days=2, hours=3)):
        before = [e for e in events if e.at < moment]
        objects = reader_state(interests, before, known, moment)
        columns = reader_state(interests, EventColumns.of(before), known, moment)
        for name in ReaderState.__slots__:
            a, b = getattr(objects, name), getattr(columns, name)
            if isinstance(a, np.ndarray):
                assert np.array_equal(a, b), name
            else:
                assert a == b, name
                if isinstance(a, dict):
                    assert list(a) == list(b), name
    assert objects.often_topics or objects.often_entities  # the history exercises habits


@pytest.mark.parametrize("seed", range(5))
def test_stored_impression_rows_from_columns_are_the_rows(seed: int) -> None:
    """Impressions that kept their features are read from columns as the same rows, in the
    same order and pages; one without features sends the caller to the objects' way."""
    events = random_history(seed)
    objects = learn.impression_rows([], events, {}, _no_featuriser, names=FEATURES)
    columns = learn.stored_impression_rows(EventColumns.of(events), names=FEATURES)
    assert columns is not None and len(columns) == len(objects) > 100
    assert np.array_equal(columns.features, objects.features)
    assert np.array_equal(columns.labels, objects.labels)
    assert np.array_equal(columns.pages, objects.pages)
    assert len(set(objects.pages.tolist())) > 5 and objects.labels.any()
    unfeaturisable = [
        e
        if e.kind is not EventKind.IMPRESSION or i % 3
        else replace(e, features=learn.UNFEATURISABLE)
        for i, e in enumerate(events)
    ]
    objects = learn.impression_rows([], unfeaturisable, {}, _no_featuriser, names=FEATURES)
    columns = learn.stored_impression_rows(EventColumns.of(unfeaturisable), names=FEATURES)
    assert columns is not None and np.array_equal(columns.features, objects.features)
    assert np.array_equal(columns.pages, objects.pages)
    missing = [replace(e, features=None) if e.kind is EventKind.IMPRESSION else e for e in events]
    assert learn.stored_impression_rows(EventColumns.of(missing), names=FEATURES) is None
    none = learn.stored_impression_rows(EventColumns.of([]), names=FEATURES)
    assert none is not None and len(none) == 0


def _no_featuriser(state: ReaderState, ids: object, moment: float) -> tuple[np.ndarray, list[int]]:
    raise AssertionError("every impression here kept its features")
