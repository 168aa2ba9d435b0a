"""The read-only API over what enrichment found: analyses, entities, stories, topics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_enrich import MEETING, MEETING_OTHER, QUAKE, draft, store
from tidings.api.app import create_app
from tidings.config import Settings
from tidings.engine import make_engine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, int]]]:
    tmp: Path = tmp_path_factory.mktemp("api")
    settings = Settings(database_url=f"sqlite:///{tmp / 'db.sqlite'}", data_dir=tmp)
    with make_engine(settings) as engine:
        ids = store(
            engine,
            "https://wire.example/feed",
            [draft("m1", *MEETING, 0), draft("m2", *MEETING_OTHER, 1), draft("q", *QUAKE, 2)],
        )
        engine.enrich()
        yield TestClient(create_app(engine)), ids


def test_article_analysis(world: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = world
    body = client.get(f"/api/articles/{ids['m1']}/analysis").json()
    assert body["status"] == "done"
    names = {e["name"] for e in body["entities"]}
    assert {"Xi Jinping", "Vladimir Putin"} <= names
    assert any(t["label"] == "China–Russia relations" for t in body["topics"])
    assert body["story"]["article_count"] == 2
    assert client.get("/api/articles/999999/analysis").status_code == 404


def test_entities_and_entity_pages(world: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = world
    people = client.get("/api/entities", params={"type": "PERSON"}).json()
    assert people[0]["name"] == "Xi Jinping" or people[0]["article_count"] >= 2
    page = client.get("/api/entities/Xi").json()
    assert page["name"] == "Xi Jinping"
    assert {a["id"] for a in page["articles"]} == {ids["m1"], ids["m2"]}
    assert page["quotes"]
    missing = client.get("/api/entities/Nobody%20Atall")
    assert missing.status_code == 404 and missing.json()["error"] == "entity_not_found"


def test_stories_topics_and_similar(world: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = world
    stories = client.get("/api/stories").json()
    assert sorted(s["article_count"] for s in stories) == [1, 2]
    meeting = next(s for s in stories if s["article_count"] == 2)
    page = client.get(f"/api/stories/{meeting['id']}").json()
    assert {a["id"] for a in page["articles"]} == {ids["m1"], ids["m2"]}
    assert client.get("/api/stories/999999").status_code == 404
    topics = client.get("/api/topics").json()
    assert any(t["kind"] == "relation" for t in topics)
    similar = client.get(f"/api/articles/{ids['m1']}/similar", params={"limit": 1}).json()
    assert [a["id"] for a in similar] == [ids["m2"]]
    assert client.get(f"/api/articles/{ids['m1']}/similar", params={"limit": 0}).status_code == 422
