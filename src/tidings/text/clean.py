"""Titles and summaries as a reader should see them: the escapes real feeds leave undone.

Publishers and aggregators escape text once too often, or lose half an escape on the way.
:func:`clean_text` undoes, in this order and until nothing changes:

* **entities**, however many times escaped: ``&amp;#39;`` → ``&#39;`` → ``'``;
  only complete references (with their ``;``) are read, so "AT&T" and "Q&A" stay;
* **broken numeric entities** that lost their ``&``: ``#39;`` → ``'``, ``#151;`` → ``—``
  (151 is the em dash in Windows-1252, as browsers read such numbers); only characters that
  are punctuation or symbols are restored, so "#1;" or "issue #233;" are never turned into
  letters, and "C# 12" or "#1 hit" (no ``;``) are not escapes at all. AG News, and feeds
  built the same way, replaced the ``&`` with a space: the space before an apostrophe or a
  closing quote is taken back ("Italian PM #39;s" → "Italian PM's");

then removes **markup** (``<b>...</b>`` in a title): tags of HTML's own elements that are
certainly markup (paired, with attributes, ``<br>``, comments), keeping a lone tag that is a
word about HTML ("History of the <blink> tag") and anything else in angle brackets
("<TXN.N>", "<stdio.h>", "3 < 4"); drops **stray backslash escapes** before ``$ ' " &``
("\\$50" → "$50", "\\'" → "'"), keeping every other backslash ("C:\\Users", "\\n", "\\\\");
maps C1 control characters, which only appear when Windows-1252 text was decoded as
Latin-1, to the characters Windows-1252 meant; drops invisible characters (soft hyphens,
zero-width spaces, byte order marks); and collapses whitespace.

It is meant for short plain-text fields (titles, summaries, captions, names), applied once
where an article enters (feed entries, extracted pages, pasted text) and by the migration
that repaired stored articles. It is idempotent: cleaning clean text changes nothing.
"""

from __future__ import annotations

import html
import re
import unicodedata

from tidings.text.markup import SKIPPED_ELEMENTS, html_to_text, squash

__all__ = ["clean_text"]

#: How many rounds of unescaping (one level of entities, or the broken ones) are undone at
#: most. The shared data (AG News, demo-news) needs three at most (twice escaped, then a
#: broken one); six leaves room for a feed escaped once more without looping on hostile input.
MAX_UNESCAPE_ROUNDS = 6

_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
#: A numeric reference that lost its "&" (never one that still has it, nor "##12;"), with
#: the single space that stood in for the "&" in AG News' texts.
_BROKEN_ENTITY = re.compile(r"( ?)(?<![&#])#([0-9]{2,7});")
#: Characters before which the space standing in for "&" is taken back: apostrophes and
#: closing quotes attach to the word before ("PM's", a closing quote after "hours,").
_ATTACHING = frozenset("'\u2019\u201d")
#: Backslash escapes left by code that escaped text for a shell, SQL or PHP (addslashes).
_BACKSLASH_ESCAPE = re.compile(r"(?<!\\)\\(?=[$'\"&])")
#: Invisible characters with no meaning in a headline: soft hyphen, zero-width space,
#: word joiner, byte order mark. (Zero-width joiners are kept: some scripts need them.)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
_C1_CONTROLS = re.compile("[\x80-\x9f]")

#: Element names of HTML (the living standard and the obsolete ones feeds still carry).
#: A tag is only markup when its name is one of these.
_HTML_ELEMENTS = (
    "a|abbr|acronym|address|area|article|aside|audio|b|base|bdi|bdo|big|blink|blockquote|body|"
    "br|button|canvas|caption|center|cite|code|col|colgroup|data|datalist|dd|del|details|dfn|"
    "dialog|dir|div|dl|dt|em|embed|fieldset|figcaption|figure|font|footer|form|frame|frameset|"
    "h[1-6]|head|header|hgroup|hr|html|i|iframe|img|input|ins|kbd|label|legend|li|link|main|"
    "map|mark|marquee|menu|meta|meter|nav|nobr|noframes|noscript|object|ol|optgroup|option|"
    "output|p|param|picture|pre|progress|q|rp|rt|ruby|s|samp|script|search|section|select|"
    "small|source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|template|"
    "textarea|tfoot|th|thead|time|title|tr|track|tt|u|ul|var|video|wbr"
)
_TAG = re.compile(rf"<(/?)({_HTML_ELEMENTS})(?=[\s/>])([^<>]*)>", re.IGNORECASE)
#: Elements that have no content and so no end tag.
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip


def clean_text(text: str | None, *, paragraphs: bool = False) -> str:
    """``text`` with the escapes and markup described in the module undone; ``""`` when
    nothing is left.

    With ``paragraphs``, line breaks and blank lines between paragraphs are kept (a
    summary); without, the result is one line (a title).
    """
    if not text:
        return ""
    if _C1_CONTROLS.search(text):
        text = _C1_CONTROLS.sub(_windows_1252, text)
    if "&" in text or "#" in text:
        text = _unescape(text)
    if "<" in text and (_TAG.search(text) or "<!--" in text):
        text = _strip_markup(text)
    if "\\" in text:
        text = _BACKSLASH_ESCAPE.sub("", text)
    text = _INVISIBLE.sub("", text)
    if not paragraphs:
        return squash(text)
    return _tidy_paragraphs(text)


def _unescape(text: str) -> str:
    # Whole entities first, to the end ("&amp;#39;" is "'", not "&" and a broken "#39;"),
    # then the broken ones, whose repair can complete an entity ("#38;#39;").
    for _ in range(MAX_UNESCAPE_ROUNDS):
        unescaped = _ENTITY.sub(_decode, text)
        if unescaped == text:
            unescaped = _BROKEN_ENTITY.sub(_repair, text)
            if unescaped == text:
                break
        text = unescaped
    return text


def _decode(match: re.Match[str]) -> str:
    return html.unescape(match.group(0))


def _repair(match: re.Match[str]) -> str:
    space, number = match.group(1), int(match.group(2))
    if number > 0x10FFFF:
        return match.group(0)
    # html.unescape reads numbers as browsers do: 128-159 as Windows-1252 (151 → em dash).
    character = html.unescape(f"&#{number};")
    if len(character) != 1 or unicodedata.category(character)[0] not in "PS":
        return match.group(0)
    if space and character in _ATTACHING:
        space = ""
    return space + character


def _windows_1252(match: re.Match[str]) -> str:
    try:
        return bytes([ord(match.group(0))]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: undefined there too
        return ""


def _strip_markup(text: str) -> str:
    """The text of ``text`` read as HTML, where only what is certainly markup counts."""
    spans = _markup(text)
    if not spans:
        return text
    pieces: list[str] = []
    end = 0
    for start, stop in spans:
        pieces.append(html.escape(text[end:start], quote=False))
        pieces.append(text[start:stop])
        end = stop
    pieces.append(html.escape(text[end:], quote=False))
    return html_to_text("".join(pieces))


def _markup(text: str) -> list[tuple[int, int]]:
    """Where the markup of ``text`` is, rather than words about HTML, in order.

    Certain: comments, ``<br>``, tags with attributes, and start and end tags that pair up
    ("<b>...</b>"). Other void tags ("<hr>") and stray end tags count only beside certain
    markup; a lone start tag ("History of the <blink> tag", "Why <title> matters") is text,
    and so is an element whose content is dropped when it is not closed (it would hide the
    rest of the text).
    """
    comments = _comments(text)
    certain: list[tuple[int, int]] = list(comments)
    bare: list[tuple[int, int]] = []
    open_tags: dict[str, list[tuple[int, int]]] = {}
    last_close: dict[str, int] = {}
    lowered = text.lower()
    position = 0  # index into comments: tags inside a comment are part of it
    for match in _TAG.finditer(text):
        while position < len(comments) and comments[position][1] <= match.start():
            position += 1
        if position < len(comments) and comments[position][0] <= match.start():
            continue
        span = match.span()
        name = match.group(2).lower()
        if match.group(1):  # an end tag
            opened = open_tags.get(name)
            if opened:
                certain.extend((opened.pop(), span))
            else:
                bare.append(span)
        elif match.group(3).strip(" \t\r\n/") or name == "br":
            # Attributes (<a href="...">, <font color="...">), or a line break: "<br>" is
            # the commonest markup left in feed text, and rarely a word about HTML.
            if name in SKIPPED_ELEMENTS and not _closes(lowered, name, span, last_close):
                continue
            certain.append(span)
        elif name in _VOID_ELEMENTS:
            bare.append(span)
        else:
            open_tags.setdefault(name, []).append(span)
    if not certain:
        return []
    return sorted(certain + bare)


def _comments(text: str) -> list[tuple[int, int]]:
    """The spans of the closed comments in ``text``, found in one pass (a pattern would
    search to the end again from every unclosed ``<!--``)."""
    spans = []
    start = text.find("<!--")
    while start >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        spans.append((start, end + 3))
        start = text.find("<!--", end + 3)
    return spans


def _closes(lowered: str, name: str, span: tuple[int, int], last_close: dict[str, int]) -> bool:
    """Whether the element started at ``span`` is closed later in the (lower-cased) text."""
    if name not in last_close:
        last_close[name] = lowered.rfind(f"</{name}")
    return last_close[name] >= span[1]


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def _tidy_paragraphs(text: str) -> str:
    paragraphs = []
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = (squash(line) for line in block.split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)
