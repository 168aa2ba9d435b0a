"""Sources, OPML files and ingestion: ``tidings source``, ``opml`` and ``ingest``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.output import EXIT_ERROR, echo_json, fail, json_option, short, when
from tidings.cli.understanding import run_enrichment
from tidings.ingest.stage import OWN_FAILURE
from tidings.types import IngestReport, PagePolicy, SourceKind, SourceUpdate


@click.group()
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
    added = ctx.engine.add_source(
        url, tags=tags, title=title, pages=PagePolicy(pages), operator=True
    )
    click.echo(f"added source {added.id}: {added.url} ({added.kind.value})")


@source.command("list")
@json_option
@pass_ctx
def source_list(ctx: Context, as_json: bool) -> None:
    """List sources with their health."""
    health = ctx.engine.list_sources()
    if as_json:
        from tidings.api.schemas import source_out

        echo_json([source_out(h) for h in health])
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
        if s.last_error and s.last_error.startswith(OWN_FAILURE):
            status = f"ERROR: {s.last_error}"  # no count: the source is not to blame
        elif s.last_error:
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


@source.command("trust")
@click.argument("key")
@pass_ctx
def source_trust(ctx: Context, key: str) -> None:
    """Let a source (by id or URL) reach the networks --allow-network and
    TIDINGS_FETCH__ALLOWED_NETWORKS open: sources readers add never do until you trust them."""
    trusted = ctx.engine.trust_source(int(key) if key.isdigit() else key)
    click.echo(f"source {trusted.id} may now use the network allowances: {trusted.url}")


@source.command("remove")
@click.argument("key")
@pass_ctx
def source_remove(ctx: Context, key: str) -> None:
    """Unsubscribe (by id or URL) and delete the articles that came only from it."""
    ctx.engine.remove_source(int(key) if key.isdigit() else key)
    click.echo(f"removed source {key}")


@click.group()
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
    added, existing = ctx.engine.import_opml(content, operator=True)
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
    ours = len(report.internal_failures)
    text = (
        f"{len(report.updates)} source(s) read: {report.new} new, {report.updated} updated "
        f"article(s); {failed} failed"
    )
    return text + (f" ({ours} for Tidings' own reasons)" if ours else "")


def own_failure(report: IngestReport) -> str | None:
    """What to say, before exiting non-zero, when sources failed for Tidings' own reasons
    (storage full or gone): cron and systemd must notice. None when none did."""
    ours = report.internal_failures
    if not ours:
        return None
    return (
        f"{len(ours)} source(s) could not be read for Tidings' own reasons; the first: "
        f"{ours[0].error}"
    )


@click.command()
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
        if (problem := own_failure(report)) is not None:
            fail(problem)
        if engine.settings.enrich:
            enriched = run_enrichment(engine, everything=False, limit=None, quiet=quiet)
            if enriched.error:
                sys.exit(EXIT_ERROR)  # the reason is printed already
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
            if (problem := own_failure(report)) is not None:
                fail(problem)  # a supervisor restarts us; a cron job reports it

        try:
            engine.watch(on_pass=after_pass, skip_first_wait=False)
        except KeyboardInterrupt:
            click.echo("stopped")
