"""Who is asking: the session cookie of a signed-in browser, or an API token.

Shared by the HTTP API (``tidings.api``) and the reader's pages (``tidings.web``):

- a browser signs in and gets :data:`SESSION_COOKIE` (HttpOnly, SameSite=Lax);
- a program sends ``Authorization: Bearer <API token>``;
- a request that changes something and is authenticated by the cookie must carry the
  session's CSRF token, in the :data:`CSRF_HEADER` header (API calls from the page) or the
  :data:`CSRF_FIELD` form field (the page's forms). Bearer requests need none: a browser never
  adds that header by itself.

The CSRF token is derived from the session's secret (a hash, not the secret), so it needs
no storage and changes with every new session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from tidings.accounts import SESSION_LIFETIME
from tidings.engine import Engine
from tidings.errors import AuthenticationError, CSRFError
from tidings.types import Reader, TokenKind

SESSION_COOKIE = "tidings_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
#: Methods that change nothing, and so need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# How callers prove who they are, as the OpenAPI schema documents it. Neither raises: the
# functions below read the request themselves and decide.
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description=(
        "The session cookie set by /api/login or /api/signup. Changes (POST, PUT, PATCH, "
        f"DELETE) must also send the {CSRF_HEADER} header given by /api/login or /api/me."
    ),
)
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token made with POST /api/tokens: Authorization: Bearer <secret>",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The reader making a request, and how they proved it."""

    reader: Reader
    #: The session's secret when signed in through the cookie; None for an API token.
    session: str | None = None

    @property
    def csrf(self) -> str | None:
        """The CSRF token the page must send back (None for API-token callers)."""
        return csrf_token(self.session) if self.session else None


def csrf_token(session_secret: str) -> str:
    return hashlib.sha256(b"tidings-csrf\x00" + session_secret.encode()).hexdigest()[:40]


def csrf_ok(session_secret: str, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(csrf_token(session_secret), supplied or "")


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_caller(
    request: Request,
    _cookie: Annotated[str | None, Security(cookie_scheme)] = None,
    _token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Caller | None:
    """The caller, or None when the request carries no credentials. Raises
    AuthenticationError for credentials that are wrong, expired or revoked (a stale cookie
    counts as none, so that a signed-out browser sees the sign-in page, not an error)."""
    engine = get_engine(request)
    token = bearer(request)
    if token is not None:
        return Caller(engine.accounts.reader_for_token(token, TokenKind.API))
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        try:
            return Caller(engine.accounts.reader_for_token(session, TokenKind.SESSION), session)
        except AuthenticationError:
            return None
    return None


def require_caller(
    request: Request,
    _cookie: Annotated[str | None, Security(cookie_scheme)] = None,
    _token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Caller:
    """The caller of an API route; AuthenticationError (401) when there is none.
    Cookie-authenticated changes must carry the CSRF header, whatever their body (the page's
    form routes check the form field instead, with :func:`csrf_ok`)."""
    caller = optional_caller(request)
    if caller is None:
        raise AuthenticationError("sign in, or send an API token (Authorization: Bearer ...)")
    if (
        caller.session is not None
        and request.method not in SAFE_METHODS
        and not csrf_ok(caller.session, request.headers.get(CSRF_HEADER))
    ):
        raise CSRFError(f"missing or wrong {CSRF_HEADER} header")
    return caller


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    """Give the browser its session: HttpOnly (no script reads it), SameSite=Lax (other
    sites' forms do not carry it), Secure over https, for the session's lifetime."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


EngineDep = Annotated[Engine, Depends(get_engine)]
CallerDep = Annotated[Caller, Depends(require_caller)]
OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
