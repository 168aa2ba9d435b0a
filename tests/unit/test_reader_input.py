"""What a reader brings, checked before anything is stored: an article's address, a pasted
page; and the small pure pieces of their data's export and the feed's hide notice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.portability import article_key, clipping_source
from tidings.readers import MAX_PASTE_CHARS, paste_problem, reader_url_problem
from tidings.types import Article
from tidings.web.account import bookmarklet
from tidings.web.forms import with_hidden

T0 = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("  \n\t ", "empty"),
        ("PK\x03\x04\x00\x00 zip", "binary"),
        ("\x89PNG\r\n\x1a\n" + "\x01\x02\x03" * 50 + "pixels", "binary"),
        ("x" * (MAX_PASTE_CHARS + 1), "far shorter"),
        ("a\ufffd" * 100, "binary"),
    ],
)
def test_a_paste_that_is_no_page_is_refused_with_the_reason(text: str, problem: str) -> None:
    found = paste_problem(text)
    assert found is not None and problem in found


def test_a_copied_page_passes() -> None:
    page = "Advertisement\n\nHeadline\n\tA paragraph with “quotes” and a tab.\r\n" * 20
    assert paste_problem(page) is None
    assert paste_problem("x" * MAX_PASTE_CHARS) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "web address"),
        ("example.com/news", "https://"),
        ("ftp://example.com/a", "https://"),
        ("file:///etc/passwd", "https://"),
        ("javascript:alert(1)", "https://"),
        ("https://", "https://"),
        ("http://[::1", "not a web address"),
        ("https://example.com/" + "a" * 3000, "longer than"),
    ],
)
def test_an_address_that_is_no_web_page_is_refused(url: str, problem: str) -> None:
    found = reader_url_problem(url)
    assert found is not None and problem in found


def test_web_addresses_pass() -> None:
    assert reader_url_problem(" https://news.example/a/b?c=d ") is None
    # A private address is a web address: the fetcher's guard refuses it (no allowances).
    assert reader_url_problem("http://127.0.0.1:8000/x") is None


def article(**fields: object) -> Article:
    values: dict[str, object] = {
        "id": 1,
        "source_id": 1,
        "content_hash": "ab" * 32,
        "fetched_at": T0,
    }
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


def test_a_clipping_shows_where_it_came_from() -> None:
    assert clipping_source(article(site_name="The Wire", url="https://wire.example/a")) == (
        "The Wire"
    )
    assert clipping_source(article(url="https://www.paper.example/a")) == "paper.example"
    assert clipping_source(article()) == "Pasted page"


def test_an_exported_article_is_named_by_its_address_or_its_hash() -> None:
    assert article_key(article(url="https://a.example/x", canonical_url="https://a.example/x"))
    assert article_key(article(url="https://a.example/x?utm=1")) == "https://a.example/x?utm=1"
    assert article_key(article(guid="sha256:00")) == "sha256:00"
    assert article_key(article()) == "sha256:" + "ab" * 32


def test_after_a_hide_the_page_comes_back_to_the_same_place_saying_so() -> None:
    assert with_hidden("/#at-10", 42) == "/?hidden=42&at=10#at-10"
    assert with_hidden("/?cursor=abc#at-3", 7) == "/?cursor=abc&hidden=7&at=3#at-3"
    # An earlier notice is replaced, not kept beside the new one.
    assert with_hidden("/?hidden=1&at=2#at-5", 9) == "/?hidden=9&at=5#at-5"
    assert with_hidden("/saved", 9) == "/saved?hidden=9"


def test_the_bookmarklet_opens_add_an_article_with_the_pages_address() -> None:
    code = bookmarklet("http://127.0.0.1:8000/")
    assert code.startswith("javascript:")
    assert '"http://127.0.0.1:8000/clippings?url="+encodeURIComponent(location.href)' in code
    # A base address with a quote in it cannot break out of the string.
    assert '\\"' in bookmarklet('http://a.example/"x/')
