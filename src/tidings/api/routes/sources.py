"""Sources: anyone may see them and their health, signed-in readers may add feeds, and only
the operators named in ``TIDINGS_ADMINS`` may remove them."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request

from tidings.api.auth import CallerDep, EngineDep
from tidings.api.ingesting import source_added
from tidings.api.routes.accounts import is_admin
from tidings.api.schemas import Id, SourceIn, SourceOut, error_responses, source_out
from tidings.errors import InvalidURLError, PermissionDeniedError
from tidings.types import SourceHealth

router = APIRouter(tags=["sources"])


@router.get("/api/sources", summary="Sources with their health")
def sources(engine: EngineDep) -> list[SourceOut]:
    return [source_out(h) for h in engine.list_sources()]


@router.post(
    "/api/sources",
    status_code=201,
    summary="Subscribe to an http(s) feed (signed-in readers)",
    responses=error_responses(401, 403, 409, 422),
)
def add_source(body: SourceIn, caller: CallerDep, engine: EngineDep, request: Request) -> SourceOut:
    # Local files and folders are the operator's to add, from the command line: over HTTP
    # they would let anyone make the server read its own disk.
    parts = urlsplit(body.url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidURLError("a source added here is an http(s) feed URL", resource=body.url)
    source = engine.add_source(body.url, tags=body.tags, title=body.title or None)
    # Read within seconds where this process reads sources (`tidings serve`).
    source_added(request.app)
    return source_out(SourceHealth(source=source))


@router.delete(
    "/api/sources/{source_id}",
    status_code=204,
    summary="Unsubscribe from a source and delete its articles (operators only)",
    responses=error_responses(401, 403, 404, 422),
)
def remove_source(source_id: Id, caller: CallerDep, engine: EngineDep) -> None:
    if not is_admin(engine, caller.reader):
        raise PermissionDeniedError("only the operators of this Tidings may remove sources")
    engine.remove_source(source_id)
