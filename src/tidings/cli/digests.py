"""Email digests: ``tidings digest send``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.output import EXIT_ERROR


@click.group()
def digest() -> None:
    """Email digests of each reader's top stories (SMTP settings: TIDINGS_SMTP_*)."""


@digest.command("send")
@click.option(
    "--dry-run", is_flag=True, help="Compose the due digests and print them; send nothing."
)
@click.option("--reader", "reader_name", metavar="NAME", help="Only this reader's digest.")
@pass_ctx
def digest_send(ctx: Context, dry_run: bool, reader_name: str | None) -> None:
    """Send every digest that is due (run it from cron or a timer, hourly for example)."""
    from tidings.deliver.digest import send_due_digests

    report = send_due_digests(
        ctx.engine, ctx.settings, datetime.now(UTC), dry_run=dry_run, reader=reader_name
    )
    if not report.outcomes:
        click.echo("no digests due" + (f" for {reader_name}" if reader_name else ""))
    for o in report.outcomes:
        if o.error is not None:
            click.echo(f"{o.reader}: digest to {o.email} failed: {o.error}", err=True)
        elif o.sent:
            click.echo(f"sent {o.reader}'s digest to {o.email} ({o.stories} stories)")
        elif dry_run and o.message is not None:
            click.echo(f"would send {o.reader}'s digest to {o.email} ({o.stories} stories):")
            for header in ("From", "To", "Subject", "List-Unsubscribe"):
                click.echo(f"  {header}: {o.message[header]}")
            text = o.message.get_body(preferencelist=("plain",))
            if text is not None:
                click.echo("\n".join(f"  {line}" for line in text.get_content().splitlines()))
        else:
            click.echo(f"{o.reader}: {o.note}")
    if report.failed:
        sys.exit(EXIT_ERROR)
