"""Who is reading, and the checks every form goes through.

Signed-in forms carry the session's CSRF token (``tidings.api.auth.csrf_token``) in the
``csrf`` field. The sign-in and sign-up forms come before any session, so they use a
double-submit token instead: a random value in an HttpOnly, SameSite=Strict cookie and the
same value in a hidden field; another site can neither read the cookie nor make the browser
send it with a cross-site POST.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from tidings.accounts import SESSION_LIFETIME
from tidings.api.auth import (
    SESSION_COOKIE,
    Caller,
    csrf_ok,
    get_engine,
    optional_caller,
)
from tidings.api.limits import AuthRateLimits
from tidings.engine import Engine
from tidings.errors import AuthenticationError, TidingsError

#: The double-submit cookie of the sign-in and sign-up forms.
FORM_COOKIE = "tidings_form"
#: How long a sign-in form stays usable: long enough to type a password slowly.
FORM_COOKIE_SECONDS = 60 * 60


class SignInRequired(TidingsError):
    """A page that needs a reader was asked for without one (the page redirects)."""

    key = "sign_in_required"


_UNKNOWN = "unknown"


def page_caller(request: Request) -> Caller | None:
    """The signed-in reader of this request, or None; worked out once per request."""
    known: Caller | str | None = getattr(request.state, "caller", _UNKNOWN)
    if not isinstance(known, str):
        return known
    try:
        found = optional_caller(request)
    except AuthenticationError:
        found = None
    request.state.caller = found
    return found


def engine_of(request: Request) -> Engine:
    return get_engine(request)


def require_reader(request: Request) -> Caller:
    """The signed-in caller; raises SignInRequired (a redirect to /signin) without one."""
    caller = page_caller(request)
    if caller is None:
        raise SignInRequired("sign in first")
    return caller


def require_form(request: Request, supplied: str | None) -> Caller:
    """The signed-in caller of a form POST, after its CSRF field is checked. Raises
    SignInRequired, or AuthenticationError (403) for a missing or wrong token."""
    caller = require_reader(request)
    if caller.session is None or not csrf_ok(caller.session, supplied):
        raise AuthenticationError(
            "this form has expired or did not come from Tidings: reload the page and try again"
        )
    return caller


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


# --- the sign-in and sign-up forms ---------------------------------------------------------


def form_token(request: Request) -> str:
    """The double-submit token for a form about to be shown: the browser's, or a new one
    (set on the response with :func:`keep_form_token`)."""
    existing = request.cookies.get(FORM_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing
    return secrets.token_urlsafe(32)


def keep_form_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        FORM_COOKIE,
        token,
        max_age=FORM_COOKIE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/",
    )


def form_token_ok(request: Request, supplied: str | None) -> bool:
    cookie = request.cookies.get(FORM_COOKIE, "")
    return bool(cookie and supplied) and hmac.compare_digest(cookie, supplied or "")


def check_attempt(request: Request, action: str, name: str) -> None:
    """Count a sign-in ("login") or sign-up ("signup") attempt against the limits the app
    keeps at ``app.state.auth_limits`` (:mod:`tidings.api.limits`, shared with the API).
    Raises RateLimitedError when this address or this name has tried too often."""
    limits: AuthRateLimits | None = getattr(request.app.state, "auth_limits", None)
    if limits is not None:
        limits.check(request, name=name, action=action)


# --- the session cookie --------------------------------------------------------------------


def start_session(request: Request, response: Response, reader_id: int) -> None:
    secret = get_engine(request).accounts.open_session(reader_id)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )
    response.delete_cookie(FORM_COOKIE, path="/")


def end_session(request: Request, response: Response) -> None:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        get_engine(request).accounts.end_session(secret)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
