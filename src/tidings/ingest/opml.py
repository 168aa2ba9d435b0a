"""OPML subscription lists: read them into outline entries, write sources out as one.

Folders (outlines without a feed URL that hold others) become tags, outer to inner; the
OPML 2.0 ``category`` attribute adds more. Writing groups sources into folders by their first
tag and keeps the other tags in ``category``, so ``parse_opml(write_opml(sources))`` gives
back each source's URL, title, site and tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element, ParseError, SubElement, indent, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from tidings.errors import OPMLError
from tidings.types import OutlineEntry, Source, SourceKind

__all__ = ["parse_opml", "write_opml"]


def parse_opml(content: bytes) -> list[OutlineEntry]:
    """The feeds listed in an OPML document, in document order.

    Outlines without ``xmlUrl`` are folders: their title becomes a tag of every feed inside
    (outer folders first). A URL listed twice appears once, with the tags of every listing.
    Raises OPMLError when the document is not well-formed OPML or declares XML entities.
    """
    if not content.strip():
        raise OPMLError("not OPML: the document is empty")
    try:
        root = fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise OPMLError(
            "refused: the OPML document declares XML entities (entity-expansion attack?)"
        ) from e
    except ParseError as e:
        raise OPMLError(f"not OPML: the XML is not well-formed ({e})") from e
    if _local_name(root.tag) != "opml":
        raise OPMLError(f"not OPML: the root element is <{_local_name(root.tag)}>")
    body = next((child for child in root if _local_name(child.tag) == "body"), None)
    if body is None:
        raise OPMLError("not OPML: there is no <body>")

    found: dict[str, OutlineEntry] = {}
    # An explicit stack rather than recursion: nesting depth is the document's to choose.
    stack: list[tuple[Element, tuple[str, ...]]] = [
        (child, ()) for child in reversed(body) if _local_name(child.tag) == "outline"
    ]
    while stack:
        outline, folders = stack.pop()
        attributes = {name.lower(): value for name, value in outline.attrib.items()}
        label = _clean(attributes.get("title")) or _clean(attributes.get("text"))
        url = _clean(attributes.get("xmlurl"))
        if url is not None:
            tags = _dedupe((*folders, *_categories(attributes.get("category"))))
            previous = found.get(url)
            if previous is None:
                found[url] = OutlineEntry(
                    url=url, title=label, site=_clean(attributes.get("htmlurl")), tags=tags
                )
            else:
                found[url] = OutlineEntry(
                    url=url,
                    title=previous.title or label,
                    site=previous.site or _clean(attributes.get("htmlurl")),
                    tags=_dedupe((*previous.tags, *tags)),
                )
        inner = folders
        if label is not None and url is None and label.casefold() not in map(str.casefold, folders):
            inner = (*folders, label)
        stack.extend(
            (child, inner) for child in reversed(outline) if _local_name(child.tag) == "outline"
        )
    return list(found.values())


def write_opml(sources: Sequence[Source], *, title: str = "Tidings subscriptions") -> str:
    """An OPML 2.0 document listing ``sources``, grouped into folders by their first tag.

    Manual sources (no feed to poll) are left out. Tags after the first go into the
    ``category`` attribute, comma-separated, so a tag containing a comma does not survive a
    round trip.
    """
    root = Element("opml", version="2.0")
    head = SubElement(root, "head")
    SubElement(head, "title").text = title
    body = SubElement(root, "body")
    folders: dict[str, Element] = {}
    for source in sources:
        if source.kind is SourceKind.MANUAL:
            continue
        parent = body
        if source.tags:
            folder = source.tags[0]
            parent = folders.get(folder) or SubElement(body, "outline", text=folder, title=folder)
            folders[folder] = parent
        name = source.title or source.url
        attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": source.url}
        if source.site:
            attributes["htmlUrl"] = source.site
        if len(source.tags) > 1:
            attributes["category"] = ",".join(source.tags[1:])
        SubElement(parent, "outline", attributes)
    indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"


def _local_name(tag: object) -> str:
    return str(tag).rpartition("}")[2].lower()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _categories(value: str | None) -> tuple[str, ...]:
    """OPML 2.0 ``category``: comma-separated; "/Boston/Weather" paths lose the outer slashes."""
    if not value:
        return ()
    return tuple(t for t in (_clean(part.strip().strip("/")) for part in value.split(",")) if t)


def _dedupe(tags: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for tag in tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return tuple(out)
