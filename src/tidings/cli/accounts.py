"""Signing in: a reader's password (``tidings reader password``) and API tokens
(``tidings token``)."""

from __future__ import annotations

import click

from tidings.cli.context import Context, pass_ctx
from tidings.types import TokenKind


@click.command("password")
@click.argument("name")
@click.password_option(prompt="New password", help="Read from a prompt when not given.")
@pass_ctx
def reader_password(ctx: Context, name: str, password: str) -> None:
    """Set a reader's password, so that they can sign in to the page (ends their sessions)."""
    ctx.engine.accounts.set_password(name, password)
    click.echo(f"{name} can sign in with the new password")


@click.group()
def token() -> None:
    """A reader's API tokens, for programs using the HTTP API."""


@token.command("create")
@click.argument("reader_name", metavar="READER")
@click.argument("name")
@pass_ctx
def token_create(ctx: Context, reader_name: str, name: str) -> None:
    """Make an API token; its secret is printed once, now."""
    made, secret = ctx.engine.accounts.create_token(reader_name, name)
    click.echo(f"token {made.id} ({made.name}): {secret}")
    click.echo("send it as: Authorization: Bearer <token>; it is not shown again", err=True)


@token.command("list")
@click.argument("reader_name", metavar="READER")
@pass_ctx
def token_list(ctx: Context, reader_name: str) -> None:
    """A reader's live API tokens (never their secrets)."""
    for t in ctx.engine.accounts.list_tokens(reader_name, kind=TokenKind.API):
        used = t.last_used.strftime("%Y-%m-%d %H:%M") if t.last_used else "never"
        click.echo(f"{t.id}\t{t.name}\tmade {t.created:%Y-%m-%d}\tlast used {used}")


@token.command("revoke")
@click.argument("reader_name", metavar="READER")
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(ctx: Context, reader_name: str, token_id: int) -> None:
    """Revoke one of a reader's tokens."""
    ctx.engine.accounts.revoke_token(reader_name, token_id)
    click.echo(f"revoked token {token_id}")
