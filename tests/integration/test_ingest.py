"""Ingestion end to end: real feeds from a real HTTP server on loopback into real storage."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.loopback import LoopbackServer
from tidings.config import load_settings
from tidings.engine import Engine, make_engine
from tidings.extract.merge import PENDING_NOTE
from tidings.ingest import stage as ingest_stage
from tidings.types import PagePolicy, Source, SourceUpdate

pytestmark = pytest.mark.integration

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)


def real_feed_files(shared_data: Path) -> list[Path]:
    roots = [
        shared_data / "feeds" / "rss-parser" / "test" / "input",
        shared_data / "feeds" / "feed-rs" / "fixture",
    ]
    return sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(".serde.json")
    )


def make_test_engine(tmp_path: Path, **fetch_changes: Any) -> Engine:
    # Ingestion mechanics only; enrichment after ingestion is tested in test_enrich.py.
    settings = load_settings(
        env={"TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_ENRICH": "0"}, config_file=None
    )
    fetch = settings.fetch.replace(
        **{
            "allowed_networks": LOOPBACK_ONLY,
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "total_timeout": 4.0,
            "attempts": 2,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            **fetch_changes,
        }
    )
    return make_engine(settings.replace(fetch=fetch))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with make_test_engine(tmp_path) as e:
        yield e


def entry_count_feedparser_reads(content: bytes) -> int | None:
    """Entries feedparser finds that carry anything to show (a title, text or a web link),
    or None when it cannot read the document as a feed. Entries with nothing (an Atom entry
    with only a tag: id) are skipped by Tidings, with a warning."""
    parsed = feedparser.parse(content)
    if not parsed.entries or not parsed.get("version"):
        return None
    return sum(
        1
        for e in parsed.entries
        if e.get("title")
        or e.get("summary")
        or e.get("content")
        or str(e.get("link", "")).startswith(("http:", "https:", "/"))
    )


def by_url(updates: tuple[SourceUpdate, ...]) -> dict[str, SourceUpdate]:
    return {u.source.url: u for u in updates}


def test_real_feeds_from_loopback(
    engine: Engine, loopback: LoopbackServer, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected: dict[str, int] = {}
    for i, path in enumerate(real_feed_files(shared_data)):
        route = f"/{i}/{path.name}"
        # Half the feeds carry an ETag, so the second pass exercises 304 and plain re-reads.
        loopback.serve_file(route, path, etag=f'"v{i}"' if i % 2 == 0 else None)
        url = loopback.url(route)
        # These feeds link to the real web: fetching their pages is not what is tested here.
        engine.add_source(url, pages=PagePolicy.NEVER, operator=True)
        count = entry_count_feedparser_reads(path.read_bytes())
        if count is not None:
            expected[url] = count
    assert len(expected) > 60  # the shared folders hold about 90 feeds feedparser reads

    first = by_url(engine.ingest().updates)
    for url, entries in expected.items():
        update = first[url]
        assert update.ok, f"{url}: {update.error}"
        seen = update.new + update.updated + update.unchanged
        # One article per entry: entries repeating a guid inside one feed are one article.
        assert seen == entries or (seen < entries and _has_repeated_ids(url, loopback)), url

    articles = engine.list_articles(limit=100_000)
    assert len(articles) >= sum(1 for n in expected.values() if n)
    assert all(a.title or a.url for a in articles)
    assert all(a.published is not None and a.published.tzinfo is not None for a in articles)

    parses: list[str] = []
    real_parse = ingest_stage.parse_feed

    def counting_parse(content: bytes, **kwargs: Any) -> Any:
        parses.append(kwargs["url"])
        return real_parse(content, **kwargs)

    monkeypatch.setattr(ingest_stage, "parse_feed", counting_parse)
    all_sources = [h.source for h in engine.list_sources()]
    second = by_url(engine.ingest(sources=all_sources).updates)
    assert sum(u.new for u in second.values()) == 0
    assert sum(u.updated for u in second.values()) == 0
    assert len(engine.list_articles(limit=100_000)) == len(articles)
    for i, path in enumerate(real_feed_files(shared_data)):
        url = loopback.url(f"/{i}/{path.name}")
        if i % 2 == 0 and first[url].ok:
            # A 304 costs nothing: no body, no parse.
            assert second[url].not_modified, url
            assert url not in parses
            assert loopback.requests(f"/{i}/{path.name}")[-1].headers["if-none-match"]


def _has_repeated_ids(url: str, loopback: LoopbackServer) -> bool:
    # Only used to explain a shortfall: the feed repeats entry ids or links.
    import httpx

    parsed = feedparser.parse(httpx.get(url).content)
    keys = [e.get("id") or e.get("link") for e in parsed.entries]
    return len(set(keys)) < len(keys)


def test_misbehaving_server_loses_nothing(
    engine: Engine, loopback: LoopbackServer, shared_data: Path
) -> None:
    good_file = shared_data / "feeds" / "rss-parser" / "test" / "input" / "guardian.rss"
    loopback.serve_file("/good.rss", good_file)
    loopback.serve_file(
        "/flaky.rss", shared_data / "feeds" / "rss-parser" / "test" / "input" / "heise.atom"
    )
    loopback.hang("/hang.rss")
    loopback.endless("/huge.rss")
    loopback.redirect("/sneaky.rss", "http://10.1.2.3/internal.rss")
    loopback.serve(
        "/laughs.rss",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<rss version='2.0'><channel><title>&lol3;</title><item><title>&lol3;</title>"
        b"</item></channel></rss>",
        content_type="application/rss+xml",
    )
    loopback.serve(
        "/page.html",
        b"<!doctype html><html><head><title>Home</title></head><body><p>Hello</p></body></html>",
        content_type="text/html",
    )
    names = ["good", "flaky", "hang", "huge", "sneaky", "laughs", "page"]
    suffix = {"page": ".html"}
    sources = {
        n: engine.add_source(
            loopback.url(f"/{n}{suffix.get(n, '.rss')}"), pages=PagePolicy.NEVER, operator=True
        )
        for n in names
    }

    before = datetime.now(UTC)
    first = {u.source.id: u for u in engine.ingest().updates}
    assert first[sources["good"].id].new > 0
    assert first[sources["flaky"].id].new > 0
    flaky_articles = engine.storage.count_articles(source_id=sources["flaky"].id)

    # Now the flaky server fails: its articles stay, its error and backoff are recorded.
    loopback.status("/flaky.rss", 500)
    second = {u.source.id: u for u in engine.ingest(sources=list(sources.values())).updates}

    expectations = {
        "flaky": "500",
        "hang": "timeout",
        "huge": "limit",
        "sneaky": "10.1.2.3",
        "laughs": "entit",
        "page": "not a feed",
    }
    for name, fragment in expectations.items():
        update = second[sources[name].id]
        assert not update.ok, name
        assert fragment in (update.error or "").lower(), (name, update.error)
        stored = engine.get_source(sources[name].id)
        assert stored.last_error == update.error
        assert stored.failures >= 1
        assert stored.next_poll is not None and stored.next_poll > before
    assert second[sources["good"].id].ok
    assert engine.storage.count_articles(source_id=sources["flaky"].id) == flaky_articles
    for name in ("hang", "huge", "sneaky", "laughs", "page"):
        assert engine.storage.count_articles(source_id=sources[name].id) == 0
    assert loopback.hits("/flaky.rss") >= 3  # the 500 was retried before giving up


def test_failing_source_backs_off_and_recovers(engine: Engine, loopback: LoopbackServer) -> None:
    loopback.status("/down.rss", 503, retry_after=7200)
    source = engine.add_source(loopback.url("/down.rss"), operator=True)
    [update] = engine.ingest().updates
    assert update.error and "503" in update.error
    stored = engine.get_source(source.id)
    assert stored.next_poll is not None
    # Retry-After beyond the fetch's own patience is left to the scheduler.
    assert (stored.next_poll - datetime.now(UTC)).total_seconds() > 7000
    assert engine.due_sources() == []

    loopback.serve(
        "/down.rss",
        b"<rss version='2.0'><channel><title>Back</title><item><guid>a</guid>"
        b"<title>Recovered</title></item></channel></rss>",
    )
    [again] = engine.ingest(sources=[stored]).updates
    assert again.ok and again.new == 1
    recovered: Source = engine.get_source(source.id)
    assert recovered.failures == 0 and recovered.last_error is None
    assert recovered.title == "Back"


def test_changed_entry_is_updated_in_place(engine: Engine, loopback: LoopbackServer) -> None:
    def feed(title: str) -> bytes:
        return (
            "<rss version='2.0'><channel><title>T</title><item><guid>g1</guid>"
            f"<link>https://example.com/a</link><title>{title}</title></item>"
            "<item><guid>g2</guid><title>Other</title></item></channel></rss>"
        ).encode()

    loopback.serve("/f.rss", feed("First headline"))
    source = engine.add_source(loopback.url("/f.rss"), pages=PagePolicy.NEVER, operator=True)
    [first] = engine.ingest().updates
    assert (first.new, first.updated) == (2, 0)
    [before] = [a for a in engine.list_articles() if a.guid == "g1"]

    loopback.serve("/f.rss", feed("Corrected headline"))
    [second] = engine.ingest(sources=[engine.get_source(source.id)]).updates
    assert (second.new, second.updated, second.unchanged) == (0, 1, 1)
    after = engine.get_article(before.id)
    assert after.title == "Corrected headline"
    assert after.content_hash != before.content_hash
    assert engine.storage.count_articles() == 2


def test_watch_polls_only_what_is_due(engine: Engine, loopback: LoopbackServer) -> None:
    loopback.serve(
        "/w.rss",
        b"<rss version='2.0'><channel><title>W</title><ttl>60</ttl><item><guid>1</guid>"
        b"<title>One</title></item></channel></rss>",
    )
    engine.add_source(loopback.url("/w.rss"), operator=True)
    waits: list[float] = []
    reports: list[int] = []
    engine.watch(max_passes=3, sleep=waits.append, on_pass=lambda r: reports.append(len(r.updates)))
    # The first pass reads the new source; it is then not due again for its ttl (an hour),
    # so later passes read nothing and the waits stay within [1 s, min_interval].
    assert reports == [1]
    assert loopback.hits("/w.rss") == 1
    assert len(waits) == 2
    assert all(1.0 <= w <= engine.settings.schedule.min_interval for w in waits)
    [health] = engine.list_sources()
    assert health.source.interval is not None and health.source.interval >= 3600


def test_a_dripping_source_is_cut_at_its_deadline(tmp_path: Path, loopback: LoopbackServer) -> None:
    """A server dripping a byte at a time used to hold a pass for every attempt's whole
    total timeout (3 x 60 s); now one deadline covers every attempt of the source."""
    loopback.drip("/drip.rss", b"<rss version='2.0'>" + b" " * 10_000, interval=0.05)
    loopback.serve(
        "/quick.rss",
        b"<rss version='2.0'><channel><title>Q</title><item><guid>1</guid>"
        b"<title>One</title></item></channel></rss>",
    )
    with make_test_engine(
        tmp_path, total_timeout=1.0, attempts=5, backoff_base=0.0, source_deadline=1.6
    ) as engine:
        drip = engine.add_source(loopback.url("/drip.rss"), operator=True)
        quick = engine.add_source(loopback.url("/quick.rss"), operator=True)
        updates = {u.source.id: u for u in engine.ingest().updates}
    assert updates[quick.id].ok and updates[quick.id].new == 1
    error = updates[drip.id].error or ""
    assert "per-source deadline" in error and "1.6 s" in error
    # Two attempts fit in 1.6 s of one-second attempts; five would have taken five seconds.
    assert 1 <= loopback.hits("/drip.rss") <= 2


def test_pages_still_coming_at_the_deadline_wait_for_the_next_pass(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    page = (
        b"<!doctype html><html><head><title>Full story</title></head><body><article>"
        + b"<p>"
        + b"Every word of the whole article. " * 60
        + b"</p></article></body></html>"
    )
    items = "".join(
        f"<item><guid>t{n}</guid><title>Teaser {n}</title>"
        f"<link>{loopback.url(f'/page{n}.html')}</link><description>Read more</description></item>"
        for n in range(3)
    )
    loopback.serve("/teasers.rss", f"<rss version='2.0'><channel>{items}</channel></rss>")
    loopback.serve("/page0.html", page, content_type="text/html")
    loopback.drip("/page1.html", page, interval=0.05, chunk=10)
    loopback.hang("/page2.html")
    with make_test_engine(tmp_path, total_timeout=30.0, source_deadline=2.0) as engine:
        source = engine.add_source(
            loopback.url("/teasers.rss"), pages=PagePolicy.ALWAYS, operator=True
        )
        [update] = engine.ingest().updates
        assert update.ok and update.new == 3
        stored = {a.guid: a for a in engine.list_articles(source=source.id)}
    assert stored["t0"].extraction_note is None and "whole article" in (stored["t0"].body or "")
    assert stored["t1"].extraction_note == PENDING_NOTE
    assert stored["t2"].extraction_note == PENDING_NOTE
