"""The body of an article page: its text paragraphs, key points, images and related links.

trafilatura finds the main text. Around it Tidings adds rules about page structure that
trafilatura gets wrong often enough to matter on real news pages. Before extraction, on the
page tree:

* figures are read (image, caption, credit) and their captions taken out;
* "key points" lists are read and taken out;
* social posts quoted in the story are lifted out of the "widget" wrappers trafilatura
  discards;
* furniture trafilatura's own lists miss is removed (sign-up boxes, hover cards, "read
  more" and "related" boxes, whose links are kept as related links);
* groups of teaser ``<article>`` cards are removed;
* a body split into sibling containers of the same kind is joined back together;
* lists made only of links, and "Read more: <linked headline>" lines, become related links.

After extraction the headline repeated at the top of the text is dropped.

Nothing here knows any site: every rule is about the shape of the markup, and every
constant says how it was chosen. The effect of each is measured with ``evaluate_html``
(:mod:`tidings.eval.html_body`) against plain trafilatura.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import urljoin

from tidings.errors import ExtractionError
from tidings.types import Image, Link


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    """What an article page holds besides its metadata."""

    #: Body text paragraphs in reading order, as plain text: no captions, related links,
    #: summary points or page furniture. List items keep trafilatura's "- " bullet.
    paragraphs: tuple[str, ...]
    #: "Key points" bullets shown above the body, when the page marks them as such.
    summary_points: tuple[str, ...] = ()
    #: Images of the article with their caption and credit.
    images: tuple[Image, ...] = ()
    #: Links to related articles found in or around the article (kept out of the body).
    related: tuple[Link, ...] = ()


def extract_body(tree: Any, *, url: str | None = None) -> Body:
    """Read the body of the page ``tree`` (from :func:`~tidings.extract.page.parse_html`).

    ``url`` is the page's address, against which image and link addresses are resolved.
    The tree is changed in place. Returns a Body without paragraphs when the page has no
    article text; raises ExtractionError when the markup cannot be processed.
    """
    try:
        headlines = _headlines(tree)
        images = _take_figures(tree, url)
        marked = _marked_elements(tree)
        summary_points = _take_summary_points(tree, marked.summary)
        _unwrap_quoted_posts(tree)
        related = _prune_furniture(tree, marked.furniture, url)
        _prune_teaser_cards(tree)
        _join_split_body(tree, marked.body)
        related += _take_link_lists(tree, url)
        related += _take_labelled_links(tree, url)
        text = _main_text(tree, url)
    except (RecursionError, ValueError, TypeError) as e:
        # lxml and trafilatura raise these on pathological markup
        raise ExtractionError(f"the page's markup could not be read: {e}", resource=url) from e
    paragraphs = [p for p in (_clean(line) for line in text.split("\n")) if p]
    return Body(
        paragraphs=tuple(_drop_repeated_headline(paragraphs, headlines)),
        summary_points=tuple(summary_points),
        images=tuple(images),
        related=tuple(_unique(related)),
    )


# --- the main text -----------------------------------------------------------------------

#: Below this many characters trafilatura's fast pass may have missed the article, and the
#: full cascade (readability and jusText as second opinions) runs. On the dev split, with
#: trafilatura alone, the cascade changed the text of no page where the fast pass found
#: 1,000 characters or more (it changed four shorter ones), so above that it only costs
#: time: it doubles the work per page.
FULL_CASCADE_BELOW = 1000


def _main_text(tree: Any, url: str | None) -> str:
    """trafilatura's main text, one paragraph a line: fast pass first, cascade if short.

    Precision mode without comments measured best of trafilatura's settings on the dev
    split (body F1 0.962, against 0.943 for the defaults and 0.955 for recall mode).
    """
    from trafilatura import bare_extraction

    text = ""
    for fast in (True, False):
        document = bare_extraction(
            tree, url=url, fast=fast, include_comments=False, favor_precision=True
        )
        text = getattr(document, "text", None) or ""
        if len(text) >= FULL_CASCADE_BELOW:
            break
    return text


# --- the headline --------------------------------------------------------------------------

#: How many paragraphs at the top of the text may repeat the headline (after a kicker or a
#: standfirst line); further down the same words are the article's own.
HEADLINE_ZONE = 3

_HEADLINE_TEXTS = (
    "//h1 | //meta[@property='og:title' or @name='twitter:title']/@content | //head/title/text()"
)

#: "Headline | Site" and "Headline - Site": separators between a headline and the site name.
_TITLE_SEPARATOR = re.compile(r"\s+[|\u2013\u2014-]\s+")


def _headlines(tree: Any) -> set[str]:
    """Texts that are the page's headline: its ``h1``s, ``og:title`` and ``<title>`` parts."""
    found: set[str] = set()
    for value in tree.xpath(_HEADLINE_TEXTS):
        text = value.text_content() if hasattr(value, "text_content") else str(value)
        found.add(_key(text))
        found.update(_key(part) for part in _TITLE_SEPARATOR.split(text))
    found.discard("")
    return found


def _drop_repeated_headline(paragraphs: list[str], headlines: set[str]) -> list[str]:
    """Drop the headline where the text repeats it at the top."""
    return [p for n, p in enumerate(paragraphs) if n >= HEADLINE_ZONE or _key(p) not in headlines]


# --- figures -------------------------------------------------------------------------------

_FIGURES = "//body//figure"

#: A credit labelled at the end of a caption: "Photo: AP", "(Photo by Jane Doe/Getty
#: Images)", "Image credit: Reuters", "© Jane Doe". The label words are the common ones.
_LABELLED_CREDIT = re.compile(
    r"(?:^|[\s(\[|\u2013\u2014-])\s*"
    r"(?:(?:photo(?:graph)?|image|picture|pic|foto)s?\s*(?:credit)?\s*(?::|\bby\b)"
    r"|credits?\s*:|\u00a9|\(c\)|copyright\b)"
    r"\s*(?P<credit>[^()\[\]\n]+?)[\s)\]]*$",
    re.IGNORECASE,
)

#: A source in brackets closing the caption, as agencies sign: "(Reuters)", "[AFP/Getty]".
_BRACKETED_CREDIT = re.compile(r"\s*[(\[](?P<credit>[A-Z][^()\[\]\n]{1,40})[)\]]\s*$")

#: Class words (and microdata) that mark the credit inside a caption.
_CREDIT_MARK = re.compile(
    r"credit|copyright|source|byline|attribution|creator|author", re.IGNORECASE
)

#: The label in front of a marked credit: "Credit...", "(Image credit: ", "Photo by ".
_CREDIT_LABEL = re.compile(
    r"^[\s(\[]*(?:(?:photo(?:graph)?|image|picture|pic|foto)s?\s*)?(?:credits?\s*)?"
    r"(?:[:.\u2026]+|\bby\b)?\s*",
    re.IGNORECASE,
)


def _take_figures(tree: Any, url: str | None) -> list[Image]:
    """Read each ``<figure>``'s image, caption and credit; take the captions out of the page."""
    images: list[Image] = []
    for figure in tree.xpath(_FIGURES):
        image_url = None
        for img in figure.iter("img", "source"):
            # lazy loaders keep the real address in data-src and a placeholder in src
            src = (
                img.get("data-src")
                or img.get("data-lazy-src")
                or img.get("src")
                or (img.get("srcset") or "").strip().split(" ")[0]
            )
            if src and not src.startswith("data:"):
                image_url = _absolute(src, url)
                break
        caption, credit = None, None
        captions = list(figure.iter("figcaption"))
        if captions:
            caption, credit = _split_credit(captions[0])
        if image_url:
            images.append(Image(url=image_url, caption=caption, credit=credit))
        for element in captions:
            _remove(element)
    return images


def _split_credit(caption: Any) -> tuple[str | None, str | None]:
    """The caption's text and its credit, from a marked credit element or the wording."""
    credit = None
    for element in caption.iter():
        marks = f"{element.get('class', '')} {element.get('itemprop', '')}"
        if element is not caption and _CREDIT_MARK.search(marks):
            credit = _CREDIT_LABEL.sub("", _clean(_text_of(element))).rstrip(")] ") or None
            _remove(element)
            break
    text = _clean(_text_of(caption))
    if credit is None and (
        match := _LABELLED_CREDIT.search(text) or _BRACKETED_CREDIT.search(text)
    ):
        credit = match.group("credit").strip() or None
        text = text[: match.start()].strip()
    return text or None, credit


# --- one pass over class and id names ------------------------------------------------------

#: Tags never taken for furniture or key points whatever their class: the page's frame.
_FRAME_TAGS = frozenset({"html", "body", "article", "main"})

#: Class and id values under ``<body>``, as strings that know their element: matching the
#: strings first spares building a Python object for every element of the page.
_MARK_VALUES = "//body//@class | //body//@id | //body//*[@itemprop='articleBody']/@itemprop"


def _marks_pattern() -> re.Pattern[str]:
    groups = {"summary": _SUMMARY_WORDS, "furniture": _FURNITURE, "body": _BODY_CLASS}
    return re.compile("|".join(f"(?P<{k}>{p.pattern})" for k, p in groups.items()))


@dataclass(slots=True)
class _Marked:
    """Elements whose class or id names what they are, in document order."""

    summary: list[Any]
    furniture: list[Any]
    body: list[Any]


def _marked_elements(tree: Any) -> _Marked:
    """Sort the elements whose class or id marks them as key points, furniture or body.

    All names of the page are searched as one string, lowercased: one regular-expression
    scan instead of one per attribute, which kept this pass a small share of the work.
    """
    values = tree.xpath(_MARK_VALUES)
    starts = list(accumulate((len(v) + 1 for v in values), initial=0))
    marked = _Marked(summary=[], furniture=[], body=[])
    seen: dict[str, set[int]] = {"summary": set(), "furniture": set(), "body": set()}
    for match in _MARKS.finditer("\n".join(values).lower()):
        index = bisect_right(starts, match.start()) - 1
        value = values[index]
        kind = match.lastgroup or ""
        if kind == "body" and value.attrname == "id":
            continue  # body containers are recognised by class and microdata only
        if kind != "body" and value.attrname == "itemprop":
            continue
        element = value.getparent()
        if kind != "body" and element.tag in _FRAME_TAGS:
            continue
        # an element whose class and id both match is listed once
        key = id(element)
        if key in seen[kind]:
            continue
        seen[kind].add(key)
        getattr(marked, kind).append(element)
    return marked


# --- key points ----------------------------------------------------------------------------

#: Class and id words publishers give a "key points" box above the story.
_SUMMARY_WORDS = re.compile(
    r"key-?points|keypoints|takeaways|highlights|summary|tl-?dr|at-a-glance", re.IGNORECASE
)

#: A key-points box is a short list: at least two points (one is a standfirst), at most
#: this many (more is an index or a listicle), each at most SUMMARY_POINT_MAX_CHARS long
#: (two sentences; longer items are the article's own list).
SUMMARY_MAX_POINTS = 8
SUMMARY_POINT_MAX_CHARS = 300

_LIST_ITEMS = "./ul/li | ./ol/li | ./*/ul/li | ./*/ol/li"


def _take_summary_points(tree: Any, candidates: list[Any]) -> list[str]:
    """Read the first "key points" list of the page and take it out of the page."""
    for element in candidates:
        if _is_detached(element, tree):
            continue
        items = element.xpath(_LIST_ITEMS)
        points = [_clean(_text_of(item)) for item in items]
        if not 2 <= len(points) <= SUMMARY_MAX_POINTS or not all(points):
            continue
        if any(len(point) > SUMMARY_POINT_MAX_CHARS for point in points):
            continue
        if sum(_linked_chars(item) for item in items) > sum(map(len, points)) / 2:
            continue  # a list of links ("highlights" of other stories), not points
        _remove(element)
        return points
    return []


# --- quoted social posts -------------------------------------------------------------------

#: Social posts quoted in the article, in the markup the networks' embed codes produce.
_QUOTED_POSTS = (
    "//body//blockquote[contains(@class, 'twitter-tweet') or "
    "contains(@class, 'instagram-media') or contains(@class, 'tiktok-embed')]"
)


def _unwrap_quoted_posts(tree: Any) -> None:
    """Lift quoted social posts out of the wrappers around them.

    The post's words are part of the story, but pages wrap the embed in "widget" or "embed"
    containers that trafilatura discards as furniture; a wrapper holding nothing but the
    post is replaced by the post itself.
    """
    for post in tree.xpath(_QUOTED_POSTS):
        text = _clean(_text_of(post))
        if not text:
            continue
        wrapper = post
        while (parent := wrapper.getparent()) is not None and parent.tag in ("div", "span"):
            if _clean(_text_of(parent)) != text:
                break
            wrapper = parent
        holder = wrapper.getparent()
        if wrapper is not post and holder is not None:
            post.tail = wrapper.tail
            position = holder.index(wrapper)
            holder.remove(wrapper)
            holder.insert(position, post)


# --- furniture -----------------------------------------------------------------------------

#: Class and id words of page furniture that trafilatura's own lists miss, because they
#: match case-sensitively there or not at all: sign-up boxes, hover cards that repeat a
#: linked person's profile inside a sentence, inline teasers. Matched anywhere in the
#: attribute, in any case.
_FURNITURE = re.compile(
    r"newsletter|sign-?up|subscri(?:be|ption)|rollover|tooltip|popover|hover-?card|promo"
    r"|read-?more|related|recommend",
    re.IGNORECASE,
)

#: The furniture words whose links are related articles.
_RELATED = re.compile(r"read-?more|related|recommend", re.IGNORECASE)

#: Furniture never holds running text: a match with this many paragraphs of at least
#: PROSE_CHARS characters is the article in a wrapper with an unlucky name
#: ("entry-content-read-more", "subscriber-content") and stays. Sign-up boxes, teasers and
#: hover cards hold a sentence or a list of links.
FURNITURE_MAX_PROSE = 2

#: A paragraph this long is running text (about two sentences), not a label or a teaser.
PROSE_CHARS = 150


def _prune_furniture(tree: Any, candidates: list[Any], url: str | None) -> list[Link]:
    """Remove furniture from the page; return the links of "related" furniture."""
    related: list[Link] = []
    for element in candidates:
        if _is_detached(element, tree) or _has_prose(element):
            continue
        if _RELATED.search(f"{element.get('class', '')} {element.get('id', '')}"):
            related.extend(_headline_links(element, url))
        _remove(element)
    return related


def _has_prose(element: Any) -> bool:
    prose = 0
    for paragraph in element.iter("p"):
        if len(_text_of(paragraph)) >= PROSE_CHARS:
            prose += 1
            if prose >= FURNITURE_MAX_PROSE:
                return True
    return False


# --- teaser cards --------------------------------------------------------------------------

#: Sibling ``<article>`` elements, this many or more under one parent, are cards of other
#: posts (a "related" or "latest" grid): HTML gives each self-contained post its own
#: ``<article>``, and a page has one article of its own. Two may be a lede and its body.
TEASER_CARDS_MIN = 3

_ARTICLE_GROUPS = f"//*[count(article) >= {TEASER_CARDS_MIN}]"

#: A live blog is the exception: its updates are sibling ``<article>`` elements and they are
#: the story. Pages say so in their schema.org type or in the updates' class names.
_LIVE_BLOG = (
    "//script[@type='application/ld+json'][contains(., 'LiveBlogPosting')]"
    " | //*[contains(@itemtype, 'LiveBlogPosting')]"
)
_LIVE_CLASS = re.compile(r"live-?blog|live-?update|live-?post", re.IGNORECASE)


def _prune_teaser_cards(tree: Any) -> None:
    """Remove groups of sibling ``<article>`` cards, except a card holding an ``h1``."""
    groups = tree.xpath(_ARTICLE_GROUPS)
    if not groups or tree.xpath(_LIVE_BLOG):
        return
    for parent in groups:
        cards = [child for child in parent if child.tag == "article"]
        if any(_LIVE_CLASS.search(f"{c.get('class', '')} {c.get('id', '')}") for c in cards):
            continue
        for card in cards:
            if card.find(".//h1") is None:
                _remove(card)


# --- split bodies --------------------------------------------------------------------------

#: Class names publishing systems give the container of the article's text (besides
#: ``itemprop="articleBody"``).
_BODY_CLASS = re.compile(
    r"article(?:-|__)?(?:body|text|content)|articlebody|body__container"
    r"|story-?(?:body|content)|entry-content|post-(?:content|body)",
    re.IGNORECASE,
)


_CONTAINER_TAGS = frozenset({"div", "section", "article"})

_LINKED_HEADING = (
    ".//*[self::h1 or self::h2 or self::h3][.//a[@href]] | .//a[@href][.//h1 or .//h2 or .//h3]"
)


def _join_split_body(tree: Any, containers: list[Any]) -> None:
    """Join an article body the page split into sibling containers of the same kind.

    Pages that interleave ads with the text repeat the body container around each run of
    paragraphs; trafilatura takes the first container for the whole body and stops after
    the first run. Containers with the same tag and class under the same grandparent, none
    inside another and at least two holding PROSE_CHARS of text, are one body: their
    children move into the first.
    """
    groups: dict[tuple[str, str | None, Any], list[Any]] = {}
    for element in containers:
        if element.tag not in _CONTAINER_TAGS:
            continue  # a paragraph classed "story-body-text" is part of a body, not one
        parent = element.getparent()
        grandparent = parent.getparent() if parent is not None else None
        if grandparent is not None:
            groups.setdefault((element.tag, element.get("class"), grandparent), []).append(element)
    for members in groups.values():
        if len(members) < 2:
            continue
        if any(a is not b and _is_inside(b, a) for a in members for b in members):
            continue  # nested wrappers of one body, not a split body
        if sum(1 for m in members if len(_text_of(m)) >= PROSE_CHARS) < 2:
            continue
        if any(m.xpath(_LINKED_HEADING) for m in members):
            continue  # teasers of other posts lead with a linked headline; body chunks do not
        first = members[0]
        for member in members[1:]:
            first.extend(list(member))
            _remove(member)


# --- related links -------------------------------------------------------------------------

#: A list is a list of links when it has at least this many items, each one link and
#: nothing else: "more stories" and "read next" blocks. Fewer may be a pair of sources.
LINK_LIST_MIN_ITEMS = 3

#: Share of an item's text inside its link for the item to count as "a link and nothing
#: else". Not 1.0: bullets, emoji and separators around the anchor are common.
LINK_ITEM_MIN_SHARE = 0.8

#: Lists of LINK_LIST_MIN_ITEMS or more items, each holding exactly one link.
_LINK_LISTS = (
    f"//body//*[self::ul or self::ol][count(li) >= {LINK_LIST_MIN_ITEMS}]"
    "[not(li[count(.//a[@href]) != 1])]"
)


def _take_link_lists(tree: Any, url: str | None) -> list[Link]:
    """Remove lists made only of links from the page; return those that read as headlines.

    A list of one- and two-word links is navigation: removed, but not related articles.
    """
    links: list[Link] = []
    for listing in tree.xpath(_LINK_LISTS):
        items = [child for child in listing if child.tag == "li"]
        if _is_detached(listing, tree):
            continue
        found: list[Link] = []
        for item in items:
            anchors = item.findall(".//a[@href]")
            text = _clean(_text_of(item))
            if (
                len(anchors) != 1
                or not text
                or _linked_chars(item) < LINK_ITEM_MIN_SHARE * len(text)
            ):
                break
            found.append(Link(url=_absolute(anchors[0].get("href"), url), title=text))
        else:
            _remove(listing)
            headlines = [
                f for f in found if len((f.title or "").split()) >= LINKED_HEADLINE_MIN_WORDS
            ]
            if 2 * len(headlines) > len(found):
                links.extend(headlines)
    return links


#: At most this many words before the colon of a "Read more: <link>" line; a longer
#: lead-in is a sentence of the article that ends in a link.
LINK_LABEL_MAX_WORDS = 4

#: A linked headline has at least this many words; a shorter link after a label is a value
#: ("Account: @name", "Phone: +1 555 0100"), part of the text.
LINKED_HEADLINE_MIN_WORDS = 3

_SINGLE_LINK_PARAGRAPHS = "//body//p[count(.//a[@href]) = 1]"


def _take_labelled_links(tree: Any, url: str | None) -> list[Link]:
    """Remove "Label: <linked headline>" paragraphs ("Read more:", "Related:"); return them.

    Publishers drop these between the paragraphs of the text: one short label ending in a
    colon, then one link that makes up the rest of the paragraph.
    """
    links: list[Link] = []
    for paragraph in tree.xpath(_SINGLE_LINK_PARAGRAPHS):
        anchor = paragraph.find(".//a[@href]")
        text = _clean(_text_of(paragraph))
        title = _clean(_text_of(anchor))
        if len(title.split()) < LINKED_HEADLINE_MIN_WORDS or not text.endswith(title):
            continue
        label = text[: len(text) - len(title)].strip()
        if not label.endswith(":") or len(label.split()) > LINK_LABEL_MAX_WORDS:
            continue
        links.append(Link(url=_absolute(anchor.get("href"), url), title=title))
        _remove(paragraph)
    return links


def _headline_links(element: Any, url: str | None) -> list[Link]:
    """Links under ``element`` whose text reads as a headline."""
    links = []
    for anchor in element.iter("a"):
        title = _clean(_text_of(anchor))
        href = _absolute(anchor.get("href"), url)
        if href and len(title.split()) >= LINKED_HEADLINE_MIN_WORDS:
            links.append(Link(url=href, title=title))
    return links


def _unique(links: list[Link]) -> list[Link]:
    seen: set[str] = set()
    kept = []
    for link in links:
        key = link.url or link.title or ""
        if key and key not in seen:
            seen.add(key)
            kept.append(link)
    return kept


# --- tree and text helpers -----------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _key(text: str) -> str:
    return _clean(text).casefold()


def _text_of(element: Any) -> str:
    return "".join(element.itertext())


def _linked_chars(element: Any) -> int:
    return sum(len(_clean(_text_of(anchor))) for anchor in element.iter("a"))


def _absolute(href: str | None, base: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")):
        return None
    return urljoin(base, href) if base else href


def _is_inside(element: Any, ancestor: Any) -> bool:
    return any(parent is ancestor for parent in element.iterancestors())


def _is_detached(element: Any, root: Any) -> bool:
    """Whether ``element`` left the page with an ancestor removed earlier."""
    for parent in element.iterancestors():
        element = parent
    return element is not root


def _remove(element: Any) -> None:
    """Take an element out of the tree, keeping the text that follows it (its tail)."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


#: The three kinds of names in one pattern, lowercase (see _marked_elements); built last
#: because its parts are defined with the rules that use them.
_MARKS = _marks_pattern()
