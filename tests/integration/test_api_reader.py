"""The reader's side of the HTTP API over real analysed articles: follows and mutes, the
feed with its reasons, events, saved articles, articles, topics, search, private feeds, and
that one reader can neither see nor change another's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

import tidings.accounts
from tests.integration.test_api_accounts import assert_error, signed_in, with_token
from tests.integration.test_enrich import draft, store
from tests.integration.test_feed import newsroom
from tidings.api.app import create_app
from tidings.api.limits import AuthRateLimits
from tidings.config import Settings
from tidings.engine import Engine, make_engine
from tidings.types import EventKind

pytestmark = pytest.mark.integration

HOSTILE = (
    '<p onclick="steal()">Ministers met <a href="javascript:alert(1)">today</a>.</p>'
    "<script>alert('x')</script><iframe src='https://evil.example'></iframe>"
    '<img src="https://img.example/a.jpg" onerror="steal()">'
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, int]]]:
    tmp: Path = tmp_path_factory.mktemp("api-reader")
    settings = Settings(database_url=f"sqlite:///{tmp / 'db.sqlite'}", data_dir=tmp)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tidings.accounts, "_HASHER", PasswordHasher(1, 8, 1))
        patch.setattr(tidings.accounts, "_DUMMY", None)
        with make_engine(settings) as engine:
            ids = newsroom(engine)
            hostile = replace(draft("hostile", "A page with tricks", "", 0), body=None)
            ids |= store(
                engine, "https://tricks.example/feed", [replace(hostile, content_html=HOSTILE)]
            )
            yield create_app(engine, auth_limits=AuthRateLimits(limit=10_000)), ids


@pytest.fixture
def app(world: tuple[FastAPI, dict[str, int]]) -> FastAPI:
    return world[0]


@pytest.fixture
def ids(world: tuple[FastAPI, dict[str, int]]) -> dict[str, int]:
    return world[1]


_readers = iter(range(1_000_000))


def fresh(app: FastAPI) -> TestClient:
    """A new reader, signed in through the cookie (one per test: the world is shared)."""
    return signed_in(app, f"reader{next(_readers)}")


def engine_of(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


def test_follow_mute_and_forget(app: FastAPI) -> None:
    ana = fresh(app)
    xi = ana.put("/api/interests", json={"kind": "entity", "value": "Xi"})
    assert xi.status_code == 200
    assert xi.json()["label"] == "Xi Jinping" and xi.json()["stance"] == "follow"
    topic = ana.put("/api/interests", json={"kind": "topic", "value": "China–Russia relations"})
    assert topic.json()["value"] == "relation:china-russia"
    muted = ana.put("/api/interests", json={"kind": "keyword", "value": "Floods", "stance": "mute"})
    assert muted.json() == {**muted.json(), "value": "floods", "stance": "mute"}
    listed = {(i["kind"], i["value"], i["stance"]) for i in ana.get("/api/interests").json()}
    assert listed == {
        ("entity", xi.json()["value"], "follow"),
        ("topic", "relation:china-russia", "follow"),
        ("keyword", "floods", "mute"),
    }
    assert ana.delete("/api/interests/keyword/Floods").status_code == 204
    assert_error(ana.delete("/api/interests/keyword/Floods"), 404, "not_found")
    assert ana.delete("/api/interests/topic/China–Russia relations").status_code == 204
    assert [i["kind"] for i in ana.get("/api/interests").json()] == ["entity"]


@pytest.mark.parametrize(
    ("body", "status", "key"),
    [
        ({"kind": "entity", "value": "Nobody Atall"}, 404, "entity_not_found"),
        ({"kind": "topic", "value": "Underwater basket weaving"}, 404, "topic_not_found"),
        ({"kind": "source", "value": "424242"}, 404, "source_not_found"),
        ({"kind": "story", "value": "not an id"}, 422, "invalid_input"),
        ({"kind": "story", "value": "99999999999999999999999"}, 422, "invalid"),
        ({"kind": "entity", "value": "²"}, 422, "invalid"),
        ({"kind": "planet", "value": "Mars"}, 422, "invalid"),
        ({"kind": "keyword", "value": ""}, 422, "invalid"),
        ({"kind": "keyword", "value": "   "}, 422, "invalid_input"),
        ({"kind": "keyword", "value": "x", "stance": "love"}, 422, "invalid"),
    ],
)
def test_follows_of_what_does_not_exist_are_refused(
    app: FastAPI, body: dict[str, str], status: int, key: str
) -> None:
    ana = fresh(app)
    assert_error(ana.put("/api/interests", json=body), status, key)
    assert ana.get("/api/interests").json() == []


def test_feed_with_reasons_and_pages(app: FastAPI, ids: dict[str, int]) -> None:
    ana = fresh(app)
    ana.put("/api/interests", json={"kind": "entity", "value": "Xi Jinping"})
    ana.put("/api/interests", json={"kind": "topic", "value": "China–Russia relations"})
    page = ana.get("/api/feed", params={"size": 2})
    assert page.status_code == 200
    body = page.json()
    first = body["items"][0]
    assert first["article_id"] in (ids["meeting"], ids["meeting-2"])
    assert first["rank"] == 1 and first["title"] and first["url"].startswith("https://")
    assert first["source"] and first["published"] and first["story_id"]
    assert first["source_count"] == 2 and len(first["also_covered_by"]) == 1
    assert first["also_covered_by"][0]["source"]
    kinds = {r["kind"] for r in first["reasons"]}
    assert {"follow_entity", "follow_topic"} <= kinds
    for reason in first["reasons"]:
        assert reason["text"] and isinstance(reason["weight"], float)
        assert set(reason["action"]) == {"verb", "target_kind", "target_id", "label"}
    assert body["hint"] is None


def test_a_cached_page_is_answered_with_the_same_json(app: FastAPI) -> None:
    """The page the ranker serves from its cache is turned into JSON once: the same bytes
    again, the response schema's own JSON, and a new body once the reader changes."""
    from tidings.api.schemas import FeedOut

    ana = fresh(app)
    first = ana.get("/api/feed")
    again = ana.get("/api/feed")
    assert first.headers["content-type"] == "application/json"
    assert again.content == first.content
    page = FeedOut.model_validate_json(first.content)
    assert page.items and first.json() == page.model_dump(mode="json")
    ana.put("/api/interests", json={"kind": "entity", "value": "Xi Jinping"})
    changed = ana.get("/api/feed").json()
    assert any(r["kind"] == "follow_entity" for i in changed["items"] for r in i["reasons"])


def test_feed_pages_do_not_repeat(app: FastAPI) -> None:
    ana = fresh(app)
    body = ana.get("/api/feed", params={"size": 2}).json()
    assert len(body["items"]) == 2 and body["next_cursor"]
    second = ana.get("/api/feed", params={"size": 2, "cursor": body["next_cursor"]}).json()
    assert second["items"][0]["rank"] == 3
    seen = {i["article_id"] for i in body["items"]}
    assert seen.isdisjoint(i["article_id"] for i in second["items"])
    for bad in ("not-a-cursor", "AAAA", "x" * 9000):
        assert_error(ana.get("/api/feed", params={"cursor": bad}), 422)
    assert_error(ana.get("/api/feed", params={"cursor": "garbage"}), 422, "invalid_cursor")
    for size in (0, 101, "many"):
        assert_error(ana.get("/api/feed", params={"size": size}), 422, "invalid")
    assert_error(TestClient(app).get("/api/feed"), 401)


def test_a_mute_changes_the_next_page(app: FastAPI, ids: dict[str, int]) -> None:
    ana = fresh(app)
    before = {i["article_id"] for i in ana.get("/api/feed").json()["items"]}
    assert ids["markets"] in before
    ana.put(
        "/api/interests",
        json={"kind": "source", "value": "https://markets.example/feed", "stance": "mute"},
    )
    after = {i["article_id"] for i in ana.get("/api/feed").json()["items"]}
    assert ids["markets"] not in after and after


def test_events(app: FastAPI, ids: dict[str, int]) -> None:
    ana = fresh(app)
    now = datetime.now(UTC)
    events = [
        {"kind": "impression", "article_id": ids["quake"], "value": 0},
        {"kind": "open", "article_id": ids["quake"], "at": now.isoformat()},
        {"kind": "read", "article_id": ids["quake"], "value": 80},
        {"kind": "more", "article_id": ids["floods"]},
        {"kind": "hide", "article_id": ids["markets"]},
    ]
    recorded = ana.post("/api/events", json=events)
    assert recorded.status_code == 200 and recorded.json() == {"recorded": 5}
    engine = engine_of(app)
    me = ana.get("/api/me").json()["reader"]["id"]
    stored = engine.storage.reader_events(me, since=now - timedelta(hours=1), limit=100)
    assert {e.kind for e in stored} == {
        EventKind.IMPRESSION,
        EventKind.OPEN,
        EventKind.READ,
        EventKind.MORE,
        EventKind.HIDE,
    }
    # The hidden article leaves the feed; the read one is marked read.
    items = {i["article_id"]: i for i in ana.get("/api/feed").json()["items"]}
    assert ids["markets"] not in items and items[ids["quake"]]["read"] is True


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([{"kind": "read", "article_id": 1}], 422),  # a read needs its seconds
        ([{"kind": "read", "article_id": 1, "value": -5}], 422),
        ([{"kind": "open", "article_id": 1, "value": 3}], 422),
        ([{"kind": "impression", "article_id": 1, "value": 1.5}], 422),
        ([{"kind": "glance", "article_id": 1}], 422),
        ([{"kind": "open", "article_id": 0}], 422),
        ([{"kind": "open", "article_id": 1, "at": "2026-01-01T00:00:00"}], 422),  # no zone
        ([{"kind": "open", "article_id": 1, "at": "2999-01-01T00:00:00Z"}], 422),
        ([{"kind": "open", "article_id": 1, "at": "0001-01-01T00:00:00Z"}], 422),
        ([{"kind": "open", "article_id": 999999}], 404),
        ({"kind": "open", "article_id": 1}, 422),  # not a list
        ([{"kind": "open", "article_id": 1}] * 1001, 422),
    ],
)
def test_malformed_events_store_nothing(
    app: FastAPI, ids: dict[str, int], events: Any, status: int
) -> None:
    ana = fresh(app)
    good = {"kind": "open", "article_id": ids["quake"]}
    body = [good, *events] if isinstance(events, list) else events
    assert_error(ana.post("/api/events", json=body), status)
    me = ana.get("/api/me").json()["reader"]["id"]
    since = datetime.now(UTC) - timedelta(days=1)
    assert engine_of(app).storage.reader_events(me, since=since, limit=10) == []


def test_nan_values_are_refused(app: FastAPI, ids: dict[str, int]) -> None:
    ana = fresh(app)
    raw = f'[{{"kind": "impression", "article_id": {ids["quake"]}, "value": NaN}}]'
    response = ana.post("/api/events", content=raw, headers={"content-type": "application/json"})
    assert_error(response, 422)


def test_saved_articles(app: FastAPI, ids: dict[str, int]) -> None:
    ana = fresh(app)
    assert ana.put(f"/api/saved/{ids['quake']}").status_code == 204
    assert ana.put(f"/api/saved/{ids['floods']}").status_code == 204
    assert ana.put(f"/api/saved/{ids['floods']}").status_code == 204  # idempotent
    assert {a["id"] for a in ana.get("/api/saved").json()} == {ids["quake"], ids["floods"]}
    assert ana.delete(f"/api/saved/{ids['quake']}").status_code == 204
    assert [a["id"] for a in ana.get("/api/saved").json()] == [ids["floods"]]
    assert_error(ana.delete(f"/api/saved/{ids['quake']}"), 404)
    assert_error(ana.put("/api/saved/999999"), 404, "article_not_found")
    assert_error(ana.put("/api/saved/0"), 422, "invalid")


def test_article_with_sanitised_html_entities_topics_and_story(
    app: FastAPI, ids: dict[str, int]
) -> None:
    client = TestClient(app)
    meeting = client.get(f"/api/articles/{ids['meeting']}").json()
    assert meeting["text"].startswith(meeting["body"][:40])
    assert "Xi Jinping" in {e["name"] for e in meeting["entities"]}
    assert any(t["label"] == "China–Russia relations" for t in meeting["topics"])
    assert meeting["story"]["article_count"] == 2
    tricks = client.get(f"/api/articles/{ids['hostile']}").json()
    html = tricks["content_html"]
    assert "Ministers met" in html and "https://img.example/a.jpg" in html
    for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe", "alert("):
        assert bad not in html
    assert tricks["text"].startswith("Ministers met today.")
    assert "alert" not in tricks["text"]


def test_topic_and_story_and_entity_pages(app: FastAPI, ids: dict[str, int]) -> None:
    client = TestClient(app)
    page = client.get("/api/topics/relation:china-russia").json()
    assert page["label"] == "China–Russia relations"
    assert {a["id"] for a in page["articles"]} == {ids["meeting"], ids["meeting-2"]}
    by_label = client.get("/api/topics/China–Russia relations").json()
    assert by_label["id"] == "relation:china-russia"
    assert_error(client.get("/api/topics/no-such-topic"), 404, "topic_not_found")
    assert all(t["articles"] >= 0 for t in client.get("/api/topics").json())
    story = client.get("/api/articles/{}".format(ids["meeting"])).json()["story"]
    full = client.get(f"/api/stories/{story['id']}").json()
    assert len(full["sources"]) == 2
    assert client.get("/api/entities/Xi").json()["name"] == "Xi Jinping"
    assert_error(client.get("/api/entities/99999999999999999999999"), 404)
    assert_error(client.get("/api/stories/99999999999999999999999"), 422)


def test_search_and_more_like_this(app: FastAPI, ids: dict[str, int]) -> None:
    client = TestClient(app)
    hits = client.get("/api/search", params={"q": "Putin"}).json()
    assert {h["id"] for h in hits} >= {ids["meeting"]}
    assert all(h["relevance"] is not None for h in hits)
    assert client.get("/api/search", params={"q": 'NEAR("x" *'}).status_code == 200
    assert client.get("/api/search", params={"q": "Putin", "offset": 5}).json() == []
    assert_error(client.get("/api/search", params={"q": ""}), 422)
    assert_error(client.get("/api/search", params={"q": "x" * 201}), 422)
    assert_error(client.get("/api/search"), 422)
    similar = client.get(f"/api/articles/{ids['meeting']}/similar", params={"limit": 1}).json()
    assert [a["id"] for a in similar] == [ids["meeting-2"]]


def test_private_feed_carries_the_personalised_page(app: FastAPI, ids: dict[str, int]) -> None:
    ana = fresh(app)
    ana.put("/api/interests", json={"kind": "entity", "value": "Xi Jinping"})
    urls = ana.post("/api/me/private-feed").json()
    reader = TestClient(app)
    feed = reader.get(urls["json_url"]).json()
    first = feed["items"][0]
    assert first["_tidings"]["article_id"] in (ids["meeting"], ids["meeting-2"])
    assert any("Xi Jinping" in r for r in first["_tidings"]["reasons"])
    atom = reader.get(urls["atom_url"]).text
    assert "<entry>" in atom and "Why this is here" in atom
    for bad in ("<script", "onclick", "onerror", "javascript:"):
        assert bad not in atom and bad not in str(feed)


# --- isolation: one reader can neither see nor change another's -------------------------


def test_follows_are_private(app: FastAPI) -> None:
    ana, bo = fresh(app), fresh(app)
    ana.put("/api/interests", json={"kind": "entity", "value": "Xi Jinping"})
    assert bo.get("/api/interests").json() == []
    # Bo removing "the same" interest removes nothing of Ana's.
    assert_error(bo.delete("/api/interests/entity/Xi Jinping"), 404)
    assert len(ana.get("/api/interests").json()) == 1


def test_events_are_private(app: FastAPI, ids: dict[str, int]) -> None:
    ana, bo = fresh(app), fresh(app)
    bo.post("/api/events", json=[{"kind": "hide", "article_id": ids["quake"]}])
    engine = engine_of(app)
    since = datetime.now(UTC) - timedelta(days=1)
    ana_id = ana.get("/api/me").json()["reader"]["id"]
    bo_id = bo.get("/api/me").json()["reader"]["id"]
    assert engine.storage.reader_events(ana_id, since=since, limit=10) == []
    assert len(engine.storage.reader_events(bo_id, since=since, limit=10)) == 1
    # Bo's hide shapes Bo's page only.
    assert ids["quake"] in {i["article_id"] for i in ana.get("/api/feed").json()["items"]}
    assert ids["quake"] not in {i["article_id"] for i in bo.get("/api/feed").json()["items"]}


def test_saved_articles_are_private(app: FastAPI, ids: dict[str, int]) -> None:
    ana, bo = fresh(app), fresh(app)
    ana.put(f"/api/saved/{ids['quake']}")
    assert bo.get("/api/saved").json() == []
    assert_error(bo.delete(f"/api/saved/{ids['quake']}"), 404)
    assert [a["id"] for a in ana.get("/api/saved").json()] == [ids["quake"]]


def test_tokens_are_private(app: FastAPI) -> None:
    ana, bo = fresh(app), fresh(app)
    token = ana.post("/api/tokens", json={"name": "ana's script"}).json()
    assert bo.get("/api/tokens").json() == []
    # Another reader's token is "not found", not "forbidden": its existence is not theirs.
    assert_error(bo.delete(f"/api/tokens/{token['id']}"), 404, "token_not_found")
    program = TestClient(app, headers={"Authorization": f"Bearer {token['secret']}"})
    assert (
        program.get("/api/me").json()["reader"]["name"]
        == ana.get("/api/me").json()["reader"]["name"]
    )


def test_private_feeds_are_private(app: FastAPI) -> None:
    ana, bo = fresh(app), fresh(app)
    ana_urls = ana.post("/api/me/private-feed").json()
    # Bo renewing or revoking his own feed leaves Ana's working.
    bo.post("/api/me/private-feed")
    bo.delete("/api/me/private-feed")
    reader = TestClient(app)
    feed = reader.get(ana_urls["json_url"]).json()
    assert ana.get("/api/me").json()["reader"]["name"] in feed["title"]
    # Bo cannot reach Ana's feed through his credentials, nor Ana's token ids.
    assert_error(bo.get("/feeds/" + bo.cookies["tidings_session"] + ".json"), 404)


def test_api_token_callers_act_as_their_reader_only(app: FastAPI, ids: dict[str, int]) -> None:
    program = with_token(app, f"program{next(_readers)}")
    other = fresh(app)
    assert program.put(f"/api/saved/{ids['floods']}").status_code == 204
    assert program.put("/api/interests", json={"kind": "keyword", "value": "rain"}).is_success
    assert other.get("/api/saved").json() == [] and other.get("/api/interests").json() == []
