"""Feed documents → articles.

:func:`parse_feed` turns the bytes of an RSS 0.9x/1.0/2.0, Atom or JSON Feed document into a
:class:`ParsedFeed`: the feed's own metadata and one :class:`~tidings.types.ArticleDraft` per
entry. RSS and Atom go through feedparser; JSON Feed is read here, because feedparser 6.0 does
not know it. The function is pure: no I/O and no clock reads (the caller says when it fetched).

What it guarantees about every draft:

* ``url`` is absolute (relative links are resolved against ``xml:base`` or the feed URL) and
  uses http(s) or the feed's own scheme; ``canonical_url`` is that link normalised
  (:func:`canonicalize_url`);
* ``title``, ``summary`` and ``body`` are plain text (:func:`tidings.text.html_to_text`), and
  titles and summaries are cleaned of the escapes feeds leave in them
  (:func:`tidings.text.clean_text`); ``content_html`` is the publisher's markup,
  unsanitised, with relative ``href``/``src`` made absolute;
* ``published`` is an aware UTC datetime, the fetch time when the entry gave no date at all.

Safety: documents that declare XML entities are refused before any parser sees them (billion
laughs, external entities); feedparser is only ever handed a byte stream, never a string it
could mistake for a file name or URL.
"""

from __future__ import annotations

import codecs
import functools
import html
import io
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from tidings.errors import FeedParseError
from tidings.text import clean_text, html_to_text, parse_date, squash, text_paragraphs
from tidings.types import ArticleDraft, Image

__all__ = ["ParsedFeed", "canonicalize_url", "parse_feed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    """A feed document as read: the feed's metadata and its entries as article drafts."""

    #: The feed's title, as plain text.
    title: str | None
    #: The home page of the site (RSS ``<link>``, Atom ``rel=alternate``, JSON ``home_page_url``).
    site: str | None
    #: The feed's language (BCP 47, e.g. ``"en-GB"``), when it says.
    language: str | None
    #: How long the publisher asks readers to wait between polls, in seconds: RSS ``<ttl>``
    #: (given in minutes), else ``sy:updatePeriod``/``sy:updateFrequency``; ``None`` if neither.
    ttl: int | None
    #: The format: feedparser's version names (``"rss20"``, ``"rss10"``, ``"rss091u"``,
    #: ``"atom10"``, …), ``"json10"``/``"json11"`` for JSON Feed, ``"unknown"`` when entries
    #: were found in a document of no recognised format.
    format: str
    #: One draft per entry, in document order.
    articles: tuple[ArticleDraft, ...]
    #: One line about a problem that did not stop the read (ill-formed XML read leniently, a
    #: wrong declared encoding); ``None`` when the document was clean.
    warning: str | None


REFUSED_ENTITIES = "refused: the document declares XML entities (entity-expansion attack?)"


def parse_feed(content: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Read an RSS, Atom or JSON Feed document.

    ``url`` is where the document came from (relative links resolve against it);
    entries that carry no date keep ``published=None`` (storage dates them when it first
    sees them, so their digest does not change from one fetch to the next);
    ``content_type`` is the HTTP ``Content-Type``, whose charset, when given, wins over
    the one the document declares.

    Raises FeedParseError when the document is not a feed (empty, an HTML page, other XML,
    random bytes) or declares XML entities. An ill-formed feed that can still be read gives a
    ParsedFeed with ``warning`` set.
    """
    mime, charset = _split_content_type(content_type)
    data, first = _skip_leading_whitespace(content)
    if first is None:
        raise FeedParseError("not a feed: the document is empty", resource=url)
    if first == b"{" or (first != b"<" and "json" in mime):
        return _presentable(_parse_json_feed(data, url=url))
    data, charset, relabelled = _utf16_as_utf8(data, charset)
    if _declares_entities(data, charset):
        raise FeedParseError(REFUSED_ENTITIES, resource=url)
    root = _root_element(data)
    if root in _HTML_ROOTS:
        raise FeedParseError("not a feed: looks like an HTML page", resource=url)
    feed = _parse_xml_feed(data, url=url, charset=charset, root=root)
    if relabelled:
        feed = replace(feed, warning="; ".join(filter(None, [relabelled, feed.warning])))
    return _presentable(feed)


_XML_DECLARATION = re.compile(r"^<\?xml[^>]*?\?>")
_DECLARED_ENCODING = re.compile(r"""(encoding\s*=\s*)(["'])([A-Za-z0-9._:-]*)\2""")


def _utf16_variant(data: bytes) -> str | None:
    """The UTF-16 codec that reads ``data``, when its first bytes say it is UTF-16: a byte
    order mark, or the XML spec's autodetection pattern (``<`` or ``<?`` with zero bytes
    between, where UTF-32 would have three)."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and data[:4] not in (
        codecs.BOM_UTF32_LE,
        codecs.BOM_UTF32_BE,
    ):
        return "utf-16"
    if data[:2] == b"<\x00" and data[2:3] != b"\x00" and data[3:4] == b"\x00":
        return "utf-16-le"
    if data[:2] == b"\x00<" and data[2:3] == b"\x00" and data[3:4] != b"\x00":
        return "utf-16-be"
    return None


def _utf16_as_utf8(data: bytes, charset: str | None) -> tuple[bytes, str | None, str | None]:
    """A UTF-16 document as UTF-8, with its charset and the warning to give: feedparser
    follows a charset or declaration that says UTF-8 and then finds no feed at all in the
    UTF-16 bytes. The bytes win over the labels, as a byte order mark does in XML (RFC 7303
    section 3.3); a label that said otherwise is named in the warning."""
    variant = _utf16_variant(data)
    if variant is None:
        return data, charset, None
    text = data.decode(variant, "replace").lstrip("\ufeff")
    declared: str | None = None
    if (declaration := _XML_DECLARATION.match(text)) is not None:
        found = _DECLARED_ENCODING.search(declaration.group(0))
        declared = found.group(3).lower() if found else None
        fixed = _DECLARED_ENCODING.sub(r"\1\2utf-8\2", declaration.group(0))
        text = fixed + text[declaration.end() :]
    claim = None
    if charset and not charset.startswith("utf-16"):
        claim = f"the server said {charset}"
    elif declared and not declared.startswith("utf-16"):
        claim = f"the document declares {declared}"
    warning = f"wrong character encoding: {claim}, but the text is UTF-16; read as UTF-16"
    return text.encode("utf-8"), "utf-8", warning if claim else None


#: Longest headline made up from an untitled entry's text, in characters: about what a
#: news headline runs to, so a derived one fits where real ones do.
DERIVED_TITLE_CHARS = 90


def derive_title(text: str) -> str:
    """A headline for an untitled entry: its first sentence, shortened at a word boundary.

    RSS lets an item have a description and no title (RSS 0.92, microblogs); feed readers
    show the start of the text instead, and so do we.
    """
    first = text.strip().split("\n", 1)[0]
    match = _SENTENCE_END.search(first)
    if match and match.end() <= DERIVED_TITLE_CHARS:
        return first[: match.end()].strip()
    if len(first) <= DERIVED_TITLE_CHARS:
        return first
    cut = first[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut}…"


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def _drop_shared_links(articles: Sequence[ArticleDraft]) -> tuple[ArticleDraft, ...]:
    """Clear the canonical URL of entries that share their link with other entries of
    the same feed under different ids.

    Storage takes one canonical URL to be one article. A link that several distinct
    entries point at (a podcast's home page, a live blog's single URL) is not any one
    entry's own page, so it must not merge them; the entries keep ``url`` to link to.
    """
    ids_by_link: dict[str, set[str]] = {}
    for article in articles:
        if article.canonical_url and article.guid:
            ids_by_link.setdefault(article.canonical_url, set()).add(article.guid)
    shared = {link for link, ids in ids_by_link.items() if len(ids) > 1}
    if not shared:
        return tuple(articles)
    return tuple(
        replace(a, canonical_url=None) if a.canonical_url in shared and a.guid else a
        for a in articles
    )


def _presentable(feed: ParsedFeed) -> ParsedFeed:
    """Give untitled entries a headline from their text, drop entries that carry nothing
    a reader could see or follow (no title, link, text or image: an empty Atom entry, an
    entry with only an id), and keep shared links from merging distinct entries."""
    kept: list[ArticleDraft] = []
    for article in feed.articles:
        text = article.summary or article.body
        if article.title:
            kept.append(article)
        elif text:
            kept.append(replace(article, title=clean_text(derive_title(text))))
        elif article.url or article.images:
            kept.append(article)
    warning = feed.warning
    empty = len(feed.articles) - len(kept)
    if empty:
        note = f"{empty} entr{'y' if empty == 1 else 'ies'} with no title, link or text skipped"
        warning = f"{warning}; {note}" if warning else note
    return replace(feed, articles=_drop_shared_links(kept), warning=warning)


# --- reading the bytes -------------------------------------------------------------------

_WHITESPACE = frozenset(b" \t\r\n")
_HTML_ROOTS = frozenset({"html", "head", "body"})


def _split_content_type(content_type: str | None) -> tuple[str, str | None]:
    """``"text/xml; charset=ISO-8859-1"`` → ``("text/xml", "iso-8859-1")``."""
    if not content_type:
        return "", None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return mime.strip().lower(), charset


def _skip_leading_whitespace(content: bytes) -> tuple[bytes, bytes | None]:
    """Drop whitespace before the first ``<`` or ``{``; return the data and its first byte.

    Servers often emit a blank line before ``<?xml``, which makes a feed ill-formed for no
    good reason; dropping it lets the strict parser read the feed. ``None`` means empty.
    """
    start = 3 if content.startswith(codecs.BOM_UTF8) else 0
    end, n = start, len(content)
    while end < n and content[end] in _WHITESPACE:
        end += 1
    if end == n:
        return content, None
    first = content[end : end + 1]
    if end > start and first in (b"<", b"{"):
        content = content[:start] + content[end:]
    return content, first


# An XML declaration, BOM or byte pattern that says the document is not ASCII-compatible, in
# which case markup bytes like b"<!ENTITY" cannot be searched for directly.
_ENCODING_DECLARATION = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)


def _declares_entities(data: bytes, charset: str | None) -> bool:
    """Whether the document's DTD declares entities (which we refuse outright).

    A cheap scan first: no ``<!DOCTYPE`` or no ``<!ENTITY`` anywhere means no declaration.
    Only when both appear does defusedxml's parser read the prolog, up to the root element, to
    tell a real declaration from the same bytes in a CDATA section; a prolog it cannot read is
    refused too. Documents in encodings that are not ASCII-compatible (UTF-16, UTF-7, EBCDIC…)
    are decoded first, so the markup cannot hide from the scan.
    """
    for text in _ascii_views(data, charset):
        doctype = _DOCTYPE.search(text)
        if doctype is None or _ENTITY.search(text, doctype.start()) is None:
            continue
        if _prolog_declares_entities(text):
            return True
    return False


def _ascii_views(data: bytes, charset: str | None) -> Iterable[bytes]:
    yield data
    candidates = [charset]
    if data[:4] in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        candidates.append("utf-32")
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        candidates.append("utf-16")
    elif data[:2] in (b"<\x00", b"\x00<"):
        candidates.append("utf-16-le" if data[:1] == b"<" else "utf-16-be")
    elif data[:4] == b"\x4c\x6f\xa7\x94":  # "<?xm" in EBCDIC
        candidates.append("cp037")
    declared = _ENCODING_DECLARATION.match(data[:200])
    if declared:
        candidates.append(declared.group(1).decode("ascii").lower())
    seen: set[str] = set()
    for name in candidates:
        if name and name not in seen and not _is_ascii_compatible(name):
            seen.add(name)
            yield data.decode(name, "replace").encode("utf-8")


@functools.lru_cache(maxsize=64)
def _is_ascii_compatible(encoding: str) -> bool:
    try:
        return "<!ENTITY [] >'\"".encode(encoding) == b"<!ENTITY [] >'\""
    except LookupError:
        return (
            True  # feedparser cannot decode with it either; it falls back to ASCII-compatible ones
        )
    except UnicodeError:
        return False


class _RootReached(Exception):
    """Raised by the prolog reader at the root element: the DTD is behind us."""


class _StopAtRoot:
    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        raise _RootReached

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def _prolog_declares_entities(text: bytes) -> bool:
    parser = DefusedXMLParser(
        target=_StopAtRoot(), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    try:
        # A str makes expat ignore the declared encoding; latin-1 maps every byte, and the
        # markup we care about is ASCII.
        parser.feed(text.decode("latin-1"))
        parser.close()
    except _RootReached:
        return False
    except (DefusedXmlException, ParseError):
        return True
    return True  # no root element at all: nothing to read, refuse the odd document


def _root_element(data: bytes) -> str | None:
    """The local name of the root element, lower-cased, or None if the start is not markup.

    Skips the XML declaration, processing instructions, comments and the DOCTYPE. Only the
    first 64 KiB are looked at; it is a hint for error messages, not a parser.
    """
    text = _head_text(data[:65536])
    i = len(text) - len(text.lstrip("\ufeff \t\r\n"))
    while i < len(text):
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            i = end + 2 if end >= 0 else len(text)
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            i = end + 3 if end >= 0 else len(text)
        elif text[i : i + 9].upper() == "<!DOCTYPE":
            bracket, close = text.find("[", i), text.find(">", i)
            if 0 <= bracket < close:
                close = text.find(">", max(text.find("]", bracket), bracket))
            i = close + 1 if close >= 0 else len(text)
        elif text.startswith("<", i):
            name = _XML_NAME.match(text, i + 1)
            return name.group(0).rpartition(":")[2].lower() if name else None
        elif text[i] in " \t\r\n":
            i += 1
        else:
            return None
    return None


_XML_NAME = re.compile(r"[A-Za-z_][-\w.:]*")


def _head_text(head: bytes) -> str:
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return head.decode("utf-16", "replace")
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", "replace")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", "replace")
    return head.decode("latin-1")  # every byte maps; the markup we look for is ASCII


# --- RSS and Atom through feedparser -----------------------------------------------------


def _get(mapping: object, key: str) -> Any:
    """``mapping[key]`` or None; bypasses FeedParserDict's key aliasing (``updated`` falling
    back to ``published`` and the like), which is also slow."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _parse_xml_feed(data: bytes, *, url: str, charset: str | None, root: str | None) -> ParsedFeed:
    # Always an XML media type, so feedparser follows the declared encoding unless the server
    # named a charset (RFC 7303), instead of assuming US-ASCII for text/* as RFC 3023 said.
    content_type = f"application/xml; charset={charset}" if charset else "application/xml"
    try:
        # Sanitising is for display and happens there; relative URIs in content are resolved
        # below with a regex, several times faster than feedparser's SGML pass.
        parsed = feedparser.parse(
            io.BytesIO(data),
            # No Content-Location on purpose: feedparser would also "resolve" ids such as
            # "75ffea6b" into https://…/75ffea6b, and guids must stay the publisher's. Links
            # are resolved below, against xml:base and then the feed URL.
            response_headers={"content-type": content_type},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # hostile input can make feedparser raise anything
        raise FeedParseError(
            f"not a feed: the parser failed ({type(e).__name__})", resource=url
        ) from e

    version: str = parsed.get("version") or ""
    entries: list[Any] = parsed.get("entries") or []
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not version and not entries:
        raise FeedParseError(_not_a_feed(root, error), resource=url)
    warning = _warning(error, data, charset, parsed.get("encoding"))
    if not version:
        warning = "; ".join(
            filter(None, ["unrecognised feed format, entries read leniently", warning])
        )

    feed: Any = parsed.get("feed") or {}
    feed_language = _language(_get(feed, "language")) or _detail_language(feed, "title_detail")
    is_atom = version.startswith("atom")
    feed_authors = _authors(_get(feed, "authors")) if is_atom else ()
    schemes = _allowed_schemes(url)

    media: list[_ItemMedia] | None = None
    if _MRSS_MARKER in data:
        media = _read_media(data, parsed.get("encoding") or "utf-8")
        if media is not None and len(media) != len(entries):
            media = None  # feedparser saw the items differently; do not misattribute images

    articles = tuple(
        _xml_entry(
            entry,
            media=media[i] if media is not None else None,
            feed_url=url,
            schemes=schemes,
            language=feed_language,
            feed_authors=feed_authors,
        )
        for i, entry in enumerate(entries)
    )
    return ParsedFeed(
        title=_text_of_detail(_get(feed, "title"), _get(feed, "title_detail")),
        site=_site(feed, url, schemes),
        language=feed_language,
        ttl=_ttl(feed),
        format=version or "unknown",
        articles=_keep_distinguishing_fragments(articles),
        warning=warning,
    )


def _site(feed: Mapping[str, Any], url: str, schemes: frozenset[str]) -> str | None:
    """The feed's alternate link; not ``feed.link``, which feedparser fills from the id."""
    for link in _get(feed, "links") or ():
        if _get(link, "rel") == "alternate":
            return _absolute(_get(link, "href"), url, schemes)
    return None


def _not_a_feed(root: str | None, error: BaseException | None) -> str:
    if root is not None:
        return f"not a feed: an XML document whose root element is <{root}>"
    if error is not None and not isinstance(error, feedparser.NonXMLContentType):
        return f"not a feed: no RSS, Atom or JSON Feed markup ({_describe(error)})"
    return "not a feed: no RSS, Atom or JSON Feed markup"


def _warning(
    error: BaseException | None, data: bytes, charset: str | None, used: object
) -> str | None:
    if error is None or isinstance(error, feedparser.NonXMLContentType):
        return None
    if isinstance(error, feedparser.CharacterEncodingOverride):
        declared = _ENCODING_DECLARATION.match(data[:200])
        if charset:
            claim = f"the server said {charset}"
        elif declared:
            claim = f"the document declares {declared.group(1).decode('ascii')}"
        else:
            claim = "the document declares no encoding, so UTF-8"
        return f"wrong character encoding: {claim}, but the text is not; read as {used}"
    if isinstance(error, feedparser.CharacterEncodingUnknown):
        return f"unknown character encoding: {_one_line(error)}"
    return f"ill-formed XML, read leniently: {_describe(error)}"


def _describe(error: BaseException) -> str:
    """One line about a parse error: "mismatched tag at line 6" rather than
    "<unknown>:6:2: mismatched tag"."""
    get_message = getattr(error, "getMessage", None)
    get_line = getattr(error, "getLineNumber", None)
    if callable(get_message) and callable(get_line):  # xml.sax.SAXParseException
        return f"{get_message()} at line {get_line()}"
    return _one_line(error)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400,
               "yearly": 365 * 86400}  # fmt: skip


def _ttl(feed: Mapping[str, Any]) -> int | None:
    minutes = _positive_int(_get(feed, "ttl"))
    if minutes is not None:
        return minutes * 60
    period = _get(feed, "sy_updateperiod")
    if isinstance(period, str) and period.strip().lower() in _SY_PERIODS:
        frequency = _positive_int(_get(feed, "sy_updatefrequency")) or 1
        return max(1, _SY_PERIODS[period.strip().lower()] // frequency)
    return None


def _positive_int(value: object) -> int | None:
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            number = int(value)
            return number if number > 0 else None
    return None


def _xml_entry(
    entry: Any,
    *,
    media: _ItemMedia | None,
    feed_url: str,
    schemes: frozenset[str],
    language: str | None,
    feed_authors: tuple[str, ...],
) -> ArticleDraft:
    title_detail = _get(entry, "title_detail")
    summary_detail = _get(entry, "summary_detail")
    xml_base = _detail_base(title_detail) or _detail_base(summary_detail)
    base = urljoin(feed_url, xml_base) if xml_base else feed_url
    media_descriptions = media.descriptions if media is not None else frozenset()

    guid = _clean_str(_get(entry, "id"))
    url = _absolute(_entry_link(entry), base, schemes)
    if url is None and guid is not None and guid.startswith(("http://", "https://")):
        url = guid  # Atom ids and RSS guids are often the article's address

    content_html = None
    content_is_html = False
    content_base = base
    content_values = set()
    for item in _get(entry, "content") or ():
        value = _get(item, "value")
        if not isinstance(value, str) or not value.strip():
            continue
        content_values.add(value)
        if squash(value) in media_descriptions:
            continue  # feedparser files a second description (media:description) as content
        if content_html is None or len(value) > len(content_html):
            content_html = value
            content_is_html = _get(item, "type") in _HTML_TYPES
            item_base = _detail_base(item)
            content_base = urljoin(feed_url, item_base) if item_base else base
    body = None
    if content_html is not None:
        if content_is_html:
            body = html_to_text(content_html) or None
            content_html = _absolutize_html(content_html, content_base)
        else:
            body = text_paragraphs(content_html) or None
            content_html = None

    summary_value = _get(entry, "summary")
    summary = None
    if (
        isinstance(summary_value, str)
        and summary_value not in content_values  # feedparser copies content into summary
        and squash(summary_value) not in media_descriptions
    ):
        summary = _text_of_detail(summary_value, summary_detail, paragraphs=True)

    published = _entry_date(entry, "published")
    updated = _entry_date(entry, "updated")
    if published is None:
        published = updated or _struct_time_datetime(_get(entry, "created_parsed"))

    return ArticleDraft(
        url=url,
        canonical_url=canonicalize_url(url) if url else None,
        guid=guid,
        title=_text_of_detail(_get(entry, "title"), title_detail),
        authors=_authors(_get(entry, "authors"), _get(entry, "author")) or feed_authors,
        published=published,
        updated=updated,
        summary=summary,
        body=body,
        content_html=content_html,
        language=_detail_language(entry, "title_detail") or language,
        images=_images(entry, media, base, schemes),
        tags=_tags(_get(entry, "tags")),
    )


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _entry_link(entry: Any) -> object:
    """feedparser's ``link`` if it came from a link element, else the first alternate link.

    feedparser also copies a permalink guid into ``link``; that is only trusted (later) when
    it is an absolute URL, so a guid like "12345" never becomes https://feed-host/12345.
    """
    link = _get(entry, "link")
    alternates = [
        _get(item, "href")
        for item in _get(entry, "links") or ()
        if _get(item, "rel") == "alternate"
    ]
    if link in alternates:
        return link
    return alternates[0] if alternates else None


def _detail_base(detail: object) -> str | None:
    if isinstance(detail, dict):
        base = _get(detail, "base")
        if isinstance(base, str) and base:
            return base
    return None


def _detail_language(owner: Any, key: str) -> str | None:
    detail = _get(owner, key)
    return _language(_get(detail, "language")) if isinstance(detail, dict) else None


def _text_of_detail(value: object, detail: object, *, paragraphs: bool = False) -> str | None:
    """Clean plain text of a feedparser text construct (title, summary), whatever its type."""
    if not isinstance(value, str):
        return None
    kind = _get(detail, "type") if isinstance(detail, dict) else None
    if kind is not None and _get(detail, "value") != value:
        kind = None  # feedparser overwrote the detail (a media:description); sniff instead
    if kind in _HTML_TYPES or (kind is None and _looks_like_html(value)):
        text = html_to_text(value)
    else:
        text = text_paragraphs(value) if paragraphs else value
    return clean_text(text, paragraphs=paragraphs) or None


def _entry_date(entry: Any, key: str) -> datetime | None:
    """feedparser's parsed date, else the project's reading of the raw string (feedparser
    knows no month names but English ones: "mer, 16 nov 2022 00:38:15 +0100")."""
    parsed = _struct_time_datetime(_get(entry, f"{key}_parsed"))
    if parsed is None:
        raw = _get(entry, key)
        if isinstance(raw, str):
            parsed = parse_date(raw)
    return parsed


def _struct_time_datetime(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _authors(value: object, raw: object = None) -> tuple[str, ...]:
    """Author names from feedparser's ``authors``.

    For RSS ``<author>email (Name)</author>`` feedparser's e-mail pattern stops at four-letter
    top-level domains and garbles the name, so that form is re-read from the raw string.
    """
    if not isinstance(value, list):
        return ()
    names = []
    for author in value:
        if isinstance(author, dict):
            name = _get(author, "name")
            if _get(author, "email") and isinstance(raw, str):
                match = _EMAIL_THEN_NAME.match(raw) or _NAME_THEN_EMAIL.match(raw)
                if match:
                    name = match.group(1)
            if isinstance(name, str):
                names.append(name)
    return _dedupe(_author_name(n) for n in names)


_EMAIL_THEN_NAME = re.compile(r"^\s*[^\s@()<>]+@[^\s()<>]+\s*\((.+)\)\s*$")
_NAME_THEN_EMAIL = re.compile(r"^\s*([^<>]+?)\s*<[^\s@<>]+@[^\s<>]+>\s*$")


_BY_PREFIX = re.compile(r"^by\s+", re.IGNORECASE)


def _author_name(name: str) -> str:
    return _BY_PREFIX.sub("", clean_text(name))


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    terms = []
    for tag in value:
        if isinstance(tag, dict):
            term = _get(tag, "term") or _get(tag, "label")
            if isinstance(term, str):
                terms.append(clean_text(term))
    return _dedupe(terms)


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty values in order, without repeats (compared case-insensitively)."""
    seen: set[str] = set()
    out = []
    for value in values:
        key = value.casefold()
        if value and key not in seen:
            seen.add(key)
            out.append(value)
    return tuple(out)


# --- images ------------------------------------------------------------------------------

_MRSS_MARKER = b"search.yahoo.com/mrss"
_MRSS_NAMESPACES = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
_MEDIA_CONTENT = frozenset(f"{{{ns}}}content" for ns in _MRSS_NAMESPACES)
_MEDIA_THUMBNAIL = frozenset(f"{{{ns}}}thumbnail" for ns in _MRSS_NAMESPACES)
_MEDIA_GROUP = frozenset(f"{{{ns}}}group" for ns in _MRSS_NAMESPACES)
_MEDIA_DESCRIPTION = frozenset(f"{{{ns}}}description" for ns in _MRSS_NAMESPACES)
_MEDIA_CREDIT = frozenset(f"{{{ns}}}credit" for ns in _MRSS_NAMESPACES)
# The elements feedparser turns into entries: item/entry in no namespace or a feed namespace.
_ITEM_TAGS = frozenset(
    {"item", "entry"}
    | {
        f"{{{ns}}}{name}"
        for ns in (
            "http://purl.org/rss/1.0/",
            "http://my.netscape.com/rdf/simple/0.9/",
            "http://backend.userland.com/rss2",
            "http://blogs.law.harvard.edu/tech/rss",
            "http://www.w3.org/2005/Atom",
            "http://purl.org/atom/ns#",
        )
        for name in ("item", "entry")
    }
)
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".svg")


@dataclass(frozen=True, slots=True)
class _MediaImage:
    url: str
    width: int | None
    caption: str | None
    credit: str | None


@dataclass(frozen=True, slots=True)
class _ItemMedia:
    images: tuple[_MediaImage, ...]
    #: Every media:description in the item, whitespace-squashed, to undo feedparser's habit of
    #: filing them as the entry's summary or content.
    descriptions: frozenset[str]


def _read_media(data: bytes, encoding: str) -> list[_ItemMedia] | None:
    """Media RSS per item, in document order, or None if the document is not well-formed.

    feedparser flattens media:description into the entry's summary and loses which
    media:credit belongs to which picture, so captions and credits come from this second,
    C-speed pass. It runs only on documents that mention the Media RSS namespace, after the
    entity check, so the stdlib parser is safe here.
    """
    try:
        text = data.decode(encoding, "replace")
    except LookupError:
        return None
    text = text.lstrip("\ufeff")
    parser: XMLPullParser[Element] = XMLPullParser(events=("end",))
    items: list[_ItemMedia] = []
    chunk = 1 << 20
    try:
        for start in range(0, len(text), chunk):
            parser.feed(text[start : start + chunk])
            _collect_items(parser, items)
        parser.close()
        _collect_items(parser, items)
    except ParseError:
        return None
    return items


def _collect_items(parser: XMLPullParser[Element], items: list[_ItemMedia]) -> None:
    for event in parser.read_events():
        element = event[-1] if isinstance(event, tuple) else None
        if isinstance(element, Element) and element.tag in _ITEM_TAGS:
            items.append(_item_media(element))
            element.clear()  # keep memory flat on big feeds


def _item_media(item: Element) -> _ItemMedia:
    found: list[_MediaImage] = []
    _collect_media(item, None, None, found)
    descriptions = frozenset(
        squash(element.text or "")
        for element in item.iter()
        if element.tag in _MEDIA_DESCRIPTION and element.text
    )
    return _ItemMedia(images=tuple(found), descriptions=descriptions)


def _collect_media(
    container: Element, caption: str | None, credit: str | None, found: list[_MediaImage]
) -> None:
    caption = _media_text(container, _MEDIA_DESCRIPTION) or caption
    credit = _media_text(container, _MEDIA_CREDIT) or credit
    for child in container:
        tag = child.tag
        if tag in _MEDIA_CONTENT:
            own_caption = _media_text(child, _MEDIA_DESCRIPTION) or caption
            own_credit = _media_text(child, _MEDIA_CREDIT) or credit
            url = child.get("url")
            if url and _is_image(child.get("medium"), child.get("type"), url):
                found.append(_MediaImage(url, _int(child.get("width")), own_caption, own_credit))
            for thumbnail in child:
                if thumbnail.tag in _MEDIA_THUMBNAIL and thumbnail.get("url"):
                    found.append(
                        _MediaImage(
                            thumbnail.get("url") or "",
                            _int(thumbnail.get("width")),
                            own_caption,
                            own_credit,
                        )
                    )
        elif tag in _MEDIA_THUMBNAIL:
            url = child.get("url")
            if url:
                found.append(_MediaImage(url, _int(child.get("width")), caption, credit))
        elif tag in _MEDIA_GROUP:
            _collect_media(child, caption, credit, found)


def _media_text(container: Element, tags: frozenset[str]) -> str | None:
    for child in container:
        if child.tag in tags and child.text:
            text = html_to_text(child.text) if child.get("type") == "html" else child.text
            return clean_text(text) or None
    return None


def _is_image(medium: str | None, mime: str | None, url: str) -> bool:
    if medium:
        return medium.strip().lower() == "image"
    if mime:
        return mime.strip().lower().startswith("image/")
    return urlsplit(url).path.lower().endswith(_IMAGE_EXTENSIONS)


def _int(value: object) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _images(
    entry: Any, media: _ItemMedia | None, base: str, schemes: frozenset[str]
) -> tuple[Image, ...]:
    candidates: list[_MediaImage] = []
    if media is not None:
        candidates.extend(media.images)
    else:
        # No second pass: feedparser's flattened view. Credits pair with media:content by
        # position when the counts agree; captions cannot be recovered.
        contents = [c for c in _get(entry, "media_content") or () if isinstance(c, dict)]
        credits = [
            clean_text(c.get("content")) or None
            for c in _get(entry, "media_credit") or ()
            if isinstance(c, dict)
        ]
        shared_credit = credits[0] if len(credits) == 1 else None
        for i, item in enumerate(contents):
            url = _get(item, "url")
            if isinstance(url, str) and _is_image(_get(item, "medium"), _get(item, "type"), url):
                credit = credits[i] if len(credits) == len(contents) else shared_credit
                candidates.append(_MediaImage(url, _int(_get(item, "width")), None, credit))
        for item in _get(entry, "media_thumbnail") or ():
            url = _get(item, "url") if isinstance(item, dict) else None
            if isinstance(url, str):
                candidates.append(_MediaImage(url, _int(_get(item, "width")), None, shared_credit))
    for link in _get(entry, "links") or ():
        if isinstance(link, dict) and _get(link, "rel") == "enclosure":
            href = _get(link, "href")
            kind = _get(link, "type")
            if isinstance(href, str) and href and _is_image(None, kind if kind else None, href):
                candidates.append(_MediaImage(href, None, None, None))
    return _pick_images(candidates, base, schemes)


def _pick_images(
    candidates: Sequence[_MediaImage], base: str, schemes: frozenset[str]
) -> tuple[Image, ...]:
    """Absolute, deduplicated images in order.

    Publishers list one picture in several sizes that differ only in the query
    (``…/3000.jpg?w=140``, ``…?w=460``); those count as one image and the widest wins.
    """
    if not candidates:
        return ()
    chosen: dict[tuple[str, str], tuple[_MediaImage, str]] = {}
    for candidate in candidates:
        url = _absolute(candidate.url, base, schemes)
        if url is None:
            continue
        parts = urlsplit(url)
        key = (parts.netloc.lower(), parts.path)
        previous = chosen.get(key)
        if previous is None:
            chosen[key] = (candidate, url)
        elif (candidate.width or 0) > (previous[0].width or 0):
            kept = previous[0]
            chosen[key] = (
                _MediaImage(url, candidate.width, candidate.caption or kept.caption,
                            candidate.credit or kept.credit),
                url,
            )  # fmt: skip
    return tuple(Image(url=url, caption=c.caption, credit=c.credit) for c, url in chosen.values())


# --- JSON Feed ---------------------------------------------------------------------------


def _parse_json_feed(data: bytes, *, url: str) -> ParsedFeed:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise FeedParseError(f"not a feed: invalid JSON ({_one_line(e)})", resource=url) from e
    version = document.get("version") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or not isinstance(version, str)
        or ("jsonfeed.org/version/" not in version)
    ):
        raise FeedParseError(
            "not a feed: JSON, but not a JSON Feed (no jsonfeed.org version)", resource=url
        )
    number = version.rstrip("/").rpartition("/")[2]
    number = {"1": "10"}.get(number, number.replace(".", ""))
    schemes = _allowed_schemes(url)
    language = _language(document.get("language"))
    feed_authors = _json_authors(document)
    items = document.get("items")
    warning = None
    if not isinstance(items, list):
        items, warning = [], "JSON Feed without an items list"
    articles = []
    skipped = 0
    for item in items:
        if isinstance(item, dict):
            articles.append(_json_item(item, url, schemes, language, feed_authors))
        else:
            skipped += 1
    if skipped:
        warning = f"{skipped} JSON Feed item(s) were not objects and were skipped"
    return ParsedFeed(
        title=_json_text(document.get("title")),
        site=_absolute(document.get("home_page_url"), url, schemes),
        language=language,
        ttl=None,
        format=f"json{number}" if number.isdigit() else "json",
        articles=_keep_distinguishing_fragments(articles),
        warning=warning,
    )


def _json_item(
    item: Mapping[str, Any],
    feed_url: str,
    schemes: frozenset[str],
    language: str | None,
    feed_authors: tuple[str, ...],
) -> ArticleDraft:
    raw_id = item.get("id")
    guid = _clean_str(str(raw_id)) if isinstance(raw_id, str | int) and raw_id != "" else None
    url = _absolute(item.get("url"), feed_url, schemes) or _absolute(
        item.get("external_url"), feed_url, schemes
    )
    if url is None and guid is not None and guid.startswith(("http://", "https://")):
        url = guid
    content_html = _clean_str(item.get("content_html"))
    content_text = _clean_str(item.get("content_text"))
    body = None
    if content_html is not None:
        body = html_to_text(content_html) or None
        content_html = _absolutize_html(content_html, feed_url)
    elif content_text is not None:
        body = text_paragraphs(content_text) or None
    published = _json_date(item.get("date_published"))
    updated = _json_date(item.get("date_modified"))
    images = [
        _MediaImage(value, None, None, None)
        for value in (item.get("image"), item.get("banner_image"))
        if isinstance(value, str)
    ]
    for attachment in item.get("attachments") or ():
        if isinstance(attachment, dict) and isinstance(attachment.get("url"), str):
            mime = attachment.get("mime_type")
            if _is_image(None, mime if isinstance(mime, str) else None, attachment["url"]):
                title = attachment.get("title")
                caption = (clean_text(title) or None) if isinstance(title, str) else None
                images.append(_MediaImage(attachment["url"], None, caption, None))
    tags = item.get("tags")
    tag_names = (
        (clean_text(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
    )
    return ArticleDraft(
        url=url,
        canonical_url=canonicalize_url(url) if url else None,
        guid=guid,
        title=_json_text(item.get("title")),
        authors=_json_authors(item) or feed_authors,
        published=published or updated,
        updated=updated,
        summary=_json_text(item.get("summary"), paragraphs=True),
        body=body,
        content_html=content_html,
        language=_language(item.get("language")) or language,
        images=_pick_images(images, feed_url, schemes),
        tags=_dedupe(tag_names),
    )


def _json_text(value: object, *, paragraphs: bool = False) -> str | None:
    """JSON Feed text fields are plain text, though publishers leave entities in them."""
    if not isinstance(value, str):
        return None
    text = text_paragraphs(value) if paragraphs else value
    return clean_text(text, paragraphs=paragraphs) or None


def _json_authors(owner: Mapping[str, Any]) -> tuple[str, ...]:
    authors = owner.get("authors")  # JSON Feed 1.1
    if not isinstance(authors, list):
        single = owner.get("author")  # JSON Feed 1.0
        authors = [single] if isinstance(single, dict) else []
    names = (a.get("name") for a in authors if isinstance(a, dict))
    return _dedupe(_author_name(n) for n in names if isinstance(n, str))


def _json_date(value: object) -> datetime | None:
    """RFC 3339 as the spec says, or the RFC 822 dates some publishers write instead."""
    return parse_date(value) if isinstance(value, str) else None


# --- URLs --------------------------------------------------------------------------------

# Query parameters that only say how a reader arrived: analytics campaign tags (utm_*),
# AT Internet/Piano (at_*, used by the BBC), comScore (ns_*), and click ids of ad networks.
_TRACKING_PREFIXES = ("utm_", "at_", "ns_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
        "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "wickedid", "_openstat",
        "cmp", "smid", "smtyp", "ocid",
    }
)  # fmt: skip
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def canonicalize_url(url: str) -> str:
    """The normalised form of a link, for recognising one article behind several links.

    Lower-cases the scheme and host, drops the default port, the fragment and tracking
    parameters (``utm_*``, ``fbclid``, ``gclid``…), and gives an empty path a ``/``. Other
    parameters keep their order and spelling.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port and netloc.endswith(default_port):
        netloc = netloc[: -len(default_port)]
    query = parts.query
    if query:
        kept = [p for p in query.split("&") if p and not _is_tracking(p.partition("=")[0])]
        query = "&".join(kept)
    path = parts.path or ("/" if netloc else "")
    return urlunsplit((scheme, netloc, path, query, ""))


def _keep_distinguishing_fragments(articles: Sequence[ArticleDraft]) -> tuple[ArticleDraft, ...]:
    """Put the fragment back into canonical URLs where it is what tells entries apart.

    A fragment is usually noise (``#comments``), but some sites publish several entries on
    one page (``…/2002/09/29#When:12:59:01PM``); dropping it there would merge them.
    """
    if not any(a.url and "#" in a.url for a in articles):
        return tuple(articles)
    fragments: dict[str, set[str]] = {}
    for article in articles:
        if article.canonical_url and article.url:
            fragments.setdefault(article.canonical_url, set()).add(urlsplit(article.url).fragment)
    out = []
    for article in articles:
        canonical, url = article.canonical_url, article.url
        if canonical and url and len(fragments[canonical]) > 1:
            fragment = urlsplit(url).fragment
            if fragment:
                article = replace(article, canonical_url=f"{canonical}#{fragment}")
        out.append(article)
    return tuple(out)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _allowed_schemes(feed_url: str) -> frozenset[str]:
    """Links may be http(s), or share the feed's own scheme (``file:`` for local feeds)."""
    scheme = feed_url.partition(":")[0].lower() if _SCHEME.match(feed_url) else ""
    return frozenset({"http", "https", scheme} - {""})


def _absolute(value: object, base: str, schemes: frozenset[str]) -> str | None:
    """``value`` resolved against ``base``; None unless it ends up with an allowed scheme."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        try:
            value = urljoin(base, value)
        except ValueError:
            return None
    scheme = value.partition(":")[0].lower()
    if scheme not in schemes or len(value) <= len(scheme) + 3:
        return None
    return value


# Tags carrying a URL attribute. [^<>] keeps the scan linear on broken markup.
_URL_TAG = re.compile(r"<[A-Za-z][^<>]*?\s(?:href|src|poster|cite|srcset)\s*=[^<>]*>", re.I)
_URL_ATTRIBUTE = re.compile(
    r"""(\s(href|src|poster|cite|srcset)\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'<>`]+))""", re.I
)


def _absolutize_html(markup: str, base: str) -> str:
    """Make relative ``href``/``src``/``srcset``… values in ``markup`` absolute against ``base``.

    feedparser can do this, but its SGML pass costs a quarter of the whole parse; a regex over
    the tags that carry URLs does the same for the attributes that matter.
    """
    if not base or "=" not in markup:
        return markup

    def fix_attribute(match: re.Match[str]) -> str:
        double, single, bare = match.group(3), match.group(4), match.group(5)
        value = double if double is not None else single if single is not None else bare
        if match.group(2).lower() == "srcset":
            new = ", ".join(_resolve_srcset_item(c, base) for c in value.split(","))
        else:
            new = _resolve(value, base)
        if new == value:
            return match.group(0)
        quote = "'" if single is not None else '"'
        return f"{match.group(1)}{quote}{new}{quote}"

    def fix_tag(match: re.Match[str]) -> str:
        return _URL_ATTRIBUTE.sub(fix_attribute, match.group(0))

    return _URL_TAG.sub(fix_tag, markup)


def _resolve(value: str, base: str) -> str:
    stripped = value.strip()
    if not stripped or stripped.startswith("#") or _SCHEME.match(stripped):
        return value
    if "&" in stripped:
        stripped = html.unescape(stripped)
    if stripped.startswith("/") and not stripped.startswith("//"):
        resolved = _origin(base) + stripped  # the common case, without urljoin's cost
    else:
        try:
            resolved = urljoin(base, stripped)
        except ValueError:
            return value
    return resolved.replace("&", "&amp;")


@functools.lru_cache(maxsize=64)
def _origin(base: str) -> str:
    """``https://host:port`` of a URL (root-relative paths hang off it)."""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else parts.scheme + ":"


def _resolve_srcset_item(candidate: str, base: str) -> str:
    url, _, descriptor = candidate.strip().partition(" ")
    resolved = _resolve(url, base)
    return f"{resolved} {descriptor.strip()}" if descriptor.strip() else resolved


# --- text --------------------------------------------------------------------------------


def _clean_str(value: object) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


_HTML_MARKUP = re.compile(r"<(?:[A-Za-z][A-Za-z0-9]*[\s/>]|/[A-Za-z]|!--)")


def _looks_like_html(text: str) -> bool:
    return "<" in text and _HTML_MARKUP.search(text) is not None


# --- language ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _normalize_language(value: str) -> str | None:
    subtags = [s for s in re.split(r"[-_]", value.strip()) if s]
    if not subtags or not subtags[0].isalpha() or not 2 <= len(subtags[0]) <= 8:
        return None
    out = [subtags[0].lower()]
    for subtag in subtags[1:]:
        if not subtag.isalnum():
            return out[0] if len(out) == 1 else "-".join(out)
        if len(subtag) == 2 and subtag.isalpha():
            out.append(subtag.upper())  # region
        elif len(subtag) == 4 and subtag.isalpha():
            out.append(subtag.title())  # script
        else:
            out.append(subtag.lower())
    return "-".join(out)


def _language(value: object) -> str | None:
    return _normalize_language(value) if isinstance(value, str) and value.strip() else None
