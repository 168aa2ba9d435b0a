"""Serving the API and pages: ``tidings serve`` and ``tidings demo``."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.sources import describe, progress_bar, summarise
from tidings.cli.understanding import run_enrichment
from tidings.engine import Engine
from tidings.ingest.stage import classify_source_url
from tidings.types import SourceKind, TopicKind


def plain_http_warning(host: str, *, tls: bool, behind_proxy: bool) -> str | None:
    """What to tell an operator about to serve plain HTTP beyond this machine, or None.
    Pure."""
    if tls or behind_proxy or is_loopback(host):
        return None
    return (
        f"warning: serving plain HTTP on {host}: passwords and session cookies would cross "
        "the network unencrypted. Put a TLS-terminating reverse proxy in front (and name it "
        "in TIDINGS_TRUSTED_PROXIES), or pass --ssl-certfile and --ssl-keyfile."
    )


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_engine(
    engine: Engine,
    host: str,
    port: int,
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    workers: int = 1,
) -> None:
    """Serve the app; with ``workers`` above 1, in that many processes sharing the port,
    each with an engine of its own on the same database (what they share goes through it:
    sessions, rate limits, which cached pages are stale, the change sequence their ranking
    data and vector indexes follow)."""
    import uvicorn

    from tidings.api.app import SETTINGS_VARIABLE, create_app

    warning = plain_http_warning(
        host, tls=certfile is not None, behind_proxy=bool(engine.settings.trusted_proxies)
    )
    if warning:
        click.echo(warning, err=True)
    scheme = "https" if certfile is not None else "http"
    processes = f" in {workers} processes" if workers > 1 else ""
    click.echo(f"serving Tidings at {scheme}://{host}:{port}{processes}  (Ctrl-C to stop)")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        # Proxy headers are the app's to honour, from TIDINGS_TRUSTED_PROXIES alone.
        "proxy_headers": False,
        "ssl_certfile": str(certfile) if certfile else None,
        "ssl_keyfile": str(keyfile) if keyfile else None,
    }
    if workers <= 1:
        app = create_app(engine)
        # uvicorn raises the stopping signal again once it has shut down (SIGTERM then
        # ends the process before the command could close the engine): the engine is
        # closed, its vector index saved, at the app's shutdown.
        app.router.on_startup.append(engine.keep_vector_index)
        app.router.on_shutdown.append(engine.close)
        uvicorn.run(app, **options)
        return
    # The processes import the app afresh; the settings, the command line's included, go
    # to them through the environment.
    os.environ[SETTINGS_VARIABLE] = engine.settings.model_dump_json()
    uvicorn.run("tidings.api.app:app_from_environment", factory=True, workers=workers, **options)


def _tls_files(certfile: Path | None, keyfile: Path | None) -> None:
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together")


_certfile = click.option(
    "--ssl-certfile",
    "certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM; with --ssl-keyfile).",
)
_keyfile = click.option(
    "--ssl-keyfile",
    "keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Serving processes sharing the port (about one per core); any number of machines "
    "may serve one PostgreSQL database too.",
)
@_certfile
@_keyfile
@pass_ctx
def serve(
    ctx: Context,
    host: str,
    port: int,
    workers: int,
    certfile: Path | None,
    keyfile: Path | None,
) -> None:
    """Serve the HTTP API and pages."""
    _tls_files(certfile, keyfile)
    serve_engine(ctx.engine, host, port, certfile=certfile, keyfile=keyfile, workers=workers)


@click.command()
@click.option(
    "--feeds",
    "feeds_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Ingest feed files from this local folder instead of the starter feeds online.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Ingest only; do not start the server.")
@pass_ctx
def demo(ctx: Context, feeds_dir: Path | None, host: str, port: int, no_serve: bool) -> None:
    """Subscribe to the starter feeds (or a local folder), ingest them, and serve them."""
    engine = ctx.engine
    engine.check_enrichment()
    if feeds_dir is not None:
        url = str(feeds_dir.resolve())
        known = {h.source.url for h in engine.list_sources()}
        if classify_source_url(url)[0] not in known:
            engine.add_source(
                url, tags=("demo",), title=f"Local feeds: {feeds_dir.name}", operator=True
            )
        click.echo(f"demo: reading feed files from {feeds_dir.resolve()}")
    else:
        starter = resources.files("tidings").joinpath("data/starter.opml").read_bytes()
        added, existing = engine.import_opml(starter, operator=True)
        click.echo(f"demo: {len(added) + len(existing)} starter news feeds from the internet")
    sources = [h.source for h in engine.list_sources() if h.source.kind is not SourceKind.MANUAL]
    with progress_bar(len(sources), quiet=False) as advance:
        report = engine.ingest(sources=sources, progress=advance, enrich=False)
    for update in report.updates:
        if update.ok:  # failures were named as they happened
            click.echo(describe(update))
    click.echo(summarise(report))
    if report.updates and len(report.failed) == len(report.updates) and feeds_dir is None:
        click.echo(
            "no starter feed could be reached: is the internet out of reach? "
            "Try `make demo DEMO_FEEDS=../shared/data/feeds` to read local feed files."
        )
    total = sum(h.articles for h in engine.list_sources())
    click.echo(f"{total} article(s) stored")
    if engine.settings.enrich:
        run_enrichment(engine, everything=False, limit=None, quiet=False)
    password = ensure_demo_reader(engine, host)
    if no_serve:
        click.echo(f"`tidings serve`, then sign in as {DEMO_READER} / {password}")
        return
    click.echo(f"Open http://{host}:{port} and sign in as {DEMO_READER} / {password}")
    serve_engine(engine, host, port)


#: The reader `tidings demo` signs you in as.
DEMO_READER = "demo"


#: Their password on this machine only: a known one is fine for a page served on loopback;
#: served on any other address, the demo makes up a new one each run instead.
DEMO_PASSWORD = "tidings-demo"  # noqa: S105 (printed to whoever runs the demo)


#: What the demo reader follows at first: the most-covered topics and names of the news read.
DEMO_TOPICS = 3


DEMO_ENTITIES = 3


def ensure_demo_reader(engine: Engine, host: str) -> str:
    """The demo reader, made once (with follows of the most frequent topics and people,
    organisations and places) and able to sign in; returns their password."""
    import secrets

    from tidings.errors import AuthenticationError, NotFoundError

    password = DEMO_PASSWORD if is_loopback(host) else secrets.token_urlsafe(12)
    try:
        engine.get_reader(DEMO_READER)
    except NotFoundError:
        engine.sign_up(DEMO_READER, password)
        topics = [
            tag
            for tag, _ in sorted(engine.list_topics(), key=lambda t: -t[1])
            if tag.kind is TopicKind.TAXONOMY and tag.parent is None
        ][:DEMO_TOPICS]
        for tag in topics:
            engine.follow(DEMO_READER, "topic", tag.id)
        names = [e for e in engine.list_entities(limit=20) if e.type in ("PERSON", "ORG")]
        for e in names[:DEMO_ENTITIES]:
            engine.follow(DEMO_READER, "entity", str(e.id))
        chosen = [t.label for t in topics] + [e.name for e in names[:DEMO_ENTITIES]]
        if chosen:
            click.echo(f"demo: reader {DEMO_READER!r} follows {', '.join(chosen)}")
        return password
    try:
        engine.authenticate(DEMO_READER, password)
    except AuthenticationError:
        engine.set_password(DEMO_READER, password)
    return password
