"""Accounts (email, password hash, digests) and tokens (sessions, API, private feeds)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.store.schema import accounts, rate_limits, readers, tokens
from tidings.store.sql.connection import SQLBase, insert_for
from tidings.store.sql.readers import reader_row
from tidings.types import Account, DigestFrequency, Token, TokenKind


class AccountsMixin(SQLBase):
    """Accounts and tokens (:class:`tidings.store.base.AccountStorage`)."""

    def hit_rate_limit(self, key: str, *, limit: int, window: float, now: datetime) -> float:
        at = now.timestamp()
        with self._transaction("count an attempt", writes=True) as conn:
            conn.execute(
                insert_for(conn)(rate_limits)
                .values(key=key, hits="[]", until=now)
                .on_conflict_do_nothing()
            )
            # Locked (PostgreSQL; SQLite's writers are serialised) so that two processes
            # counting one key at once both count.
            query = sa.select(rate_limits.c.hits).where(rate_limits.c.key == key)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            hits = [float(t) for t in json.loads(conn.execute(query).scalar_one())]
            hits = [t for t in hits if t > at - window]
            wait = 0.0
            if len(hits) >= limit:
                wait = max(hits[0] + window - at, 0.001)  # refused: not counted
            else:
                hits.append(at)
            conn.execute(
                sa.update(rate_limits)
                .where(rate_limits.c.key == key)
                .values(hits=json.dumps(hits), until=now + timedelta(seconds=window))
            )
            # Keys whose window has passed are forgotten (an indexed range, usually empty).
            conn.execute(sa.delete(rate_limits).where(rate_limits.c.until < now))
        return wait

    def clear_rate_limits(self, prefix: str) -> None:
        with self._transaction("forget counted attempts", writes=True) as conn:
            conn.execute(
                sa.delete(rate_limits).where(rate_limits.c.key.startswith(prefix, autoescape=True))
            )

    def get_account(self, reader_id: int) -> Account:
        with self._transaction("read the account") as conn:
            reader_row(conn, reader_id)
            row = conn.execute(
                sa.select(accounts).where(accounts.c.reader_id == reader_id)
            ).one_or_none()
        return _account(row) if row is not None else Account(reader_id=reader_id)

    def update_account(self, reader_id: int, *, now: datetime, **changes: Any) -> Account:
        allowed = {"email", "password_hash", "digest", "digest_last_sent"}
        if unknown := set(changes) - allowed:
            raise ValueError(f"not account fields: {sorted(unknown)}")
        values = {k: (v.value if isinstance(v, DigestFrequency) else v) for k, v in changes.items()}
        with self._transaction("update the account", writes=True) as conn:
            reader_row(conn, reader_id)
            done = conn.execute(
                sa.update(accounts).where(accounts.c.reader_id == reader_id).values(values)
            )
            if not done.rowcount:
                conn.execute(
                    sa.insert(accounts).values(
                        {
                            "reader_id": reader_id,
                            "digest": DigestFrequency.OFF.value,
                            "created": now,
                            **values,
                        }
                    )
                )
            row = conn.execute(sa.select(accounts).where(accounts.c.reader_id == reader_id)).one()
        return _account(row)

    def password_hash(self, name: str) -> tuple[int, str] | None:
        query = (
            sa.select(readers.c.id, accounts.c.password_hash)
            .join(accounts, accounts.c.reader_id == readers.c.id)
            .where(readers.c.name == name, accounts.c.password_hash.is_not(None))
        )
        with self._transaction("read the password") as conn:
            row = conn.execute(query).one_or_none()
        return (int(row[0]), str(row[1])) if row is not None else None

    def accounts_with_digests(self) -> list[Account]:
        query = (
            sa.select(accounts)
            .where(accounts.c.email.is_not(None), accounts.c.digest != DigestFrequency.OFF.value)
            .order_by(accounts.c.reader_id)
        )
        with self._transaction("list digest subscribers") as conn:
            return [_account(r) for r in conn.execute(query)]

    def add_token(
        self,
        reader_id: int,
        *,
        kind: TokenKind,
        name: str,
        secret_hash: str,
        created: datetime,
        expires: datetime | None = None,
    ) -> Token:
        values = {
            "reader_id": reader_id,
            "kind": kind.value,
            "name": name,
            "secret_hash": secret_hash,
            "created": created,
            "expires": expires,
        }
        with self._transaction("store the token", writes=True) as conn:
            reader_row(conn, reader_id)
            row = conn.execute(sa.insert(tokens).values(values).returning(tokens)).one()
        return _token(row)

    def token_by_secret(self, secret_hash: str) -> Token | None:
        with self._transaction("read the token") as conn:
            row = conn.execute(
                sa.select(tokens).where(tokens.c.secret_hash == secret_hash)
            ).one_or_none()
        return _token(row) if row is not None else None

    def touch_token(self, token_id: int, *, at: datetime) -> None:
        with self._transaction("note the token's use", writes=True) as conn:
            conn.execute(sa.update(tokens).where(tokens.c.id == token_id).values(last_used=at))

    def list_tokens(self, reader_id: int, *, kind: TokenKind | None = None) -> list[Token]:
        query = sa.select(tokens).where(tokens.c.reader_id == reader_id, tokens.c.revoked.is_(None))
        if kind is not None:
            query = query.where(tokens.c.kind == kind.value)
        with self._transaction("list tokens") as conn:
            reader_row(conn, reader_id)
            return [_token(r) for r in conn.execute(query.order_by(tokens.c.id))]

    def revoke_tokens(
        self,
        reader_id: int,
        *,
        at: datetime,
        token_id: int | None = None,
        kind: TokenKind | None = None,
    ) -> int:
        query = sa.update(tokens).where(tokens.c.reader_id == reader_id, tokens.c.revoked.is_(None))
        if token_id is not None:
            query = query.where(tokens.c.id == token_id)
        if kind is not None:
            query = query.where(tokens.c.kind == kind.value)
        with self._transaction("revoke tokens", writes=True) as conn:
            reader_row(conn, reader_id)
            return int(conn.execute(query.values(revoked=at)).rowcount or 0)


def _account(row: Any) -> Account:
    return Account(
        reader_id=row.reader_id,
        email=row.email,
        has_password=row.password_hash is not None,
        digest=DigestFrequency(row.digest),
        digest_last_sent=row.digest_last_sent,
    )


def _token(row: Any) -> Token:
    return Token(
        id=row.id,
        reader_id=row.reader_id,
        kind=TokenKind(row.kind),
        name=row.name,
        created=row.created,
        last_used=row.last_used,
        expires=row.expires,
        revoked=row.revoked,
    )
