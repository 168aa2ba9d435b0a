"""``tidings bench http``: the personalised feed over HTTP, under load, while ingestion runs.

What runs, each in its own process, all on loopback:

* **The app**: ``uvicorn`` with ``workers`` processes (2 on 2 cores) serving
  :func:`tidings.api.app.create_app` over a copy of ``tidings bench feed``'s generated
  database (100,000 articles and 1,000 readers by default, its "quick" size: 50 follows and
  500 events per reader, clustered vectors, Zipf stories; see ``tidings/bench/feed.py``).
  The engine's clock is stopped at the generator's ``NOW``, as ``bench feed`` does, so the
  week of generated news is this week's news to the ranking.
* **Ingestion**: a loop that rewrites a local RSS file with ``INGEST_BATCH`` new entries
  dated just before ``NOW`` and runs an ingestion pass over it every ``INGEST_EVERY_S``
  seconds (parsing, storing, the source's schedule: the writes a deployment does), without
  enrichment unless ``--enrich`` (analysis takes a core by itself on 2 cores).
* **The load**: ``wrk`` (``apt-get install wrk``) with ``connections`` connections for
  ``duration`` seconds, each request ``GET /api/feed`` with the ``Authorization: Bearer``
  token of the next of ``tokens`` readers (a Lua script rotates them).

Reported: requests per second, latency p50/p90/p99/max, non-2xx responses and socket errors
(connect, read, write, timeout), the ingestion done meanwhile; where the serving processes'
CPU went during the load (pages served from the cache, ranked inside requests and why,
ranked again in the background, changes read from storage: the ranker's own counts, which
each worker writes to ``ranker-stats/PID.json`` every half second); beside it, in the same run,
``/api/health`` on the same server under the same load (the HTTP stack without the feed);
and the same pages timed in-process (``Engine.feed`` alone, and the whole ASGI request under
cProfile) to say what dominates. wrk leaves requests that time out out of its latencies, so
the report says how many did.

The copy of the database is made once per parameters in ``workdir`` and reused, so a rerun
skips generation and token creation; ingestion adds to the copy (ids after the generated
ones), which ``--fresh`` discards.
"""

from __future__ import annotations

import cProfile
import json
import multiprocessing
import os
import platform
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from tidings.bench.feed import NOW, QUICK, SEED, prepare, reader_name

Echo = Callable[[str], None]

#: The load: what the issue asks for (50 connections for 60 seconds).
CONNECTIONS = 50
DURATION_S = 60
#: wrk's own threads; it shares the 2 cores with the app, so no more than that.
WRK_THREADS = 2
#: A request slower than this counts as a socket timeout. wrk's default is 2 s; a longer
#: one lets a run that misses the goal still measure how slow pages are, not only count them.
TIMEOUT_S = 30
#: Seconds of load on ``/api/health`` after the feed's: what the HTTP stack alone serves
#: (uvicorn, FastAPI, the security headers; no database, no authentication), the ceiling.
BASELINE_S = 10
#: Readers whose tokens the load rotates through.
TOKENS = 200
#: A quick run: a tenth of the articles and readers, 15 seconds.
QUICK_HTTP = {"articles": 10_000, "readers": 200, "duration": 15}
#: New entries per ingestion pass, and seconds between passes: 10 articles a second, about
#: what 300 busy sources polled every 15 minutes would bring in their busiest hour, times 10.
INGEST_BATCH = 20
INGEST_EVERY_S = 2.0
#: Pages timed in-process and profiled, to split the time of a request.
PROFILED = 20
#: The goal in the issue.
GOAL_RPS = 300
GOAL_P99_MS = 100

TOKENS_FILE = "tokens.txt"
#: Where each worker writes its ranker's counts, and how often (seconds): the bench reads
#: them just before and just after the load and reports the difference.
STATS_DIR = "ranker-stats"
STATS_EVERY_S = 0.5
#: The ranker's count of pages made for want of one (``tidings.rank.pages.Look.NEW``).
NEW_PAGE = "ranked: no page yet"
#: Passes of ``--warm`` at most: the kernel's spreading of new connections over the workers
#: left about one page in five unmade in one of them after a single pass (measured).
WARM_PASSES = 5

WRK_SCRIPT = r"""
-- Each request: the URL's path (the feed) as the next reader, by their API token; threads
-- start apart in the list.
local tokens = {}
local at = 0
local threads = 0

function setup(thread)
  thread:set("first", threads * 7919)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  at = first or 0
end

function request()
  at = at % #tokens + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[at]})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, '
    .. '"read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, '
    .. '"p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


# --- the database ----------------------------------------------------------------------------


def prepare_database(
    workdir: Path, *, articles: int, readers: int, tokens: int, fresh: bool, echo: Echo
) -> tuple[Path, Path]:
    """A copy of the generated database with API tokens for ``tokens`` readers, and the file
    of their secrets; made once per parameters, reused after."""
    generated, _ = prepare(workdir, articles=articles, readers=readers, echo=echo)
    folder = workdir / f"http-a{articles}-r{readers}-t{tokens}"
    database = folder / "bench.sqlite"
    secrets = folder / TOKENS_FILE
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if database.is_file() and secrets.is_file():
        echo(f"using {database} (pass --fresh to start again from the generated one)")
        return database, secrets
    folder.mkdir(parents=True, exist_ok=True)
    echo(f"copying {generated.name} for the app and ingestion to write to ...")
    shutil.copyfile(generated, database)
    engine = _engine(database, folder)
    try:
        began = time.perf_counter()
        index = engine.enrichment.vectors()  # built now, not by the first request of each worker
        echo(
            f"vector index of {len(index) if index else 0:,} built in "
            f"{time.perf_counter() - began:.1f} s"
        )
        began = time.perf_counter()
        engine.ranker.ensure_loaded()  # and saved: each worker starts from the snapshot
        echo(f"ranking window read and saved in {time.perf_counter() - began:.1f} s")
        lines = []
        for i in range(min(tokens, readers)):
            _, secret = engine.accounts.create_token(reader_name(i), "bench http")
            lines.append(secret)
    finally:
        engine.close()
    secrets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return database, secrets


def _engine(database: Path, data_dir: Path) -> Any:
    from tidings.config import Settings
    from tidings.engine import Engine
    from tidings.store.sql import open_storage

    url = f"sqlite:///{database}"
    return Engine(
        Settings(database_url=url, data_dir=data_dir, enrich=False),
        open_storage(url),
        clock=lambda: NOW,
    )


# --- the app (child processes) ---------------------------------------------------------------


def create_bench_app() -> Any:
    """The app over the bench database (uvicorn's factory, one per worker process): the
    database and data folder come from ``TIDINGS_BENCH_DATABASE`` and ``TIDINGS_BENCH_DIR``."""
    from tidings.api.app import create_app

    folder = Path(os.environ["TIDINGS_BENCH_DIR"])
    engine = _engine(Path(os.environ["TIDINGS_BENCH_DATABASE"]), folder)
    threading.Thread(
        target=write_stats, args=(engine, folder / STATS_DIR), name="bench-stats", daemon=True
    ).start()
    return create_app(engine)


def write_stats(engine: Any, folder: Path) -> None:
    """Write this process's ranker counts and CPU seconds to ``folder/PID.json`` every
    :data:`STATS_EVERY_S` (replacing the file whole, so a reader never sees half of one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    partial = path.with_suffix(".part")
    while True:
        payload = {
            "pid": os.getpid(),
            "cpu_s": time.process_time(),
            "ranker": engine.ranker.stats.snapshot(),
        }
        partial.write_text(json.dumps(payload), encoding="utf-8")
        partial.replace(path)
        time.sleep(STATS_EVERY_S)


def read_stats(folder: Path) -> dict[int, dict[str, Any]]:
    """Every worker's latest counts, by process id."""
    out = {}
    for path in folder.glob("*.json"):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out[int(payload["pid"])] = payload
    return out


def stats_between(
    before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """What the workers did between two readings, added up over the workers: per kind of
    work, how many, their CPU and wall seconds; and the processes' whole CPU."""
    kinds: dict[str, dict[str, float]] = {}
    cpu = 0.0
    for pid, late in after.items():
        early = before.get(pid, {"cpu_s": 0.0, "ranker": {}})
        cpu += late["cpu_s"] - early["cpu_s"]
        for kind, tally in late["ranker"].items():
            was = early["ranker"].get(kind, {"count": 0, "cpu_s": 0.0, "wall_s": 0.0})
            into = kinds.setdefault(kind, {"count": 0, "cpu_s": 0.0, "wall_s": 0.0})
            for field in ("count", "cpu_s", "wall_s"):
                into[field] += tally[field] - was[field]
    return {
        "workers": len(after),
        "seconds": round(seconds, 1),
        "process_cpu_s": round(cpu, 1),
        "kinds": {
            k: {
                "count": int(v["count"]),
                "cpu_s": round(v["cpu_s"], 2),
                "wall_s": round(v["wall_s"], 2),
            }
            for k, v in sorted(kinds.items())
            if v["count"]
        },
    }


def serve(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "tidings.bench.http:create_bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def rss(batch: int, first: int, now: datetime) -> str:
    """An RSS document of ``batch`` new entries numbered from ``first``."""
    items = []
    for n in range(first, first + batch):
        when = format_datetime(now - timedelta(seconds=batch - (n - first)))
        title = escape(f"Bench wire report {n}: talks resume as markets steady")
        body = escape(
            f"Report {n}. Negotiators met again on Tuesday as markets steadied after a week "
            "of losses; officials said the talks would continue into the weekend. " * 4
        )
        items.append(
            f"<item><guid>bench-{n}</guid><link>https://wire.bench/{n}</link>"
            f"<title>{title}</title><pubDate>{when}</pubDate>"
            f"<description>{body}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Bench wire</title><link>https://wire.bench/</link>"
        f"<description>bench</description>{''.join(items)}</channel></rss>"
    )


def ingest_loop(database: Path, data_dir: Path, stats: Path, enrich: bool) -> None:
    """Keep ingesting fresh entries until terminated; a line of JSON per pass in ``stats``."""
    from tidings.types import SourceKind

    stop = False

    def halt(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, halt)
    engine = _engine(database, data_dir)
    feed = data_dir / "ingest" / "wire.xml"
    feed.parent.mkdir(parents=True, exist_ok=True)
    feed.write_text(rss(1, 0, NOW), encoding="utf-8")
    known = {h.source.url: h.source for h in engine.list_sources()}
    source = next(
        (s for url, s in known.items() if s.kind is SourceKind.LOCAL and url.endswith("wire.xml")),
        None,
    ) or engine.add_source(str(feed), title="Bench wire", operator=True)
    counter = int(time.time() * 1000) % 10**9 * 100  # unique across runs on one copy
    with stats.open("a", encoding="utf-8") as out:
        while not stop:
            began = time.perf_counter()
            feed.write_text(rss(INGEST_BATCH, counter, NOW), encoding="utf-8")
            counter += INGEST_BATCH
            report = engine.ingest(sources=[source], enrich=enrich)
            seconds = time.perf_counter() - began
            line = {"seconds": round(seconds, 3), "new": report.new, "failed": len(report.failed)}
            out.write(json.dumps(line))
            out.write("\n")
            out.flush()
            time.sleep(max(0.0, INGEST_EVERY_S - seconds))
    engine.close()


# --- the run ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before serving")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the app did not answer within {seconds} s")


def warm_up(base: str, secrets: list[str], workers: int) -> dict[str, Any]:
    """A few pages per worker before timing (each worker opens its vector index on its first
    page); their status says whether the endpoint works at all."""
    import httpx

    statuses: dict[int, int] = {}
    sample: Any = None
    with httpx.Client(base_url=base, timeout=60) as client:
        for secret in secrets[: 4 * workers]:
            r = client.get("/api/feed", headers={"Authorization": f"Bearer {secret}"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if sample is None and r.status_code == 200:
                sample = r.json()
            elif r.status_code != 200 and sample is None:
                sample = {"status": r.status_code, "body": r.text[:300]}
    return {"statuses": statuses, "sample": sample}


def warm_cache(
    base: str, secrets: list[str], workers: int, stats: Path
) -> tuple[float, dict[int, int]]:
    """Every token holder's first page in every worker, so that the timed run starts from
    the page cache's steady state rather than from readers' first pages. Requests on new
    connections, which the kernel spreads over the workers, but not evenly: passes repeat
    (up to :data:`WARM_PASSES`) until one finds every page it asks for made (no worker's
    ranker counted a page ranked for want of one); returns the seconds it took and those
    counts by worker (above the readers when two requests for one page met in a worker)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    began = time.perf_counter()

    def fetch(secret: str) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            client.get(
                "/api/feed",
                headers={"Authorization": f"Bearer {secret}", "Connection": "close"},
            )

    made: dict[int, int] = {}
    for _ in range(WARM_PASSES):
        with ThreadPoolExecutor(max_workers=2 * workers) as pool:
            list(pool.map(fetch, [s for s in secrets for _ in range(workers)]))
        time.sleep(2 * STATS_EVERY_S)
        before, made = (
            made,
            {
                pid: int(counts["ranker"].get(NEW_PAGE, {}).get("count", 0))
                for pid, counts in read_stats(stats).items()
            },
        )
        if made == before and len(made) >= workers:
            break
    return time.perf_counter() - began, made


def _page_shape(sample: Any) -> dict[str, Any]:
    if not isinstance(sample, dict) or "items" not in sample:
        return {"note": str(sample)[:300]}
    items = sample.get("items") or []
    reasons = sum(len(i.get("reasons") or []) for i in items if isinstance(i, dict))
    return {"items": len(items), "reasons": reasons}


def run_wrk(
    base: str,
    secrets_file: Path,
    *,
    duration: int,
    connections: int,
    folder: Path,
    path: str = "/api/feed",
) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)")
    script = folder / "feed.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    command = [
        wrk,
        f"-t{min(WRK_THREADS, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={TIMEOUT_S}s",
        "-s",
        str(script),
        base + path,
        "--",
        str(secrets_file),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    raw = json.loads(line.removeprefix("WRK-JSON "))
    seconds = raw["duration_us"] / 1e6
    ms = {k.removesuffix("_us"): round(raw[k] / 1000, 1) for k in raw if k.endswith("_us")}
    ms.pop("duration", None)
    return {
        "command": " ".join([*command[:-2], "--", TOKENS_FILE]),
        "requests": raw["requests"],
        "seconds": round(seconds, 1),
        "requests_per_second": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "latency_ms": ms,
        "non_2xx": raw["status"],
        "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout")},
        "mb_per_second": round(raw["bytes"] / seconds / 2**20, 2) if seconds else 0.0,
        "stdout": done.stdout,
    }


def profile_in_process(database: Path, folder: Path, secrets: list[str]) -> dict[str, Any]:
    """The same request in-process: ``Engine.feed`` alone, then the whole request through
    the ASGI app (authentication, feed, response) under cProfile, and what took the time.

    The app runs sync routes and dependencies on worker threads, which a profiler enabled
    here would not see: every thread started while profiling gets a profiler of its own
    (``threading.setprofile``), and their statistics are added up."""
    from fastapi.testclient import TestClient

    from tidings.api.app import create_app

    engine = _engine(database, folder)
    profilers: list[cProfile.Profile] = []

    def profile_this_thread(*_: object) -> None:
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread's life

    try:
        readers = [
            engine.accounts.reader_for_token(s, _api_kind()).name for s in secrets[:PROFILED]
        ]
        engine.feed(readers[0])  # opens the vector index
        feed_ms = []
        for name in readers:
            began = time.perf_counter()
            engine.feed(name)
            feed_ms.append(1000 * (time.perf_counter() - began))
        request_ms = []
        threading.setprofile(profile_this_thread)
        try:
            with TestClient(create_app(engine)) as client:
                for secret in secrets[:PROFILED]:
                    began = time.perf_counter()
                    client.get("/api/feed", headers={"Authorization": f"Bearer {secret}"})
                    request_ms.append(1000 * (time.perf_counter() - began))
        finally:
            threading.setprofile(None)
            for profiler in profilers:
                profiler.disable()
    finally:
        engine.close()
    n = len(request_ms)
    if not profilers:
        return {"pages": n, "note": "no worker thread was profiled"}
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    rows: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    rows = stats.stats  # type: ignore[attr-defined]
    cumulative = sorted(
        (
            (f"{Path(file).parent.name}/{Path(file).name}:{func}", ncalls, cum)
            for (file, _, func), (_, ncalls, _, cum, _) in rows.items()
            if "/tidings/" in file
        ),
        key=lambda r: r[2],
        reverse=True,
    )[:15]
    # Threads waiting for work (the event loop's poll, the thread pool's locks) are idle.
    busy = {k: v for k, v in rows.items() if k[2] not in IDLE}
    own = sorted(busy.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    return {
        "pages": n,
        "engine_feed_ms": {
            "p50": round(statistics.median(feed_ms), 1),
            "max": round(max(feed_ms), 1),
        },
        "request_ms_profiled": {"p50": round(statistics.median(request_ms), 1)},
        "cumulative": [
            {"function": f, "ms_per_request": round(1000 * c / n, 2), "calls": round(k / n, 1)}
            for f, k, c in cumulative
        ],
        "self": [
            {
                "function": f"{Path(file).name}:{line}:{func}",
                "ms_per_request": round(1000 * own_s / n, 2),
            }
            for (file, line, func), (_, _, own_s, _, _) in own
        ],
    }


IDLE = frozenset(
    {"<method 'poll' of 'select.epoll' objects>", "<method 'acquire' of '_thread.lock' objects>"}
)


def _api_kind() -> Any:
    from tidings.types import TokenKind

    return TokenKind.API


def run(
    *,
    articles: int = QUICK["articles"],
    readers: int = QUICK["readers"],
    duration: int = DURATION_S,
    connections: int = CONNECTIONS,
    workers: int = 2,
    tokens: int = TOKENS,
    enrich: bool = False,
    fresh: bool = False,
    profile: bool = True,
    warm_cache_first: bool = False,
    workdir: Path | None = None,
    echo: Echo = print,
) -> dict[str, Any]:
    """Prepare, serve, ingest, load; see the module docstring."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)")
    folder = workdir or Path(tempfile.gettempdir()) / "tidings-bench-feed"
    database, secrets_file = prepare_database(
        folder, articles=articles, readers=readers, tokens=tokens, fresh=fresh, echo=echo
    )
    run_dir = database.parent
    secrets = secrets_file.read_text(encoding="utf-8").split()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TIDINGS_BENCH_DATABASE": str(database),
        "TIDINGS_BENCH_DIR": str(run_dir),
    }
    shutil.rmtree(run_dir / STATS_DIR, ignore_errors=True)  # the last run's workers'
    echo(f"starting the app ({workers} worker(s)) at {base} ...")
    app = subprocess.Popen(
        [sys.executable, "-m", "tidings.bench.http", "serve", str(port), str(workers)],
        env=env,
    )
    stats = run_dir / "ingest.jsonl"
    stats.unlink(missing_ok=True)
    ingester = multiprocessing.get_context("spawn").Process(
        target=ingest_loop, args=(database, run_dir, stats, enrich), daemon=True
    )
    try:
        wait_until_serving(base, app)
        warm = warm_up(base, secrets, workers)
        echo(f"warm-up: statuses {warm['statuses']}; page {_page_shape(warm['sample'])}")
        # Before the feed's load: the app's threads go on with unanswered pages after wrk
        # has gone, which would slow whatever came next.
        echo(f"the same server's /api/health for {BASELINE_S} s (the HTTP stack alone) ...")
        baseline = run_wrk(
            base,
            secrets_file,
            duration=min(BASELINE_S, duration),
            connections=connections,
            folder=run_dir,
            path="/api/health",
        )
        warmed: float | None = None
        made: dict[int, int] = {}
        if warm_cache_first:
            echo(f"warming the page cache: {len(secrets)} readers' pages on each worker ...")
            seconds, made = warm_cache(base, secrets, workers, run_dir / STATS_DIR)
            warmed = round(seconds, 1)
            echo(f"warmed in {warmed} s; pages made by each worker: {sorted(made.values())}")
        ingester.start()
        time.sleep(1.0)  # its first pass under way
        load = os.getloadavg()[0]
        echo(f"wrk: {connections} connections for {duration} s, {len(secrets)} readers ...")
        counted_from, began = read_stats(run_dir / STATS_DIR), time.monotonic()
        result = run_wrk(
            base, secrets_file, duration=duration, connections=connections, folder=run_dir
        )
        load_after = os.getloadavg()[0]
        time.sleep(2 * STATS_EVERY_S)  # the workers' counts as the load ended
        work = stats_between(
            counted_from, read_stats(run_dir / STATS_DIR), time.monotonic() - began
        )
    finally:
        if ingester.is_alive():
            ingester.terminate()
            ingester.join(timeout=30)
        app.send_signal(signal.SIGINT)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    passes = [json.loads(x) for x in stats.read_text(encoding="utf-8").splitlines() if x]
    ingested = {
        "passes": len(passes),
        "articles": sum(p["new"] for p in passes),
        "failed_passes": sum(1 for p in passes if p["failed"]),
        "seconds_per_pass_p50": round(statistics.median([p["seconds"] for p in passes]), 2)
        if passes
        else None,
        "enrich": enrich,
    }
    echo(f"ingested {ingested['articles']} articles in {ingested['passes']} passes meanwhile")
    profiled = None
    if profile:
        echo(f"timing and profiling {PROFILED} pages in-process ...")
        profiled = profile_in_process(database, run_dir, secrets)
    rps = result["requests_per_second"]
    p99 = result["latency_ms"]["p99"]
    errors = result["non_2xx"] + sum(result["socket_errors"].values())
    return {
        "bench": "http",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": multiprocessing.cpu_count(),
            "load_average_1min": [round(load, 2), round(load_after, 2)],
        },
        "parameters": {
            "articles": articles,
            "readers": readers,
            "tokens": len(secrets),
            "connections": connections,
            "duration": duration,
            "workers": workers,
            "now": NOW.isoformat(),
            "seed": SEED,
            "database": str(database),
        },
        "warm_up": {"statuses": warm["statuses"], "page": _page_shape(warm["sample"])},
        "cache_warmed_seconds": warmed,
        "cache_warmed_pages_by_worker": sorted(made.values()),
        "load": result,
        "baseline_health": {k: v for k, v in baseline.items() if k != "stdout"},
        "ingestion": ingested,
        "work": work,
        "goal": {
            "requests_per_second": GOAL_RPS,
            "p99_ms": GOAL_P99_MS,
            "met": rps >= GOAL_RPS and p99 < GOAL_P99_MS and errors == 0,
        },
        "in_process": profiled,
    }


def format_report(result: dict[str, Any]) -> str:
    p, load, ms = result["parameters"], result["load"], result["load"]["latency_ms"]
    ing = result["ingestion"]
    lines = [
        f"tidings bench http: GET /api/feed, {p['articles']:,} articles, {p['readers']:,} "
        f"readers ({p['tokens']} tokens), {p['workers']} uvicorn worker(s)",
        f"machine: {result['machine']['processor']}, {result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}; load average before/after "
        f"{result['machine']['load_average_1min']}",
        f"page: {result['warm_up']['page']}; warm-up statuses {result['warm_up']['statuses']}",
        (
            f"page cache warmed first ({result['cache_warmed_seconds']} s): every reader's page "
            f"made once per worker (pages made by each: {result['cache_warmed_pages_by_worker']})"
            if result.get("cache_warmed_seconds") is not None
            else "page cache cold: each reader's first page is ranked during the load"
        ),
        "",
        f"{load['command']}",
        f"  {load['requests']:,} requests in {load['seconds']} s: "
        f"{load['requests_per_second']} requests/s ({load['mb_per_second']} MB/s)",
        f"  latency p50 {ms['p50']} ms   p90 {ms['p90']} ms   p99 {ms['p99']} ms   "
        f"max {ms['max']} ms",
        f"  non-2xx {load['non_2xx']}; socket errors {load['socket_errors']}",
    ]
    if load["socket_errors"]["timeout"]:
        lines.append(
            f"  (latencies are of the answered requests only: {load['socket_errors']['timeout']}"
            f" had no answer within {TIMEOUT_S} s, so the true p99 is above that)"
        )
    lines += [
        f"  ingestion meanwhile: {ing['articles']} articles in {ing['passes']} passes "
        f"(p50 {ing['seconds_per_pass_p50']} s a pass, {ing['failed_passes']} failed; "
        f"enrichment {'on' if ing['enrich'] else 'off'})",
        f"  beside it, /api/health on the same server: "
        f"{result['baseline_health']['requests_per_second']} requests/s, p50 "
        f"{result['baseline_health']['latency_ms']['p50']} ms, p99 "
        f"{result['baseline_health']['latency_ms']['p99']} ms (the HTTP stack alone)",
        f"  goal >= {result['goal']['requests_per_second']} requests/s, p99 < "
        f"{result['goal']['p99_ms']} ms, no errors: "
        + ("met" if result["goal"]["met"] else "NOT met"),
    ]
    work = result.get("work")
    if work:
        lines += ["", *format_work(work, result["load"]["requests"])]
    prof = result.get("in_process")
    if prof:
        lines += [
            "",
            f"in-process, {prof['pages']} pages: Engine.feed p50 {prof['engine_feed_ms']['p50']} "
            f"ms (max {prof['engine_feed_ms']['max']}); whole request under cProfile p50 "
            f"{prof['request_ms_profiled']['p50']} ms",
            "cumulative time per request:",
        ]
        for row in prof["cumulative"]:
            lines.append(f"  {row['function']:<60} {row['ms_per_request']:>9.2f} ms")
        lines.append("self time per request:")
        for row in prof["self"]:
            lines.append(f"  {row['function']:<60} {row['ms_per_request']:>9.2f} ms")
    return "\n".join(lines)


def format_work(work: dict[str, Any], requests: int) -> list[str]:
    """Where the serving processes' CPU went during the load, from the ranker's counts."""
    kinds = work["kinds"]
    lines = [
        f"where the {work['workers']} workers' time went during the load ({work['seconds']} s; "
        f"their CPU {work['process_cpu_s']} s, {work['process_cpu_s'] / work['seconds']:.2f} "
        "cores):",
        f"  {'':<42} {'count':>8} {'CPU s':>8} {'CPU ms each':>12} {'wall ms each':>13}",
    ]
    pages = 0
    counted = 0.0
    for kind, tally in kinds.items():
        n = tally["count"]
        if not kind.startswith(("request:", "background:")):
            pages += n
        # Looks at storage's changes made from a request are inside that request's row.
        if not kind.startswith("request:"):
            counted += tally["cpu_s"]
        each = f"{1000 * tally['cpu_s'] / n:12.1f} {1000 * tally['wall_s'] / n:13.1f}"
        if kind.endswith("changes applied"):
            each = ""
        lines.append(f"  {kind:<42} {n:>8,} {tally['cpu_s']:>8.1f} {each}")
    lines.append(
        f"  {'the rest (HTTP, authentication, JSON, ...)':<42} {'':>8} "
        f"{max(work['process_cpu_s'] - counted, 0.0):>8.1f}"
    )
    ranked = sum(t["count"] for k, t in kinds.items() if k.startswith("ranked"))
    lines.append(
        f"  pages asked of the ranker: {pages:,} (wrk counted {requests:,} answered requests); "
        f"ranked inside requests {ranked:,}" + (f" ({100 * ranked / pages:.1f}%)" if pages else "")
    )
    return lines


if __name__ == "__main__":
    # The app's process: ``python -m tidings.bench.http serve PORT WORKERS``.
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: python -m tidings.bench.http serve PORT WORKERS")
