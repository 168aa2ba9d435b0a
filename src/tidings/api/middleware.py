"""What every response gets and every request is held to: security headers, and a bound
on the size of request bodies. Plain ASGI middleware, so that streaming responses and the
reader's pages get the same treatment as the API's JSON."""

from __future__ import annotations

import html
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The content security policy of every page: our own scripts and styles only (no inline
#: script, so an injected ``<script>`` cannot run even if sanitising ever failed), images
#: from this site only (publishers' pictures come through the media proxy,
#: :mod:`tidings.deliver.media`, so the reader's browser never tells a publisher who reads
#: what), no plugins, no framing, forms post here only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: The interactive API documentation (``/docs``, ``/redoc``) is FastAPI's, which loads its
#: scripts from a CDN and starts them inline; it shows no article content.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' https: data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Largest request body accepted (1 MiB): the largest legitimate one, a batch of a
#: thousand events, is about 100 kB.
MAX_BODY_BYTES = 1024 * 1024


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` and a content security policy to every response
    (leaving alone any a route set itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (
            DOCS_CONTENT_SECURITY_POLICY
            if scope.get("path") in DOCS_PATHS
            else CONTENT_SECURITY_POLICY
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLargeError(HTTPException):
    """Raised while the body is read; FastAPI passes HTTPExceptions from reading through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413: at once when Content-Length
    says so, and while reading for chunked bodies that do not say. ``larger`` gives some
    paths a limit of their own (a reader's data file). A page's form (any path outside the
    API) is answered with a short HTML page that says what happened, not the API's JSON."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.limit)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server rejects a malformed length itself
            if too_large:
                await _refuse(scope, receive, send, limit)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, limited_receive, send)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


#: What a page's form that sent too much gets: the page's own look, what happened, a way
#: back (no script: the policy allows none inline).
TOO_LARGE_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '<title>Too large · Tidings</title><link rel="stylesheet" href="/static/tidings.css">'
    '</head>\n<body><main id="main"><h1>That was too large to send</h1>\n'
    '<p class="error" role="alert">What you sent is larger than {size}, more than Tidings '
    "takes in one form. A copied article page is far smaller: copy the article's own page, "
    "or give its address instead.</p>\n"
    '<p><a href="{back}">Go back</a></p></main></body></html>\n'
)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    from fastapi.responses import HTMLResponse, JSONResponse

    path = scope.get("path", "")
    headers = {"Connection": "close"}
    if not path.startswith(("/api/", "/feeds/")):
        back = path if path.startswith("/") and not path.startswith("//") else "/"
        page = TOO_LARGE_PAGE.format(size=_size(limit), back=html.escape(back, quote=True))
        await HTMLResponse(page, status_code=413, headers=headers)(scope, receive, send)
        return
    body = {"error": "too_large", "message": f"the request body is larger than {limit} bytes"}
    await JSONResponse(body, status_code=413, headers=headers)(scope, receive, send)
