"""The HTTP API, and the app that also serves the reader's pages (:mod:`tidings.web`).

Routes stay thin (:mod:`tidings.api.routes`): they parse input into request schemas, call
the Engine and turn its types into response schemas (:mod:`tidings.api.schemas`). Errors
become HTTP statuses in one place, :func:`status_for`, and every error under ``/api`` and
``/feeds`` has one JSON shape, :class:`~tidings.api.schemas.ErrorOut`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tidings import __version__
from tidings.api.errors import status_for
from tidings.api.ingesting import BackgroundIngestion
from tidings.api.limits import AuthRateLimits
from tidings.api.middleware import (
    MAX_BODY_BYTES,
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
)
from tidings.api.routes import accounts, content, feeds, media, mine, reader, sources
from tidings.api.schemas import ErrorOut
from tidings.engine import Engine
from tidings.errors import (
    RateLimitedError,
    TidingsError,
)

log = logging.getLogger(__name__)

#: Paths whose errors are the API's JSON; the rest (the reader's pages) render their own.
API_PREFIXES = ("/api/", "/feeds/")

#: The statuses that have a key of their own in the error shape.
HTTP_ERROR_KEYS = {
    400: "bad_request",
    401: "authentication",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/api"


def error_response(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorOut(error=error, message=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


async def tidings_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, TidingsError)
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s", exc, exc_info=exc)
    headers = None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(int(exc.retry_after))}
    elif status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(status, exc.key, str(exc), headers)


async def api_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"invalid {where}: {first.get('msg', 'invalid input')}"
    return error_response(422, "invalid", message)


async def api_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    key = HTTP_ERROR_KEYS.get(exc.status_code, "error" if exc.status_code >= 500 else "invalid")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "no such address"
    return error_response(exc.status_code, key, message, dict(exc.headers or {}))


async def api_server_error(request: Request, exc: Exception) -> Response:
    # Reached only by a bug: say so in the one shape, and keep the details in the log.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "something went wrong on our side; it was logged")


def _for_api(api: Handler, other: Handler) -> Handler:
    """A handler that answers API paths with ``api`` and everything else with ``other``."""

    async def handle(request: Request, exc: Exception) -> Response:
        chosen = api if is_api_path(request.url.path) else other
        response = chosen(request, exc)
        return await response if inspect.isawaitable(response) else response

    return handle


async def _page_server_error(_: Request, __: Exception) -> Response:
    return PlainTextResponse("Internal Server Error", status_code=500)


def create_app(
    engine: Engine,
    *,
    auth_limits: AuthRateLimits | None = None,
    ingest: bool = False,
    close_engine: bool = False,
) -> FastAPI:
    """The HTTP API and the reader's pages over ``engine``. ``auth_limits`` replaces the
    default limits on sign-in and sign-up attempts (10 a minute per address and per name,
    counted in the database for every process); the pages' forms use the same object,
    ``app.state.auth_limits``. With ``ingest``, the app reads its sources as they fall due
    while it serves (``app.state.ingestion``, a :class:`BackgroundIngestion`, started and
    stopped with the app). ``close_engine``: close the engine (saving its vector index)
    when the app shuts down, as a serving process must: uvicorn raises the stopping signal
    again once it has shut down, so SIGTERM ends the process before the command could."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What ranking holds in memory is read before the first request, not in it (an app
        # made only for its schema may have no engine yet).
        serving: Engine | None = app.state.engine
        if serving is not None:
            await asyncio.to_thread(serving.prepare_to_serve)
        ingestion: BackgroundIngestion | None = app.state.ingestion
        if ingestion is not None:
            ingestion.start()
        try:
            yield
        finally:
            if ingestion is not None:
                await asyncio.to_thread(ingestion.stop)
            if close_engine and serving is not None:
                await asyncio.to_thread(serving.close)

    app = FastAPI(
        lifespan=lifespan,
        title="Tidings",
        version=__version__,
        summary="A personalised news feed with its reasons: the HTTP API",
        description=(
            "Programs sign in with an API token (`Authorization: Bearer <secret>`, made with "
            "`POST /api/tokens`); the reader's page uses the session cookie, and sends the "
            "`X-CSRF-Token` header with every change. Every error has the shape "
            "`{error, message}`."
        ),
    )
    app.state.engine = engine
    app.state.ingestion = BackgroundIngestion(engine) if ingest else None
    app.state.auth_limits = auth_limits or AuthRateLimits(engine=engine)

    http_errors = _for_api(api_http_error, http_exception_handler)
    app.add_exception_handler(TidingsError, tidings_error)
    app.add_exception_handler(RequestValidationError, api_validation_error)
    app.add_exception_handler(StarletteHTTPException, http_errors)
    app.add_exception_handler(Exception, _for_api(api_server_error, _page_server_error))

    for module in (accounts, reader, mine, content, sources, feeds, media):
        app.include_router(module.router)

    @app.get("/api/health", summary="Liveness", tags=["news"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    from tidings import web

    web.install(app)
    # The pages may install handlers of their own for these errors (HTML pages): keep theirs
    # for their paths, and the API's JSON shape for API paths.
    handlers = app.exception_handlers
    for kind, ours, api in (
        (TidingsError, tidings_error, tidings_error),
        (RequestValidationError, api_validation_error, api_validation_error),
        (StarletteHTTPException, http_errors, api_http_error),
    ):
        theirs = handlers.get(kind)
        if theirs is not None and theirs is not ours:
            handlers[kind] = _for_api(api, theirs)
    # Outermost last: the security headers go on every response, a 413 included.
    app.add_middleware(
        BodySizeLimitMiddleware,
        limit=MAX_BODY_BYTES,
        larger=dict.fromkeys(mine.IMPORT_PATHS, mine.MAX_IMPORT_BYTES),
    )
    app.add_middleware(SecurityHeadersMiddleware)
    # (An app made only for its schema has no engine.)
    trusted = [str(net) for net in engine.settings.trusted_proxies] if engine is not None else []
    if trusted:
        # The client's address (what rate limits count) and scheme come from proxy
        # headers only when a configured proxy sent them; `tidings serve` turns uvicorn's
        # own handling off (it trusts 127.0.0.1 by default, so anyone on the machine).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    return app


#: How ``tidings serve --workers N`` hands its settings (the command line's included) to the
#: processes uvicorn starts, which import the app afresh (:func:`app_from_environment`).
SETTINGS_VARIABLE = "_TIDINGS_SERVE_SETTINGS"
#: And whether they read the sources while they serve ("1") or not.
INGEST_VARIABLE = "_TIDINGS_SERVE_INGEST"


def app_from_environment() -> FastAPI:
    """The app of one of the processes of ``tidings serve --workers N``: an engine of its
    own on the shared database, closed (its vector index saved) when the process stops."""
    from tidings.config import Settings
    from tidings.engine import make_engine

    settings = Settings.model_validate_json(os.environ[SETTINGS_VARIABLE])
    ingest = os.environ.get(INGEST_VARIABLE, "0") == "1"
    return create_app(make_engine(settings), ingest=ingest, close_engine=True)
