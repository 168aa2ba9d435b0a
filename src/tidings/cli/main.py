"""The ``tidings`` group: options every command shares, and where each group comes from."""

from __future__ import annotations

import logging
import sys

import click

from tidings import __version__
from tidings.cli import (
    accounts,
    articles,
    bench,
    digests,
    evaluation,
    readers,
    serving,
    sources,
    understanding,
    workers,
)
from tidings.cli.context import Context
from tidings.cli.output import fail
from tidings.config import load_settings, parse_networks
from tidings.errors import TidingsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tidings")
@click.option(
    "--database",
    envvar="TIDINGS_DATABASE_URL",
    help="Database URL (sqlite:///path or postgresql+psycopg://…). "
    "Default: a SQLite file in the user data directory.",
)
@click.option(
    "--allow-network",
    "allow_networks",
    multiple=True,
    help="Let fetches reach this private network (CIDR), e.g. 127.0.0.0/8. Repeatable.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(
    click_ctx: click.Context, database: str | None, allow_networks: tuple[str, ...], debug: bool
) -> None:
    """Tidings: your news, from many sources, in one personalised feed."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        # trafilatura and htmldate warn about every page they find too short; the
        # extraction note on the article already says what happened.
        for name in ("trafilatura", "htmldate", "courlan"):
            logging.getLogger(name).setLevel(logging.ERROR)
    settings = load_settings()
    if database:
        settings = settings.replace(database_url=database)
    if allow_networks:
        extra = parse_networks(list(allow_networks))
        fetch = settings.fetch.replace(allowed_networks=settings.fetch.allowed_networks + extra)
        settings = settings.replace(fetch=fetch)
    ctx = Context(settings, debug)
    click_ctx.obj = ctx
    click_ctx.call_on_close(ctx.close)


for command in (
    sources.source,
    sources.opml,
    sources.ingest,
    understanding.enrich,
    understanding.entity,
    understanding.story,
    understanding.topic,
    readers.reader,
    readers.follow,
    readers.mute,
    readers.unfollow,
    readers.event,
    readers.feed,
    readers.learn,
    accounts.token,
    articles.article,
    articles.extract,
    articles.search,
    digests.digest,
    serving.serve,
    serving.demo,
    workers.worker,
    bench.bench,
    evaluation.evaluate,
):
    cli.add_command(command)
# The password is the reader's, so it sits with the other reader commands.
readers.reader.add_command(accounts.reader_password)


def main() -> None:
    """Entry point: run the CLI, turning Tidings errors into one line and exit status 1."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except TidingsError as e:
        if debug:
            raise
        fail(str(e))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # the promise: one line, never a traceback
        if debug:
            raise
        fail(f"unexpected {type(e).__name__}: {e} (run with --debug for details)")
