"""A feed item as the page shows it: pure decisions, no I/O.

The engine gives each item all its reasons, strongest first, each with the action that
changes it; the page adds its own actions (save, more or less like this, hide, follow or
mute the source). Several of those do the same thing: "Mute this story" comes with both
"Top story" and "Growing fast"; "Fewer like this", "Less from this source" and "Less like
this" all record one "less" on the article; "You follow The Wire" offers "Unfollow The
Wire", which the source's own toggle offers too. :func:`item_view` gives each effect one
button: the first reason that offers it keeps it (the reason explains why it is there), and
the menu offers only what no reason does. The item shows one reason line, the strongest; the
rest sit behind "Why this?".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tidings.types import Action, ActionVerb, Reason, TargetKind

#: Other sources named on an item's line: three names fit beside the rest on a phone's line;
#: the story page lists them all.
ALSO_NAMED = 3

Effect = tuple[str, ...]


def reason_effect(action: Action) -> Effect:
    """What a reason's button does, as a key that two buttons with the same effect share.
    (``/reasons`` records "less" on the item's article for both "fewer" verbs.)"""
    verb = action.verb
    target = str(action.target_id)
    if verb in (ActionVerb.FEWER_LIKE_THIS, ActionVerb.LESS_FROM_SOURCE):
        return ("less",)
    if verb is ActionVerb.UNFOLLOW:
        return ("follow", action.target_kind.value, target)
    if verb is ActionVerb.MUTE_TOPIC:
        return ("mute", TargetKind.TOPIC.value, target)
    if verb is ActionVerb.MUTE_ENTITY:
        return ("mute", TargetKind.ENTITY.value, target)
    if verb is ActionVerb.MUTE_STORY:
        return ("mute", TargetKind.STORY.value, target)
    return (verb.value, action.target_kind.value, target)


#: The effects of the menu's own buttons, for an item from source ``{source}``.
MENU = ("save", "more", "less", "hide", "follow_source", "mute_source")


def menu_effect(name: str, source_id: int) -> Effect:
    if name == "follow_source":
        return ("follow", TargetKind.SOURCE.value, str(source_id))
    if name == "mute_source":
        return ("mute", TargetKind.SOURCE.value, str(source_id))
    return (name,)


@dataclass(frozen=True, slots=True)
class ReasonRow:
    """One reason behind "Why this?", with its button unless another row or the menu's
    one already does the same."""

    text: str
    action: Action | None
    #: For a mute: the interest kind and value that undo it (``/interests`` unfollow).
    undo: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Covered:
    """Another source on the item's story."""

    name: str
    article_id: int


@dataclass(frozen=True, slots=True)
class ItemView:
    """What the page needs for one item beyond the engine's ``FeedItem`` and facts."""

    #: The strongest reason's sentence (None when the engine gave none).
    reason: str | None
    #: Every reason, strongest first, each effect's button once.
    reasons: tuple[ReasonRow, ...]
    #: The menu's buttons (names from :data:`MENU`) that no reason already offers.
    menu: tuple[str, ...]
    #: Other sources named on the item's line, and how many more the story has.
    also: tuple[Covered, ...]
    more_sources: int


def item_view(
    reasons: Sequence[Reason], *, source_id: int, covered: Iterable[Covered], source_count: int
) -> ItemView:
    """Decide what one item shows (see the module's docstring). ``covered`` are the other
    sources' articles the engine listed, best first; ``source_count`` counts every source of
    the story, the item's own included."""
    taken: set[Effect] = set()
    rows = []
    for reason in reasons:
        effect = reason_effect(reason.action)
        if effect in taken:
            rows.append(ReasonRow(text=reason.text, action=None))
            continue
        taken.add(effect)
        undo = (effect[1], effect[2]) if effect[0] == "mute" else None
        rows.append(ReasonRow(text=reason.text, action=reason.action, undo=undo))
    menu = tuple(name for name in MENU if menu_effect(name, source_id) not in taken)
    named: list[Covered] = []
    seen = set()
    for c in covered:
        if c.name not in seen:
            seen.add(c.name)
            named.append(c)
    shown = tuple(named[:ALSO_NAMED])
    return ItemView(
        reason=reasons[0].text if reasons else None,
        reasons=tuple(rows),
        menu=menu,
        also=shown,
        more_sources=max(0, source_count - 1 - len(shown)),
    )


#: A time stamp a summary opens with ("04/28/09 07:35 PM ET", "Updated 5/5/2010 1:41 PM",
#: "published: 2012-04-04 11:47:35"; the spaced-out forms "04 / 28 / 09 07: 35 PM" are
#: tokenised news text as ECB+ has it): the item shows its time beside the source already,
#: so the summary's line goes to what happened. A date is required, so that a summary
#: opening with a number ("2 dead in ...") keeps it.
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_LEADING_STAMP = re.compile(
    r"^(?:(?:last\s+)?(?:updated|published|posted|released)\s*:?\s*)?"
    r"(?:\d{1,4}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{1,4}"  # 04/28/09, 2012-04-04
    rf"|{_WEEKDAY}{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # Nov 13, 2007
    rf"|{_WEEKDAY}\d{{1,2}}\s+{_MONTH},?\s+\d{{4}})"  # Tuesday, 20 December 2005
    r"(?:\s*,?\s*(?:at\s+)?\d{1,2}\s*:\s*\d{2}(?:\s*:\s*\d{2})?)?"
    r"(?:\s*[ap]\.?\s?m\.?(?![a-z]))?"
    r"(?:\s+(?:[ecmp][sd]?t|gmt|utc|bst|ces?t)\b)*"
    r"\s*[-\u2013\u2014:|,]?\s*",
    re.IGNORECASE,
)


#: The words a time stamp is made of ("Last Updated: Tuesday, 20 December 2005, 10:39
#: GMT", "APR 28", "updated 8:41 p.m. EST, Tue March 3, 2009"): a title made of nothing else
#: is not a headline (the demo's ECB+ articles are titled by their first sentence, which is
#: sometimes their dateline).
_STAMP_TEXT = (
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april "
    "june july august september october november december mon tue tues wed thu thur "
    "thurs fri sat sun monday tuesday wednesday thursday friday saturday sunday am pm a "
    "p m gmt utc bst est edt cst cdt mst mdt pst pdt et ct pt cet cest updated last "
    "published posted at on of st nd rd th"
)
_STAMP_WORDS = frozenset(_STAMP_TEXT.split())
#: The longest headline made from a summary's first sentence, in characters: about what
#: two lines of the feed's headline hold at 1280 px.
HEADLINE_CHARS = 110


def is_time_stamp(text: str) -> bool:
    """Whether ``text`` says nothing but a date or a time. Pure."""
    words = re.findall(r"[^\W\d_]+|\d+", text.casefold())
    return any(w.isdigit() for w in words) and all(w.isdigit() or w in _STAMP_WORDS for w in words)


def headline(title: str | None, summary: str | None) -> str:
    """The headline a page shows: the title, unless it is only a time stamp and there is a
    summary to say what happened, whose first sentence (cut at a word, with "…") stands in."""
    whole = " ".join((title or "").split())
    if whole and not is_time_stamp(whole):
        # "Nov 13, 2007, 1:17pm EST HP will buy EYP": the headline is what follows.
        rest = _LEADING_STAMP.sub("", whole, count=1)
        return rest if rest != whole and len(rest.split()) >= 3 else whole
    text = " ".join(_LEADING_STAMP.sub("", summary or "", count=1).split())
    if not text:
        return whole
    first = re.match(r"(.{20,}?[.!?])(?=\s|$)", text)
    sentence = first.group(1) if first else text
    if len(sentence) <= HEADLINE_CHARS:
        return sentence
    return sentence[:HEADLINE_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "\u2026"


def summary_after_title(title: str | None, summary: str | None) -> str | None:
    """The summary without the headline it repeats (many feeds' descriptions, and copied
    pages, begin with the title, which the item already shows a line above; where the
    title is only a time stamp, the headline is the summary's first sentence) and without a
    time stamp it opens with (the item shows the time)."""
    if not summary:
        return None
    title = headline(title, summary)
    text = summary.strip()
    unstamped = _LEADING_STAMP.sub("", text, count=1)
    if unstamped.strip():
        text = unstamped
    whole = " ".join((title or "").split())
    head = whole.rstrip(".…")
    # A headline the feed cut short: what follows it in the summary goes on mid-sentence.
    cut = whole.endswith(("…", "..."))
    if head and " ".join(text.split()).casefold().startswith(head.casefold()):
        # Drop as many characters of the summary as the title spans, spaces compared loosely.
        words = len(head.split())
        rest = text.split(None, words)
        text = rest[words] if len(rest) > words else ""
        text = text.lstrip(" .:;,-\u2013\u2014|")
        if text and cut:
            text = "\u2026" + text
        unstamped = _LEADING_STAMP.sub("", text, count=1)
        if unstamped.strip():
            text = unstamped
    return text or None


def ago(moment: datetime | None, now: datetime) -> str:
    """How long ago, as news products say it: "just now", "12 min ago", "3 h ago",
    "2 d ago"; older than a week, the date ("7 Dec", with the year if not this year)."""
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 60 * 60:
        return f"{int(seconds // 60)} min ago"
    if seconds < 24 * 60 * 60:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 7 * 24 * 60 * 60:
        return f"{int(seconds // 86400)} d ago"
    day = moment.astimezone(UTC)
    if day.year == now.astimezone(UTC).year:
        return day.strftime("%-d %b")
    return day.strftime("%-d %b %Y")
