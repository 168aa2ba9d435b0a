"""Readers: who they are, what they follow and mute, what they did, and finding something
to follow.

:class:`Readers` checks a reader's input (names, interests, events, settings) and talks to
storage through its protocol; it is the engine's public sub-façade for readers: callers
reach it as ``engine.readers``. The pure checks of what a reader brings (events, an
article's address, a pasted page) are here too, for the API and the pages to share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tidings.accounts import clean_reader_name
from tidings.errors import (
    BlockedAddressError,
    InvalidInputError,
    InvalidURLError,
    NotFoundError,
    TopicNotFoundError,
)
from tidings.rank.ranker import MAX_PAGE_SIZE
from tidings.rank.state import HISTORY, HISTORY_EVENTS, source_usefulness
from tidings.store.base import Storage
from tidings.suggest import MAX_QUERY_CHARS as MAX_SUGGEST_CHARS
from tidings.suggest import MIN_QUERY_CHARS as MIN_SUGGEST_CHARS
from tidings.suggest import SUGGESTIONS, Suggestion
from tidings.suggest import onboarding_entities as onboarding_choices
from tidings.suggest import suggest as suggest_things
from tidings.types import (
    Article,
    Entity,
    EventKind,
    Interest,
    InterestKind,
    Reader,
    ReaderEvent,
    SourceKind,
    Stance,
    TopicKind,
    TopicTag,
)

#: The largest share of a page given to exploring beyond known interests.
MAX_EXPLORATION = 0.5
#: Longest name or keyword a reader can follow.
MAX_INTEREST_CHARS = 200
#: Longest read time taken as real (seconds): a tab left open overnight is not reading.
MAX_READ_SECONDS = 4 * 60 * 60
#: Events dated further ahead than this are clock errors.
FUTURE_SLACK = timedelta(minutes=5)
#: The name of the hand-kept source that articles readers add themselves are stored under.
CLIPPINGS_SOURCE = "Added by readers"
#: Longest copied page a reader may paste, in characters: a news page copied whole is 5 to
#: 100 kB of text (the shared seed page is 6 kB); five times the longest is still a page.
MAX_PASTE_CHARS = 500_000
#: Share of a paste that may be control characters or undecodable bytes (U+FFFD) before it
#: is taken for a binary file: copied pages have none but tabs and line breaks.
MAX_BINARY_SHARE = 0.01
#: Longest article address taken from a reader (real ones are under 500 characters).
MAX_URL_CHARS = 2048


def paste_problem(text: str) -> str | None:
    """What is wrong with a reader's pasted page text, or None. Pure."""
    if not text.strip():
        return "paste the text of an article page: the box is empty"
    if len(text) > MAX_PASTE_CHARS:
        return (
            f"that is {len(text):,} characters: a copied article page is far shorter "
            f"(at most {MAX_PASTE_CHARS:,}); paste the article's own page, or give its address"
        )
    odd = sum(
        1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\t\n\r\f") or c == "\x7f"
    )
    if "\x00" in text or odd > MAX_BINARY_SHARE * len(text):
        return "that looks like a binary file, not the text of a page"
    return None


def reader_url_problem(url: str) -> str | None:
    """What is wrong with an article address a reader gave, or None. Pure."""
    text = url.strip()
    if not text:
        return "give the article's web address"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return "that is not a web address"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "give the article's web address (starting with https:// or http://)"
    if len(text) > MAX_URL_CHARS:
        return f"that address is longer than {MAX_URL_CHARS} characters"
    return None


def _interest_kind(kind: InterestKind | str) -> InterestKind:
    try:
        return InterestKind(str(kind).lower())
    except ValueError:
        names = ", ".join(k.value for k in InterestKind)
        raise InvalidInputError(f"cannot follow a {kind!r}: choose one of {names}") from None


def event_problem(event: ReaderEvent, now: datetime) -> str | None:
    """What is wrong with an event, or None. Pure."""
    if event.at.tzinfo is None:
        return "its time has no time zone"
    if event.at > now + FUTURE_SLACK:
        return "it is dated in the future"
    if event.article_id < 1:
        return "no article"
    if event.kind is EventKind.READ:
        if event.value is None or not 0 <= event.value <= MAX_READ_SECONDS:
            return f"a read needs its seconds, 0 to {MAX_READ_SECONDS}"
    elif event.kind is EventKind.IMPRESSION:
        if event.value is not None and (event.value < 0 or event.value != int(event.value)):
            return "an impression's position is a whole number from 0"
    elif event.value is not None:
        return "this kind of event carries no value"
    return None


class Readers:
    """Readers and what they say and do, checked, over storage. The engine's public
    sub-façade ``engine.readers``: every method checks its input and takes a reader by id or
    by name."""

    def __init__(
        self, storage: Storage, clock: Callable[[], datetime], changed: Callable[[], None]
    ) -> None:
        self.storage = storage
        self._clock = clock
        #: Called when articles went away with a reader (their pages follow at once).
        self._changed = changed

    def add_reader(self, name: str) -> Reader:
        """A new reader. Raises InvalidInputError for a bad name, ReaderExistsError."""
        return self.storage.add_reader(clean_reader_name(name), created=self._clock())

    def get_reader(self, key: int | str) -> Reader:
        return self.storage.get_reader(key)

    def list_readers(self) -> list[Reader]:
        return self.storage.list_readers()

    def remove_reader(self, key: int | str) -> list[int]:
        """Delete a reader (their account) with everything they said and did, and the
        articles they added that no one else did; returns those articles' ids."""
        try:
            clipped: int | None = self.storage.get_source(f"manual:{CLIPPINGS_SOURCE}").id
        except NotFoundError:
            clipped = None
        gone = self.storage.remove_reader(key, clippings_source=clipped)
        if gone:
            self._changed()
        return gone

    def set_reader_settings(
        self,
        key: int | str,
        *,
        exploration: float | None = None,
        diversity: float | None = None,
    ) -> Reader:
        """Change how adventurous (exploration, 0 to 0.5) and how mixed (diversity, 0 to 1)
        a reader's page is. Raises InvalidInputError for values out of range."""
        reader = self.storage.get_reader(key)
        if exploration is not None:
            if not 0.0 <= exploration <= MAX_EXPLORATION:
                raise InvalidInputError(f"exploration must be between 0 and {MAX_EXPLORATION}")
            reader = replace(reader, exploration=exploration)
        if diversity is not None:
            if not 0.0 <= diversity <= 1.0:
                raise InvalidInputError("diversity must be between 0 and 1")
            reader = replace(reader, diversity=diversity)
        return self.storage.update_reader(reader)

    def follow(self, reader: int | str, kind: InterestKind | str, value: str) -> Interest:
        """Follow a topic, entity, source, author, story or keyword (replacing a mute of it).
        Raises NotFoundError when the thing does not exist, InvalidInputError when the
        value cannot name one."""
        return self._set_interest(reader, kind, value, Stance.FOLLOW)

    def mute(self, reader: int | str, kind: InterestKind | str, value: str) -> Interest:
        """Never show what matches (replacing a follow of it)."""
        return self._set_interest(reader, kind, value, Stance.MUTE)

    def unfollow(self, reader: int | str, kind: InterestKind | str, value: str) -> bool:
        """Forget a follow or a mute; whether there was one."""
        who = self.storage.get_reader(reader)
        resolved, _ = self._resolve_interest(_interest_kind(kind), value)
        return self.storage.remove_interest(who.id, _interest_kind(kind), resolved)

    def interests(self, reader: int | str) -> list[Interest]:
        return self.storage.list_interests(self.storage.get_reader(reader).id)

    def _set_interest(
        self, reader: int | str, kind: InterestKind | str, value: str, stance: Stance
    ) -> Interest:
        who = self.storage.get_reader(reader)
        kind = _interest_kind(kind)
        resolved, label = self._resolve_interest(kind, value)
        interest = Interest(kind=kind, value=resolved, stance=stance, label=label)
        return self.storage.set_interest(who.id, interest, created=self._clock())

    def _resolve_interest(self, kind: InterestKind, value: str) -> tuple[str, str]:
        """The stored value and label of what a reader names (by id or by name)."""
        text = " ".join(value.split())
        if not text or len(text) > MAX_INTEREST_CHARS:
            raise InvalidInputError(
                f"a {kind.value} to follow is 1 to {MAX_INTEREST_CHARS} characters", resource=value
            )
        if kind is InterestKind.ENTITY:
            entity = self.storage.get_entity(int(text) if text.isdigit() else text)
            return str(entity.id), entity.name
        if kind is InterestKind.SOURCE:
            source = self.storage.get_source(int(text) if text.isdigit() else text)
            return str(source.id), source.title or source.url
        if kind is InterestKind.STORY:
            if not text.isdigit():
                raise InvalidInputError("a story is named by its id", resource=value)
            story = self.storage.get_story(int(text))
            return str(story.id), story.headline or f"story {story.id}"
        if kind is InterestKind.TOPIC:
            return self._resolve_topic(text)
        # Authors and keywords are matched case-insensitively, as bylines and text vary.
        return text.casefold(), text

    def _resolve_topic(self, text: str) -> tuple[str, str]:
        from tidings.enrich.relations import relation_named
        from tidings.enrich.topics import load_taxonomy

        if (tag := self.storage.find_topic(text)) is not None:
            return tag.id, tag.label
        folded = text.casefold()
        for topic in load_taxonomy():
            if folded in (topic.id.casefold(), topic.label.casefold()):
                return topic.id, topic.label
        if (relation := relation_named(text)) is not None:
            return relation
        raise TopicNotFoundError(
            f"no such topic: {text} (see `tidings topic list`; relations are named like "
            '"China–Russia relations")',
            resource=text,
        )

    def record_events(self, reader: int | str, items: Sequence[ReaderEvent]) -> int:
        """Store what a reader saw and did. Raises InvalidInputError for a malformed event
        (nothing is stored then), ArticleNotFoundError for an unknown article."""
        who = self.storage.get_reader(reader)
        now = self._clock()
        for event in items:
            problem = event_problem(event, now)
            if problem is not None:
                raise InvalidInputError(f"malformed {event.kind.value} event: {problem}")
        return self.storage.record_events(who.id, items)

    def save_article(self, reader: int | str, article_id: int) -> None:
        self.storage.save_article(self.storage.get_reader(reader).id, article_id, at=self._clock())

    def unsave_article(self, reader: int | str, article_id: int) -> bool:
        return self.storage.unsave_article(self.storage.get_reader(reader).id, article_id)

    def saved_among(self, reader: int | str, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles the reader saved."""
        return self.storage.saved_among(self.storage.get_reader(reader).id, article_ids)

    def unhide(self, reader: int | str, article_id: int) -> bool:
        """Undo the reader's "hide" of an article; whether there was one."""
        who = self.storage.get_reader(reader)
        return bool(self.storage.forget_events(who.id, article_id, [EventKind.HIDE]))

    def is_hidden(self, reader: int | str, article_id: int) -> bool:
        """Whether the reader hid this article (and has not undone it)."""
        who = self.storage.get_reader(reader)
        hides = self.storage.reader_events(who.id, kinds=[EventKind.HIDE], limit=HISTORY_EVENTS)
        return any(e.article_id == article_id for e in hides)

    def has_history(self, reader: int | str) -> bool:
        """Whether the reader has any event (a cheap test, for onboarding)."""
        who = self.storage.get_reader(reader)
        return bool(self.storage.reader_events(who.id, limit=1))

    def clip(
        self,
        reader: int | str,
        *,
        url: str | None,
        text: str | None,
        add_page: Callable[[str], Article],
        add_text: Callable[[str], Article],
        analyse: Callable[[], object] | None,
    ) -> Article:
        """Add an article a reader brings, by its address (``url``, stored by
        ``add_page``) or the text of its copied page (``text``, by ``add_text``), as
        ``tidings article add`` does; analyse it (``analyse``: joined to its story), save it
        for the reader and keep it as their clipping. A reader's address is fetched without
        the operator's network allowances. Raises InvalidInputError or InvalidURLError for
        bad input (nothing is stored then), FetchError when the page cannot be fetched."""
        who = self.storage.get_reader(reader)
        if (url is None) == (text is None):
            raise InvalidInputError("give either an article's address or its page's text")
        if url is not None:
            if (problem := reader_url_problem(url)) is not None:
                raise InvalidURLError(problem, resource=url[:MAX_URL_CHARS])
            try:
                article = add_page(url.strip())
            except BlockedAddressError as e:
                # Not the guard's own message, which tells an operator how to allow it.
                raise InvalidURLError(
                    f"refused: {urlsplit(url.strip()).hostname} is not on the public web "
                    "(Tidings reads articles from public web pages only)",
                    resource=url,
                ) from e
        else:
            assert text is not None
            if (problem := paste_problem(text)) is not None:
                raise InvalidInputError(problem)
            article = add_text(text)
        if analyse is not None:
            analyse()
        now = self._clock()
        self.storage.save_article(who.id, article.id, at=now)
        self.storage.add_clipping(who.id, article.id, at=now)
        return self.storage.get_article(article.id)

    def saved_articles(self, reader: int | str, *, limit: int = 50) -> list[Article]:
        return self.storage.saved_articles(self.storage.get_reader(reader).id, limit=limit)

    # --- finding something to follow (suggest.py) -------------------------------------

    def suggest(self, query: str, *, limit: int = SUGGESTIONS) -> list[Suggestion]:
        """Entities, topics and sources to follow whose names start with what a reader has
        typed (or have a word that does), best first (:func:`tidings.suggest.suggest`).
        Raises InvalidInputError for a query too short or too long to suggest for."""
        text = " ".join(query.split())
        if not MIN_SUGGEST_CHARS <= len(text) <= MAX_SUGGEST_CHARS:
            raise InvalidInputError(
                f"suggestions need {MIN_SUGGEST_CHARS} to {MAX_SUGGEST_CHARS} characters"
            )
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"ask for 1 to {MAX_PAGE_SIZE} suggestions")
        from tidings.enrich.relations import relation_named

        # More candidates than wanted: some are left out as names no reader would follow.
        topics = self.storage.suggest_topics(text, limit=3 * limit)
        if (relation := relation_named(text)) is not None and relation[0] not in {
            t.id for t, _ in topics
        }:
            # A relation can be followed before any article about it (see _resolve_topic).
            topics.append((TopicTag(id=relation[0], label=relation[1], kind=TopicKind.RELATION), 0))
        return suggest_things(
            text,
            entities=self.storage.suggest_entities(text, limit=3 * limit),
            topics=topics,
            sources=[s for s in self.storage.list_sources() if s.kind is not SourceKind.MANUAL],
            limit=limit,
        )

    def onboarding_entities(self, type: str, *, limit: int) -> list[Entity]:
        """The most covered entities of a type that a new reader would recognise
        (:func:`tidings.suggest.onboarding_entities`)."""
        # The filter drops few of the most covered; four times the wanted number is more
        # than it ever dropped on the shared news.
        found = self.storage.list_entities(type=type, limit=4 * limit)
        return onboarding_choices(found, limit=limit)

    def source_usefulness(self, reader: int | str) -> dict[int, tuple[int, int, int]]:
        """Per source id, from the reader's recent history: (articles seen, read, liked);
        see :func:`tidings.rank.state.source_usefulness`."""
        who = self.storage.get_reader(reader)
        history = self.storage.reader_events(
            who.id, since=self._clock() - HISTORY, limit=HISTORY_EVENTS
        )
        ids = list(dict.fromkeys(e.article_id for e in history))
        source_of = {
            f.article_id: f.source_id for f in self.storage.rank_facts(limit=0, article_ids=ids)
        }
        return source_usefulness(history, source_of)

    def topic_page(self, key: str, *, limit: int = 20) -> tuple[TopicTag, list[Article]]:
        """A topic (by id or name; a relation such as "China–Russia relations" even before
        any article) with its newest articles. Raises TopicNotFoundError."""
        topic_id, label = self._resolve_topic(key)
        tag = self.storage.find_topic(topic_id) or TopicTag(id=topic_id, label=label)
        found = self.storage.topic_articles(tag.id, limit=limit)
        return tag, found[:limit]
