"""The storage protocol: everything the rest of Tidings may ask of a database.

One protocol per domain (sources, articles, enrichment, findings, readers, accounts,
ranking); :class:`Storage` is all of them. Implementations:
:class:`tidings.store.sql.SQLStorage` (SQLite and PostgreSQL through SQLAlchemy Core).
Every method raises :class:`~tidings.errors.StorageError` when the database fails (no driver
exception escapes); each method's docstring names the errors it raises besides, all
subclasses of :class:`~tidings.errors.TidingsError`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tidings.types import (
    Account,
    Article,
    ArticleDraft,
    ArticleFacts,
    ArticleInsight,
    Enrichment,
    Entity,
    EventKind,
    FoundEntity,
    Interest,
    InterestKind,
    PagePolicy,
    Quote,
    RankingChanges,
    Reader,
    ReaderEvent,
    Source,
    SourceHealth,
    SourceKind,
    Stance,
    Story,
    StoryChange,
    StoryMember,
    StoryState,
    Token,
    TokenKind,
    TopicKind,
    TopicTag,
    UpsertResult,
)

_NON_WORD = re.compile(r"[^\w]+")


def entity_key(name: str) -> str:
    """The normalised form entity names are stored and looked up by: case, accents, dots,
    punctuation and a leading "the" do not matter ("U.S." and "US", "the Kremlin" and
    "Kremlin"). It is the format of stored keys, so changing it needs a migration that
    recomputes them."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace(".", "")
    text = _NON_WORD.sub(" ", text).strip()
    if text.startswith("the "):
        text = text[4:]
    return text


@dataclass(frozen=True, slots=True)
class EntityCandidate:
    """A stored entity that a lookup by key found, as an :class:`EntityMatcher` sees it."""

    id: int
    name: str
    type: str
    article_count: int


#: Event kinds by their code in :attr:`EventColumns.kind`.
EVENT_KINDS: tuple[EventKind, ...] = tuple(EventKind)
EVENT_CODES: dict[EventKind, int] = {k: i for i, k in enumerate(EVENT_KINDS)}


@dataclass(frozen=True, slots=True)
class EventColumns:
    """A reader's events as columns, newest first: what :meth:`ReaderStorage.reader_events`
    gives as objects, for readers of many events at once (a page reads up to 2,000, and
    making an object of each was most of that read's time)."""

    #: Each event's kind, as its index in :data:`EVENT_KINDS`.
    kind: npt.NDArray[np.int8]
    article_id: npt.NDArray[np.int64]
    #: When, in UTC (microseconds).
    at: npt.NDArray[np.datetime64]
    #: ``ReaderEvent.value``, and whether it has one (where not, ``value`` holds 0).
    value: npt.NDArray[np.float64]
    has_value: npt.NDArray[np.bool_]
    #: ``ReaderEvent.features``.
    features: tuple[bytes | None, ...]

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def of(cls, events: Sequence[ReaderEvent]) -> EventColumns:
        """These events as columns."""
        n = len(events)
        return cls(
            kind=np.fromiter((EVENT_CODES[e.kind] for e in events), dtype=np.int8, count=n),
            article_id=np.fromiter((e.article_id for e in events), dtype=np.int64, count=n),
            at=np.array(
                [e.at.astimezone(UTC).replace(tzinfo=None) for e in events],
                dtype="datetime64[us]",
            ),
            value=np.fromiter((e.value or 0.0 for e in events), dtype=np.float64, count=n),
            has_value=np.fromiter((e.value is not None for e in events), dtype=np.bool_, count=n),
            features=tuple(e.features for e in events),
        )

    def event(self, i: int) -> ReaderEvent:
        """The ``i``-th event as an object."""
        return ReaderEvent(
            kind=EVENT_KINDS[int(self.kind[i])],
            article_id=int(self.article_id[i]),
            at=self.at[i].item().replace(tzinfo=UTC),
            value=float(self.value[i]) if self.has_value[i] else None,
            features=self.features[i],
        )

    def events(self) -> list[ReaderEvent]:
        """Every event as an object, as :meth:`ReaderStorage.reader_events` gives them."""
        return [self.event(i) for i in range(len(self))]


class EntityMatcher(Protocol):
    """The rules that decide which stored entity an entity found in a new article is.

    :meth:`EnrichmentStorage.save_enrichments` looks up the candidates (in bulk, once per
    batch), asks the matcher, and writes what it decided, all in one transaction; the
    matcher does no I/O. The rules live with enrichment:
    :class:`tidings.enrich.linking.EntityRules`.
    """

    def choose(
        self,
        found: FoundEntity,
        by_name: Sequence[EntityCandidate],
        by_alias: Sequence[EntityCandidate],
    ) -> tuple[EntityCandidate | None, bool]:
        """The stored entity ``found`` is (None for a new one), and whether to rename it to
        ``found.name``. ``by_name`` are the stored entities with ``entity_key(found.name)``
        among their keys, ``by_alias`` those with the key of one of ``found.aliases`` among
        theirs, each by id. Raises nothing."""

    def aliases(self, name: str, current: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
        """The aliases to store for an entity named ``name`` that has ``current`` and was
        just found under ``new`` too. Raises nothing."""


class SourceStorage(Protocol):
    """Sources and their polling state."""

    def add_source(
        self,
        url: str,
        *,
        kind: SourceKind = SourceKind.FEED,
        title: str | None = None,
        site: str | None = None,
        tags: Sequence[str] = (),
        pages: PagePolicy = PagePolicy.AUTO,
        added: datetime,
        operator: bool = False,
    ) -> Source:
        """Store a new source, due for polling at once (``operator``: added by the operator,
        see :attr:`tidings.types.Source.operator`). Raises SourceExistsError."""

    def get_source(self, key: int | str) -> Source:
        """The source with this id (int) or URL (str). Raises SourceNotFoundError."""

    def list_sources(
        self,
        *,
        due_at: datetime | None = None,
        tag: str | None = None,
        kinds: Sequence[SourceKind] | None = None,
    ) -> list[Source]:
        """Sources ordered by id; with ``due_at``, only those whose ``next_poll`` is
        ``None`` or not after it; with ``tag``, only those carrying it. Raises only
        StorageError."""

    def source_health(self) -> list[SourceHealth]:
        """Every source with its article count and newest article date, ordered by id.
        Raises only StorageError."""

    def update_source(self, source: Source) -> Source:
        """Write every mutable field of ``source`` (all but id, url, added) and return
        it as stored. Raises SourceNotFoundError."""

    def remove_source(self, key: int | str) -> None:
        """Delete a source and the articles that came only from it (those it shared
        move to the source that saw them first). Raises SourceNotFoundError."""


class ArticleStorage(Protocol):
    """Articles: stored idempotently, read back, searched."""

    def upsert_articles(
        self,
        source_id: int,
        drafts: Sequence[ArticleDraft],
        *,
        fetched_at: datetime,
        followed: Collection[str] = (),
    ) -> UpsertResult:
        """Store articles idempotently, in one transaction.

        An article is identified by its ``guid`` within the source, or else by its
        ``canonical_url`` across all sources (a story that appears in two feeds of one
        publisher is one article). A known article is rewritten in place only when its
        content hash changed; otherwise nothing is written. Drafts with neither guid nor
        canonical URL are identified by their content hash within the source.

        New and rewritten articles join the analysis queue, ahead of the rest when the
        source is followed or their content hash is in ``followed``. Raises
        SourceNotFoundError.
        """

    def find_articles(
        self,
        source_id: int,
        *,
        guids: Sequence[str] = (),
        canonical_urls: Sequence[str] = (),
    ) -> list[Article]:
        """Stored articles that these keys identify, as ``upsert_articles`` would match
        them: this source's articles with one of ``guids``, and any source's articles with
        one of ``canonical_urls``. Each article at most once, in no particular order.
        Raises only StorageError."""

    def articles_by_address(self, urls: Sequence[str]) -> dict[str, Article]:
        """The stored articles with these canonical URLs, or else these addresses
        (``Article.url``), by the URL asked for (the oldest where two share one). Raises
        only StorageError."""

    def get_article(self, article_id: int) -> Article:
        """Raises ArticleNotFoundError."""

    def list_articles(
        self,
        *,
        source_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Article]:
        """Articles newest first (by published, then id); with ``source_id``, those the
        source owns (``Article.source_id``), not those it merely also carried. Raises only
        StorageError."""

    def count_articles(self, *, source_id: int | None = None) -> int:
        """How many articles are stored (from one source, if given). Raises only
        StorageError."""

    def search_articles(
        self, query: str, *, limit: int = 20, offset: int = 0
    ) -> list[tuple[Article, float]]:
        """Articles matching every word of ``query`` (stemmed), best first, with their
        relevance (higher is better; comparable within one query only). Raises only
        StorageError."""


class EnrichmentStorage(Protocol):
    """What the enrichment stage reads and writes: analyses, entities matched across
    articles, stories, duplicate signatures, vectors."""

    def articles_to_enrich(
        self, *, limit: int, after_id: int = 0, everything: bool = False
    ) -> list[Article]:
        """Up to ``limit`` articles with id above ``after_id``, by id, whose current
        version has not been analysed (with ``everything``, all articles). Raises only
        StorageError."""

    def count_to_enrich(self, *, everything: bool = False) -> int:
        """How many articles :meth:`articles_to_enrich` would go through. Raises only
        StorageError."""

    def save_enrichments(
        self,
        items: Sequence[Enrichment],
        *,
        enriched_at: datetime,
        matcher: EntityMatcher,
        owner: str | None = None,
        quick: bool = False,
    ) -> dict[int, dict[str, int]]:
        """Store analyses in one transaction, replacing any earlier one of the same article
        (its story is kept). Each found entity is matched to a stored one or stored as new,
        as ``matcher`` decides; entity keys, aliases, article counts and dates are kept up
        to date. Returns, per article id, the stored entity id of each found entity name.
        Articles deleted meanwhile are skipped.

        With ``owner`` (a worker of the analysis queue), only analyses of articles it still
        holds the lease on, of their current version, are stored; the queue is left to
        :meth:`WorkStorage.finish_analysis`. Without, matching queue entries are taken off
        at once. ``quick``: first-pass analyses (title and lead). Raises only
        StorageError."""

    def open_stories(self, since: datetime) -> list[StoryState]:
        """Clustering state of the stories last seen at or after ``since``. Raises only
        StorageError."""

    def entity_frequencies(self, entity_ids: Sequence[int]) -> tuple[dict[int, int], int]:
        """Article counts of these entities, and the number of analysed articles. Raises
        only StorageError."""

    def recent_signatures(
        self, since: datetime
    ) -> list[tuple[int, bytes, bytes | None, int | None]]:
        """``(article_id, signature, vector, duplicate_of)`` of analysed articles published
        since, by id. Raises only StorageError."""

    def stories_of(self, article_ids: Sequence[int]) -> dict[int, int]:
        """The story id of each of these articles that has one. Raises only StorageError."""

    def story_members(
        self, story_ids: Sequence[int], *, limit: int = 50
    ) -> dict[int, list[StoryMember]]:
        """Each stored story's latest ``limit`` members with an embedding, newest first,
        with their vectors and the entities they name: what clustering needs of a story it
        has not met in this process. Raises only StorageError."""

    def save_stories(self, changes: Sequence[StoryChange]) -> dict[int | None, int]:
        """Write stories back after clustering, in one transaction: update or create each,
        move the articles of absorbed stories, file new members. Returns each change's
        story id by its position in ``changes``. Raises only StorageError."""

    def article_vector(self, article_id: int) -> bytes | None:
        """The stored embedding of an analysed article. Raises only StorageError."""

    def article_vectors(self, *, after_id: int = 0, limit: int = 10_000) -> list[tuple[int, bytes]]:
        """``(article_id, vector)`` by id, for rebuilding a vector index. Raises only
        StorageError."""


class FindingsStorage(Protocol):
    """What enrichment found, as pages read it: an article's analysis, entities, stories,
    topics."""

    def article_insight(self, article_id: int) -> ArticleInsight | None:
        """What enrichment found in an article; None when it has not been analysed.
        Raises ArticleNotFoundError."""

    def list_entities(
        self,
        *,
        type: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Entity]:
        """Entities named in at least one article, most often named first; ``query``
        matches any of their names in part. Raises only StorageError."""

    def suggest_entities(self, query: str, *, limit: int = 20) -> list[Entity]:
        """Entities named in at least one article one of whose names (by ``entity_key``)
        starts with ``query`` or has a word that does, most often named first. Raises only
        StorageError."""

    def get_entity(self, key: int | str) -> Entity:
        """By id, or by any of its names. Raises EntityNotFoundError."""

    def entity_articles(self, entity_id: int, *, limit: int = 50) -> list[Article]:
        """Articles naming the entity, newest first. Raises only StorageError."""

    def entity_quotes(self, entity_id: int, *, limit: int = 20) -> list[Quote]:
        """Quotes attributed to the entity, newest articles first. Raises only
        StorageError."""

    def list_stories(
        self, *, since: datetime | None = None, limit: int = 50, offset: int = 0
    ) -> list[Story]:
        """Stories, most recently active first. Raises only StorageError."""

    def get_story(self, story_id: int) -> Story:
        """Raises StoryNotFoundError."""

    def story_articles(self, story_id: int) -> list[Article]:
        """The story's articles, newest first. Raises only StorageError."""

    def find_topic(self, name: str) -> TopicTag | None:
        """A stored topic by its id or label, ignoring case. Raises only StorageError."""

    def topic_articles(self, topic_id: str, *, limit: int = 20) -> list[Article]:
        """The newest ``limit`` articles carrying a topic (by the order they were stored),
        newest published first. Raises only StorageError."""

    def list_topics(self, *, kind: TopicKind | None = None) -> list[tuple[TopicTag, int]]:
        """Every topic used, with its article count, most used first. Raises only
        StorageError."""

    def suggest_topics(self, query: str, *, limit: int = 20) -> list[tuple[TopicTag, int]]:
        """Stored topics whose label (ignoring case) starts with ``query`` or has a word
        that does (words split at spaces and dashes), with their article counts, most
        used first. Raises only StorageError."""


class ReaderStorage(Protocol):
    """Readers and what they say and do.

    Every method taking a reader_id raises ReaderNotFoundError for an unknown reader and
    reads or writes that reader's rows only.
    """

    def add_reader(
        self, name: str, *, created: datetime, exploration: float = 0.1, diversity: float = 0.3
    ) -> Reader:
        """Raises ReaderExistsError."""

    def get_reader(self, key: int | str) -> Reader:
        """By id (int) or name (str). Raises ReaderNotFoundError."""

    def list_readers(self) -> list[Reader]:
        """By id. Raises only StorageError."""

    def update_reader(self, reader: Reader) -> Reader:
        """Write the reader's settings (exploration, diversity). Raises
        ReaderNotFoundError."""

    def remove_reader(self, key: int | str, *, clippings_source: int | None = None) -> list[int]:
        """Delete a reader with everything they said and did, in one transaction. With
        ``clippings_source``, the articles of that source which they clipped, no other
        reader clipped and no other source carried go too (they are in the database only
        because of this reader); returns those articles' ids. Raises
        ReaderNotFoundError."""

    def add_clipping(self, reader_id: int, article_id: int, *, at: datetime) -> None:
        """Record that the reader added this article themselves (idempotent). Raises
        ReaderNotFoundError, ArticleNotFoundError."""

    def clipped_articles(
        self, reader_id: int, *, limit: int = 50, offset: int = 0
    ) -> list[tuple[Article, datetime]]:
        """The articles the reader added themselves, with when, most recent first. Raises
        ReaderNotFoundError."""

    def set_interest(self, reader_id: int, interest: Interest, *, created: datetime) -> Interest:
        """Follow or mute something, replacing an earlier stance on the same thing.
        Raises ReaderNotFoundError."""

    def remove_interest(self, reader_id: int, kind: InterestKind, value: str) -> bool:
        """Forget a follow or mute; whether there was one. Raises ReaderNotFoundError."""

    def list_interests(self, reader_id: int, *, stance: Stance | None = None) -> list[Interest]:
        """The reader's follows and mutes, by kind then age. Raises ReaderNotFoundError."""

    def record_events(self, reader_id: int, items: Sequence[ReaderEvent]) -> int:
        """Store events, all or none, and add them to the engagement counts; how many.
        Raises ReaderNotFoundError, ArticleNotFoundError (naming an unknown article)."""

    def keep_impression_features(
        self, reader_id: int, rows: Sequence[tuple[int, datetime, bytes]]
    ) -> int:
        """Store ``(article_id, at, features)`` on the reader's impressions of those articles
        at those moments (recorded without features, or with features of another set),
        replacing what they had; how many took them. Raises ReaderNotFoundError."""

    def reader_events(
        self,
        reader_id: int,
        *,
        since: datetime | None = None,
        kinds: Sequence[EventKind] | None = None,
        limit: int = 1000,
    ) -> list[ReaderEvent]:
        """The reader's events, newest first. Raises ReaderNotFoundError."""

    def reader_event_columns(
        self, reader_id: int, *, since: datetime | None = None, limit: int = 1000
    ) -> EventColumns:
        """:meth:`reader_events` (of every kind) as columns. Raises ReaderNotFoundError."""

    def save_article(self, reader_id: int, article_id: int, *, at: datetime) -> None:
        """Idempotent. Raises ReaderNotFoundError, ArticleNotFoundError."""

    def unsave_article(self, reader_id: int, article_id: int) -> bool:
        """Whether it was saved. Raises ReaderNotFoundError."""

    def saved_articles(self, reader_id: int, *, limit: int = 50, offset: int = 0) -> list[Article]:
        """Most recently saved first. Raises ReaderNotFoundError."""

    def saved_among(self, reader_id: int, article_ids: Sequence[int]) -> set[int]:
        """Which of these articles the reader saved. Raises ReaderNotFoundError."""

    def forget_events(self, reader_id: int, article_id: int, kinds: Sequence[EventKind]) -> int:
        """Delete the reader's events of these kinds about an article (an undone "hide");
        how many. Engagement counts are left as they are. Raises ReaderNotFoundError."""


class AccountStorage(Protocol):
    """How readers sign in and are reached: accounts and tokens."""

    def get_account(self, reader_id: int) -> Account:
        """The reader's account (defaults when none was stored). Raises
        ReaderNotFoundError."""

    def update_account(self, reader_id: int, *, now: datetime, **changes: Any) -> Account:
        """Set some of ``email``, ``password_hash``, ``digest`` and ``digest_last_sent``,
        making the account at ``now`` if needed. Raises ReaderNotFoundError, and
        ValueError for any other field."""

    def password_hash(self, name: str) -> tuple[int, str] | None:
        """The reader id and stored password hash of the reader named so, if they have one.
        Raises only StorageError."""

    def accounts_with_digests(self) -> list[Account]:
        """Accounts with an email address and digests on (due or not). Raises only
        StorageError."""

    def add_token(
        self,
        reader_id: int,
        *,
        kind: TokenKind,
        name: str,
        secret_hash: str,
        created: datetime,
        expires: datetime | None = None,
    ) -> Token:
        """Store a token by its secret's hash. Raises ReaderNotFoundError."""

    def token_by_secret(self, secret_hash: str) -> Token | None:
        """The token with this secret hash, revoked and expired ones included. Raises only
        StorageError."""

    def touch_token(self, token_id: int, *, at: datetime) -> None:
        """Note that the token was used (an unknown id changes nothing). Raises only
        StorageError."""

    def list_tokens(self, reader_id: int, *, kind: TokenKind | None = None) -> list[Token]:
        """The reader's unrevoked tokens, oldest first. Raises ReaderNotFoundError."""

    def revoke_tokens(
        self,
        reader_id: int,
        *,
        at: datetime,
        token_id: int | None = None,
        kind: TokenKind | None = None,
    ) -> int:
        """Revoke the reader's tokens (one by id, or all of a kind, or all); how many.
        Another reader's token id revokes nothing. Raises ReaderNotFoundError."""

    def hit_rate_limit(self, key: str, *, limit: int, window: float, now: datetime) -> float:
        """Count an attempt for ``key`` (at most 64 characters) in a sliding window of
        ``window`` seconds shared by every process: 0 when it is allowed, else the seconds
        until one will be (a refused attempt is not counted). Raises only StorageError."""

    def clear_rate_limits(self, prefix: str) -> None:
        """Forget the attempts counted for keys starting with ``prefix``. Raises only
        StorageError."""


class RankingStorage(Protocol):
    """What ranking reads, and the models it learns from all readers."""

    def rank_facts(
        self,
        *,
        since: datetime | None = None,
        limit: int = 2000,
        article_ids: Sequence[int] = (),
    ) -> list[ArticleFacts]:
        """What ranking needs of analysed articles: the ``limit`` newest (published since
        ``since``), plus those of ``article_ids``. Skipped articles are left out. Raises
        only StorageError."""

    def display_facts(self, article_ids: Sequence[int]) -> list[ArticleFacts]:
        """What a page shows of these analysed articles (headline, summary, address,
        picture, source, story counts; no embedding, topics or entities: ranking holds
        those), in no particular order. Raises only StorageError."""

    def entity_names(self, entity_ids: Sequence[int]) -> dict[int, str]:
        """The names of these entities (those that exist). Raises only StorageError."""

    def window_facts(
        self, *, since: datetime, after_id: int = 0, limit: int = 5000
    ) -> list[ArticleFacts]:
        """Ranking's facts of the analysed articles published since ``since`` with an id
        above ``after_id``, by id, at most ``limit`` (the pages a serving process reads its
        window in). Entity names are left empty: the window keeps ids. Raises only
        StorageError."""

    def engagement_since(self, since: datetime) -> list[tuple[int, int, int, int]]:
        """Per article and UTC day from ``since``'s day on: ``(article id, day, readers
        shown, readers engaged)``. Counts only, never who. Raises only StorageError."""

    def change_position(self) -> int:
        """The highest number the change sequence has handed out (committed or not): where a
        process that has just read everything starts following. Raises only
        StorageError."""

    def ranking_changes(
        self, *, after: int, also: Sequence[int] = (), limit: int = 5000
    ) -> RankingChanges:
        """What changed for ranking with numbers above ``after`` (or among ``also``, numbers
        looked for again): whole numbers only, in a prefix of the sequence of about
        ``limit`` rows per kind. Raises only StorageError."""

    def reader_stamp(self, reader_id: int) -> tuple[object, ...]:
        """Values that change whenever the reader does something that should change their
        page at once (an event other than an impression, a follow or mute, a setting), when
        something they follow gets a new article, and when every page goes stale (a source
        removed, new weights), whichever process wrote it: equal stamps, same inputs. Empty
        for a reader who does not exist. Raises only StorageError."""

    def latest_follow_mark(self) -> int:
        """The change number of the latest news of anything followed (or of every page
        going stale; see :meth:`reader_stamp`), 0 before any. Raises only StorageError."""

    def load_model(self, name: str) -> tuple[str, datetime, int] | None:
        """A stored model's JSON payload, when it was fitted and from how many examples.
        Raises only StorageError."""

    def save_model(self, name: str, payload: str, *, fitted_at: datetime, examples: int) -> None:
        """Store (or replace) a model. Raises only StorageError."""


@dataclass(frozen=True, slots=True)
class AnalysisChange:
    """An article whose analysis was written (or rewritten) after a change position."""

    article_id: int
    #: Its embedding; None when the article is not analysed in full (skipped).
    vector: bytes | None
    #: Its near-duplicate signature (when asked for), and the article it copies.
    signature: bytes | None
    duplicate_of: int | None
    #: When it was published (or first fetched).
    dated: datetime


@dataclass(frozen=True, slots=True)
class AnalysisChanges:
    """What :meth:`WorkStorage.analysis_changes` found."""

    changed: tuple[AnalysisChange, ...]
    #: Articles deleted (their source removed).
    removed: tuple[int, ...]
    #: The change numbers read, for :class:`tidings.store.changes.ChangeFollower`.
    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AnalysisClaim:
    """An article leased to a worker for analysis (:meth:`WorkStorage.claim_analysis`)."""

    article: Article
    #: Whether it has no analysis yet (else a quick one is stored: it waits for its full one).
    first: bool
    #: Whether it names something a reader follows (it went before the rest).
    followed: bool
    #: When this version of it was stored (freshness is counted from here).
    queued: datetime
    #: The quick pass's embedding of this version, which the full pass uses again.
    vector: bytes | None


class WorkStorage(Protocol):
    """What processes sharing one database need to share work and follow each other:
    leases on due sources, pending articles and due digests (a worker that dies lets its
    work go when the lease runs out), the lock of the analysis steps that look across
    articles, the database's identity and the analyses written since a change position.

    ``owner`` names a worker (host, process, thread); ``until`` is when its lease runs out.
    """

    def claim_sources(
        self,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[Source]:
        """Lease feeds and local sources no one else holds: those due at ``now`` (those
        with the most followers first, then the longest due), or those of ``ids`` whether
        due or not. At most ``limit``; returned in that order. Raises only StorageError."""

    def release_sources(self, owner: str, ids: Sequence[int]) -> None:
        """End ``owner``'s leases on these sources. Raises only StorageError."""

    def claim_analysis(
        self,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        first_only: bool = False,
    ) -> list[AnalysisClaim]:
        """Lease up to ``limit`` articles waiting for analysis that no one else holds, in
        the queue's order: without any analysis first (only those with ``first_only``),
        then waiting for the full one; naming something followed first; newest first.
        Raises only StorageError."""

    def finish_analysis(self, owner: str, done: Sequence[tuple[int, str]], *, quick: bool) -> None:
        """``(article id, content hash)`` analysed by ``owner``: a quick pass leaves them
        waiting for the full one, a full pass takes them off the queue, unless a newer
        version was queued meanwhile. Their leases end. Raises only StorageError."""

    def release_analysis(self, owner: str, ids: Sequence[int]) -> None:
        """End ``owner``'s leases on these articles, analysed or not. Raises only
        StorageError."""

    def analysis_backlog(self) -> tuple[int, int]:
        """Articles on the queue: (waiting for their first analysis, for their full one).
        Raises only StorageError."""

    def queue_everything(self, *, now: datetime) -> int:
        """Put every article on the queue (to analyse it again); how many were added.
        Raises only StorageError."""

    def followed_entity_keys(self) -> frozenset[str]:
        """The keys (:func:`entity_key`) of every name of every entity a reader follows.
        Raises only StorageError."""

    def analysis_lock(self) -> AbstractContextManager[None]:
        """Held around the analysis steps that look across articles, by one process (and
        thread) at a time across every process on the database. Raises only
        StorageError."""

    def claim_digest(
        self,
        reader_id: int,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        last_sent: datetime | None,
    ) -> bool:
        """Lease a reader's digest if no one holds it and it was last sent at
        ``last_sent`` (so not sent since it was found due). Raises only StorageError."""

    def release_digest(self, reader_id: int, owner: str) -> None:
        """End ``owner``'s lease on a reader's digest. Raises only StorageError."""

    def database_identity(self) -> bytes:
        """16 bytes that tell this database from any other (a file made from another one
        must be rebuilt, even at the same URL). Raises only StorageError."""

    def analysis_changes(
        self,
        *,
        after: int,
        also: Sequence[int] = (),
        limit: int = 5000,
        signatures: bool = False,
    ) -> AnalysisChanges:
        """Analyses written, and articles deleted, by changes numbered above ``after`` or
        in ``also``: a whole prefix of those numbers, at most about ``limit`` rows of each
        kind (every row of a number it reads). Signatures only when asked (they are half
        the bytes). Raises only StorageError."""


class Storage(
    SourceStorage,
    ArticleStorage,
    EnrichmentStorage,
    FindingsStorage,
    ReaderStorage,
    AccountStorage,
    RankingStorage,
    WorkStorage,
    Protocol,
):
    """Persistent state of one Tidings installation: every domain's protocol.

    Raises (each method's docstring says which):
        SourceNotFoundError: a source id or URL does not exist.
        ArticleNotFoundError: an article id does not exist.
        EntityNotFoundError, StoryNotFoundError, ReaderNotFoundError: likewise for
            entities, stories and readers.
        ReaderExistsError: adding a reader whose name is taken.
        SourceExistsError: adding a source whose URL is already stored.
        StorageError: any other database failure.
    """

    def close(self) -> None:
        """Release connections. The storage must not be used afterwards."""

    def after_fork(self) -> None:
        """In a process forked from one that used this storage: open connections of its
        own, leaving the parent's alone."""
