"""Signing up, in and out; onboarding; settings; adding a source."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tidings.api.ingesting import source_added
from tidings.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    ReaderExistsError,
    TidingsError,
)
from tidings.types import InterestKind, Stance, TokenKind
from tidings.web.pages import sources_page
from tidings.web.render import PageRoute, local_path, page, redirect
from tidings.web.session import (
    check_attempt,
    end_session,
    engine_of,
    form_token,
    form_token_ok,
    keep_form_token,
    page_caller,
    require_form,
    require_reader,
    start_session,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Csrf = Annotated[str, Form(max_length=200)]
Field = Annotated[str, Form(max_length=1100)]
NextQuery = Annotated[str, Query(max_length=2000)]

EXPIRED = "This form had expired: please try again."


def _auth_page(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    token = form_token(request)
    response = page(request, template, status_code=status_code, form_token=token, **context)
    keep_form_token(request, response, token)
    return response


def too_many(error: RateLimitedError) -> str:
    return f"Too many attempts: try again in {max(int(error.retry_after), 1)} seconds."


# --- sign up, in and out -------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, deleted: bool = False) -> Response:
    if page_caller(request) is not None:
        return redirect("/")
    notice = "Your account and everything of yours were deleted." if deleted else None
    return _auth_page(
        request, "signup.html", title="Sign up", errors={}, name="", email="", notice=notice
    )


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    name: Field = "",
    password: Field = "",
    email: Field = "",
    csrf: Csrf = "",
) -> Response:
    errors: dict[str, str] = {}
    status = 422
    if not form_token_ok(request, csrf):
        errors["form"] = EXPIRED
    else:
        engine = engine_of(request)
        try:
            check_attempt(request, "signup", name)
            reader = engine.accounts.sign_up(name, password, email=email.strip() or None)
        except RateLimitedError as e:
            errors["form"] = too_many(e)
            status = 429
        except ReaderExistsError:
            errors["name"] = "That name is taken: choose another."
        except InvalidInputError as e:
            message = str(e)
            field = (
                "password" if "password" in message else "email" if "mail" in message else "name"
            )
            errors[field] = message[:1].upper() + message[1:] + "."
        else:
            response = redirect("/onboarding")
            start_session(request, response, reader.id)
            return response
    return _auth_page(
        request,
        "signup.html",
        status_code=status,
        title="Sign up",
        errors=errors,
        name=name,
        email=email,
    )


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: NextQuery = "/") -> Response:
    if page_caller(request) is not None:
        return redirect(local_path(next))
    return _auth_page(
        request, "signin.html", title="Sign in", error=None, name="", next=local_path(next)
    )


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    name: Field = "",
    password: Field = "",
    csrf: Csrf = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    status = 422
    if not form_token_ok(request, csrf):
        error = EXPIRED
    else:
        try:
            check_attempt(request, "login", name)
            reader = engine_of(request).accounts.authenticate(name, password)
        except RateLimitedError as e:
            error = too_many(e)
            status = 429
        except AuthenticationError:
            error = "Wrong name or password."
        else:
            response = redirect(local_path(next))
            start_session(request, response, reader.id)
            return response
    return _auth_page(
        request,
        "signin.html",
        status_code=status,
        title="Sign in",
        error=error,
        name=name,
        next=local_path(next),
    )


@router.post("/signout")
def signout(request: Request, csrf: Csrf = "") -> Response:
    require_form(request, csrf)
    response = redirect("/signin")
    end_session(request, response)
    return response


# --- onboarding ----------------------------------------------------------------------------


@router.post("/onboarding")
async def onboard(request: Request) -> Response:
    form = await request.form()
    csrf = form.get("csrf")
    caller = require_form(request, csrf if isinstance(csrf, str) else None)
    engine = engine_of(request)
    chosen = 0
    for kind in (InterestKind.TOPIC, InterestKind.ENTITY, InterestKind.SOURCE):
        for value in form.getlist(kind.value)[:200]:
            if isinstance(value, str) and value:
                try:
                    engine.readers.follow(caller.reader.id, kind, value)
                except NotFoundError:
                    continue  # gone since the page was shown
                chosen += 1
    return redirect("/" if chosen else "/?start=1")


# --- settings ------------------------------------------------------------------------------


def settings_page(
    request: Request,
    *,
    status_code: int = 200,
    feed_urls: tuple[str, str] | None = None,
    new_token: tuple[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    caller = require_reader(request)
    engine = engine_of(request)
    interests = engine.readers.interests(caller.reader.id)
    return page(
        request,
        "settings.html",
        status_code=status_code,
        title="Settings",
        account=engine.accounts.account(caller.reader.id),
        follows=[i for i in interests if i.stance is Stance.FOLLOW],
        mutes=[i for i in interests if i.stance is Stance.MUTE],
        tokens=[
            t
            for t in engine.accounts.list_tokens(caller.reader.id, kind=TokenKind.API)
            if t.revoked is None
        ],
        feed_urls=feed_urls,
        new_token=new_token,
        error=error,
        notice=notice,
        bookmarklet=bookmarklet(str(request.base_url)),
    )


def bookmarklet(base_url: str) -> str:
    """The settings page's "Add to Tidings" bookmarklet: run on any page, it opens this
    Tidings' "Add an article" page with that page's address filled in (adding still takes a
    press of the button there, so the bookmarklet itself changes nothing)."""
    target = json.dumps(base_url.rstrip("/") + "/clippings?url=")
    return f"javascript:void(window.open({target}+encodeURIComponent(location.href),'_self'))"


@router.get("/settings", response_class=HTMLResponse)
def settings(request: Request, saved: bool = False) -> Response:
    return settings_page(request, notice="Saved." if saved else None)


@router.post("/settings/feed", response_class=HTMLResponse)
def feed_settings(
    request: Request,
    exploration: Annotated[float, Form(ge=0, le=1)],
    diversity: Annotated[float, Form(ge=0, le=1)],
    csrf: Csrf = "",
) -> Response:
    caller = require_form(request, csrf)
    try:
        engine_of(request).readers.set_reader_settings(
            caller.reader.id, exploration=exploration, diversity=diversity
        )
    except InvalidInputError as e:
        return settings_page(request, status_code=422, error=str(e))
    return redirect("/settings?saved=1")


@router.post("/settings/account", response_class=HTMLResponse)
def account_settings(
    request: Request,
    email: Field = "",
    digest: Annotated[str, Form(max_length=20)] = "off",
    csrf: Csrf = "",
) -> Response:
    caller = require_form(request, csrf)
    try:
        engine_of(request).accounts.set_account(
            caller.reader.id, email=email.strip() or None, digest=digest
        )
    except InvalidInputError as e:
        return settings_page(request, status_code=422, error=str(e))
    return redirect("/settings?saved=1")


@router.post("/settings/private-feed", response_class=HTMLResponse)
def new_private_feed(request: Request, csrf: Csrf = "") -> Response:
    """A new secret feed address, shown on this response only (the old one stops)."""
    caller = require_form(request, csrf)
    secret = engine_of(request).accounts.private_feed_token(caller.reader.id)
    base = str(request.base_url).rstrip("/")
    return settings_page(
        request, feed_urls=(f"{base}/feeds/{secret}.atom", f"{base}/feeds/{secret}.json")
    )


@router.post("/settings/tokens", response_class=HTMLResponse)
def new_token(request: Request, name: Field = "", csrf: Csrf = "") -> Response:
    caller = require_form(request, csrf)
    try:
        token, secret = engine_of(request).accounts.create_token(caller.reader.id, name)
    except InvalidInputError as e:
        return settings_page(request, status_code=422, error=str(e))
    return settings_page(request, new_token=(token.name, secret))


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf: Csrf = "") -> Response:
    caller = require_form(request, csrf)
    engine_of(request).accounts.revoke_token(caller.reader.id, token_id)
    return redirect("/settings")


@router.post("/settings/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    current: Field = "",
    password: Field = "",
    csrf: Csrf = "",
) -> Response:
    caller = require_form(request, csrf)
    engine = engine_of(request)
    try:
        engine.accounts.authenticate(caller.reader.name, current)
    except AuthenticationError:
        return settings_page(request, status_code=422, error="The current password is wrong.")
    try:
        engine.accounts.set_password(caller.reader.id, password)
    except InvalidInputError as e:
        return settings_page(request, status_code=422, error=str(e))
    # Changing the password ends every session, this one too: open a new one here.
    response = redirect("/settings?saved=1")
    start_session(request, response, caller.reader.id)
    return response


# --- sources -------------------------------------------------------------------------------


@router.post("/sources", response_class=HTMLResponse)
def add_source(request: Request, url: Field = "", csrf: Csrf = "") -> Response:
    caller = require_form(request, csrf)
    text = url.strip()
    # Readers add feeds on the web only: a local path would let anyone read the server's
    # files as feeds (the command line can add those).
    if urlsplit(text).scheme.lower() not in ("http", "https"):
        return sources_page(
            request, caller.reader.id, error="Give the feed's web address (https://…).", url=url
        )
    try:
        source = engine_of(request).add_source(text)
    except TidingsError as e:
        return sources_page(request, caller.reader.id, error=str(e), url=url)
    source_added(request.app)
    return redirect(f"/sources?added={source.id}#source-{source.id}")
