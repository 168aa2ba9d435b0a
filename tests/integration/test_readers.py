"""Readers through the engine and the command line: follows resolve what they name, bad
input is refused with a clear error and stores nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.test_cli import run
from tests.integration.test_enrich import MEETING, T0, draft, store
from tidings.engine import Engine
from tidings.errors import (
    EntityNotFoundError,
    InvalidInputError,
    ReaderExistsError,
    SourceNotFoundError,
    TopicNotFoundError,
)
from tidings.types import EventKind, InterestKind, ReaderEvent, Stance

pytestmark = pytest.mark.integration


def test_follows_resolve_what_they_name(engine: Engine) -> None:
    ids = store(engine, "https://wire.example/feed", [draft("meeting", *MEETING, 0)])
    engine.enrich()
    engine.readers.add_reader("ana")
    xi = engine.readers.follow("ana", "entity", "Xi")
    assert (xi.value, xi.label) == (str(engine.entity_page("Xi Jinping").entity.id), "Xi Jinping")
    # A relation may be followed before any article about it has arrived.
    us_china = engine.readers.follow("ana", InterestKind.TOPIC, "US-China relations")
    assert us_china.value == "relation:china-united-states"
    assert (
        engine.readers.follow("ana", "topic", "China–Russia relations").value
        == "relation:china-russia"
    )
    assert engine.readers.follow("ana", "topic", "POLITICS").label == "politics"
    source = engine.readers.follow("ana", "source", "https://wire.example/feed")
    assert source.value == str(engine.get_article(ids["meeting"]).source_id)
    assert engine.readers.follow("ana", "author", "  Jane   Doe ").value == "jane doe"
    story = engine.article_insight(ids["meeting"])
    assert story is not None and story.story is not None
    assert engine.readers.follow("ana", "story", str(story.story.id)).label == MEETING[0]

    muted = engine.readers.mute("ana", "keyword", "Football")
    assert (muted.value, muted.stance) == ("football", Stance.MUTE)
    # Muting what was followed replaces the follow.
    engine.readers.mute("ana", "entity", "Xi Jinping")
    stances = {(i.kind, i.value): i.stance for i in engine.readers.interests("ana")}
    assert stances[(InterestKind.ENTITY, xi.value)] is Stance.MUTE
    assert engine.readers.unfollow("ana", "entity", "Xi") and not engine.readers.unfollow(
        "ana", "entity", "Xi"
    )


@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("entity", "Nobody Atall", EntityNotFoundError),
        ("topic", "underwater basket weaving", TopicNotFoundError),
        ("topic", "France-France relations", TopicNotFoundError),
        ("source", "https://nowhere.example/feed", SourceNotFoundError),
        ("story", "the big one", InvalidInputError),
        ("planet", "Mars", InvalidInputError),
        ("keyword", "   ", InvalidInputError),
        ("author", "x" * 201, InvalidInputError),
    ],
)
def test_following_what_does_not_exist_is_a_clear_error(
    engine: Engine, kind: str, value: str, error: type[Exception]
) -> None:
    engine.readers.add_reader("ana")
    with pytest.raises(error):
        engine.readers.follow("ana", kind, value)
    assert engine.readers.interests("ana") == []


def test_reader_names_and_settings_are_checked(engine: Engine) -> None:
    engine.readers.add_reader("ana.b+news@home")
    with pytest.raises(ReaderExistsError):
        engine.readers.add_reader("ana.b+news@home")
    for bad in ("", "two words", "x" * 65, "semi;colon"):
        with pytest.raises(InvalidInputError):
            engine.readers.add_reader(bad)
    changed = engine.readers.set_reader_settings("ana.b+news@home", exploration=0.25, diversity=0.8)
    assert (changed.exploration, changed.diversity) == (0.25, 0.8)
    for values in ({"exploration": 0.9}, {"exploration": -0.1}, {"diversity": 1.5}):
        with pytest.raises(InvalidInputError):
            engine.readers.set_reader_settings("ana.b+news@home", **values)


def test_malformed_events_store_nothing(engine: Engine) -> None:
    ids = store(engine, "https://wire.example/feed", [draft("meeting", *MEETING, 0)])
    article = ids["meeting"]
    engine.readers.add_reader("ana")
    now = engine._clock()
    good = ReaderEvent(kind=EventKind.IMPRESSION, article_id=article, at=now, value=0)
    bad_events = [
        ReaderEvent(kind=EventKind.READ, article_id=article, at=now),
        ReaderEvent(kind=EventKind.READ, article_id=article, at=now, value=-3),
        ReaderEvent(kind=EventKind.READ, article_id=article, at=now, value=10**6),
        ReaderEvent(kind=EventKind.IMPRESSION, article_id=article, at=now, value=1.5),
        ReaderEvent(kind=EventKind.OPEN, article_id=article, at=now, value=2),
        ReaderEvent(kind=EventKind.OPEN, article_id=article, at=now + timedelta(days=1)),
        ReaderEvent(kind=EventKind.OPEN, article_id=article, at=T0.replace(tzinfo=None)),
    ]
    for bad in bad_events:
        with pytest.raises(InvalidInputError, match="malformed"):
            engine.readers.record_events("ana", [good, bad])
    assert engine.storage.reader_events(engine.readers.get_reader("ana").id) == []
    assert engine.readers.record_events("ana", [good]) == 1
    engine.readers.save_article("ana", article)
    assert [a.id for a in engine.readers.saved_articles("ana")] == [article]


def test_reader_commands(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    env = {"TIDINGS_DATA_DIR": str(tmp_path / "data"), "TIDINGS_ENRICH": "0"}
    assert run(db, "reader", "add", "ana", env=env).returncode == 0
    followed = run(db, "follow", "ana", "topic", "China–Russia relations", env=env)
    assert followed.returncode == 0, followed.stderr
    assert "ana follows topic China–Russia relations" in followed.stdout
    assert run(db, "mute", "ana", "keyword", "Celebrity", env=env).returncode == 0
    shown = run(db, "reader", "show", "ana", env=env)
    assert "follows: topic China–Russia relations" in shown.stdout
    assert "mutes: keyword Celebrity" in shown.stdout
    missing = run(db, "follow", "ana", "entity", "Nobody", env=env)
    assert missing.returncode == 1 and "no such entity" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert run(db, "follow", "nobody", "keyword", "x", env=env).returncode == 1
    assert run(db, "unfollow", "ana", "keyword", "celebrity", env=env).returncode == 0
    assert run(db, "unfollow", "ana", "keyword", "celebrity", env=env).returncode == 1
    assert run(db, "reader", "set", "ana", "--exploration", "0.7", env=env).returncode == 1
    assert "ana" in run(db, "reader", "list", env=env).stdout
