"""Private feeds: a page of a reader's feed as Atom 1.0 and JSON Feed 1.1, read back with
feedparser, including hostile titles, summaries and publisher HTML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from tests.unit.test_sanitize import HOSTILE, SANITIZE_DIR, problems
from tidings.deliver.digest import compose_digest
from tidings.deliver.syndication import (
    ATOM_NS,
    JSON_FEED_VERSION,
    atom_feed,
    collect_articles,
    json_feed,
    needed_articles,
    story_entries,
    tag_uri,
)
from tidings.errors import ArticleNotFoundError, FeedParseError
from tidings.ingest.feeds import parse_feed
from tidings.types import (
    Action,
    ActionVerb,
    Article,
    ArticleDraft,
    ArticleFacts,
    CoveredBy,
    FeedItem,
    FeedPage,
    Reader,
    Reason,
    ReasonKind,
    TargetKind,
)

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SITE = "https://tidings.example/"
FEED_URL = "https://tidings.example/feeds/s3cr3t.atom"

HOSTILE_TITLE = 'Xi & Putin <script>alert("t")</script> meet \x00\x0b "again" ]]> &amp;'
HOSTILE_HTML = (
    '<p onclick="alert(1)">Body</p><script>alert(2)</script><iframe src="https://evil/"></iframe>'
    '<a href="javascript:alert(3)">x</a><img src=x onerror=alert(4)><style>*{}</style>'
)


def reason(text: str, kind: ReasonKind = ReasonKind.FOLLOW_ENTITY) -> Reason:
    action = Action(
        verb=ActionVerb.UNFOLLOW, target_kind=TargetKind.ENTITY, target_id=1, label="Unfollow"
    )
    return Reason(kind=kind, text=text, weight=1.0, action=action)


def facts(
    article_id: int, source: str, title: str, hours: float = 0.0, **kw: object
) -> ArticleFacts:
    return ArticleFacts(
        article_id=article_id,
        source_id=article_id * 10,
        source_name=source,
        title=title,
        published=T0 + timedelta(hours=hours),
        **kw,  # type: ignore[arg-type]
    )


def article(article_id: int, title: str, hours: float = 0.0, **kw: object) -> Article:
    values: dict[str, object] = {
        "url": f"https://news{article_id}.example/story/{article_id}",
        "title": title,
        "published": T0 + timedelta(hours=hours),
        "summary": f"Summary of {article_id}.",
        "body": f"Body of {article_id}.",
        "content_html": HOSTILE_HTML,
    }
    values.update(kw)
    return Article(
        id=article_id,
        source_id=article_id * 10,
        content_hash="h",
        fetched_at=T0 + timedelta(hours=hours),
        **values,  # type: ignore[arg-type]
    )


def item(
    article_id: int,
    rank: int,
    reasons: Sequence[Reason] = (),
    covered: Sequence[int] = (),
    story_id: int | None = None,
) -> FeedItem:
    return FeedItem(
        article_id=article_id,
        story_id=story_id,
        source_id=article_id * 10,
        score=1.0 / rank,
        rank=rank,
        reasons=tuple(reasons),
        also_covered_by=tuple(CoveredBy(article_id=c, source_id=c * 10) for c in covered),
        source_count=1 + len(covered),
    )


def newsroom() -> tuple[FeedPage, dict[int, Article]]:
    """Three stories: a summit covered by three sources, a quake, a hostile entry."""
    page = FeedPage(
        reader=Reader(id=7, name="ana"),
        items=(
            item(
                1,
                1,
                [reason("You follow Xi Jinping"), reason("Top story: 14 sources")],
                covered=[2, 3],
                story_id=100,
            ),
            item(4, 2, [reason("Exploring: science is new for you", ReasonKind.EXPLORING)]),
            item(5, 3),
        ),
        articles={
            1: facts(1, "Wire", "Xi and Putin meet in Beijing", authors=("A. Writer",)),
            2: facts(2, "Paper", "Leaders meet", hours=2, story_id=100),
            3: facts(3, "Radio", "Summit opens", hours=-1, story_id=100),
            4: facts(4, "Science Daily", "Quake shakes coast", hours=-3),
            5: facts(5, "Hostile <b>News</b>", HOSTILE_TITLE, hours=-5),
        },
    )
    articles = {
        1: article(1, "Xi and Putin meet in Beijing", authors=("A. Writer",)),
        2: article(2, "Leaders meet", hours=2),
        # Article 3 is not given: its entry falls back on the page's facts.
        4: article(4, "Quake shakes coast", hours=-3, summary=None, body="First para.\n\nSecond."),
        5: article(
            5,
            HOSTILE_TITLE,
            hours=-5,
            url="javascript:alert(5)",
            summary='<img src=x onerror="alert(6)"> evil & summary',
            updated=T0,
        ),
    }
    return page, articles


def test_entries_follow_the_page() -> None:
    page, articles = newsroom()
    entries = story_entries(page, articles, site_url=SITE)
    assert [e.article_id for e in entries] == [1, 4, 5]
    first = entries[0]
    assert first.id == "tag:tidings.example,2026:article:1"
    assert first.why == "You follow Xi Jinping · Top story: 14 sources"
    assert [c.source for c in first.also_covered_by] == ["Paper", "Radio"]
    assert first.also_covered_by[0].url == "https://news2.example/story/2"
    assert first.also_covered_by[1].url is None  # article 3 not supplied
    assert first.latest == T0 + timedelta(hours=2)  # the story's newest article
    assert entries[1].summary == "First para."  # no summary: the lead of the body
    assert entries[2].url is None  # a javascript: URL is no link
    assert entries[2].updated == T0


def test_entries_since_keep_stories_with_news() -> None:
    page, articles = newsroom()
    since = T0 + timedelta(hours=1)
    # The summit's own article is older, but Paper covered it after `since`.
    assert [e.article_id for e in story_entries(page, articles, site_url=SITE, since=since)] == [1]
    assert story_entries(page, articles, site_url=SITE, since=T0 + timedelta(hours=3)) == []


def test_content_html_is_sanitised_and_explains() -> None:
    page, articles = newsroom()
    for entry in story_entries(page, articles, site_url=SITE):
        content = entry.content_html()
        assert problems(content) == []
        assert "Why this is here:" in content
        assert "alert(2)" not in content and "<iframe" not in content  # never the raw HTML
    first = story_entries(page, articles, site_url=SITE)[0]
    assert (
        '<a href="https://news2.example/story/2" rel="noopener noreferrer nofollow">Paper</a>'
        in (first.content_html())
    )
    assert "Also covered by: Paper, Radio" in first.content_text()


def test_atom_is_well_formed_and_reads_back() -> None:
    page, articles = newsroom()
    document = atom_feed(page, articles, title="Tidings: ana", feed_url=FEED_URL, site_url=SITE)
    root = ET.fromstring(document)  # well-formed XML, in the Atom namespace
    assert root.tag == f"{{{ATOM_NS}}}feed"
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Tidings: ana"
    assert parsed.feed.id == "tag:tidings.example,2026:reader:7:feed"
    assert "s3cr3t" not in parsed.feed.id
    assert [link.href for link in parsed.feed.links] == [FEED_URL, SITE]
    assert len(parsed.entries) == 3
    first = parsed.entries[0]
    assert first.id == tag_uri(SITE, 1)
    assert first.title == "Xi and Putin meet in Beijing"
    assert first.link == "https://news1.example/story/1"
    assert first.author == "A. Writer"
    assert first.published_parsed[:5] == (2030, 6, 1, 12, 0)
    assert "Why this is here: You follow Xi Jinping · Top story: 14 sources" in (
        first.content[0].value.replace("<strong>", "").replace("</strong>", "")
    )
    # Feed-level updated: the newest entry's.
    assert parsed.feed.updated_parsed[:4] == (2030, 6, 1, 12)


def test_atom_carries_hostile_text_as_text() -> None:
    page, articles = newsroom()
    document = atom_feed(page, articles, title="<b>ana</b> & co", feed_url=FEED_URL, site_url=SITE)
    assert b"<script" not in document and b"\x00" not in document and b"\x0b" not in document
    # feedparser's sanitiser off, so what it returns is exactly what the document says.
    parsed = feedparser.parse(document, sanitize_html=False)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "<b>ana</b> & co"
    hostile = parsed.entries[2]
    assert hostile.title == 'Xi & Putin <script>alert("t")</script> meet  "again" ]]> &amp;'
    assert hostile.title_detail.type == "text/plain"
    assert hostile.author == "Hostile <b>News</b>"  # the source stands in for the byline
    assert hostile.get("links", []) == []  # a javascript: URL is no link
    content = hostile.content[0].value
    assert problems(content) == [], content
    assert "<img" not in content
    assert '&lt;img src=x onerror="alert(6)"&gt;' in content  # a summary is text, shown as text


def test_empty_page() -> None:
    page = FeedPage(reader=Reader(id=1, name="new"), hint="nothing yet")
    parsed = feedparser.parse(atom_feed(page, {}, title="t", feed_url=FEED_URL, site_url=SITE))
    assert not parsed.bozo and parsed.entries == []
    assert json_feed(page, {}, title="t", feed_url=FEED_URL, site_url=SITE)["items"] == []


def test_json_feed() -> None:
    page, articles = newsroom()
    doc = json_feed(page, articles, title="Tidings: ana", feed_url=FEED_URL, site_url=SITE)
    # Plain JSON through and through (feedparser 6 does not read JSON Feed, so the spec's
    # requirements are checked here).
    doc = json.loads(json.dumps(doc, allow_nan=False))
    assert doc["version"] == JSON_FEED_VERSION
    assert isinstance(doc["title"], str) and isinstance(doc["items"], list)
    for entry in doc["items"]:
        assert isinstance(entry["id"], str) and entry["id"]
        assert entry.get("content_html") or entry.get("content_text")
        for key in ("date_published", "date_modified"):
            assert datetime.fromisoformat(entry[key]).tzinfo is not None
        assert all(isinstance(a["name"], str) for a in entry["authors"])
    assert [e["title"] for e in doc["items"]][:2] == [
        "Xi and Putin meet in Beijing",
        "Quake shakes coast",
    ]
    assert doc["feed_url"] == FEED_URL and doc["home_page_url"] == SITE
    first = doc["items"][0]
    assert first["id"] == tag_uri(SITE, 1)
    assert first["url"] == "https://news1.example/story/1"
    assert first["date_published"] == "2030-06-01T12:00:00Z"
    assert first["authors"] == [{"name": "A. Writer"}]
    assert first["_tidings"]["reasons"] == ["You follow Xi Jinping", "Top story: 14 sources"]
    assert [c["source"] for c in first["_tidings"]["also_covered_by"]] == ["Paper", "Radio"]
    hostile = doc["items"][2]
    assert "url" not in hostile
    assert problems(hostile["content_html"]) == []


def test_collect_articles_skips_deleted_ones() -> None:
    page, articles = newsroom()
    assert needed_articles(page) == [1, 2, 3, 4, 5]

    def get(article_id: int) -> Article:
        if article_id not in articles:
            raise ArticleNotFoundError("gone", resource=f"article {article_id}")
        return articles[article_id]

    assert sorted(collect_articles(page, get)) == [1, 2, 4, 5]
    assert sorted(collect_articles(page, get, covered=False)) == [1, 4, 5]


@pytest.mark.parametrize("site", ["https://Tidings.Example:8443/app/", "not a url"])
def test_tag_uri_is_stable(site: str) -> None:
    assert tag_uri(site, 3) == tag_uri(site, 3)
    assert tag_uri(site, 3).startswith("tag:") and tag_uri(site, 3).endswith(":article:3")


# --- feedparser's hostile cases, as ingestion reads them, in a feed and a digest -----------


@pytest.mark.data
def test_hostile_feeds_never_reach_a_private_feed_or_a_digest(shared_data: Path) -> None:
    """Every entry of feedparser's sanitisation suite, parsed as ingestion parses it (raw
    publisher HTML kept in ``content_html``), made into a reader's page: nothing in the Atom,
    the JSON Feed or the digest can run or restyle anything."""
    base = shared_data / SANITIZE_DIR
    if not base.is_dir():
        pytest.skip(f"feedparser's sanitisation cases not found at {base}")
    drafts = []
    for path in sorted(base.glob("*.xml")):
        try:
            parsed = parse_feed(path.read_bytes(), url=f"http://hostile.example/{path.name}")
        except FeedParseError:
            continue
        # The feed's own title (hostile in the feed_title_* cases) stands as the source's
        # name; a feed without entries gets one plain entry to carry it.
        source = parsed.title or path.name
        drafts += [(source, d) for d in parsed.articles or (ArticleDraft(title=path.name),)]
    assert len(drafts) > 600
    articles = {
        n: Article(
            id=n,
            source_id=1,
            content_hash="h",
            fetched_at=T0,
            **{
                **{f: getattr(d, f) for f in ("url", "title", "summary", "body", "content_html")},
                # An entry with no text still gets a summary from its HTML.
                "body": d.body or None,
            },
        )
        for n, (_, d) in enumerate(drafts, 1)
    }
    # The hostile markup really is there to be leaked (80 entries at the time of writing).
    assert sum(1 for a in articles.values() if HOSTILE.search(a.content_html or "")) >= 60
    page = FeedPage(
        reader=Reader(id=1, name="ana"),
        items=tuple(
            item(n, n, [reason(f"Source: {name}")]) for n, (name, _) in enumerate(drafts, 1)
        ),
        articles={
            n: ArticleFacts(
                article_id=n,
                source_id=1,
                source_name=name,
                title=a.title,
                summary=a.summary,
                published=T0,
            )
            for n, ((name, _), a) in enumerate(zip(drafts, articles.values(), strict=True), 1)
        },
    )
    document = atom_feed(page, articles, title="t", feed_url=FEED_URL, site_url=SITE)
    parsed_atom = feedparser.parse(document, sanitize_html=False)
    assert not parsed_atom.bozo, parsed_atom.get("bozo_exception")
    assert len(parsed_atom.entries) == len(drafts)
    for entry in parsed_atom.entries:
        assert problems(entry.content[0].value) == [], entry.content[0].value
        assert entry.title_detail.type == "text/plain"
        for link in entry.get("links", []):
            assert link.href.startswith(("http://", "https://", "tag:")), link.href
    feed = json_feed(page, articles, title="t", feed_url=FEED_URL, site_url=SITE)
    for json_item in feed["items"]:
        assert problems(json_item["content_html"]) == []
        assert json_item.get("url", "http:").startswith(("http:", "https:"))
    message = compose_digest(
        story_entries(page, articles, site_url=SITE),
        reader_name="ana",
        recipient="ana@example.org",
        sender="t@tidings.example",
        site_url=SITE,
        now=T0,
    )
    markup = message.get_body(preferencelist=("html",))
    assert markup is not None
    body = markup.get_content().split("<body>", 1)[1].split("</body>", 1)[0]
    assert problems(body) == []
