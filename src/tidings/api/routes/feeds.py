"""A reader's private feeds: their personalised feed as Atom and JSON Feed, at secret URLs
a feed reader can poll (made with ``POST /api/me/private-feed``).

The secret is the only credential, so an unknown, revoked or malformed one is a plain 404
that says nothing about whose it might have been.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from tidings.accounts import MAX_SECRET_CHARS
from tidings.api.auth import EngineDep
from tidings.api.schemas import ErrorOut
from tidings.deliver.syndication import (
    ATOM_MEDIA_TYPE,
    JSON_FEED_MEDIA_TYPE,
    atom_feed,
    collect_articles,
    json_feed,
)
from tidings.engine import Engine
from tidings.errors import AuthenticationError, NotFoundError
from tidings.types import Article, FeedPage, TokenKind

router = APIRouter(tags=["private feeds"])

#: Entries in a private feed: a page of the reader's feed, what a feed reader shows at once.
FEED_ENTRIES = 30
#: Feed readers poll every few minutes to hours; five minutes of caching spares the ranker
#: without making a new story late. Private: no shared cache may keep a reader's feed.
CACHE_CONTROL = "private, max-age=300"

Secret = Annotated[str, Path(min_length=1, max_length=MAX_SECRET_CHARS)]


def _page(engine: Engine, secret: str) -> FeedPage:
    try:
        reader = engine.accounts.reader_for_token(secret, TokenKind.FEED)
    except AuthenticationError as e:
        raise NotFoundError("no such feed (its address may have been replaced)") from e
    return engine.feed(reader.id, size=FEED_ENTRIES)


def _feed(engine: Engine, secret: str) -> tuple[FeedPage, dict[int, Article], str]:
    """What either format is made of: the page, its articles and the feed's title."""
    page = _page(engine, secret)
    return page, collect_articles(page, engine.get_article), f"Tidings: {page.reader.name}"


def _headers() -> dict[str, str]:
    return {"Cache-Control": CACHE_CONTROL, "X-Robots-Tag": "noindex"}


@router.get(
    "/feeds/{secret}.atom",
    name="private_feed_atom",
    summary="The reader's feed as Atom 1.0",
    response_class=Response,
    responses={
        200: {"content": {"application/atom+xml": {}}, "description": "An Atom feed"},
        404: {"model": ErrorOut, "description": "No such feed"},
    },
)
def private_feed_atom(secret: Secret, request: Request, engine: EngineDep) -> Response:
    page, articles, title = _feed(engine, secret)
    body = atom_feed(
        page, articles, title=title, feed_url=str(request.url), site_url=str(request.base_url)
    )
    return Response(body, media_type=ATOM_MEDIA_TYPE, headers=_headers())


@router.get(
    "/feeds/{secret}.json",
    name="private_feed_json",
    summary="The reader's feed as JSON Feed 1.1",
    response_class=Response,
    responses={
        200: {"content": {"application/feed+json": {}}, "description": "A JSON Feed"},
        404: {"model": ErrorOut, "description": "No such feed"},
    },
)
def private_feed_json(secret: Secret, request: Request, engine: EngineDep) -> Response:
    page, articles, title = _feed(engine, secret)
    document = json_feed(
        page, articles, title=title, feed_url=str(request.url), site_url=str(request.base_url)
    )
    body = json.dumps(document, ensure_ascii=False).encode()
    return Response(body, media_type=JSON_FEED_MEDIA_TYPE, headers=_headers())
