"""Benchmarks, each against a peer in the same run: ``tidings bench ...``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tidings.cli.context import Context, pass_ctx
from tidings.cli.output import fail, json_option


@click.group()
def bench() -> None:
    """Benchmarks, run side by side with a peer (figures go to BENCHMARKS.md)."""


def default_shared_data() -> Path:
    return Path.cwd().parent / "shared" / "data"


def data_option(
    help: str, *, needs: str, under: str = "", name: str = "--data"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A data folder option (``--data`` unless ``name`` says otherwise), by default
    ``../shared/data/<under>``, refused at once unless it holds ``needs`` (a file or a
    folder, ``""`` for anything)."""

    def check(ctx: click.Context, param: click.Parameter, folder: Path) -> Path:
        if needs and not (folder / needs).exists():
            fail(f"no {needs} in {folder} (pass {name} DIR)")
        return folder

    return click.option(
        name,
        name.removeprefix("--") + "_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: default_shared_data() / under,
        show_default="/".join(filter(None, ("../shared/data", under))),
        help=help,
        callback=check,
    )


#: Where the generated database of `bench feed` and `bench http` is cached.
workdir_option = click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the generated database (and its vector index) is cached; `bench feed` and "
    "`bench http` share it.",
)


def show(result: dict[str, Any], as_json: bool, format_report: Callable[[Any], str]) -> None:
    """Print a benchmark's result: as JSON, or as its report's text."""
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


def progress(line: str) -> None:
    """A benchmark's progress, on stderr (stdout carries the result)."""
    click.echo(line, err=True)


@bench.command("ingest")
@data_option("The shared data folder holding feeds/.", needs="feeds/")
@click.option("--entries", default=50_000, show_default=True, type=click.IntRange(1))
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="Also ingest with this many `tidings worker --role ingest` processes on the "
    "PostgreSQL database given with --database (in a scratch schema).",
)
@json_option
@pass_ctx
def bench_ingest_command(
    ctx: Context, data_dir: Path, entries: int, workers: int | None, as_json: bool
) -> None:
    """Full ingest of the real feeds on loopback, against the `reader` library."""
    from tidings.bench.ingest import bench_ingest, format_report

    database = _postgres(ctx) if workers else None
    result = bench_ingest(data_dir, entries, database_url=database, workers=workers or 2)
    show(result, as_json, format_report)


@bench.command("extract")
@data_option(
    "A folder in the article-extraction-benchmark format (html/*.html.gz).",
    needs="html/",
    under="aeb",
)
@json_option
def bench_extract_command(data_dir: Path, as_json: bool) -> None:
    """HTML pages per second, against plain trafilatura in the same run."""
    from tidings.bench.extract import bench_extract, format_report

    show(bench_extract(data_dir), as_json, format_report)


@bench.command("enrich")
@data_option("A folder with docs.jsonl in the ECB+ format.", needs="docs.jsonl", under="ecbplus")
@data_option(
    "The data folder `bench ingest` reads, for the ingestion rate reported beside.",
    needs="",
    name="--feeds",
)
@click.option("--no-ingest", is_flag=True, help="Skip the ingestion rate.")
@json_option
def bench_enrich_command(data_dir: Path, feeds_dir: Path, no_ingest: bool, as_json: bool) -> None:
    """Articles analysed per second end to end, against stock spaCy NER in the same run,
    with the ingestion rate beside it."""
    from tidings.bench.enrich import bench_enrich, format_report

    result = bench_enrich(data_dir, feeds_dir=None if no_ingest else feeds_dir)
    show(result, as_json, format_report)


@bench.command("vectors")
@data_option("The shared data folder (ecbplus, ag_news and sts_news texts are embedded).", needs="")
@click.option(
    "--copies",
    default=9,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Noisy copies per real vector for the scaled set (0: real vectors only).",
)
@click.option("--quick", is_flag=True, help="int8 and float16 only (about half the time).")
@json_option
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
        echo=progress,
    )
    show(result, as_json, format_report)


@bench.command("feed")
@click.option("--articles", default=1_000_000, show_default=True, type=click.IntRange(100))
@click.option("--readers", default=10_000, show_default=True, type=click.IntRange(1))
@click.option("--pages", default=500, show_default=True, type=click.IntRange(1))
@click.option("--quick", is_flag=True, help="100,000 articles and 1,000 readers.")
@workdir_option
@json_option
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
        echo=progress,
    )
    show(result, as_json, format_report)


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
@workdir_option
@json_option
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
            echo=progress,
        )
    except RuntimeError as e:
        fail(str(e))
    show(result, as_json, format_report)


def _postgres(ctx: Context) -> str:
    url = ctx.settings.database_url
    if not url.startswith("postgresql"):
        fail(
            "this benchmark runs several processes on PostgreSQL: pass --database "
            "postgresql+psycopg://user:password@host/db (before the command; it works in a "
            "scratch schema of its own and drops it)"
        )
    return url


_demo_news = data_option("The shared data folder holding demo-news/.", needs="demo-news/")


@bench.command("workers")
@_demo_news
@click.option("--articles", default=600, show_default=True, type=click.IntRange(10))
@click.option("--rounds", default=2, show_default=True, type=click.IntRange(1))
@json_option
@pass_ctx
def bench_workers_command(
    ctx: Context, data_dir: Path, articles: int, rounds: int, as_json: bool
) -> None:
    """Analysis by two worker processes against one, same articles, same run (PostgreSQL)."""
    from tidings.bench.workers import bench_workers, format_report

    url = _postgres(ctx)
    show(bench_workers(url, data_dir, articles=articles, rounds=rounds), as_json, format_report)


@bench.command("freshness")
@_demo_news
@click.option("--backlog", default=50_000, show_default=True, type=click.IntRange(0))
@click.option("--follow", default=1, show_default=True, type=click.IntRange(1))
@click.option("--analysers", default=2, show_default=True, type=click.IntRange(1))
@click.option(
    "--seconds",
    default=120,
    show_default=True,
    type=click.IntRange(0),
    help="Length of the steady flow of one entry a second (0: skip it).",
)
@json_option
@pass_ctx
def bench_freshness_command(
    ctx: Context,
    data_dir: Path,
    backlog: int,
    follow: int,
    analysers: int,
    seconds: int,
    as_json: bool,
) -> None:
    """Freshness lag: a backlog arriving at once, and a steady flow (PostgreSQL)."""
    from tidings.bench.freshness import bench_backlog, bench_steady, format_report

    url = _postgres(ctx)
    result: dict[str, Any] = {}
    if backlog:
        result["backlog"] = bench_backlog(
            url, data_dir, backlog=backlog, follow=follow, analysers=analysers
        )
    if seconds:
        result["steady"] = bench_steady(url, data_dir, seconds=seconds)
    first: dict[str, Any] = next(iter(result.values()), {})
    result.update(date=first.get("date"), machine=first.get("machine"))
    show(result, as_json, format_report)


@bench.command("chaos")
@_demo_news
@click.option("--seconds", default=180.0, show_default=True, type=click.FloatRange(10))
@click.option("--kill-every", default=5.0, show_default=True, type=click.FloatRange(1))
@click.option("--workers", default=3, show_default=True, type=click.IntRange(1))
@click.option("--servers", default=2, show_default=True, type=click.IntRange(1))
@click.option("--readers", default=8, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@json_option
@pass_ctx
def bench_chaos_command(
    ctx: Context,
    data_dir: Path,
    seconds: float,
    kill_every: float,
    workers: int,
    servers: int,
    readers: int,
    seed: int,
    as_json: bool,
) -> None:
    """Processes killed at random while news arrives and readers read: nothing lost or
    duplicated, no index gaps, no 5xx (PostgreSQL). Exits non-zero if any."""
    from tidings.bench.chaos import bench_chaos, format_report, passed

    url = _postgres(ctx)
    result = bench_chaos(
        url,
        data_dir,
        seconds=seconds,
        kill_every=kill_every,
        workers=workers,
        servers=servers,
        readers=readers,
        seed=seed,
    )
    show(result, as_json, format_report)
    if not passed(result):
        raise SystemExit(1)
