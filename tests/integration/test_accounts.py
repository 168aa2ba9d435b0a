"""Accounts through the Engine: sign-up, sign-in, sessions, tokens, private-feed secrets,
digest settings and search."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tidings.accounts import SESSION_LIFETIME
from tidings.engine import Engine, make_engine
from tidings.errors import (
    AuthenticationError,
    InvalidInputError,
    ReaderExistsError,
    TokenNotFoundError,
)
from tidings.types import DigestFrequency, TokenKind

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    with make_engine(database_url=f"sqlite:///{tmp_path / 't.db'}", clock=clock) as e:
        yield e


def test_sign_up_and_sign_in(engine: Engine) -> None:
    ana = engine.accounts.sign_up("ana", "correct horse", email="ana@example.org")
    assert engine.accounts.authenticate("ana", "correct horse").id == ana.id
    assert engine.accounts.account(ana.id).has_password
    for name, password in (("ana", "wrong password"), ("nobody", "correct horse")):
        with pytest.raises(AuthenticationError, match="wrong name or password"):
            engine.accounts.authenticate(name, password)
    with pytest.raises(ReaderExistsError):
        engine.accounts.sign_up("ana", "another password")
    with pytest.raises(InvalidInputError, match="password"):
        engine.accounts.sign_up("bo", "short")
    with pytest.raises(InvalidInputError, match="email"):
        engine.accounts.sign_up("bo", "long enough", email="not-an-address")
    # A failed sign-up leaves no reader behind.
    assert [r.name for r in engine.readers.list_readers()] == ["ana"]
    # Readers made from the command line have no password until one is set.
    cli = engine.readers.add_reader("cli")
    with pytest.raises(AuthenticationError):
        engine.accounts.authenticate("cli", "")
    engine.accounts.set_password(cli.id, "now I have one")
    assert engine.accounts.authenticate("cli", "now I have one").id == cli.id


def test_sessions_expire_and_end(engine: Engine, clock: Clock) -> None:
    ana = engine.accounts.sign_up("ana", "correct horse")
    secret = engine.accounts.open_session(ana.id)
    assert secret.startswith("tds_")
    assert engine.accounts.reader_for_token(secret, TokenKind.SESSION).id == ana.id
    # A session is not an API token.
    with pytest.raises(AuthenticationError):
        engine.accounts.reader_for_token(secret, TokenKind.API)
    clock.now += SESSION_LIFETIME + timedelta(seconds=1)
    with pytest.raises(AuthenticationError):
        engine.accounts.reader_for_token(secret, TokenKind.SESSION)
    other = engine.accounts.open_session(ana.id)
    engine.accounts.end_session(other)
    with pytest.raises(AuthenticationError):
        engine.accounts.reader_for_token(other, TokenKind.SESSION)
    # Changing the password signs out every session.
    third = engine.accounts.open_session(ana.id)
    engine.accounts.set_password(ana.id, "a new password")
    with pytest.raises(AuthenticationError):
        engine.accounts.reader_for_token(third, TokenKind.SESSION)
    for bad in ("", "x" * 10_000, "tds_unknown"):
        with pytest.raises(AuthenticationError):
            engine.accounts.reader_for_token(bad, TokenKind.SESSION)


def test_api_and_feed_tokens_are_revocable_and_private(engine: Engine) -> None:
    ana = engine.accounts.sign_up("ana", "correct horse")
    bo = engine.accounts.sign_up("bo", "battery staple")
    token, secret = engine.accounts.create_token(ana.id, "my script")
    assert secret.startswith("tda_") and token.name == "my script"
    assert engine.accounts.reader_for_token(secret, TokenKind.API).id == ana.id
    assert [t.id for t in engine.accounts.list_tokens(ana.id)] == [token.id]
    assert engine.accounts.list_tokens(bo.id) == []
    with pytest.raises(TokenNotFoundError):
        engine.accounts.revoke_token(bo.id, token.id)
    assert engine.accounts.reader_for_token(secret, TokenKind.API).id == ana.id
    engine.accounts.revoke_token(ana.id, token.id)
    with pytest.raises(AuthenticationError):
        engine.accounts.reader_for_token(secret, TokenKind.API)
    first = engine.accounts.private_feed_token(ana.id)
    assert engine.accounts.reader_for_token(first, TokenKind.FEED).id == ana.id
    second = engine.accounts.private_feed_token(ana.id)
    with pytest.raises(AuthenticationError):
        engine.accounts.reader_for_token(first, TokenKind.FEED)
    assert engine.accounts.reader_for_token(second, TokenKind.FEED).id == ana.id
    with pytest.raises(InvalidInputError):
        engine.accounts.create_token(ana.id, "   ")


def test_digests_fall_due_by_frequency(engine: Engine, clock: Clock) -> None:
    ana = engine.accounts.sign_up("ana", "correct horse", email="ana@example.org")
    bo = engine.accounts.sign_up("bo", "battery staple")
    assert engine.accounts.due_digests() == []
    engine.accounts.set_account(ana.id, digest="daily")
    engine.accounts.set_account(bo.id, digest=DigestFrequency.WEEKLY)  # no address: never due
    assert [a.reader_id for a in engine.accounts.due_digests()] == [ana.id]
    engine.accounts.mark_digest_sent(ana.id, clock.now)
    assert engine.accounts.due_digests() == []
    assert [
        a.reader_id
        for a in engine.accounts.due_digests(clock.now + timedelta(hours=23, minutes=30))
    ]
    with pytest.raises(InvalidInputError, match="digests are one of"):
        engine.accounts.set_account(ana.id, digest="hourly")
    assert engine.accounts.set_account(ana.id, email="").email is None


def test_search_validates_its_query(engine: Engine) -> None:
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InvalidInputError):
            engine.search(bad)
    assert engine.search("anything") == []


def test_the_command_line_sets_passwords_tokens_and_digests(tmp_path: Path) -> None:
    from tests.integration.test_cli import run

    db = tmp_path / "cli.db"
    assert run(db, "reader", "add", "ana").returncode == 0
    done = run(db, "reader", "password", "ana", "--password", "correct horse")
    assert done.returncode == 0, done.stderr
    short = run(db, "reader", "password", "ana", "--password", "short")
    assert short.returncode == 1 and "password" in short.stderr
    made = run(db, "token", "create", "ana", "my script")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.split(": ", 1)[1].strip()
    assert secret.startswith("tda_")
    listed = run(db, "token", "list", "ana")
    assert "my script" in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split("\t", 1)[0]
    assert run(db, "token", "revoke", "ana", token_id).returncode == 0
    assert run(db, "token", "revoke", "ana", token_id).returncode == 1
    changed = run(db, "reader", "set", "ana", "--email", "ana@example.org", "--digest", "daily")
    assert "digest daily" in changed.stdout, changed.stderr
    bad = run(db, "reader", "set", "ana", "--email", "nope")
    assert bad.returncode == 1 and "not an email address" in bad.stderr
    assert run(db, "search", "anything").stdout.strip() == "nothing found"
    with make_engine(database_url=f"sqlite:///{db}") as engine:
        assert engine.accounts.authenticate("ana", "correct horse").name == "ana"
