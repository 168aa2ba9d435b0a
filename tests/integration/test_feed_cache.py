"""A reader's page is served again while nothing it depends on changed, and made afresh
as soon as something of the reader did: their events, follows, mutes or settings (from any
process), the articles this engine ingests or analyses, or the page outliving its lifetime.
When only the window changed (another process's analyses), readers still reading are
served the page they have while the background thread ranks it again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.test_enrich import T0 as T_ORIGIN
from tests.integration.test_enrich import draft, store
from tests.integration.test_feed import MARKETS, newsroom
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
    rank = engine.ranker._rank

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return rank(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.ranker, "_rank", counting)
    return calls


def test_a_page_is_reused_until_the_reader_or_the_news_changes(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    calls = ranked(engine, monkeypatch)
    first = engine.feed("ana")
    assert engine.feed("ana") is first
    assert len(calls) == 1
    # Another size or a cursor is another page.
    engine.feed("ana", size=5)
    assert len(calls) == 2
    # The reader's own doings, through this engine or another process's.
    engine.readers.record_events(
        "ana", [ReaderEvent(kind=EventKind.OPEN, article_id=ids["quake"], at=engine._clock())]
    )
    engine.feed("ana")
    assert len(calls) == 3
    with make_engine(settings) as other:
        other.readers.follow("ana", InterestKind.SOURCE, "https://wire.example/feed")
    engine.feed("ana")
    assert len(calls) == 4
    with make_engine(settings) as other:
        other.readers.unfollow("ana", InterestKind.SOURCE, "https://wire.example/feed")
        other.readers.mute("ana", InterestKind.SOURCE, "https://wire.example/feed")
    muted = engine.feed("ana")
    assert len(calls) == 5
    assert all(
        i.source_id != engine.get_source("https://wire.example/feed").id for i in muted.items
    )
    engine.readers.set_reader_settings("ana", diversity=0.9)
    engine.feed("ana")
    assert len(calls) == 6
    # Articles this engine analyses reach the page at once.
    engine.enrich()
    engine.feed("ana")
    assert len(calls) == 7
    # Another reader's page is their own.
    engine.readers.add_reader("bo")
    assert engine.feed("bo").reader.name == "bo"


def test_a_page_is_kept_while_nothing_changes_and_expires(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not on a short timer: a page nothing of which changed is served for its lifetime
    (ten times ``feed_cache_seconds``), and ranked afresh in the request after it."""
    clock = Clock(datetime.now(UTC))
    with make_engine(settings, clock=clock) as engine:
        # Pages expire by the process's seconds, here moved with the clock.
        engine.ranker.timer = lambda: clock.now.timestamp()
        newsroom(engine)
        engine.readers.add_reader("ana")
        calls = ranked(engine, monkeypatch)
        engine.feed("ana")
        clock.now += timedelta(seconds=61)
        engine.feed("ana")
        assert len(calls) == 1
        clock.now += timedelta(seconds=540)  # 601 s old, last asked for 540 s ago
        engine.feed("ana")
        assert len(calls) == 2
        assert engine.ranker.stats.snapshot()["ranked: expired"]["count"] == 1


def test_a_page_asked_for_again_while_it_is_ranked_is_ranked_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests for a reader's first page at once: one ranks it, the other waits for
    that page rather than ranking it a second time."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    newsroom(engine)
    reader = engine.readers.add_reader("ana").id
    engine.ranker.ensure_loaded()
    started = threading.Event()
    rank = engine.ranker._rank
    calls: list[int] = []

    def slow(*args: object, **kwargs: object) -> object:
        calls.append(1)
        started.set()
        time.sleep(0.5)  # the second request arrives meanwhile
        return rank(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.ranker, "_rank", slow)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(engine.feed, reader)
        assert started.wait(10)
        second = pool.submit(engine.feed, reader)
        assert first.result() is second.result()
    assert len(calls) == 1
    counts = engine.ranker.stats.snapshot()
    assert counts["ranked: no page yet"]["count"] == 1
    assert counts["waited for the same page being ranked"]["count"] == 1


def test_the_cache_can_be_turned_off(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:

    with make_engine(settings.replace(feed_cache_seconds=0)) as engine:
        newsroom(engine)
        engine.readers.add_reader("ana")
        calls = ranked(engine, monkeypatch)
        engine.feed("ana")
        engine.feed("ana")
        assert len(calls) == 2


def test_another_processs_news_reaches_the_page(settings: Settings) -> None:
    """Articles analysed by another process reach this one's pages through storage's
    change sequence, without rebuilding what it holds."""
    clock = Clock(datetime.now(UTC))
    with make_engine(settings, clock=clock) as engine, make_engine(settings) as other:
        engine.ranker.timer = lambda: clock.now.timestamp()
        newsroom(engine)
        engine.readers.add_reader("ana")
        before = {i.article_id for i in engine.feed("ana").items}
        loads: list[int] = []
        load = engine.ranker.load
        engine.ranker.load = lambda: loads.append(1) or load()  # type: ignore[method-assign]
        hours = (clock.now - T_ORIGIN).total_seconds() / 3600
        fresh = store(other, "https://late.example/feed", [draft("late", *MARKETS, hours)])
        other.enrich()
        fresh = fresh["late"]
        clock.now += timedelta(seconds=61)  # the page may lag the window by 60 s

        def shown(page: object) -> set[int]:
            items = page.items  # type: ignore[attr-defined]
            return {i.article_id for i in items} | {
                c.article_id for i in items for c in i.also_covered_by
            }

        # The background thread reads the change and ranks the page again; meanwhile
        # requests are served the page there is.
        deadline = time.monotonic() + 10
        while fresh not in shown(engine.feed("ana")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not loads  # followed, not read again from storage
        assert fresh in engine.ranker.window
        assert fresh not in before
        assert fresh in shown(engine.feed("ana"))


def test_pages_in_use_are_ranked_again_in_the_background_when_the_window_changes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No request waits for a page that could have been ready, and nothing is ranked again
    on a timer: while nothing changes no page is ranked at all; after another process's
    analysis changes the window, the background thread ranks the page readers keep asking
    for again, and requests are served the page they had until it has."""
    import threading

    with (
        make_engine(settings.replace(feed_cache_seconds=1)) as engine,
        make_engine(settings) as other,
    ):
        newsroom(engine)
        engine.readers.add_reader("ana")
        first = engine.feed("ana")
        threads: list[str] = []
        rank = engine.ranker._rank

        def counting(*args: object, **kwargs: object) -> object:
            threads.append(threading.current_thread().name)
            return rank(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(engine.ranker, "_rank", counting)
        # Past the page's allowed lag with nothing changed: served, never ranked again.
        for _ in range(25):
            time.sleep(0.1)
            assert engine.feed("ana") is first
        assert not threads
        hours = (engine._clock() - T_ORIGIN).total_seconds() / 3600
        store(other, "https://late.example/feed", [draft("late", *MARKETS, hours)])
        other.enrich()
        served = first
        deadline = time.monotonic() + 10
        while served is first and time.monotonic() < deadline:
            time.sleep(0.1)
            served = engine.feed("ana")
        assert served is not first, "the background thread never ranked the page again"
        # No request waited for it: every page made since was made in the background.
        assert threads and set(threads) == {"tidings-pages"}
        counts = engine.ranker.stats.snapshot()
        assert counts["background: ranked again"]["count"] == len(threads)
        assert counts["served"]["count"] >= 25


def test_a_restart_reads_the_saved_window_and_catches_up(settings: Settings) -> None:
    """A process saves what it holds when it closes; the next one starts from that and reads
    only what changed since, not the whole week of articles again."""
    clock = Clock(datetime.now(UTC))
    with make_engine(settings, clock=clock) as first:
        newsroom(first)
        first.readers.add_reader("ana")
        before = {i.article_id for i in first.feed("ana").items}
    hours = (clock.now - T_ORIGIN).total_seconds() / 3600
    with make_engine(settings) as other:
        late = store(other, "https://late.example/feed", [draft("late", *MARKETS, hours)])
        other.enrich()
    with make_engine(settings, clock=clock) as second:
        reads: list[int] = []
        window_facts = second.storage.window_facts
        second.storage.window_facts = (  # type: ignore[method-assign]
            lambda **kw: reads.append(1) or window_facts(**kw)
        )
        page = second.feed("ana")
        assert not reads  # started from the snapshot
        assert late["late"] in second.ranker.window
        assert all(a in second.ranker.window for a in before)
        assert page.items


def test_a_stopped_clock_does_not_stop_the_news(settings: Settings) -> None:
    """Caches and refreshes run on the process's seconds, not the news's clock: with the
    clock stopped (as benchmarks run), another process's analyses still reach the window."""
    frozen = Clock(datetime.now(UTC))
    with make_engine(settings, clock=frozen) as engine, make_engine(settings) as other:
        newsroom(engine)
        engine.readers.add_reader("ana")
        engine.feed("ana")
        hours = (frozen.now - T_ORIGIN).total_seconds() / 3600
        fresh = store(other, "https://late.example/feed", [draft("late", *MARKETS, hours)])
        other.enrich()
        deadline = time.monotonic() + 10
        while fresh["late"] not in engine.ranker.window and time.monotonic() < deadline:
            time.sleep(0.2)
            engine.feed("ana")
        assert fresh["late"] in engine.ranker.window


def test_loading_the_window_raises_the_collectors_first_threshold_and_keeps_it_off_if_off(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that ranks pages collects young objects less often (a page's objects die
    by reference counting first), never lowering a threshold set higher, and leaves the
    collector off where the application turned it off."""
    import gc

    from tidings.rank.ranker import GC_YOUNG_THRESHOLD

    before = gc.get_threshold()
    try:
        newsroom(engine)
        gc.set_threshold(700, 10, 10)
        engine.ranker.load()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
        gc.set_threshold(GC_YOUNG_THRESHOLD * 3, 10, 10)
        engine.ranker.load()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD * 3, 10, 10)
        gc.set_threshold(0, 10, 10)
        engine.ranker.load()
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)
