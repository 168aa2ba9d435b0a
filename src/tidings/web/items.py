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
    reasons: Sequence[Reason],
    *,
    source_id: int,
    covered: Iterable[Covered],
    source_count: int,
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


def summary_after_title(title: str | None, summary: str | None) -> str | None:
    """The summary without the headline it repeats: many feeds' descriptions (and copied
    pages) begin with the title, which the item already shows a line above."""
    if not summary:
        return None
    text = summary.strip()
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
