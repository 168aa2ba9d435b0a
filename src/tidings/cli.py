"""The ``tidings`` command line for operators.

Every command talks to the Engine. Errors print as one line on stderr with a non-zero exit
status, never as a traceback (``--debug`` shows the traceback for bug reports).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from tidings import __version__
from tidings.config import Settings, load_settings, parse_networks
from tidings.engine import Engine, classify_source_url, make_engine
from tidings.errors import TidingsError
from tidings.types import (
    Article,
    ArticleDraft,
    ArticleInsight,
    EnrichmentStatus,
    EnrichReport,
    Entity,
    EventKind,
    IngestReport,
    InterestKind,
    PagePolicy,
    Quote,
    ReaderEvent,
    SourceKind,
    SourceUpdate,
    Stance,
    Story,
    TopicKind,
)

F = TypeVar("F", bound=Callable[..., Any])

#: Exit status for errors Tidings reports on purpose (bad input, unreachable database …).
EXIT_ERROR = 1


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


class Context:
    """What every command needs: settings and, lazily, an open Engine."""

    def __init__(self, settings: Settings, debug: bool) -> None:
        self.settings = settings
        self.debug = debug
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


pass_ctx = click.make_pass_decorator(Context)


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def short(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


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
        settings = replace(settings, database_url=database)
    if allow_networks:
        extra = parse_networks(list(allow_networks))
        fetch = replace(settings.fetch, allowed_networks=settings.fetch.allowed_networks + extra)
        settings = replace(settings, fetch=fetch)
    ctx = Context(settings, debug)
    click_ctx.obj = ctx
    click_ctx.call_on_close(ctx.close)


# --- sources ---------------------------------------------------------------------------


@cli.group()
def source() -> None:
    """Manage the sources Tidings reads."""


@source.command("add")
@click.argument("url")
@click.option("--tag", "tags", multiple=True, help="Tag the source (repeatable).")
@click.option("--title", help="A title to show instead of the feed's own.")
@click.option(
    "--pages",
    type=click.Choice([p.value for p in PagePolicy]),
    default=PagePolicy.AUTO.value,
    show_default=True,
    help="When to fetch entries' article pages for the whole text (auto: teasers only).",
)
@pass_ctx
def source_add(
    ctx: Context, url: str, tags: tuple[str, ...], title: str | None, pages: str
) -> None:
    """Subscribe to a feed URL, or a local feed file or folder."""
    added = ctx.engine.add_source(url, tags=tags, title=title, pages=PagePolicy(pages))
    click.echo(f"added source {added.id}: {added.url} ({added.kind.value})")


@source.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def source_list(ctx: Context, as_json: bool) -> None:
    """List sources with their health."""
    health = ctx.engine.list_sources()
    if as_json:
        rows = [
            {
                "id": h.source.id,
                "url": h.source.url,
                "kind": h.source.kind.value,
                "title": h.source.title,
                "tags": list(h.source.tags),
                "articles": h.articles,
                "last_success": h.source.last_success.isoformat()
                if h.source.last_success
                else None,
                "last_error": h.source.last_error,
                "warning": h.source.warning,
                "next_poll": h.source.next_poll.isoformat() if h.source.next_poll else None,
            }
            for h in health
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not health:
        click.echo("no sources yet: add one with `tidings source add URL`")
        return
    click.echo(
        f"{'id':>4}  {'articles':>8}  {'last success':16}  {'next poll':16}  source / status"
    )
    for h in health:
        s = h.source
        status = "ok"
        if s.last_error:
            status = f"ERROR ({s.failures}x): {s.last_error}"
        elif s.warning:
            status = f"warning: {s.warning}"
        elif s.last_success is None:
            status = "not read yet"
        name = s.title or s.url
        click.echo(
            f"{s.id:>4}  {h.articles:>8}  {when(s.last_success):16}  {when(s.next_poll):16}  "
            f"{short(name, 60)}"
        )
        click.echo(f"{'':>52}{short(s.url, 70)}")
        click.echo(f"{'':>52}{short(status, 120)}")


@source.command("remove")
@click.argument("key")
@pass_ctx
def source_remove(ctx: Context, key: str) -> None:
    """Unsubscribe (by id or URL) and delete the articles that came only from it."""
    ctx.engine.remove_source(int(key) if key.isdigit() else key)
    click.echo(f"removed source {key}")


# --- OPML ------------------------------------------------------------------------------


@cli.group()
def opml() -> None:
    """Import and export subscriptions as OPML."""


@opml.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def opml_import(ctx: Context, file: Path) -> None:
    """Subscribe to every feed in an OPML file (folders become tags)."""
    try:
        content = file.read_bytes()
    except OSError as e:
        fail(f"cannot read {file}: {e.strerror}")
    added, existing = ctx.engine.import_opml(content)
    click.echo(f"imported {len(added)} source(s); {len(existing)} already present")


@opml.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def opml_export(ctx: Context, output: Path | None) -> None:
    """Write all subscriptions as OPML (to stdout, or a file)."""
    text = ctx.engine.export_opml()
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


# --- ingestion -------------------------------------------------------------------------


def describe(update: SourceUpdate) -> str:
    name = short(update.source.title or update.source.url, 50)
    if update.error:
        return f"FAILED {name}: {update.error}"
    if update.not_modified:
        return f"unchanged {name}"
    text = f"ok {name}: {update.new} new, {update.updated} updated"
    if update.warning:
        text += f" (warning: {short(update.warning, 100)})"
    return text


@contextmanager
def progress_bar(total: int, quiet: bool) -> Iterator[Callable[[SourceUpdate], None]]:
    if quiet or total == 0:
        yield lambda update: None
        return
    with click.progressbar(length=total, label="ingesting", file=sys.stderr, show_pos=True) as bar:

        def advance(update: SourceUpdate) -> None:
            bar.update(1)
            if update.error:
                # Printed above the bar so every failing source is named.
                click.echo(f"\n{describe(update)}", err=True)

        yield advance


def summarise(report: IngestReport) -> str:
    failed = len(report.failed)
    return (
        f"{len(report.updates)} source(s) read: {report.new} new, {report.updated} updated "
        f"article(s); {failed} failed"
    )


@cli.command()
@click.option("--watch", is_flag=True, help="Keep polling sources as they fall due.")
@click.option("--all", "every", is_flag=True, help="Read every source now, due or not.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="One line per source.")
@pass_ctx
def ingest(ctx: Context, watch: bool, every: bool, quiet: bool, verbose: bool) -> None:
    """Read the sources that are due and store their new articles."""
    engine = ctx.engine
    engine.check_enrichment()

    def one_pass(sources: list[Any] | None) -> IngestReport:
        total = len(sources) if sources is not None else len(engine.due_sources())
        with progress_bar(total, quiet) as advance:
            report = engine.ingest(sources=sources, progress=advance, enrich=False)
        if verbose:
            for update in report.updates:
                click.echo(describe(update))
        click.echo(summarise(report))
        if engine.settings.enrich:
            run_enrichment(engine, everything=False, limit=None, quiet=quiet)
        return report

    sources = None
    if every:
        sources = [
            h.source for h in engine.list_sources() if h.source.kind is not SourceKind.MANUAL
        ]
    one_pass(sources)
    if watch:
        click.echo("watching; press Ctrl-C to stop")

        def after_pass(report: IngestReport) -> None:
            for update in report.updates:
                if verbose or update.error:
                    click.echo(describe(update))
            if report.updates:
                click.echo(f"{when(report.finished)}  {summarise(report)}")

        try:
            engine.watch(on_pass=after_pass, skip_first_wait=False)
        except KeyboardInterrupt:
            click.echo("stopped")


# --- understanding ---------------------------------------------------------------------


def describe_enrichment(report: EnrichReport) -> str:
    if report.error:
        return f"enrichment did not run: {report.error}"
    rate = (report.analysed + report.skipped) / report.seconds if report.seconds else 0.0
    return (
        f"{report.analysed} article(s) analysed, {report.skipped} skipped; "
        f"{report.new_stories} new and {report.changed_stories} grown stories; "
        f"{report.duplicates} near-duplicate(s) linked ({rate:.1f} articles/s)"
    )


def run_enrichment(
    engine: Engine, *, everything: bool, limit: int | None, quiet: bool
) -> EnrichReport:
    """Run enrichment with a progress bar on stderr. A failure (a model that cannot load)
    is printed, not raised: ingestion has stored its articles, which wait for the next run."""
    with ExitStack() as stack:
        bars: list[Any] = []

        def advance(done: int, total: int) -> None:
            if quiet or total == 0:
                return
            if not bars:
                bar = click.progressbar(
                    length=total, label="analysing", file=sys.stderr, show_pos=True
                )
                bars.append(stack.enter_context(bar))
            bars[0].update(done - bars[0].pos)

        try:
            report = engine.enrich(everything=everything, limit=limit, progress=advance)
        except TidingsError as e:
            report = EnrichReport(error=str(e))
    click.echo(describe_enrichment(report), err=report.error is not None)
    return report


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Analyse every article again.")
@click.option("--limit", type=click.IntRange(1), help="At most this many articles.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@pass_ctx
def enrich(ctx: Context, everything: bool, limit: int | None, quiet: bool) -> None:
    """Analyse articles: embeddings, entities, topics, quotes, near-duplicates, stories."""
    from tidings.enrich.pipeline import check_models

    check_models()
    report = run_enrichment(ctx.engine, everything=everything, limit=limit, quiet=quiet)
    if report.error:
        sys.exit(EXIT_ERROR)


def entity_as_dict(e: Entity) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "type": e.type,
        "description": e.description,
        "aliases": list(e.aliases),
        "article_count": e.article_count,
        "first_seen": e.first_seen.isoformat() if e.first_seen else None,
        "last_seen": e.last_seen.isoformat() if e.last_seen else None,
    }


def story_as_dict(s: Story) -> dict[str, Any]:
    return {
        "id": s.id,
        "headline": s.headline,
        "representative_id": s.representative_id,
        "article_count": s.article_count,
        "source_count": s.source_count,
        "recent_count": s.recent_count,
        "first_seen": s.first_seen.isoformat() if s.first_seen else None,
        "last_seen": s.last_seen.isoformat() if s.last_seen else None,
    }


def quote_as_dict(q: Quote) -> dict[str, Any]:
    return {
        "text": q.text,
        "speaker": q.speaker,
        "entity_id": q.entity_id,
        "entity": q.entity_name,
        "article_id": q.article_id,
    }


def insight_as_dict(i: ArticleInsight) -> dict[str, Any]:
    return {
        "status": i.status.value,
        "note": i.note,
        "language": i.language,
        "entities": [
            {
                **entity_as_dict(e.entity),
                "mentions": e.mentions,
                "role": e.description,
            }
            for e in i.entities
        ],
        "topics": [
            {"id": t.id, "label": t.label, "kind": t.kind.value, "confidence": t.confidence}
            for t in i.topics
        ],
        "story": story_as_dict(i.story) if i.story else None,
        "quotes": [quote_as_dict(q) for q in i.quotes],
        "duplicates": list(i.duplicates),
    }


def growth(s: Story) -> str:
    return f"{s.article_count} article(s), {s.source_count} source(s), {s.recent_count} in 24 h"


@cli.group()
def entity() -> None:
    """People, organisations, places and other named things in the news."""


@entity.command("list")
@click.option("--type", "type_", help="PERSON, ORG, PLACE, EVENT, PRODUCT or WORK.")
@click.option("--query", "-s", help="Only entities one of whose names contains this.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def entity_list(
    ctx: Context, type_: str | None, query: str | None, limit: int, as_json: bool
) -> None:
    """Entities, most often named first."""
    found = ctx.engine.list_entities(type=type_, query=query, limit=limit)
    if as_json:
        click.echo(json.dumps([entity_as_dict(e) for e in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no entities yet (run `tidings enrich` after ingesting)")
    for e in found:
        desc = f" ({short(e.description, 40)})" if e.description else ""
        click.echo(f"{e.id:>6}  {e.type:<7} {e.article_count:>5}  {short(e.name, 50)}{desc}")


@entity.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def entity_show(ctx: Context, key: str, as_json: bool) -> None:
    """One entity (by id or any of its names), with its articles and quotes."""
    page = ctx.engine.entity_page(int(key) if key.isdigit() else key)
    if as_json:
        data = entity_as_dict(page.entity)
        data["articles"] = [{"id": a.id, "title": a.title} for a in page.articles]
        data["quotes"] = [quote_as_dict(q) for q in page.quotes]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    e = page.entity
    click.echo(f"{e.name}  [{e.type}, entity {e.id}]")
    if e.description:
        click.echo(f"  {e.description}")
    if e.aliases:
        click.echo(f"  also: {', '.join(e.aliases)}")
    click.echo(
        f"  {e.article_count} article(s), first {when(e.first_seen)}, last {when(e.last_seen)}"
    )
    if page.articles:
        click.echo("\narticles:")
        for a in page.articles:
            click.echo(f"  {a.id:>6}  {when(a.published)}  {short(a.title, 70)}")
    if page.quotes:
        click.echo("\nquotes:")
        for q in page.quotes:
            click.echo(f"  \u201c{short(q.text, 100)}\u201d (article {q.article_id})")


@cli.group()
def story() -> None:
    """Stories: the articles about one event, across sources."""


@story.command("list")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def story_list(ctx: Context, limit: int, as_json: bool) -> None:
    """Stories, most recently active first."""
    found = ctx.engine.list_stories(limit=limit)
    if as_json:
        click.echo(json.dumps([story_as_dict(s) for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no stories yet (run `tidings enrich` after ingesting)")
    for s in found:
        click.echo(
            f"{s.id:>6}  {when(s.last_seen)}  {s.article_count:>3} art {s.source_count:>2} src"
            f"  {short(s.headline, 70)}"
        )


@story.command("show")
@click.argument("story_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def story_show(ctx: Context, story_id: int, as_json: bool) -> None:
    """One story with all its articles and sources."""
    page = ctx.engine.story_page(story_id)
    if as_json:
        data = story_as_dict(page.story)
        data["articles"] = [
            {"id": a.id, "title": a.title, "source_id": a.source_id, "url": a.url}
            for a in page.articles
        ]
        data["sources"] = list(page.sources)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    s = page.story
    click.echo(f"story {s.id}: {s.headline or '(no headline)'}")
    click.echo(f"  {growth(s)}; first {when(s.first_seen)}, last {when(s.last_seen)}")
    click.echo(f"  sources: {', '.join(page.sources)}")
    for a in page.articles:
        click.echo(f"  {a.id:>6}  {when(a.published)}  {short(a.title, 70)}")


@cli.group()
def topic() -> None:
    """Topics: the IPTC taxonomy, publishers' sections and relations between countries."""


@topic.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def topic_list(ctx: Context, as_json: bool) -> None:
    """Every topic in use, with its article count."""
    found = ctx.engine.list_topics()
    if as_json:
        data = [
            {"id": t.id, "label": t.label, "kind": t.kind.value, "articles": n} for t, n in found
        ]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for t, n in found:
        click.echo(f"{n:>6}  {t.kind.value:<8}  {t.label}  ({t.id})")


# --- readers ---------------------------------------------------------------------------

INTEREST_KINDS = click.Choice([k.value for k in InterestKind], case_sensitive=False)


@cli.group()
def reader() -> None:
    """Readers: who the feed is for (the web page adds sign-up)."""


@reader.command("add")
@click.argument("name")
@pass_ctx
def reader_add(ctx: Context, name: str) -> None:
    """Add a reader."""
    added = ctx.engine.add_reader(name)
    click.echo(f"added reader {added.id}: {added.name}")


@reader.command("list")
@pass_ctx
def reader_list(ctx: Context) -> None:
    """Every reader."""
    found = ctx.engine.list_readers()
    if not found:
        click.echo("no readers yet (tidings reader add NAME)")
    for r in found:
        click.echo(
            f"{r.id:>5}  {r.name}  (exploration {r.exploration:.2f}, diversity {r.diversity:.2f})"
        )


@reader.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def reader_show(ctx: Context, name: str, as_json: bool) -> None:
    """A reader's settings, follows and mutes."""
    r = ctx.engine.get_reader(name)
    found = ctx.engine.interests(r.id)
    if as_json:
        data = {
            "id": r.id,
            "name": r.name,
            "exploration": r.exploration,
            "diversity": r.diversity,
            "interests": [
                {"kind": i.kind.value, "value": i.value, "label": i.label, "stance": i.stance.value}
                for i in found
            ],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"reader {r.id}: {r.name}  (exploration {r.exploration:.2f}, diversity {r.diversity:.2f})"
    )
    for stance in (Stance.FOLLOW, Stance.MUTE):
        mine = [i for i in found if i.stance is stance]
        click.echo(
            f"{'follows' if stance is Stance.FOLLOW else 'mutes'}: "
            + ("; ".join(f"{i.kind.value} {i.label or i.value}" for i in mine) or "nothing")
        )


@reader.command("set")
@click.argument("name")
@click.option("--exploration", type=float, help="Share of the page exploring, 0 to 0.5.")
@click.option("--diversity", type=float, help="How mixed the page is, 0 to 1.")
@click.option("--email", help="Where digests go ('' removes it).")
@click.option("--digest", type=click.Choice(["off", "daily", "weekly"]), help="Email digests.")
@pass_ctx
def reader_set(
    ctx: Context,
    name: str,
    exploration: float | None,
    diversity: float | None,
    email: str | None,
    digest: str | None,
) -> None:
    """Change a reader's page settings, email address and digests."""
    r = ctx.engine.set_reader_settings(name, exploration=exploration, diversity=diversity)
    click.echo(f"{r.name}: exploration {r.exploration:.2f}, diversity {r.diversity:.2f}")
    if email is not None or digest is not None:
        a = ctx.engine.set_account(
            name,
            **({"email": email} if email is not None else {}),
            **({"digest": digest} if digest is not None else {}),
        )
        click.echo(f"{r.name}: email {a.email or 'none'}, digest {a.digest.value}")


@reader.command("password")
@click.argument("name")
@click.password_option(prompt="New password", help="Read from a prompt when not given.")
@pass_ctx
def reader_password(ctx: Context, name: str, password: str) -> None:
    """Set a reader's password, so that they can sign in to the page (ends their sessions)."""
    ctx.engine.set_password(name, password)
    click.echo(f"{name} can sign in with the new password")


@cli.command()
@click.option(
    "--readers", default=200, show_default=True, type=click.IntRange(1), help="Readers sampled."
)
@pass_ctx
def learn(ctx: Context, readers: int) -> None:
    """Fit the global ranking weights on what readers were shown and engaged with (they
    serve new readers and anchor each reader's own); run it daily, say from cron."""
    learned, impressions = ctx.engine.learn(readers=readers)
    if not impressions:
        click.echo("nothing to learn from yet: no reader has impressions and engagement")
        return
    click.echo(f"learned from {impressions:,} impressions of {learned} readers")
    for name, weight in ctx.engine.ranking_weights().items():
        click.echo(f"  {name:<16} {weight:+.3f}")


@cli.group()
def token() -> None:
    """A reader's API tokens, for programs using the HTTP API."""


@token.command("create")
@click.argument("reader_name", metavar="READER")
@click.argument("name")
@pass_ctx
def token_create(ctx: Context, reader_name: str, name: str) -> None:
    """Make an API token; its secret is printed once, now."""
    made, secret = ctx.engine.create_token(reader_name, name)
    click.echo(f"token {made.id} ({made.name}): {secret}")
    click.echo("send it as: Authorization: Bearer <token>; it is not shown again", err=True)


@token.command("list")
@click.argument("reader_name", metavar="READER")
@pass_ctx
def token_list(ctx: Context, reader_name: str) -> None:
    """A reader's live API tokens (never their secrets)."""
    from tidings.types import TokenKind

    for t in ctx.engine.list_tokens(reader_name, kind=TokenKind.API):
        used = t.last_used.strftime("%Y-%m-%d %H:%M") if t.last_used else "never"
        click.echo(f"{t.id}\t{t.name}\tmade {t.created:%Y-%m-%d}\tlast used {used}")


@token.command("revoke")
@click.argument("reader_name", metavar="READER")
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(ctx: Context, reader_name: str, token_id: int) -> None:
    """Revoke one of a reader's tokens."""
    ctx.engine.revoke_token(reader_name, token_id)
    click.echo(f"revoked token {token_id}")


@cli.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@pass_ctx
def search(ctx: Context, query: str, limit: int) -> None:
    """Articles matching every word of QUERY, best first."""
    found = ctx.engine.search(query, limit=limit)
    if not found:
        click.echo("nothing found")
    for a, _ in found:
        when = a.published.strftime("%Y-%m-%d") if a.published else "undated"
        click.echo(f"{a.id}\t{when}\t{a.title or a.url or '(untitled)'}")


@reader.command("remove")
@click.argument("name")
@pass_ctx
def reader_remove(ctx: Context, name: str) -> None:
    """Delete a reader with everything they said and did."""
    ctx.engine.remove_reader(name)
    click.echo(f"removed reader {name}")


@cli.command()
@click.argument("reader_name", metavar="READER")
@click.argument("kind", type=INTEREST_KINDS)
@click.argument("value")
@pass_ctx
def follow(ctx: Context, reader_name: str, kind: str, value: str) -> None:
    """Follow a topic, entity, source, author, story or keyword (by id or name)."""
    got = ctx.engine.follow(reader_name, kind, value)
    click.echo(f"{reader_name} follows {got.kind.value} {got.label or got.value}")


@cli.command()
@click.argument("reader_name", metavar="READER")
@click.argument("kind", type=INTEREST_KINDS)
@click.argument("value")
@pass_ctx
def mute(ctx: Context, reader_name: str, kind: str, value: str) -> None:
    """Never show READER what matches (a topic, entity, source, author, story, keyword)."""
    got = ctx.engine.mute(reader_name, kind, value)
    click.echo(f"{reader_name} mutes {got.kind.value} {got.label or got.value}")


@cli.command()
@click.argument("reader_name", metavar="READER")
@click.argument("kind", type=INTEREST_KINDS)
@click.argument("value")
@pass_ctx
def unfollow(ctx: Context, reader_name: str, kind: str, value: str) -> None:
    """Forget a follow or a mute."""
    if ctx.engine.unfollow(reader_name, kind, value):
        click.echo(f"{reader_name} no longer follows or mutes {kind} {value}")
    else:
        fail(f"{reader_name} neither follows nor mutes {kind} {value}")


@cli.command()
@click.argument("reader_name", metavar="READER")
@click.argument("kind", type=click.Choice([k.value for k in EventKind], case_sensitive=False))
@click.argument("article_id", type=int)
@click.argument("value", type=float, required=False)
@pass_ctx
def event(ctx: Context, reader_name: str, kind: str, article_id: int, value: float | None) -> None:
    """Record what READER did with an article: open, read SECONDS, save, share, more, less,
    hide (or an impression at a POSITION). The feed learns from these."""
    ctx.engine.record_events(
        reader_name,
        [
            ReaderEvent(
                kind=EventKind(kind.lower()),
                article_id=article_id,
                at=datetime.now(UTC),
                value=value,
            )
        ],
    )
    if kind.lower() == EventKind.SAVE.value:
        ctx.engine.save_article(reader_name, article_id)
    click.echo(f"recorded {kind.lower()} of article {article_id} for {reader_name}")


@cli.command()
@click.argument("reader_name", metavar="READER")
@click.option("--explain", is_flag=True, help="Show each item's reasons and what changes them.")
@click.option("--size", default=30, show_default=True, type=click.IntRange(1, 100))
@click.option("--cursor", help="The cursor printed under the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def feed(
    ctx: Context, reader_name: str, explain: bool, size: int, cursor: str | None, as_json: bool
) -> None:
    """Print READER's page: one item per story, best first."""
    page = ctx.engine.feed(reader_name, cursor=cursor, size=size)
    if as_json:
        data = {
            "reader": page.reader.name,
            "items": [
                {
                    "rank": item.rank,
                    "article_id": item.article_id,
                    "title": page.articles[item.article_id].title,
                    "source": page.articles[item.article_id].source_name,
                    "story_id": item.story_id,
                    "score": round(item.score, 4),
                    "also_covered_by": [c.article_id for c in item.also_covered_by],
                    "exploration": item.exploration,
                    "reasons": [
                        {
                            "kind": r.kind.value,
                            "text": r.text,
                            "weight": round(r.weight, 4),
                            "action": {
                                "verb": r.action.verb.value,
                                "target_kind": r.action.target_kind.value,
                                "target_id": r.action.target_id,
                                "label": r.action.label,
                            },
                        }
                        for r in item.reasons
                    ],
                }
                for item in page.items
            ],
            "next_cursor": page.next_cursor,
            "hint": page.hint,
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if page.hint:
        click.echo(page.hint)
    for item in page.items:
        facts = page.articles[item.article_id]
        also = f"  (+{len(item.also_covered_by)} more sources)" if item.also_covered_by else ""
        click.echo(
            f"{item.rank:>3}. {short(facts.title, 80)}\n     {facts.source_name}, "
            f"{when(facts.published)}, article {item.article_id}{also}"
        )
        if explain:
            for r in item.reasons:
                click.echo(f"       {r.text} (+{r.weight:.2f}) [{r.action.label}]")
            if not item.reasons:
                click.echo("       Recent news")
    if page.next_cursor:
        click.echo(f"\nnext page: tidings feed {page.reader.name} --cursor {page.next_cursor}")


# --- digests ---------------------------------------------------------------------------


@cli.group()
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


# --- articles --------------------------------------------------------------------------


@cli.group()
def article() -> None:
    """Look at stored articles."""


@article.command("list")
@click.option("--source", "source_key", help="Only this source (id or URL).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@pass_ctx
def article_list(ctx: Context, source_key: str | None, limit: int, offset: int) -> None:
    """The latest articles, newest first."""
    key: int | str | None = None
    if source_key is not None:
        key = int(source_key) if source_key.isdigit() else source_key
    found = ctx.engine.list_articles(source=key, limit=limit, offset=offset)
    if not found:
        click.echo("no articles yet: run `tidings ingest`")
    for a in found:
        click.echo(f"{a.id:>6}  {when(a.published):16}  {short(a.title or a.url, 90)}")


def draft_as_dict(a: ArticleDraft) -> dict[str, Any]:
    return {
        "title": a.title,
        "authors": list(a.authors),
        "published": a.published.isoformat() if a.published else None,
        "updated": a.updated.isoformat() if a.updated else None,
        "section": a.section,
        "site_name": a.site_name,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "guid": a.guid,
        "language": a.language,
        "summary": a.summary,
        "summary_points": list(a.summary_points),
        "body": a.body,
        "images": [{"url": i.url, "caption": i.caption, "credit": i.credit} for i in a.images],
        "related": [{"url": r.url, "title": r.title} for r in a.related],
        "tags": list(a.tags),
        "extraction_note": a.extraction_note,
    }


def article_as_dict(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "source_id": a.source_id,
        **draft_as_dict(a),
        "content_hash": a.content_hash,
        "fetched_at": a.fetched_at.isoformat(),
    }


def echo_article(a: ArticleDraft) -> None:
    """An article as a person reads it in a terminal."""
    title = a.title or "(untitled)"
    if a.section:
        click.echo(a.section.upper())
    click.echo(title)
    click.echo("=" * min(len(title), 100))
    byline = [f"by {', '.join(a.authors)}"] if a.authors else []
    if a.published:
        byline.append(f"published {a.published.isoformat()}")
    if a.site_name:
        byline.append(a.site_name)
    if byline:
        click.echo(" · ".join(byline))
    if a.canonical_url or a.url:
        click.echo(a.canonical_url or a.url)
    if a.language:
        click.echo(f"language: {a.language}")
    if a.tags:
        click.echo(f"tags: {', '.join(a.tags)}")
    click.echo()
    for point in a.summary_points:
        click.echo(f"  • {point}")
    if a.summary_points:
        click.echo()
    text = a.body or a.summary or ""
    if text:
        click.echo(text)
    for image in a.images:
        caption = image.caption or ""
        credit = f" (credit: {image.credit})" if image.credit else ""
        click.echo(f"\n[image] {caption}{credit} {image.url}".rstrip())
    if a.related:
        click.echo("\nRelated:")
        for link in a.related:
            click.echo(f"  - {link.title or ''} {link.url or ''}".rstrip())
    if a.extraction_note:
        click.echo(f"\nnote: {a.extraction_note}")


@article.command("show")
@click.argument("article_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def article_show(ctx: Context, article_id: int, as_json: bool) -> None:
    """One article in full."""
    a = ctx.engine.get_article(article_id)
    if as_json:
        data = article_as_dict(a)
        insight = ctx.engine.article_insight(a.id)
        data["analysis"] = insight_as_dict(insight) if insight else None
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    src = ctx.engine.get_source(a.source_id)
    click.echo(f"article {a.id} from {src.title or src.url}\n")
    echo_article(a)
    echo_insight(ctx.engine.article_insight(a.id))


def echo_insight(i: ArticleInsight | None) -> None:
    click.echo("")
    if i is None:
        click.echo("not analysed yet (run `tidings enrich`)")
        return
    if i.status is EnrichmentStatus.SKIPPED:
        click.echo(f"not analysed: {i.note}")
        return
    if i.language:
        click.echo(f"language: {i.language}")
    if i.topics:
        click.echo(
            "topics: "
            + "; ".join(
                f"{t.label} ({t.confidence:.2f})" if t.kind is TopicKind.TAXONOMY else t.label
                for t in i.topics
            )
        )
    if i.story:
        click.echo(f"story {i.story.id}: {i.story.headline} ({growth(i.story)})")
    if i.duplicates:
        click.echo(f"near-duplicates: {', '.join(str(d) for d in i.duplicates)}")
    if i.entities:
        click.echo("entities:")
        for e in i.entities:
            role = f", {e.description}" if e.description else ""
            click.echo(f"  {e.entity.name} [{e.entity.type}{role}] x{e.mentions}")
    if i.quotes:
        click.echo("quotes:")
        for q in i.quotes:
            who = q.entity_name or q.speaker or "unattributed"
            click.echo(f"  {who}: \u201c{short(q.text, 110)}\u201d")


@article.command("add")
@click.argument("location")
@click.option("--text", "as_text", is_flag=True, help="The file is copied page text, not HTML.")
@click.option("--source", "source_name", help="File it under this hand-kept source.")
@pass_ctx
def article_add(ctx: Context, location: str, as_text: bool, source_name: str | None) -> None:
    """Extract an article from a page URL or file and store it."""
    stored = ctx.engine.add_article(location, text=as_text, source_name=source_name)
    click.echo(f"stored article {stored.id}: {stored.title or '(untitled)'}")


@cli.command()
@click.argument("location")
@click.option("--text", "as_text", is_flag=True, help="The file is copied page text, not HTML.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def extract(ctx: Context, location: str, as_text: bool, as_json: bool) -> None:
    """Print the structured article of a web page (URL or file) or of copied page text."""
    draft = ctx.engine.extract(location, text=as_text)
    if as_json:
        click.echo(json.dumps(draft_as_dict(draft), indent=2, ensure_ascii=False))
    else:
        echo_article(draft)


# --- serving and the demo --------------------------------------------------------------


def serve_engine(engine: Engine, host: str, port: int) -> None:
    import uvicorn

    from tidings.api.app import create_app

    click.echo(f"serving Tidings at http://{host}:{port}  (Ctrl-C to stop)")
    uvicorn.run(create_app(engine), host=host, port=port, log_level="warning")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the HTTP API and pages."""
    serve_engine(ctx.engine, host, port)


@cli.command()
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
            engine.add_source(url, tags=("demo",), title=f"Local feeds: {feeds_dir.name}")
        click.echo(f"demo: reading feed files from {feeds_dir.resolve()}")
    else:
        starter = resources.files("tidings").joinpath("data/starter.opml").read_bytes()
        added, existing = engine.import_opml(starter)
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
    import ipaddress
    import secrets

    from tidings.errors import AuthenticationError, NotFoundError

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    password = DEMO_PASSWORD if loopback else secrets.token_urlsafe(12)
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


@cli.group()
def bench() -> None:
    """Benchmarks, run side by side with a peer (figures go to BENCHMARKS.md)."""


def default_shared_data() -> Path:
    return Path.cwd().parent / "shared" / "data"


@bench.command("ingest")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_shared_data,
    show_default="../shared/data",
    help="The shared data folder holding feeds/.",
)
@click.option("--entries", default=50_000, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_ingest_command(data_dir: Path, entries: int, as_json: bool) -> None:
    """Full ingest of the real feeds on loopback, against the `reader` library."""
    from tidings.bench.ingest import bench_ingest, format_report

    if not (data_dir / "feeds").is_dir():
        fail(f"no feeds folder in {data_dir} (pass --data DIR)")
    result = bench_ingest(data_dir, entries)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@bench.command("extract")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: default_shared_data() / "aeb",
    show_default="../shared/data/aeb",
    help="A folder in the article-extraction-benchmark format (html/*.html.gz).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_extract_command(data_dir: Path, as_json: bool) -> None:
    """HTML pages per second, against plain trafilatura in the same run."""
    from tidings.bench.extract import bench_extract, format_report

    if not (data_dir / "html").is_dir():
        fail(f"no html/ folder in {data_dir} (pass --data DIR)")
    result = bench_extract(data_dir)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@bench.command("enrich")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: default_shared_data() / "ecbplus",
    show_default="../shared/data/ecbplus",
    help="A folder with docs.jsonl in the ECB+ format.",
)
@click.option(
    "--feeds",
    "feeds_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_shared_data,
    show_default="../shared/data",
    help="The data folder `bench ingest` reads, for the ingestion rate reported beside.",
)
@click.option("--no-ingest", is_flag=True, help="Skip the ingestion rate.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_enrich_command(data_dir: Path, feeds_dir: Path, no_ingest: bool, as_json: bool) -> None:
    """Articles analysed per second end to end, against stock spaCy NER in the same run,
    with the ingestion rate beside it."""
    from tidings.bench.enrich import bench_enrich, format_report

    if not (data_dir / "docs.jsonl").is_file():
        fail(f"no docs.jsonl in {data_dir} (pass --data DIR)")
    result = bench_enrich(data_dir, feeds_dir=None if no_ingest else feeds_dir)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@bench.command("vectors")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_shared_data,
    show_default="../shared/data",
    help="The shared data folder (ecbplus, ag_news and sts_news texts are embedded).",
)
@click.option(
    "--copies",
    default=9,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Noisy copies per real vector for the scaled set (0: real vectors only).",
)
@click.option("--quick", is_flag=True, help="int8 and float16 only (about half the time).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_vectors_command(data_dir: Path, copies: int, quick: bool, as_json: bool) -> None:
    """Vector index recall@10 and queries per second, against exact numpy search."""
    from tidings.bench.vectors import format_report, run

    dtypes: tuple[Any, ...] = ("i8", "f16") if quick else ("i8", "f16", "f32")
    only = ("real", "scaled") if copies else ("real",)
    result = run(
        data_dir,
        copies=max(copies, 1),
        dtypes=dtypes,
        only=only,
        echo=lambda m: click.echo(m, err=True),
    )
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@bench.command("feed")
@click.option("--articles", default=1_000_000, show_default=True, type=click.IntRange(100))
@click.option("--readers", default=10_000, show_default=True, type=click.IntRange(1))
@click.option("--pages", default=500, show_default=True, type=click.IntRange(1))
@click.option("--quick", is_flag=True, help="100,000 articles and 1,000 readers.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the generated database (and its vector index) is cached.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_feed_command(
    articles: int, readers: int, pages: int, quick: bool, workdir: Path | None, as_json: bool
) -> None:
    """Time to assemble a reader's 30-item page at scale: p50/p99, pages/s, peak memory."""
    from tidings.bench.feed import QUICK, format_report, run

    if quick:
        articles, readers = QUICK["articles"], QUICK["readers"]
    result = run(
        articles=articles,
        readers=readers,
        pages=pages,
        workdir=workdir,
        echo=lambda m: click.echo(m, err=True),
    )
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@bench.command("http")
@click.option("--articles", default=100_000, show_default=True, type=click.IntRange(100))
@click.option("--readers", default=1_000, show_default=True, type=click.IntRange(1))
@click.option("--duration", type=click.IntRange(1), help="Seconds of load.  [default: 60]")
@click.option("--connections", default=50, show_default=True, type=click.IntRange(1))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--tokens", default=200, show_default=True, type=click.IntRange(1))
@click.option("--enrich", is_flag=True, help="Analyse what ingestion brings, during the load.")
@click.option("--fresh", is_flag=True, help="Start again from the generated database.")
@click.option("--no-profile", is_flag=True, help="Skip timing the pages in-process.")
@click.option("--quick", is_flag=True, help="10,000 articles, 200 readers, 15 seconds.")
@click.option(
    "--warm",
    is_flag=True,
    help="Make every token holder's page on each worker before the load (the page cache's "
    "steady state, rather than every reader's first page).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the generated database and its copy are cached (shared with bench feed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_http_command(
    articles: int,
    readers: int,
    duration: int | None,
    connections: int,
    workers: int,
    tokens: int,
    enrich: bool,
    fresh: bool,
    no_profile: bool,
    quick: bool,
    warm: bool,
    workdir: Path | None,
    as_json: bool,
) -> None:
    """GET /api/feed under load from wrk, with ingestion running: requests/s, p50/p99, errors."""
    from tidings.bench.http import DURATION_S, QUICK_HTTP, format_report, run

    if quick:
        articles, readers = QUICK_HTTP["articles"], QUICK_HTTP["readers"]
        duration = duration or QUICK_HTTP["duration"]
    try:
        result = run(
            articles=articles,
            readers=readers,
            duration=duration or DURATION_S,
            connections=connections,
            workers=workers,
            tokens=tokens,
            enrich=enrich,
            fresh=fresh,
            profile=not no_profile,
            warm_cache_first=warm,
            workdir=workdir,
            echo=lambda m: click.echo(m, err=True),
        )
    except RuntimeError as e:
        fail(str(e))
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@cli.group("eval")
def evaluate() -> None:
    """Quality evaluations on benchmark data, against the stored minimums.

    Each prints a JSON report, then one summary line, and exits 1 below a minimum."""


@evaluate.command("extract")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder in the format of ../shared/data/aeb (HTML bodies and copied page text).",
)
@click.option(
    "--metadata",
    "metadata_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder in the format of ../shared/data/readability_pages (metadata).",
)
def eval_extract(data_dir: Path | None, metadata_dir: Path | None) -> None:
    """Body F1 on HTML pages and on copied page text, and metadata accuracy.

    Prints a JSON report, then one summary line; exits 1 when a score is below its
    stored minimum."""
    from tidings.eval.extract import evaluate_extraction, summary_line

    if data_dir is None and metadata_dir is None:
        fail("give --data DIR, --metadata DIR, or both")
    report = evaluate_extraction(data_dir=data_dir, metadata_dir=metadata_dir)
    print_gate(report, summary_line(report))


def data_option(folder: str) -> Callable[[F], F]:
    """The ``--data DIR`` option of an evaluation on a folder shaped like a shared one."""
    option: Callable[[F], F] = click.option(
        "--data",
        "data_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
        help=f"A folder in the format of ../shared/data/{folder}.",
    )
    return option


def print_gate(report: dict[str, Any], summary: tuple[str, bool]) -> None:
    """Every evaluation's output: the JSON report, one summary line, exit 1 if it fails."""
    click.echo(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    line, ok = summary
    click.echo(line)
    if not ok:
        sys.exit(EXIT_ERROR)


@evaluate.command("duplicates")
@data_option("ecbplus")
def eval_duplicates(data_dir: Path) -> None:
    """Pair F1 of near-duplicate detection on ECB+ articles and generated copies of them."""
    from tidings.eval import baseline
    from tidings.eval.duplicates import evaluate, summary_line

    report = evaluate(data_dir)
    print_gate(report, summary_line(report, baseline()))


@evaluate.command("rank")
@data_option("mind_subset")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="Replay only the first N impressions in time order.",
)
@click.option(
    "--readers",
    "shard",
    default=None,
    metavar="K/N",
    help="Only the readers whose id hashes to K modulo N (a split, e.g. 0/2 and 1/2).",
)
@click.option(
    "--text/--no-text",
    default=True,
    show_default=True,
    help="Embed the articles' titles and abstracts (--no-text: the content terms stay 0).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where embeddings are kept between runs (default: the user cache directory).",
)
@click.option(
    "--ablations",
    is_flag=True,
    help="Also the engine's scorer without each term, unfitted, and fitted within pages.",
)
def eval_rank(
    data_dir: Path,
    limit: int | None,
    shard: str | None,
    text: bool,
    cache_dir: Path | None,
    ablations: bool,
) -> None:
    """AUC, MRR, nDCG@5 and nDCG@10 of news ranking on MIND impressions replayed in time
    order: the engine's scorer, beside random, click-rate and hybrid scorers."""
    import time

    from tidings.eval import baseline
    from tidings.eval.rank import CACHE_DIR, evaluate, summary_line

    split: tuple[int, int] | None = None
    if shard is not None:
        k, _, n = shard.partition("/")
        if not (k.isdigit() and n.isdigit() and int(k) < int(n)):
            raise click.BadParameter("K/N with 0 <= K < N, e.g. 0/2", param_hint="--readers")
        split = (int(k), int(n))
    started = time.monotonic()
    last = [started]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 10 or done == total:
            last[0] = now
            rate = done / max(now - started, 1e-9)
            left = (total - done) / max(rate, 1e-9)
            click.echo(
                f"rank: {done:,} of {total:,} impressions, {rate:,.0f}/s, "
                f"~{left / 60:.0f} min left",
                err=True,
            )

    report = evaluate(
        data_dir,
        limit=limit,
        shard=split,
        with_text=text,
        cache_dir=cache_dir or CACHE_DIR,
        progress=progress,
        ablations=ablations,
    )
    print_gate(report, summary_line(report, baseline()))


@evaluate.command("simulate")
@data_option("ag_news")
@click.option("--rounds", default=20, show_default=True, type=click.IntRange(1), help="Days.")
@click.option("--readers", default=30, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulation.")
def eval_simulate(data_dir: Path, rounds: int, readers: int, seed: int) -> None:
    """nDCG@10 per simulated day of the engine's pages for readers with hidden interests,
    against non-personalised, random and oracle rankings; mutes and the per-source cap are
    checked on every page."""
    from tidings.eval import baseline
    from tidings.eval.simulate import evaluate, summary_line

    report = evaluate(data_dir, rounds=rounds, readers=readers, seed=seed)
    print_gate(report, summary_line(report, baseline()))


@evaluate.command("similarity")
@data_option("sts_news")
@click.option("--split", default="dev", show_default=True, help="Reads sts-SPLIT.csv.")
def eval_similarity(data_dir: Path, split: str) -> None:
    """Spearman correlation of the engine's pair similarity (embedding cosine plus word
    features) with human scores on news pairs."""
    from tidings.eval import baseline
    from tidings.eval.similarity import evaluate_similarity, summary_line

    report = evaluate_similarity(data_dir, split=split)
    print_gate(report, summary_line(report, baseline()["similarity_spearman"]))


@evaluate.command("entities")
@data_option("entity_linking_news")
def eval_entities(data_dir: Path) -> None:
    """Entity mention F1 and, within documents, grouping of mentions of one entity."""
    from tidings.eval import baseline
    from tidings.eval.entities import evaluate_entities, summary_line

    report = evaluate_entities(data_dir)
    print_gate(report, summary_line(report, baseline()))


@evaluate.command("topics")
@data_option("ag_news")
def eval_topics(data_dir: Path) -> None:
    """Topic accuracy with the taxonomy mapped onto the four AG News classes, no training."""
    from tidings.eval import baseline
    from tidings.eval.topics import evaluate_topics, summary_line

    report = evaluate_topics(data_dir)
    print_gate(report, summary_line(report, baseline()))


@evaluate.command("stories")
@data_option("ecbplus")
@click.option(
    "--order",
    type=click.Choice(["file", "shuffled"]),
    default="file",
    show_default=True,
    help="The file's order, or a random order per seed.",
)
@click.option(
    "--seeds",
    default="0,1,2,3,4",
    show_default=True,
    help="Comma-separated seeds (shuffled order, distractor positions).",
)
@click.option(
    "--distractors",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Unrelated AG News items mixed in, each its own story (read from ../ag_news).",
)
@click.option(
    "--cold",
    is_flag=True,
    help="A new enrichment stage for every batch of 64, as if each ran in a new process.",
)
def eval_stories(data_dir: Path, order: str, seeds: str, distractors: int, cold: bool) -> None:
    """B-cubed F1 of story clustering through the enrichment stage, not told the number of
    stories, beside TF-IDF told it; per seed, mean and worst, and by halves of the topics."""
    from tidings.eval import baseline
    from tidings.eval.stories import evaluate_stories, format_report, summary_line

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter("seeds must be integers separated by commas") from None
    if not seed_list:
        raise click.BadParameter("give at least one seed")
    report = evaluate_stories(
        data_dir,
        order=order,
        seeds=seed_list,
        distractors=distractors,
        cold=cold,
        progress=lambda line: click.echo(line, err=True),
    )
    click.echo(format_report(report))
    print_gate(report, summary_line(report, baseline()))


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
