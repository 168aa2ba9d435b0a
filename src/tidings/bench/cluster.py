"""What the scale benchmarks share: a scratch PostgreSQL schema, Tidings processes to start,
kill and restart, and the demo-news feeds served on loopback as they are published; and the
line that says which machine any benchmark ran on.

``tidings bench workers``, ``freshness`` and ``chaos`` (and ``ingest --workers``) run real
``tidings worker`` and ``tidings serve`` processes against a fresh schema made inside the
database given with ``--database``, and drop it afterwards: the database's own tables are
never touched.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

#: The shared real news for the demo and these benchmarks (12 publishers' feeds).
DEMO_NEWS = "demo-news"


# --- a scratch schema ------------------------------------------------------------------------


@contextmanager
def scratch_schema(database_url: str, *, keep: bool = False) -> Iterator[str]:
    """A URL to a new, empty schema in the PostgreSQL database at ``database_url`` (its
    ``search_path``), dropped afterwards unless ``keep``."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the scale benchmarks need PostgreSQL: --database postgresql+psycopg://…")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


# --- processes -----------------------------------------------------------------------------


def tidings_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a Tidings process: the machine's, without any TIDINGS_ variable
    of the person running the benchmark, and ``settings`` (TIDINGS_* names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=database_url, TIDINGS_DATA_DIR=str(data_dir), **settings)
    return env


@dataclass
class Process:
    """One ``tidings`` command in a process of its own, output to a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    #: user + system CPU seconds of the finished runs of this process, and the largest
    #: resident set of any of them (KiB).
    cpu: float = 0.0
    max_rss_kib: int = 0
    kills: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tidings", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and not self._collect(os.WNOHANG)

    def _collect(self, flags: int) -> bool:
        """Reap the process if it has ended (waiting for it unless ``flags`` has WNOHANG),
        counting its CPU and memory; whether it has ended. Readers' threads ask ``alive``
        while the main one kills: under the lock one of them reaps it, and Popen.poll is
        never used (it would reap the process behind ``os.wait4``'s back, which then
        fails with ChildProcessError and loses the usage)."""
        assert self.popen is not None
        with self._lock:
            if self.popen.returncode is not None:
                return True
            pid, status, usage = os.wait4(self.popen.pid, flags)
            if not pid:
                return False
            self.cpu += usage.ru_utime + usage.ru_stime
            self.max_rss_kib = max(self.max_rss_kib, usage.ru_maxrss)
            self.popen.returncode = os.waitstatus_to_exitcode(status)
            return True

    def _reap(self) -> int:
        assert self.popen is not None
        self._collect(0)
        assert self.popen.returncode is not None
        return self.popen.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; its exit status. Raises TimeoutError."""
        assert self.popen is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._collect(os.WNOHANG):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} still running after {timeout} s")
            time.sleep(0.05)
        assert self.popen.returncode is not None
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, with no cleanup of any kind."""
        # Under the lock, so that no other thread reaps it between the look and the kill.
        with self._lock:
            if self.popen is None or self._collect(os.WNOHANG):
                return
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.kills += 1
            self._collect(0)

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.popen is None:
            return None
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                return self.wait(grace)
            except TimeoutError:
                self.kill()
        return self.popen.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def run_workers(
    role: str, count: int, env: dict[str, str], logs: Path, *, timeout: float = 3600.0
) -> tuple[list[Process], float]:
    """Start ``count`` ``tidings worker --role <role> --until-idle`` processes at once (logs
    ``<logs>-<k>.log``) and wait for every one to exit: the processes, and the seconds from
    the first start to the last exit. Raises RuntimeError with the first failed one's log."""
    processes = [
        Process(
            f"{role}-{k}",
            ["worker", "--role", role, "--until-idle"],
            env,
            logs.with_name(f"{logs.name}-{k}.log"),
        )
        for k in range(count)
    ]
    start = time.perf_counter()
    with ended(processes):
        for process in processes:
            process.start()
        codes = [process.wait(timeout) for process in processes]
    seconds = time.perf_counter() - start
    if failed := [p for p, code in zip(processes, codes, strict=True) if code]:
        raise RuntimeError(f"a worker failed:\n{failed[0].output()[-3000:]}")
    return processes, seconds


@contextmanager
def ended(processes: Sequence[Process]) -> Iterator[None]:
    """Kill whatever of ``processes`` (a list that may grow inside) still runs on the way
    out: a benchmark that fails half-way leaves no process behind holding its schema."""
    try:
        yield
    finally:
        for process in processes:
            process.kill()


def wait_for_http(url: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"nothing answered {url} within {timeout} s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def cpus() -> int:
    """The cores this process may run on (its affinity, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> str:
    """The machine a benchmark ran on, for its report."""
    return f"{platform.machine()}, {cpus()} cores, Python {platform.python_version()}"


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="tidings-bench-")


# --- the demo news, published over time -----------------------------------------------------

_ITEM = re.compile(rb"<item>.*?</item>", re.DOTALL)
_GUID = re.compile(rb"<guid[^>]*>(.*?)</guid>", re.DOTALL)
_PUBDATE = re.compile(rb"<pubDate>.*?</pubDate>", re.DOTALL)


@dataclass(frozen=True)
class Entry:
    feed: str
    guid: str
    xml: bytes


@dataclass
class NewsPlan:
    """Which entry appears in which feed when: ``at[i]`` seconds after the start for
    ``entries[i]``; an entry's ``pubDate`` becomes the moment it appears when ``redate``."""

    entries: list[Entry]
    at: list[float]
    redate: bool = False
    heads: dict[str, bytes] = field(default_factory=dict)


def demo_entries(data_dir: Path, *, copies: int = 1) -> tuple[list[Entry], dict[str, bytes]]:
    """Every item of the demo-news publishers, ``copies`` times over (feed ``<n>-<name>``,
    links and guids made distinct per copy), and each feed's channel header."""
    root = data_dir / DEMO_NEWS
    publishers = sorted(p.name for p in root.iterdir() if (p / "feed.xml").is_file())
    if not publishers:
        raise FileNotFoundError(f"no publishers' feed.xml under {root}")
    entries: list[Entry] = []
    heads: dict[str, bytes] = {}
    for copy in range(copies):
        for name in publishers:
            data = (root / name / "feed.xml").read_bytes()
            head = data[: data.index(b"<item>")]
            feed = f"{copy}-{name}"
            heads[feed] = head.replace(b"://", f"://c{copy}.".encode())
            for match in _ITEM.finditer(data):
                xml = match.group(0).replace(b"://", f"://c{copy}.".encode())
                found = _GUID.search(xml)
                guid = (found.group(1) if found else b"").decode()
                xml = xml.replace(f">{guid}<".encode(), f">c{copy}-{guid}<".encode(), 1)
                entries.append(Entry(feed, f"c{copy}-{guid}", xml))
    return entries, heads


#: What a loopback server answers a GET of a path with: a body and its content type, or
#: None for 404.
Respond = Callable[[str], tuple[bytes, str] | None]


class LoopbackServer:
    """An HTTP/1.1 server on a free loopback port, answering each GET with ``respond(path)``;
    it serves from a thread of its own while :meth:`serving`."""

    def __init__(self, respond: Respond) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                found = respond(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve until the block ends; yields the base URL."""
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self.base
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


class NewsServer:
    """Serves ``/<feed>.xml``: the entries of that feed that have appeared by now, newest
    first, and counts requests per feed and which entries were ever served."""

    def __init__(self, plan: NewsPlan) -> None:
        self.plan = plan
        #: When the plan's clock started (:meth:`start`); before, only the entries planned
        #: before it (at a negative time) appear.
        self.started: float | None = None
        self.requests: Counter[str] = Counter()
        self.served: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        by_feed: dict[str, list[tuple[float, Entry]]] = {}
        for at, entry in sorted(zip(plan.at, plan.entries, strict=True), key=lambda p: p[0]):
            by_feed.setdefault(entry.feed, []).append((at, entry))
        self._by_feed = by_feed
        self._server = LoopbackServer(self._respond)
        self.base = self._server.base

    @property
    def feeds(self) -> list[str]:
        return sorted(self._by_feed)

    def url(self, feed: str) -> str:
        return f"{self.base}/{feed}.xml"

    def start(self) -> None:
        """Entries appear from now on (``plan.at`` counts from here)."""
        self.started = time.monotonic()

    def appeared(self, entry_index: int) -> float:
        """The monotonic time at which an entry appeared."""
        if self.started is None:
            raise RuntimeError("the news server's clock has not started")
        return self.started + self.plan.at[entry_index]

    def _respond(self, path: str) -> tuple[bytes, str] | None:
        name = path.lstrip("/").removesuffix(".xml")
        if name not in self._by_feed:
            return None
        return self.render(name), "application/rss+xml; charset=utf-8"

    def render(self, name: str) -> bytes:
        elapsed = -0.5 if self.started is None else time.monotonic() - self.started
        shown = [(at, e) for at, e in self._by_feed[name] if at <= elapsed]
        now = datetime.now(UTC)
        items = []
        for at, entry in reversed(shown):
            xml = entry.xml
            if self.plan.redate:
                when = datetime.fromtimestamp(now.timestamp() - (elapsed - at), UTC)
                stamp = f"<pubDate>{format_datetime(when)}</pubDate>".encode()
                xml = _PUBDATE.sub(stamp, xml, count=1) if _PUBDATE.search(xml) else xml
            items.append(xml)
        with self._lock:
            self.requests[name] += 1
            self.served.update((name, e.guid) for _, e in shown)
        head = self.plan.heads[name]
        return head + b"".join(items) + b"</channel></rss>"

    @contextmanager
    def running(self) -> Iterator[NewsServer]:
        with self._server.serving():
            yield self


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
