"""HTML → plain text, and plain text tidied into paragraphs.

The form every text field of an article takes (``ArticleDraft.body``, ``summary``): plain
paragraphs separated by one blank line, a line break inside a paragraph where the markup had
``<br>`` or a table row ended, whitespace collapsed elsewhere, entities decoded, and nothing
a reader would not see in a browser (scripts, styles, templates, forms, media fallbacks).

Element by element:

========================  ======================================================================
``p``, ``div``, headings,  one paragraph each (blank lines around)
lists, ``blockquote``...
``li``, ``dt``, ``dd``     one paragraph per item
``br``                     a line break inside the paragraph
``pre``                    one paragraph kept exactly as written: line breaks and indentation
``details``/``summary``    the summary is a paragraph of its own, then the details' paragraphs
``table``                  one paragraph; each row a line, its cells separated by a space
``script``, ``style``...   dropped with everything inside (:data:`SKIPPED_ELEMENTS`)
comments                   dropped, an unclosed one to the end as a browser does
========================  ======================================================================

The standard library's HTML parser reads the markup: it is lenient about broken markup and
decodes each entity exactly once. Text with neither ``<`` nor ``&`` skips it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["SKIPPED_ELEMENTS", "html_to_text", "squash", "text_paragraphs"]

#: Elements whose content is not text a reader sees: code, styling, the document head,
#: embedded documents and media (whose content is a fallback message), form controls.
#: Void elements (``input``, ``embed``...) have no content and need no entry.
SKIPPED_ELEMENTS = frozenset(
    {
        "script", "style", "template", "noscript", "head", "title", "svg", "math", "iframe",
        "object", "applet", "frameset", "noframes", "canvas", "audio", "video", "button",
        "select", "textarea", "datalist",
    }
)  # fmt: skip

#: Elements that stand as paragraphs of their own (HTML's block-level elements).
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html",
        "legend", "li", "main", "menu", "nav", "ol", "p", "search", "section", "summary",
        "table", "ul",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})

_LINE = "\x01"  # a sentinel for a line break; control characters are removed from the input
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_COMMENT_START = "<!--"
_TAG_START = re.compile(r"<[A-Za-z]")


def squash(text: str) -> str:
    """``text`` on one line: every run of whitespace (no-break spaces too) one space."""
    return " ".join(text.split())


def text_paragraphs(text: str) -> str:
    """Plain text tidied: paragraphs split at blank lines, each on one line with its
    whitespace collapsed (a single line break in plain text is only a wrapped line);
    control characters removed. ``""`` when nothing is left."""
    if _needs_control_strip(text):
        text = _CONTROLS.sub("", text)
    if "\n" not in text and "\r" not in text:
        return squash(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = (squash(p) for p in _BLANK_LINE.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def html_to_text(markup: str | None) -> str:
    """The readable text of an HTML fragment or page, as the module describes; ``""`` when
    there is none. Never raises on bad markup."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return text_paragraphs(markup)
    if _needs_control_strip(markup):
        markup = _CONTROLS.sub("", markup)
    if _COMMENT_START in markup:
        markup = _without_unclosed_comment(markup)
    markup = _without_unclosed_tag(markup)
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return "\n\n".join(collector.paragraphs)


def _without_unclosed_comment(markup: str) -> str:
    """``markup`` up to a comment that is never closed: it hides the rest, as in a browser.

    Every comment that starts before the last ``-->`` ends there or earlier, so the first
    ``<!--`` after it is the unclosed one. Found with two scans, so that thousands of
    ``<!--`` cost no more than one (the parser would search to the end from each).
    """
    last_end = markup.rfind("-->")
    start = markup.find(_COMMENT_START, last_end + 3 if last_end >= 0 else 0)
    return markup[:start] if start >= 0 else markup


def _without_unclosed_tag(markup: str) -> str:
    """``markup`` without a tag left open at its end ("text<b class=", "<a href='x"): in a
    browser it swallows the rest, and the standard library's parser would search for its end
    again from every ``<`` after it, in time that grows with the square of their number."""
    tail = _TAG_START.search(markup, markup.rfind(">") + 1)
    return markup[: tail.start()] if tail else markup


def _needs_control_strip(text: str) -> bool:
    return _CONTROLS.search(text) is not None


class _TextCollector(HTMLParser):
    """Collects paragraphs: flowing text (whitespace collapsed, ``_LINE`` for line breaks)
    and preformatted blocks (kept as written)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._flow: list[str] = []
        self._pre: list[str] = []
        self._pre_depth = 0
        self._skipping: list[str] = []  # the open skipped elements, innermost last

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_ELEMENTS:
            self._skipping.append(tag)
        elif self._skipping:
            if tag == "body" and "head" in self._skipping:
                del self._skipping[self._skipping.index("head") :]  # <head> left open
        elif self._pre_depth:
            if tag == "pre":
                self._pre_depth += 1
            elif tag == "br":
                self._pre.append("\n")
        elif tag == "pre":
            self._end_paragraph()
            self._pre_depth = 1
        elif tag in _BLOCKS:
            self._end_paragraph()
        elif tag == "br" or tag == "tr":
            self._flow.append(_LINE)
        elif tag in _CELLS:
            self._flow.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                # Close the innermost element of that name and whatever was left open in it.
                last = len(self._skipping) - 1 - self._skipping[::-1].index(tag)
                del self._skipping[last:]
        elif self._pre_depth:
            if tag == "pre":
                self._pre_depth -= 1
                if not self._pre_depth:
                    self._end_pre()
        elif tag in _BLOCKS:
            self._end_paragraph()
        elif tag == "tr":
            self._flow.append(_LINE)
        elif tag in _CELLS:
            self._flow.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        (self._pre if self._pre_depth else self._flow).append(data)

    def close(self) -> None:
        super().close()
        if self._pre_depth:
            self._end_pre()
        self._end_paragraph()

    def _end_paragraph(self) -> None:
        if not self._flow:
            return
        text = "".join(self._flow)
        self._flow.clear()
        if _LINE in text:
            lines = (squash(line) for line in text.split(_LINE))
            text = "\n".join(line for line in lines if line)
        else:
            text = squash(text)
        if text:
            self.paragraphs.append(text)

    def _end_pre(self) -> None:
        self._pre_depth = 0
        text = "".join(self._pre).replace("\r\n", "\n").replace("\r", "\n")
        self._pre.clear()
        # As in a browser, a line break right after <pre> is not content. Trailing spaces
        # and blank lines at either end are invisible; indentation is kept.
        lines = [line.rstrip().replace("\xa0", " ") for line in text.split("\n")]
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        if lines:
            self.paragraphs.append("\n".join(lines))
