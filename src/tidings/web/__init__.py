"""The reader's pages: server-rendered templates, forms that work without JavaScript.

:func:`install` adds the pages and their static files to the HTTP app
(``tidings.api.app.create_app`` calls it).

Pages (``pages.py``; all but sign-in and sign-up need a signed-in reader): ``/`` For you,
``/onboarding`` (``?q=`` finds things to follow), ``/articles/{id}`` (and ``/similar``),
``/stories/{id}``, ``/entities/{id or name}``, ``/topics/{id}``, ``/sources``, ``/saved``,
``/search?q=``, ``/settings``, ``/signin``, ``/signup``; and (``data.py``) ``/clippings``,
adding an article and the reader's own. Forms (``forms.py``, ``account.py``, ``data.py``)
POST, then redirect (303) back to a page on this site: ``/interests`` (follow, mute,
unfollow), ``/feedback`` (more, less, hide, save), ``/unhide`` (Undo a hide), ``/reasons``
(a reason's action), ``/saved/remove``, ``/onboarding``, ``/settings/...`` (among them
``/settings/import`` and ``/settings/delete``: the reader's data), ``/sources`` (add one),
``/clippings`` (add an article), ``/signout``; ``/read`` takes the
read time the optional script (``static/tidings.js``) sends. Errors on these routes are HTML
pages (``render.PageRoute``), and so is "not found" for any address a browser asks for
outside the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException


def install(app: FastAPI) -> None:
    """Add the reader's pages to ``app``, and HTML "not found" pages for browsers."""
    from tidings.web import account, data, forms, pages
    from tidings.web.render import STATIC, error_page

    app.include_router(pages.router)
    app.include_router(forms.router)
    app.include_router(account.router)
    app.include_router(data.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    fallback: Any = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    async def not_found(request: Request, exc: Exception) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code in (404, 405)
            and wants_html
            and not request.url.path.startswith(("/api", "/feeds", "/docs", "/openapi"))
        ):
            if exc.status_code == 405:
                return error_page(request, 405, "This page cannot be used that way.")
            return error_page(request, 404, "There is no such page.")
        response: Response = await fallback(request, exc)
        return response

    app.add_exception_handler(StarletteHTTPException, not_found)
