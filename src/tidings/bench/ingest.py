"""``tidings bench ingest``: full ingestion of real feeds served on loopback, beside a peer.

The shared real feeds (rss-parser and feed-rs fixtures) are served by a real HTTP server on
127.0.0.1, each multiplied into copies whose links and GUIDs are made distinct (every
``://`` becomes ``://cN.``), until there are at least ``--entries`` entries. Each side then
runs in its own fresh process with a fresh SQLite database, so peak memory (max RSS) is its
own: Tidings, and the ``reader`` library (lemon24/reader, a well-kept Python feed reader
with SQLite storage). Both get the same fetch concurrency.

With ``--workers N`` (and ``--database`` naming PostgreSQL), a third side: N ``tidings
worker --role ingest`` processes on a scratch schema, dividing the sources by leases, with
the same fetch concurrency in all.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tidings.bench.cluster import LoopbackServer, machine

#: Folders of real feeds under the shared data folder.
FEED_FOLDERS = ("feeds/rss-parser/test/input", "feeds/feed-rs/fixture")

#: Fetch concurrency given to both sides: the loopback server is one host, and two
#: requests in flight is Tidings' default per-host politeness limit.
CONCURRENCY = 2


@dataclass(frozen=True)
class FeedFile:
    name: str
    content: bytes
    entries: int
    content_type: str


def collect_feeds(data_dir: Path) -> list[FeedFile]:
    """Real feed files that Tidings' parser reads with at least one entry."""
    from tidings.errors import FeedParseError
    from tidings.ingest.feeds import parse_feed

    found: list[FeedFile] = []
    for folder in FEED_FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name.endswith(".serde.json"):
                continue
            content = path.read_bytes()
            try:
                feed = parse_feed(content, url=f"http://bench.invalid/{path.name}")
            except FeedParseError:
                continue
            if not feed.articles:
                continue
            kind = "application/feed+json" if path.suffix == ".json" else "application/xml"
            rel = path.relative_to(data_dir).as_posix().replace("/", "_")
            found.append(FeedFile(rel, content, len(feed.articles), kind))
    return found


def plan_copies(feeds: list[FeedFile], target: int) -> int:
    per_round = sum(f.entries for f in feeds)
    return max(1, -(-target // per_round))


class FeedServer:
    """Serves ``/<copy>/<name>``: feed ``name`` with every ``://`` turned into ``://c<copy>.``."""

    def __init__(self, feeds: list[FeedFile]) -> None:
        self._by_name = {f.name: f for f in feeds}
        self._server = LoopbackServer(self._respond)
        self.base = self._server.base

    def _respond(self, path: str) -> tuple[bytes, str] | None:
        try:
            _, copy, name = path.split("/", 2)
            feed = self._by_name[name]
        except (ValueError, KeyError):
            return None
        return feed.content.replace(b"://", f"://c{copy}.".encode()), feed.content_type

    def running(self) -> AbstractContextManager[str]:
        """Serve until the block ends; yields the base URL."""
        return self._server.serving()


def run_tidings(urls: list[str], db: Path) -> dict[str, Any]:
    import ipaddress

    from tidings.config import load_settings
    from tidings.engine import make_engine
    from tidings.types import PagePolicy

    settings = load_settings(env={})
    fetch = settings.fetch.replace(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        per_host_concurrency=CONCURRENCY,
    )
    # Ingestion alone, as the peer does; analysis is measured by `tidings bench enrich`.
    settings = settings.replace(
        database_url=f"sqlite:///{db}", fetch=fetch, data_dir=db.parent, enrich=False
    )
    with make_engine(settings) as engine:
        for url in urls:
            # Feed ingestion only: the peer does not fetch article pages either.
            engine.add_source(url, pages=PagePolicy.NEVER, operator=True)
        start = time.perf_counter()
        report = engine.ingest()
        seconds = time.perf_counter() - start
        entries = engine.storage.count_articles()
        failed = len(report.failed)
    return {"entries": entries, "seconds": seconds, "failed_sources": failed}


def run_reader(urls: list[str], db: Path) -> dict[str, Any]:
    from reader import make_reader

    reader = make_reader(str(db))
    for url in urls:
        reader.add_feed(url)
    start = time.perf_counter()
    reader.update_feeds(workers=CONCURRENCY)
    seconds = time.perf_counter() - start
    entries = reader.get_entry_counts().total
    failed = sum(1 for f in reader.get_feeds() if f.last_exception is not None)
    reader.close()
    return {"entries": entries, "seconds": seconds, "failed_sources": failed}


def worker_main(argv: list[str]) -> None:
    """Child process: ``python -m tidings.bench.ingest SIDE URLS_FILE DB``."""
    side, urls_file, db = argv
    urls = json.loads(Path(urls_file).read_text())
    result = run_tidings(urls, Path(db)) if side == "tidings" else run_reader(urls, Path(db))
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["db_mib"] = Path(db).stat().st_size / 2**20
    print(json.dumps(result))


def run_side(side: str, urls: list[str], workdir: Path) -> dict[str, Any]:
    urls_file = workdir / "urls.json"
    urls_file.write_text(json.dumps(urls))
    db = workdir / f"{side}.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "tidings.bench.ingest", side, str(urls_file), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{side} run failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["entries_per_second"] = result["entries"] / result["seconds"]
    return result


def readable_by_peer(feeds: list[FeedFile]) -> list[FeedFile]:
    """The feeds the peer also reads (with entries), so both sides ingest the same work."""
    from reader import make_reader

    server = FeedServer(feeds)
    with server.running() as base:
        peer = make_reader(":memory:")
        for feed in feeds:
            peer.add_feed(f"{base}/probe/{feed.name}")
        # update_feeds_iter hands back each feed's error instead of raising the first one.
        failed = {r.url for r in peer.update_feeds_iter() if r.error is not None}
        ok = {
            f.url.rsplit("/", 1)[1]
            for f in peer.get_feeds()
            if f.url not in failed and peer.get_entry_counts(feed=f).total
        }
        peer.close()
    return [f for f in feeds if f.name in ok]


def run_tidings_workers(
    urls: list[str], database_url: str, workers: int, workdir: Path
) -> dict[str, Any]:
    """Tidings on PostgreSQL: ``workers`` ``tidings worker --role ingest`` processes read the
    sources together, dividing them by leases; timed from their start to the last exit."""
    from tidings.bench.cluster import Process, query, run_workers, scratch_schema, tidings_env
    from tidings.config import Settings
    from tidings.engine import make_engine
    from tidings.types import PagePolicy

    with scratch_schema(database_url) as url:
        with make_engine(Settings(database_url=url, data_dir=workdir, enrich=False)) as engine:
            for source in urls:
                engine.add_source(source, pages=PagePolicy.NEVER, operator=True)
        env = tidings_env(
            url,
            workdir,
            TIDINGS_ENRICH="0",
            TIDINGS_FETCH__ALLOWED_NETWORKS="127.0.0.0/8",
            # The same requests in flight to the one host as the other sides, in all.
            TIDINGS_FETCH__PER_HOST_CONCURRENCY=str(max(1, CONCURRENCY // workers)),
        )
        processes, seconds = run_workers("ingest", workers, env, workdir / "worker")
        # A worker's start (imports, connecting, checking the schema) is paid once in a
        # long-lived worker, while the other sides are timed from their first fetch: the
        # same command again, now that no source is due, measures that start alone.
        idle = Process("ingest-idle", processes[0].args, env, workdir / "worker-idle.log")
        idle_start = time.perf_counter()
        if idle.start().wait(600):
            raise RuntimeError(f"an idle worker failed:\n{idle.output()[-3000:]}")
        startup = time.perf_counter() - idle_start
        [(entries, failed, size)] = query(
            url,
            "SELECT (SELECT count(*) FROM articles), "
            "(SELECT count(*) FROM sources WHERE last_error IS NOT NULL), "
            "(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r')",
        )
    return {
        "entries": int(entries),
        "seconds": seconds,
        "failed_sources": int(failed),
        "peak_rss_mib": max(p.max_rss_kib for p in processes) / 1024,
        "db_mib": float(size or 0) / 2**20,
        "workers": workers,
        "cpu_seconds": sum(p.cpu for p in processes),
        "entries_per_second": int(entries) / seconds,
        "startup_seconds": startup,
        "entries_per_second_after_start": int(entries) / max(seconds - startup, 1e-9),
    }


def bench_ingest(
    data_dir: Path,
    target_entries: int = 50_000,
    *,
    database_url: str | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    readable = collect_feeds(data_dir)
    if not readable:
        raise FileNotFoundError(f"no feed files found under {data_dir}")
    feeds = readable_by_peer(readable)
    copies = plan_copies(feeds, target_entries)
    server = FeedServer(feeds)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "feed_files": len(feeds),
        "feed_files_peer_cannot_read": len(readable) - len(feeds),
        "copies": copies,
        "sources": copies * len(feeds),
        "entries_served": copies * sum(f.entries for f in feeds),
    }
    with server.running() as base, tempfile.TemporaryDirectory() as tmp:
        urls = [f"{base}/{k}/{f.name}" for k in range(copies) for f in feeds]
        for side in ("tidings", "reader"):
            side_dir = Path(tmp) / side
            side_dir.mkdir()
            results[side] = run_side(side, urls, side_dir)
        if database_url is not None:
            side_dir = Path(tmp) / "postgresql"
            side_dir.mkdir()
            results["tidings_postgresql"] = run_tidings_workers(
                urls, database_url, workers, side_dir
            )
    results["ratio"] = (
        results["tidings"]["entries_per_second"] / results["reader"]["entries_per_second"]
    )
    if "tidings_postgresql" in results:
        results["ratio_postgresql"] = (
            results["tidings_postgresql"]["entries_per_second"]
            / results["reader"]["entries_per_second"]
        )
        results["ratio_postgresql_after_start"] = (
            results["tidings_postgresql"]["entries_per_second_after_start"]
            / results["reader"]["entries_per_second"]
        )
    return results


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"ingest benchmark, {r['date']}, {r['machine']}",
        f"{r['sources']} feeds on loopback ({r['feed_files']} real feed files x {r['copies']} "
        f"copies), {r['entries_served']} entries served "
        f"({r['feed_files_peer_cannot_read']} files the peer cannot read left out)",
    ]
    for side in ("tidings", "reader", "tidings_postgresql"):
        if side not in r:
            continue
        s = r[side]
        name = f"tidings on PostgreSQL, {s['workers']} workers" if "workers" in s else side
        lines.append(
            f"  {name:32} {s['entries']:>7} entries in {s['seconds']:7.1f} s = "
            f"{s['entries_per_second']:8.0f} entries/s, peak RSS {s['peak_rss_mib']:6.0f} MiB, "
            f"db {s['db_mib']:5.0f} MiB, failed sources {s['failed_sources']}"
        )
    lines.append(f"  ratio tidings/reader entries per second: {r['ratio']:.2f}")
    if "ratio_postgresql" in r:
        pg = r["tidings_postgresql"]
        lines.append(
            f"  ratio tidings on PostgreSQL with {pg['workers']} workers/reader entries per "
            f"second: {r['ratio_postgresql']:.2f} from the workers' start, "
            f"{r['ratio_postgresql_after_start']:.2f} after it ({pg['startup_seconds']:.1f} s "
            f"to start a worker; CPU {pg['cpu_seconds']:.1f} s in all)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    worker_main(sys.argv[1:])
