"""What is the signed-in reader's own: follows and mutes, the personalised feed, events and
saved articles. Every route acts on the caller's rows only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from tidings.api.auth import CallerDep, EngineDep
from tidings.api.schemas import (
    MAX_EVENTS,
    ArticleOut,
    ErrorOut,
    EventIn,
    FeedOut,
    Id,
    InterestIn,
    InterestOut,
    Limit,
    RecordedOut,
    article_out,
    error_responses,
    feed_item_out,
    interest_out,
    plausible_id,
)
from tidings.errors import InvalidInputError, NotFoundError
from tidings.rank.assemble import MAX_CURSOR_CHARS
from tidings.rank.ranker import MAX_PAGE_SIZE
from tidings.readers import MAX_INTEREST_CHARS
from tidings.types import FeedPage, InterestKind, ReaderEvent, Stance

router = APIRouter(tags=["reader"])

FORBIDDEN = {403: {"model": ErrorOut, "description": "Missing CSRF token"}}
INVALID = {422: {"model": ErrorOut, "description": "Invalid input"}}


@router.get(
    "/api/interests", summary="What the reader follows and mutes", responses=error_responses(401)
)
def interests(caller: CallerDep, engine: EngineDep) -> list[InterestOut]:
    return [interest_out(i) for i in engine.readers.interests(caller.reader.id)]


@router.put(
    "/api/interests",
    summary="Follow or mute a topic, entity, source, author, story or keyword (by id or name)",
    responses=error_responses(401, 403, 404, 422),
)
def set_interest(body: InterestIn, caller: CallerDep, engine: EngineDep) -> InterestOut:
    act = engine.readers.follow if body.stance is Stance.FOLLOW else engine.readers.mute
    return interest_out(act(caller.reader.id, body.kind, body.value))


@router.delete(
    "/api/interests/{kind}/{value:path}",
    status_code=204,
    summary="Stop following (or muting) something",
    responses=error_responses(401, 403, 404, 422),
)
def remove_interest(
    kind: InterestKind,
    value: Annotated[str, Path(min_length=1, max_length=MAX_INTEREST_CHARS)],
    caller: CallerDep,
    engine: EngineDep,
) -> None:
    if not plausible_id(value):
        raise InvalidInputError("not a valid id", resource=value)
    if not engine.readers.unfollow(caller.reader.id, kind, value):
        raise NotFoundError(f"you neither follow nor mute that {kind.value}", resource=value)


#: The JSON of pages recently answered, by the page object the ranker served: a page served
#: from its cache is the same object every time, so its JSON is made once rather than per
#: request (building and checking the response models was a third of a cached request's
#: CPU in ``tidings bench http``). About 40 KB each with the page kept alive beside it; the
#: least recently answered go first.
FEED_BODIES = 256
_bodies: OrderedDict[int, tuple[FeedPage, bytes]] = OrderedDict()
_bodies_lock = threading.Lock()


def _feed_body(page: FeedPage) -> bytes:
    with _bodies_lock:
        # Keyed by identity: the entry holds the page, so its id is not reused meanwhile.
        found = _bodies.get(id(page))
        if found is not None and found[0] is page:
            _bodies.move_to_end(id(page))
            return found[1]
    body = (
        FeedOut(
            items=[feed_item_out(item, page.articles) for item in page.items],
            next_cursor=page.next_cursor,
            hint=page.hint,
        )
        .model_dump_json()
        .encode()
    )
    with _bodies_lock:
        _bodies[id(page)] = (page, body)
        while len(_bodies) > FEED_BODIES:
            _bodies.popitem(last=False)
    return body


@router.get(
    "/api/feed",
    summary="A page of the reader's personalised feed, each item with its reasons",
    responses=error_responses(401, 422),
    response_model=FeedOut,
)
def feed(
    caller: CallerDep,
    engine: EngineDep,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 30,
) -> Response:
    page = engine.feed(caller.reader.id, cursor=cursor or None, size=size)
    return Response(_feed_body(page), media_type="application/json")


@router.post(
    "/api/events",
    summary="Record what the reader saw and did (all or nothing)",
    responses=error_responses(401, 403, 404, 422),
)
def record_events(
    events: Annotated[list[EventIn], Body(max_length=MAX_EVENTS)],
    caller: CallerDep,
    engine: EngineDep,
) -> RecordedOut:
    now = engine.now()
    items = [
        ReaderEvent(kind=e.kind, article_id=e.article_id, at=e.at or now, value=e.value)
        for e in events
    ]
    return RecordedOut(recorded=engine.readers.record_events(caller.reader.id, items))


@router.get("/api/saved", summary="The reader's saved articles", responses=error_responses(401))
def saved(caller: CallerDep, engine: EngineDep, limit: Limit = 50) -> list[ArticleOut]:
    return [article_out(a) for a in engine.readers.saved_articles(caller.reader.id, limit=limit)]


@router.put(
    "/api/saved/{article_id}",
    status_code=204,
    summary="Save an article for later",
    responses=error_responses(401, 403, 404, 422),
)
def save(article_id: Id, caller: CallerDep, engine: EngineDep) -> None:
    engine.readers.save_article(caller.reader.id, article_id)


@router.delete(
    "/api/saved/{article_id}",
    status_code=204,
    summary="Forget a saved article",
    responses=error_responses(401, 403, 404, 422),
)
def unsave(article_id: Id, caller: CallerDep, engine: EngineDep) -> None:
    if not engine.readers.unsave_article(caller.reader.id, article_id):
        raise NotFoundError(f"article {article_id} is not saved", resource=str(article_id))
