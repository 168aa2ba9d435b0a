"""``tidings bench chaos``: processes killed at random while news arrives and readers read.

On a scratch PostgreSQL schema (``bench/cluster.py``), ``--workers`` ``tidings worker``
processes (every role) and ``--servers`` ``tidings serve`` processes run over the demo news,
served on loopback as it is published: a fifth at once, the rest over the run. Reader
threads sign up, follow publishers, and then, on any live node, read their page, record
impressions and opens, save and unsave articles. Every ``--kill-every`` seconds one process
chosen at random is killed with SIGKILL and started again.

When the time is up the killing stops, the leases of killed workers run out, one more
ingestion pass reads what was published last, and everything is stopped cleanly. Then:

- **lost**: entries the feeds served that are not stored; events and saves a node
  acknowledged that are not stored (or unsaves that did not take);
- **duplicated**: one entry stored twice; more events stored than were sent (counting the
  requests whose answer was lost to a kill as possibly stored);
- **index gaps**: analysed articles missing from a serving node's vector index, as the node
  saved it when it stopped (each node has a data folder, so an index, of its own; a node
  killed along the way reopened its file and caught up from storage);
- **5xx**: answers with a 5xx status (a request cut by a kill gets no answer at all, which is
  counted apart, as "unanswered").

Articles analysed more than once are reported too: a worker killed between storing an
analysis and taking it off the queue leaves it to be done again, by design.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tidings.bench.cluster import (
    NewsPlan,
    NewsServer,
    Process,
    demo_entries,
    ended,
    free_port,
    load_average,
    machine,
    query,
    scratch_dir,
    scratch_schema,
    tidings_env,
    wait_for_http,
)

PASSWORD = "chaos reader password"
#: How long a worker holds what it took, and a source's deadline, in the run: short, so
#: that a killed worker's work is taken over within the run (production: 300 s and 90 s).
LEASE_SECONDS = 15
SOURCE_DEADLINE = 7
#: Analyses stored before the killing starts (two batches), and how long to wait for them.
WARM_UP_ANALYSES = 128
WARM_UP_TIMEOUT = 600.0


@dataclass
class _Node:
    process: Process
    port: int
    data: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class _Ledger:
    """What the readers sent and what the nodes acknowledged."""

    events_acked: Counter[str] = field(default_factory=Counter)
    events_unknown: Counter[str] = field(default_factory=Counter)
    #: Per reader, per article: the last acknowledged state (True saved, False not).
    saved: dict[str, dict[int, bool]] = field(default_factory=dict)
    #: Articles whose last save or unsave went unanswered: either state is right.
    saved_unknown: dict[str, set[int]] = field(default_factory=dict)
    errors_5xx: list[tuple[str, str, int, float]] = field(default_factory=list)
    #: Answers by request and status ("GET /api/feed 200"), and pages that had items.
    statuses: Counter[str] = field(default_factory=Counter)
    pages_with_items: int = 0
    unanswered: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Reader(threading.Thread):
    def __init__(
        self,
        name: str,
        nodes: list[_Node],
        sources: list[int],
        ledger: _Ledger,
        stop: threading.Event,
        seed: int,
    ) -> None:
        super().__init__(name=f"reader-{name}", daemon=True)
        self.reader = name
        self.nodes = nodes
        self.sources = sources
        self.ledger = ledger
        self.stop = stop
        self.rng = random.Random(seed)
        self.token: str | None = None

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send to a live node; None when no node answered (the request may have been
        carried out by one that was killed before answering)."""
        import httpx

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for _ in range(len(self.nodes) * 3):
            node = self.rng.choice(self.nodes)
            if not node.process.alive:
                continue
            started = time.monotonic()
            try:
                response = httpx.request(
                    method, node.base + path, headers=headers, timeout=30.0, **kwargs
                )
            except httpx.HTTPError:
                with self.ledger.lock:
                    self.ledger.unanswered += 1
                return None
            with self.ledger.lock:
                self.ledger.requests += 1
                route = "/api/saved" if path.startswith("/api/saved") else path
                self.ledger.statuses[f"{method} {route} {response.status_code}"] += 1
                if response.status_code >= 500:
                    self.ledger.errors_5xx.append(
                        (node.process.name, f"{method} {path}", response.status_code, started)
                    )
            return response
        time.sleep(0.5)
        return None

    def _sign_up(self) -> bool:
        import httpx

        for _ in range(50):
            node = self.rng.choice(self.nodes)
            try:
                with httpx.Client(base_url=node.base, timeout=30.0) as client:
                    signed = client.post(
                        "/api/signup", json={"name": self.reader, "password": PASSWORD}
                    )
                    if signed.status_code == 409:  # signed up by a request cut short
                        signed = client.post(
                            "/api/login", json={"name": self.reader, "password": PASSWORD}
                        )
                    if signed.status_code not in (200, 201):
                        time.sleep(0.5)
                        continue
                    csrf = {"X-CSRF-Token": signed.json()["csrf"]}
                    made = client.post("/api/tokens", json={"name": "chaos"}, headers=csrf)
                    if made.status_code != 201:
                        continue
                    self.token = made.json()["secret"]
                    for source in self.rng.sample(self.sources, 3):
                        client.put(
                            "/api/interests",
                            json={"kind": "source", "value": str(source), "stance": "follow"},
                            headers=csrf,
                        )
                    return True
            except httpx.HTTPError:
                time.sleep(0.5)
        return False

    def run(self) -> None:
        if not self._sign_up():
            return
        ledger = self.ledger
        saved = ledger.saved.setdefault(self.reader, {})
        unknown = ledger.saved_unknown.setdefault(self.reader, set())
        while not self.stop.is_set():
            page = self._request("GET", "/api/feed", params={"size": 20})
            items = page.json()["items"] if page is not None and page.status_code == 200 else []
            if items:
                with ledger.lock:
                    ledger.pages_with_items += 1
                events = [
                    {"kind": "impression", "article_id": item["article_id"], "value": n}
                    for n, item in enumerate(items[:10])
                ]
                events.append({"kind": "open", "article_id": self.rng.choice(items)["article_id"]})
                sent = self._request("POST", "/api/events", json=events)
                with ledger.lock:
                    if sent is None:
                        ledger.events_unknown[self.reader] += len(events)
                    elif sent.status_code == 200:
                        ledger.events_acked[self.reader] += len(events)
                article = self.rng.choice(items)["article_id"]
                unsave = saved.get(article) and self.rng.random() < 0.5
                done = self._request("DELETE" if unsave else "PUT", f"/api/saved/{article}")
                with ledger.lock:
                    if done is None:
                        unknown.add(article)
                    elif done.status_code == 204:
                        saved[article] = not unsave
                        unknown.discard(article)
            self.stop.wait(0.3)


def bench_chaos(
    database_url: str,
    data_dir: Path,
    *,
    seconds: float = 180.0,
    kill_every: float = 5.0,
    workers: int = 3,
    servers: int = 2,
    readers: int = 8,
    seed: int = 0,
) -> dict[str, Any]:
    rng = random.Random(seed)
    entries, heads = demo_entries(data_dir)
    # A fifth from the start (the warm-up works on them); the rest over the run.
    at = [-1.0 if rng.random() < 0.2 else rng.uniform(0.0, seconds) for _ in entries]
    plan = NewsPlan(entries=entries, at=at, heads=heads)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average_before": load_average(),
        "seconds": seconds,
        "kill_every": kill_every,
        "workers": workers,
        "servers": servers,
        "readers": readers,
        "entries_planned": len(entries),
    }
    with (
        scratch_schema(database_url) as url,
        scratch_dir() as tmp,
        NewsServer(plan).running() as server,
        ExitStack() as stack,
    ):
        folder = Path(tmp)
        settings = {
            "TIDINGS_ENRICH": "0",
            "TIDINGS_FETCH__ALLOWED_NETWORKS": "127.0.0.1/32",
            "TIDINGS_FETCH__SOURCE_DEADLINE": str(SOURCE_DEADLINE),
            "TIDINGS_WORKERS__LEASE_SECONDS": str(LEASE_SECONDS),
            "TIDINGS_SCHEDULE__MIN_INTERVAL": "2",
            "TIDINGS_SCHEDULE__DEFAULT_INTERVAL": "5",
            "TIDINGS_SCHEDULE__MAX_INTERVAL": "15",
            "TIDINGS_FEED_CACHE_SECONDS": "10",
        }
        shared = folder / "workers"
        source_ids = _sources(url, shared, [server.url(f) for f in server.feeds])
        feed_of_source = {source_ids[server.url(f)]: f for f in server.feeds}
        processes: list[Process] = [
            Process(
                f"worker-{k}",
                ["worker"],
                tidings_env(url, shared, **settings),
                folder / f"worker-{k}.log",
            )
            for k in range(workers)
        ]
        nodes = []
        for k in range(servers):
            port = free_port()
            data = folder / f"serve-{k}"
            process = Process(
                f"serve-{k}",
                ["serve", "--port", str(port), "--no-ingest"],
                tidings_env(url, data, **settings),
                folder / f"serve-{k}.log",
            )
            nodes.append(_Node(process, port, data))
            processes.append(process)
        stack.enter_context(ended(processes))
        for process in processes:
            process.start()
        for node in nodes:
            wait_for_http(node.base + "/api/health")
        # The chaos starts once the workers are warm (models loaded, news analysed), as
        # in a running installation; what is published before counts like the rest.
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        while query(url, "SELECT count(*) FROM enrichments")[0][0] < WARM_UP_ANALYSES:
            if time.monotonic() > deadline:
                raise TimeoutError("the workers analysed nothing in time")
            time.sleep(1)
        server.start()
        started = time.monotonic()
        stop = threading.Event()
        ledger = _Ledger()
        threads = [
            _Reader(f"reader{n}", nodes, list(source_ids.values()), ledger, stop, seed + n)
            for n in range(readers)
        ]
        for thread in threads:
            thread.start()
        kills: list[tuple[str, float]] = []
        try:
            while time.monotonic() - started < seconds:
                time.sleep(kill_every)
                victim = rng.choice(processes)
                victim.kill()
                kills.append((victim.name, time.monotonic() - started))
                victim.start()
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        # Killed workers' leases run out; one more pass reads what was published last.
        time.sleep(LEASE_SECONDS + 2)
        last = Process(
            "last-pass",
            ["ingest", "--all", "--quiet"],
            tidings_env(url, shared, **settings),
            folder / "last-pass.log",
        ).start()
        last_code = last.wait(600)
        stopped = {p.name: p.stop(60) for p in processes}
        result.update(
            _verify(url, server, feed_of_source, ledger, nodes),
            kills=len(kills),
            killed=dict(Counter(name for name, _ in kills)),
            last_pass_exit=last_code,
            exits=stopped,
            requests=ledger.requests,
            statuses=dict(ledger.statuses),
            pages_with_items=ledger.pages_with_items,
            unanswered=ledger.unanswered,
            errors_5xx=[
                {"node": n, "request": r, "status": s, "at": round(t - started, 1)}
                for n, r, s, t in ledger.errors_5xx
            ],
            load_average_after=load_average(),
        )
        if result["errors_5xx"] or last_code:
            result["logs"] = {p.name: p.output()[-2000:] for p in [*processes, last]}
    return result


def _sources(url: str, data: Path, urls: list[str]) -> dict[str, int]:
    from tidings.config import Settings
    from tidings.engine import make_engine

    with make_engine(Settings(database_url=url, data_dir=data, enrich=False)) as engine:
        return {u: engine.add_source(u, operator=True).id for u in urls}


def _verify(
    url: str,
    server: NewsServer,
    feed_of_source: dict[int, str],
    ledger: _Ledger,
    nodes: list[_Node],
) -> dict[str, Any]:
    from tidings.enrich.stage import index_path
    from tidings.store.vectors import VectorIndex

    source_of_feed = {f: s for s, f in feed_of_source.items()}
    stored = Counter(
        (int(s), str(g)) for s, g in query(url, "SELECT source_id, guid FROM articles")
    )
    served = {(source_of_feed[f], g) for f, g in server.served}
    lost_entries = sorted(served - set(stored))
    duplicated_entries = sum(n - 1 for n in stored.values() if n > 1)

    names = dict(query(url, "SELECT id, name FROM readers"))
    events = Counter(
        {
            names[r]: int(n)
            for r, n in query(url, "SELECT reader_id, count(*) FROM events GROUP BY 1")
        }
    )
    lost_events = duplicated_events = 0
    for reader, acked in ledger.events_acked.items():
        lost_events += max(acked - events.get(reader, 0), 0)
    for reader, count in events.items():
        allowed = ledger.events_acked.get(reader, 0) + ledger.events_unknown.get(reader, 0)
        duplicated_events += max(count - allowed, 0)
    saved_rows = {
        (names[r], int(a)) for r, a in query(url, "SELECT reader_id, article_id FROM saved")
    }
    lost_saves = wrong_unsaves = 0
    for reader, states in ledger.saved.items():
        unsure = ledger.saved_unknown.get(reader, set())
        for article, is_saved in states.items():
            if article in unsure:
                continue
            if is_saved and (reader, article) not in saved_rows:
                lost_saves += 1
            if not is_saved and (reader, article) in saved_rows:
                wrong_unsaves += 1

    analysed = [
        int(a)
        for (a,) in query(
            url, "SELECT article_id FROM enrichments WHERE status = 'done' AND vector IS NOT NULL"
        )
    ]
    gaps = {}
    for node in nodes:
        path = index_path(node.data, url)
        index = VectorIndex(path) if path.exists() else None
        gaps[node.process.name] = (
            len(analysed) if index is None else sum(1 for a in analysed if a not in index)
        )
    [(twice, queued, quick)] = query(
        url,
        "SELECT (SELECT count(*) FROM enrichments WHERE analyses > 1), "
        "(SELECT count(*) FROM analysis_queue), "
        "(SELECT count(*) FROM enrichments WHERE depth = 'quick')",
    )
    # What the database takes, tables and their indexes, for the capacity model (SCALING.md).
    [(db_bytes,)] = query(
        url,
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r'",
    )
    return {
        "database_bytes": int(db_bytes),
        "entries_served": len(served),
        "articles_stored": sum(stored.values()),
        "lost": {
            "entries": len(lost_entries),
            "events": lost_events,
            "saves": lost_saves,
            "unsaves": wrong_unsaves,
        },
        "duplicated": {"entries": duplicated_entries, "events": duplicated_events},
        "events_acknowledged": sum(ledger.events_acked.values()),
        "events_stored": sum(events.values()),
        "saved_acknowledged": sum(1 for s in ledger.saved.values() for v in s.values() if v),
        "analysed": len(analysed),
        "index_gaps": gaps,
        "analysed_more_than_once": int(twice),
        "still_queued": int(queued),
        "quick_only": int(quick),
    }


def passed(r: dict[str, Any]) -> bool:
    return (
        not any(r["lost"].values())
        and not any(r["duplicated"].values())
        and not any(r["index_gaps"].values())
        and not r["errors_5xx"]
    )


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"chaos, {r['date']}, {r['machine']}: {r['workers']} workers and {r['servers']} "
        f"serving processes on PostgreSQL, {r['readers']} readers, a process killed every "
        f"{r['kill_every']:g} s for {r['seconds']:g} s ({r['kills']} kills: {r['killed']}); "
        f"load {r['load_average_before']} -> {r['load_average_after']}",
        f"  entries: {r['entries_served']} served, {r['articles_stored']} stored; "
        f"{r['analysed']} analysed ({r['quick_only']} quick only, {r['still_queued']} still "
        f"queued, {r['analysed_more_than_once']} analysed more than once)",
        f"  readers: {r['requests']} answered requests ({r['statuses']}; "
        f"{r['pages_with_items']} pages with items), {r['unanswered']} cut by a kill; "
        f"{r['events_acknowledged']} events acknowledged, {r['events_stored']} stored; "
        f"{r['saved_acknowledged']} saves acknowledged",
        f"  database: {r['database_bytes'] / 2**20:.0f} MiB "
        f"({r['database_bytes'] / max(r['articles_stored'], 1) / 1024:.1f} KiB an article)",
        f"  lost: {r['lost']}",
        f"  duplicated: {r['duplicated']}",
        f"  index gaps: {r['index_gaps']}",
        f"  5xx: {len(r['errors_5xx'])} {r['errors_5xx'][:5]}; exit statuses: {r['exits']}",
        f"  {'PASSED' if passed(r) else 'FAILED'}",
    ]
    return "\n".join(lines)
