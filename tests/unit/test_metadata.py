"""Article metadata from handmade pages: structured data first, then the page itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import lxml.html
import pytest
from lxml import etree

from tidings.eval.metadata import byline_matches, byline_names, expected_day
from tidings.extract.metadata import PageMetadata, extract_metadata
from tidings.extract.page import parse_html


def page(head: str = "", body: str = "", *, lang: str | None = None) -> str:
    lang_attr = f' lang="{lang}"' if lang else ""
    return f"<!DOCTYPE html><html{lang_attr}><head>{head}</head><body>{body}</body></html>"


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def meta_of(html: str, *, url: str | None = None) -> PageMetadata:
    return extract_metadata(parse_html(html), url=url)


BODY = "<article><p>" + "Some text of the article. " * 20 + "</p></article>"


# --- JSON-LD -----------------------------------------------------------------------------


def test_json_ld_news_article_gives_every_field() -> None:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Rates rise again",
        "author": {"@type": "Person", "name": "Jane Doe"},
        "datePublished": "2024-03-05T23:30:00-05:00",
        "dateModified": "2024-03-06T08:00:00Z",
        "publisher": {"@type": "Organization", "name": "The Daily"},
        "articleSection": "Business",
        "keywords": "rates, banks",
        "image": {"@type": "ImageObject", "url": "/img/lead.jpg"},
        "inLanguage": "en-GB",
        "description": "Rates went up.",
    }
    got = meta_of(
        page("<title>Rates rise again | The Daily</title>" + ld(data), BODY),
        url="https://daily.example/business/rates",
    )
    assert got.title == "Rates rise again"
    assert got.authors == ("Jane Doe",)
    # 23:30 in New York is the next day in UTC: dates are stored in UTC.
    assert got.published == datetime(2024, 3, 6, 4, 30, tzinfo=UTC)
    assert got.updated == datetime(2024, 3, 6, 8, 0, tzinfo=UTC)
    assert got.site_name == "The Daily"
    assert got.section == "Business"
    assert got.tags == ("rates", "banks")
    assert got.image == "https://daily.example/img/lead.jpg"
    assert got.language == "en-GB"
    assert got.description == "Rates went up."
    assert got.canonical_url == "https://daily.example/business/rates"


def test_json_ld_article_inside_graph_and_lists() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Site"},
            {"@type": ["BlogPosting"], "headline": "In the graph", "author": "Sam Roe"},
        ],
    }
    assert meta_of(page(ld(graph), BODY)).title == "In the graph"
    listed = [{"@type": "Organization", "name": "Org"}, {"@type": "Article", "name": "Listed"}]
    assert meta_of(page(ld(listed), BODY)).title == "Listed"


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ({"@type": "Person", "name": "Jane Doe"}, ("Jane Doe",)),
        ({"@type": "Organization", "name": "BBC News"}, ("BBC News",)),
        ("By Jane Doe and John Roe", ("Jane Doe", "John Roe")),
        (
            [{"name": "Jane Doe"}, {"name": "John Roe"}, "Ann Poe"],
            ("Jane Doe", "John Roe", "Ann Poe"),
        ),
        ({"@type": "Person", "givenName": "Jane", "familyName": "Doe"}, ("Jane Doe",)),
        ([{"name": "Jane Doe"}, {"name": "jane doe"}], ("Jane Doe",)),
    ],
)
def test_json_ld_author_shapes(author: object, expected: tuple[str, ...]) -> None:
    data = {"@context": "http://schema.org", "@type": "ReportageNewsArticle", "author": author}
    assert meta_of(page(ld(data), BODY)).authors == expected


def test_broken_json_ld_is_skipped_for_the_next_source() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>'
        '<meta property="og:title" content="From OpenGraph">'
    )
    assert meta_of(page(head, BODY)).title == "From OpenGraph"


def test_json_ld_in_cdata_and_non_article_types_ignored() -> None:
    product = ld({"@type": "Product", "name": "A toaster"})
    cdata = (
        '<script type="application/ld+json"><![CDATA[{"@type": "Article", '
        '"headline": "Wrapped"}]]></script>'
    )
    got = meta_of(page("<title>Doc title here today</title>" + product + cdata, BODY))
    assert got.title == "Wrapped"


# --- meta tags ---------------------------------------------------------------------------


def test_opengraph_and_article_tags() -> None:
    head = (
        '<meta property="og:title" content="An OG title">'
        '<meta property="og:site_name" content="Example News">'
        '<meta property="article:published_time" content="2023-11-02T10:00:00+01:00">'
        '<meta property="article:modified_time" content="2023-11-03T10:00:00Z">'
        '<meta property="article:section" content="World">'
        '<meta property="article:author" content="https://example.com/staff/jd">'
        '<meta property="article:tag" content="Europe">'
        '<meta property="article:tag" content="Politics">'
        '<meta property="og:image" content="https://cdn.example.com/a.jpg">'
        '<meta property="og:url" content="https://example.com/a">'
        '<meta property="og:locale" content="fr_FR">'
    )
    got = meta_of(page(head, BODY))
    assert got.title == "An OG title"
    assert got.site_name == "Example News"
    assert got.published == datetime(2023, 11, 2, 9, 0, tzinfo=UTC)
    assert got.updated == datetime(2023, 11, 3, 10, 0, tzinfo=UTC)
    assert got.section == "World"
    # article:author holding a profile URL is not a name.
    assert got.authors == ()
    assert got.tags == ("Europe", "Politics")
    assert got.image == "https://cdn.example.com/a.jpg"
    assert got.canonical_url == "https://example.com/a"
    assert got.language == "fr-FR"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ('<meta name="author" content="Jane Doe">', ("Jane Doe",)),
        ('<meta name="byl" content="By JANE DOE and JOHN ROE">', ("JANE DOE", "JOHN ROE")),
        ('<meta name="DC.creator" content="Doe, Jane">', ("Doe, Jane",)),
        ('<meta name="parsely-author" content="Jane Doe">', ("Jane Doe",)),
        ('<meta name="sailthru.author" content="Jane Doe, John Roe">', ("Jane Doe", "John Roe")),
        ('<meta property="article:author" content="Jane Doe">', ("Jane Doe",)),
        ('<meta name="author" content="Jane Doe, Senior Editor">', ("Jane Doe",)),
    ],
)
def test_meta_author_variants(tag: str, expected: tuple[str, ...]) -> None:
    assert meta_of(page(tag, BODY)).authors == expected


def test_property_beats_name_and_dublin_core_beats_opengraph() -> None:
    head = (
        '<meta name="og:title" content="OG by name">'
        '<meta name="DC.title" content="DC by name">'
        '<meta property="dc:title" content="DC by property">'
        '<meta property="og:title" content="OG by property">'
        '<meta name="DC.creator" content="Name Creator">'
        '<meta property="dc:creator" content="Property Creator">'
    )
    got = meta_of(page(head, BODY))
    assert got.title == "DC by property"
    assert got.authors == ("Property Creator",)


def test_microdata_counts_only_for_the_article() -> None:
    body = (
        '<div itemscope itemtype="https://schema.org/Comment">'
        '<meta itemprop="author" content="A Commenter"></div>'
        '<div itemscope itemtype="https://schema.org/NewsArticle">'
        '<meta itemprop="author" content="Jane Doe"></div>'
    )
    assert meta_of(page("", body + BODY)).authors == ("Jane Doe",)


def test_space_separated_properties() -> None:
    head = '<meta property="x:title dc:title" content="Preferred">'
    assert meta_of(page(head, BODY)).title == "Preferred"


# --- byline in the page ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<p class="byline">By Jane Doe and John Roe</p>', ("Jane Doe", "John Roe")),
        ('<a rel="author" href="/jd">Jane Doe</a>', ("Jane Doe",)),
        (
            '<div itemprop="author" itemscope><span itemprop="name">Jane Doe</span>'
            "<span>Staff writer</span></div>",
            ("Jane Doe",),
        ),
        (
            '<div class="author-box"><a href="/author/jane-doe">Jane Doe</a> Games Editor</div>',
            ("Jane Doe",),
        ),
        (
            '<cite class="byline">By JANE DOE <abbr>March 11, 2015 3:46 PM</abbr></cite>',
            ("JANE DOE",),
        ),
        ('<div class="byline">Written by Jane Doe Edited by John Roe</div>', ("Jane Doe",)),
    ],
)
def test_byline_elements(body: str, expected: tuple[str, ...]) -> None:
    assert meta_of(page("", body + BODY)).authors == expected


def test_byline_search_skips_hidden_comments_and_datelines() -> None:
    body = (
        '<div style="display:none"><span class="byline">Hidden Person</span></div>'
        '<div class="comments"><span class="author">A Commenter</span></div>'
        '<div class="authorization">Sign in</div>'
        '<p class="dateline">April 28, 2019 at 6:01 am</p>' + BODY
    )
    assert meta_of(page("", body)).authors == ()


def test_byline_in_article_header_counts_but_not_in_page_header() -> None:
    site_header = '<div class="site-header"><span class="author">Site Owner</span></div>'
    assert meta_of(page("", site_header + BODY)).authors == ()
    entry_header = '<header class="entry-header"><a rel="author">Jane Doe</a></header>'
    assert meta_of(page("", entry_header + BODY)).authors == ("Jane Doe",)


def test_bracketed_co_authors_stay_with_the_byline() -> None:
    body = '<span class="byline">Jane Doe (avec John Roe et Ann Poe)</span>' + BODY
    assert meta_of(page("", body)).authors == ("Jane Doe (avec John Roe et Ann Poe)",)


# --- titles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Markets fall on rate fears | The Guardian", "Markets fall on rate fears"),
        ("Markets fall on rate fears - WSJ", "Markets fall on rate fears"),
        ("Markets fall on rate fears \u2014 Medium", "Markets fall on rate fears"),
        # Only the last part goes.
        ("Get your Frontend JavaScript Code Covered | Code | Nicolas Perriault", None),
        # A cut that leaves four words or fewer keeps the whole title.
        ("Short title | Site Name", "Short title | Site Name"),
        # "Site: title" loses the prefix when what is left is long enough.
        ("Example News: Markets fall on rate fears today", "Markets fall on rate fears today"),
        # A hierarchy with the site first: the first part goes when the cut would be short.
        ("Site \u00bb Markets fall on rate fears", "Markets fall on rate fears"),
    ],
)
def test_document_title_loses_its_site_part(title: str, expected: str | None) -> None:
    want = expected or "Get your Frontend JavaScript Code Covered | Code"
    assert meta_of(page(f"<title>{title}</title>", BODY)).title == want


def test_colon_title_kept_when_a_heading_repeats_it() -> None:
    html = page(
        "<title>Review: The new phone is fine</title>", "<h1>Review: The new phone is fine</h1>"
    )
    assert meta_of(html).title == "Review: The new phone is fine"


def test_declared_title_is_taken_as_written() -> None:
    head = (
        "<title>These Weeks in Firefox: Issue 85 \u2013 Firefox Nightly News</title>"
        '<meta property="og:title" content="Friday Facts #282 - 0.17 in sight | Factorio">'
    )
    assert meta_of(page(head, BODY)).title == "Friday Facts #282 - 0.17 in sight | Factorio"


def test_json_ld_headline_beats_a_name_that_does_not_match_the_title() -> None:
    headline = "Vlada schvalila rozpocet na pristi rok s deficitem"
    data = {"@type": "NewsArticle", "name": "Aktualne.cz", "headline": headline}
    head = f"<title>{headline} | Aktualne.cz</title>" + ld(data)
    assert meta_of(page(head, BODY)).title == headline


def test_title_from_single_h1_when_title_is_missing_or_tiny() -> None:
    assert meta_of(page("", "<h1>Only heading</h1>" + BODY)).title == "Only heading"
    html = page("<title>Home</title>", "<h1>The real headline of the story</h1>" + BODY)
    assert meta_of(html).title == "The real headline of the story"


def test_svg_title_is_not_the_page_title() -> None:
    html = page("", "<svg><title>icon</title></svg><h1>Headline</h1>")
    assert meta_of(html).title == "Headline"


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        ('<meta name="parsely-pub-date" content="2019-02-21T08:00:08.000Z">', "", (2019, 2, 21)),
        ('<meta itemprop="datePublished" content="2016-05-08">', "", (2016, 5, 8)),
        ("", '<time pubdate datetime="2020-12-18T16:09:48+00:00">Dec 18</time>', (2020, 12, 18)),
        ("", '<time class="entry-date published" datetime="2020-12-18">x</time>', (2020, 12, 18)),
        ('<meta name="date" content="March 5, 2021">', "", (2021, 3, 5)),
        ('<meta name="date" content="5 March 2021">', "", (2021, 3, 5)),
        ('<meta name="dc.date.issued" content="2014-12-15">', "", (2014, 12, 15)),
    ],
)
def test_published_date_sources(head: str, body: str, expected: tuple[int, int, int]) -> None:
    got = meta_of(page(head, body + BODY)).published
    assert got is not None
    assert got.tzinfo is UTC
    assert (got.year, got.month, got.day) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-03-27T13:07:55.096Z", datetime(2015, 3, 27, 13, 7, 55, 96000, tzinfo=UTC)),
        ("2017-01-18T23:00:00-0800", datetime(2017, 1, 19, 7, 0, tzinfo=UTC)),
        ("2019-04-28 06:01:07", datetime(2019, 4, 28, 6, 1, 7, tzinfo=UTC)),
        # A zone name is honoured as in a feed's RFC 822 date (06:01 EDT is 10:01 UTC)...
        ("2019-04-28 06:01 EDT", datetime(2019, 4, 28, 10, 1, tzinfo=UTC)),
        ("2020-09-21T10:00:00.1234567+00:00", datetime(2020, 9, 21, 10, 0, 0, 123456, tzinfo=UTC)),
        ("Thu, 03 Jan 2019 07:00:02 GMT", datetime(2019, 1, 3, 7, 0, 2, tzinfo=UTC)),
        ("20160729164234", datetime(2016, 7, 29, 16, 42, 34, tzinfo=UTC)),
        ("2020/09/21", datetime(2020, 9, 21, tzinfo=UTC)),
        ("21.09.2020", datetime(2020, 9, 21, tzinfo=UTC)),
        # ...and so is the time of a written date, the US "ET" with daylight saving time.
        ("July 29, 2016 4:42 PM ET", datetime(2016, 7, 29, 20, 42, tzinfo=UTC)),
        ("3rd March 2021", datetime(2021, 3, 3, tzinfo=UTC)),
    ],
)
def test_date_formats(value: str, expected: datetime) -> None:
    head = f'<meta property="article:published_time" content="{value}">'
    assert meta_of(page(head, BODY)).published == expected


def test_open_graph_date_beats_microdata() -> None:
    head = (
        '<meta itemprop="datePublished" content="2016-05-08T10:11:51+01:00">'
        '<meta property="article:published_time" content="2015-09-17T16:57:43+01:00">'
    )
    got = meta_of(page(head, BODY)).published
    assert got == datetime(2015, 9, 17, 15, 57, 43, tzinfo=UTC)


@pytest.mark.parametrize("value", ["not a date", "1850-01-01", "2015-13-45", "2019", "", "0"])
def test_unreadable_or_implausible_dates_are_ignored(value: str) -> None:
    head = f'<meta property="article:published_time" content="{value}">'
    assert meta_of(page(head, "<p>No dates anywhere here.</p>")).published is None


# --- language, canonical, pages without metadata ----------------------------------------


def test_language_canonical_and_relative_urls() -> None:
    head = '<link rel="canonical" href="/news/a"><meta property="og:image" content="/i.png">'
    got = meta_of(page(head, BODY, lang="de_DE"), url="https://example.de/x?y=1")
    assert got.language == "de-DE"
    assert got.canonical_url == "https://example.de/news/a"
    assert got.image == "https://example.de/i.png"


def test_page_without_metadata() -> None:
    got = meta_of("<html><body><p>Just a paragraph of text.</p></body></html>")
    assert got.authors == ()
    assert got.published is None
    assert got.site_name is None
    assert got.canonical_url is None
    assert got.language is None
    assert got.tags == ()


@pytest.mark.parametrize(
    "garbage",
    [
        "<<<>>> not html at all {{{",
        '<meta content="x"><meta property="" content=""><title></title>',
        "<html><head><script type='application/ld+json'>[[[{</script></head></html>",
        "<html><head><script type='application/ld+json'>"
        '{"@type": "Article", "author": [null, 3, {"name": ["x"]}], "headline": 5,'
        ' "datePublished": {"a": 1}, "publisher": [], "keywords": [1, null]}'
        "</script></head><body>x</body></html>",
        "<html><body>" + "<div>" * 300 + "deep" + "</div>" * 300 + "</body></html>",
    ],
)
def test_garbage_never_raises(garbage: str) -> None:
    # Straight from lxml: parse_html refuses some of these, extract_metadata must not care.
    got = extract_metadata(lxml.html.document_fromstring(garbage))
    assert isinstance(got, PageMetadata)


def test_extraction_does_not_change_the_tree() -> None:
    data = {"@type": "NewsArticle", "headline": "H", "author": {"name": "Jane Doe"}}
    html = page(
        "<title>H | Site</title>" + ld(data),
        '<header class="entry-header"><span class="byline">By X</span></header>' + BODY,
    )
    tree = parse_html(html)
    before = etree.tostring(tree)
    extract_metadata(tree, url="https://example.com/")
    assert etree.tostring(tree) == before


# --- the evaluation's comparisons --------------------------------------------------------


def test_byline_comparison_is_by_normalised_names() -> None:
    assert byline_names("By Jane  Doe and\nJohn Roe") == {"jane doe", "john roe"}
    assert byline_matches("By Steven Mufson", "Steven Mufson")
    assert byline_matches("Jong, Michiel de", "Jong, Michiel de")
    assert byline_matches(None, None)
    assert not byline_matches(None, "Jane Doe")
    assert not byline_matches("Jane Doe", None)
    assert not byline_matches("Jane Doe", "Jane Doe, John Roe")


def test_expected_day_in_utc_and_as_written() -> None:
    assert expected_day("2015-07-24T00:36:09+01:00") == (
        datetime(2015, 7, 23, tzinfo=UTC).date(),
        datetime(2015, 7, 24, tzinfo=UTC).date(),
    )
    assert expected_day("2017-11-03 03:01:00.000000")[0] == datetime(2017, 11, 3).date()
