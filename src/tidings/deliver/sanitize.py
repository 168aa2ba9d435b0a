"""The one HTML policy for article markup that reaches a page or a feed.

Publishers' HTML is stored raw (``Article.content_html``) and passes through
:func:`clean_html` on its way out, whatever the way out is: the reader's page, a private
Atom or JSON feed, an email digest. The policy is an allowlist (nh3, a binding of the Rust
ammonia sanitiser, which parses like a browser does): structural tags only, links and images
over http(s) (and mailto links), no attributes that carry behaviour or presentation (no
``on*``, ``style``, ``class`` or ``id``), and the content of script-like elements dropped
along with the element.

The plain text of such markup (a feed's text version, an API's ``text``) is
:func:`tidings.text.html_to_text`, the same reading ingestion gives a feed entry's body.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

import nh3

#: Tags kept (their attributes are limited by :data:`ATTRIBUTES`). Any other tag is removed
#: and its text kept, except :data:`DROPPED_WITH_CONTENT`. ``h1`` is left out on purpose: the
#: page or feed entry already has the headline, and a publisher's ``h1`` would compete with it.
TAGS = frozenset(
    {
        # text
        "p", "br", "hr", "div", "span", "a", "em", "strong", "b", "i", "u", "s", "small",
        "sub", "sup", "mark", "abbr", "cite", "q", "time", "del", "ins",
        # structure
        "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "dl", "dt", "dd",
        "figure", "figcaption", "img", "pre", "code", "kbd", "samp",
        # tables
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col",
    }
)  # fmt: skip

#: Attributes kept, per tag. Nothing that runs code or styles the page. ``rel`` is not
#: here because every link gets :data:`LINK_REL`.
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
}

#: Elements removed together with everything inside them: their content is code, styling,
#: embedded documents or form controls, never article text a reader should see. (``form``
#: itself is only unwrapped: some publishers' pages wrap the whole article in one.)
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "template", "noscript", "iframe", "frame", "frameset", "noframes",
        "object", "embed", "applet", "param", "svg", "math", "input", "button",
        "select", "option", "textarea", "canvas", "audio", "video", "source", "track",
        "head", "title", "meta", "link", "base",
    }
)  # fmt: skip

#: URL schemes allowed in ``href`` and ``src``; anything else (javascript:, data:,
#: vbscript:, file:) removes the attribute.
URL_SCHEMES = frozenset({"http", "https", "mailto"})

#: Added to every link: no access to our window, no referrer leaking the reader's private
#: page or feed URL, and no endorsement of the link for search engines.
LINK_REL = "noopener noreferrer nofollow"


def _cleaner(
    url_relative: Literal["deny"] | tuple[Literal["rewrite_with_base"], str],
) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
        url_relative=url_relative,
    )


#: Without a base, a relative URL is removed: it would point into our own site.
_WITHOUT_BASE = _cleaner("deny")


@lru_cache(maxsize=256)
def _cleaner_for(base_url: str) -> nh3.Cleaner:
    # Bounded cache: a page or a feed cleans the HTML of a few dozen articles from a
    # handful of bases; building a Cleaner for each would repeat the same work.
    return _cleaner(("rewrite_with_base", base_url))


def _usable_base(base_url: str | None) -> str | None:
    if not base_url:
        return None
    try:
        parts = urlsplit(base_url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return base_url.strip()


def clean_html(html_text: str | None, *, base_url: str | None = None) -> str:
    """``html_text`` made safe to put in a page or a feed: see the module's policy.

    Relative ``href``/``src`` URLs are resolved against ``base_url`` (the article's URL);
    without a usable base (absent, or not an absolute http(s) URL) they are removed. Never
    raises on bad markup; ``None`` or empty input gives ``""``.
    """
    if not html_text:
        return ""
    base = _usable_base(base_url)
    if base is None:
        return _WITHOUT_BASE.clean(html_text)
    try:
        cleaner = _cleaner_for(base)
    except ValueError:  # a base ammonia's URL parser refuses
        cleaner = _WITHOUT_BASE
    return cleaner.clean(html_text)
