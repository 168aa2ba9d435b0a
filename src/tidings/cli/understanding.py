"""What Tidings understood of the news: ``tidings enrich``, ``entity``, ``story``, ``topic``."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.output import EXIT_ERROR, echo_json, json_option, short, when
from tidings.engine import Engine
from tidings.errors import TidingsError
from tidings.types import EnrichReport, Story


def describe_enrichment(report: EnrichReport) -> str:
    if report.error:
        return f"enrichment did not run: {report.error}"
    passes = report.analysed + report.quick + report.skipped
    rate = passes / report.seconds if report.seconds else 0.0
    quick = f" ({report.quick} quick first pass(es) of a backlog)" if report.quick else ""
    return (
        f"{report.analysed} article(s) analysed{quick}, {report.skipped} skipped; "
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


@click.command()
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


def growth(s: Story) -> str:
    return f"{s.article_count} article(s), {s.source_count} source(s), {s.recent_count} in 24 h"


@click.group()
def entity() -> None:
    """People, organisations, places and other named things in the news."""


@entity.command("list")
@click.option("--type", "type_", help="PERSON, ORG, PLACE, EVENT, PRODUCT or WORK.")
@click.option("--query", "-s", help="Only entities one of whose names contains this.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@pass_ctx
def entity_list(
    ctx: Context, type_: str | None, query: str | None, limit: int, as_json: bool
) -> None:
    """Entities, most often named first."""
    found = ctx.engine.list_entities(type=type_, query=query, limit=limit)
    if as_json:
        from tidings.api.schemas import entity_out

        echo_json([entity_out(e) for e in found])
        return
    if not found:
        click.echo("no entities yet (run `tidings enrich` after ingesting)")
    for e in found:
        desc = f" ({short(e.description, 40)})" if e.description else ""
        click.echo(f"{e.id:>6}  {e.type:<7} {e.article_count:>5}  {short(e.name, 50)}{desc}")


@entity.command("show")
@click.argument("key")
@json_option
@pass_ctx
def entity_show(ctx: Context, key: str, as_json: bool) -> None:
    """One entity (by id or any of its names), with its articles and quotes."""
    page = ctx.engine.entity_page(int(key) if key.isdigit() else key)
    if as_json:
        from tidings.api.schemas import entity_page_out

        echo_json(entity_page_out(page))
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


@click.group()
def story() -> None:
    """Stories: the articles about one event, across sources."""


@story.command("list")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@pass_ctx
def story_list(ctx: Context, limit: int, as_json: bool) -> None:
    """Stories, most recently active first."""
    found = ctx.engine.list_stories(limit=limit)
    if as_json:
        from tidings.api.schemas import story_out

        echo_json([story_out(s) for s in found])
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
@json_option
@pass_ctx
def story_show(ctx: Context, story_id: int, as_json: bool) -> None:
    """One story with all its articles and sources."""
    page = ctx.engine.story_page(story_id)
    if as_json:
        from tidings.api.schemas import story_page_out

        echo_json(story_page_out(page))
        return
    s = page.story
    click.echo(f"story {s.id}: {s.headline or '(no headline)'}")
    click.echo(f"  {growth(s)}; first {when(s.first_seen)}, last {when(s.last_seen)}")
    click.echo(f"  sources: {', '.join(page.sources)}")
    for a in page.articles:
        click.echo(f"  {a.id:>6}  {when(a.published)}  {short(a.title, 70)}")


@click.group()
def topic() -> None:
    """Topics: the IPTC taxonomy, publishers' sections and relations between countries."""


@topic.command("list")
@json_option
@pass_ctx
def topic_list(ctx: Context, as_json: bool) -> None:
    """Every topic in use, with its article count."""
    found = ctx.engine.list_topics()
    if as_json:
        from tidings.api.schemas import topic_count_out

        echo_json([topic_count_out(t, n) for t, n in found])
        return
    for t, n in found:
        click.echo(f"{n:>6}  {t.kind.value:<8}  {t.label}  ({t.id})")
