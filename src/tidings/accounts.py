"""Readers' accounts: names, passwords, sessions, API and private-feed tokens, digests.

Passwords are hashed with argon2id; sessions, API tokens and feed secrets are 256 random
bits shown once and stored only as SHA-256 (a fast hash is enough: there is nothing to
guess). :class:`Accounts` checks its own input (readers by id or name alike) and talks to
storage through its protocol; it is the engine's public sub-façade for accounts: callers
reach it as ``engine.accounts``. Digests are leased to one process at a time (see
``leases.py``) so that processes sharing a database never send one twice.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tidings.errors import (
    AuthenticationError,
    InvalidInputError,
    TokenNotFoundError,
)
from tidings.leases import holder_name, lease_until, new_token
from tidings.store.base import Storage
from tidings.types import Account, DigestFrequency, Reader, Token, TokenKind

if TYPE_CHECKING:
    from argon2 import PasswordHasher

#: What a reader may be called: safe in URLs, feeds and file names.
READER_NAME = re.compile(r"[\w.@+-]{1,64}")
#: Passwords: long enough to resist guessing, short enough that hashing one is no attack.
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
SESSION_LIFETIME = timedelta(days=30)
#: A token's last use is written at most this often: a page view should not be a write.
TOKEN_TOUCH_EVERY = timedelta(hours=1)
MAX_SECRET_CHARS = 200
#: Secrets say what they are (like GitHub's ``ghp_``), so a leaked one is recognised.
TOKEN_PREFIX = {TokenKind.SESSION: "tds_", TokenKind.API: "tda_", TokenKind.FEED: "tdf_"}
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


#: How long after one digest the next is due.
DIGEST_EVERY = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}

#: A digest is due this much before a full period has passed: scheduled runs drift by
#: seconds to minutes (cron start-up, the previous run's sending time), and without slack a
#: daily run at 07:00 would find yesterday's 07:00:02 digest not yet a day old and skip a
#: day. An hour absorbs any drift while never letting two daily digests go out within 23
#: hours.
DIGEST_SLACK = timedelta(hours=1)


def digest_due(frequency: str, last_sent: datetime | None, now: datetime) -> bool:
    """Whether a reader's digest is due at ``now``: never for ``"off"``; for ``"daily"`` and
    ``"weekly"``, when none was sent yet or the period (less :data:`DIGEST_SLACK`) has passed.
    Raises InvalidInputError for any other frequency."""
    key = str(frequency).lower()
    if key == "off":
        return False
    if key not in DIGEST_EVERY:
        raise InvalidInputError(f"digests are daily, weekly or off, not {frequency!r}")
    if last_sent is None:
        return True
    return now - last_sent >= DIGEST_EVERY[key] - DIGEST_SLACK


class Unset:
    """The type of :data:`UNSET`: "leave as it is", apart from None ("remove")."""


UNSET = Unset()


def clean_reader_name(name: str) -> str:
    """The name a reader is stored under. Raises InvalidInputError for a bad one."""
    clean = name.strip()
    if not READER_NAME.fullmatch(clean):
        raise InvalidInputError(
            "a reader name is 1 to 64 letters, digits or . _ @ + - (no spaces)",
            resource=name,
        )
    return clean


def clean_email(address: str) -> str:
    clean = address.strip()
    if len(clean) > 254 or not _EMAIL.fullmatch(clean):
        raise InvalidInputError("not an email address", resource=address)
    return clean


def secret_hash(secret: str) -> str:
    # Secrets are 256 random bits: a fast hash is enough (no guessing to slow down).
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(
            f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters", resource="password"
        )


_HASHER: PasswordHasher | None = None
_DUMMY: str | None = None


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    global _HASHER
    if _HASHER is None:
        # argon2id with the library's defaults (RFC 9106's second recommendation).
        _HASHER = PasswordHasher()
    return _HASHER


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = _hasher().hash("not anyone's password")
    return _DUMMY


class Accounts:
    """Account operations over storage, with ``clock`` for every time they record; digests
    are leased for ``lease_seconds`` (the workers' lease setting). The engine's public
    sub-façade ``engine.accounts``: every method checks its input and takes a reader by id
    or by name (the digest leases, taken in the sending loop, by id)."""

    def __init__(
        self, storage: Storage, clock: Callable[[], datetime], *, lease_seconds: float
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.lease_seconds = lease_seconds
        self._token = new_token()

    @property
    def holder(self) -> str:
        """The name this process's leases on digests are taken under."""
        return holder_name(self._token)

    def sign_up(self, name: str, password: str, *, email: str | None = None) -> Reader:
        """A new reader who signs in with ``password``. Raises InvalidInputError (a bad name,
        password or email address) or ReaderExistsError."""
        _check_password(password)
        address = clean_email(email) if email else None
        who = self.storage.add_reader(clean_reader_name(name), created=self.clock())
        try:
            self.storage.update_account(
                who.id, now=self.clock(), password_hash=_hasher().hash(password), email=address
            )
        except BaseException:
            self.storage.remove_reader(who.id)
            raise
        return who

    def set_password(self, reader: int | str, password: str) -> None:
        """Set or change the reader's password; their other sessions end."""
        _check_password(password)
        who = self.storage.get_reader(reader)
        now = self.clock()
        self.storage.update_account(who.id, now=now, password_hash=_hasher().hash(password))
        self.storage.revoke_tokens(who.id, at=now, kind=TokenKind.SESSION)

    def authenticate(self, name: str, password: str) -> Reader:
        """The reader with this name and password. Raises AuthenticationError, whose message
        does not say whether the name exists; an unknown name costs as much time as a known
        one, so timing does not tell either."""
        from argon2.exceptions import InvalidHashError, VerificationError

        found = self.storage.password_hash(name.strip()) if len(password) <= MAX_PASSWORD else None
        hasher = _hasher()
        try:
            if found is None:
                hasher.verify(_dummy_hash(), password + "\x00")
                raise AuthenticationError("wrong name or password")
            hasher.verify(found[1], password)
        except (VerificationError, InvalidHashError) as e:
            raise AuthenticationError("wrong name or password") from e
        reader_id, stored = found
        if hasher.check_needs_rehash(stored):
            self.storage.update_account(
                reader_id, now=self.clock(), password_hash=hasher.hash(password)
            )
        return self.storage.get_reader(reader_id)

    def open_session(self, reader: int | str, *, name: str = "browser") -> str:
        """A new session's secret (for a cookie); it expires after :data:`SESSION_LIFETIME`."""
        who = self.storage.get_reader(reader)
        _, secret = self._new_token(who.id, TokenKind.SESSION, name, lifetime=SESSION_LIFETIME)
        return secret

    def end_session(self, secret: str) -> None:
        """Sign a session out; unknown secrets are ignored."""
        token = self.storage.token_by_secret(secret_hash(secret))
        if token is not None and token.kind is TokenKind.SESSION:
            self.storage.revoke_tokens(token.reader_id, at=self.clock(), token_id=token.id)

    def reader_for_token(self, secret: str, kind: TokenKind) -> Reader:
        """Whose token this is, if it is a live token of ``kind``. Raises
        AuthenticationError."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            raise AuthenticationError("not signed in")
        token = self.storage.token_by_secret(secret_hash(secret))
        now = self.clock()
        if (
            token is None
            or token.kind is not kind
            or token.revoked is not None
            or (token.expires is not None and token.expires <= now)
        ):
            raise AuthenticationError("not signed in, or the token was revoked or expired")
        if token.last_used is None or now - token.last_used > TOKEN_TOUCH_EVERY:
            self.storage.touch_token(token.id, at=now)
        return self.storage.get_reader(token.reader_id)

    def create_token(
        self, reader: int | str, name: str, *, kind: TokenKind = TokenKind.API
    ) -> tuple[Token, str]:
        """A new API (or private-feed) token and its secret, which is shown only now."""
        clean = " ".join(name.split())
        if not 1 <= len(clean) <= 100:
            raise InvalidInputError("a token's name is 1 to 100 characters", resource=name)
        if kind is TokenKind.SESSION:
            raise InvalidInputError("sessions are opened by signing in")
        return self._new_token(self.storage.get_reader(reader).id, kind, clean)

    def list_tokens(self, reader: int | str, *, kind: TokenKind | None = None) -> list[Token]:
        return self.storage.list_tokens(self.storage.get_reader(reader).id, kind=kind)

    def revoke_token(self, reader: int | str, token_id: int) -> None:
        """Revoke one of the reader's tokens. Raises TokenNotFoundError (also for another
        reader's token: its existence is not theirs to learn)."""
        who = self.storage.get_reader(reader)
        if not self.storage.revoke_tokens(who.id, at=self.clock(), token_id=token_id):
            raise TokenNotFoundError(f"no such token: {token_id}", resource=str(token_id))

    def private_feed_token(self, reader: int | str) -> str:
        """A new secret for the reader's private feed URLs; the old ones stop working."""
        who = self.storage.get_reader(reader)
        self.storage.revoke_tokens(who.id, at=self.clock(), kind=TokenKind.FEED)
        _, secret = self._new_token(who.id, TokenKind.FEED, "private feed")
        return secret

    def _new_token(
        self, reader_id: int, kind: TokenKind, name: str, *, lifetime: timedelta | None = None
    ) -> tuple[Token, str]:
        secret = TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)
        now = self.clock()
        token = self.storage.add_token(
            reader_id,
            kind=kind,
            name=name,
            secret_hash=secret_hash(secret),
            created=now,
            expires=now + lifetime if lifetime else None,
        )
        return token, secret

    def account(self, reader: int | str) -> Account:
        return self.storage.get_account(self.storage.get_reader(reader).id)

    def set_account(
        self,
        reader: int | str,
        *,
        email: str | Unset | None = UNSET,
        digest: DigestFrequency | str | Unset = UNSET,
    ) -> Account:
        """Change the reader's email address ("" or None removes it) and digest frequency.
        Raises InvalidInputError."""
        changes: dict[str, object] = {}
        if not isinstance(email, Unset):
            changes["email"] = clean_email(email) if email else None
        if not isinstance(digest, Unset):
            try:
                changes["digest"] = DigestFrequency(digest)
            except ValueError as e:
                choices = ", ".join(f.value for f in DigestFrequency)
                raise InvalidInputError(f"digests are one of {choices}") from e
        who = self.storage.get_reader(reader)
        return self.storage.update_account(who.id, now=self.clock(), **changes)

    def due_digests(self, now: datetime | None = None) -> list[Account]:
        """Accounts whose digest is due at ``now`` (by default, the clock's now)."""
        at = now or self.clock()
        return [
            a
            for a in self.storage.accounts_with_digests()
            if digest_due(a.digest, a.digest_last_sent, at)
        ]

    def mark_digest_sent(self, reader: int | str, at: datetime) -> None:
        who = self.storage.get_reader(reader)
        self.storage.update_account(who.id, now=self.clock(), digest_last_sent=at)

    def claim_digest(self, reader_id: int, last_sent: datetime | None) -> bool:
        """Lease a reader's digest (found due with ``last_sent``) so that no other process
        sends it meanwhile; False when another holds it or sent it since."""
        now = self.clock()
        return self.storage.claim_digest(
            reader_id,
            self.holder,
            now=now,
            until=lease_until(now, self.lease_seconds),
            last_sent=last_sent,
        )

    def release_digest(self, reader_id: int) -> None:
        self.storage.release_digest(reader_id, self.holder)
