"""A source added on the page is read promptly by ``tidings serve``, and the sources page
says when it will be read and what its read brought.

``tidings serve`` runs as the operator runs it (a real process on a free loopback port,
over a fresh SQLite database); the feed is a real RSS file on a loopback HTTP server. The
operator's ``TIDINGS_ALLOWED_NETWORKS`` lets the operator's own sources reach loopback,
never a reader's: so the reader's source is read at once and refused, and the page says
so. (That the articles of a source read by ``serve`` are stored and counted is tested by
the command line's and the workers' tests.) Analysis is off in that process
(``TIDINGS_ENRICH=0``): loading the models would take longer than the read this is about.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.loopback import LoopbackServer
from tidings.api.auth import CSRF_HEADER
from tidings.types import Source, SourceKind, SourceUpdate
from tidings.web.pages import last_read, next_read

pytestmark = pytest.mark.integration

#: How long a reader may wait for a source they added to be read: the scheduler is woken at
#: once, so this is the time for a process on a loaded machine to fetch and store one feed.
PROMPTLY_SECONDS = 20.0

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Harbour Wire</title><link>https://harbour.example/</link>
<description>News of the harbour</description>
<item><title>Ferry timetable changes from Monday</title>
<link>https://harbour.example/ferry</link><guid>ferry</guid>
<pubDate>Mon, 07 Dec 2026 09:00:00 GMT</pubDate>
<description>The harbour authority publishes a new ferry timetable for the winter.</description>
</item>
<item><title>New crane arrives at the container terminal</title>
<link>https://harbour.example/crane</link><guid>crane</guid>
<pubDate>Mon, 07 Dec 2026 10:00:00 GMT</pubDate>
<description>The largest crane yet was unloaded at the terminal on Sunday.</description>
</item>
<item><title>Fishing fleet returns early as storm nears</title>
<link>https://harbour.example/fleet</link><guid>fleet</guid>
<pubDate>Mon, 07 Dec 2026 11:00:00 GMT</pubDate>
<description>Skippers brought their boats in a day early ahead of gales.</description>
</item>
</channel></rss>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``tidings serve`` on a free loopback port; yields its base URL."""
    port = free_port()
    env = os.environ | {
        "TIDINGS_DATA_DIR": str(tmp_path),
        "TIDINGS_ENRICH": "0",
        "TIDINGS_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    env.pop("TIDINGS_DATABASE_URL", None)
    env.pop("TIDINGS_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tidings", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                out = process.stdout.read() if process.stdout else ""
                pytest.fail(f"tidings serve did not start: {out}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_source_added_on_the_page_is_read_within_seconds(
    served: str, loopback: LoopbackServer
) -> None:
    loopback.serve("/harbour.xml", FEED, content_type="application/rss+xml")
    feed_url = loopback.url("/harbour.xml")
    with httpx.Client(base_url=served, timeout=10) as reader:
        signed = reader.post("/api/signup", json={"name": "harbourfan", "password": "x" * 12})
        assert signed.status_code == 201, signed.text
        reader.headers[CSRF_HEADER] = signed.json()["csrf"]
        page = reader.get("/sources")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, page.text
        added_at = time.monotonic()
        added = reader.post(
            "/sources", data={"url": feed_url, "csrf": csrf.group(1)}, follow_redirects=False
        )
        assert added.status_code == 303, added.text
        where = added.headers["location"]
        assert where.startswith("/sources?added=")
        source_id = int(where.split("added=")[1].split("#")[0])
        # The page names the new source and says when it will be read.
        told = reader.get(where).text
        assert "Added " in told and "Next read" in told

        # A reader's source never uses the operator's network allowances (here loopback,
        # where this test's feed is): it is read at once, refused before any request, and
        # the reader is told why.
        while True:
            health = {s["id"]: s for s in reader.get("/api/sources").json()}
            if health[source_id]["last_error"]:
                break
            assert time.monotonic() - added_at < PROMPTLY_SECONDS, health[source_id]
            time.sleep(0.2)
        assert "refused" in health[source_id]["last_error"]
        assert loopback.hits("/harbour.xml") == 0
        row = reader.get("/sources").text.split(f'id="source-{source_id}"')[1]
        row = row.split("</li>")[0]
        assert "refused" in row, row


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def source(**changes: object) -> Source:
    return Source(id=1, url="https://example.com/feed", **changes)  # type: ignore[arg-type]


def test_when_a_source_will_be_read_in_words() -> None:
    new = source()
    assert next_read(new, NOW, reading=False, polling=True) == "within seconds"
    assert next_read(new, NOW, reading=False, polling=False) == "at the next `tidings ingest`"
    assert next_read(new, NOW, reading=True, polling=True) == "being read now"
    later = source(next_poll=NOW + timedelta(minutes=14, seconds=30))
    assert next_read(later, NOW, reading=False, polling=True) == "in 14 min"
    assert next_read(source(next_poll=NOW + timedelta(hours=3)), NOW, reading=False, polling=True)
    assert next_read(source(next_poll=NOW - timedelta(hours=1)), NOW, reading=False, polling=True)
    clippings = source(kind=SourceKind.MANUAL)
    assert next_read(clippings, NOW, reading=False, polling=True) == ""


def test_what_a_read_brought_in_words() -> None:
    s = source()
    assert last_read(None, analysing=False) == ""
    assert last_read(SourceUpdate(source=s, new=1), analysing=False) == "1 new article"
    assert last_read(SourceUpdate(source=s, new=25, updated=2), analysing=True) == (
        "25 new articles, 2 updated, being analysed (they reach feeds after)"
    )
    assert last_read(SourceUpdate(source=s, not_modified=True), analysing=False).startswith(
        "nothing new"
    )
    assert last_read(SourceUpdate(source=s, unchanged=3), analysing=False) == "nothing new"
    failed = SourceUpdate(source=s, error="HTTP 404 Not Found")
    assert last_read(failed, analysing=False) == "failed: HTTP 404 Not Found"
