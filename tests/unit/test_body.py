"""Body extraction on small handmade pages: what goes in the text and what stays out."""

from __future__ import annotations

import time

import pytest

from tidings.errors import ExtractionError
from tidings.extract.body import Body, extract_body
from tidings.extract.page import parse_html
from tidings.types import Image, Link

PARAGRAPHS = [
    "The city council voted on Tuesday to rebuild the old harbour bridge, ending a dispute "
    "that had divided residents for more than a decade and delayed repairs to the crossing.",
    "Engineers told the council that the current structure could carry traffic for only a "
    "few more years, and that closing it without a replacement would cut the town in two.",
    "The new bridge will have a cycle lane on both sides and a wider footpath, and work is "
    "expected to begin in the spring once the contracts have been signed by the mayor.",
    "Residents who opposed the plan said the money would be better spent on schools, but "
    "most speakers at the public meeting welcomed the decision and the end of the delays.",
]


def page(inside: str = "", after: str = "", before: str = "") -> bytes:
    """A news page: navigation, an article with PARAGRAPHS and ``inside``, then ``after``."""
    text = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!doctype html><html><head>
    <title>Council votes to rebuild bridge | The Courier</title>
    <meta property="og:title" content="Council votes to rebuild bridge"></head><body>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
    <li><a href="/sport">Sport</a></li></ul></nav>
    <main><article><h1>Council votes to rebuild bridge</h1>{before}
    <div class="article-body">{text}{inside}</div></article>{after}</main>
    <footer><p>Copyright The Courier</p></footer></body></html>""".encode()


def body_of(html: bytes, url: str | None = "https://news.example/2024/bridge") -> Body:
    return extract_body(parse_html(html), url=url)


def text_of(body: Body) -> str:
    return "\n".join(body.paragraphs)


def test_article_paragraphs_in_order_without_headline_or_navigation() -> None:
    body = body_of(page())
    assert body.paragraphs == tuple(PARAGRAPHS)


def test_caption_kept_out_of_body_and_in_images_with_credit() -> None:
    figure = (
        '<figure><img src="/img/bridge.jpg" alt="">'
        "<figcaption>The harbour bridge at dusk. Photo: Jane Doe/AP</figcaption></figure>"
    )
    body = body_of(page(inside=figure))
    assert "harbour bridge at dusk" not in text_of(body)
    assert body.images == (
        Image(
            url="https://news.example/img/bridge.jpg",
            caption="The harbour bridge at dusk.",
            credit="Jane Doe/AP",
        ),
    )


def test_credit_marked_in_the_caption_and_agency_in_brackets() -> None:
    marked = (
        '<figure><img src="https://cdn.example/a.jpg">'
        '<figcaption>Council members vote.<span class="credit">Credit: Reuters</span>'
        "</figcaption></figure>"
        '<figure><img src="https://cdn.example/b.jpg">'
        "<figcaption>Traffic on the bridge (Reuters)</figcaption></figure>"
    )
    images = body_of(page(inside=marked)).images
    assert [(i.caption, i.credit) for i in images] == [
        ("Council members vote.", "Reuters"),
        ("Traffic on the bridge", "Reuters"),
    ]


def test_related_links_kept_out_of_body() -> None:
    related = (
        '<div class="Related-Stories"><h3>More on this</h3><ul>'
        '<li><a href="/2024/ferry">Ferry service to stop running next summer</a></li>'
        '<li><a href="/2024/tolls">Bridge tolls to rise for the first time in years</a></li>'
        "</ul></div>"
        '<p>Read more: <a href="/2024/mayor">Mayor promises new harbour plan soon</a></p>'
    )
    body = body_of(page(inside=related))
    assert "Ferry service" not in text_of(body)
    assert "Mayor promises" not in text_of(body)
    assert (
        Link(
            url="https://news.example/2024/ferry", title="Ferry service to stop running next summer"
        )
        in body.related
    )
    assert (
        Link(url="https://news.example/2024/mayor", title="Mayor promises new harbour plan soon")
        in body.related
    )
    assert body.paragraphs == tuple(PARAGRAPHS)


def test_summary_points_read_and_kept_out_of_body() -> None:
    points = (
        '<div class="key-points"><ul><li>The old bridge will be replaced</li>'
        "<li>Work starts in the spring</li><li>Cycle lanes on both sides</li></ul></div>"
    )
    body = body_of(page(before=points))
    assert body.summary_points == (
        "The old bridge will be replaced",
        "Work starts in the spring",
        "Cycle lanes on both sides",
    )
    assert "Work starts in the spring" not in text_of(body)


def test_comment_section_excluded() -> None:
    comments = (
        '<section id="comments"><h2>Comments</h2>'
        '<div class="comment"><p>Finally! I have waited years for this bridge to be fixed and '
        "I cannot believe it took the council this long to make up its mind.</p></div>"
        '<div class="comment"><p>What a waste of money, the schools need it far more than '
        "the bridge does, and nobody asked the people who live near the harbour.</p></div>"
        "</section>"
    )
    body = body_of(page(after=comments))
    assert "waste of money" not in text_of(body)
    assert body.paragraphs == tuple(PARAGRAPHS)


def test_newsletter_box_excluded() -> None:
    box = (
        '<div class="NewsletterSignup"><h3>Morning Briefing</h3>'
        "<p>Get the day's top stories in your inbox every morning.</p></div>"
    )
    body = body_of(page(inside=box))
    assert "Morning Briefing" not in text_of(body)
    assert "inbox" not in text_of(body)


def test_teaser_cards_excluded() -> None:
    cards = "".join(
        f'<article class="card"><h3><a href="/s/{n}">Other story {n}</a></h3>'
        f"<p>A teaser for another story number {n} that the site wants you to read next, "
        "with a sentence long enough to look like a paragraph of text.</p></article>"
        for n in range(4)
    )
    body = body_of(page(after=f"<section>{cards}</section>"))
    assert "teaser" not in text_of(body)
    assert body.paragraphs == tuple(PARAGRAPHS)


def test_live_blog_updates_are_not_taken_for_teaser_cards() -> None:
    updates = "".join(f'<article class="update"><p>{p}</p></article>' for p in PARAGRAPHS)
    html = (
        '<html><head><script type="application/ld+json">{"@type": "LiveBlogPosting"}</script>'
        "</head><body><main><h1>Bridge vote: live</h1>"
        f'<section class="updates">{updates}</section></main></body></html>'
    ).encode()
    assert body_of(html).paragraphs == tuple(PARAGRAPHS)


def test_body_split_in_sibling_containers_is_joined() -> None:
    chunks = "".join(
        f'<div class="row"><div class="article-body">'
        f"<p>{PARAGRAPHS[n]}</p><p>{PARAGRAPHS[n + 1]}</p></div></div>"
        '<div class="ad"></div>'
        for n in (0, 2)
    )
    html = (
        "<html><head><title>Bridge</title></head><body><main><article><h1>Bridge</h1>"
        f'<div class="chunks">{chunks}</div></article></main></body></html>'
    ).encode()
    assert body_of(html).paragraphs == tuple(PARAGRAPHS)


def test_quoted_tweet_kept_in_body() -> None:
    tweet = (
        '<div class="embed-widget"><blockquote class="twitter-tweet">'
        "<p>Delighted that the bridge is finally going to be rebuilt</p>"
        "&mdash; Harbour Residents (@harbour) 2024</blockquote></div>"
    )
    assert "Delighted that the bridge" in text_of(body_of(page(inside=tweet)))


def test_page_without_article_text_gives_no_paragraphs() -> None:
    html = b"<html><body><nav><a href='/'>Home</a></nav><div></div></body></html>"
    assert body_of(html).paragraphs == ()


@pytest.mark.parametrize("data", [b"", b"   ", b"%PDF-1.7 binary", b"\x00\x00\x00\x01\x02"])
def test_garbage_refused_before_extraction(data: bytes) -> None:
    with pytest.raises(ExtractionError):
        body_of(data)


def test_garbage_text_gives_empty_body_or_extraction_error() -> None:
    try:
        body = body_of(b"<<<>>> &&& <p <div </span> ]]> \xff\xfe junk")
    except ExtractionError:
        return
    assert body.paragraphs == ()


def test_deeply_nested_markup_neither_crashes_nor_hangs() -> None:
    depth = 5000
    html = (
        "<html><body>" + "<div>" * depth + "<p>" + PARAGRAPHS[0] + "</p>" + "</div>" * depth
    ).encode()
    start = time.perf_counter()
    try:
        body = body_of(html)
    except ExtractionError:
        body = None
    assert time.perf_counter() - start < 30
    assert body is None or isinstance(body.paragraphs, tuple)
