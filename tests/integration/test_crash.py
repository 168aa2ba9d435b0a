"""Crashes: a process killed at any moment leaves nothing lost, on SQLite and PostgreSQL.

The articles are real news (``../shared/data/demo-news``), read from a local feed file by the
command line, as an operator would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.processes import TidingsProcess, tidings_env
from tidings.config import Settings
from tidings.engine import make_engine
from tidings.types import EnrichmentStatus

pytestmark = [pytest.mark.integration, pytest.mark.data]


def news_feed(shared_data: Path, folder: Path, items: int, publisher: str = "metro-wire") -> Path:
    """The first ``items`` entries of one demo-news publisher, as a feed file of its own."""
    text = (shared_data / "demo-news" / publisher / "feed.xml").read_text(encoding="utf-8")
    end = 0
    for _ in range(items):
        end = text.index("</item>", end) + len("</item>")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{publisher}.xml"
    path.write_text(text[:end] + "</channel></rss>", encoding="utf-8")
    return path


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    with TidingsProcess(args, env) as process:
        code = process.wait(timeout)
        output = process.output
    assert code == 0, output
    return output


def analysed(database_url: str) -> int:
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT count(*) FROM enrichments")).scalar_one()
    finally:
        engine.dispose()
    return int(found)


def test_a_killed_enrich_leaves_the_vector_index_complete(
    database_url: str, tmp_path: Path, shared_data: Path
) -> None:
    """`tidings enrich` killed half-way used to leave the index file without the analyses
    stored before the kill (328 of 1,032 on SQLite), for good: the file was written only at
    the end, and an older valid file was never rebuilt."""
    feed = news_feed(shared_data, tmp_path / "feeds", 200)
    env = tidings_env(database_url, tmp_path / "data", TIDINGS_ENRICH="0")
    run(["source", "add", str(feed)], env)
    run(["ingest", "--quiet"], env)
    # A first run leaves a valid file, which the second run's kill must not leave stale.
    run(["enrich", "--quiet", "--limit", "20"], env)
    with TidingsProcess(["enrich", "--quiet"], env) as enrich:
        deadline = time.monotonic() + 300
        while analysed(database_url) < 100:  # at least one batch stored after the first run
            assert enrich.process.poll() is None, enrich.output
            assert time.monotonic() < deadline, "enrichment made no progress"
            time.sleep(0.2)
        enrich.kill()
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", enrich=False)
    with make_engine(settings) as engine:
        storage = engine.storage
        vectors = dict(storage.article_vectors(limit=100_000))
        done = [
            a.id
            for a in storage.list_articles(limit=1000)
            if (insight := storage.article_insight(a.id)) is not None
            and insight.status is EnrichmentStatus.DONE
        ]
        assert len(done) >= 100 and set(done) <= set(vectors)
        index = engine.enrichment.vectors()
        assert index is not None
        assert [a for a in done if a not in index] == []
