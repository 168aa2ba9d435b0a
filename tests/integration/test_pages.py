"""Teaser entries completed with their article pages, served from a real loopback server."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tidings.config import load_settings
from tidings.engine import Engine, make_engine
from tidings.extract.merge import TEASER_WORDS, page_pending
from tidings.ingest import stage as ingest_stage
from tidings.types import PagePolicy

pytestmark = pytest.mark.integration

PARAGRAPHS = [
    f"Paragraph {i} of the story reports what the minister said on Tuesday about the "
    f"harbour project, the costs of the second phase and the objections raised by residents "
    f"who live along the eastern shore of the bay, number {i}."
    for i in range(1, 9)
]


def article_page(title: str, *, image: str | None = None) -> bytes:
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "author": {"@type": "Person", "name": "Jane Reporter"},
        "datePublished": "2024-03-05T08:00:00Z",
        "articleSection": "Politics",
    }
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        "<!doctype html><html lang='en'><head>"
        f"<title>{title} | The Daily Example</title>"
        "<meta property='og:site_name' content='The Daily Example'>"
        + (f"<meta property='og:image' content='{image}'>" if image else "")
        + f"<script type='application/ld+json'>{json.dumps(ld)}</script></head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<main><article><h1>{title}</h1><p class='byline'>By Jane Reporter</p>{body}"
        "</article></main><footer>Copyright The Daily Example</footer></body></html>"
    ).encode()


def feed(loopback: LoopbackServer) -> bytes:
    items = [
        ("a1", "/articles/harbour", "Harbour plan approved"),
        ("a2", "/articles/missing", "A page that is gone"),
        ("a3", "/articles/report.pdf", "A PDF, not a page"),
    ]
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>{loopback.url(path)}</link>"
        "<description>Short teaser of the story.</description>"
        "<pubDate>Tue, 05 Mar 2024 09:00:00 GMT</pubDate></item>"
        for guid, path, title in items
    )
    return f"<rss version='2.0'><channel><title>Example</title>{entries}</channel></rss>".encode()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # Ingestion mechanics only; enrichment after ingestion is tested in test_enrich.py.
    settings = load_settings(
        env={"TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_ENRICH": "0"}, config_file=None
    )
    fetch = settings.fetch.replace(
        allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
        attempts=1,
        total_timeout=5.0,
    )
    with make_engine(settings.replace(fetch=fetch)) as e:
        yield e


def serve_site(loopback: LoopbackServer) -> None:
    loopback.serve("/feed.rss", feed(loopback), content_type="application/rss+xml")
    loopback.serve(
        "/articles/harbour", article_page("Harbour plan approved"), content_type="text/html"
    )
    loopback.status("/articles/missing", 404)
    loopback.serve("/articles/report.pdf", b"%PDF-1.7\n%binary", content_type="application/pdf")


def test_teasers_get_their_page_text(engine: Engine, loopback: LoopbackServer) -> None:
    serve_site(loopback)
    source = engine.add_source(loopback.url("/feed.rss"), operator=True)
    [update] = engine.ingest().updates
    assert update.ok and update.new == 3
    by_guid = {a.guid: a for a in engine.list_articles()}

    harbour = by_guid["a1"]
    assert harbour.title == "Harbour plan approved"  # the feed's own title wins
    assert harbour.body is not None
    assert all(p in harbour.body for p in PARAGRAPHS)
    assert "Copyright" not in harbour.body and "Home" not in harbour.body
    assert harbour.summary == "Short teaser of the story."
    assert harbour.extraction_note is None
    assert len(harbour.body.split()) >= TEASER_WORDS

    gone, pdf = by_guid["a2"], by_guid["a3"]
    assert gone.extraction_note is not None and "404" in gone.extraction_note
    assert pdf.extraction_note is not None and "PDF" in pdf.extraction_note
    assert gone.summary == "Short teaser of the story."  # what the feed gave is kept

    # The next poll neither fetches the pages again nor changes anything.
    [again] = engine.ingest(sources=[engine.get_source(source.id)]).updates
    assert (again.new, again.updated) == (0, 0)
    assert loopback.hits("/articles/harbour") == 1
    assert loopback.hits("/articles/missing") == 1
    assert engine.get_article(harbour.id).body == harbour.body


def test_page_policy_never_stores_the_feed_as_it_is(
    engine: Engine, loopback: LoopbackServer
) -> None:
    serve_site(loopback)
    engine.add_source(loopback.url("/feed.rss"), pages=PagePolicy.NEVER, operator=True)
    [update] = engine.ingest().updates
    assert update.new == 3
    assert loopback.hits("/articles/harbour") == 0
    assert all(a.extraction_note is None for a in engine.list_articles())


def test_article_add_from_a_file_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(article_page("Harbour plan approved"))
    first = engine.add_article(str(page), source_name="Clippings")
    again = engine.add_article(str(page), source_name="Clippings")
    assert first.id == again.id
    assert first.title and first.title.startswith("Harbour plan approved")
    assert first.authors == ("Jane Reporter",)
    assert engine.get_source(first.source_id).title == "Clippings"


def test_seed_text_enters_as_an_article(engine: Engine, shared_data: Path) -> None:
    seed = shared_data.parent / "seed" / "xi-putin-belt-and-road.txt"
    expected = json.loads((seed.parent / "expected.json").read_text("utf-8"))
    stored = engine.add_article(str(seed), text=True)
    assert stored.title == expected["title"]
    assert stored.body is not None
    assert stored.body.split("\n\n") == expected["body_paragraphs"]


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


def test_a_pages_lead_picture_reaches_the_reader_through_the_media_proxy(
    engine: Engine, loopback: LoopbackServer
) -> None:
    """og:image on the article page → the article's first image → the reader's page, as a
    media proxy address on this site; the picture itself comes through the proxy."""
    from fastapi.testclient import TestClient

    from tidings.api.app import create_app
    from tidings.api.auth import SESSION_COOKIE

    loopback.serve("/feed.rss", feed(loopback), content_type="application/rss+xml")
    loopback.serve(
        "/articles/harbour",
        article_page("Harbour plan approved", image="/pics/harbour.jpg"),
        content_type="text/html",
    )
    loopback.serve("/pics/harbour.jpg", JPEG, content_type="image/jpeg")
    engine.add_source(loopback.url("/feed.rss"), operator=True)
    engine.ingest()
    harbour = next(a for a in engine.list_articles() if a.guid == "a1")
    assert [i.url for i in harbour.images][:1] == [loopback.url("/pics/harbour.jpg")]

    reader = engine.accounts.sign_up("pictures", "correct horse battery")
    client = TestClient(create_app(engine))
    client.cookies.set(SESSION_COOKIE, engine.accounts.open_session(reader.id))
    page = client.get(f"/articles/{harbour.id}")
    assert page.status_code == 200
    # No picture on the page is the publisher's: the browser asks this site only.
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page.text)
    assert sources and all(src.startswith("/media/") for src in sources), sources
    picture = client.get(sources[0])
    assert picture.status_code == 200 and picture.content == JPEG
    assert picture.headers["content-type"] == "image/jpeg"
    assert loopback.hits("/pics/harbour.jpg") == 1


def test_entries_wait_for_no_page_and_for_a_slow_page_only_a_little(
    engine: Engine, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 14's freshness: an entry that needs no page is stored (and queued for analysis)
    # before any page is fetched, and one whose page is slow goes in as its teaser meanwhile.
    monkeypatch.setattr(ingest_stage, "PAGE_WAIT", 0.2)
    whole = " ".join(PARAGRAPHS)
    entries = (
        f"<item><guid>slow</guid><title>Harbour plan approved</title>"
        f"<link>{loopback.url('/articles/harbour')}</link>"
        "<description>Short teaser of the story.</description></item>"
        f"<item><guid>whole</guid><title>Bridge reopens</title><link>{loopback.url('/b')}</link>"
        f"<description>{whole}</description></item>"
    )
    loopback.serve(
        "/feed.rss",
        f"<rss version='2.0'><channel><title>E</title>{entries}</channel></rss>".encode(),
        content_type="application/rss+xml",
    )
    page = article_page("Harbour plan approved")
    loopback.serve("/articles/harbour", page, content_type="text/html", delay=1.0)
    engine.add_source(loopback.url("/feed.rss"), operator=True)
    [update] = engine.ingest().updates
    # Stored as a teaser after PAGE_WAIT, then again with its page, in the same pass.
    assert (update.new, update.updated) == (2, 1)
    by_guid = {a.guid: a for a in engine.list_articles()}
    slow, whole_entry = by_guid["slow"], by_guid["whole"]
    assert whole_entry.id < slow.id  # stored first, though second in the feed
    assert slow.extraction_note is None and slow.body is not None
    assert all(p in slow.body for p in PARAGRAPHS)
    assert loopback.hits("/b") == 0


def test_a_slow_page_that_then_fails_is_noted_and_not_asked_for_every_poll(
    engine: Engine, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stored as a pending teaser after PAGE_WAIT, its page then fails: the failure is noted
    # on the stored article (same content, news of its page), as for a page that fails at
    # once, so the next poll does not fetch it again.
    monkeypatch.setattr(ingest_stage, "PAGE_WAIT", 0.2)
    loopback.serve(
        "/feed.rss",
        (
            "<rss version='2.0'><channel><title>E</title><item><guid>slow</guid>"
            f"<title>Harbour plan approved</title><link>{loopback.url('/articles/gone')}</link>"
            "<description>Short teaser of the story.</description></item></channel></rss>"
        ).encode(),
        content_type="application/rss+xml",
    )
    loopback.status("/articles/gone", 500, delay=1.0)
    source = engine.add_source(loopback.url("/feed.rss"), operator=True)
    engine.ingest()
    [article] = engine.list_articles()
    assert article.extraction_note is not None
    assert not page_pending(article)
    assert loopback.hits("/articles/gone") == 1
    engine.ingest(sources=[engine.get_source(source.id)])
    assert loopback.hits("/articles/gone") == 1
    [again] = engine.list_articles()
    assert again.extraction_note == article.extraction_note
