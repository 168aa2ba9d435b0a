"""Metadata accuracy on Mozilla Readability's test pages, ours beside plain trafilatura's.

Each page folder holds ``source.html`` and ``expected-metadata.json`` (what Readability.js
returns). Three scores, each a share of pages:

title
    Exact match after collapsing whitespace, over every page.
byline
    Over every page. A page whose expected byline is null counts as correct only when no
    author is returned. Otherwise both sides are normalised the same way (whitespace
    collapsed, a leading "By" dropped, case folded) and split into names at ``,`` ``;`` ``&``
    and " and "; the page is correct when the two sets of names are equal. Our authors are
    joined with ", " and trafilatura's "; "-separated author string is used as it comes, so
    both go through the same comparison. Expectations that are not names (Seattle Times'
    dateline, a date after a name) stay in the score as misses.
date
    Over pages whose expected ``publishedTime`` is not null: the predicted publication day
    equals the expected one. Both are compared as UTC calendar days; an expected time
    without an offset is taken as UTC, as we take one. trafilatura gives a bare day in the
    page's own time zone, so it is compared with the expected day as written.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tidings.errors import ExtractionError
from tidings.extract.metadata import PageMetadata, extract_metadata
from tidings.extract.page import parse_html

_SPACE = re.compile(r"\s+")
_BY = re.compile(r"^by\b\s*:?\s*", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b)\s*", re.IGNORECASE)


def normalise_title(title: str | None) -> str | None:
    if title is None:
        return None
    text = _SPACE.sub(" ", title).strip()
    return text or None


def byline_names(byline: str | None) -> frozenset[str]:
    """The names of a byline, normalised for comparison ("By Jane Doe and X" → {jane doe, x})."""
    if not byline:
        return frozenset()
    text = _BY.sub("", _SPACE.sub(" ", byline).strip()).casefold()
    return frozenset(n for n in (p.strip(" .") for p in _NAME_SPLIT.split(text)) if n)


def byline_matches(expected: str | None, predicted: str | None) -> bool:
    return byline_names(expected) == byline_names(predicted)


def expected_day(published: str) -> tuple[date | None, date | None]:
    """The expected day in UTC and as written (``None`` when it cannot be read)."""
    text = published.strip()
    written: date | None = None
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    if match:
        written = date(int(match[1]), int(match[2]), int(match[3]))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, written
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date(), written


@dataclass(slots=True)
class _Tally:
    title: int = 0
    byline: int = 0
    date: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def scores(self, pages: int, dated: int) -> dict[str, Any]:
        return {
            "title": self.title / pages if pages else 0.0,
            "byline": self.byline / pages if pages else 0.0,
            "date": self.date / dated if dated else 0.0,
            "title_correct": self.title,
            "byline_correct": self.byline,
            "date_correct": self.date,
        }


def _trafilatura_metadata(source: bytes) -> tuple[str | None, str | None, str | None]:
    from trafilatura import extract_metadata as trafilatura_extract_metadata

    tree = parse_html(source)
    # Typed as always returning a Document, but older releases return None for empty pages.
    document: Any = trafilatura_extract_metadata(tree)
    if document is None:
        return None, None, None
    return document.title, document.author, document.date


def evaluate_metadata(pages_dir: Path) -> dict[str, Any]:
    """Score our metadata and trafilatura's on every page folder under ``pages_dir``."""
    pages = sorted(p for p in pages_dir.iterdir() if (p / "expected-metadata.json").is_file())
    ours, theirs = _Tally(), _Tally()
    dated = 0
    seconds = 0.0
    for page in pages:
        expected = json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
        source = (page / "source.html").read_bytes()
        try:
            tree = parse_html(source, resource=page.name)
        except ExtractionError:
            metadata = PageMetadata()
        else:
            started = time.perf_counter()
            metadata = extract_metadata(tree)
            seconds += time.perf_counter() - started
        their_title, their_author, their_date = _trafilatura_metadata(source)

        want_title = normalise_title(expected.get("title"))
        got_title = normalise_title(metadata.title)
        if got_title == want_title:
            ours.title += 1
        else:
            ours.misses.append(
                {"page": page.name, "field": "title", "expected": want_title, "got": got_title}
            )
        theirs.title += normalise_title(their_title) == want_title

        want_byline = expected.get("byline")
        got_byline = ", ".join(metadata.authors) or None
        if byline_matches(want_byline, got_byline):
            ours.byline += 1
        else:
            ours.misses.append(
                {"page": page.name, "field": "byline", "expected": want_byline, "got": got_byline}
            )
        theirs.byline += byline_matches(
            want_byline, their_author.replace(";", ",") if their_author else None
        )

        if expected.get("publishedTime"):
            dated += 1
            utc_day, written_day = expected_day(expected["publishedTime"])
            got_day = metadata.published.date() if metadata.published else None
            if got_day is not None and got_day == utc_day:
                ours.date += 1
            else:
                ours.misses.append(
                    {
                        "page": page.name,
                        "field": "date",
                        "expected": expected["publishedTime"],
                        "got": metadata.published.isoformat() if metadata.published else None,
                    }
                )
            theirs.date += bool(their_date) and their_date == (
                written_day.isoformat() if written_day else None
            )

    return {
        "pages": len(pages),
        "dated_pages": dated,
        "ours": ours.scores(len(pages), dated),
        "trafilatura": theirs.scores(len(pages), dated),
        "ms_per_page": 1000 * seconds / len(pages) if pages else 0.0,
        "misses": ours.misses,
    }
