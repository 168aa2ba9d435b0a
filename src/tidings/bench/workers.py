"""``tidings bench workers``: analysis by two worker processes against one, in the same run.

A scratch schema (``bench/cluster.py``) gets the first ``--articles`` items of the demo news
(every publisher in turn), stored by one ingestion pass without analysis. Then, in rounds
that alternate so that the machine's load falls on both alike, ``tidings worker --role
analyse --until-idle`` analyses them all: one process, then two at once (after the queue is
filled again). Reported per round: articles per second from the first worker's start to the
last one's exit (model loading included, as a worker pays it), the same between the first
and the last analysis stored (steady state), the workers' CPU seconds per article, and how
many articles were analysed more than once (must be none). Quick first passes are off, so
that every article gets exactly one analysis.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tidings.bench.cluster import (
    Process,
    demo_entries,
    load_average,
    machine,
    query,
    run_workers,
    scratch_dir,
    scratch_schema,
    tidings_env,
)


def _feed_file(data_dir: Path, folder: Path, articles: int) -> Path:
    """The first ``articles`` demo-news items, publishers in turn, as one local feed file."""
    entries, heads = demo_entries(data_dir)
    by_feed: dict[str, list[bytes]] = {}
    for entry in entries:
        by_feed.setdefault(entry.feed, []).append(entry.xml)
    chosen: list[bytes] = []
    position = 0
    while len(chosen) < articles:
        added = False
        for items in by_feed.values():
            if position < len(items) and len(chosen) < articles:
                chosen.append(items[position])
                added = True
        if not added:
            break
        position += 1
    head = next(iter(heads.values()))
    path = folder / "bench-news.xml"
    path.write_bytes(head + b"".join(chosen) + b"</channel></rss>")
    return path


def _round(database_url: str, feed: Path, folder: Path, workers: int, n: int) -> dict[str, Any]:
    """One round on a schema of its own, so that every round finds the same empty tables
    (entities and stories found by an earlier round would change the work)."""
    with scratch_schema(database_url) as url:
        env = tidings_env(
            url,
            folder / f"data-{n}-{workers}",
            TIDINGS_ENRICH="0",
            # One analysis per article: the comparison is of full analyses.
            TIDINGS_WORKERS__QUICK_BACKLOG="1000000000",
        )
        for args in (["source", "add", str(feed)], ["ingest", "--quiet"]):
            log = folder / f"round-{n}-{workers}-{args[0]}.log"
            process = Process(args[0], args, env, log).start()
            if process.wait(600):
                raise RuntimeError(process.output()[-3000:])
        processes, wall = run_workers(
            "analyse", workers, env, folder / f"round-{n}-{workers}-worker"
        )
        [(count, twice, first, last)] = query(
            url,
            "SELECT count(*), count(*) FILTER (WHERE analyses > 1), "
            "extract(epoch FROM min(enriched_at)), extract(epoch FROM max(enriched_at)) "
            "FROM enrichments",
        )
    cpu = sum(p.cpu for p in processes)
    span = float(last) - float(first)
    # Each worker's first batch lands after its models load: from the first analysis stored
    # to the last is the steady state.
    steady = (count - 1) / span if span > 0 else None
    return {
        "workers": workers,
        "articles": int(count),
        "analysed_more_than_once": int(twice),
        "seconds": wall,
        "articles_per_second": count / wall,
        "steady_articles_per_second": steady,
        "cpu_seconds_per_article": cpu / count if count else None,
        "load_average_after": load_average(),
    }


def bench_workers(
    database_url: str, data_dir: Path, *, articles: int = 600, rounds: int = 2
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average_before": load_average(),
        "rounds": [],
    }
    with scratch_dir() as tmp:
        folder = Path(tmp)
        feed = _feed_file(data_dir, folder, articles)
        for n in range(rounds):
            for workers in (1, 2):
                result["rounds"].append(_round(database_url, feed, folder, workers, n))
    ones = [r for r in result["rounds"] if r["workers"] == 1]
    twos = [r for r in result["rounds"] if r["workers"] == 2]
    result["ratio"] = sum(r["articles_per_second"] for r in twos) / sum(
        r["articles_per_second"] for r in ones
    )
    steady_one = [r["steady_articles_per_second"] for r in ones if r["steady_articles_per_second"]]
    steady_two = [r["steady_articles_per_second"] for r in twos if r["steady_articles_per_second"]]
    if steady_one and steady_two:
        result["steady_ratio"] = (
            sum(steady_two) / len(steady_two) / (sum(steady_one) / len(steady_one))
        )
    result["analysed_more_than_once"] = sum(r["analysed_more_than_once"] for r in twos)
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"analysis workers, {r['date']}, {r['machine']}, "
        f"load average before {r['load_average_before']}",
    ]
    for row in r["rounds"]:
        steady = row["steady_articles_per_second"] or 0.0
        lines.append(
            f"  {row['workers']} worker(s): {row['articles']} articles in "
            f"{row['seconds']:6.1f} s = {row['articles_per_second']:5.2f}/s "
            f"(steady {steady:5.2f}/s), {row['cpu_seconds_per_article']:.3f} CPU s/article, "
            f"analysed twice: {row['analysed_more_than_once']}, "
            f"load after {row['load_average_after']}"
        )
    lines.append(f"  2 workers / 1 worker, articles per second: {r['ratio']:.2f}")
    if "steady_ratio" in r:
        lines.append(f"  the same in the steady state: {r['steady_ratio']:.2f}")
    return "\n".join(lines)
