"""Several `tidings serve` processes on one PostgreSQL serve the same truth: sessions, rate
limits and which cached pages are stale are shared through the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.processes import TidingsProcess, free_port, tidings_env
from tidings.enrich.linking import EntityRules
from tidings.store.embedding import to_bytes
from tidings.store.sql import SQLStorage, open_storage
from tidings.types import ArticleDraft, Enrichment, TopicTag

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

PASSWORD = "a long enough password"
NOW = datetime.now(UTC)


def analysed(storage: SQLStorage, source_url: str, count: int, *, start: int = 0) -> list[int]:
    """Articles stored and analysed (with made-up vectors: no models needed to rank them)."""
    try:
        source = storage.get_source(source_url)
    except Exception:  # noqa: BLE001 - first use
        source = storage.add_source(source_url, added=NOW)
    drafts = [
        ArticleDraft(
            guid=f"{source_url}#{n}",
            title=f"Story {n} from {source_url}",
            body=f"What happened in story {n}. " * 20,
            published=NOW - timedelta(minutes=n),
        )
        for n in range(start, start + count)
    ]
    storage.upsert_articles(source.id, drafts, fetched_at=NOW)
    found = storage.find_articles(source.id, guids=[d.guid or "" for d in drafts])
    rng = np.random.default_rng(len(source_url) + start)
    topic = TopicTag(id="medtop:11000000", label="politics", confidence=0.9)
    items = []
    for article in found:
        vector = rng.normal(size=384).astype(np.float32)
        items.append(
            Enrichment(
                article_id=article.id,
                content_hash=article.content_hash,
                language="en",
                vector=to_bytes(vector / np.linalg.norm(vector)),
                topics=(topic,),
            )
        )
    storage.save_enrichments(items, enriched_at=NOW, matcher=EntityRules())
    return sorted(a.id for a in found)


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_two_serving_processes_serve_the_same_truth(postgres_url: str, tmp_path: Path) -> None:
    with open_storage(postgres_url) as storage:
        kept = analysed(storage, "https://kept.example/feed", 3)
        dropped = analysed(storage, "https://dropped.example/feed", 3)
        kept_source = storage.get_source("https://kept.example/feed").id
        dropped_source = storage.get_source("https://dropped.example/feed").id
        later_source = storage.add_source("https://later.example/feed", added=NOW).id
    ports = [free_port(), free_port()]
    env = tidings_env(
        postgres_url,
        tmp_path,
        TIDINGS_ENRICH="0",
        TIDINGS_ADMINS="root",
        # Long enough that only the shared stamps can explain a fresh page.
        TIDINGS_FEED_CACHE_SECONDS="3600",
    )
    nodes = [TidingsProcess(["serve", "--port", str(p), "--no-ingest"], env) for p in ports]
    try:
        for node, port in zip(nodes, ports, strict=True):
            node.wait_for_http(f"http://127.0.0.1:{port}/api/health")
        a, b = (httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports)

        # A session opened on one node is good on the other, and ends on both.
        signed = a.post("/api/signup", json={"name": "ana", "password": PASSWORD})
        assert signed.status_code == 201, signed.text
        csrf = {"X-CSRF-Token": signed.json()["csrf"]}
        b.cookies = a.cookies
        assert b.get("/api/me").json()["reader"]["name"] == "ana"
        for source in (kept_source, dropped_source, later_source):
            followed = b.put(
                "/api/interests",
                json={"kind": "source", "value": str(source), "stance": "follow"},
                headers=csrf,
            )
            assert followed.status_code == 200, followed.text

        def page(client: httpx.Client) -> set[int]:
            response = client.get("/api/feed", params={"size": 50})
            assert response.status_code == 200, response.text
            return {item["article_id"] for item in response.json()["items"]}

        assert page(b) == set(kept) | set(dropped)
        assert page(a) == set(kept) | set(dropped)
        # The operator removes a source on node A; node B's cached page is stale at once.
        root = httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30)
        root_signed = root.post("/api/signup", json={"name": "root", "password": PASSWORD})
        removed = root.delete(
            f"/api/sources/{dropped_source}", headers={"X-CSRF-Token": root_signed.json()["csrf"]}
        )
        assert removed.status_code == 204
        assert page(b) == set(kept)
        # News of what ana follows, analysed by a worker: on her page on both nodes within
        # the second it takes a node to look at the change sequence.
        with open_storage(postgres_url) as storage:
            fresh = analysed(storage, "https://later.example/feed", 2)
        assert eventually(lambda: set(fresh) <= page(b))
        assert eventually(lambda: set(fresh) <= page(a))

        # Signing out on B ends the session on A too.
        assert b.post("/api/logout", headers=csrf).status_code == 204
        assert a.get("/api/me").status_code == 401

        # Failed sign-ins are counted across nodes: ten in all, not ten on each.
        statuses = [
            (a if n % 2 else b).post("/api/login", json={"name": "ana", "password": "wrong"})
            for n in range(12)
        ]
        assert [r.status_code for r in statuses] == [401] * 10 + [429] * 2
    finally:
        for node in nodes:
            node.stop()
