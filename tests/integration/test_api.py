"""The HTTP API over a real SQLite database with real ingested feeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidings.api.app import create_app
from tidings.config import load_settings
from tidings.engine import Engine, make_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path: Path, shared_data: Path) -> Iterator[Engine]:
    settings = load_settings(
        env={"TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_ENRICH": "0"}, config_file=None
    )
    with make_engine(settings) as engine:
        feed = shared_data / "feeds" / "rss-parser" / "test" / "input" / "guardian.rss"
        engine.add_source(str(feed), operator=True)
        engine.ingest()
        yield engine


@pytest.fixture
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine))


def test_latest_articles_newest_first(client: TestClient, engine: Engine) -> None:
    response = client.get("/api/articles", params={"limit": 5})
    assert response.status_code == 200
    items = response.json()
    assert len(items) == 5
    dates = [item["published"] for item in items]
    assert dates == sorted(dates, reverse=True)
    assert all(item["title"] for item in items)


def test_article_detail_and_missing_article(client: TestClient) -> None:
    first = client.get("/api/articles", params={"limit": 1}).json()[0]
    detail = client.get(f"/api/articles/{first['id']}")
    assert detail.status_code == 200
    assert detail.json()["id"] == first["id"]
    missing = client.get("/api/articles/999999")
    assert missing.status_code == 404
    assert missing.json()["error"] == "article_not_found"


def test_sources_with_health(client: TestClient) -> None:
    [source] = client.get("/api/sources").json()
    assert source["kind"] == "local"
    assert source["articles"] > 0
    assert source["last_error"] is None


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=100000", "limit=abc", "offset=-1", "source=0"],
)
def test_invalid_input_is_a_clear_4xx(client: TestClient, query: str) -> None:
    response = client.get(f"/api/articles?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid" and body["message"].startswith("invalid ")


def test_unknown_source_filter_is_404(client: TestClient) -> None:
    response = client.get("/api/articles", params={"source": 4242})
    assert response.status_code == 404
