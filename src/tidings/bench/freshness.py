"""``tidings bench freshness``: how long news takes to reach readers (freshness lag).

The lag of an entry is the time from its appearing in its source's feed to (a) its being
stored, (b) its first analysis (a quick one during a backlog: from then on it is ranked) and,
in the steady flow, (c) its being on the page of a reader who follows the source, as a
``tidings serve`` process answers ``GET /api/feed``. Real processes on PostgreSQL
(``bench/cluster.py``), the demo news served on loopback; the database is polled every
:data:`POLL` seconds, which bounds the resolution of (a) and (b).

- **backlog**: ``--backlog`` entries (the demo news copied over as many publishers as it
  takes) all appear at once, as after an outage or when a newsroom subscribes; a reader
  follows ``--follow`` of the feeds. One ingest worker and ``--analysers`` analyse workers,
  warmed up first (models loaded) as in a running installation. Reported: the followed
  entries' lag, and how far the rest got meanwhile.
- **steady**: one entry a second, in turn from the 12 publishers, for ``--seconds``, each
  dated as it appears; the reader follows every publisher. Polling is set to what such a
  flow calls for ([schedule] min 1 s, default 2 s, max 5 s) and stated as such.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tidings.bench.cluster import (
    Entry,
    NewsPlan,
    NewsServer,
    Process,
    demo_entries,
    free_port,
    load_average,
    machine,
    percentile,
    query,
    scratch_dir,
    scratch_schema,
    tidings_env,
    wait_for_http,
)

#: Seconds between two looks at the database for what was stored and analysed.
POLL = 0.5
PASSWORD = "bench reader password"


def _summary(lags: list[float]) -> dict[str, Any]:
    return {
        "count": len(lags),
        "p50": percentile(lags, 50),
        "p95": percentile(lags, 95),
        "max": max(lags) if lags else None,
    }


def _engine_settings(url: str, data: Path) -> Any:
    from tidings.config import Settings

    return Settings(database_url=url, data_dir=data, enrich=False)


def _add_sources(url: str, data: Path, urls: list[str]) -> dict[str, int]:
    from tidings.engine import make_engine

    with make_engine(_engine_settings(url, data)) as engine:
        return {u: engine.add_source(u, operator=True).id for u in urls}


def _follow(url: str, data: Path, reader: str, sources: list[int]) -> None:
    from tidings.engine import make_engine

    with make_engine(_engine_settings(url, data)) as engine:
        try:
            engine.readers.get_reader(reader)
        except Exception:  # noqa: BLE001 - not there yet
            engine.accounts.sign_up(reader, PASSWORD)
        for source in sources:
            engine.readers.follow(reader, "source", str(source))


class _Watch:
    """Polls the database: when each article of the watched sources was first stored, and
    first analysed (``analysed``), or found not to be analysable (``skipped``: too little
    text, not English; it is done with, but never ranked)."""

    def __init__(self, url: str, sources: list[int]) -> None:
        self.url = url
        self.sources = ",".join(str(s) for s in sources) or "0"
        self.stored: dict[int, float] = {}
        self.analysed: dict[int, float] = {}
        self.skipped: dict[int, float] = {}
        self.guid: dict[int, tuple[int, str]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url, pool_size=1)
        stored = sa.text(
            f"SELECT id, source_id, guid FROM articles WHERE source_id IN ({self.sources}) "
            "AND id > :after ORDER BY id"
        )
        analysed = sa.text(
            "SELECT e.article_id, e.status FROM enrichments e "
            "JOIN articles a ON a.id = e.article_id "
            f"WHERE a.source_id IN ({self.sources}) AND e.seq > :after"
        )
        after_id = after_seq = 0
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                with engine.connect() as conn:
                    position = conn.execute(
                        sa.text(
                            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq"
                        )
                    ).scalar_one()
                    for article_id, source_id, guid in conn.execute(stored, {"after": after_id}):
                        self.stored.setdefault(article_id, now)
                        self.guid[article_id] = (source_id, guid)
                        after_id = max(after_id, article_id)
                    # Everything up to a position a little behind, read again: a slow
                    # commit below the highest number is not missed.
                    for article_id, status in conn.execute(
                        analysed, {"after": max(after_seq - 50, 0)}
                    ):
                        done = status == "done"
                        (self.analysed if done else self.skipped).setdefault(article_id, now)
                    after_seq = int(position)
                self.stop.wait(POLL)
        finally:
            engine.dispose()

    def __enter__(self) -> _Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _header() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average_before": load_average(),
    }


def _warm_up(url: str, data: Path, server: NewsServer, env: dict[str, str], timeout: float) -> None:
    """Wait until the warm-up feed's entries are analysed: the analyse workers have loaded
    their models, as they have in a running installation."""
    [warm_id] = _add_sources(url, data, [server.url("warmup")]).values()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(done,)] = query(
            url,
            "SELECT count(*) FROM enrichments e JOIN articles a ON a.id = e.article_id "
            "WHERE a.source_id = :s",
            s=warm_id,
        )
        if done >= WARM_UP_ENTRIES:
            return
        time.sleep(0.5)
    raise TimeoutError("the workers did not analyse the warm-up entries in time")


WARM_UP_ENTRIES = 8
#: An analyse worker's line for a batch of quick passes (``workers._analysis_line``).
_QUICK_RATE = re.compile(r"analyse: \d+ quick[^(]*\(([\d.]+) articles/s\)")


def _warm_up_entries(entries: list[Entry]) -> list[Entry]:
    return [Entry("warmup", f"warmup-{e.guid}", e.xml) for e in entries[-WARM_UP_ENTRIES:]]


def bench_backlog(
    database_url: str,
    data_dir: Path,
    *,
    backlog: int = 50_000,
    follow: int = 1,
    analysers: int = 2,
    timeout: float = 900.0,
) -> dict[str, Any]:
    entries, heads = demo_entries(data_dir)
    copies = max(1, -(-backlog // len(entries)))
    entries, heads = demo_entries(data_dir, copies=copies)
    entries = entries[:backlog] if backlog < len(entries) else entries
    warm = _warm_up_entries(entries)
    heads["warmup"] = next(iter(heads.values()))
    plan = NewsPlan(
        entries=[*entries, *warm], at=[0.0] * len(entries) + [-1.0] * len(warm), heads=heads
    )
    result = _header() | {"entries": len(entries), "feeds": len({e.feed for e in entries})}
    with (
        scratch_schema(database_url) as url,
        scratch_dir() as tmp,
        NewsServer(plan).running() as server,
    ):
        folder = Path(tmp)
        data = folder / "data"
        env = tidings_env(
            url, data, TIDINGS_ENRICH="0", TIDINGS_FETCH__ALLOWED_NETWORKS="127.0.0.1/32"
        )
        _add_sources(url, data, [])  # migrate once, before the workers start together
        workers = [Process("ingest", ["worker", "--role", "ingest"], env, folder / "ingest.log")]
        workers += [
            Process(f"analyse-{k}", ["worker", "--role", "analyse"], env, folder / f"a{k}.log")
            for k in range(analysers)
        ]
        for process in workers:
            process.start()
        try:
            _warm_up(url, data, server, env, timeout)
            feeds = [f for f in server.feeds if f != "warmup"]
            followed_feeds = feeds[:follow]
            server.start()
            t0 = time.monotonic()
            ids = _add_sources(url, data, [server.url(f) for f in feeds])
            followed = [ids[server.url(f)] for f in followed_feeds]
            _follow(url, data, "follower", followed)
            expected = sum(1 for e in entries if e.feed in followed_feeds)
            with _Watch(url, followed) as watch:
                deadline = t0 + timeout
                while time.monotonic() < deadline:
                    if len(watch.analysed) + len(watch.skipped) >= expected:
                        break
                    time.sleep(POLL)
                finished = time.monotonic()
            [(stored_all, analysed_all, quick_all)] = query(
                url,
                "SELECT (SELECT count(*) FROM articles), "
                "(SELECT count(*) FROM enrichments WHERE depth = 'full'), "
                "(SELECT count(*) FROM enrichments WHERE depth = 'quick')",
            )
        finally:
            for process in workers:
                process.stop()
        rates = [
            float(m.group(1))
            for process in workers[1:]
            for m in _QUICK_RATE.finditer(process.output())
        ]
        result.update(
            quick_batch_rate_median=percentile(rates, 50),
            followed_feeds=len(followed_feeds),
            followed_entries=expected,
            followed_stored=_summary([t - t0 for t in watch.stored.values()]),
            followed_first_analysis=_summary([t - t0 for t in watch.analysed.values()]),
            followed_skipped=len(watch.skipped),
            followed_not_analysed_in_time=expected - len(watch.analysed) - len(watch.skipped),
            seconds=finished - t0,
            all_stored_by_then=int(stored_all),
            all_quick_by_then=int(quick_all),
            all_full_by_then=int(analysed_all),
            analysers=analysers,
            worker_cpu_seconds=sum(p.cpu for p in workers),
            ingest_cpu_seconds=workers[0].cpu,
            analyse_cpu_seconds=sum(p.cpu for p in workers[1:]),
            load_average_after=load_average(),
        )
    return result


def bench_steady(
    database_url: str, data_dir: Path, *, seconds: int = 120, rate: float = 1.0
) -> dict[str, Any]:
    import httpx

    entries, heads = demo_entries(data_dir)
    by_feed: dict[str, list[Entry]] = {}
    for entry in entries:
        by_feed.setdefault(entry.feed, []).append(entry)
    stream: list[Entry] = []
    position = 0
    while len(stream) < int(seconds * rate):
        for items in by_feed.values():
            if len(stream) < int(seconds * rate):
                stream.append(items[position])
        position += 1
    warm = _warm_up_entries(entries)
    heads["warmup"] = next(iter(heads.values()))
    at = [(n + 1) / rate for n in range(len(stream))]
    plan = NewsPlan(
        entries=[*stream, *warm], at=[*at, *([-1.0] * len(warm))], heads=heads, redate=True
    )
    result = _header() | {"entries": len(stream), "rate_per_second": rate}
    with (
        scratch_schema(database_url) as url,
        scratch_dir() as tmp,
        NewsServer(plan).running() as server,
    ):
        folder = Path(tmp)
        data = folder / "data"
        env = tidings_env(
            url,
            data,
            TIDINGS_ENRICH="0",
            TIDINGS_FETCH__ALLOWED_NETWORKS="127.0.0.1/32",
            TIDINGS_SCHEDULE__MIN_INTERVAL="1",
            TIDINGS_SCHEDULE__DEFAULT_INTERVAL="2",
            TIDINGS_SCHEDULE__MAX_INTERVAL="5",
        )
        _add_sources(url, data, [])
        port = free_port()
        processes = [
            Process("ingest", ["worker", "--role", "ingest"], env, folder / "ingest.log"),
            Process("analyse", ["worker", "--role", "analyse"], env, folder / "analyse.log"),
            Process(
                "serve", ["serve", "--port", str(port), "--no-ingest"], env, folder / "serve.log"
            ),
        ]
        for process in processes:
            process.start()
        seen_on_page: dict[int, float] = {}
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/health")
            _warm_up(url, data, server, env, 600)
            feeds = [f for f in server.feeds if f != "warmup"]
            ids = _add_sources(url, data, [server.url(f) for f in feeds])
            _follow(url, data, "follower", list(ids.values()))
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            client.post("/api/login", json={"name": "follower", "password": PASSWORD})
            server.start()
            t0 = time.monotonic()
            with _Watch(url, list(ids.values())) as watch:
                end = t0 + seconds + 60  # the last entries get a minute to arrive
                while time.monotonic() < end:
                    response = client.get("/api/feed", params={"size": 100})
                    now = time.monotonic()
                    if response.status_code == 200:
                        for item in response.json()["items"]:
                            seen_on_page.setdefault(item["article_id"], now)
                    if (
                        time.monotonic() > t0 + seconds
                        and len(watch.analysed) + len(watch.skipped) >= len(stream)
                        and all(a in seen_on_page for a in watch.analysed)
                    ):
                        break
                    time.sleep(POLL)
        finally:
            for process in processes:
                process.stop()
        appeared = {
            (ids[server.url(e.feed)], e.guid): server.appeared(i) for i, e in enumerate(stream)
        }
        lag_stored, lag_analysed, lag_page = [], [], []
        for article_id, key in watch.guid.items():
            if key not in appeared:
                continue
            start = appeared[key]
            lag_stored.append(watch.stored[article_id] - start)
            if article_id in watch.analysed:
                lag_analysed.append(watch.analysed[article_id] - start)
            if article_id in seen_on_page:
                lag_page.append(seen_on_page[article_id] - start)
        result.update(
            stored=_summary(lag_stored),
            first_analysis=_summary(lag_analysed),
            on_the_page=_summary(lag_page),
            never_on_the_page=len(stream) - len(lag_page),
            skipped=len(watch.skipped),
            feed_requests=sum(server.requests[f] for f in feeds),
            load_average_after=load_average(),
        )
    return result


def _line(name: str, s: dict[str, Any]) -> str:
    if not s["count"]:
        return f"    {name}: none"
    return (
        f"    {name}: {s['count']} entries, p50 {s['p50']:.1f} s, p95 {s['p95']:.1f} s, "
        f"max {s['max']:.1f} s"
    )


def format_report(r: dict[str, Any]) -> str:
    lines = [f"freshness lag, {r.get('date')}, {r.get('machine')}"]
    if "backlog" in r:
        b = r["backlog"]
        lines += [
            f"  backlog: {b['entries']} entries at once in {b['feeds']} feeds, a reader "
            f"following {b['followed_feeds']} feed(s) ({b['followed_entries']} entries); "
            f"1 ingest + {b['analysers']} analyse workers; load {b['load_average_before']} "
            f"-> {b['load_average_after']}",
            _line("followed, stored", b["followed_stored"]),
            _line("followed, first analysis", b["followed_first_analysis"]),
            f"    followed skipped (not analysable): {b.get('followed_skipped', 0)}; "
            f"not analysed within the run: {b['followed_not_analysed_in_time']}; "
            f"by then ({b['seconds']:.0f} s) {b['all_stored_by_then']} stored, "
            f"{b['all_quick_by_then']} quick and {b['all_full_by_then']} full analyses; "
            f"a quick batch ran at {b.get('quick_batch_rate_median') or 0:.1f} articles/s "
            "(median, one worker)",
            f"    CPU: ingest worker {b.get('ingest_cpu_seconds', 0):.0f} s, analyse workers "
            f"{b.get('analyse_cpu_seconds', 0):.0f} s (from their start, models loaded and "
            "warm-up included)",
        ]
    if "steady" in r:
        s = r["steady"]
        lines += [
            f"  steady: {s['entries']} entries at {s['rate_per_second']:g}/s from 12 feeds "
            f"(polled every 1-5 s), a reader following all; 1 ingest + 1 analyse worker + "
            f"1 serve; load {s['load_average_before']} -> {s['load_average_after']}",
            _line("stored", s["stored"]),
            _line("first analysis", s["first_analysis"]),
            _line("on the follower's page", s["on_the_page"]),
            f"    never on the page: {s['never_on_the_page']} (of which skipped, not "
            f"analysable: {s.get('skipped', 0)}); feed requests: {s['feed_requests']}",
        ]
    return "\n".join(lines)
