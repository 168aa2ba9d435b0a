"""Stored articles, extraction and search: ``tidings article``, ``extract``, ``search``."""

from __future__ import annotations

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.output import echo_json, json_option, short, when
from tidings.cli.understanding import growth
from tidings.types import ArticleDraft, ArticleInsight, EnrichmentStatus, TopicKind


@click.group()
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


@article.command("show")
@click.argument("article_id", type=int)
@json_option
@pass_ctx
def article_show(ctx: Context, article_id: int, as_json: bool) -> None:
    """One article in full."""
    a = ctx.engine.get_article(article_id)
    if as_json:
        from tidings.api.schemas import article_with_analysis_out

        echo_json(article_with_analysis_out(a, ctx.engine.article_insight(a.id)))
        return
    src = ctx.engine.get_source(a.source_id)
    click.echo(f"article {a.id} from {src.title or src.url}\n")
    echo_article(a)
    echo_insight(ctx.engine.article_insight(a.id))


@article.command("add")
@click.argument("location")
@click.option("--text", "as_text", is_flag=True, help="The file is copied page text, not HTML.")
@click.option("--source", "source_name", help="File it under this hand-kept source.")
@pass_ctx
def article_add(ctx: Context, location: str, as_text: bool, source_name: str | None) -> None:
    """Extract an article from a page URL or file and store it."""
    stored = ctx.engine.add_article(location, text=as_text, source_name=source_name)
    click.echo(f"stored article {stored.id}: {stored.title or '(untitled)'}")


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


@click.command()
@click.argument("location")
@click.option("--text", "as_text", is_flag=True, help="The file is copied page text, not HTML.")
@json_option
@pass_ctx
def extract(ctx: Context, location: str, as_text: bool, as_json: bool) -> None:
    """Print the structured article of a web page (URL or file) or of copied page text."""
    draft = ctx.engine.extract(location, text=as_text)
    if as_json:
        from tidings.api.schemas import extracted_out

        echo_json(extracted_out(draft))
    else:
        echo_article(draft)


@click.command()
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
