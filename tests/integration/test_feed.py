"""The reader's feed end to end: real analyses in storage, scores with reasons, one item per
story, absolute mutes, pages that do not repeat, and what new readers and empty databases get."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.test_cli import run
from tests.integration.test_enrich import GERMAN, MEETING, MEETING_OTHER, QUAKE, draft, store
from tidings.config import Settings
from tidings.engine import Engine, make_engine
from tidings.errors import TidingsError
from tidings.types import EventKind, ReaderEvent, ReasonKind

pytestmark = pytest.mark.integration

FLOODS = (
    "Floods force thousands from their homes in northern Italy",
    "Torrential rain in the Emilia-Romagna region of northern Italy burst river banks on "
    "Tuesday, forcing more than 10,000 people from their homes and killing at least eight, "
    "officials said. Rescue teams used helicopters to lift residents from rooftops in the "
    "towns of Faenza and Cesena as water levels kept rising. Prime Minister Giorgia Meloni "
    "said the government would declare a state of emergency and release funds for the "
    "worst-hit areas. Forecasters warned more rain was expected over the coming days.",
)
MARKETS = (
    "Stocks rally as inflation cools and bond yields fall",
    "Shares on Wall Street rose sharply on Wednesday after figures showed inflation in the "
    "United States slowed more than expected last month, raising hopes that the Federal "
    "Reserve will stop raising interest rates. The S&P 500 gained 1.9 percent and the "
    "Nasdaq climbed 2.4 percent, while the yield on ten-year Treasury notes fell to its "
    "lowest level in two months. Investors now expect the central bank to hold rates "
    "steady at its next meeting, analysts said.",
)


def newsroom(engine: Engine) -> dict[str, int]:
    """Recent articles from three sources; the meeting is covered by two of them."""
    hours_ago = -30.0  # published over the last day and a half, relative to now

    def at(offset: float) -> float:
        return (engine._clock() - T_ORIGIN).total_seconds() / 3600 + hours_ago + offset

    ids = store(
        engine,
        "https://wire.example/feed",
        [draft("meeting", *MEETING, at(0)), draft("quake", *QUAKE, at(1))],
    )
    ids |= store(
        engine,
        "https://paper.example/feed",
        [
            draft("meeting-2", *MEETING_OTHER, at(2)),
            draft("floods", *FLOODS, at(3)),
            draft("german", *GERMAN, at(4)),
        ],
    )
    ids |= store(engine, "https://markets.example/feed", [draft("markets", *MARKETS, at(5))])
    engine.enrich()
    return ids


from tests.integration.test_enrich import T0 as T_ORIGIN  # noqa: E402


def test_a_reader_following_xi_and_china_russia_gets_the_meeting_first(engine: Engine) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    engine.readers.follow("ana", "entity", "Xi Jinping")
    engine.readers.follow("ana", "topic", "China–Russia relations")
    page = engine.feed("ana")
    first = page.items[0]
    assert first.article_id in (ids["meeting"], ids["meeting-2"])
    # One item for the story, with its other source attached.
    assert [c.article_id for c in first.also_covered_by] == [
        ids["meeting-2"] if first.article_id == ids["meeting"] else ids["meeting"]
    ]
    kinds = {r.kind for r in first.reasons}
    assert {ReasonKind.FOLLOW_ENTITY, ReasonKind.FOLLOW_TOPIC} <= kinds
    assert all(r.action.label for r in first.reasons)
    shown = [i.article_id for i in page.items]
    assert ids["german"] not in shown  # skipped by enrichment: not English
    assert len(shown) == len(set(shown)) == 4  # meeting, quake, floods, markets


def test_mutes_are_absolute(engine: Engine) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    engine.readers.follow("ana", "source", "https://wire.example/feed")
    engine.readers.follow("ana", "topic", "China–Russia relations")
    engine.readers.mute("ana", "entity", "Putin")
    engine.readers.mute("ana", "source", "https://markets.example/feed")
    engine.readers.mute("ana", "keyword", "Floods")
    shown = {i.article_id for i in engine.feed("ana").items}
    assert shown == {ids["quake"]}


def test_pages_do_not_repeat_and_bad_cursors_are_refused(engine: Engine) -> None:
    newsroom(engine)
    engine.readers.add_reader("ana")
    first = engine.feed("ana", size=2)
    assert len(first.items) == 2 and first.next_cursor
    second = engine.feed("ana", size=2, cursor=first.next_cursor)
    assert {i.article_id for i in first.items}.isdisjoint({i.article_id for i in second.items})
    assert second.items[0].rank == 3
    with pytest.raises(TidingsError):
        engine.feed("ana", cursor="not-a-cursor")


def test_a_page_asked_for_by_name_reads_the_reader_once(tmp_path: Path) -> None:
    """The engine's read of the reader by name is the page's: ranking does not read them
    again (a page is ranked afresh here, with no page cache)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        data_dir=tmp_path,
        feed_cache_seconds=0,
    )
    with make_engine(settings) as engine:
        newsroom(engine)
        engine.readers.add_reader("ana")
        engine.readers.set_reader_settings("ana", diversity=0.0)
        reads: list[object] = []
        read = engine.storage.get_reader

        def counted(reader: int | str) -> object:
            reads.append(reader)
            return read(reader)

        engine.storage.get_reader = counted  # type: ignore[method-assign,assignment]
        page = engine.feed("ana", size=2)
        assert len(page.items) == 2 and page.reader.name == "ana"
        assert page.reader.diversity == 0.0
        assert reads == ["ana"]
        with pytest.raises(TidingsError):
            engine.feed("nobody")


def test_reading_shapes_the_page_and_explains_it(engine: Engine) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    now = engine._clock()
    engine.readers.record_events(
        "ana",
        [
            ReaderEvent(kind=EventKind.IMPRESSION, article_id=ids["quake"], at=now, value=0),
            ReaderEvent(kind=EventKind.OPEN, article_id=ids["quake"], at=now),
            ReaderEvent(kind=EventKind.READ, article_id=ids["quake"], at=now, value=80),
        ],
    )
    page = engine.feed("ana")
    floods = next(i for i in page.items if i.article_id == ids["floods"])
    similar = [r for r in floods.reasons if r.kind is ReasonKind.SIMILAR_TO_READ]
    assert similar and QUAKE[0] in similar[0].text
    # What was read drops below what was not.
    ranks = {i.article_id: i.rank for i in page.items}
    assert ranks[ids["quake"]] > ranks[ids["floods"]]
    # "Less like this" pushes similar articles down.
    engine.readers.record_events(
        "ana",
        [ReaderEvent(kind=EventKind.LESS, article_id=ids["floods"], at=now + timedelta(seconds=1))],
    )
    after = {i.article_id: i.rank for i in engine.feed("ana").items}
    assert after[ids["floods"]] > ranks[ids["floods"]]


def test_new_readers_get_important_stories_and_empty_databases_a_hint(
    engine: Engine, tmp_path: Path
) -> None:
    engine.readers.add_reader("new")
    empty = engine.feed("new")
    assert empty.items == () and empty.hint and "tidings source add" in empty.hint
    ids = newsroom(engine)
    page = engine.feed("new")
    assert page.items and page.hint is None
    # The story two sources cover leads for a reader with no history.
    assert page.items[0].article_id in (ids["meeting"], ids["meeting-2"])

    db = tmp_path / "db.sqlite"
    env = {"TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_ENRICH": "0"}
    printed = run(db, "feed", "new", "--explain", env=env)
    assert printed.returncode == 0, printed.stderr
    assert "1. " in printed.stdout and "more sources" in printed.stdout
    bad = run(db, "feed", "new", "--cursor", "garbage", env=env)
    assert bad.returncode == 1 and "cursor" in bad.stderr and "Traceback" not in bad.stderr
    read = run(db, "event", "new", "read", str(ids["quake"]), "75", env=env)
    assert read.returncode == 0, read.stderr
    malformed = run(db, "event", "new", "read", str(ids["quake"]), env=env)
    assert malformed.returncode == 1 and "malformed read event" in malformed.stderr
    unknown = run(db, "event", "new", "open", "999999", env=env)
    assert unknown.returncode == 1 and "no such article" in unknown.stderr


def test_the_seed_story_leads_for_a_reader_of_xi_and_china_russia(
    engine: Engine, shared_data: Path
) -> None:
    seed = shared_data.parent / "seed" / "xi-putin-belt-and-road.txt"
    if not seed.is_file():
        pytest.skip(f"seed page not found at {seed}")
    newsroom(engine)
    engine.readers.add_reader("ana")
    engine.readers.follow("ana", "entity", "Xi Jinping")
    engine.readers.follow("ana", "topic", "China–Russia relations")
    # The seed arrives after the reader set up their follows, as copied page text.
    article = engine.add_article(str(seed), text=True, source_name="SCMP")
    page = engine.feed("ana", size=10)
    lead = page.items[0]
    story = engine.article_insight(article.id)
    assert story is not None and story.story is not None
    assert lead.story_id == story.story.id
    assert {r.text for r in lead.reasons} >= {
        "You follow Xi Jinping",
        "You follow China–Russia relations",
    }


def test_a_storys_numbers_agree_on_the_item_its_reason_and_its_coverage(engine: Engine) -> None:
    """One definition of a story's sources: the item, its "Top story" reason, "Full
    coverage" and the story page all say the story's own count."""
    import re

    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    page = engine.feed("ana")
    meeting = next(i for i in page.items if i.story_id is not None)
    story = engine.story_page(meeting.story_id)
    assert meeting.source_count == story.story.source_count == len(set(story.sources))
    assert story.story.article_count == len(story.articles)
    for reason in meeting.reasons:
        if found := re.match(r"Top story: (\d+) sources", reason.text):
            assert int(found.group(1)) == meeting.source_count
    assert {ids["meeting"], ids["meeting-2"]} & {a.id for a in story.articles}
