"""The command line, run as a real process against a real SQLite file and local feeds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run(
    db: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite:///{db}", **(env or {})}
    full_env.pop("TIDINGS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def feeds_dir(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    src = shared_data / "feeds" / "rss-parser" / "test" / "input"
    for name in ("guardian.rss", "heise.atom", "reddit.rss"):
        shutil.copy(src / name, folder / name)
    (folder / "notes.txt").write_text("not a feed at all")
    return folder


def test_local_folder_end_to_end(tmp_path: Path, feeds_dir: Path) -> None:
    db = tmp_path / "t.sqlite"
    added = run(db, "source", "add", str(feeds_dir), "--tag", "local")
    assert added.returncode == 0, added.stderr
    assert "(local)" in added.stdout

    first = run(db, "ingest", "--quiet")
    assert first.returncode == 0, first.stderr
    assert "1 source(s) read" in first.stdout
    assert "0 failed" in first.stdout

    listed = run(db, "source", "list", "--json")
    [source] = json.loads(listed.stdout)
    assert source["articles"] > 0
    assert source["last_error"] is None
    assert "could not be read" in source["warning"]  # notes.txt is named, not fatal

    again = run(db, "ingest", "--all", "--quiet", "--verbose")
    assert "unchanged" in again.stdout  # nothing on disk changed: nothing parsed

    articles = run(db, "article", "list", "--limit", "5")
    assert articles.returncode == 0
    first_id = articles.stdout.split()[0]
    shown = run(db, "article", "show", first_id, "--json")
    assert json.loads(shown.stdout)["id"] == int(first_id)

    exported = run(db, "opml", "export")
    assert "<opml" in exported.stdout and feeds_dir.as_uri() in exported.stdout


def test_opml_import_and_duplicate(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        '<outline text="World"><outline text="BBC" type="rss" '
        'xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/></outline></body></opml>'
    )
    assert "imported 1" in run(db, "opml", "import", str(opml)).stdout
    assert "1 already present" in run(db, "opml", "import", str(opml)).stdout
    listed = json.loads(run(db, "source", "list", "--json").stdout)
    assert listed[0]["tags"] == ["World"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("source", "add", "ftp://example.com/feed"), "unsupported URL scheme"),
        (("source", "add", "/no/such/folder/anywhere"), "no such file or folder"),
        (("article", "show", "999"), "999"),
        (("source", "remove", "12345"), "12345"),
        (("bench", "extract", "--data", "/no/such/folder"), "no html/ in /no/such/folder"),
        (("bench", "workers", "--data", "/no/such/folder"), "no demo-news/ in /no/such"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(tmp_path / "t.sqlite", *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_duplicate_source_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    url = "https://example.com/feed.xml"
    assert run(db, "source", "add", url).returncode == 0
    dup = run(db, "source", "add", url)
    assert dup.returncode == 1 and dup.stderr.startswith("error: ")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tidings", "source", "list"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "TIDINGS_DATABASE_URL": "postgresql+psycopg://u:secretpw@127.0.0.1:1/none",
        },
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "secretpw" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_ingest_exits_non_zero_when_storage_fails(tmp_path: Path, feeds_dir: Path) -> None:
    """Sources failing because Tidings' own storage refused (here: full) must reach cron and
    systemd as an exit status, and show in `source list` as not the source's fault."""
    import sqlite3

    db = tmp_path / "t.sqlite"
    assert run(db, "source", "add", str(feeds_dir)).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON articles "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    failed = run(db, "ingest", "--quiet", env={"TIDINGS_ENRICH": "0"})
    assert failed.returncode == 1
    assert "1 failed (1 for Tidings' own reasons)" in failed.stdout
    assert "database or disk is full" in failed.stderr and "Traceback" not in failed.stderr
    listed = run(db, "source", "list")
    assert "ERROR: Tidings' own failure, not the source's" in listed.stdout
    with sqlite3.connect(db) as conn:
        # Not backed off: the source did nothing wrong.
        assert conn.execute("SELECT failures FROM sources").fetchall() == [(0,)]

    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER full")
    again = run(db, "ingest", "--all", "--quiet", env={"TIDINGS_ENRICH": "0"})
    assert again.returncode == 0, again.stderr
    [source] = json.loads(run(db, "source", "list", "--json").stdout)
    assert source["last_error"] is None and source["articles"] > 0
