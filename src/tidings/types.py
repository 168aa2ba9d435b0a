"""Public data types of Tidings.

Every type here is a frozen dataclass that imports nothing else of Tidings: the stages
(ingest, extract, enrich, rank) and storage exchange these values and nothing else.
Datetimes are always timezone-aware and in UTC.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class SourceKind(StrEnum):
    """Where a source's articles come from."""

    #: An RSS, Atom or JSON Feed document fetched over HTTP(S).
    FEED = "feed"
    #: A feed file, or a folder of feed files, on the local disk (``file://`` URL).
    LOCAL = "local"
    #: Articles added one by one by hand (``tidings article add``); never polled.
    MANUAL = "manual"


class PagePolicy(StrEnum):
    """Whether ingestion fetches a feed entry's article page to get the whole text."""

    #: Only when the entry carries no more than a teaser.
    AUTO = "auto"
    #: For every new entry (feeds whose partial text could pass for whole).
    ALWAYS = "always"
    #: Never; store what the feed gives.
    NEVER = "never"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A place Tidings reads news from, with its polling state."""

    #: Storage identifier; stable for the life of the source.
    id: int
    #: The feed URL (``https://…``) or, for local sources, a ``file://`` URL. Unique.
    url: str
    #: What kind of source this is.
    kind: SourceKind = SourceKind.FEED
    #: The feed's own title, or one the operator gave.
    title: str | None = None
    #: The home page of the site the feed belongs to.
    site: str | None = None
    #: Operator tags (OPML folders become tags).
    tags: tuple[str, ...] = ()
    #: When to fetch entries' article pages for their whole text.
    pages: PagePolicy = PagePolicy.AUTO
    #: When the source was added.
    added: datetime | None = None
    #: ETag of the last successful response, sent back as ``If-None-Match``.
    etag: str | None = None
    #: Last-Modified of the last successful response, sent back as ``If-Modified-Since``.
    last_modified: str | None = None
    #: When the source was last read successfully (a 304 counts as success).
    last_success: datetime | None = None
    #: The last error, as one human-readable line; ``None`` once the source recovers.
    last_error: str | None = None
    #: When the last error happened.
    last_error_at: datetime | None = None
    #: Consecutive failures, which drive the retry backoff; 0 after a success.
    failures: int = 0
    #: A non-fatal problem seen on the last read (for example an ill-formed feed that
    #: still yielded entries); ``None`` when the last read was clean.
    warning: str | None = None
    #: The current polling interval in seconds, adapted to how often the source publishes.
    interval: int | None = None
    #: When the source is next due; ``None`` means due now.
    next_poll: datetime | None = None
    #: Added by the operator from the command line, so fetched with the operator's network
    #: allowances (``allowed_networks``); sources readers add never are.
    operator: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """An image attached to an article."""

    #: Absolute URL of the image.
    url: str
    #: The caption shown with the image, without the credit.
    caption: str | None = None
    #: Who the image is credited to ("AP", "Reuters/John Smith").
    credit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A link to a related article."""

    #: Absolute URL.
    url: str | None = None
    #: Headline or anchor text.
    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleDraft:
    """An article as a parser or extractor produced it, before storage gave it an id.

    Text fields hold plain text unless the name says HTML; ``content_html`` is the
    publisher's markup, kept raw and sanitised only where it is shown.
    """

    #: The link the source gave for the article (absolute).
    url: str | None = None
    #: The article's canonical URL (``<link rel=canonical>`` or the normalised link).
    canonical_url: str | None = None
    #: The source's own identifier for the entry (RSS guid, Atom id, JSON Feed id).
    guid: str | None = None
    #: Headline.
    title: str | None = None
    #: Author names, in the order given.
    authors: tuple[str, ...] = ()
    #: When the article was first published; the fetch time where the source gave none.
    published: datetime | None = None
    #: When the article was last updated, if the source says.
    updated: datetime | None = None
    #: The publisher's section label ("World", "China-Russia relations").
    section: str | None = None
    #: The teaser or description the source gave, as plain text.
    summary: str | None = None
    #: Summary bullet points shown above the body ("key points").
    summary_points: tuple[str, ...] = ()
    #: The article text as plain paragraphs separated by blank lines.
    body: str | None = None
    #: The publisher's HTML for the content, unsanitised; sanitise before showing it.
    content_html: str | None = None
    #: BCP 47 language tag ("en", "de-DE"), when known.
    language: str | None = None
    #: Images with their captions and credits.
    images: tuple[Image, ...] = ()
    #: Related articles linked from this one.
    related: tuple[Link, ...] = ()
    #: The source's categories or keywords for the entry.
    tags: tuple[str, ...] = ()
    #: The publisher's name as the page gives it ("The Guardian", "South China Morning Post").
    site_name: str | None = None
    #: Why the article's text is incomplete, when it is (the page could not be fetched or
    #: extracted); ``None`` when nothing went wrong. Not part of the digest.
    extraction_note: str | None = None

    def digest(self) -> str:
        """A digest of everything a reader sees; it changes when the content changes."""
        payload = {
            "url": self.url,
            "canonical_url": self.canonical_url,
            "title": self.title,
            "authors": list(self.authors),
            # The same instant must hash the same whatever offset the parser gave it.
            "published": self.published.astimezone(UTC).isoformat() if self.published else None,
            "updated": self.updated.astimezone(UTC).isoformat() if self.updated else None,
            "section": self.section,
            "summary": self.summary,
            "summary_points": list(self.summary_points),
            "body": self.body,
            "content_html": self.content_html,
            "language": self.language,
            "images": [[i.url, i.caption, i.credit] for i in self.images],
            "related": [[r.url, r.title] for r in self.related],
            "tags": list(self.tags),
            "site_name": self.site_name,
        }
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Article(ArticleDraft):
    """A stored article."""

    #: Storage identifier.
    id: int
    #: The source the article first came from.
    source_id: int
    #: ``ArticleDraft.digest()`` of the stored content.
    content_hash: str
    #: When Tidings first stored the article.
    fetched_at: datetime
    #: When Tidings last changed the stored content (equal to ``fetched_at`` until then).
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpsertResult:
    """What one batch of article writes did."""

    #: Articles that were not known before.
    new: int = 0
    #: Known articles whose content changed and was updated in place.
    updated: int = 0
    #: Known articles whose content had not changed (nothing written).
    unchanged: int = 0
    #: Ids of the new and updated articles, in input order.
    changed_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceUpdate:
    """The outcome of reading one source once."""

    #: The source as it is after the read (new poll state).
    source: Source
    #: Articles stored for the first time.
    new: int = 0
    #: Articles updated in place because their content changed.
    updated: int = 0
    #: Entries seen again unchanged.
    unchanged: int = 0
    #: True when the server said 304 Not Modified (or a local file had not changed).
    not_modified: bool = False
    #: The error that stopped this read, as one line; ``None`` on success.
    error: str | None = None
    #: A non-fatal problem (ill-formed feed that still yielded entries).
    warning: str | None = None
    #: The error was Tidings' own (storage full or gone, a bug), not the source's: the
    #: source is not backed off for it, and the command that ran the pass exits non-zero.
    internal: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    """The outcome of one ingestion pass over the due sources."""

    #: One entry per source read, in the order they finished.
    updates: tuple[SourceUpdate, ...] = ()
    #: When the pass started and finished.
    started: datetime | None = None
    finished: datetime | None = None
    #: What enrichment did after the pass (None when it did not run).
    enrichment: EnrichReport | None = None

    @property
    def new(self) -> int:
        return sum(u.new for u in self.updates)

    @property
    def updated(self) -> int:
        return sum(u.updated for u in self.updates)

    @property
    def failed(self) -> tuple[SourceUpdate, ...]:
        return tuple(u for u in self.updates if not u.ok)

    @property
    def internal_failures(self) -> tuple[SourceUpdate, ...]:
        """Sources that failed for Tidings' own reasons (see :attr:`SourceUpdate.internal`)."""
        return tuple(u for u in self.updates if u.internal)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """A source with what an operator wants to know about it."""

    source: Source
    #: Articles stored from this source.
    articles: int = 0
    #: When the newest of them was published.
    latest_article: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutlineEntry:
    """One feed in an OPML outline."""

    #: The feed URL (``xmlUrl``).
    url: str
    #: The outline's title or text.
    title: str | None = None
    #: The site URL (``htmlUrl``).
    site: str | None = None
    #: Folder names from the outer outline down to this one.
    tags: tuple[str, ...] = field(default_factory=tuple)


# --- understanding: what enrichment finds in an article ------------------------------------


class TopicKind(StrEnum):
    """Where a topic comes from."""

    #: The IPTC Media Topics taxonomy (top level and a second level), assigned by meaning.
    TAXONOMY = "taxonomy"
    #: The publisher's own section label ("World", "Business").
    SECTION = "section"
    #: Two countries an article is about together ("China–Russia relations").
    RELATION = "relation"


class EnrichmentStatus(StrEnum):
    """Whether an article was analysed."""

    #: Embedded, entities and topics found, filed under a story.
    DONE = "done"
    #: Not analysed, for the reason in ``Enrichment.note`` (empty text, not English, …).
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundEntity:
    """An entity as one article names it, before it is matched to a stored entity."""

    #: The fullest name the article uses ("Xi Jinping").
    name: str
    #: PERSON, ORG, PLACE, EVENT, PRODUCT or WORK.
    type: str
    #: Other names the article uses for it ("Xi", "Chinese President Xi Jinping").
    aliases: tuple[str, ...] = ()
    #: The role the article gives it ("Chinese President").
    description: str | None = None
    #: How many times the article names it.
    mentions: int = 1
    #: Character offset of its first mention in the article text (small = prominent).
    first_offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundQuote:
    """A direct quote as found in one article."""

    #: The quoted words, without quote marks.
    text: str
    #: Who said it, as the article writes it ("the minister"), if known.
    speaker: str | None = None
    #: Canonical name of the article's entity the quote is attributed to, if any
    #: (one of the article's ``FoundEntity.name``).
    entity_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicTag:
    """A topic of an article, or a topic on its own (then ``confidence`` is 1)."""

    #: ``medtop:…`` for the taxonomy, ``section:…`` and ``relation:…`` for the others.
    id: str
    #: Human-readable name ("politics", "China–Russia relations").
    label: str
    kind: TopicKind = TopicKind.TAXONOMY
    #: The parent topic's id for a second-level taxonomy topic.
    parent: str | None = None
    #: How sure the assignment is, in [0, 1].
    confidence: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrichment:
    """What enrichment found in one version of one article, ready to store."""

    article_id: int
    #: The ``Article.content_hash`` analysed; a changed article is analysed again.
    content_hash: str
    status: EnrichmentStatus = EnrichmentStatus.DONE
    #: Why the article was skipped, or what went partly wrong.
    note: str | None = None
    #: BCP 47 language code detected (or declared by the feed), if known.
    language: str | None = None
    #: The embedding in :func:`tidings.store.embedding.to_bytes` form.
    vector: bytes | None = None
    #: The MinHash signature for near-duplicate search.
    signature: bytes | None = None
    entities: tuple[FoundEntity, ...] = ()
    topics: tuple[TopicTag, ...] = ()
    quotes: tuple[FoundQuote, ...] = ()
    #: The earliest stored article this one is a near-duplicate of (syndicated copy or
    #: light rewrite), if any.
    duplicate_of: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """A person, organisation, place or other named thing, across all articles."""

    id: int
    #: The fullest name seen ("Xi Jinping").
    name: str
    #: PERSON, ORG, PLACE, EVENT, PRODUCT or WORK.
    type: str
    #: The role most recently given to it ("Chinese President").
    description: str | None = None
    #: Every other name it has been called, in order of first use.
    aliases: tuple[str, ...] = ()
    #: Articles that name it.
    article_count: int = 0
    #: Publication dates of the first and the latest of them.
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleEntity:
    """An entity as it appears in one article."""

    entity: Entity
    #: How many times the article names it.
    mentions: int = 1
    #: Character offset of its first mention (small = prominent).
    first_offset: int = 0
    #: The role this article gives it.
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """A stored quote."""

    text: str
    speaker: str | None = None
    #: The entity it is attributed to, if any.
    entity_id: int | None = None
    entity_name: str | None = None
    #: The article it comes from.
    article_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """Articles about one event, across sources."""

    id: int
    #: The headline of its most central article.
    headline: str | None = None
    #: The id of that article.
    representative_id: int | None = None
    #: Publication dates of its first and latest articles.
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    article_count: int = 0
    #: Distinct sources among its articles.
    source_count: int = 0
    #: Articles published in the 24 hours before ``last_seen``: how fast it is growing.
    recent_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryState:
    """What online clustering needs to know of a stored, still open story."""

    id: int
    #: Sum of its members' unit vectors (float32 bytes, ``numpy.frombuffer``).
    total: bytes
    #: Canonical entity names of its members' leads, with counts.
    names: tuple[tuple[str, int], ...]
    article_count: int
    first_seen: datetime
    last_seen: datetime
    headline: str | None = None
    representative_id: int | None = None
    #: The representative article's vector (:func:`tidings.store.embedding.to_bytes` form).
    representative_vector: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryChange:
    """One story as a clustering pass leaves it, to be written back."""

    #: The stored story's id; ``None`` for a story this pass started.
    id: int | None
    total: bytes
    names: tuple[tuple[str, int], ...]
    article_count: int
    first_seen: datetime
    last_seen: datetime
    headline: str | None
    representative_id: int | None
    #: Articles this pass filed under the story.
    new_members: tuple[int, ...] = ()
    #: Stored stories merged into this one (their articles move here; they are deleted,
    #: and readers' follows and mutes of them move here too).
    absorbed: tuple[int, ...] = ()
    #: For a story split off a stored one: that story (readers who follow or mute it
    #: follow or mute this part too).
    split_from: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryMember:
    """A stored story's article as clustering reads it back."""

    article: Article
    #: Its embedding (:func:`tidings.store.embedding.to_bytes` form).
    vector: bytes
    #: ``(entity id, mentions, first offset, kind, name)`` of the entities it names.
    entities: tuple[tuple[int, int, int, str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleInsight:
    """Everything enrichment knows about one article."""

    article_id: int
    status: EnrichmentStatus
    note: str | None = None
    language: str | None = None
    enriched_at: datetime | None = None
    entities: tuple[ArticleEntity, ...] = ()
    topics: tuple[TopicTag, ...] = ()
    quotes: tuple[Quote, ...] = ()
    story: Story | None = None
    #: Other articles that are near-duplicates of this one (same syndicated text).
    duplicates: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichReport:
    """What one enrichment run did."""

    #: Articles analysed in full.
    analysed: int = 0
    #: Quick first passes (title and lead) made while a backlog waited: those articles are
    #: rankable, and their full analysis follows.
    quick: int = 0
    #: Articles skipped, with the reason stored on each (no text, not English).
    skipped: int = 0
    #: Stories started, and stories that gained articles or merged.
    new_stories: int = 0
    changed_stories: int = 0
    #: Articles found to be near-duplicates of earlier ones.
    duplicates: int = 0
    seconds: float = 0.0
    #: Set when enrichment could not run at all (a model missing); nothing was lost:
    #: the articles wait for the next run.
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityPage:
    """An entity with what is written about it."""

    entity: Entity
    #: The latest articles naming it, newest first.
    articles: tuple[Article, ...] = ()
    #: The latest quotes attributed to it.
    quotes: tuple[Quote, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryPage:
    """A story with its full coverage."""

    story: Story
    #: Its articles, newest first.
    articles: tuple[Article, ...] = ()
    #: Names of the sources that covered it, in the order of ``articles``.
    sources: tuple[str, ...] = ()


# --- readers: who the feed is for, and what they told us ------------------------------------


class InterestKind(StrEnum):
    """What a reader can follow or mute."""

    #: A taxonomy, section or relation topic (its id: ``medtop:…``, ``relation:…``).
    TOPIC = "topic"
    #: An entity (its id).
    ENTITY = "entity"
    #: A source (its id).
    SOURCE = "source"
    #: An author, by name as bylines write it (compared case-insensitively).
    AUTHOR = "author"
    #: A story (its id).
    STORY = "story"
    #: A word or phrase in headlines and text (lower case).
    KEYWORD = "keyword"


class Stance(StrEnum):
    """Whether a reader wants more of something or none of it."""

    FOLLOW = "follow"
    #: Absolute: a muted thing never reaches the reader's page.
    MUTE = "mute"


class EventKind(StrEnum):
    """What a reader did, or what was shown to them."""

    #: An article was shown (value: its position on the page).
    IMPRESSION = "impression"
    #: The reader opened it.
    OPEN = "open"
    #: Seconds spent reading it (value).
    READ = "read"
    SAVE = "save"
    SHARE = "share"
    #: "More like this" / "less like this" / "hide".
    MORE = "more"
    LESS = "less"
    HIDE = "hide"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reader:
    """Someone Tidings makes a feed for."""

    id: int
    #: Unique, chosen by the reader or the operator ("ana").
    name: str
    created: datetime | None = None
    #: How much of the page explores beyond known interests, in [0, 0.5].
    exploration: float = 0.1
    #: How strongly the page mixes topics (0 = by score alone, 1 = as mixed as possible).
    diversity: float = 0.3


@dataclass(frozen=True, slots=True, kw_only=True)
class Interest:
    """One thing a reader follows or mutes."""

    kind: InterestKind
    #: The topic / entity / source / story id as text, the author's name or the keyword.
    value: str
    stance: Stance = Stance.FOLLOW
    #: A human-readable name for it ("Xi Jinping", "China–Russia relations").
    label: str | None = None
    created: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderEvent:
    """One thing that happened between a reader and an article."""

    kind: EventKind
    article_id: int
    at: datetime
    #: The position for an impression, the seconds for a read; otherwise unused.
    value: float | None = None
    #: For an impression of a page item: the features the ranker scored the article with
    #: when it showed it (``FeedItem.features``, opaque here), so that learning reads what
    #: was shown, not what the reader's state says today.
    features: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleFacts:
    """What ranking knows of one analysed article (storage reads it in bulk)."""

    article_id: int
    source_id: int
    source_name: str
    title: str | None = None
    summary: str | None = None
    #: Where the article is read at the publisher.
    url: str | None = None
    authors: tuple[str, ...] = ()
    #: Publication time, or when it was fetched for undated entries.
    published: datetime
    #: Length of its body in characters (0 for a bare teaser).
    body_chars: int = 0
    story_id: int | None = None
    #: Distinct sources covering its story, and the story's articles in its last 24 hours.
    story_sources: int = 1
    story_recent: int = 1
    #: The embedding (:func:`tidings.store.embedding.to_bytes` form).
    vector: bytes | None = None
    #: ``(topic id, label, confidence)`` of its topics.
    topics: tuple[tuple[str, str, float], ...] = ()
    #: ``(entity id, name, first offset)`` of its entities, most prominent first.
    entities: tuple[tuple[int, str, int], ...] = ()
    duplicate_of: int | None = None
    #: Across all readers lately: readers shown it, and readers who opened, saved or
    #: shared it.
    shown: int = 0
    engaged: int = 0
    #: The address of its lead picture, where it has one (read for the pages that show
    #: it, not for ranking).
    image: str | None = None


# --- the feed: items, their reasons and what the reader can do about them -------------------


class ReasonKind(StrEnum):
    """Why an article is in a reader's feed."""

    FOLLOW_ENTITY = "follow_entity"
    FOLLOW_TOPIC = "follow_topic"
    FOLLOW_SOURCE = "follow_source"
    FOLLOW_AUTHOR = "follow_author"
    FOLLOW_STORY = "follow_story"
    SIMILAR_TO_READ = "similar_to_read"
    TOP_STORY = "top_story"
    TRENDING = "trending"
    EXPLORING = "exploring"
    FRESH = "fresh"


class ActionVerb(StrEnum):
    """What a reader can do about a reason."""

    UNFOLLOW = "unfollow"
    LESS_FROM_SOURCE = "less_from_source"
    MUTE_TOPIC = "mute_topic"
    MUTE_ENTITY = "mute_entity"
    MUTE_STORY = "mute_story"
    FEWER_LIKE_THIS = "fewer_like_this"
    LESS_EXPLORATION = "less_exploration"


class TargetKind(StrEnum):
    """What an action acts on."""

    ENTITY = "entity"
    TOPIC = "topic"
    SOURCE = "source"
    AUTHOR = "author"
    STORY = "story"
    ARTICLE = "article"
    #: One of the reader's feed settings (``target_id`` names it, e.g. ``"exploration"``).
    SETTING = "setting"


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """The one thing a reader can do to change a reason ("Unfollow Xi Jinping")."""

    #: What to do.
    verb: ActionVerb
    #: What kind of thing it is done to.
    target_kind: TargetKind
    #: Which one: an entity, source, story or article id, a topic id or an author's name.
    target_id: int | str
    #: The button's text, written for the reader ("Unfollow Xi Jinping").
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """One reason an article is in the feed, with its share of the score."""

    #: What kind of reason.
    kind: ReasonKind
    #: The sentence shown to the reader ("You follow Xi Jinping").
    text: str
    #: Its contribution to the candidate's score, in the scorer's units.
    weight: float
    #: What the reader can do to change it.
    action: Action


@dataclass(frozen=True, slots=True, kw_only=True)
class CoveredBy:
    """Another source's article on the same story."""

    #: Its best article on the story.
    article_id: int
    #: The other source.
    source_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedItem:
    """One item of a reader's feed: a story (or lone article) and why it is there."""

    #: The article shown for the story.
    article_id: int
    #: Its story; ``None`` for a lone article.
    story_id: int | None
    #: The shown article's source.
    source_id: int
    #: The score the item was ranked by (the scorer's, after the read penalty).
    score: float
    #: Position in the whole session, from 1 (page 2 of 30-item pages starts at 31).
    rank: int
    #: The shown article's reasons, strongest first.
    reasons: tuple[Reason, ...]
    #: The best article of each other source on the story, best first, at most
    #: ``rank.assemble.ALSO_COVERED_MAX``.
    also_covered_by: tuple[CoveredBy, ...] = ()
    #: How many different sources cover the story, the shown one included: the story's
    #: own count (``Story.source_count``), the same on its reason and its coverage page.
    source_count: int = 1
    #: Whether the item fills an exploration slot.
    exploration: bool = False
    #: Whether the reader has read any article of the story.
    read: bool = False
    #: The features the item was scored with, packed by ``rank.learn.pack_features``: give
    #: them back with its impression (``ReaderEvent.features``).
    features: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryCounts:
    """What ranking reads of a story: its distinct sources and recent growth, as stored."""

    story_id: int
    #: Distinct sources of its articles.
    sources: int
    #: Its articles in the last 24 hours (as of its last change).
    recent: int
    #: When its newest article was published.
    last_seen: datetime | None = None
    #: The article that stands for it.
    representative_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RankingChanges:
    """What changed for ranking after a position in storage's change sequence: what a
    serving process applies to the articles it holds in memory (``rank/window.py``)."""

    #: Articles analysed (or analysed again) since: ranking's facts of each.
    articles: tuple[ArticleFacts, ...] = ()
    #: Articles no longer to rank: deleted, or no longer analysed.
    dropped: tuple[int, ...] = ()
    #: Stories whose counts changed.
    stories: tuple[StoryCounts, ...] = ()
    #: Readers shown and engaged per article and UTC day, each the day's total:
    #: ``(article id, day, shown, engaged)``.
    engagement: tuple[tuple[int, int, int, int], ...] = ()
    #: Every change number these changes carry (for noticing numbers still missing).
    seqs: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedPage:
    """A page of a reader's feed."""

    reader: Reader
    #: The items, best first.
    items: tuple[FeedItem, ...] = ()
    #: What ranking knew of the articles involved, by id (for titles, sources, dates).
    articles: dict[int, ArticleFacts] = field(default_factory=dict)
    #: Pass back for the next page; None at the end.
    next_cursor: str | None = None
    #: Why the page is empty, and what to do about it.
    hint: str | None = None


class DigestFrequency(StrEnum):
    """How often a reader gets an email digest of their top stories."""

    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"


class TokenKind(StrEnum):
    """What a secret token lets its holder do, as its reader."""

    #: A signed-in browser (a cookie); expires.
    SESSION = "session"
    #: A program using the HTTP API (``Authorization: Bearer ...``); revocable.
    API = "api"
    #: A feed reader fetching the reader's private Atom / JSON feed; read-only, revocable.
    FEED = "feed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """How a reader signs in and is reached. Readers made from the command line have an
    account without a password until one is set."""

    reader_id: int
    #: Where digests go; None for none.
    email: str | None = None
    has_password: bool = False
    digest: DigestFrequency = DigestFrequency.OFF
    digest_last_sent: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """A reader's secret token, as stored: the secret itself is shown once, when made, and
    only its SHA-256 is kept."""

    id: int
    reader_id: int
    kind: TokenKind
    #: What the reader called it ("my phone", "NetNewsWire").
    name: str
    created: datetime
    last_used: datetime | None = None
    expires: datetime | None = None
    revoked: datetime | None = None
