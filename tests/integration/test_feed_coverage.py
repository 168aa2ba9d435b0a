"""Every feed item names its story's other sources the same way, whether or not those
articles were among the page's candidates, and its count of sources agrees with the names
plus what it says beyond them."""

from __future__ import annotations

import pytest

from tests.integration.test_feed import newsroom
from tidings.engine import Engine
from tidings.rank import candidates
from tidings.types import FeedItem

pytestmark = pytest.mark.integration


def more_sources(item: FeedItem) -> int:
    """What the page says beyond the names ("+N"), as the web page and the API count it."""
    return item.source_count - 1 - len({c.source_id for c in item.also_covered_by})


def meeting_item(engine: Engine, ids: dict[str, int], reader: str) -> FeedItem:
    page = engine.feed(reader)
    (item,) = [i for i in page.items if i.article_id in (ids["meeting"], ids["meeting-2"])]
    return item


def test_other_sources_are_named_when_they_were_not_candidates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    # Only each story's representative is a candidate: the meeting's other article is not.
    monkeypatch.setattr(candidates, "NEWEST", 0)
    item = meeting_item(engine, ids, "ana")
    other = ids["meeting-2"] if item.article_id == ids["meeting"] else ids["meeting"]
    assert [c.article_id for c in item.also_covered_by] == [other]
    assert item.source_count == 2 and more_sources(item) == 0
    # The same names as when every article of the story is a candidate.
    monkeypatch.setattr(candidates, "NEWEST", 200)
    engine.ranker.invalidate()
    again = meeting_item(engine, ids, "ana")
    assert (again.article_id, again.also_covered_by) == (item.article_id, item.also_covered_by)
    assert again.source_count == item.source_count


def test_a_muted_source_is_never_named_but_still_counted(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = newsroom(engine)
    engine.readers.add_reader("ana")
    monkeypatch.setattr(candidates, "NEWEST", 0)
    item = meeting_item(engine, ids, "ana")
    muted = (
        "https://paper.example/feed"
        if item.article_id == ids["meeting"]
        else ("https://wire.example/feed")
    )
    engine.readers.mute("ana", "source", muted)
    item = meeting_item(engine, ids, "ana")
    assert item.also_covered_by == ()
    # The story's own count (its reason and its page say two sources): one beyond the names.
    assert item.source_count == 2 and more_sources(item) == 1


def test_counts_agree_with_names_on_every_item(engine: Engine) -> None:
    newsroom(engine)
    engine.readers.add_reader("ana")
    for item in engine.feed("ana").items:
        named = {c.source_id for c in item.also_covered_by}
        assert len(named) == len(item.also_covered_by)
        assert item.source_id not in named
        assert more_sources(item) >= 0
        if item.story_id is None:
            assert item.source_count == 1 and not item.also_covered_by
