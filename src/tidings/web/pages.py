"""The pages a reader reads: the feed, articles, stories, entities, topics, sources,
saved articles and search. Every page needs a signed-in reader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tidings.api.ingesting import ingestion_of
from tidings.api.routes.media import media_proxy
from tidings.errors import InvalidInputError, TidingsError
from tidings.suggest import MAX_QUERY_CHARS as MAX_SUGGEST_CHARS
from tidings.suggest import SUGGESTIONS, Suggestion
from tidings.text import html_to_text
from tidings.types import (
    Article,
    EventKind,
    FeedPage,
    Image,
    Interest,
    InterestKind,
    ReaderEvent,
    Source,
    SourceKind,
    SourceUpdate,
    Stance,
    TopicKind,
)
from tidings.web.items import Covered, ItemView, headline, item_view
from tidings.web.render import PageRoute, page, redirect, to_signin
from tidings.web.session import engine_of, page_caller, require_reader

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Items on one page of the feed: a screenful or two on a phone, and each costs reasons.
FEED_PAGE = 20
#: Choices offered at onboarding, per kind: enough to find something, few enough to read.
ONBOARDING_TOPICS = 24
ONBOARDING_ENTITIES = 12
ONBOARDING_ENTITY_TYPES = (("PERSON", "People"), ("ORG", "Organisations"), ("PLACE", "Places"))
SearchText = Annotated[str, Query(max_length=500)]


def safe_url(url: str | None) -> str | None:
    """A link we may put in ``href``/``src``: only absolute http(s) URLs (autoescaping does
    not stop ``javascript:``)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


@dataclass(frozen=True, slots=True)
class Stances:
    """What the reader follows and mutes, to show the right button (Follow or Unfollow)."""

    follows: frozenset[tuple[str, str]]
    mutes: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, interests: list[Interest]) -> Stances:
        return cls(
            follows=frozenset(
                (i.kind.value, i.value) for i in interests if i.stance is Stance.FOLLOW
            ),
            mutes=frozenset((i.kind.value, i.value) for i in interests if i.stance is Stance.MUTE),
        )

    def following(self, kind: str, value: object) -> bool:
        return (kind, str(value)) in self.follows

    def muting(self, kind: str, value: object) -> bool:
        return (kind, str(value)) in self.mutes


def source_names(request: Request) -> dict[int, str]:
    return {h.source.id: h.source.title or h.source.url for h in engine_of(request).list_sources()}


@router.get("/", response_class=HTMLResponse)
def for_you(
    request: Request,
    cursor: Annotated[str | None, Query(max_length=20000)] = None,
    start: bool = False,
    hidden: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    at: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Response:
    caller = page_caller(request)
    if caller is None:
        return to_signin(request)
    engine = engine_of(request)
    reader = caller.reader
    interests = engine.readers.interests(reader.id)
    if (
        not cursor
        and not start
        and not interests
        and not engine.readers.has_history(reader.id)
        and not engine.readers.saved_articles(reader.id, limit=1)
    ):
        return redirect("/onboarding")
    feed = engine.feed(reader.id, cursor=cursor or None, size=FEED_PAGE)
    if feed.items:
        now = datetime.now(UTC)
        engine.readers.record_events(
            reader.id,
            [
                ReaderEvent(
                    kind=EventKind.IMPRESSION,
                    article_id=i.article_id,
                    at=now,
                    value=i.rank - 1,
                    features=i.features,
                )
                for i in feed.items
            ],
        )
    return page(
        request,
        "feed.html",
        title="For you",
        feed=feed,
        just_hidden=just_hidden(request, reader.id, hidden),
        hidden_at=at if any(i.rank == at for i in feed.items) else None,
        # The links and forms of the page name it without the hide's notice.
        here_base=without_notice(request),
        views=item_views(feed),
        images=lead_images(request, feed),
        saved=engine.readers.saved_among(reader.id, [i.article_id for i in feed.items]),
        stances=Stances.of(interests),
    )


@router.get("/onboarding", response_class=HTMLResponse)
def onboarding(request: Request, q: SearchText = "") -> Response:
    caller = page_caller(request)
    if caller is None:
        return to_signin(request)
    engine = engine_of(request)
    topics = sorted(engine.list_topics(), key=lambda t: (-t[1], t[0].label))
    wanted = [
        (tag, n) for tag, n in topics if tag.kind in (TopicKind.TAXONOMY, TopicKind.RELATION)
    ][:ONBOARDING_TOPICS]
    entities = [
        (label, engine.readers.onboarding_entities(kind, limit=ONBOARDING_ENTITIES))
        for kind, label in ONBOARDING_ENTITY_TYPES
    ]
    query = " ".join(q.split())
    found, problem = suggestions_for(request, query)
    return page(
        request,
        "onboarding.html",
        title="What do you want to follow?",
        topics=wanted,
        entity_groups=[(label, found) for label, found in entities if found],
        sources=[h for h in engine.list_sources() if h.source.kind is not SourceKind.MANUAL],
        query=query,
        found=found,
        found_error=problem,
        stances=Stances.of(engine.readers.interests(caller.reader.id)),
    )


def suggestions_for(request: Request, query: str) -> tuple[list[Suggestion], str | None]:
    """What to follow by the name a reader typed, or why there is nothing to show."""
    if not query:
        return [], None
    try:
        return engine_of(request).readers.suggest(query, limit=SUGGESTIONS), None
    except InvalidInputError as e:
        return [], str(e)[:1].upper() + str(e)[1:] + "."


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, article_id: int) -> Response:
    caller = page_caller(request)
    if caller is None:
        return to_signin(request)
    engine = engine_of(request)
    found = engine.get_article(article_id)
    insight = engine.article_insight(article_id)
    engine.readers.record_events(
        caller.reader.id,
        [ReaderEvent(kind=EventKind.OPEN, article_id=article_id, at=datetime.now(UTC))],
    )
    return page(
        request,
        "article.html",
        title=headline(found.title, found.summary) or "Article",
        article=found,
        source=source_names(request).get(found.source_id, ""),
        insight=insight,
        similar=similar_to(request, article_id, limit=5),
        use_html=prefers_html(found),
        link=safe_url(found.url),
        images=proxied_images(request, found),
        related=[(safe_url(r.url), r) for r in found.related if safe_url(r.url)],
        stances=Stances.of(engine.readers.interests(caller.reader.id)),
        saved=bool(engine_of(request).readers.saved_among(caller.reader.id, [article_id])),
    )


@dataclass(frozen=True, slots=True)
class HiddenNotice:
    """ "Hidden: <title>. Undo" where an item was, after a hide without script."""

    article_id: int
    title: str


def just_hidden(request: Request, reader_id: int, article_id: int | None) -> HiddenNotice | None:
    """The notice for ``?hidden=``, when the reader did hide that article."""
    if article_id is None:
        return None
    engine = engine_of(request)
    if not engine.readers.is_hidden(reader_id, article_id):
        return None
    return HiddenNotice(article_id, engine.get_article(article_id).title or "Untitled article")


def without_notice(request: Request) -> str:
    """This page's path and query without ``hidden`` and ``at``."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("hidden", "at")]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


def proxied_images(request: Request, found: Article) -> list[tuple[str, Image]]:
    """The article's pictures with the media proxy's addresses (those it can serve)."""
    signer = media_proxy(request.app).signer
    return [(url, i) for i in found.images if (url := signer.url(i.url))]


def lead_images(request: Request, feed: FeedPage) -> dict[int, str]:
    """Each item's lead picture, as a media proxy address; items without one are left
    out."""
    signer = media_proxy(request.app).signer
    found = {}
    for item in feed.items:
        facts = feed.articles.get(item.article_id)
        if facts is not None and facts.image and (url := signer.url(facts.image)):
            found[item.article_id] = url
    return found


def item_views(feed: FeedPage) -> dict[int, ItemView]:
    """What each item of ``feed`` shows (:func:`tidings.web.items.item_view`)."""
    views = {}
    for item in feed.items:
        covered = [
            Covered(name=feed.articles[c.article_id].source_name, article_id=c.article_id)
            for c in item.also_covered_by
            if c.article_id in feed.articles
        ]
        views[item.article_id] = item_view(
            item.reasons,
            source_id=item.source_id,
            covered=covered,
            source_count=item.source_count,
        )
    return views


def similar_to(request: Request, article_id: int, *, limit: int) -> list[tuple[Article, float]]:
    try:
        return engine_of(request).similar_articles(article_id, limit=limit)
    except TidingsError:
        # No analysis (yet, or switched off): the page is whole without this list.
        return []


def prefers_html(found: Article) -> bool:
    """Whether to show the publisher's (sanitised) HTML rather than the plain body: when it
    holds about as much text, its links and emphasis are worth keeping; a feed's teaser
    HTML beside a whole extracted body is not."""
    if not found.content_html:
        return False
    return len(html_to_text(found.content_html)) >= 0.8 * len(found.body or "")


@router.get("/articles/{article_id}/similar", response_class=HTMLResponse)
def more_like(request: Request, article_id: int) -> Response:
    require_reader(request)
    found = engine_of(request).get_article(article_id)
    return page(
        request,
        "list.html",
        title=f"More like \u201c{found.title or 'this article'}\u201d",
        articles=[a for a, _ in similar_to(request, article_id, limit=20)],
        names=source_names(request),
        empty="Nothing similar found yet.",
    )


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story(request: Request, story_id: int) -> Response:
    caller = require_reader(request)
    engine = engine_of(request)
    found = engine.story_page(story_id)
    return page(
        request,
        "story.html",
        title=found.story.headline or f"Story {story_id}",
        story=found,
        names=source_names(request),
        stances=Stances.of(engine.readers.interests(caller.reader.id)),
    )


@router.get("/entities/{key}", response_class=HTMLResponse)
def entity(request: Request, key: str) -> Response:
    caller = require_reader(request)
    engine = engine_of(request)
    found = engine.entity_page(int(key) if key.isdigit() else key)
    return page(
        request,
        "entity.html",
        title=found.entity.name,
        entity=found,
        names=source_names(request),
        stances=Stances.of(engine.readers.interests(caller.reader.id)),
    )


@router.get("/topics/{topic_id:path}", response_class=HTMLResponse)
def topic(request: Request, topic_id: str) -> Response:
    caller = require_reader(request)
    engine = engine_of(request)
    tag, found = engine.readers.topic_page(topic_id)
    return page(
        request,
        "topic.html",
        title=tag.label,
        topic=tag,
        articles=found,
        names=source_names(request),
        stances=Stances.of(engine.readers.interests(caller.reader.id)),
    )


@dataclass(frozen=True, slots=True)
class SourceRow:
    id: int
    name: str
    url: str
    site: str | None
    health: object
    shown: int
    read: int
    liked: int
    #: When it will be read next, in words ("within seconds", "in 14 min"); "" for the
    #: readers' clippings, which nobody polls.
    next_read: str = ""
    #: What the last read brought, in words ("25 new articles, being analysed"); "" when
    #: this process has not read it since it started.
    last_read: str = ""


def next_read(source: Source, now: datetime, *, reading: bool, polling: bool) -> str:
    """When ``source`` will be read next, as the sources page says it. ``polling``: this
    process reads sources itself (`tidings serve`), so a due source is read within seconds;
    otherwise it waits for whatever runs `tidings ingest`. Pure."""
    if source.kind is SourceKind.MANUAL:
        return ""
    if reading:
        return "being read now"
    if source.next_poll is None or source.next_poll <= now:
        return "within seconds" if polling else "at the next `tidings ingest`"
    seconds = (source.next_poll - now).total_seconds()
    if seconds < 60:
        return "within a minute"
    if seconds < 60 * 60:
        return f"in {int(seconds // 60)} min"
    if seconds < 24 * 60 * 60:
        return f"in {int(seconds // 3600)} h"
    return f"in {int(seconds // 86400)} d"


def last_read(update: SourceUpdate | None, *, analysing: bool) -> str:
    """What a read brought, in words. Pure."""
    if update is None:
        return ""
    if update.error:
        return f"failed: {update.error}"
    if update.not_modified:
        return "nothing new (unchanged since the read before)"
    parts = []
    if update.new:
        parts.append(f"{update.new} new article{'' if update.new == 1 else 's'}")
    if update.updated:
        parts.append(f"{update.updated} updated")
    if not parts:
        return "nothing new"
    told = ", ".join(parts)
    return f"{told}, being analysed (they reach feeds after)" if analysing else told


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, added: Annotated[int | None, Query()] = None) -> Response:
    caller = require_reader(request)
    return sources_page(request, caller.reader.id, added=added)


def sources_page(
    request: Request,
    reader_id: int,
    *,
    error: str | None = None,
    url: str = "",
    added: int | None = None,
) -> HTMLResponse:
    """The sources with their health and use; ``added``, a source just added (named in a
    notice that says when it will be read)."""
    engine = engine_of(request)
    use = engine.readers.source_usefulness(reader_id)
    ingestion = ingestion_of(request.app)
    now = engine.now()
    rows = []
    for h in engine.list_sources():
        shown, read, liked = use.get(h.source.id, (0, 0, 0))
        last = ingestion.last_read(h.source.id) if ingestion is not None else None
        rows.append(
            SourceRow(
                id=h.source.id,
                name=h.source.title or h.source.url,
                url=h.source.url,
                site=safe_url(h.source.site),
                health=h,
                shown=shown,
                read=read,
                liked=liked,
                next_read=next_read(
                    h.source,
                    now,
                    reading=ingestion is not None and ingestion.reading(h.source.id),
                    polling=ingestion is not None and ingestion.running,
                ),
                last_read=last_read(
                    last.update if last else None, analysing=bool(last and last.analysing)
                ),
            )
        )
    return page(
        request,
        "sources.html",
        status_code=422 if error else 200,
        title="Sources",
        rows=rows,
        stances=Stances.of(engine.readers.interests(reader_id)),
        error=error,
        url=url,
        added=next((r for r in rows if r.id == added), None),
    )


@router.get("/saved", response_class=HTMLResponse)
def saved(request: Request) -> Response:
    caller = require_reader(request)
    engine = engine_of(request)
    return page(
        request,
        "saved.html",
        title="Saved",
        articles=engine.readers.saved_articles(caller.reader.id, limit=100),
        names=source_names(request),
    )


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: SearchText = "") -> Response:
    caller = require_reader(request)
    engine = engine_of(request)
    query = q.strip()
    found = engine.search(query, limit=30) if query else []
    # Things to follow by that name, beside the articles (nothing for a long query).
    suggestions, _ = suggestions_for(request, query if len(query) <= MAX_SUGGEST_CHARS else "")
    return page(
        request,
        "search.html",
        header_search=False,
        title=f"Search: {query}" if query else "Search",
        query=query,
        results=[a for a, _ in found],
        names=source_names(request),
        suggestions=suggestions,
        stances=Stances.of(engine.readers.interests(caller.reader.id)),
    )


KINDS = tuple(k.value for k in InterestKind)
