"""``--json`` prints the HTTP API's own schemas: the same document from either, for the same
thing, on one database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.integration.test_enrich import MEETING, MEETING_OTHER, QUAKE, draft, store
from tidings.api.app import create_app
from tidings.api.schemas import ExtractedOut, FeedOut, ReaderDetailOut
from tidings.cli import cli
from tidings.config import Settings
from tidings.engine import make_engine

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class World:
    settings: Settings
    api: TestClient
    ids: dict[str, int]

    def cli_json(self, *args: str) -> Any:
        result = CliRunner().invoke(
            cli,
            ["--database", self.settings.database_url, *args, "--json"],
            env={"TIDINGS_DATA_DIR": str(self.settings.data_dir)},
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def get(self, path: str) -> Any:
        response = self.api.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("cli-json")
    settings = Settings(database_url=f"sqlite:///{tmp / 'db.sqlite'}", data_dir=tmp)
    # Recent, so that they are on the reader's page.
    now = datetime.now(UTC).replace(microsecond=0)
    drafts = [
        replace(draft(guid, *text, 0), published=now - timedelta(hours=hours))
        for guid, text, hours in (("m1", MEETING, 3), ("m2", MEETING_OTHER, 2), ("q", QUAKE, 1))
    ]
    with make_engine(settings) as engine:
        ids = store(engine, "https://wire.example/feed", drafts)
        engine.enrich()
        engine.readers.add_reader("ana")
        engine.readers.follow("ana", "entity", "Xi Jinping")
        engine.readers.mute("ana", "keyword", "earthquake")
        _, secret = engine.accounts.create_token("ana", "script")
        api = TestClient(create_app(engine), headers={"Authorization": f"Bearer {secret}"})
        yield World(settings, api, ids)


def test_sources_entities_stories_and_topics_match_the_api(world: World) -> None:
    assert world.cli_json("source", "list") == world.get("/api/sources")
    # The API's default page is 50 of each.
    entities = world.cli_json("entity", "list", "--limit", "50")
    assert entities and entities == world.get("/api/entities")
    assert world.cli_json("entity", "show", "Xi Jinping") == world.get("/api/entities/Xi Jinping")
    stories = world.cli_json("story", "list", "--limit", "50")
    assert stories and stories == world.get("/api/stories")
    story_id = str(stories[0]["id"])
    assert world.cli_json("story", "show", story_id) == world.get(f"/api/stories/{story_id}")
    topics = world.cli_json("topic", "list")
    assert topics and topics == world.get("/api/topics")


def test_an_article_is_the_apis_article_with_its_analysis(world: World) -> None:
    article_id = world.ids["m1"]
    shown = world.cli_json("article", "show", str(article_id))
    analysis = shown.pop("analysis")
    assert shown == world.get(f"/api/articles/{article_id}")
    assert analysis == world.get(f"/api/articles/{article_id}/analysis")
    assert analysis["status"] == "done" and analysis["quotes"]


def test_a_reader_and_their_page_match_the_api(world: World) -> None:
    shown = world.cli_json("reader", "show", "ana")
    ReaderDetailOut.model_validate(shown)
    interests = shown.pop("interests")
    assert shown == world.get("/api/me")["reader"]
    assert interests == world.get("/api/interests")
    assert {(i["kind"], i["stance"]) for i in interests} == {
        ("entity", "follow"),
        ("keyword", "mute"),
    }
    page = world.cli_json("feed", "ana")
    assert set(page) == set(FeedOut.model_fields)
    FeedOut.model_validate(page)
    api_page = world.get("/api/feed")
    assert [i["article_id"] for i in page["items"]] == [i["article_id"] for i in api_page["items"]]
    assert page["items"] and page["items"][0]["reasons"]  # the followed Xi Jinping, with why
    assert world.ids["q"] not in [i["article_id"] for i in page["items"]]  # muted


def test_extract_prints_the_extracted_schema(tmp_path: Path, world: World) -> None:
    page = tmp_path / "page.html"
    paragraphs = "".join(f"<p>{MEETING[1]} Paragraph {i}.</p>" for i in range(3))
    page.write_text(
        f"<html><head><title>{MEETING[0]}</title></head><body><article><h1>{MEETING[0]}</h1>"
        f"{paragraphs}</article></body></html>",
        encoding="utf-8",
    )
    extracted = world.cli_json("extract", str(page))
    assert set(extracted) == set(ExtractedOut.model_fields)
    assert ExtractedOut.model_validate(extracted).title == MEETING[0]
    assert "Belt and Road Forum" in (extracted["body"] or "")
