"""The operator's network allowances (``--allow-network``) are the operator's alone: a source
a reader adds through the API is fetched as if none were configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.loopback import LoopbackServer
from tidings.api.app import create_app
from tidings.config import Settings
from tidings.engine import make_engine

pytestmark = pytest.mark.integration

FEED = (
    b"<rss version='2.0'><channel><title>Local</title><item><guid>1</guid>"
    b"<title>Inside the private network</title></item></channel></rss>"
)


def tidings(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=f"sqlite:///{db}", TIDINGS_ENRICH="0")
    return subprocess.run(
        [sys.executable, "-m", "tidings", "--allow-network", "127.0.0.1/32", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_readers_loopback_source_is_not_fetched(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.serve("/operator.rss", FEED)
    loopback.serve("/reader.rss", FEED)
    db = tmp_path / "db.sqlite"
    # The server runs with the operator's allowance too: it is the reader who must not get it.
    settings = Settings(database_url=f"sqlite:///{db}", data_dir=tmp_path, enrich=False)
    fetch = settings.fetch.replace(allowed_networks="127.0.0.1/32")
    with make_engine(settings.replace(fetch=fetch)) as engine:
        browser = TestClient(create_app(engine))
        signed_up = browser.post(
            "/api/signup", json={"name": "mallory", "password": "a long enough password"}
        )
        csrf = signed_up.json()["csrf"]
        added = browser.post(
            "/api/sources",
            json={"url": loopback.url("/reader.rss")},
            headers={"X-CSRF-Token": csrf},
        )
        assert added.status_code == 201, added.text
        reader_source = added.json()["id"]
    assert tidings(db, "source", "add", loopback.url("/operator.rss")).returncode == 0

    ingested = tidings(db, "ingest", "--quiet")
    assert loopback.hits("/operator.rss") == 1
    assert loopback.hits("/reader.rss") == 0
    listed = {s["id"]: s for s in json.loads(tidings(db, "source", "list", "--json").stdout)}
    error = listed[reader_source]["last_error"]
    assert error is not None and "127.0.0.1" in error and "refused" in error
    assert "1 failed" in ingested.stdout

    # The operator may vouch for it; then it is fetched like their own.
    assert tidings(db, "source", "trust", str(reader_source)).returncode == 0
    assert tidings(db, "ingest", "--all", "--quiet").returncode == 0
    assert loopback.hits("/reader.rss") == 1
