"""Serving the API and pages: ``tidings serve`` and ``tidings demo``."""

from __future__ import annotations

import os
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.sources import describe, progress_bar, summarise
from tidings.cli.understanding import run_enrichment
from tidings.engine import Engine
from tidings.ingest.stage import classify_source_url
from tidings.suggest import well_covered
from tidings.types import Entity, SourceKind, TopicKind, TopicTag


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
    ingest: bool = True,
) -> None:
    """Serve the app; with ``workers`` above 1, in that many processes sharing the port,
    each with an engine of its own on the same database (what they share goes through it:
    sessions, rate limits, which cached pages are stale, the change sequence their ranking
    data and vector indexes follow). With ``ingest``, it reads the sources as they fall due
    (a source a reader adds on the page within seconds) in a thread of its own, in every
    process: sources are read under leases, so never twice."""
    import uvicorn

    from tidings.api.app import INGEST_VARIABLE, SETTINGS_VARIABLE, create_app

    warning = plain_http_warning(
        host, tls=certfile is not None, behind_proxy=bool(engine.settings.trusted_proxies)
    )
    if warning:
        click.echo(warning, err=True)
    scheme = "https" if certfile is not None else "http"
    processes = f" in {workers} processes" if workers > 1 else ""
    reading = "; reading sources as they fall due" if ingest else ""
    click.echo(f"serving Tidings at {scheme}://{host}:{port}{processes}{reading}  (Ctrl-C to stop)")
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
        # The engine is closed, its vector index saved, at the app's shutdown (see
        # create_app's close_engine).
        uvicorn.run(create_app(engine, ingest=ingest, close_engine=True), **options)
        return
    # The processes import the app afresh; the settings, the command line's included, go
    # to them through the environment.
    os.environ[SETTINGS_VARIABLE] = engine.settings.model_dump_json()
    os.environ[INGEST_VARIABLE] = "1" if ingest else "0"
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
@click.option(
    "--no-ingest",
    is_flag=True,
    help="Do not read sources while serving (when `tidings worker` or `tidings ingest "
    "--watch` runs elsewhere).",
)
@_certfile
@_keyfile
@pass_ctx
def serve(
    ctx: Context,
    host: str,
    port: int,
    workers: int,
    no_ingest: bool,
    certfile: Path | None,
    keyfile: Path | None,
) -> None:
    """Serve the HTTP API and pages, and read the sources as they fall due."""
    _tls_files(certfile, keyfile)
    if not no_ingest:
        ctx.engine.check_enrichment()
    serve_engine(
        ctx.engine,
        host,
        port,
        certfile=certfile,
        keyfile=keyfile,
        workers=workers,
        ingest=not no_ingest,
    )


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
        known = {h.source.url for h in engine.list_sources()}
        folders = publisher_folders(feeds_dir)
        for folder in folders or [feeds_dir]:
            url = str(folder.resolve())
            if classify_source_url(url)[0] in known:
                continue
            # A publisher's folder (one feed file) is named by its feed's own title once
            # read; a folder of assorted feed files is one source named after the folder.
            feeds = [p for p in folder.rglob("*") if p.suffix.lower() in FEED_SUFFIXES]
            title = None if folders and len(feeds) == 1 else f"Local feeds: {folder.name}"
            engine.add_source(url, tags=("demo",), title=title, operator=True)
        what = f"{len(folders)} publishers' folders" if folders else "feed files"
        click.echo(f"demo: reading {what} from {feeds_dir.resolve()}")
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


#: What a loose feed file is called (``../shared/data/feeds`` has these at the top level).
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".json", ".feed", ".gz"})


def publisher_folders(folder: Path) -> list[Path]:
    """The subfolders of ``folder`` that hold feed files of their own (one per publisher,
    as ``../shared/data/demo-news`` has them), by name; none for a folder of loose feed
    files (a README beside the publishers' folders is not one)."""
    if any(p.is_file() and p.suffix.lower() in FEED_SUFFIXES for p in folder.iterdir()):
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any(c.is_file() for c in p.iterdir())
    )


#: The reader `tidings demo` signs you in as.
DEMO_READER = "demo"


#: Their password on this machine only: a known one is fine for a page served on loopback;
#: served on any other address, the demo makes up a new one each run instead.
DEMO_PASSWORD = "tidings-demo"  # noqa: S105 (printed to whoever runs the demo)


#: What the demo reader follows at first: a few topics and names (see demo_follows).
DEMO_TOPICS = 2


DEMO_ENTITIES = 3


#: Stories looked at for the demo reader's follows: the most widely reported of the news
#: read (more than a first page holds, so that what is followed recurs beyond it).
DEMO_STORIES = 40
#: How many sources make a story widely reported, for the demo reader's follows.
DEMO_STORY_SOURCES = 3


def demo_follows(engine: Engine) -> tuple[list[TopicTag], list[Entity]]:
    """What the demo reader follows: the taxonomy topics and the people, organisations and
    places (names a reader knows: :func:`tidings.suggest.well_covered`) that the most
    widely reported stories are about, by how many of those stories they run through, so
    that their first page is those stories, each with the reason it is there. Without such
    stories (a folder of assorted feed files), the most used topics and names."""
    stories = sorted(
        (s for s in engine.list_stories(limit=2000) if s.source_count >= DEMO_STORY_SOURCES),
        key=lambda s: (-s.source_count, -s.article_count, s.id),
    )[:DEMO_STORIES]
    topic_runs: Counter[str] = Counter()
    entity_runs: Counter[int] = Counter()
    tags: dict[str, TopicTag] = {}
    people: dict[int, Entity] = {}
    for story in stories:
        seen_topics: set[str] = set()
        seen_entities: set[int] = set()
        for article in engine.story_page(story.id).articles:
            insight = engine.article_insight(article.id)
            if insight is None:
                continue
            for tag in insight.topics:
                if tag.kind is TopicKind.TAXONOMY and tag.parent is None:
                    tags[tag.id] = tag
                    seen_topics.add(tag.id)
            for found in insight.entities:
                if found.entity.type in ("PERSON", "ORG", "PLACE") and well_covered(found.entity):
                    people[found.entity.id] = found.entity
                    seen_entities.add(found.entity.id)
        topic_runs.update(seen_topics)
        entity_runs.update(seen_entities)
    if not stories:
        ranked_tags = [
            t
            for t, _ in sorted(engine.list_topics(), key=lambda t: -t[1])
            if t.kind is TopicKind.TAXONOMY and t.parent is None
        ]
        names = sorted(
            (
                e
                for kind in ("PERSON", "ORG")
                for e in engine.readers.onboarding_entities(kind, limit=9)
            ),
            key=lambda e: -e.article_count,
        )
        return ranked_tags[:DEMO_TOPICS], names[:DEMO_ENTITIES]
    chosen_tags = [tags[t] for t, _ in topic_runs.most_common(DEMO_TOPICS)]
    by_runs = sorted(entity_runs, key=lambda e: (-entity_runs[e], -people[e].article_count, e))
    # Places run through most stories (a country is in every story of its news), so they
    # would take every slot and give most items the same reason: one place at most.
    chosen: list[Entity] = []
    for e in by_runs:
        if len(chosen) == DEMO_ENTITIES:
            break
        if people[e].type != "PLACE" or all(c.type != "PLACE" for c in chosen):
            chosen.append(people[e])
    return chosen_tags, chosen


def ensure_demo_reader(engine: Engine, host: str) -> str:
    """The demo reader, made once (following what the most widely reported stories are
    about: :func:`demo_follows`) and able to sign in; returns their password."""
    import secrets

    from tidings.errors import AuthenticationError, NotFoundError

    password = DEMO_PASSWORD if is_loopback(host) else secrets.token_urlsafe(12)
    try:
        engine.readers.get_reader(DEMO_READER)
    except NotFoundError:
        engine.accounts.sign_up(DEMO_READER, password)
        topics, names = demo_follows(engine)
        for tag in topics:
            engine.readers.follow(DEMO_READER, "topic", tag.id)
        for e in names:
            engine.readers.follow(DEMO_READER, "entity", str(e.id))
        chosen = [t.label for t in topics] + [e.name for e in names]
        if chosen:
            click.echo(f"demo: reader {DEMO_READER!r} follows {', '.join(chosen)}")
        return password
    try:
        engine.accounts.authenticate(DEMO_READER, password)
    except AuthenticationError:
        engine.accounts.set_password(DEMO_READER, password)
    return password
