"""A reader's fitted weights are kept until they have something new to learn from."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pytest

import tidings.rank.learn as learn
from tests.integration.test_feed import newsroom
from tidings.engine import Engine, make_engine
from tidings.rank.learn import LEARN_AFTER
from tidings.rank.score import FEATURES
from tidings.types import EventKind, InterestKind, ReaderEvent

pytestmark = pytest.mark.integration


def shown_enough(engine: Engine, reader: str, ids: dict[str, int]) -> None:
    """Enough impressions (without features) for the reader's own weights, an hour ago, and
    one article opened."""
    now = engine._clock() - timedelta(hours=1)
    shown = sorted(ids.values())
    events = [
        ReaderEvent(
            kind=EventKind.IMPRESSION,
            article_id=shown[n % len(shown)],
            at=now + timedelta(seconds=n),
            value=n,
        )
        for n in range(LEARN_AFTER + 5)
    ]
    events.append(ReaderEvent(kind=EventKind.OPEN, article_id=ids["quake"], at=now))
    engine.readers.record_events(reader, events)


def test_weights_are_refitted_only_after_new_events_or_follows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    shown_enough(engine, "ana", ids)
    fits: list[int] = []
    fit = learn.fit_weights

    def counting(*args: object, **kwargs: object) -> npt.NDArray[np.float64]:
        fits.append(1)
        return fit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(learn, "fit_weights", counting)
    first = engine.feed("ana")
    again = engine.feed("ana")
    assert len(fits) == 1
    # The same page (scores move only with the clock, through freshness).
    assert [i.article_id for i in again.items] == [i.article_id for i in first.items]
    assert [i.score for i in again.items] == pytest.approx([i.score for i in first.items], abs=1e-4)
    engine.readers.record_events(
        "ana",
        [ReaderEvent(kind=EventKind.OPEN, article_id=ids["floods"], at=engine._clock())],
    )
    engine.feed("ana")
    assert len(fits) == 2
    engine.readers.follow("ana", InterestKind.SOURCE, "https://wire.example/feed")
    engine.feed("ana")
    engine.feed("ana")
    assert len(fits) == 3


def test_global_weights_are_learned_from_readers_and_serve_new_ones(engine: Engine) -> None:
    ids = newsroom(engine)
    wire = engine.get_source("https://wire.example/feed").id
    assert engine.learn() == (0, 0)  # nobody has a history yet
    defaults = engine.ranking_weights()
    # Readers who follow a source but read only what is popular elsewhere: following a
    # source should count for less than the judged default. (Their pages come after the
    # follow: what a reader followed later says nothing of what they were shown before.)
    for n in range(3):
        name = f"r{n}"
        engine.readers.add_reader(name)
        engine.readers.follow(name, InterestKind.SOURCE, "https://wire.example/feed")
        now = engine._clock() + timedelta(seconds=1)
        events = []
        for k in range(LEARN_AFTER * 2):
            article = sorted(ids.values())[k % len(ids)]
            at = now + timedelta(seconds=k)
            events.append(ReaderEvent(kind=EventKind.IMPRESSION, article_id=article, at=at))
            if engine.get_article(article).source_id != wire:
                events.append(ReaderEvent(kind=EventKind.OPEN, article_id=article, at=at))
        engine.readers.record_events(name, events)
    readers, impressions = engine.learn()
    assert readers == 3 and impressions >= 3 * LEARN_AFTER
    learned = engine.ranking_weights()
    assert learned["follow_source"] < defaults["follow_source"]
    # Another process reads the stored model.
    with make_engine(engine.settings) as other:
        assert other.ranking_weights() == pytest.approx(learned)
    engine.readers.add_reader("new")
    assert engine.feed("new").items  # a new reader's page is ranked with them


def test_impressions_recorded_without_features_are_featurised_once_and_kept(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Impressions from before features were stored are featurised with the state the
    reader had then on their first page, and kept in storage: later pages (and other
    processes) read them instead of rebuilding the reader's past states."""
    ids = newsroom(engine)
    reader = engine.readers.add_reader("ana")
    shown_enough(engine, "ana", ids)
    ranker = engine.ranker
    featurised: list[int] = []
    features_of = ranker.features_of

    def counting(*args: object, **kwargs: object) -> object:
        featurised.append(1)
        return features_of(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ranker, "features_of", counting)
    first = engine.feed("ana")
    assert featurised
    stored = engine.storage.reader_events(reader.id, kinds=[EventKind.IMPRESSION])
    assert len(stored) == LEARN_AFTER + 5
    # Each kept: with its features, or marked as having none to learn from (an article
    # the window no longer holds).
    assert all(e.features is not None for e in stored)
    rows = [learn.unpack_features(e.features, FEATURES) for e in stored]
    assert sum(row is not None for row in rows) >= len(stored) // 2
    assert all(
        row is not None or e.features == learn.UNFEATURISABLE
        for e, row in zip(stored, rows, strict=True)
    )
    # A new page after a new event refits from what was kept, featurising nothing.
    featurised.clear()
    engine.readers.record_events(
        "ana", [ReaderEvent(kind=EventKind.OPEN, article_id=ids["floods"], at=engine._clock())]
    )
    again = engine.feed("ana")
    assert featurised == []
    assert again.items and first.items
    # Nothing left to keep: the bulk step finds none.
    assert ranker.keep_features([reader]) == 0
