"""The HTTP API. Until the reader's page exists, ``/`` lists the latest articles as JSON.

Routes stay thin: they parse input, call the Engine and turn its types into response
schemas. Errors become HTTP statuses in one place, :func:`status_for`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tidings import __version__
from tidings.engine import Engine
from tidings.errors import (
    FeedParseError,
    FetchError,
    InvalidInputError,
    InvalidURLError,
    NotFoundError,
    OPMLError,
    ReaderExistsError,
    SourceExistsError,
    TidingsError,
)
from tidings.types import Article, ArticleInsight, Entity, Quote, SourceHealth, Story


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


class ArticleDetailOut(ArticleOut):
    canonical_url: str | None
    guid: str | None
    updated: datetime | None
    section: str | None
    site_name: str | None
    summary_points: list[str]
    body: str | None
    language: str | None
    images: list[ImageOut]
    related: list[LinkOut]
    extraction_note: str | None
    fetched_at: datetime


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


class ErrorOut(BaseModel):
    error: str
    message: str


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


def article_detail_out(a: Article) -> ArticleDetailOut:
    return ArticleDetailOut(
        **article_out(a).model_dump(),
        canonical_url=a.canonical_url,
        guid=a.guid,
        updated=a.updated,
        section=a.section,
        site_name=a.site_name,
        summary_points=list(a.summary_points),
        body=a.body,
        language=a.language,
        images=[ImageOut(url=i.url, caption=i.caption, credit=i.credit) for i in a.images],
        related=[LinkOut(url=r.url, title=r.title) for r in a.related],
        extraction_note=a.extraction_note,
        fetched_at=a.fetched_at,
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
        topics=[
            TopicOut(id=t.id, label=t.label, kind=t.kind.value, confidence=t.confidence)
            for t in i.topics
        ],
        quotes=[quote_out(q) for q in i.quotes],
        story=story_out(i.story) if i.story else None,
        duplicates=list(i.duplicates),
    )


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


def status_for(error: TidingsError) -> int:
    """The one place where an error becomes an HTTP status."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, SourceExistsError | ReaderExistsError):
        return 409
    if isinstance(error, InvalidURLError | OPMLError | FeedParseError | InvalidInputError):
        return 422
    if isinstance(error, FetchError):
        return 502
    return 500


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="Tidings", version=__version__)
    app.state.engine = engine

    @app.exception_handler(TidingsError)
    async def tidings_error(_: Request, exc: TidingsError) -> JSONResponse:
        body = ErrorOut(error=exc.key, message=str(exc))
        return JSONResponse(body.model_dump(), status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"invalid {where}: {first.get('msg', 'invalid input')}"
        return JSONResponse(ErrorOut(error="invalid", message=message).model_dump(), 422)

    @app.get("/", summary="The latest articles, newest first")
    def latest(engine: EngineDep, limit: Limit = 50, offset: Offset = 0) -> list[ArticleOut]:
        return [article_out(a) for a in engine.list_articles(limit=limit, offset=offset)]

    @app.get("/api/articles", summary="Articles, newest first")
    def articles(
        engine: EngineDep,
        limit: Limit = 50,
        offset: Offset = 0,
        source: Annotated[int | None, Query(ge=1)] = None,
    ) -> list[ArticleOut]:
        found = engine.list_articles(source=source, limit=limit, offset=offset)
        return [article_out(a) for a in found]

    @app.get(
        "/api/articles/{article_id}",
        responses={404: {"model": ErrorOut}},
        summary="One article with its text",
    )
    def article(engine: EngineDep, article_id: int) -> ArticleDetailOut:
        return article_detail_out(engine.get_article(article_id))

    @app.get(
        "/api/articles/{article_id}/analysis",
        responses={404: {"model": ErrorOut}},
        summary="What enrichment found in an article (null until it is analysed)",
    )
    def analysis(engine: EngineDep, article_id: int) -> AnalysisOut | None:
        found = engine.article_insight(article_id)
        return analysis_out(found) if found else None

    @app.get(
        "/api/articles/{article_id}/similar",
        responses={404: {"model": ErrorOut}},
        summary="Articles most like this one, by meaning",
    )
    def similar(
        engine: EngineDep, article_id: int, limit: Annotated[int, Query(ge=1, le=50)] = 10
    ) -> list[SimilarOut]:
        return [
            SimilarOut(**article_out(a).model_dump(), similarity=score)
            for a, score in engine.similar_articles(article_id, limit=limit)
        ]

    @app.get("/api/entities", summary="Entities, most often named first")
    def entities(
        engine: EngineDep,
        limit: Limit = 50,
        type: Annotated[str | None, Query(max_length=16)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[EntityOut]:
        return [entity_out(e) for e in engine.list_entities(type=type, query=q, limit=limit)]

    @app.get(
        "/api/entities/{key}",
        responses={404: {"model": ErrorOut}},
        summary="An entity (by id or any of its names) with its articles and quotes",
    )
    def entity(engine: EngineDep, key: str, limit: Limit = 20) -> EntityPageOut:
        page = engine.entity_page(int(key) if key.isdigit() else key, limit=limit)
        return EntityPageOut(
            **entity_out(page.entity).model_dump(),
            articles=[article_out(a) for a in page.articles],
            quotes=[quote_out(q) for q in page.quotes],
        )

    @app.get("/api/stories", summary="Stories, most recently active first")
    def stories(engine: EngineDep, limit: Limit = 50) -> list[StoryOut]:
        return [story_out(s) for s in engine.list_stories(limit=limit)]

    @app.get(
        "/api/stories/{story_id}",
        responses={404: {"model": ErrorOut}},
        summary="A story with all its articles and sources",
    )
    def story(engine: EngineDep, story_id: int) -> StoryPageOut:
        page = engine.story_page(story_id)
        return StoryPageOut(
            **story_out(page.story).model_dump(),
            articles=[article_out(a) for a in page.articles],
            sources=list(page.sources),
        )

    @app.get("/api/topics", summary="Topics in use, with their article counts")
    def topics(engine: EngineDep) -> list[dict[str, str | int]]:
        return [
            {"id": t.id, "label": t.label, "kind": t.kind.value, "articles": n}
            for t, n in engine.list_topics()
        ]

    @app.get("/api/sources", summary="Sources with their health")
    def sources(engine: EngineDep) -> list[SourceOut]:
        return [source_out(h) for h in engine.list_sources()]

    @app.get("/api/health", summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
