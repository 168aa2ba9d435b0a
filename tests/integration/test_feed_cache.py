"""A reader's page is served again while nothing it depends on changed, and made afresh
as soon as something did: their events, follows, mutes or settings (from any process), the
articles this engine ingests or analyses, or the cache's time running out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.test_feed import newsroom
from tidings.config import Settings
from tidings.engine import Engine, make_engine
from tidings.types import EventKind, InterestKind, ReaderEvent

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        data_dir=tmp_path,
        feed_cache_seconds=60,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    with make_engine(settings) as e:
        yield e


def ranked(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    rank = engine._rank_page

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return rank(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_rank_page", counting)
    return calls


def test_a_page_is_reused_until_the_reader_or_the_news_changes(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = newsroom(engine)
    engine.add_reader("ana")
    calls = ranked(engine, monkeypatch)
    first = engine.feed("ana")
    assert engine.feed("ana") is first
    assert len(calls) == 1
    # Another size or a cursor is another page.
    engine.feed("ana", size=5)
    assert len(calls) == 2
    # The reader's own doings, through this engine or another process's.
    engine.record_events(
        "ana", [ReaderEvent(kind=EventKind.OPEN, article_id=ids["quake"], at=engine._clock())]
    )
    engine.feed("ana")
    assert len(calls) == 3
    with make_engine(settings) as other:
        other.follow("ana", InterestKind.SOURCE, "https://wire.example/feed")
    engine.feed("ana")
    assert len(calls) == 4
    with make_engine(settings) as other:
        other.unfollow("ana", InterestKind.SOURCE, "https://wire.example/feed")
        other.mute("ana", InterestKind.SOURCE, "https://wire.example/feed")
    muted = engine.feed("ana")
    assert len(calls) == 5
    assert all(
        i.source_id != engine.get_source("https://wire.example/feed").id for i in muted.items
    )
    engine.set_reader_settings("ana", diversity=0.9)
    engine.feed("ana")
    assert len(calls) == 6
    # Articles this engine analyses reach the page at once.
    engine.enrich()
    engine.feed("ana")
    assert len(calls) == 7
    # Another reader's page is their own.
    engine.add_reader("bo")
    assert engine.feed("bo").reader.name == "bo"


def test_a_page_expires(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(datetime.now(UTC))
    with make_engine(settings, clock=clock) as engine:
        newsroom(engine)
        engine.add_reader("ana")
        calls = ranked(engine, monkeypatch)
        engine.feed("ana")
        clock.now += timedelta(seconds=59)
        engine.feed("ana")
        assert len(calls) == 1
        clock.now += timedelta(seconds=2)
        engine.feed("ana")
        assert len(calls) == 2


def test_the_cache_can_be_turned_off(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:

    with make_engine(settings.replace(feed_cache_seconds=0)) as engine:
        newsroom(engine)
        engine.add_reader("ana")
        calls = ranked(engine, monkeypatch)
        engine.feed("ana")
        engine.feed("ana")
        assert len(calls) == 2


def test_cached_facts_come_back_in_the_order_asked_for(engine: Engine) -> None:
    newsroom(engine)
    analysed = [f.article_id for f in engine.storage.rank_facts(limit=0, article_ids=range(1, 99))]
    assert len(analysed) >= 4
    a, b, c, d = analysed[:4]
    engine._rank_facts([c, d])  # some cached, some not
    assert [f.article_id for f in engine._rank_facts([d, a, c, b, d])] == [d, a, c, b]
