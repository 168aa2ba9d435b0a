"""Readers and their feed: ``tidings reader``, ``follow``, ``mute``, ``unfollow``, ``event``,
``feed`` and ``learn``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.output import echo_json, fail, json_option, short, when
from tidings.types import EventKind, InterestKind, ReaderEvent, Stance

INTEREST_KINDS = click.Choice([k.value for k in InterestKind], case_sensitive=False)


@click.group()
def reader() -> None:
    """Readers: who the feed is for (the web page adds sign-up)."""


@reader.command("add")
@click.argument("name")
@pass_ctx
def reader_add(ctx: Context, name: str) -> None:
    """Add a reader."""
    added = ctx.engine.readers.add_reader(name)
    click.echo(f"added reader {added.id}: {added.name}")


@reader.command("list")
@pass_ctx
def reader_list(ctx: Context) -> None:
    """Every reader."""
    found = ctx.engine.readers.list_readers()
    if not found:
        click.echo("no readers yet (tidings reader add NAME)")
    for r in found:
        click.echo(
            f"{r.id:>5}  {r.name}  (exploration {r.exploration:.2f}, diversity {r.diversity:.2f})"
        )


@reader.command("show")
@click.argument("name")
@json_option
@pass_ctx
def reader_show(ctx: Context, name: str, as_json: bool) -> None:
    """A reader's settings, follows and mutes."""
    r = ctx.engine.readers.get_reader(name)
    found = ctx.engine.readers.interests(r.id)
    if as_json:
        from tidings.api.schemas import reader_detail_out

        echo_json(reader_detail_out(r, found))
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
    r = ctx.engine.readers.set_reader_settings(name, exploration=exploration, diversity=diversity)
    click.echo(f"{r.name}: exploration {r.exploration:.2f}, diversity {r.diversity:.2f}")
    if email is not None or digest is not None:
        a = ctx.engine.accounts.set_account(
            name,
            **({"email": email} if email is not None else {}),
            **({"digest": digest} if digest is not None else {}),
        )
        click.echo(f"{r.name}: email {a.email or 'none'}, digest {a.digest.value}")


@reader.command("remove")
@click.argument("name")
@pass_ctx
def reader_remove(ctx: Context, name: str) -> None:
    """Delete a reader (their account) with everything of theirs: follows, mutes, saved,
    events, tokens, and the articles they added that no one else did."""
    gone = ctx.engine.readers.remove_reader(name)
    extra = f" and {len(gone)} article(s) only they had added" if gone else ""
    click.echo(f"removed reader {name}{extra}")


@reader.command("export")
@click.argument("name")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file."
)
@click.option("--opml", is_flag=True, help="The web feeds the reader reads, as OPML.")
@pass_ctx
def reader_export(ctx: Context, name: str, output: str | None, opml: bool) -> None:
    """Everything of a reader as a file (JSON: settings, follows, mutes, saved, their own
    articles, events), to import here or on another Tidings; or, with --opml, their feeds."""
    from tidings.portability import ReaderData

    data = ReaderData(ctx.engine)
    text = data.export_opml(name) if opml else data.export(name).model_dump_json(indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@reader.command("import")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
@pass_ctx
def reader_import(ctx: Context, name: str, file: BinaryIO) -> None:
    """Import a file exported from Tidings (JSON) into a reader's account, or an OPML file
    of feeds. What the reader already has is kept; importing twice changes nothing."""
    from tidings.portability import ReaderData

    report = ReaderData(ctx.engine).import_any(name, file.read())
    click.echo(
        f"imported {report.follows} follows, {report.mutes} mutes, {report.saved} saved, "
        f"{report.clippings} clippings, {report.events} events"
        + (f", {report.articles_added} articles stored" if report.articles_added else "")
        + (f", {report.sources_added} new sources" if report.sources_added else "")
    )
    for line in report.skipped:
        click.echo(f"not found here: {line}", err=True)


def interest_arguments(command: Callable[..., Any]) -> Callable[..., Any]:
    """READER KIND VALUE: what follow, mute and unfollow take."""
    command = click.argument("value")(command)
    command = click.argument("kind", type=INTEREST_KINDS)(command)
    return click.argument("reader_name", metavar="READER")(command)


@click.command()
@interest_arguments
@pass_ctx
def follow(ctx: Context, reader_name: str, kind: str, value: str) -> None:
    """Follow a topic, entity, source, author, story or keyword (by id or name)."""
    got = ctx.engine.readers.follow(reader_name, kind, value)
    click.echo(f"{reader_name} follows {got.kind.value} {got.label or got.value}")


@click.command()
@interest_arguments
@pass_ctx
def mute(ctx: Context, reader_name: str, kind: str, value: str) -> None:
    """Never show READER what matches (a topic, entity, source, author, story, keyword)."""
    got = ctx.engine.readers.mute(reader_name, kind, value)
    click.echo(f"{reader_name} mutes {got.kind.value} {got.label or got.value}")


@click.command()
@interest_arguments
@pass_ctx
def unfollow(ctx: Context, reader_name: str, kind: str, value: str) -> None:
    """Forget a follow or a mute."""
    if ctx.engine.readers.unfollow(reader_name, kind, value):
        click.echo(f"{reader_name} no longer follows or mutes {kind} {value}")
    else:
        fail(f"{reader_name} neither follows nor mutes {kind} {value}")


@click.command()
@click.argument("reader_name", metavar="READER")
@click.argument("kind", type=click.Choice([k.value for k in EventKind], case_sensitive=False))
@click.argument("article_id", type=int)
@click.argument("value", type=float, required=False)
@pass_ctx
def event(ctx: Context, reader_name: str, kind: str, article_id: int, value: float | None) -> None:
    """Record what READER did with an article: open, read SECONDS, save, share, more, less,
    hide (or an impression at a POSITION). The feed learns from these."""
    ctx.engine.readers.record_events(
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
        ctx.engine.readers.save_article(reader_name, article_id)
    click.echo(f"recorded {kind.lower()} of article {article_id} for {reader_name}")


@click.command()
@click.argument("reader_name", metavar="READER")
@click.option("--explain", is_flag=True, help="Show each item's reasons and what changes them.")
@click.option("--size", default=30, show_default=True, type=click.IntRange(1, 100))
@click.option("--cursor", help="The cursor printed under the previous page.")
@json_option
@pass_ctx
def feed(
    ctx: Context, reader_name: str, explain: bool, size: int, cursor: str | None, as_json: bool
) -> None:
    """Print READER's page: one item per story, best first."""
    page = ctx.engine.feed(reader_name, cursor=cursor, size=size)
    if as_json:
        from tidings.api.schemas import feed_out

        echo_json(feed_out(page))
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


@click.command()
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
