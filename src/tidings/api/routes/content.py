"""The news itself, the same for every caller: articles, their analyses, entities, stories,
topics and search. No sign-in needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tidings.api.auth import EngineDep, OptionalCallerDep
from tidings.api.schemas import (
    MAX_ID,
    AnalysisOut,
    ArticleDetailOut,
    ArticleOut,
    EntityOut,
    EntityPageOut,
    ErrorOut,
    Id,
    Limit,
    Offset,
    SearchHitOut,
    SimilarOut,
    StoryOut,
    StoryPageOut,
    SuggestionOut,
    TopicCountOut,
    TopicPageOut,
    analysis_out,
    article_detail_out,
    article_out,
    entity_out,
    error_responses,
    quote_out,
    story_out,
    suggestion_out,
)
from tidings.engine import MAX_QUERY_CHARS
from tidings.rank.ranker import MAX_PAGE_SIZE
from tidings.suggest import MAX_QUERY_CHARS as MAX_SUGGEST_CHARS
from tidings.suggest import MIN_QUERY_CHARS as MIN_SUGGEST_CHARS
from tidings.suggest import SUGGESTIONS

router = APIRouter(tags=["news"])

INVALID = {422: {"model": ErrorOut, "description": "Invalid input"}}


@router.get("/api/articles", summary="Articles, newest first", responses=error_responses(404, 422))
def articles(
    engine: EngineDep,
    limit: Limit = 50,
    offset: Offset = 0,
    source: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[ArticleOut]:
    found = engine.list_articles(source=source, limit=limit, offset=offset)
    return [article_out(a) for a in found]


@router.get(
    "/api/articles/{article_id}",
    responses=error_responses(404, 422),
    summary="One article: clean text, sanitised HTML, entities, topics and story",
)
def article(engine: EngineDep, article_id: Id) -> ArticleDetailOut:
    found = engine.get_article(article_id)
    return article_detail_out(found, engine.article_insight(article_id))


@router.get(
    "/api/articles/{article_id}/analysis",
    responses=error_responses(404, 422),
    summary="What enrichment found in an article (null until it is analysed)",
)
def analysis(engine: EngineDep, article_id: Id) -> AnalysisOut | None:
    engine.get_article(article_id)
    found = engine.article_insight(article_id)
    return analysis_out(found) if found else None


@router.get(
    "/api/articles/{article_id}/similar",
    responses=error_responses(404, 422),
    summary="More like this: the articles most like this one, by meaning",
)
def similar(
    engine: EngineDep, article_id: Id, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> list[SimilarOut]:
    return [
        SimilarOut(**article_out(a).model_dump(), similarity=score)
        for a, score in engine.similar_articles(article_id, limit=limit)
    ]


@router.get(
    "/api/search", summary="Full-text search, best match first", responses=error_responses(422)
)
def search(
    engine: EngineDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    offset: Offset = 0,
) -> list[SearchHitOut]:
    return [
        SearchHitOut(**article_out(a).model_dump(), relevance=score)
        for a, score in engine.search(q, limit=limit, offset=offset)
    ]


@router.get(
    "/api/suggest",
    summary="Entities, topics and sources to follow, by the start of their names (as you type)",
    responses=error_responses(422),
)
def suggest(
    engine: EngineDep,
    caller: OptionalCallerDep,
    q: Annotated[str, Query(min_length=MIN_SUGGEST_CHARS, max_length=MAX_SUGGEST_CHARS)],
    limit: Annotated[int, Query(ge=1, le=50)] = SUGGESTIONS,
) -> list[SuggestionOut]:
    found = engine.readers.suggest(q, limit=limit)
    stances = (
        {(i.kind, i.value): i.stance for i in engine.readers.interests(caller.reader.id)}
        if caller is not None
        else {}
    )
    return [suggestion_out(s, stances.get((s.kind, s.value))) for s in found]


@router.get(
    "/api/entities", summary="Entities, most often named first", responses=error_responses(422)
)
def entities(
    engine: EngineDep,
    limit: Limit = 50,
    type: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[EntityOut]:
    return [entity_out(e) for e in engine.list_entities(type=type, query=q, limit=limit)]


@router.get(
    "/api/entities/{key}",
    responses=error_responses(404, 422),
    summary="An entity (by id or any of its names) with its articles and quotes",
)
def entity(engine: EngineDep, key: str, limit: Limit = 20) -> EntityPageOut:
    by_id = key.isascii() and key.isdigit() and int(key) <= MAX_ID
    page = engine.entity_page(int(key) if by_id else key, limit=limit)
    return EntityPageOut(
        **entity_out(page.entity).model_dump(),
        articles=[article_out(a) for a in page.articles],
        quotes=[quote_out(q) for q in page.quotes],
    )


@router.get(
    "/api/stories", summary="Stories, most recently active first", responses=error_responses(422)
)
def stories(engine: EngineDep, limit: Limit = 50) -> list[StoryOut]:
    return [story_out(s) for s in engine.list_stories(limit=limit)]


@router.get(
    "/api/stories/{story_id}",
    responses=error_responses(404, 422),
    summary="A story with all its articles and sources",
)
def story(engine: EngineDep, story_id: Id) -> StoryPageOut:
    page = engine.story_page(story_id)
    return StoryPageOut(
        **story_out(page.story).model_dump(),
        articles=[article_out(a) for a in page.articles],
        sources=list(page.sources),
    )


@router.get("/api/topics", summary="Topics in use, with their article counts")
def topics(engine: EngineDep) -> list[TopicCountOut]:
    return [
        TopicCountOut(id=t.id, label=t.label, kind=t.kind.value, articles=n)
        for t, n in engine.list_topics()
    ]


@router.get(
    "/api/topics/{topic_id:path}",
    responses=error_responses(404, 422),
    summary="A topic (by id or label) with its newest articles",
)
def topic(engine: EngineDep, topic_id: str, limit: Limit = 20) -> TopicPageOut:
    tag, found = engine.readers.topic_page(topic_id, limit=limit)
    return TopicPageOut(
        id=tag.id, label=tag.label, kind=tag.kind.value, articles=[article_out(a) for a in found]
    )
