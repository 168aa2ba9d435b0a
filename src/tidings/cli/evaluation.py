"""Quality evaluations against their stored minimums: ``tidings eval ...``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tidings.cli.output import EXIT_ERROR, fail

F = TypeVar("F", bound=Callable[..., Any])


@click.group("eval")
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
    """Entity mention F1, grouping of one entity's mentions within documents, and the share
    of well-formed entities among onboarding suggestions and names in reasons; on each half
    of the data too."""
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
