"""Copied page text (no markup) → a structured article.

A browser's "copy the whole page" gives the article mixed with the page's furniture: menus,
advertisement labels, share counters, related headlines, video players, captions. Without
markup, each line is judged by its own shape (length, sentence form, end punctuation,
capitalisation, digits, bullets, repetition) and by the shape of the lines around it.

Two stages:

1. **Body.** A small gradient-boosted tree model (``data/text_lines.json``: 200 trees of
   depth 3, read and run in pure Python; trained by :mod:`tidings.extract.text_train` on the
   Zyte benchmark's development pages, labels derived from the benchmark's article bodies)
   gives each line a probability of being article text. Its features are the line's shape,
   its neighbours' shapes, window densities of long, short and sentence-shaped lines, and
   where the line sits relative to the longest line and to the line repeating the page's
   first line (copies that start with the document title). The body is then the run of
   lines that maximises the sum of word-weighted margins (``words * (p - threshold)``), so
   short lines inside the article (list items, subheads) stay in and long furniture far from
   it stays out. Body F1 on pages of sites the model never saw (site-grouped 10-fold
   cross-validation) is about 0.90; on the development pages themselves 0.95.
2. **Roles.** The lines around and inside that run are named by rules on their shape and
   position: the headline just above the body, a short section label above the headline,
   bulleted summary points, a caption (a sentence that ends in a photo credit), duration
   lines and the video title that follows them (shown twice), related headlines standing
   alone among the paragraphs, counters, promotions.

Everything is pure and linear in the size of the input.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from tidings.errors import ExtractionError
from tidings.extract.page import MAX_PAGE_CHARS
from tidings.text import clean_text
from tidings.types import ArticleDraft, Image, Link

#: Longest line considered in full; longer lines (minified scripts pasted as text) are cut,
#: which keeps every per-line step bounded.
MAX_LINE_CHARS = 20_000
#: Most lines read. Article pages copy to well under a thousand lines (693 at most on the
#: benchmark's pages); past this a text is a listing or a dump, and its tail is not read.
MAX_LINES = 5_000

_WORD = re.compile(r"\w+")
_ALPHA_WORD = re.compile(r"[^\W\d_]+")
# Typographic characters are written as escapes: many look like ASCII ones.
_STOPS = r"[.!?\u2026\u3002\uff01\uff1f]"  # . ! ? … and the CJK full stop, ! and ?
_CLOSERS = r"[\"'\u201d\u2019\u00bb)\]]*"  # closing quotes and brackets after a stop
_OPENERS = r"[\"'\u201c\u2018\u00ab\u201e]"  # opening quotes
_DASHES = "\u2013\u2014"  # en and em dash
_TERMINAL = re.compile(_STOPS + _CLOSERS + "$")
_SENTENCE_BREAK = re.compile(_STOPS + _CLOSERS + r"\s+(?=(?:" + _OPENERS + r"|[(\[])?[^\W\d_])")
_BULLET = re.compile(
    r"^(?:[\u2022\u25cf\u25e6\u25aa\u25b8\u25ba\u25a0\u25a1\u2023\u2043\u2219\u00b7*]"
    r"|[-" + _DASHES + r"](?=\s))\s*"
)
_NUMERIC = re.compile(r"^[\s\d.,:+%kKmM()/-]+$")
_DURATION = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
_SEPARATORS = re.compile(r"[|\u203a\u00bb\u00b7\u2022/]")
_LINKISH = re.compile(r"https?://|www\.|@|©|\.com\b", re.IGNORECASE)
_QUOTE_START = re.compile("^" + _OPENERS)

#: Offsets of the neighbours whose shape feeds a line's features.
_NEIGHBOURS = (-3, -2, -1, 1, 2, 3)
#: Half-widths of the windows whose mean shape feeds a line's features.
_WINDOWS = (3, 10, 30)
#: A line of at least this many words is "long": a paragraph, not furniture.
_LONG_LINE_WORDS = 25
#: A line of at most this many words is "short": a menu entry, a label.
_SHORT_LINE_WORDS = 3


# --- line features ---------------------------------------------------------------------------


def split_lines(text: str) -> list[str]:
    """The page's lines, stripped, bounded in count and length; blank lines kept as ``""``."""
    lines = text[:MAX_PAGE_CHARS].splitlines()[:MAX_LINES]
    return [line.strip()[:MAX_LINE_CHARS] for line in lines]


@dataclass(frozen=True, slots=True)
class _Shape:
    """What one non-blank line looks like on its own."""

    words: int
    chars: int
    terminal: bool
    colon: bool
    cap_ratio: float
    digit_ratio: float
    numeric: bool
    duration: bool
    bullet: bool
    sentences: int
    commas: int
    separators: int
    linkish: bool
    lower_start: bool
    quote_start: bool
    alpha_ratio: float
    year: bool
    time: bool
    avg_word: float


def _shape(line: str) -> _Shape:
    words = _WORD.findall(line)
    alpha = _ALPHA_WORD.findall(line)
    n_alpha = len(alpha)
    caps = sum(1 for w in alpha if w[0].isupper())
    chars = len(line)
    digits = sum(c.isdigit() for c in line)
    letters = sum(c.isalpha() for c in line)
    stripped = _BULLET.sub("", line)
    return _Shape(
        words=len(words),
        chars=chars,
        terminal=bool(_TERMINAL.search(line)),
        colon=line.endswith(":"),
        cap_ratio=caps / n_alpha if n_alpha else 0.0,
        digit_ratio=digits / chars if chars else 0.0,
        numeric=bool(_NUMERIC.match(line)),
        duration=bool(_DURATION.match(line)),
        bullet=stripped != line,
        sentences=1 + len(_SENTENCE_BREAK.findall(line)),
        commas=line.count(",") + line.count("،") + line.count("、"),
        separators=len(_SEPARATORS.findall(line)),
        linkish=bool(_LINKISH.search(line)),
        lower_start=stripped[:1].islower(),
        quote_start=bool(_QUOTE_START.match(stripped)),
        alpha_ratio=letters / chars if chars else 0.0,
        year=bool(_YEAR.search(line)),
        time=bool(_TIME.search(line)),
        avg_word=sum(len(w) for w in words) / len(words) if words else 0.0,
    )


def _own_features(s: _Shape) -> list[float]:
    return [
        math.log1p(s.words),
        math.log1p(s.chars),
        float(s.terminal),
        float(s.colon),
        s.cap_ratio,
        s.digit_ratio,
        float(s.numeric),
        float(s.duration),
        float(s.bullet),
        math.log1p(s.sentences),
        s.commas / s.words if s.words else 0.0,
        math.log1p(s.separators),
        float(s.linkish),
        float(s.lower_start),
        float(s.quote_start),
        s.alpha_ratio,
        float(s.year),
        float(s.time),
        s.avg_word,
    ]


_OWN_NAMES = (
    "log_words",
    "log_chars",
    "terminal",
    "colon",
    "cap_ratio",
    "digit_ratio",
    "numeric",
    "duration",
    "bullet",
    "log_sentences",
    "commas_per_word",
    "log_separators",
    "linkish",
    "lower_start",
    "quote_start",
    "alpha_ratio",
    "year",
    "time",
    "avg_word",
)


def _neighbour_features(s: _Shape | None) -> list[float]:
    if s is None:
        return [-1.0, 0.0, 0.0, 0.0]
    return [math.log1p(s.words), float(s.terminal), s.cap_ratio, s.digit_ratio]


_NEIGHBOUR_NAMES = ("log_words", "terminal", "cap_ratio", "digit_ratio")


def feature_names() -> list[str]:
    """Names of the columns :func:`line_features` returns, in order."""
    names = [f"own_{n}" for n in _OWN_NAMES]
    names += [f"doc_{n}" for n in _DOC_NAMES]
    for offset in _NEIGHBOURS:
        names += [f"n{offset:+d}_{n}" for n in _NEIGHBOUR_NAMES]
    for width in _WINDOWS:
        names += [f"w{width}_{n}" for n in _WINDOW_NAMES]
    return names


_DOC_NAMES = (
    "position",
    "blank_before",
    "blank_after",
    "log_repeats",
    "words_over_max",
    "log_dist_long_before",
    "log_dist_long_after",
    "words_before_frac",
    "log_dist_longest",
    "after_longest",
    "shown_before",
    "long_before_frac",
    "log_doc_lines",
    "log_doc_long_lines",
    "repeats_title",
    "log_since_title",
)
_WINDOW_NAMES = ("mean_log_words", "terminal_frac", "long_frac", "words_frac", "short_frac")


def _repeats_title(line: str, page_title: set[str]) -> bool:
    """Whether most words of ``line`` are in the page's title (its first line)."""
    own = set(_WORD.findall(line.lower()))
    return bool(own) and len(own & page_title) / len(own) >= _TITLE_OVERLAP


def line_features(lines: Sequence[str]) -> tuple[list[int], list[list[float]]]:
    """Indexes of the non-blank lines of ``lines`` and one feature row for each.

    Neighbours and windows count non-blank lines only (blank lines are a feature of their
    own), so a page that separates paragraphs by blank lines and one that does not look alike.
    """
    index = [i for i, line in enumerate(lines) if line]
    shapes = [_shape(lines[i]) for i in index]
    n = len(shapes)
    if n == 0:
        return index, []
    repeats = Counter(lines[i] for i in index)
    words = [s.words for s in shapes]
    max_words = max(words) or 1
    total_words = sum(words) or 1
    longest = max(range(n), key=words.__getitem__)
    long = [w >= _LONG_LINE_WORDS for w in words]

    # Distances to the nearest long line before and after, in non-blank lines.
    dist_before: list[int] = []
    last = -10_000
    for k in range(n):
        if long[k]:
            last = k
        dist_before.append(min(k - last, 10_000))
    dist_after = [0] * n
    nxt = 10_000 + n
    for k in range(n - 1, -1, -1):
        if long[k]:
            nxt = k
        dist_after[k] = min(nxt - k, 10_000)

    # Prefix sums for the window means.
    log_words = [math.log1p(w) for w in words]
    columns = (
        log_words,
        [float(s.terminal) for s in shapes],
        [float(x) for x in long],
        words,
        [float(w <= _SHORT_LINE_WORDS) for w in words],
    )
    prefix = []
    for col in columns:
        acc = [0.0]
        for v in col:
            acc.append(acc[-1] + v)
        prefix.append(acc)
    words_prefix = prefix[3]
    long_prefix = prefix[2]
    total_long = max(1.0, long_prefix[-1])
    shown: set[str] = set()

    # Browsers copy the document title first; the article starts soon after the headline
    # that repeats it.
    page_title = set(_WORD.findall(lines[index[0]].lower()))
    title_match = [
        k == 0 or (s.words >= 3 and _repeats_title(lines[i], page_title))
        for k, (i, s) in enumerate(zip(index, shapes, strict=True))
    ]
    since_title: list[int] = []
    last_title = -10_000
    for k in range(n):
        if title_match[k]:
            last_title = k
        since_title.append(min(k - last_title, 10_000))

    rows: list[list[float]] = []
    for k, s in enumerate(shapes):
        i = index[k]
        row = _own_features(s)
        row += [
            k / n,
            float(i == 0 or not lines[i - 1]),
            float(i + 1 >= len(lines) or not lines[i + 1]),
            math.log(repeats[lines[i]]),
            s.words / max_words,
            math.log1p(dist_before[k]),
            math.log1p(dist_after[k]),
            words_prefix[k] / total_words,
            math.log1p(abs(k - longest)),
            float(k > longest),
            float(lines[i] in shown),
            long_prefix[k] / total_long,
            math.log1p(n),
            math.log1p(total_long),
            float(title_match[k]),
            math.log1p(since_title[k]),
        ]
        shown.add(lines[i])
        for offset in _NEIGHBOURS:
            j = k + offset
            row += _neighbour_features(shapes[j] if 0 <= j < n else None)
        for width in _WINDOWS:
            lo, hi = max(0, k - width), min(n, k + width + 1)
            span = hi - lo
            row += [
                (prefix[0][hi] - prefix[0][lo]) / span,
                (prefix[1][hi] - prefix[1][lo]) / span,
                (prefix[2][hi] - prefix[2][lo]) / span,
                (prefix[3][hi] - prefix[3][lo]) / total_words,
                (prefix[4][hi] - prefix[4][lo]) / span,
            ]
        rows.append(row)
    return index, rows


# --- the body model --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tree:
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def predict(self, row: Sequence[float]) -> float:
        node = 0
        while self.left[node] >= 0:
            if row[self.feature[node]] <= self.threshold[node]:
                node = self.left[node]
            else:
                node = self.right[node]
        return self.value[node]


@dataclass(frozen=True, slots=True)
class BodyModel:
    """Gradient-boosted trees over :func:`line_features`, and how their output is used."""

    features: tuple[str, ...]
    init: float
    rate: float
    trees: tuple[_Tree, ...]
    #: Probability above which a line adds to the body run (chosen by cross-validation).
    threshold: float

    def probability(self, row: Sequence[float]) -> float:
        score = self.init + self.rate * sum(t.predict(row) for t in self.trees)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, score))))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BodyModel:
        trees = tuple(
            _Tree(
                feature=tuple(t["feature"]),
                threshold=tuple(t["threshold"]),
                left=tuple(t["left"]),
                right=tuple(t["right"]),
                value=tuple(t["value"]),
            )
            for t in data["trees"]
        )
        return cls(
            features=tuple(data["features"]),
            init=float(data["init"]),
            rate=float(data["rate"]),
            trees=trees,
            threshold=float(data["threshold"]),
        )


@cache
def load_model() -> BodyModel:
    """The shipped model; fails loudly if it was trained on other features than these."""
    raw = resources.files("tidings").joinpath("data/text_lines.json").read_text("utf-8")
    model = BodyModel.from_json(json.loads(raw))
    if list(model.features) != feature_names():
        raise RuntimeError("text_lines.json does not match the line features; retrain it")
    return model


def body_run(words: Sequence[int], probs: Sequence[float], threshold: float) -> tuple[int, int]:
    """The run ``[start, end)`` maximising ``sum(words * (p - threshold))`` (Kadane's method).

    Every line weighs at least one word, so a lone short furniture line between paragraphs
    costs little and a long furniture block costs a lot. ``(0, 0)`` when nothing scores.
    """
    best, best_span = 0.0, (0, 0)
    acc, start = 0.0, 0
    for k, (w, p) in enumerate(zip(words, probs, strict=True)):
        if acc <= 0.0:
            acc, start = 0.0, k
        acc += max(w, 1) * (p - threshold)
        if acc > best:
            best, best_span = acc, (start, k + 1)
    return best_span


# --- roles -----------------------------------------------------------------------------------


class Role(StrEnum):
    """What a line of copied page text is (the values :func:`classify_lines` returns)."""

    HEADLINE = "headline"
    SECTION = "section"
    SUMMARY = "summary"
    CAPTION = "caption"
    BODY = "body"
    RELATED = "related"
    VIDEO_TITLE = "video_title"
    VIDEO_DURATION = "video_duration"
    PROMOTION = "promotion"
    COUNTER = "counter"
    FURNITURE = "furniture"


_CREDIT_WORDS = r"(?:photo(?:graph)?s?|image|picture|pic|credit|illustration|foto|imagem|фото)"
_CREDIT_TAIL = r"\s*(?:©\s*)?(?P<credit>[^:()\[\]]{1,60}?)\s*[)\]]?\s*$"
#: A photo credit closing a caption: "… 2022. Photo: AP", "(Image: © NASA)", "Credit: Reuters";
#: the "Photo by …" form only where a sentence or a bracket ends, not inside running text.
_CREDIT_COLON = re.compile(
    r"[(\[]?\b" + _CREDIT_WORDS + r"(?:\s+credit)?\s*:" + _CREDIT_TAIL, re.IGNORECASE
)
_CREDIT_BY = re.compile(
    r"(?:^|(?<=[.!?])\s+|[(\[])" + _CREDIT_WORDS + r"(?:\s+credit)?\s+by\b" + _CREDIT_TAIL,
    re.IGNORECASE,
)
#: A caption or bare credit line ending "Name / Agency", "Name/Getty Images", where the
#: credit starts the line or follows a full stop: photo and wire agencies are few and the same
#: on every site.
_AGENCY_CREDIT = re.compile(
    r"(?:^|(?<=[.|(])\s*)(?P<credit>(?:[A-Z][\w.'-]*[\s/]+){0,6}(?:via\s+)?"
    r"(?:AP|AFP|Reuters|Getty Images|EPA|EPA-EFE|Shutterstock|Xinhua|PA|Bloomberg))\)?$"
)
#: Longest credit, in words.
_CREDIT_MAX_WORDS = 8
#: Labels that mark advertising, in the languages of the development pages and a few more.
_AD_LABEL = re.compile(
    r"^(?:advertisement|advertising|advert|ad|ads|sponsored(?: content)?|promoted|"
    r"paid content|partner content|story continues below(?: advertisement)?|"
    r"continue reading(?: below| the main story)?|anzeige|werbung|publicidade|publicidad|"
    r"pubblicità|publicité|реклама|광고)\W*$",
    re.IGNORECASE,
)
#: Calls to action that open promotions, share bars and sign-up boxes.
_CALL_TO_ACTION = re.compile(
    r"^(?:learn|get|sign|subscribe|read|click|share|follow|download|join|watch|register|log|"
    r"see|view|listen|try|start|discover|explore|find|support|donate|buy|shop|order|save|"
    r"like|tap|visit|continue|show|load)\b",
    re.IGNORECASE,
)
#: A related-story prefix: "Read more: …", "Related: …", "Also on example.com …".
_RELATED_PREFIX = re.compile(
    r"^(?:(?:read (?:more|also)|related(?: \w+){0,2}|see also|also read|more(?: \w+){0,3}|"
    r"recommended(?: \w+)?)\s*[:|\u2013\u2014]\s*|also on \S+\s+)",
    re.IGNORECASE,
)
#: How far (non-blank lines) above the body the headline, and above the headline the section
#: label, may be: headers on the development pages put at most a caption, a promotion box and
#: summary points between them.
_HEADLINE_REACH = 20
_SECTION_REACH = 8
#: A paragraph for the role rules: a sentence of at least this many words.
_PARAGRAPH_WORDS = 12
#: Fewer words than this are not an article (a menu entry the model could not place).
_MIN_BODY_WORDS = 10
#: Lines at the top of the body run that may still be header (headline, caption, byline).
_HEADER_LINES = 4
#: Share of a line's words found in the page's first line for it to count as the title.
_TITLE_OVERLAP = 0.6


def _title_shaped(s: _Shape, line: str, lo: int = 3, hi: int = 30) -> bool:
    """A headline's shape: a few words, no closing full stop, not a list item or number."""
    return (
        lo <= s.words <= hi
        and not line.endswith((".", ":", ";", ","))
        and not s.bullet
        and not s.numeric
        and not s.linkish
        and s.alpha_ratio > 0.5
    )


def _paragraph(s: _Shape) -> bool:
    return s.terminal and s.words >= _PARAGRAPH_WORDS


def _caption_credit(line: str, s: _Shape) -> tuple[str, str] | None:
    """(caption, credit) when the line is a caption that ends with a photo credit."""
    if s.bullet or s.words > 80:
        return None
    m = _CREDIT_COLON.search(line) or _CREDIT_BY.search(line) or _AGENCY_CREDIT.search(line)
    if m is None:
        return None
    credit = m.group("credit").strip(" /")
    if len(credit.split()) > _CREDIT_MAX_WORDS:
        return None
    caption = line[: m.start()].strip(" ([|-" + _DASHES)
    return caption, credit


def _roles(
    lines: Sequence[str], index: Sequence[int], probs: Sequence[float], threshold: float
) -> list[Role]:
    """One role per non-blank line (``index``), from body probabilities and line shapes."""
    text = [lines[i] for i in index]
    shapes = [_shape(t) for t in text]
    n = len(text)
    roles = [Role.FURNITURE] * n
    if n == 0:
        return roles
    repeats = Counter(text)
    # A line shown again (a teaser repeating the article, a title shown twice) is never body
    # the second time; zeroing it also stops the run from reaching across copies of the page.
    seen: set[str] = set()
    run_probs = list(probs)
    for k, t in enumerate(text):
        if t in seen and shapes[k].words >= 5:
            run_probs[k] = 0.0
        seen.add(t)
    start, end = body_run([s.words for s in shapes], run_probs, threshold)
    # The model undervalues the closing paragraphs of a page that ends with the article
    # (most pages end in a footer): a full sentence right after the run continues it. With
    # any probability floor (tried 0.25 and 0.5 of the threshold) cross-validated F1 was lower.
    while end < n and _paragraph(shapes[end]) and run_probs[end] > 0.0:
        end += 1
    if sum(shapes[k].words for k in range(start, end)) < _MIN_BODY_WORDS:
        start = end = 0
    for k in range(start, end):
        roles[k] = Role.BODY

    for k, (t, s) in enumerate(zip(text, shapes, strict=True)):
        if _AD_LABEL.match(t):
            roles[k] = Role.PROMOTION
        elif s.duration:
            roles[k] = Role.VIDEO_DURATION
        elif s.numeric and s.words <= 3:
            roles[k] = Role.COUNTER
        elif roles[k] != Role.BODY and s.words <= 12 and _CALL_TO_ACTION.match(t):
            roles[k] = Role.PROMOTION
        elif _caption_credit(t, s) is not None:
            roles[k] = Role.CAPTION

    # A video block: a duration, then its title (players often show it twice).
    for k in range(n):
        if roles[k] != Role.VIDEO_DURATION:
            continue
        j = k + 1
        while j < n and j <= k + 3 and _title_shaped(shapes[j], text[j]):
            if j > k + 1 and text[j] != text[k + 1]:
                break
            roles[j] = Role.VIDEO_TITLE
            j += 1

    # Headlines standing alone between paragraphs link to other stories.
    for k in range(start + 1, end - 1):
        if roles[k] != Role.BODY:
            continue
        s, t = shapes[k], text[k]
        prefixed = _RELATED_PREFIX.match(t) is not None and s.words >= 4
        alone = (
            _title_shaped(s, t, 6, 16)
            and not s.terminal
            and not s.quote_start
            and not t[:1].isdigit()
            and _paragraph(shapes[k - 1])
            and _paragraph(shapes[k + 1])
        )
        if prefixed or alone or (repeats[t] > 1 and not s.terminal):
            roles[k] = Role.RELATED if prefixed or alone else Role.FURNITURE

    body_lines = [k for k in range(n) if roles[k] == Role.BODY]
    if not body_lines:
        return roles
    first = body_lines[0]

    # The run may open on the headline itself: a headline-shaped line that is the page's
    # first line or repeats it (some copies start with the document title), or that summary
    # points or a caption follow, is header, not body. Every headline-shaped line was too
    # many: subheads and unpunctuated first sentences open some bodies.
    page_title = set(_WORD.findall(text[0].lower()))
    for k in range(first, min(n, first + _HEADER_LINES)):
        if roles[k] != Role.BODY:
            continue
        if _paragraph(shapes[k]) or shapes[k].bullet or not _title_shaped(shapes[k], text[k]):
            break
        ahead = k + 1 < n and (shapes[k + 1].bullet or roles[k + 1] == Role.CAPTION)
        if k == 0 or ahead or _repeats_title(text[k], page_title):
            roles[k] = Role.FURNITURE
    first = next((k for k in range(first, n) if roles[k] == Role.BODY), n)

    # Summary points: bullets opening the body, before its first paragraph.
    k = first
    while k < n and shapes[k].bullet and roles[k] == Role.BODY and k - first < 6:
        k += 1
    if k > first and k < n and _paragraph(shapes[k]):
        for j in range(first, k):
            roles[j] = Role.SUMMARY
        first = k

    # The headline: the nearest headline-shaped line above the body, above any summary
    # points and captions, preferring one that repeats the page's title or URL.
    above = range(first - 1, max(-1, first - 1 - _HEADLINE_REACH), -1)
    candidates = [
        j
        for j in above
        if roles[j] == Role.FURNITURE
        and _title_shaped(shapes[j], text[j], 3, 30)
        and not text[j].endswith((".", "…"))
        and repeats[text[j]] <= 2
    ]
    best = next((j for j in candidates if j > 0 and _repeats_title(text[j], page_title)), None)
    if best is None and candidates:
        best = candidates[0]
    if best is None:
        return roles
    roles[best] = Role.HEADLINE
    for j in range(best + 1, first):
        if shapes[j].bullet and roles[j] == Role.FURNITURE:
            roles[j] = Role.SUMMARY

    # The section label: a short label above the headline.
    for j in range(best - 1, max(-1, best - 1 - _SECTION_REACH), -1):
        s, t = shapes[j], text[j]
        if (
            roles[j] == Role.FURNITURE
            and 1 <= s.words <= 4
            and not s.terminal
            and _title_shaped(s, t, 1, 4)
            and t[:1].isupper()
            and repeats[t] == 1
            and not s.year
        ):
            roles[j] = Role.SECTION
            break
    return roles


def select_body(
    lines: Sequence[str], index: Sequence[int], probs: Sequence[float], threshold: float
) -> str:
    """The body text chosen from line probabilities (what the training script scores)."""
    roles = _roles(lines, index, probs, threshold)
    return "\n\n".join(lines[i] for i, r in zip(index, roles, strict=True) if r == Role.BODY)


def classify_lines(text: str) -> list[tuple[str, str]]:
    """``(role, line)`` for each non-blank line of copied page text (see :class:`Role`)."""
    lines = split_lines(text)
    index, rows = line_features(lines)
    model = load_model()
    probs = [model.probability(r) for r in rows]
    roles = _roles(lines, index, probs, model.threshold)
    return [(r.value, lines[i]) for i, r in zip(index, roles, strict=True)]


def extract_text(text: str, *, url: str | None = None) -> ArticleDraft:
    """A structured article from copied page text.

    Captions become :class:`~tidings.types.Image` values with an empty ``url``: copied text
    keeps the caption and credit but not the picture's address. Related headlines become
    :class:`~tidings.types.Link` values without a URL for the same reason.

    Raises ExtractionError when the text is empty or blank.
    """
    if not text.strip():
        raise ExtractionError("empty page: no text to extract", resource=url)
    classified = classify_lines(text)
    title = section = None
    summary: list[str] = []
    body: list[str] = []
    images: list[Image] = []
    related: list[Link] = []
    for role, line in classified:
        if role == Role.HEADLINE and title is None:
            title = line
        elif role == Role.SECTION and section is None:
            section = line
        elif role == Role.SUMMARY:
            summary.append(_BULLET.sub("", line))
        elif role == Role.BODY:
            body.append(line)
        elif role == Role.CAPTION:
            found = _caption_credit(line, _shape(line))
            if found is not None:
                caption, credit = found
                images.append(Image(url="", caption=caption or None, credit=credit or None))
        elif role == Role.RELATED:
            related.append(Link(title=_RELATED_PREFIX.sub("", line)))
    # A copied page is text as the browser showed it, but what it showed may carry the
    # publisher's own broken escapes ("#39;", "\\$"): cleaned as every way in cleans them.
    return ArticleDraft(
        url=url,
        title=clean_text(title) or None,
        section=clean_text(section) or None,
        summary_points=tuple(p for p in (clean_text(point) for point in summary) if p),
        body="\n\n".join(body) or None,
        images=tuple(images),
        related=tuple(related),
        extraction_note=None if body else "no article text found in the page text",
    )
