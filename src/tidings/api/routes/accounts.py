"""Signing up and in, the reader's own settings, API tokens and private-feed URLs."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tidings.accounts import UNSET
from tidings.api.auth import (
    CSRF_HEADER,
    CallerDep,
    EngineDep,
    OptionalCallerDep,
    clear_session_cookie,
    csrf_ok,
    csrf_token,
    set_session_cookie,
)
from tidings.api.schemas import (
    ErrorOut,
    Id,
    LoginIn,
    MeIn,
    MeOut,
    NewTokenOut,
    PasswordIn,
    PrivateFeedOut,
    SignedInOut,
    SignUpIn,
    TokenIn,
    TokenOut,
    account_out,
    error_responses,
    reader_out,
    token_out,
)
from tidings.engine import Engine
from tidings.errors import AuthenticationError, CSRFError, PermissionDeniedError
from tidings.types import Reader, TokenKind

router = APIRouter(tags=["accounts"])

FORBIDDEN = {403: {"model": ErrorOut, "description": "Missing CSRF token, or not allowed"}}
LIMITED = {429: {"model": ErrorOut, "description": "Too many attempts; see Retry-After"}}


def is_admin(engine: Engine, reader: Reader) -> bool:
    return reader.name in engine.settings.admins


def _signed_in(engine: Engine, request: Request, response: Response, reader: Reader) -> str:
    """Open a session for ``reader`` and give the browser its cookie; the CSRF token."""
    secret = engine.accounts.open_session(reader.id)
    set_session_cookie(response, request, secret)
    return csrf_token(secret)


@router.post(
    "/api/signup",
    status_code=201,
    summary="Sign up: a new reader, signed in (session cookie set)",
    responses=error_responses(409, 422, 429),
)
def sign_up(body: SignUpIn, request: Request, response: Response, engine: EngineDep) -> SignedInOut:
    request.app.state.auth_limits.check(request, name=body.name, action="signup")
    reader = engine.accounts.sign_up(body.name, body.password, email=body.email or None)
    return SignedInOut(
        reader=reader_out(reader), csrf=_signed_in(engine, request, response, reader)
    )


@router.post(
    "/api/login",
    summary="Sign in with name and password (session cookie set)",
    responses=error_responses(401, 422, 429),
)
def login(body: LoginIn, request: Request, response: Response, engine: EngineDep) -> SignedInOut:
    request.app.state.auth_limits.check(request, name=body.name, action="login")
    reader = engine.accounts.authenticate(body.name, body.password)
    return SignedInOut(
        reader=reader_out(reader), csrf=_signed_in(engine, request, response, reader)
    )


@router.post(
    "/api/logout",
    status_code=204,
    summary="Sign out: end the session and clear its cookie",
    responses=error_responses(403),
)
def logout(
    request: Request, response: Response, engine: EngineDep, caller: OptionalCallerDep
) -> None:
    if caller is not None and caller.session is not None:
        if not csrf_ok(caller.session, request.headers.get(CSRF_HEADER)):
            raise CSRFError(f"missing or wrong {CSRF_HEADER} header")
        engine.accounts.end_session(caller.session)
    clear_session_cookie(response, request)


@router.get(
    "/api/me", summary="Who is signed in, with their settings", responses=error_responses(401)
)
def me(caller: CallerDep, engine: EngineDep) -> MeOut:
    return MeOut(
        reader=reader_out(caller.reader),
        csrf=caller.csrf,
        account=account_out(engine.accounts.account(caller.reader.id)),
        admin=is_admin(engine, caller.reader),
    )


@router.patch(
    "/api/me",
    summary="Change feed settings (exploration, diversity), email address or digests",
    responses=error_responses(401, 403, 422),
)
def change_me(body: MeIn, caller: CallerDep, engine: EngineDep) -> MeOut:
    sent = body.model_fields_set
    reader = caller.reader
    if body.exploration is not None or body.diversity is not None:
        reader = engine.readers.set_reader_settings(
            reader.id, exploration=body.exploration, diversity=body.diversity
        )
    if "email" in sent or ("digest" in sent and body.digest is not None):
        engine.accounts.set_account(
            reader.id,
            email=(body.email or None) if "email" in sent else UNSET,
            digest=body.digest if body.digest is not None else UNSET,
        )
    return MeOut(
        reader=reader_out(reader),
        csrf=caller.csrf,
        account=account_out(engine.accounts.account(reader.id)),
        admin=is_admin(engine, reader),
    )


@router.put(
    "/api/me/password",
    summary="Change the password; other sessions end (this one gets a new cookie)",
    responses=error_responses(401, 403, 422),
)
def change_password(
    body: PasswordIn, request: Request, response: Response, caller: CallerDep, engine: EngineDep
) -> SignedInOut:
    reader = caller.reader
    if engine.accounts.account(reader.id).has_password:
        try:
            engine.accounts.authenticate(reader.name, body.current or "")
        except AuthenticationError as e:
            raise PermissionDeniedError("the current password is wrong") from e
    engine.accounts.set_password(reader.id, body.password)
    csrf = _signed_in(engine, request, response, reader) if caller.session else None
    return SignedInOut(reader=reader_out(reader), csrf=csrf)


@router.get("/api/tokens", summary="The reader's API tokens", responses=error_responses(401))
def tokens(caller: CallerDep, engine: EngineDep) -> list[TokenOut]:
    return [token_out(t) for t in engine.accounts.list_tokens(caller.reader.id, kind=TokenKind.API)]


@router.post(
    "/api/tokens",
    status_code=201,
    summary="A new API token; its secret is shown only in this response",
    responses=error_responses(401, 403, 422),
)
def new_token(body: TokenIn, caller: CallerDep, engine: EngineDep) -> NewTokenOut:
    token, secret = engine.accounts.create_token(caller.reader.id, body.name)
    return NewTokenOut(id=token.id, name=token.name, created=token.created, secret=secret)


@router.delete(
    "/api/tokens/{token_id}",
    status_code=204,
    summary="Revoke one of the reader's tokens",
    responses=error_responses(401, 403, 404, 422),
)
def revoke_token(token_id: Id, caller: CallerDep, engine: EngineDep) -> None:
    engine.accounts.revoke_token(caller.reader.id, token_id)


@router.post(
    "/api/me/private-feed",
    status_code=201,
    summary="New secret Atom and JSON Feed URLs of the reader's feed (the old ones stop)",
    responses=error_responses(401, 403),
)
def new_private_feed(request: Request, caller: CallerDep, engine: EngineDep) -> PrivateFeedOut:
    secret = engine.accounts.private_feed_token(caller.reader.id)
    return PrivateFeedOut(
        atom_url=str(request.url_for("private_feed_atom", secret=secret)),
        json_url=str(request.url_for("private_feed_json", secret=secret)),
    )


@router.delete(
    "/api/me/private-feed",
    status_code=204,
    summary="Revoke the reader's private feed URLs",
    responses=error_responses(401, 403),
)
def revoke_private_feed(caller: CallerDep, engine: EngineDep) -> None:
    for token in engine.accounts.list_tokens(caller.reader.id, kind=TokenKind.FEED):
        if token.revoked is None:
            engine.accounts.revoke_token(caller.reader.id, token.id)
