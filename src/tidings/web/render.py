"""Turning data into pages: the template environment, HTML error pages, redirects.

Templates are autoescaped; the one filter that marks text safe is :func:`article_html`,
which passes the publisher's markup through :func:`tidings.deliver.sanitize.clean_html`
first. Nothing else in this package may produce ``Markup``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tidings.api.errors import status_for
from tidings.deliver.media import MediaSigner, proxied_html
from tidings.deliver.sanitize import clean_html
from tidings.errors import (
    TidingsError,
)
from tidings.web.items import ago as relative_time
from tidings.web.items import headline, summary_after_title
from tidings.web.session import SignInRequired, page_caller

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def article_html(
    html_text: str | None, base_url: str | None = None, media: MediaSigner | None = None
) -> Markup:
    """The publisher's HTML, sanitised: the only way article markup reaches a page. With
    ``media``, its pictures come through the media proxy (the page's policy allows no
    others)."""
    clean = clean_html(html_text, base_url=base_url)
    if media is not None:
        clean = proxied_html(clean, media)
    return Markup(clean)  # noqa: S704 - sanitised just now


def paragraphs(text: str | None) -> list[str]:
    """Plain text split at blank lines (the form of ``Article.body``)."""
    if not text:
        return []
    return [p.strip() for p in text.replace("\r", "").split("\n\n") if p.strip()]


def when(moment: datetime | None) -> str:
    """A short, absolute time ("18 Oct 2024, 09:00 UTC")."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def ago(moment: datetime | None) -> str:
    """How long ago, relative to now ("3 h ago")."""
    return relative_time(moment, datetime.now(UTC))


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def counted(n: int, thing: str) -> str:
    """``n`` things, in words a reader reads: "1 source", "3 sources"."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: redirects after a form
    never leave the site (``//evil.example`` and ``https://…`` are refused)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    # Browsers drop tabs and line breaks from URLs ("/\t/evil.example" is "//evil.example")
    # and read a backslash as a slash: refuse them all.
    if any(c <= " " or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["article_html"] = article_html
    env.filters["paragraphs"] = paragraphs
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.filters["ago"] = ago
    env.filters["counted"] = counted
    env.filters["after_title"] = lambda summary, title: summary_after_title(title, summary)
    env.filters["headline"] = headline
    env.globals["percent"] = percent
    return env


ENV = _environment()


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the common context (caller, CSRF token, current path)."""
    from tidings.api.routes.media import media_proxy

    caller = page_caller(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    values: dict[str, Any] = {"here": here, "here_base": here}
    values.update(context)
    html = ENV.get_template(template).render(
        request=request,
        caller=caller,
        reader=caller.reader if caller else None,
        csrf=caller.csrf if caller else "",
        media=media_proxy(request.app).signer,
        **values,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def redirect(to: str) -> RedirectResponse:
    """POST → 303 → GET."""
    return RedirectResponse(to, status_code=303)


def to_signin(request: Request) -> RedirectResponse:
    """To the sign-in page, which comes back here afterwards (for a page; a form that
    needed a session goes back to the feed)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or here == "/":
        return redirect("/signin")
    return redirect(f"/signin?{urlencode({'next': here})}")


def page_status(error: TidingsError) -> int:
    """A page's status for an error: the API's (``tidings.api.errors.status_for``), except
    that a page never asks for HTTP authentication (it offers the sign-in page)."""
    status = status_for(error)
    return 403 if status == 401 else status


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {
        400: "Bad request",
        403: "Not allowed",
        404: "Not found",
        409: "Already exists",
        422: "That did not work",
        405: "Not here",
        429: "Too many attempts",
        502: "A source could not be reached",
    }
    return page(
        request,
        "error.html",
        status_code=status,
        title=titles.get(status, "Something went wrong"),
        message=message,
        status=status,
    )


class PageRoute(APIRoute):
    """A route whose errors are HTML pages, not the API's JSON (the app's handlers stay as
    they are for ``/api``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return to_signin(request)
            except TidingsError as e:
                return error_page(request, page_status(e), str(e))
            except RequestValidationError:
                if request.method == "GET":
                    # Only ids and small fields come in the path or query: a wrong one names
                    # nothing that exists.
                    return error_page(request, 404, "There is no such page.")
                return error_page(request, 400, "This form was incomplete: please try again.")

        return handle
