"""Article metadata from an HTML page: title, authors, dates, site, language and the rest.

Structured data comes first because publishers write it for machines: JSON-LD (schema.org
``Article`` and its subtypes, alone, in lists or in an ``@graph``), then ``<meta>`` tags
(OpenGraph, Dublin Core, Twitter, Parse.ly, Sailthru, ``name=author``), then the page itself
(``<title>``, ``rel=author`` and "byline" elements, ``<time datetime>``, ``<html lang>``).
htmldate is the last resort for the publication date.

The conventions follow Mozilla Readability's, whose test pages are our yardstick
(:func:`tidings.eval.metadata.evaluate_metadata`): a title the publisher declared (JSON-LD,
``dc:title``, ``og:title``...) is taken as written; only the document ``<title>`` is trimmed of
its site-name part, with Readability's rules (``_getArticleTitle``). The byline search takes
the first byline element in page order outside hidden and boilerplate blocks, as Readability
does, but prefers the names inside it and refuses dates ("datelines").

Nothing here mutates the tree: body extraction runs on the same tree afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from tidings.text import clean_text, parse_date

__all__ = ["PageMetadata", "extract_metadata"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PageMetadata:
    """What a page says about the article it carries; every field may be missing."""

    #: The article's headline, without the site name where the page added one to ``<title>``.
    title: str | None = None
    #: The people (or organisations) credited, one name each, in page order.
    authors: tuple[str, ...] = ()
    #: When the article was first published (aware, UTC).
    published: datetime | None = None
    #: When it was last modified, where the page says so (aware, UTC).
    updated: datetime | None = None
    #: The publisher's section ("Business", "Opinion").
    section: str | None = None
    #: The name of the site or publication ("The Guardian").
    site_name: str | None = None
    #: The page's canonical address, absolute when a page URL was given.
    canonical_url: str | None = None
    #: The page's language as a BCP 47 tag ("en", "en-US").
    language: str | None = None
    #: The publisher's summary of the article.
    description: str | None = None
    #: The lead image's address.
    image: str | None = None
    #: The publisher's keywords and tags, in page order, without repeats.
    tags: tuple[str, ...] = ()


# --- tuning constants --------------------------------------------------------------------

#: schema.org types whose object describes the article (Readability's list; a Review's name
#: is the reviewed thing's).
_ARTICLE_TYPES = frozenset(
    t.casefold()
    for t in (
        "Article",
        "AdvertiserContentArticle",
        "NewsArticle",
        "AnalysisNewsArticle",
        "AskPublicNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReportageNewsArticle",
        "ReviewNewsArticle",
        "Report",
        "SatiricalArticle",
        "ScholarlyArticle",
        "MedicalScholarlyArticle",
        "SocialMediaPosting",
        "BlogPosting",
        "LiveBlogPosting",
        "DiscussionForumPosting",
        "TechArticle",
        "APIReference",
    )
)

#: Two titles are the same when this share of one is in the other (Readability's threshold).
_SAME_TITLE = 0.75

#: A byline longer than this is a paragraph, not a byline (Readability uses the same bound).
_MAX_BYLINE_CHARS = 100

#: Publication dates before the web existed are misreadings (founding years, birth dates).
_MIN_YEAR = 1991

#: Class/id words that mark a byline element. Readability's list without "dateline": a
#: dateline is where and when, and taking it as the author is Readability's known mistake.
#: "authorization" and "authority" are not authors.
_BYLINE_CLASS = re.compile(r"byline|author(?!i[stz])|writtenby|p-author", re.IGNORECASE)

#: Blocks Readability drops before looking inside them (comments, sidebars, related links).
_UNLIKELY_BUT_HEADER = re.compile(
    r"-ad-|ai2html|banner|breadcrumbs|combx|comment|community|cover-wrap|disqus|extra|footer|"
    r"gdpr|legends|menu|related|remark|replies|rss|shoutbox|sidebar|skyscraper|social|"
    r"sponsor|supplemental|ad-break|agegate|pagination|pager|popup|yom-remote",
    re.IGNORECASE,
)
_UNLIKELY = re.compile(rf"{_UNLIKELY_BUT_HEADER.pattern}|header", re.IGNORECASE)
_MAYBE_CANDIDATE = re.compile(r"and|article|body|column|content|main|shadow", re.IGNORECASE)
#: Unlike the page's header, an article's own header ("entry-header") holds its byline.
_ARTICLE_HEADER = re.compile(r"entry|post|story", re.IGNORECASE)
_UNLIKELY_ROLES = frozenset(
    {"menu", "menubar", "complementary", "navigation", "alert", "alertdialog", "dialog"}
)
#: Elements whose text is never shown as a byline.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg", "button"})

#: Separators between a title and the site name in ``<title>`` (Readability's, plus dashes).
_TITLE_SEPARATORS = "\\|\\-\u2013\u2014\\\\/>»"
_HIERARCHICAL_SEPARATORS = r"\\/>»"

#: "By", "Written by", "Von"... before a byline; "Posted by" in blogs.
_BYLINE_PREFIX = re.compile(
    r"^\s*(?:(?:[^\W\d]+\s+){0,2}?(?:by|von|por|par)\b\s*:?|[^\W\d]+\s*:)\s*",
    re.IGNORECASE,
)
#: Words of a job title: "Jane Doe, Senior Editor" credits one person.
_ROLE_WORDS = re.compile(
    r"\b(?:editor|writer|correspondent|reporter|columnist|contributor|producer|analyst|"
    r"staff|at-large|bureau chief)s?\b",
    re.IGNORECASE,
)
_OTHER_CREDITS = re.compile(
    r"\b(?:edited|photos?|photographs|photography|illustrations?|graphics|video|"
    r"additional reporting|reporting contributed)\s+by\b.*$",
    re.IGNORECASE,
)
#: Inside a byline element, the elements that hold just a name.
_NAME_CLASS = re.compile(r"\bfn\b|author[-_]*name|byline[-_]*name|\bname\b", re.IGNORECASE)
_AUTHOR_HREF = re.compile(r"/(?:author|authors|profile|people|staff|writers?)/", re.IGNORECASE)
#: Punctuation around a name: commas, bars, hyphens, en and em dashes, bullets.
_NAME_PUNCTUATION = " ,;:|-\u2013\u2014\u00b7\u2022"
_NAME_SEPARATORS = re.compile(r"\s*(?:;|\||\s&\s|\band\b)\s*", re.IGNORECASE)
#: Separators that also occur inside names ("Doe, Jane", "Ortega y Gasset").
_LIST_SEPARATORS = re.compile(r"\s*,\s*|\s+(?:und|et|y|e)\s+")
_DATE_WORDS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
    r"\b\d{1,2}:\d{2}\b|\b\d{4}-\d{2}-\d{2}\b|\b(?:updated|published)\b|"
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
    re.IGNORECASE,
)
_URL = re.compile(r"^(?:https?:)?//|^www\.", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

#: ``<meta>`` keys, best first, for each field (names lower-cased, "dc." read as "dc:").
_TITLE_KEYS = (
    "dc:title",
    "dcterms:title",
    "og:title",
    "weibo:article:title",
    "weibo:webpage:title",
    "title",
    "twitter:title",
    "parsely-title",
    "sailthru.title",
)
_AUTHOR_KEYS = (
    "dc:creator",
    "dcterms:creator",
    "author",
    "parsely-author",
    "sailthru.author",
    "byl",
    "article:author",
    "og:article:author",
    "article:author_name",
)
_PUBLISHED_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "parsely-pub-date",
    "sailthru.date",
    "datepublished",
    "dcterms:created",
    "dcterms:issued",
    "dc:date:issued",
    "dc:date:created",
    "dc:date",
    "citation_publication_date",
    "citation_date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "published_at",
    "date",
    "datecreated",
)
_UPDATED_KEYS = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "dcterms:modified",
    "dc:date:modified",
    "last-modified",
)
_SITE_KEYS = ("og:site_name", "application-name", "twitter:app:name:iphone")
_DESCRIPTION_KEYS = (
    "og:description",
    "description",
    "dc:description",
    "dcterms:description",
    "twitter:description",
)
_IMAGE_KEYS = ("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "image")
_SECTION_KEYS = ("article:section", "parsely-section", "section", "sailthru.section")
_TAG_KEYS = ("article:tag", "news_keywords", "keywords", "parsely-tags", "sailthru.tags")
_LANGUAGE_KEYS = ("content-language", "dc:language", "language", "og:locale")


# --- entry point -------------------------------------------------------------------------


def extract_metadata(tree: Any, *, url: str | None = None) -> PageMetadata:
    """Read the article metadata of a parsed page (see :func:`tidings.extract.page.parse_html`).

    ``url`` is where the page came from; it makes the canonical and image addresses absolute.
    Missing or broken metadata gives ``None`` fields, never an error. The tree is not changed.
    """
    # An element of the page (parse_html gives the <html> element) or its ElementTree.
    root = tree.getroot() if hasattr(tree, "getroot") else tree.getroottree().getroot()
    meta = _MetaTags(root)
    article = _json_ld_article(root)
    document_title = _document_title(root)

    site_name = _first(article.site_name if article else None, *meta.all(_SITE_KEYS))
    title = _declared_title(article, meta, root, document_title) or _clean_document_title(
        root, document_title
    )
    authors = _authors_from_json_ld(article) or _authors_from_meta(meta) or _byline_authors(root)
    published = _first_date(
        article.published if article else None,
        *meta.all(_PUBLISHED_KEYS),
        _time_elements(root),
    )
    if published is None:
        published = _htmldate(root, url)
    updated = _first_date(article.modified if article else None, *meta.all(_UPDATED_KEYS))

    canonical = _first(
        *(link.get("href") for link in _links(root, "canonical")),
        meta.get("og:url"),
        article.url if article else None,
        url,
    )
    if canonical and url:
        canonical = urljoin(url, canonical)
    image = _first(*meta.all(_IMAGE_KEYS), article.image if article else None)
    if image and (url or canonical):
        image = urljoin(url or canonical or "", image)

    return PageMetadata(
        # Cleaned again: the <title> trimming works on text the page's <h1> may have given.
        title=_clean_text(title),
        authors=authors,
        published=published,
        updated=updated,
        section=_first(*meta.all(_SECTION_KEYS), article.section if article else None),
        site_name=site_name,
        canonical_url=canonical,
        language=_language(root, meta, article),
        description=_first(*meta.all(_DESCRIPTION_KEYS), article.description if article else None),
        image=image,
        tags=_tags(meta, article),
    )


# --- text --------------------------------------------------------------------------------


def _clean_text(value: Any) -> str | None:
    """The project's one cleaning of a short text (:func:`tidings.text.clean_text`: pages
    often escape entities twice in attributes, ``&amp;#39;``); ``None`` for anything that is
    not a non-empty string."""
    if not isinstance(value, str):
        return None
    return clean_text(value) or None


def _first(*values: Any) -> str | None:
    for value in values:
        text = _clean_text(value)
        if text:
            return text
    return None


def _text_content(element: Any) -> str:
    try:
        return str(element.text_content())
    except (AttributeError, ValueError):
        return "".join(element.itertext())


# --- <meta> tags -------------------------------------------------------------------------


class _MetaTags:
    """The page's ``<meta>`` values by lower-cased key, in page order.

    A key given both as ``property`` (RDFa, OpenGraph) and as ``name`` takes the ``property``
    values only: they are the same statement twice, and ``property`` is the standard form.
    """

    def __init__(self, root: Any) -> None:
        by_property: dict[str, list[str]] = {}
        by_name: dict[str, list[str]] = {}
        for element in root.iter("meta"):
            content = element.get("content")
            if not content or not content.strip():
                continue
            for attribute, store in (
                ("property", by_property),
                ("name", by_name),
                ("itemprop", by_name),
                ("http-equiv", by_name),
            ):
                keys = (element.get(attribute) or "").split()
                if keys and attribute == "itemprop" and not _about_the_article(element):
                    continue
                # RDFa allows several space-separated properties on one tag.
                for key in keys:
                    store.setdefault(_meta_key(key), []).append(content)
        self._values = {**by_name, **by_property}

    def get(self, key: str) -> str | None:
        return _first(*self._values.get(key, ()))

    def all(self, keys: tuple[str, ...]) -> list[str]:
        return [value for key in keys for value in self._values.get(key, ())]

    def each(self, key: str) -> list[str]:
        return list(self._values.get(key, ()))


def _about_the_article(element: Any) -> bool:
    """Whether microdata describes the page's article, not a comment or a related story."""
    for ancestor in element.iterancestors():
        itemtype = ancestor.get("itemtype")
        if itemtype:
            types = {re.split(r"[/:]", t)[-1].casefold() for t in itemtype.split()}
            return bool(types & _ARTICLE_TYPES)
        if ancestor.get("itemscope") is not None:
            return False
    return True


def _meta_key(key: str) -> str:
    key = key.strip().lower()
    # Dublin Core is written "DC.title", "dc:title" and "DCTERMS.created" alike.
    if key.startswith(("dc.", "dcterms.", "dcterm.", "dcterm:")):
        key = key.replace(".", ":")
    return key.replace("dcterm:", "dcterms:") if key.startswith("dcterm:") else key


def _links(root: Any, rel: str) -> Iterator[Any]:
    for element in root.iter("link"):
        if rel in (element.get("rel") or "").lower().split():
            yield element


# --- JSON-LD -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Article:
    """The fields we read from a schema.org article object."""

    headline: str | None
    name: str | None
    authors: tuple[str, ...]
    published: str | None
    modified: str | None
    site_name: str | None
    section: str | None
    description: str | None
    image: str | None
    url: str | None
    language: str | None
    keywords: tuple[str, ...]


def _json_ld_article(root: Any) -> _Article | None:
    for element in root.iter("script"):
        if (element.get("type") or "").strip().lower() != "application/ld+json":
            continue
        data = _load_json((element.text or "").strip())
        for item in _json_ld_objects(data):
            if _types(item) & _ARTICLE_TYPES:
                return _read_article(item)
    return None


def _load_json(text: str) -> Any:
    text = re.sub(r"^\s*(?:<!\[CDATA\[|<!--)|(?:\]\]>|-->)\s*$", "", text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        # Stray control characters inside strings are the usual breakage.
        try:
            return json.loads(text, strict=False)
        except (ValueError, RecursionError):
            return None


def _json_ld_objects(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Objects at the top level, in lists and in ``@graph``, then a level down (mainEntity)."""
    if depth > 3:
        return
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _json_ld_objects(data["@graph"], depth + 1)
        for key in ("mainEntity", "mainEntityOfPage"):
            if isinstance(data.get(key), dict):
                yield from _json_ld_objects(data[key], depth + 1)


def _types(item: dict[str, Any]) -> set[str]:
    value = item.get("@type")
    values = value if isinstance(value, list) else [value]
    # "NewsArticle", "http://schema.org/NewsArticle" and "schema:NewsArticle" alike.
    return {re.split(r"[/:]", v)[-1].casefold() for v in values if isinstance(v, str)}


def _read_article(item: dict[str, Any]) -> _Article:
    publisher = item.get("publisher")
    if isinstance(publisher, list):
        publisher = publisher[0] if publisher else None
    section = item.get("articleSection")
    if isinstance(section, list):
        section = section[0] if section else None
    keywords = item.get("keywords")
    keyword_list = (
        [k for k in keywords if isinstance(k, str)]
        if isinstance(keywords, list)
        else (keywords.split(",") if isinstance(keywords, str) else [])
    )
    language = item.get("inLanguage")
    if isinstance(language, dict):
        language = language.get("name") or language.get("alternateName")
    main_page = item.get("mainEntityOfPage")
    return _Article(
        headline=_clean_text(item.get("headline")),
        name=_clean_text(item.get("name")),
        authors=_unique(list(_json_ld_names(item.get("author") or item.get("creator")))),
        published=_clean_text(item.get("datePublished") or item.get("dateCreated")),
        modified=_clean_text(item.get("dateModified")),
        site_name=_clean_text(publisher.get("name")) if isinstance(publisher, dict) else None,
        section=_clean_text(section),
        description=_clean_text(item.get("description")),
        image=_json_ld_url(item.get("image") or item.get("thumbnailUrl")),
        url=_clean_text(item.get("url"))
        or _json_ld_url(main_page if isinstance(main_page, str | dict) else None),
        language=_clean_text(language),
        keywords=tuple(k for k in (_clean_text(k) for k in keyword_list) if k),
    )


def _json_ld_names(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _json_ld_names(item)
    elif isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, list):
            name = name[0] if name else None
        if isinstance(name, str) and name.strip():
            yield from _split_names(name)
        elif isinstance(value.get("givenName"), str):
            full = f"{value['givenName']} {value.get('familyName') or ''}"
            yield from _split_names(full)
    elif isinstance(value, str):
        yield from _split_names(value)


def _json_ld_url(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id") or value.get("contentUrl")
    return _clean_text(value)


# --- title -------------------------------------------------------------------------------


def _document_title(root: Any) -> str | None:
    for element in root.iter("title"):
        # An <svg><title> in the body is not the page's title.
        if any(parent.tag == "svg" for parent in element.iterancestors()):
            continue
        return _clean_text(_text_content(element))
    return None


def _declared_title(
    article: _Article | None, meta: _MetaTags, root: Any, document_title: str | None
) -> str | None:
    """The title the publisher declared for machines, as written (Readability's order)."""
    if article is not None:
        if article.headline and article.name and article.headline != article.name:
            # Some sites put their own name in "name" and the title in "headline": take the
            # headline only when it, and not the name, resembles the page's title.
            title = _clean_document_title(root, document_title) or ""
            headline_matches = _similarity(article.headline, title) > _SAME_TITLE
            if headline_matches and not _similarity(article.name, title) > _SAME_TITLE:
                return article.headline
            return article.name
        if article.name or article.headline:
            return article.name or article.headline
    return _first(*meta.all(_TITLE_KEYS))


def _similarity(text: str, reference: str) -> float:
    """How much of ``reference`` (by characters of its words) ``text`` also has, 0 to 1."""
    known = set(re.findall(r"\w+", text.lower()))
    words = re.findall(r"\w+", reference.lower())
    if not words or not known:
        return 0.0
    unknown = " ".join(w for w in words if w not in known)
    return 1 - len(unknown) / len(" ".join(words))


def _word_count(text: str) -> int:
    # As JavaScript's split(/\s+/) counts: a leading or trailing space adds an empty "word",
    # which Readability's thresholds were tuned with.
    return len(re.split(r"\s+", text))


def _clean_document_title(root: Any, title: str | None) -> str | None:
    """``<title>`` without its site-name part, by Readability's ``_getArticleTitle`` rules.

    The part after the last separator goes, unless that leaves fewer than three words (then
    the part before the first goes); a "Site: Title" prefix goes unless a heading repeats the
    whole title; a title of four words or fewer is kept whole, as the cut was probably wrong.
    """
    if not title:
        headings = list(root.iter("h1"))
        return _clean_text(_text_content(headings[0])) if headings else None
    original = current = title
    hierarchical = False
    separators = _TITLE_SEPARATORS
    if re.search(rf" [{separators}] ", current):
        hierarchical = bool(re.search(rf" [{_HIERARCHICAL_SEPARATORS}] ", current))
        current = re.sub(rf"(.*)[{separators}] .*", r"\1", original)
        if _word_count(current) < 3:
            current = re.sub(rf"[^{separators}]*[{separators}](.*)", r"\1", original)
    elif ": " in current:
        heading_texts = {
            _clean_text(_text_content(h)) for tag in ("h1", "h2") for h in root.iter(tag)
        }
        if current not in heading_texts:
            current = original[original.rfind(":") + 1 :]
            if _word_count(current) < 3:
                current = original[original.find(":") + 1 :]
            elif _word_count(original[: original.find(":")]) > 5:
                current = original
    elif len(current) > 150 or len(current) < 15:
        headings = list(root.iter("h1"))
        if len(headings) == 1:
            current = _text_content(headings[0])
    current = _SPACE.sub(" ", current).strip()
    words = _word_count(current)
    if words <= 4 and (
        not hierarchical or words != _word_count(re.sub(rf"[{separators}]+", "", original)) - 1
    ):
        current = original
    return current or original


# --- authors -----------------------------------------------------------------------------


def _authors_from_json_ld(article: _Article | None) -> tuple[str, ...]:
    return article.authors if article else ()


def _authors_from_meta(meta: _MetaTags) -> tuple[str, ...]:
    for key in _AUTHOR_KEYS:
        names: list[str] = []
        for value in meta.each(key):
            # article:author is usually a profile URL; only a name is an author.
            if _URL.match(value.strip()):
                continue
            names.extend(_split_names(value))
        if names:
            return _unique(names)
    return ()


def _split_names(text: str) -> Iterator[str]:
    """One byline → names: "By Jane Doe and John Roe" → "Jane Doe", "John Roe"."""
    cleaned = _clean_text(text)
    if not cleaned or len(cleaned) > _MAX_BYLINE_CHARS or _URL.match(cleaned):
        return
    cleaned = _BYLINE_PREFIX.sub("", cleaned)
    # Editors, photographers and extra reporting are credited, but are not the authors.
    cleaned = _OTHER_CREDITS.sub("", cleaned).strip(_NAME_PUNCTUATION)
    if not cleaned:
        return
    # "Jane Doe (with John Roe and Bo Li)": separators inside brackets do not split.
    brackets = [m.span() for m in re.finditer(r"\([^)]*\)", cleaned)]
    cuts = [
        m.span()
        for m in _NAME_SEPARATORS.finditer(cleaned)
        if m.end() > m.start() and not any(a <= m.start() < b for a, b in brackets)
    ]
    starts = [0] + [end for _, end in cuts]
    ends = [start for start, _ in cuts] + [len(cleaned)]
    for part in (cleaned[a:b].strip(_NAME_PUNCTUATION) for a, b in zip(starts, ends, strict=True)):
        if not part:
            continue
        if brackets:
            yield part
            continue
        commas = [p.strip() for p in part.split(",")]
        kept = [p for p in commas if not _ROLE_WORDS.search(p)] or commas[:1]
        if len(kept) < len(commas):
            part = ", ".join(kept)
        # "Doe, Jane" and "José Ortega y Gasset" are one name; "Jane Doe, John Roe" are two:
        # split on commas and on "y", "et"... only when every piece looks like a full name.
        pieces = [p.strip() for p in _LIST_SEPARATORS.split(part)]
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces):
            yield from pieces
        else:
            yield part


def _unique(names: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    result = []
    for name in names:
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            result.append(name)
    return tuple(result)


def _is_hidden(element: Any) -> bool:
    style = (element.get("style") or "").replace(" ", "").lower()
    return (
        "display:none" in style
        or "visibility:hidden" in style
        or element.get("hidden") is not None
        or (
            element.get("aria-hidden") == "true"
            and "fallback-image" not in (element.get("class") or "")
        )
    )


_WORDS = (
    "contains(., 'uthor') or contains(., 'UTHOR') or contains(., 'yline') or "
    "contains(., 'YLINE') or contains(., 'ritten')"
)
#: Elements that may hold a byline, in page order. Walking the body in Python is the slow
#: part, so XPath (in C) picks the few candidates and :data:`_BYLINE_CLASS` checks them.
#: Testing attribute nodes is several times faster than testing elements' attributes.
_BYLINE_CANDIDATES = etree.XPath(
    f"//@class[{_WORDS}]/.. | //@id[{_WORDS}]/.. | //@rel[. = 'author']/.."
    " | //@itemprop[contains(., 'author')]/.."
)


def _byline_authors(root: Any) -> tuple[str, ...]:
    """The first visible byline element in the body, in page order, as Readability finds it.

    Readability walks the body and drops hidden and boilerplate blocks (comments, sidebars,
    related links) before looking inside them, so a byline inside one does not count.
    """
    for element in _BYLINE_CANDIDATES(root):
        match = f"{element.get('class') or ''} {element.get('id') or ''}"
        if not (
            (element.get("rel") or "").lower() == "author"
            or "author" in (element.get("itemprop") or "")
            or _BYLINE_CLASS.search(match)
        ):
            continue
        if _is_hidden(element) or any(_is_skipped_block(a) for a in element.iterancestors()):
            continue
        names = _byline_names(element, element.get("itemprop") or "")
        if names:
            return names
    return ()


def _is_skipped_block(element: Any) -> bool:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in ("body", "html"):
        return False
    if tag in _SKIP_TAGS or _is_hidden(element):
        return True
    if (element.get("role") or "") in _UNLIKELY_ROLES:
        return True
    match = f"{element.get('class') or ''} {element.get('id') or ''}"
    if not _UNLIKELY.search(match) or _MAYBE_CANDIDATE.search(match) or tag == "a":
        return False
    return bool(_UNLIKELY_BUT_HEADER.search(match) or not _ARTICLE_HEADER.search(match))


def _byline_names(element: Any, itemprop: str) -> tuple[str, ...]:
    """The names in a byline element: its name-holding children, else its text."""
    if "author" in itemprop and element.get("content"):
        # Microdata on a <meta> or <span content="...">.
        return _unique(list(_split_names(element.get("content"))))
    text = _clean_text(_text_content(element))
    if not text or len(text) >= _MAX_BYLINE_CHARS:
        # A block that merely mentions authors; its children are candidates in their turn.
        return ()
    names: list[str] = []
    for child in element.iterdescendants():
        if not isinstance(child.tag, str) or _is_hidden(child):
            continue
        if (
            (child.get("itemprop") or "") == "name"
            or (child.get("rel") or "").lower() == "author"
            or _NAME_CLASS.search(child.get("class") or "")
            or (child.tag == "a" and _AUTHOR_HREF.search(child.get("href") or ""))
        ):
            names.extend(_split_names(child.get("content") or _text_content(child)))
    if names:
        return _unique(names)
    # "By Jane Doe March 11, 2015 3:46 PM": the date is not part of the name.
    date = _DATE_WORDS.search(text)
    if date:
        text = text[: date.start()]
    return _unique(list(_split_names(text)))


# --- dates -------------------------------------------------------------------------------


def _parse_date(value: str | None) -> datetime | None:
    """A date as an aware UTC datetime (:func:`tidings.text.parse_date`), ``None`` when
    unreadable or implausible for a web page (before :data:`_MIN_YEAR`, or after next year)."""
    parsed = parse_date(_clean_text(value))
    if parsed is None or not _MIN_YEAR <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    return parsed


def _first_date(*sources: str | Iterable[str] | None) -> datetime | None:
    """The first readable date among values and lazily searched sequences of values."""
    for source in sources:
        values = [source] if source is None or isinstance(source, str) else source
        for value in values:
            parsed = _parse_date(value)
            if parsed is not None:
                return parsed
    return None


_DATE_ELEMENTS = etree.XPath(
    "//@pubdate/.. | //@itemprop[contains(., 'atePublished') or contains(., 'atepublished')]/.."
    " | //time/@class[contains(., 'publish') or contains(., 'posted')]/.."
)


def _time_elements(root: Any) -> Iterator[str]:
    """``<time>`` and microdata dates that say they are the publication date, in page order."""
    for element in _DATE_ELEMENTS(root):
        value = element.get("datetime") or element.get("content") or element.get("title")
        yield value or _text_content(element)


def _htmldate(root: Any, url: str | None) -> datetime | None:
    """htmldate's guess, fast settings only; it copies the tree before pruning it."""
    try:
        from htmldate import find_date

        found = find_date(root, extensive_search=False, original_date=True, url=url)
    except Exception:  # noqa: BLE001 - a guess that fails is simply no guess
        return None
    return _parse_date(found) if isinstance(found, str) else None


# --- language and tags -------------------------------------------------------------------


def _language(root: Any, meta: _MetaTags, article: _Article | None) -> str | None:
    value = _first(
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        *meta.all(_LANGUAGE_KEYS),
        article.language if article else None,
    )
    if not value:
        return None
    value = value.split(",")[0].strip().replace("_", "-")
    return value if re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", value) else None


def _tags(meta: _MetaTags, article: _Article | None) -> tuple[str, ...]:
    tags: list[str] = []
    for value in meta.all(_TAG_KEYS):
        tags.extend(value.split(",") if "," in value else [value])
    if article is not None:
        tags.extend(article.keywords)
    cleaned = [t for t in (_clean_text(t) for t in tags) if t]
    return _unique(cleaned)
