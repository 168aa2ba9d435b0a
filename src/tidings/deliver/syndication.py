"""A reader's private feed: a page of their feed as Atom 1.0 or JSON Feed 1.1.

Pure functions: the caller gets the page and the articles, these turn them into a document.
A route serving ``/feeds/{token}.atom`` does, in outline::

    page = engine.feed(reader_id, size=30)
    articles = collect_articles(page, engine.get_article)
    body = atom_feed(page, articles, title="Tidings: ana", feed_url=request_url,
                     site_url="https://tidings.example/")
    # respond with body and "application/atom+xml; charset=utf-8"

and ``json_feed(...)`` (the same arguments) gives a dict to send as ``application/feed+json``.

Each entry is one story, as on the reader's page: its headline article's title, link, dates
and authors, and a short sanitised HTML content made of the summary, why the story is there
("Why this is here: You follow Xi Jinping · Top story: 14 sources") and the other sources
that covered it. The publisher's raw HTML never goes into a feed: feed readers render
entries with their own, often lax, sanitisers.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tidings import __version__
from tidings.deliver.sanitize import clean_html
from tidings.errors import NotFoundError
from tidings.text import html_to_text
from tidings.types import Article, ArticleFacts, FeedItem, FeedPage

ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_MEDIA_TYPE = "application/feed+json; charset=utf-8"

#: The date in every ``tag:`` URI Tidings mints (RFC 4151: a date on which the site's owner
#: held the name). Never change it: every feed reader would show every entry again.
TAG_DATE = "2026"

#: Longest summary an entry carries, in characters (cut at a word, with an ellipsis): about
#: two sentences of news prose, what a feed reader's list or a digest shows of a story
#: before the reader decides to open it.
SUMMARY_CHARS = 300

#: What an item with no reason shows (the ranker gives none to plain recent news).
NO_REASON = "Recent news"

# Characters XML 1.0 cannot carry at all, even escaped (most C0 controls, lone surrogates,
# U+FFFE/U+FFFF); publishers' text does contain them now and then.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """Another source's article on the same story."""

    article_id: int
    #: The source's name.
    source: str
    #: Its headline, when known.
    title: str | None = None
    #: Its http(s) URL, when known.
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryEntry:
    """One item of a reader's feed, with everything a feed entry or a digest shows of it.

    Text fields are plain text; :meth:`content_html` is the only HTML, and it is sanitised.
    """

    #: A stable, globally unique id (``tag:`` URI) for the entry's article.
    id: str
    article_id: int
    story_id: int | None
    #: Position in the reader's feed, from 1.
    rank: int
    title: str
    #: The article's http(s) URL (``None`` for an article without one, e.g. added by hand).
    url: str | None
    #: The name of the article's source.
    source: str
    authors: tuple[str, ...]
    published: datetime
    #: When the article last changed (its own ``updated``, or ``published``).
    updated: datetime
    #: The newest publication time among the story's articles listed here: what decides
    #: whether a digest counts the story as new.
    latest: datetime
    #: A few sentences, plain text (may be empty).
    summary: str
    #: Why the story is in the reader's feed, strongest reason first.
    reasons: tuple[str, ...]
    #: Other sources' articles on the story, best first.
    also_covered_by: tuple[Coverage, ...]
    #: How many sources cover the story, this one included.
    source_count: int
    #: Topic labels of the article.
    topics: tuple[str, ...]

    @property
    def why(self) -> str:
        """The reasons as one line: "You follow Xi Jinping · Top story: 14 sources"."""
        return " · ".join(self.reasons) or NO_REASON

    def content_html(self) -> str:
        """Summary, reasons and other coverage as sanitised HTML."""
        esc = html.escape
        parts = []
        if self.summary:
            parts.append(f"<p>{esc(self.summary)}</p>")
        parts.append(f"<p><strong>Why this is here:</strong> {esc(self.why)}</p>")
        if self.also_covered_by:
            links = ", ".join(
                f'<a href="{esc(c.url)}">{esc(c.source)}</a>' if c.url else esc(c.source)
                for c in self.also_covered_by
            )
            parts.append(f"<p><strong>Also covered by:</strong> {links}</p>")
        if self.url:
            parts.append(f'<p><a href="{esc(self.url)}">Read it at {esc(self.source)}</a></p>')
        else:
            parts.append(f"<p>From {esc(self.source)}</p>")
        return clean_html("".join(parts))

    def content_text(self) -> str:
        """The same as :meth:`content_html`, as plain text."""
        lines = []
        if self.summary:
            lines += [self.summary, ""]
        lines.append(f"Why this is here: {self.why}")
        if self.also_covered_by:
            lines.append("Also covered by: " + ", ".join(c.source for c in self.also_covered_by))
        lines.append(f"Read it at {self.source}: {self.url}" if self.url else f"From {self.source}")
        return "\n".join(lines)


def _web_url(*candidates: str | None) -> str | None:
    """The first candidate that is an absolute http(s) URL."""
    for url in candidates:
        if not url:
            continue
        try:
            parts = urlsplit(url)
        except ValueError:  # "http://[" and the like
            continue
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return url
    return None


def _host(site_url: str) -> str:
    try:
        return (urlsplit(site_url).hostname or "localhost").lower()
    except ValueError:
        return "localhost"


def tag_uri(site_url: str, article_id: int) -> str:
    """The entry id of an article in the feeds of the Tidings at ``site_url``."""
    return f"tag:{_host(site_url)},{TAG_DATE}:article:{article_id}"


def _short(text: str, limit: int) -> str:
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


def _summary(facts: ArticleFacts | None, article: Article | None) -> str:
    # Summaries and bodies are plain text already (see ArticleDraft); only the publisher's
    # HTML needs reading as HTML. Plain text is escaped wherever it is written.
    if article is not None and article.summary:
        text = article.summary
    elif facts is not None and facts.summary:
        text = facts.summary
    elif article is not None and article.body:
        text = article.body.split("\n\n", 1)[0]
    elif article is not None and article.content_html:
        text = html_to_text(article.content_html).split("\n\n", 1)[0]
    else:
        text = ""
    return _short(text, SUMMARY_CHARS)


def needed_articles(page: FeedPage, *, covered: bool = True) -> list[int]:
    """Ids of the articles whose content the entries of ``page`` use: each item's own and,
    with ``covered``, those it lists as also covering the story (for their links)."""
    ids: list[int] = []
    for item in page.items:
        ids.append(item.article_id)
        if covered:
            ids += [c.article_id for c in item.also_covered_by]
    return list(dict.fromkeys(ids))


def collect_articles(
    page: FeedPage, get_article: Callable[[int], Article], *, covered: bool = True
) -> dict[int, Article]:
    """The articles :func:`needed_articles` names, fetched with ``get_article`` (for example
    ``engine.get_article``), one call each; one deleted meanwhile is left out, and its entry
    falls back on what the page itself knows. ``covered=False`` skips the other sources'
    articles (up to five per item): "also covered by" then names them without links."""
    found = {}
    for article_id in needed_articles(page, covered=covered):
        try:
            found[article_id] = get_article(article_id)
        except NotFoundError:
            continue
    return found


def story_entries(
    page: FeedPage,
    articles: Mapping[int, Article],
    *,
    site_url: str,
    since: datetime | None = None,
) -> list[StoryEntry]:
    """The page's items as entries, in the page's order.

    ``articles`` supplies URLs, summaries and update times (see :func:`collect_articles`);
    an item whose article is missing from it still gets an entry from the page's facts.
    With ``since``, only stories with an article published after it are kept.
    """
    entries = []
    for item in page.items:
        entry = _entry(item, page.articles, articles, site_url)
        if since is None or entry.latest > since:
            entries.append(entry)
    return entries


def _entry(
    item: FeedItem,
    facts_by_id: Mapping[int, ArticleFacts],
    articles: Mapping[int, Article],
    site_url: str,
) -> StoryEntry:
    facts = facts_by_id.get(item.article_id)
    article = articles.get(item.article_id)
    published = (
        facts.published
        if facts is not None
        else (article.published or article.fetched_at)
        if article is not None
        else datetime.now(UTC)
    )
    updated = max(published, article.updated or published) if article is not None else published
    covered = []
    latest = published
    for c in item.also_covered_by:
        other = facts_by_id.get(c.article_id)
        other_article = articles.get(c.article_id)
        if other is not None:
            latest = max(latest, other.published)
        elif other_article is not None and other_article.published is not None:
            latest = max(latest, other_article.published)
        covered.append(
            Coverage(
                article_id=c.article_id,
                source=other.source_name if other is not None else f"source {c.source_id}",
                title=(other.title if other is not None else None)
                or (other_article.title if other_article is not None else None),
                url=_web_url(other_article.url, other_article.canonical_url)
                if other_article is not None
                else None,
            )
        )
    title = (facts.title if facts is not None else None) or (
        article.title if article is not None else None
    )
    authors = (facts.authors if facts is not None else ()) or (
        article.authors if article is not None else ()
    )
    return StoryEntry(
        id=tag_uri(site_url, item.article_id),
        article_id=item.article_id,
        story_id=item.story_id,
        rank=item.rank,
        title=_SPACES.sub(" ", title).strip() or "(untitled)" if title else "(untitled)",
        url=_web_url(article.url, article.canonical_url) if article is not None else None,
        source=facts.source_name if facts is not None else f"source {item.source_id}",
        authors=tuple(a for a in authors if a.strip()),
        published=published,
        updated=updated,
        latest=latest,
        summary=_summary(facts, article),
        reasons=tuple(r.text for r in item.reasons),
        also_covered_by=tuple(covered),
        source_count=item.source_count,
        topics=tuple(label for _, label, _ in facts.topics) if facts is not None else (),
    )


# --- Atom 1.0 ------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml(text)
    return element


def _feed_id(site_url: str, page: FeedPage) -> str:
    # Not the feed's URL: that carries the reader's secret token, and an id is meant to
    # outlive a revoked token.
    return f"tag:{_host(site_url)},{TAG_DATE}:reader:{page.reader.id}:feed"


def atom_feed(
    page: FeedPage,
    articles: Mapping[int, Article],
    *,
    title: str,
    feed_url: str,
    site_url: str,
    updated: datetime | None = None,
) -> bytes:
    """The page as an Atom 1.0 document (UTF-8 bytes, with an XML declaration).

    ``feed_url`` is the document's own (secret) URL, ``site_url`` the Tidings home page;
    ``updated`` defaults to the newest entry's time (or now, for an empty page).
    """
    entries = story_entries(page, articles, site_url=site_url)
    if updated is None:
        updated = max((e.updated for e in entries), default=datetime.now(UTC))
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", _feed_id(site_url, page))
    _sub(feed, "title", title)
    _sub(feed, "subtitle", f"The stories that matter to {page.reader.name}, with the reasons")
    _sub(feed, "updated", _rfc3339(updated))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=site_url)
    author = _sub(feed, "author")
    _sub(author, "name", "Tidings")
    _sub(feed, "generator", "Tidings", version=__version__)
    for entry in entries:
        _atom_entry(feed, entry)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _atom_entry(feed: ET.Element, entry: StoryEntry) -> None:
    element = _sub(feed, "entry")
    _sub(element, "id", entry.id)
    _sub(element, "title", entry.title, type="text")
    if entry.url:
        _sub(element, "link", rel="alternate", type="text/html", href=entry.url)
    _sub(element, "published", _rfc3339(entry.published))
    _sub(element, "updated", _rfc3339(entry.updated))
    # Atom wants an author for every entry; without a byline, the publisher is the author.
    for name in entry.authors or (entry.source,):
        author = _sub(element, "author")
        _sub(author, "name", name)
    for label in entry.topics:
        _sub(element, "category", term=label)
    if entry.summary:
        _sub(element, "summary", entry.summary, type="text")
    _sub(element, "content", entry.content_html(), type="html")


# --- JSON Feed 1.1 ---------------------------------------------------------------------------


def json_feed(
    page: FeedPage,
    articles: Mapping[int, Article],
    *,
    title: str,
    feed_url: str,
    site_url: str,
) -> dict[str, Any]:
    """The page as a JSON Feed 1.1 document (a dict ready for ``json.dumps``).

    Each item also carries a ``_tidings`` extension object: its rank, source, reasons and
    other coverage, for programs that want them without parsing the HTML.
    """
    entries = story_entries(page, articles, site_url=site_url)
    return {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": site_url,
        "feed_url": feed_url,
        "description": f"The stories that matter to {page.reader.name}, with the reasons",
        "authors": [{"name": "Tidings", "url": site_url}],
        "items": [_json_item(e) for e in entries],
    }


def _json_item(entry: StoryEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "title": entry.title,
        "content_html": entry.content_html(),
        "content_text": entry.content_text(),
        "date_published": _rfc3339(entry.published),
        "date_modified": _rfc3339(entry.updated),
        "authors": [{"name": name} for name in entry.authors or (entry.source,)],
        "_tidings": {
            "rank": entry.rank,
            "article_id": entry.article_id,
            "story_id": entry.story_id,
            "source": entry.source,
            "source_count": entry.source_count,
            "reasons": list(entry.reasons),
            "also_covered_by": [
                {"source": c.source, "title": c.title, "url": c.url} for c in entry.also_covered_by
            ],
        },
    }
    if entry.url:
        item["url"] = entry.url
    if entry.summary:
        item["summary"] = entry.summary
    if entry.topics:
        item["tags"] = list(entry.topics)
    return item
