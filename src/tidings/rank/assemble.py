"""Page assembly: from a reader's scored candidates to one page of their feed.

Pure decision logic, no I/O. The scorer has already given every candidate article a score
and the reasons behind it; this module decides which of them the reader sees, in what
order, page by page:

1. Mutes are absolute. A candidate whose source, story, topic, entity, author or title
   keyword the reader muted is dropped before anything else looks at it, whatever its
   score; it is not even listed under "also covered by".
2. One item per story. The candidates of a story collapse into one item, represented by
   its best candidate (unread before read, then by score); the story's other sources are
   attached to it as ``also_covered_by``.
3. Already-read stories are demoted: the item's score is multiplied by
   :attr:`PageSettings.read_penalty` (a story counts as read once any of its articles is),
   and a read story never opens a page while an unread one is left.
4. Diversity by maximal marginal relevance (MMR, Carbonell & Goldstein 1998): each slot
   takes the item maximising ``(1 - λ) · relevance - λ · (greatest similarity to an item
   already on the page)``; similarity is the cosine of the embeddings, or the Jaccard
   overlap of topics where an item has no embedding.
5. A cap on items per source per page.
6. Exploration: a share of the slots, spread evenly and never the first, is reserved for
   candidates the scorer marked as exploration (topics new to the reader). Either kind
   fills the other's slots when its own runs out, except that no page opens with
   exploration, so a feed ends when only exploration candidates are left.
7. Stable pagination: a :class:`PageCursor` records every article and story already served
   in the session and the moment of the first page; later pages never repeat them, and
   articles published after that moment wait for a fresh first page.

Ties are broken by article id, so the same input always gives the same page.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import re
import zlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.errors import InvalidCursorError
from tidings.types import CoveredBy, FeedItem, Reason

Vector = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
#: An article's topics as any hashable ids (names, or a vocabulary's codes).
Topics = Sequence[Hashable]

#: How many other sources a feed item lists under "also covered by": what fits on one line
#: of an item in the web page beside the headline's source. The full count is in
#: :attr:`FeedItem.source_count`. A layout judgement, not measured.
ALSO_COVERED_MAX = 5

#: Cursor format version; bump it when the payload changes, and old cursors are refused.
CURSOR_VERSION = 1

#: Longest cursor :meth:`PageCursor.encode` writes and :meth:`PageCursor.decode` accepts:
#: it travels in a query string, and servers cap a request's head (uvicorn's h11 at 16 KiB
#: in all). Ids are delta-coded and compressed: with ids drawn from a window of 10,000
#: recent articles, a cursor is 228 characters after one 30-item page, 908 after ten and
#: 2,194 after forty; at worst (ids scattered over 2^40) about 7 characters an id, some
#: 1,150 items. A session whose cursor would outgrow this ends, and the reader's next page
#: is a fresh first page (see :func:`assemble_page`).
MAX_CURSOR_CHARS = 8_192

#: Most bytes a cursor may inflate to: far above what :data:`MAX_CURSOR_CHARS` of honest
#: compressed JSON holds, far below harm (a forged cursor could otherwise inflate a
#: thousandfold).
_MAX_CURSOR_JSON = 256 * 1024

#: Largest id a cursor may carry: storage ids are signed 64-bit integers.
_MAX_ID = 2**63 - 1

_WORD = re.compile(r"\w+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


# --- input -------------------------------------------------------------------------------


# Not frozen: a page builds about a thousand, and a frozen dataclass's __init__ (one
# object.__setattr__ per field) took three times as long, a tenth of a page's CPU. Nothing
# changes a candidate after it is made.
@dataclass(slots=True, kw_only=True)
class Candidate:
    """An article the scorer proposes for one reader's feed."""

    #: Storage id of the article.
    article_id: int
    #: The story it belongs to; ``None`` for an article no other covers (yet).
    story_id: int | None
    #: Storage id of the source it came from.
    source_id: int
    #: When it was published, in seconds since the epoch (a page makes about a thousand
    #: candidates: datetimes for them cost more than their comparisons).
    published: float
    #: Headline; mute keywords are matched against it.
    title: str = ""
    #: The scorer's score; higher is better, any scale.
    score: float
    #: Unit-length embedding (any one length for all candidates), or ``None`` when the
    #: article has none; diversity then falls back on topics.
    vector: Vector | None = field(default=None, compare=False)
    #: Its topics (for topic mutes, and for diversity when it has no vector).
    topic_ids: tuple[str, ...] = ()
    #: The entities it mentions (for entity mutes).
    entity_ids: tuple[int, ...] = ()
    #: Author names as the source gave them.
    authors: tuple[str, ...] = ()
    #: The scorer's reasons, in any order.
    reasons: tuple[Reason, ...] = ()
    #: Whether the reader has read it.
    read: bool = False
    #: Whether the scorer proposes it to explore beyond the reader's known interests. Such
    #: candidates fill exploration slots, and other slots (never a page's first) only once
    #: the regular candidates run out. A story led by one counts as exploration.
    is_exploration: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSettings:
    """How one reader wants their pages put together.

    The defaults are judgements made before any reader data exists, to be revisited with the
    feed evaluation; each says what it was reasoned from.
    """

    #: Items per page: about two screens on a phone, one on a desktop.
    size: int = 30
    #: Most items one source may have on a page (``None``: no cap). With 3 in 30, the ten
    #: biggest publishers cannot fill a page between them alone (ten sources at most hold
    #: the page only when every one of them hits the cap), while a reader who follows few
    #: sources still gets a page from each. Pages run short rather than break the cap.
    per_source_cap: int | None = 3
    #: The MMR trade-off λ in [0, 1]: 0 ranks by relevance alone, 1 by novelty alone. At 0.3
    #: a near-duplicate (cosine ~0.9) of an item already shown loses about 0.27 of its 0-1
    #: relevance against 0.7 weight on relevance: enough to pass over the third article on
    #: one theme, not enough to bury a clearly more relevant one.
    diversity: float = 0.3
    #: Share of slots in [0, 0.5] reserved for exploration candidates; 0 turns exploration
    #: off. 0.1 is three items in thirty: noticeable, not intrusive.
    exploration: float = 0.1
    #: Multiplier in [0, 1] on the score of an already-read story (a negative score is
    #: pushed down by as much); 0.5 lets a read story reappear only below fresh ones of
    #: similar interest.
    read_penalty: float = 0.5

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"page size must be at least 1, not {self.size}")
        if self.per_source_cap is not None and self.per_source_cap < 1:
            raise ValueError(f"per_source_cap must be at least 1, not {self.per_source_cap}")
        if not 0.0 <= self.diversity <= 1.0:
            raise ValueError(f"diversity must be within [0, 1], not {self.diversity}")
        if not 0.0 <= self.exploration <= 0.5:
            raise ValueError(f"exploration must be within [0, 0.5], not {self.exploration}")
        if not 0.0 <= self.read_penalty <= 1.0:
            raise ValueError(f"read_penalty must be within [0, 1], not {self.read_penalty}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutes:
    """What a reader never wants to see. Absolute: no score brings a muted article back.

    Mutes apply to articles: a story stays visible through those of its articles that no
    mute catches (another source's report on it, without the muted author), except that
    ``story_ids`` removes whole stories.
    """

    #: Articles with any of these topics.
    topic_ids: frozenset[str] = frozenset()
    #: Articles mentioning any of these entities.
    entity_ids: frozenset[int] = frozenset()
    #: Articles from these sources.
    source_ids: frozenset[int] = frozenset()
    #: Author names, matched without regard to case.
    authors: frozenset[str] = frozenset()
    #: Every article of these stories.
    story_ids: frozenset[int] = frozenset()
    #: Words or phrases matched against the title as whole words, without regard to case
    #: ("ai" mutes "AI rules" but not "Said"; "world cup" mutes "World Cup final").
    keywords: frozenset[str] = frozenset()


# --- output ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PageCursor:
    """Where a reader's session stands: what it has served and when it began.

    It carries nothing private (ids of public articles and a time), so it travels unsigned;
    an edited cursor can only change which articles its holder sees next.
    """

    #: The first page's moment: articles published after it wait for a fresh first page.
    snapshot: datetime
    #: Items served so far (the next page's first rank is ``offset + 1``).
    offset: int
    #: Articles shown on earlier pages.
    shown_articles: frozenset[int]
    #: Stories shown on earlier pages.
    shown_stories: frozenset[int]

    def encode(self) -> str:
        """An opaque, URL-safe string; :meth:`decode` turns it back.

        Versioned JSON, its sorted ids written as gaps (recent articles have nearby ids, so
        gaps are short), compressed with zlib, in unpadded base64url.
        """
        payload = {
            "v": CURSOR_VERSION,
            "t": self.snapshot.astimezone(UTC).isoformat(),
            "o": self.offset,
            "a": _gaps(self.shown_articles),
            "s": _gaps(self.shown_stories),
        }
        raw = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 9)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, text: str) -> PageCursor:
        """The cursor :meth:`encode` wrote; :class:`InvalidCursorError` for anything else."""
        if len(text) > MAX_CURSOR_CHARS:
            raise InvalidCursorError("the page cursor is too long")
        if not text or not _BASE64URL.fullmatch(text):
            raise InvalidCursorError("the page cursor is not valid")
        try:
            packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            inflate = zlib.decompressobj()
            raw = inflate.decompress(packed, _MAX_CURSOR_JSON)
            if not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
                raise ValueError("truncated, oversized or trailing data")
            payload = json.loads(raw)
        except (binascii.Error, zlib.error, ValueError) as e:  # UnicodeDecodeError included
            raise InvalidCursorError("the page cursor is not valid") from e
        return cls._from_payload(payload)

    @classmethod
    def _from_payload(cls, payload: Any) -> PageCursor:
        bad = InvalidCursorError("the page cursor is not valid")
        if not isinstance(payload, dict) or set(payload) != {"v", "t", "o", "a", "s"}:
            raise bad
        if not _is_int(payload["v"]) or payload["v"] != CURSOR_VERSION:
            raise InvalidCursorError("the page cursor is from another version; start again")
        stamp, offset = payload["t"], payload["o"]
        if not isinstance(stamp, str) or not _is_int(offset) or not 0 <= offset <= _MAX_ID:
            raise bad
        try:
            snapshot = datetime.fromisoformat(stamp)
        except ValueError as e:
            raise bad from e
        if snapshot.tzinfo is None:
            raise bad
        articles, stories = _ungap(payload["a"]), _ungap(payload["s"])
        if articles is None or stories is None:
            raise bad
        return cls(
            snapshot=snapshot.astimezone(UTC),
            offset=offset,
            shown_articles=articles,
            shown_stories=stories,
        )


def _gaps(ids: frozenset[int]) -> list[int]:
    """Sorted ids as the first and then the differences: ``{3, 10, 12}`` → ``[3, 7, 2]``."""
    ordered = sorted(ids)
    return [b - a for a, b in zip([0, *ordered], ordered, strict=False)]


def _ungap(gaps: object) -> frozenset[int] | None:
    """The ids :func:`_gaps` wrote, or ``None`` if ``gaps`` is not something it writes."""
    if not isinstance(gaps, list) or not all(_is_int(g) for g in gaps):
        return None
    ids = list(itertools.accumulate(gaps))
    # Written from distinct ids >= 0: a first gap >= 0, then gaps >= 1.
    if ids and (gaps[0] < 0 or ids[-1] > _MAX_ID or any(g < 1 for g in gaps[1:])):
        return None
    return frozenset(ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One page of a reader's feed."""

    #: At most :attr:`PageSettings.size` items, in order; fewer when the per-source cap or
    #: the candidates run out.
    items: tuple[FeedItem, ...]
    #: The cursor for the next page; ``None`` when nothing is left to show, or when the
    #: session has grown too long to carry in a cursor (:data:`MAX_CURSOR_CHARS`).
    next_cursor: PageCursor | None


# --- assembly ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """One story's (or lone article's) unmuted candidates."""

    #: The article to show: unread before read, so a story the reader half-read is shown
    #: through an article they have not seen; then best score; then lowest article id.
    best: Candidate
    #: All its candidates, ``best`` included, in no particular order.
    members: list[Candidate]
    #: The score the group is ranked by: ``best``'s, after the read penalty.
    score: float
    #: Whether the reader has read any of them.
    read: bool


def _session(
    cursor: PageCursor | None, now: datetime | None, newest: float | None
) -> tuple[datetime, frozenset[int], frozenset[int], int] | None:
    """Where a page's session stands: its snapshot, the articles and stories already shown
    and the offset, from the previous page's cursor; for a first page, ``now`` or else the
    newest candidate's time (``newest``, seconds), and ``None`` when there is neither."""
    if cursor is not None:
        return cursor.snapshot, cursor.shown_articles, cursor.shown_stories, cursor.offset
    if now is not None:
        return now, frozenset(), frozenset(), 0
    if newest is not None:
        return datetime.fromtimestamp(newest, UTC), frozenset(), frozenset(), 0
    return None


def assemble_page(
    candidates: Iterable[Candidate],
    settings: PageSettings,
    mutes: Mutes,
    *,
    cursor: PageCursor | None = None,
    now: datetime | None = None,
) -> Page:
    """The next page of a reader's feed.

    ``cursor`` is the previous page's :attr:`Page.next_cursor` (``None`` for a first page).
    ``now`` stamps a first page's cursor; by default the newest candidate's publication
    time, which keeps this function a pure function of its arguments.
    """
    pool = list(candidates)
    session = _session(cursor, now, max((c.published for c in pool), default=None))
    if session is None:
        return Page(items=(), next_cursor=None)
    snapshot, shown_articles, shown_stories, offset = session
    if cursor is not None:
        # Articles that arrived after the session began belong to a fresh first page;
        # letting them in here would shift what page 2 holds under the reader's thumb.
        moment = snapshot.timestamp()
        pool = [c for c in pool if c.published <= moment]

    if settings.exploration == 0:
        # Exploration turned off: such candidates have no slot to fill.
        pool = [c for c in pool if not c.is_exploration]
    groups = _collapse(pool, mutes, settings.read_penalty, shown_articles, shown_stories)
    if not groups:
        return Page(items=(), next_cursor=None)
    _unread_first(groups)

    order, regular_left = _select(groups, settings)
    items = tuple(_feed_item(groups[g], offset + position + 1) for position, g in enumerate(order))
    return Page(
        items=items,
        next_cursor=_next_cursor(
            items, regular_left, snapshot, offset, shown_articles, shown_stories
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Pool:
    """Scored candidates as arrays, one row each: what :func:`assemble_pool` takes. The
    same page as :func:`assemble_page` over a :class:`Candidate` per row, without making
    about a thousand objects a page (they and the grouping over them were a sixth of a
    page's CPU)."""

    ids: Ints
    #: Story id, or -1 for none.
    story: Ints
    source: Ints
    #: Epoch seconds.
    published: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    read: Bools
    exploring: Bools
    #: Which rows the reader's mutes catch (as :func:`_muted` decides over candidates).
    muted: Bools
    #: Unit embeddings (any row where ``has_vector`` is false is ignored), or None.
    vectors: npt.NDArray[np.float32] | None
    has_vector: Bools
    #: Each row's topics (any hashable ids) for diversity where a row has no vector.
    topics: Callable[[int], Topics]


def assemble_pool(
    pool: Pool,
    settings: PageSettings,
    *,
    cursor: PageCursor | None = None,
    now: datetime | None = None,
) -> Page:
    """:func:`assemble_page` over a :class:`Pool`: the same page, item for item."""
    n = len(pool.ids)
    ids, score, read = pool.ids, pool.score, pool.read
    keep = np.ones(n, dtype=np.bool_)
    session = _session(cursor, now, float(pool.published.max()) if n else None)
    if session is None:
        return Page(items=(), next_cursor=None)
    snapshot, shown_articles, shown_stories, offset = session
    if cursor is not None:
        keep &= pool.published <= snapshot.timestamp()
    if settings.exploration == 0:
        keep &= ~pool.exploring
    # One item per story (a lone article is its own, keyed apart: -1 - its id), as
    # _collapse: a story counts as shown when any of its candidates was, muted or not.
    key = np.where(pool.story >= 0, pool.story, -1 - ids)
    rows = np.flatnonzero(keep)
    live = rows[~pool.muted[rows]]
    if shown_articles:
        spent = key[rows[np.isin(ids[rows], np.fromiter(shown_articles, np.int64))]]
        live = live[~np.isin(key[live], spent)]
    if shown_stories:
        live = live[~np.isin(key[live], np.fromiter(shown_stories, np.int64))]
    if not len(live):
        return Page(items=(), next_cursor=None)
    # Each story's rows best first (_best_first: unread, then by score, then by id).
    order = live[np.lexsort((ids[live], -score[live], read[live], key[live]))]
    grouped = key[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    best = order[starts]
    group_read = np.logical_or.reduceat(read[order], starts)
    group_score = score[best].astype(np.float64)
    # Multiplying a negative score would raise it; push it down by as much instead.
    group_score[group_read] -= (1.0 - settings.read_penalty) * np.abs(group_score[group_read])
    explore = pool.exploring[best]
    best_ids = ids[best]
    # _unread_first: no read story above the best unread one.
    unread = ~group_read & ~explore
    if unread.any():
        top = float(group_score[unread].max())
        above = np.flatnonzero(group_read & ~explore & (group_score >= top))
        above = above[np.lexsort((best_ids[above], -group_score[above]))]
        step = max(abs(top), 1.0) * 1e-9
        for k, g in enumerate(above.tolist(), 1):
            group_score[g] = top - k * step

    def representatives(indices: Sequence[int]) -> tuple[list[Vector | None], list[Topics]]:
        chosen = best[list(indices)].tolist()
        vectors = pool.vectors
        return (
            [vectors[r] if vectors is not None and pool.has_vector[r] else None for r in chosen],
            [pool.topics(r) for r in chosen],
        )

    picked, regular_left = _select_columns(
        group_score, explore, best_ids, pool.source[best], representatives, settings
    )
    ends = np.r_[starts[1:], len(order)]
    items = []
    for position, g in enumerate(picked):
        row = int(best[g])
        own_source = int(pool.source[row])
        seen_sources = {own_source}
        covered = []
        for other in order[starts[g] + 1 : ends[g]].tolist():
            source = int(pool.source[other])
            if source not in seen_sources:
                seen_sources.add(source)
                covered.append(CoveredBy(article_id=int(ids[other]), source_id=source))
        story = int(pool.story[row])
        items.append(
            FeedItem(
                article_id=int(ids[row]),
                story_id=story if story >= 0 else None,
                source_id=own_source,
                score=float(group_score[g]),
                rank=offset + position + 1,
                reasons=(),
                also_covered_by=tuple(covered[:ALSO_COVERED_MAX]),
                source_count=len(seen_sources),
                exploration=bool(explore[g]),
                read=bool(group_read[g]),
            )
        )
    return Page(
        items=tuple(items),
        next_cursor=_next_cursor(
            tuple(items), regular_left, snapshot, offset, shown_articles, shown_stories
        ),
    )


def _next_cursor(
    items: tuple[FeedItem, ...],
    regular_left: int,
    snapshot: datetime,
    offset: int,
    shown_articles: frozenset[int],
    shown_stories: frozenset[int],
) -> PageCursor | None:
    """The cursor after these items; None when the feed is over (exploration candidates
    never open a page, so once only they are left it is) or the session too long to
    carry."""
    if not items or regular_left <= 0:
        return None
    next_cursor = PageCursor(
        snapshot=snapshot,
        offset=offset + len(items),
        shown_articles=shown_articles | {i.article_id for i in items},
        shown_stories=shown_stories | {i.story_id for i in items if i.story_id is not None},
    )
    if len(next_cursor.encode()) > MAX_CURSOR_CHARS:
        # Hundreds of items into a session: rather than a cursor no server would take,
        # the session ends here and the reader's next page starts a fresh one.
        return None
    return next_cursor


def _unread_first(groups: list[_Group]) -> None:
    """A story the reader has read never leads a page while an unread one is left: read
    groups scoring above the best unread one are moved just below it (in their order), so
    the page opens with news. Exploration groups never open a page anyway."""
    unread = [g.score for g in groups if not g.read and not g.best.is_exploration]
    if not unread:
        return
    best = max(unread)
    above = sorted(
        (g for g in groups if g.read and not g.best.is_exploration and g.score >= best),
        key=lambda g: (-g.score, g.best.article_id),
    )
    step = max(abs(best), 1.0) * 1e-9
    for k, g in enumerate(above, 1):
        g.score = best - k * step


def _best_first(c: Candidate) -> tuple[bool, float, int]:
    return (c.read, -c.score, c.article_id)


def _collapse(
    candidates: Sequence[Candidate],
    mutes: Mutes,
    read_penalty: float,
    shown_articles: frozenset[int],
    shown_stories: frozenset[int],
) -> list[_Group]:
    """Unmuted, unshown candidates grouped by story, in no particular order."""
    muted = _muted(candidates, mutes)
    # Lone articles are keyed by their negated id minus one, apart from story ids (storage
    # ids, never negative).
    by_story: dict[int, list[Candidate]] = {}
    spent: set[int] = set()
    for c in candidates:
        key = c.story_id if c.story_id is not None else -1 - c.article_id
        if c.article_id in shown_articles:
            # A story counts as shown when any of its articles was, even if the story's id
            # changed since (two stories merged, a lone article joined one).
            spent.add(key)
        elif c.article_id not in muted:
            by_story.setdefault(key, []).append(c)
    groups = []
    for key, members in by_story.items():
        if key in spent or key in shown_stories:
            continue
        if len(members) == 1:
            best = members[0]
            read = best.read
        else:
            best = min(members, key=_best_first)
            read = any(c.read for c in members)
        score = best.score
        if read:
            # Multiplying a negative score would raise it; push it down by as much instead.
            score -= (1.0 - read_penalty) * abs(score)
        groups.append(_Group(best, members, score, read))
    return groups


def _muted(candidates: Sequence[Candidate], mutes: Mutes) -> set[int]:
    """Ids of the muted candidates.

    One pass per kind of mute the reader uses, each a tight comprehension: cheaper than one
    predicate testing every kind on every candidate, since most readers use few kinds.
    """
    muted: set[int] = set()
    if sources := mutes.source_ids:
        muted.update([c.article_id for c in candidates if c.source_id in sources])
    if stories := mutes.story_ids:
        muted.update([c.article_id for c in candidates if c.story_id in stories])
    if topics := mutes.topic_ids:
        muted.update([c.article_id for c in candidates if not topics.isdisjoint(c.topic_ids)])
    if entities := mutes.entity_ids:
        muted.update([c.article_id for c in candidates if not entities.isdisjoint(c.entity_ids)])
    if authors := frozenset(a.casefold() for a in mutes.authors):
        muted.update(
            [
                c.article_id
                for c in candidates
                if c.authors and not authors.isdisjoint(map(str.casefold, c.authors))
            ]
        )
    if (mutes_title := title_muter(mutes.keywords)) is not None:
        muted.update([c.article_id for c in candidates if mutes_title(c.title)])
    return muted


def title_muter(keywords: Iterable[str]) -> Callable[[str], bool] | None:
    """Whether a title is muted by any of these keywords (:attr:`Mutes.keywords`, matched as
    whole words without regard to case); None when no keyword has a word."""
    phrases = [w for k in keywords if (w := _WORD.findall(k.casefold()))]
    if not phrases:
        return None
    # Each phrase as whole words; the longest word of each, as a bare substring, screens
    # titles first: Python's re scans for plain alternatives about three times faster
    # than for alternatives with word boundaries, and few titles pass the screen.
    screen = re.compile("|".join(re.escape(max(w, key=len)) for w in phrases))
    alternatives = "|".join(r"\W+".join(map(re.escape, w)) for w in phrases)
    pattern = re.compile(rf"\b(?:{alternatives})\b")

    def muted(title: str) -> bool:
        folded = title.casefold()
        return bool(screen.search(folded) and pattern.search(folded))

    return muted


def exploration_positions(size: int, share: float) -> frozenset[int]:
    """The 0-based slots of a page reserved for exploration: evenly spaced, never the first.

    ``floor(size * share)`` slots at ``round(i * size / (k + 1))`` for ``i = 1..k``, so
    thirty slots at 0.1 reserve 8, 15 and 22.
    """
    k = math.floor(size * share + 1e-9)
    # With share <= 0.5 the spacing size / (k + 1) exceeds 1, so no slot lands on 0.
    return frozenset(round(i * size / (k + 1)) for i in range(1, k + 1))


#: MMR starts on a shortlist of this many times the page size of each pool's most
#: relevant groups, and grows it fourfold whenever a group left out might win a slot (see
#: :func:`_select`). On four sets of 2,000 random candidates (about 1,450 stories) and a
#: 30-item page, the 240-group start sufficed at λ 0.1 always and at λ 0.3 when every
#: candidate had a vector (topic overlaps, larger than random cosines, forced one growth
#: otherwise); λ 0.5-0.7 grew once, to about 625; λ 1 (novelty alone, where relevance
#: rules nothing out) grew to all. Factors 2 and 8 timed no better.
SHORTLIST_FACTOR = 4


def _select(groups: Sequence[_Group], settings: PageSettings) -> tuple[list[int], int]:
    """:func:`_select_columns` over groups of :class:`Candidate` objects."""
    columns = zip(
        *[(g.score, g.best.is_exploration, g.best.article_id, g.best.source_id) for g in groups],
        strict=True,
    )

    def representatives(indices: Sequence[int]) -> tuple[list[Vector | None], list[Topics]]:
        return (
            [groups[i].best.vector for i in indices],
            [groups[i].best.topic_ids for i in indices],
        )

    return _select_columns(
        np.array(next(columns), dtype=np.float64),
        np.array(next(columns), dtype=bool),
        np.array(next(columns), dtype=np.int64),
        np.array(next(columns), dtype=np.int64),
        representatives,
        settings,
    )


def _select_columns(
    scores: npt.NDArray[np.float64],
    explore: npt.NDArray[np.bool_],
    article_ids: npt.NDArray[np.int64],
    source_ids: npt.NDArray[np.int64],
    representatives: Callable[[Sequence[int]], tuple[list[Vector | None], list[Topics]]],
    settings: PageSettings,
) -> tuple[list[int], int]:
    """The page's groups in page order (MMR, caps, exploration), and how many remain.

    Returns the indices of the groups filling the page, and how many regular (not
    exploration) groups are left for later pages.

    Similarity only lowers an item's MMR objective below ``(1 - λ) · relevance``, so a pick
    whose objective is above that bound for the most relevant group left off the shortlist
    is the pick a run over all groups would make. Picks are checked one by one; when the
    check fails, the shortlist grows and the same slot is decided again.
    """
    n = len(scores)
    if not np.isfinite(scores).all():
        raise ValueError("candidate scores must be finite numbers")
    # Sources numbered 0.. so pages can count items per source in an array.
    source_index = np.unique(source_ids, return_inverse=True)[1]
    # Relevance on 0-1 within each pool, so λ weighs like against like whatever the scorer's
    # scale, and exploration candidates compete among themselves.
    relevance = np.zeros(n)
    # Each group's rank by relevance within its pool (ties by article id).
    pool_rank = np.zeros(n, dtype=np.int64)
    for mask in (explore, ~explore):
        members = np.flatnonzero(mask)
        if members.size:
            low, high = scores[members].min(), scores[members].max()
            relevance[members] = (scores[members] - low) / (high - low) if high > low else 1.0
            by_relevance = members[np.lexsort((article_ids[members], -relevance[members]))]
            pool_rank[by_relevance] = np.arange(members.size)

    # From here rows are in order of pool rank, so every shortlist is a prefix of them.
    perm = np.lexsort((article_ids, pool_rank))
    explore, relevance, pool_rank = explore[perm], relevance[perm], pool_rank[perm]
    article_ids, source_index = article_ids[perm], source_index[perm]
    rows = perm.tolist()
    shown_per_source = np.zeros(int(source_index.max()) + 1, dtype=np.int64)
    available = np.ones(n, dtype=bool)
    # Unrelated (or opposite) items neither gain nor lose: penalties start at 0.
    max_similarity = np.zeros(n)
    lam = settings.diversity
    reserved = exploration_positions(settings.size, settings.exploration)
    pools = {True: explore, False: ~explore}
    similarity = _Similarity(n)

    limit = SHORTLIST_FACTOR * settings.size
    m = 0  # the shortlist's length
    order: list[int] = []
    grow = True
    while len(order) < settings.size:
        if grow:
            grown = int(np.searchsorted(pool_rank, limit))
            if lam > 0:
                similarity.extend(*representatives(rows[m:grown]))
            for j in order if lam > 0 else ():
                np.maximum(
                    max_similarity[m:grown],
                    similarity.to(j, m, grown),
                    out=max_similarity[m:grown],
                )
            m = grown
            # The best objective any group left out could reach, per pool.
            ceiling = {
                pool: (1.0 - lam) * float(relevance[m:][mask[m:]].max())
                if mask[m:].any()
                else -np.inf
                for pool, mask in pools.items()
            }
        position = len(order)
        if position == 0:
            tries = [False]
        else:
            tries = [True, False] if position in reserved else [False, True]
        objective = (1.0 - lam) * relevance[:m] - lam * max_similarity[:m]
        chosen = -1
        grow = False
        for pool in tries:
            eligible = available[:m] & pools[pool][:m]
            if not eligible.any():
                grow = ceiling[pool] > -np.inf
                if grow:
                    break
                continue
            masked = np.where(eligible, objective, -np.inf)
            best = masked.max()
            # Strictly above, since a tie with a left-out group of lower id would go to it.
            grow = best <= ceiling[pool]
            if not grow:
                ties = np.flatnonzero(masked == best)
                chosen = int(ties[np.argmin(article_ids[ties])])
            break
        if grow:
            limit *= SHORTLIST_FACTOR
            continue
        if chosen < 0:
            break
        order.append(chosen)
        available[chosen] = False
        s = source_index[chosen]
        shown_per_source[s] += 1
        if settings.per_source_cap is not None and shown_per_source[s] >= settings.per_source_cap:
            available &= source_index != s
        if lam > 0:
            np.maximum(max_similarity[:m], similarity.to(chosen, 0, m), out=max_similarity[:m])
    regular_left = int((~explore).sum()) - int((~explore[order]).sum())
    return [int(perm[i]) for i in order], regular_left


class _Similarity:
    """Similarity between groups: embedding cosine, else topic Jaccard.

    Built row by row as the shortlist grows (:meth:`extend`), since most pages never look
    past the first few hundred groups.
    """

    def __init__(self, n: int) -> None:
        #: The rows' topics so far, out of ``n`` rows.
        self.reps: list[Topics] = []
        self.n = n
        self.has_vector = np.zeros(n, dtype=bool)
        self.vectors: npt.NDArray[np.float32] | None = None
        self.topics = np.zeros((0, 0), dtype=np.float32)
        self.topic_count = np.zeros(0, dtype=np.float32)

    def extend(self, vectors: Sequence[Vector | None], topics: Sequence[Topics]) -> None:
        """Add rows for the next representatives in shortlist order: their vectors (None
        for none) and topics (any hashable ids)."""
        start = len(self.reps)
        self.reps.extend(topics)
        m = len(self.reps)
        rows = [i for i, v in enumerate(vectors, start=start) if v is not None]
        present = [v for v in vectors if v is not None]
        if present:
            try:
                stacked = np.stack(present)
            except ValueError as e:
                raise ValueError("candidate vectors must all have one length") from e
            if self.vectors is None and stacked.ndim == 2:
                self.vectors = np.zeros((self.n, stacked.shape[1]), dtype=np.float32)
            if self.vectors is None or stacked.shape[1:] != self.vectors.shape[1:]:
                raise ValueError("candidate vectors must all have one length")
            self.vectors[rows] = stacked
            self.has_vector[rows] = True
        if self.has_vector[:m].all():
            return  # cosines only: the topic matrix would go unused
        # Topics are few per article; rebuilding the matrix on each (rare) growth is cheaper
        # than keeping a growable one.
        index: dict[Hashable, int] = {}
        cells = [
            (i, index.setdefault(t, len(index)))
            for i, found in enumerate(self.reps)
            for t in set(found)
        ]
        self.topics = np.zeros((m, len(index)), dtype=np.float32)
        if cells:
            r, k = zip(*cells, strict=True)
            self.topics[list(r), list(k)] = 1.0
        self.topic_count = self.topics.sum(axis=1)

    def to(self, j: int, start: int, stop: int) -> npt.NDArray[np.float64]:
        """Similarity of rows ``[start, stop)`` to row ``j``."""
        if self.vectors is not None and self.has_vector[j]:
            # einsum's own loop rather than BLAS: on a busy host, threaded BLAS made each
            # matrix-vector product of 1,300 rows take milliseconds instead of 0.1 ms.
            cosine: npt.NDArray[np.float64] = np.einsum(
                "ij,j->i", self.vectors[start:stop], self.vectors[j]
            ).astype(np.float64)
            if self.has_vector[start:stop].all():
                return cosine
            mixed: npt.NDArray[np.float64] = np.where(
                self.has_vector[start:stop], cosine, self._jaccard(j, start, stop)
            )
            return mixed
        return self._jaccard(j, start, stop)

    def _jaccard(self, j: int, start: int, stop: int) -> npt.NDArray[np.float64]:
        common = (self.topics[start:stop] @ self.topics[j]).astype(np.float64)
        union = self.topic_count[start:stop] + self.topic_count[j] - common
        jaccard: npt.NDArray[np.float64] = np.divide(
            common, union, out=np.zeros_like(common), where=union > 0
        )
        return jaccard


def _feed_item(group: _Group, rank: int) -> FeedItem:
    shown = group.best
    others = sorted((c for c in group.members if c is not shown), key=_best_first)
    seen_sources = {shown.source_id}
    covered = []
    # Best first, so the first article met from each source is its best.
    for c in others:
        if c.source_id not in seen_sources:
            seen_sources.add(c.source_id)
            covered.append(CoveredBy(article_id=c.article_id, source_id=c.source_id))
    return FeedItem(
        article_id=shown.article_id,
        story_id=shown.story_id,
        source_id=shown.source_id,
        score=group.score,
        rank=rank,
        reasons=tuple(sorted(shown.reasons, key=lambda r: (-r.weight, r.kind, r.text))),
        also_covered_by=tuple(covered[:ALSO_COVERED_MAX]),
        source_count=len(seen_sources),
        exploration=shown.is_exploration,
        read=group.read,
    )


def _is_int(value: object) -> bool:
    # JSON true/false arrive as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)
