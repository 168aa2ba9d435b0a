"""``tidings bench feed`` end to end at a tiny size: the report's shape and the generated
data's consistency (the timings themselves belong in BENCHMARKS.md, not in a test)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tidings.bench import feed
from tidings.store.embedding import from_bytes, to_bytes

ARTICLES = 2_000
READERS = 20
PAGES = 5


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("bench-feed")
    # One warm-up page and two profiled: the timings are not what this test is about.
    return feed.run(
        articles=ARTICLES,
        readers=READERS,
        pages=PAGES,
        workdir=workdir,
        echo=lambda _: None,
        warmup=1,
        profiled=2,
    )


@pytest.fixture(scope="module")
def db(result: dict[str, Any]) -> sqlite3.Connection:
    return sqlite3.connect(result["parameters"]["database"])


def test_report_shape(result: dict[str, Any]) -> None:
    assert result["pages"] == PAGES
    assert set(result["ms"]) == {"p50", "p90", "p99", "max", "mean"}
    assert 0 < result["ms"]["p50"] <= result["ms"]["p99"] <= result["ms"]["max"]
    # A page's CPU is part of its time (with a little slack for the clocks' resolutions).
    assert 0 < result["cpu_ms"]["p50"] <= result["cpu_ms"]["p99"] <= result["ms"]["max"] + 5
    assert result["pages_per_second"]["threads_1"] > 0
    assert result["pages_per_second"]["threads_2"] > 0
    assert result["peak_rss_mb"] > 0
    assert result["items_per_page"] > 0
    assert result["profile"]["parts"]
    assert all(part["ms_per_page"] >= 0 for part in result["profile"]["parts"].values())
    assert result["generation"]["cached"] is False
    text = feed.format_report(result)
    assert "p99" in text
    assert "pages/s" in text and "CPU of the page's thread" in text


def test_counts(result: dict[str, Any], db: sqlite3.Connection) -> None:
    def count(table: str) -> int:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    assert count("articles") == ARTICLES
    assert count("enrichments") == ARTICLES
    assert count("readers") == READERS
    assert count("events") == READERS * feed.EVENTS
    assert count("stories") == result["generation"]["stories"]
    assert db.execute("SELECT sum(article_count) FROM stories").fetchone()[0] == ARTICLES
    # Every article names 5 to 15 entities, some in the lead, and has a taxonomy topic.
    per_article = db.execute(
        "SELECT min(n), max(n) FROM "
        "(SELECT count(*) AS n FROM article_entities GROUP BY article_id)"
    ).fetchone()
    assert tuple(per_article) == (5, 15)
    assert (
        db.execute("SELECT count(DISTINCT article_id) FROM article_entities").fetchone()[0]
        == ARTICLES
    )
    lead = db.execute(
        "SELECT count(DISTINCT article_id) FROM article_entities WHERE first_offset < 300"
    ).fetchone()[0]
    assert lead == ARTICLES
    tagged = db.execute(
        "SELECT count(DISTINCT a.article_id) FROM article_topics a JOIN topics t "
        "ON t.id = a.topic_id WHERE t.kind = 'taxonomy'"
    ).fetchone()[0]
    assert tagged == ARTICLES
    assert (
        db.execute(
            "SELECT count(*) FROM article_topics WHERE topic_id NOT IN (SELECT id FROM topics)"
        ).fetchone()[0]
        == 0
    )


def test_every_reader_follows_fifty(db: sqlite3.Connection) -> None:
    follows = [
        n
        for (n,) in db.execute(
            "SELECT count(*) FROM interests WHERE stance = 'follow' GROUP BY reader_id"
        )
    ]
    assert follows == [feed.FOLLOWS] * READERS
    kinds = {k for (k,) in db.execute("SELECT DISTINCT kind FROM interests")}
    assert kinds == set(feed.FOLLOW_MIX)
    # Ids are stored as text, as Readers._resolve_interest stores them.
    dangling = db.execute(
        "SELECT count(*) FROM interests WHERE kind = 'entity' "
        "AND CAST(value AS INTEGER) NOT IN (SELECT id FROM entities)"
    ).fetchone()[0]
    assert dangling == 0


def test_vectors_are_unit_and_clustered(db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT vector, story_id FROM enrichments ORDER BY article_id").fetchall()
    vectors = np.stack([from_bytes(v) for v, _ in rows])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    stories = np.array([s for _, s in rows])
    # Members of one story are far closer to each other than to other stories.
    big = np.bincount(stories).argmax()
    members = vectors[stories == big]
    within = (members @ members.T)[np.triu_indices(len(members), 1)].mean()
    across = float((members[:5] @ vectors[stories != big][:200].T).mean())
    assert within > 0.5 > across + 0.2


def test_bulk_quantisation_matches_to_bytes() -> None:
    rows = np.random.default_rng(1).standard_normal((5, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    assert feed.vectors_to_bytes(rows) == [to_bytes(r) for r in rows]


def test_rerun_uses_the_cache(result: dict[str, Any]) -> None:
    workdir = Path(result["parameters"]["database"]).parent
    _, stats = feed.prepare(workdir, articles=ARTICLES, readers=READERS, echo=lambda _: None)
    assert stats["cached"] is True
