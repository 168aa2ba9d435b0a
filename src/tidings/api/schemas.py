"""What the HTTP API reads and writes: request and response schemas, kept apart from the
storage types in :mod:`tidings.types`, and the functions that turn one into the other.

Request schemas refuse what the Engine could not take (so that bad input is a 422 before it
reaches storage): unknown fields, NaN and infinities, ids beyond a 64-bit integer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tidings.accounts import MAX_PASSWORD
from tidings.deliver.sanitize import clean_html
from tidings.portability import clipping_source
from tidings.readers import MAX_INTEREST_CHARS
from tidings.suggest import Suggestion
from tidings.text import html_to_text
from tidings.types import (
    Account,
    Article,
    ArticleDraft,
    ArticleFacts,
    ArticleInsight,
    CoveredBy,
    DigestFrequency,
    Entity,
    EntityPage,
    EventKind,
    FeedItem,
    FeedPage,
    Interest,
    InterestKind,
    Quote,
    Reader,
    Reason,
    SourceHealth,
    Stance,
    Story,
    StoryPage,
    Token,
    TopicTag,
)

#: Largest id storage holds (signed 64-bit); a larger one could only overflow the database.
MAX_ID = 2**63 - 1
#: Events accepted in one request: a page's impressions and a session's actions fit easily.
MAX_EVENTS = 1000
#: Offsets beyond this are not browsing but scraping; they cost the database a long scan.
MAX_OFFSET = 100_000

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


class Strict(BaseModel):
    """A request body: unknown fields are an error, and so are NaN and infinities."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def plausible_id(text: str) -> bool:
    """Whether a value that names something by id could be one (ASCII digits, in range)."""
    clean = text.strip()
    if not clean.isdigit():
        return True  # a name, not an id
    return clean.isascii() and int(clean) <= MAX_ID


# --- errors ------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every error the API returns: a stable key and a message for people."""

    error: str = Field(description="A stable key for the kind of error (not_found, csrf, …)")
    message: str = Field(description="What went wrong, written for the person reading it")


ERROR_DESCRIPTIONS = {
    401: "Not signed in, or the token is wrong, expired or revoked",
    403: "Not allowed, or a cookie-authenticated change without its X-CSRF-Token header",
    404: "No such thing",
    409: "It exists already",
    422: "Invalid input",
    429: "Too many attempts: wait for Retry-After seconds",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route that may answer with these error statuses."""
    return {s: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


# --- articles, entities, stories, topics -------------------------------------------------


class ArticleOut(BaseModel):
    id: int
    source_id: int
    title: str | None
    url: str | None
    authors: list[str]
    published: datetime | None
    summary: str | None
    tags: list[str]


class ImageOut(BaseModel):
    url: str
    caption: str | None
    credit: str | None


class LinkOut(BaseModel):
    url: str | None
    title: str | None


class EntityOut(BaseModel):
    id: int
    name: str
    type: str
    description: str | None
    aliases: list[str]
    article_count: int
    first_seen: datetime | None
    last_seen: datetime | None


class TopicOut(BaseModel):
    id: str
    label: str
    kind: str
    confidence: float


class TopicCountOut(BaseModel):
    id: str
    label: str
    kind: str
    articles: int


class TopicPageOut(BaseModel):
    id: str
    label: str
    kind: str
    articles: list[ArticleOut]


class QuoteOut(BaseModel):
    text: str
    speaker: str | None
    entity_id: int | None
    entity: str | None
    article_id: int


class StoryOut(BaseModel):
    id: int
    headline: str | None
    representative_id: int | None
    first_seen: datetime | None
    last_seen: datetime | None
    article_count: int
    source_count: int
    recent_count: int


class ArticleEntityOut(EntityOut):
    mentions: int
    role: str | None


class ArticleDetailOut(ArticleOut):
    canonical_url: str | None
    guid: str | None
    updated: datetime | None
    section: str | None
    site_name: str | None
    summary_points: list[str]
    body: str | None
    text: str = Field(description="The article's clean text, paragraphs apart by blank lines")
    content_html: str = Field(
        description="The publisher's markup, sanitised (no scripts, handlers or styles)"
    )
    language: str | None
    images: list[ImageOut]
    related: list[LinkOut]
    extraction_note: str | None
    fetched_at: datetime
    entities: list[ArticleEntityOut] = Field(description="Empty until the article is analysed")
    topics: list[TopicOut]
    story: StoryOut | None


class AnalysisOut(BaseModel):
    status: str
    note: str | None
    language: str | None
    entities: list[ArticleEntityOut]
    topics: list[TopicOut]
    quotes: list[QuoteOut]
    story: StoryOut | None
    duplicates: list[int]


class EntityPageOut(EntityOut):
    articles: list[ArticleOut]
    quotes: list[QuoteOut]


class StoryPageOut(StoryOut):
    articles: list[ArticleOut]
    sources: list[str]


class SimilarOut(ArticleOut):
    similarity: float


class SearchHitOut(ArticleOut):
    relevance: float


def article_out(a: Article) -> ArticleOut:
    return ArticleOut(
        id=a.id,
        source_id=a.source_id,
        title=a.title,
        url=a.url,
        authors=list(a.authors),
        published=a.published,
        summary=a.summary,
        tags=list(a.tags),
    )


def entity_out(e: Entity) -> EntityOut:
    return EntityOut(
        id=e.id,
        name=e.name,
        type=e.type,
        description=e.description,
        aliases=list(e.aliases),
        article_count=e.article_count,
        first_seen=e.first_seen,
        last_seen=e.last_seen,
    )


def story_out(s: Story) -> StoryOut:
    return StoryOut(
        id=s.id,
        headline=s.headline,
        representative_id=s.representative_id,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        article_count=s.article_count,
        source_count=s.source_count,
        recent_count=s.recent_count,
    )


def topic_out(t: TopicTag) -> TopicOut:
    return TopicOut(id=t.id, label=t.label, kind=t.kind.value, confidence=t.confidence)


def quote_out(q: Quote) -> QuoteOut:
    return QuoteOut(
        text=q.text,
        speaker=q.speaker,
        entity_id=q.entity_id,
        entity=q.entity_name,
        article_id=q.article_id,
    )


def analysis_out(i: ArticleInsight) -> AnalysisOut:
    return AnalysisOut(
        status=i.status.value,
        note=i.note,
        language=i.language,
        entities=[
            ArticleEntityOut(
                **entity_out(e.entity).model_dump(), mentions=e.mentions, role=e.description
            )
            for e in i.entities
        ],
        topics=[topic_out(t) for t in i.topics],
        quotes=[quote_out(q) for q in i.quotes],
        story=story_out(i.story) if i.story else None,
        duplicates=list(i.duplicates),
    )


def article_detail_out(a: Article, insight: ArticleInsight | None) -> ArticleDetailOut:
    analysis = analysis_out(insight) if insight is not None else None
    return ArticleDetailOut(
        **article_out(a).model_dump(),
        canonical_url=a.canonical_url,
        guid=a.guid,
        updated=a.updated,
        section=a.section,
        site_name=a.site_name,
        summary_points=list(a.summary_points),
        body=a.body,
        text=a.body or html_to_text(a.content_html),
        content_html=clean_html(a.content_html, base_url=a.canonical_url or a.url),
        language=a.language,
        images=[ImageOut(url=i.url, caption=i.caption, credit=i.credit) for i in a.images],
        related=[LinkOut(url=r.url, title=r.title) for r in a.related],
        extraction_note=a.extraction_note,
        fetched_at=a.fetched_at,
        entities=analysis.entities if analysis else [],
        topics=analysis.topics if analysis else [],
        story=analysis.story if analysis else None,
    )


class ArticleWithAnalysisOut(ArticleDetailOut):
    """An article and all its analysis, quotes and near-duplicates included (what
    ``tidings article show --json`` prints)."""

    analysis: AnalysisOut | None = Field(description="None until the article is analysed")


def article_with_analysis_out(a: Article, insight: ArticleInsight | None) -> ArticleWithAnalysisOut:
    return ArticleWithAnalysisOut(
        **article_detail_out(a, insight).model_dump(),
        analysis=analysis_out(insight) if insight is not None else None,
    )


class ExtractedOut(BaseModel):
    """An article as extraction made it, before storage (what ``tidings extract --json``
    prints)."""

    title: str | None
    authors: list[str]
    published: datetime | None
    updated: datetime | None
    section: str | None
    site_name: str | None
    url: str | None
    canonical_url: str | None
    guid: str | None
    language: str | None
    summary: str | None
    summary_points: list[str]
    body: str | None
    images: list[ImageOut]
    related: list[LinkOut]
    tags: list[str]
    extraction_note: str | None


def extracted_out(d: ArticleDraft) -> ExtractedOut:
    return ExtractedOut(
        title=d.title,
        authors=list(d.authors),
        published=d.published,
        updated=d.updated,
        section=d.section,
        site_name=d.site_name,
        url=d.url,
        canonical_url=d.canonical_url,
        guid=d.guid,
        language=d.language,
        summary=d.summary,
        summary_points=list(d.summary_points),
        body=d.body,
        images=[ImageOut(url=i.url, caption=i.caption, credit=i.credit) for i in d.images],
        related=[LinkOut(url=r.url, title=r.title) for r in d.related],
        tags=list(d.tags),
        extraction_note=d.extraction_note,
    )


def entity_page_out(page: EntityPage) -> EntityPageOut:
    return EntityPageOut(
        **entity_out(page.entity).model_dump(),
        articles=[article_out(a) for a in page.articles],
        quotes=[quote_out(q) for q in page.quotes],
    )


def story_page_out(page: StoryPage) -> StoryPageOut:
    return StoryPageOut(
        **story_out(page.story).model_dump(),
        articles=[article_out(a) for a in page.articles],
        sources=list(page.sources),
    )


def topic_count_out(t: TopicTag, articles: int) -> TopicCountOut:
    return TopicCountOut(id=t.id, label=t.label, kind=t.kind.value, articles=articles)


# --- sources -----------------------------------------------------------------------------


class SourceOut(BaseModel):
    id: int
    url: str
    kind: str
    title: str | None
    site: str | None
    tags: list[str]
    articles: int
    last_success: datetime | None
    last_error: str | None
    warning: str | None
    next_poll: datetime | None


class ArticleIn(Strict):
    """An article a reader brings: its address, or the text of its copied page."""

    url: str | None = Field(
        default=None, max_length=4096, description="The article's http(s) address"
    )
    text: str | None = Field(
        default=None,
        description="The text of the article's page as a browser copies it (select all, copy)",
    )


class ClippingOut(BaseModel):
    """An article the reader added themselves."""

    article: ArticleOut
    added: datetime
    source: str = Field(description="Where it came from: the publisher, the host, or a paste")


def clipping_out(a: Article, added: datetime) -> ClippingOut:
    return ClippingOut(article=article_out(a), added=added, source=clipping_source(a))


class ImportOut(BaseModel):
    """What an import did."""

    follows: int
    mutes: int
    saved: int
    clippings: int
    events: int
    articles_added: int = Field(description="Saved or clipped articles stored from the file")
    sources_added: int
    settings: bool
    skipped: list[str] = Field(description="What could not be found here, one line each")


class SourceIn(Strict):
    url: str = Field(min_length=1, max_length=2048, description="An http(s) feed URL")
    title: str | None = Field(default=None, max_length=300)
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=20)


def source_out(h: SourceHealth) -> SourceOut:
    s = h.source
    return SourceOut(
        id=s.id,
        url=s.url,
        kind=s.kind.value,
        title=s.title,
        site=s.site,
        tags=list(s.tags),
        articles=h.articles,
        last_success=s.last_success,
        last_error=s.last_error,
        warning=s.warning,
        next_poll=s.next_poll,
    )


# --- accounts ----------------------------------------------------------------------------


class ReaderOut(BaseModel):
    id: int
    name: str
    created: datetime | None
    exploration: float
    diversity: float


class AccountOut(BaseModel):
    email: str | None
    has_password: bool
    digest: DigestFrequency
    digest_last_sent: datetime | None


class SignedInOut(BaseModel):
    reader: ReaderOut
    csrf: str | None = Field(
        description="Send back in the X-CSRF-Token header with cookie-authenticated changes"
    )


class MeOut(SignedInOut):
    account: AccountOut
    admin: bool = Field(description="Whether the reader operates this Tidings")


class SignUpIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    email: str | None = Field(default=None, max_length=254)


class LoginIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class MeIn(Strict):
    """Only the fields sent change; ``email`` null or "" removes the address."""

    exploration: float | None = Field(default=None, ge=0.0, le=0.5)
    diversity: float | None = Field(default=None, ge=0.0, le=1.0)
    email: str | None = Field(default=None, max_length=254)
    digest: DigestFrequency | None = None


class PasswordIn(Strict):
    current: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD,
        description="The current password (required when the account has one)",
    )
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    kind: str
    created: datetime
    last_used: datetime | None
    expires: datetime | None
    revoked: datetime | None


class NewTokenOut(BaseModel):
    id: int
    name: str
    created: datetime
    secret: str = Field(description="Shown only now: send as Authorization: Bearer <secret>")


class PrivateFeedOut(BaseModel):
    atom_url: str
    json_url: str


def reader_out(r: Reader) -> ReaderOut:
    return ReaderOut(
        id=r.id,
        name=r.name,
        created=r.created,
        exploration=r.exploration,
        diversity=r.diversity,
    )


def account_out(a: Account) -> AccountOut:
    return AccountOut(
        email=a.email,
        has_password=a.has_password,
        digest=a.digest,
        digest_last_sent=a.digest_last_sent,
    )


def token_out(t: Token) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        kind=t.kind.value,
        created=t.created,
        last_used=t.last_used,
        expires=t.expires,
        revoked=t.revoked,
    )


# --- the reader's interests, events and saved articles -----------------------------------


class InterestIn(Strict):
    kind: InterestKind
    value: str = Field(
        min_length=1,
        max_length=MAX_INTEREST_CHARS,
        description="An id or a name: 'Xi Jinping', 'China–Russia relations', a source URL",
    )
    stance: Stance = Stance.FOLLOW

    @field_validator("value")
    @classmethod
    def _plausible_id(cls, value: str) -> str:
        if not plausible_id(value):
            raise ValueError("not a valid id")
        return value


class InterestOut(BaseModel):
    kind: InterestKind
    value: str
    stance: Stance
    label: str | None
    created: datetime | None


def interest_out(i: Interest) -> InterestOut:
    return InterestOut(
        kind=i.kind, value=i.value, stance=i.stance, label=i.label, created=i.created
    )


class SuggestionOut(BaseModel):
    """Something to follow or mute, found by the start of its name."""

    kind: InterestKind = Field(description="What PUT /api/interests takes as kind")
    value: str = Field(description="What PUT /api/interests takes as value (an id)")
    label: str
    type: str | None = Field(
        description="An entity's type (PERSON, ORG, PLACE, …) or a topic's kind "
        "(taxonomy, section, relation); null for a source"
    )
    articles: int | None = Field(description="Articles about it (null for a source)")
    detail: str = Field(description="A line for people: 'Person · 12 articles'")
    stance: Stance | None = Field(
        default=None, description="Whether the signed-in reader follows or mutes it already"
    )


def suggestion_out(s: Suggestion, stance: Stance | None = None) -> SuggestionOut:
    return SuggestionOut(
        kind=s.kind,
        value=s.value,
        label=s.label,
        type=s.type,
        articles=s.articles,
        detail=s.detail,
        stance=stance,
    )


class ReaderDetailOut(ReaderOut):
    """A reader with what they follow and mute (what ``tidings reader show --json`` prints)."""

    interests: list[InterestOut]


def reader_detail_out(r: Reader, interests: Sequence[Interest]) -> ReaderDetailOut:
    return ReaderDetailOut(
        **reader_out(r).model_dump(), interests=[interest_out(i) for i in interests]
    )


#: The earliest time an event may carry: nothing was read in Tidings before it existed.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)


class EventIn(Strict):
    kind: EventKind
    article_id: int = Field(ge=1, le=MAX_ID)
    value: float | None = Field(
        default=None,
        ge=-1e9,
        le=1e9,
        description="Seconds for a read, the position for an impression; none for others",
    )
    at: datetime | None = Field(default=None, description="When (with a time zone); now if absent")

    @field_validator("at")
    @classmethod
    def _plausible_time(cls, at: datetime | None) -> datetime | None:
        if at is not None and at.tzinfo is not None and at < EARLIEST_EVENT:
            raise ValueError("dated before 2000")
        return at


class RecordedOut(BaseModel):
    recorded: int


class ActionOut(BaseModel):
    verb: str
    target_kind: str
    target_id: int | str
    label: str


class ReasonOut(BaseModel):
    kind: str
    text: str
    weight: float
    action: ActionOut


class CoverageOut(BaseModel):
    article_id: int
    source_id: int
    source: str | None
    title: str | None


class FeedItemOut(BaseModel):
    article_id: int
    title: str | None
    url: str | None
    source: str | None
    source_id: int
    published: datetime | None
    story_id: int | None
    rank: int
    score: float
    reasons: list[ReasonOut]
    also_covered_by: list[CoverageOut]
    source_count: int
    exploration: bool
    read: bool


class FeedOut(BaseModel):
    items: list[FeedItemOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
    hint: str | None = Field(description="Why the page is empty, and what to do")


def reason_out(r: Reason) -> ReasonOut:
    return ReasonOut(
        kind=r.kind.value,
        text=r.text,
        weight=r.weight,
        action=ActionOut(
            verb=r.action.verb.value,
            target_kind=r.action.target_kind.value,
            target_id=r.action.target_id,
            label=r.action.label,
        ),
    )


def _coverage_out(c: CoveredBy, facts: ArticleFacts | None) -> CoverageOut:
    return CoverageOut(
        article_id=c.article_id,
        source_id=c.source_id,
        source=facts.source_name if facts else None,
        title=facts.title if facts else None,
    )


def feed_item_out(item: FeedItem, facts: dict[int, ArticleFacts]) -> FeedItemOut:
    own = facts.get(item.article_id)
    return FeedItemOut(
        article_id=item.article_id,
        title=own.title if own else None,
        url=own.url if own else None,
        source=own.source_name if own else None,
        source_id=item.source_id,
        published=own.published if own else None,
        story_id=item.story_id,
        rank=item.rank,
        score=item.score,
        reasons=[reason_out(r) for r in item.reasons],
        also_covered_by=[_coverage_out(c, facts.get(c.article_id)) for c in item.also_covered_by],
        source_count=item.source_count,
        exploration=item.exploration,
        read=item.read,
    )


def feed_out(page: FeedPage) -> FeedOut:
    return FeedOut(
        items=[feed_item_out(item, page.articles) for item in page.items],
        next_cursor=page.next_cursor,
        hint=page.hint,
    )
