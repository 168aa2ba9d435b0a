"""What is the reader's own beyond their follows and feed: articles they add themselves
(their clippings), undoing a hide, their data as a file to take elsewhere (and back in), and
deleting their account. Every route acts on the caller's rows only."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response

from tidings.api.auth import CallerDep, EngineDep, clear_session_cookie
from tidings.api.ingesting import source_added
from tidings.api.schemas import (
    ArticleDetailOut,
    ArticleIn,
    ClippingOut,
    Id,
    ImportOut,
    Limit,
    article_detail_out,
    clipping_out,
    error_responses,
)
from tidings.errors import InvalidInputError, NotFoundError
from tidings.portability import ReaderData

router = APIRouter(tags=["reader"])

#: Largest data file imported (``/api/me/import``; the body size limit of these paths): a
#: reader's file with a decade of events is about 100 MB as JSON; 64 MiB holds years of
#: daily reading and keeps one request's memory bounded.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
IMPORT_PATHS = ("/api/me/import", "/settings/import")


@router.post(
    "/api/articles",
    status_code=201,
    summary="Add an article by its address or its copied page's text; saved for the reader",
    responses=error_responses(401, 403, 422),
)
def add_article(body: ArticleIn, caller: CallerDep, engine: EngineDep) -> ArticleDetailOut:
    found = engine.clip(caller.reader.id, url=body.url, text=body.text)
    return article_detail_out(found, engine.article_insight(found.id))


@router.get(
    "/api/clippings",
    summary="The articles the reader added themselves, most recent first",
    responses=error_responses(401),
)
def clippings(caller: CallerDep, engine: EngineDep, limit: Limit = 50) -> list[ClippingOut]:
    return [clipping_out(a, at) for a, at in engine.clippings(caller.reader.id, limit=limit)]


@router.delete(
    "/api/hidden/{article_id}",
    status_code=204,
    summary="Undo a hide: the article (and its story) may come back to the feed",
    responses=error_responses(401, 403, 404, 422),
)
def unhide(article_id: Id, caller: CallerDep, engine: EngineDep) -> None:
    if not engine.readers.unhide(caller.reader.id, article_id):
        raise NotFoundError(f"article {article_id} is not hidden", resource=str(article_id))


@router.get(
    "/api/me/export",
    summary="Everything of the reader as a file: settings, follows, mutes, saved, clippings, "
    "events (import it here or on another Tidings)",
    responses=error_responses(401),
    response_class=Response,
)
def export(caller: CallerDep, engine: EngineDep) -> Response:
    data = ReaderData(engine).export(caller.reader.id)
    name = f"tidings-{caller.reader.name}.json"
    return Response(
        data.model_dump_json(indent=1),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/api/me/export.opml",
    summary="The web feeds the reader reads, as OPML (followed ones in a folder)",
    responses=error_responses(401),
    response_class=Response,
)
def export_opml(caller: CallerDep, engine: EngineDep) -> Response:
    name = f"tidings-{caller.reader.name}.opml"
    return Response(
        ReaderData(engine).export_opml(caller.reader.id),
        media_type="text/x-opml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/api/me/import",
    summary="Import a file exported from Tidings (JSON), or an OPML file of feeds",
    responses=error_responses(401, 403, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/x-opml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_data(request: Request, caller: CallerDep, engine: EngineDep) -> ImportOut:
    import asyncio

    data = await request.body()
    if not data.strip():
        raise InvalidInputError("send the file as the request body")
    report = await asyncio.to_thread(ReaderData(engine).import_any, caller.reader.id, data)
    if report.sources_added:
        source_added(request.app)
    return ImportOut(**asdict(report))


@router.delete(
    "/api/me",
    status_code=204,
    summary="Delete the reader's account with everything of theirs (this cannot be undone)",
    responses=error_responses(401, 403),
)
def delete_account(
    request: Request, response: Response, caller: CallerDep, engine: EngineDep
) -> None:
    engine.readers.remove_reader(caller.reader.id)
    clear_session_cookie(response, request)
