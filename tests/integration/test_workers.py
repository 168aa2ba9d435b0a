"""Several `tidings worker` processes on one PostgreSQL: the work divided, none done twice,
none lost when a worker is killed; and the same code as one process on SQLite."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.test_crash import news_feed
from tests.loopback import Canned, LoopbackServer
from tests.processes import TidingsProcess, tidings_env
from tidings.config import Settings
from tidings.engine import make_engine

pytestmark = pytest.mark.integration


def feed(n: int) -> bytes:
    items = "".join(
        f"<item><guid>f{n}-{i}</guid><title>Story {i} of feed {n}</title>"
        f"<description>What happened in story {i}, as feed {n} tells it.</description></item>"
        for i in range(5)
    )
    return f"<rss version='2.0'><channel><title>Feed {n}</title>{items}</channel></rss>".encode()


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def workers(count: int, args: list[str], env: dict[str, str]) -> list[TidingsProcess]:
    return [
        TidingsProcess(["--allow-network", "127.0.0.1/32", "worker", *args], env)
        for _ in range(count)
    ]


def finish(processes: list[TidingsProcess], timeout: float = 600) -> None:
    for process in processes:
        code = process.wait(timeout)
        output = process.output
        process.stop()
        assert code == 0, output


@pytest.mark.postgres
def test_three_ingest_workers_never_poll_a_source_twice(
    postgres_url: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    feeds = 45
    for n in range(feeds):
        # Slow enough that the three workers' passes overlap.
        loopback.add(f"/feed{n}.xml", Canned(body=feed(n), delay=0.2))
    settings = Settings(database_url=postgres_url, data_dir=tmp_path, enrich=False)
    with make_engine(settings) as engine:
        for n in range(feeds):
            engine.add_source(loopback.url(f"/feed{n}.xml"), operator=True)
    env = tidings_env(postgres_url, tmp_path, TIDINGS_ENRICH="0")
    finish(workers(3, ["--role", "ingest", "--until-idle"], env))
    # One due window (every source is next due in 5 minutes at the soonest): one request.
    assert [loopback.hits(f"/feed{n}.xml") for n in range(feeds)] == [1] * feeds
    assert rows(postgres_url, "SELECT count(*) FROM articles") == [(feeds * 5,)]
    assert rows(postgres_url, "SELECT count(*) FROM sources WHERE last_success IS NULL") == [(0,)]


@pytest.mark.postgres
@pytest.mark.data
def test_analysis_workers_never_analyse_an_article_twice(
    postgres_url: str, tmp_path: Path, shared_data: Path
) -> None:
    env = tidings_env(
        postgres_url,
        tmp_path,
        TIDINGS_ENRICH="0",
        # Full analyses only: one per article, as a steady flow gets them.
        TIDINGS_WORKERS__QUICK_BACKLOG="1000000",
    )
    ingest(env, shared_data, tmp_path, 160)
    finish(workers(3, ["--role", "analyse", "--until-idle"], env))
    counts = rows(postgres_url, "SELECT analyses, depth, count(*) FROM enrichments GROUP BY 1, 2")
    assert counts == [(1, "full", 160)]
    assert rows(postgres_url, "SELECT count(*) FROM analysis_queue") == [(0,)]
    # The steps that look across articles saw each other's work: one story per event.
    assert rows(
        postgres_url, "SELECT count(*) FROM enrichments WHERE story_id IS NULL AND status = 'done'"
    ) == [(0,)]


def ingest(env: dict[str, str], shared_data: Path, tmp_path: Path, items: int) -> None:
    path = news_feed(shared_data, tmp_path / "feeds", items)
    for args in (["source", "add", str(path)], ["ingest", "--quiet"]):
        with TidingsProcess(args, env) as process:
            assert process.wait(300) == 0, process.output


@pytest.mark.postgres
@pytest.mark.data
def test_the_work_of_a_killed_worker_is_taken_over(
    postgres_url: str, tmp_path: Path, shared_data: Path
) -> None:
    env = tidings_env(
        postgres_url,
        tmp_path,
        TIDINGS_ENRICH="0",
        TIDINGS_WORKERS__LEASE_SECONDS="15",
        TIDINGS_WORKERS__QUICK_BACKLOG="1000000",
    )
    ingest(env, shared_data, tmp_path, 150)
    [doomed] = workers(1, ["--role", "analyse"], env)
    try:
        deadline = time.monotonic() + 300
        # Killed holding a lease, after storing some of its work.
        while (
            rows(postgres_url, "SELECT count(*) FROM enrichments")[0][0] < 20
            or not rows(
                postgres_url, "SELECT count(*) FROM analysis_queue WHERE lease_owner IS NOT NULL"
            )[0][0]
        ):
            assert doomed.process.poll() is None, doomed.output
            assert time.monotonic() < deadline
            time.sleep(0.1)
        doomed.kill()
    finally:
        doomed.stop()
    held = rows(postgres_url, "SELECT count(*) FROM analysis_queue WHERE lease_owner IS NOT NULL")
    assert held[0][0] > 0
    finish(workers(1, ["--role", "analyse", "--until-idle"], env))
    assert rows(postgres_url, "SELECT count(*) FROM analysis_queue") == [(0,)]
    assert rows(postgres_url, "SELECT count(*), min(depth), max(depth) FROM enrichments") == [
        (150, "full", "full")
    ]


@pytest.mark.data
def test_one_worker_on_sqlite_does_everything(tmp_path: Path, shared_data: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env = tidings_env(url, tmp_path, TIDINGS_ENRICH="0")
    path = news_feed(shared_data, tmp_path / "feeds", 40)
    with TidingsProcess(["source", "add", str(path)], env) as process:
        assert process.wait(120) == 0, process.output
    finish(workers(1, ["--until-idle"], env))
    assert rows(url, "SELECT count(*), min(analyses), max(analyses) FROM enrichments") == [
        (40, 1, 1)
    ]


def test_a_worker_exits_non_zero_when_storage_fails(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    loopback.serve("/feed.xml", feed(0))
    db = tmp_path / "db.sqlite"
    settings = Settings(database_url=f"sqlite:///{db}", data_dir=tmp_path, enrich=False)
    with make_engine(settings) as engine:
        engine.add_source(loopback.url("/feed.xml"), operator=True)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON articles "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    [worker] = workers(1, ["--role", "ingest"], tidings_env(f"sqlite:///{db}", tmp_path))
    with worker:
        assert worker.wait(120) == 1
        output = worker.output
    assert "Tidings' own reasons" in output and "database or disk is full" in output
