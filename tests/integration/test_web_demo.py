"""The offline demo on ``../shared/data/demo-news``: ``tidings demo --feeds`` as ``make demo
DEMO_FEEDS=../shared/data/demo-news`` runs it, as a real process over a fresh SQLite file.

Analysis is off here (``TIDINGS_ENRICH=0``: analysing the 6,315 articles takes most of half
an hour on two cores); what the analysed first page shows is measured by
``tests/e2e/measure_demo.py`` (BENCHMARKS.md, the reader's page) and, on a smaller part of
the same news, by the browser tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"TIDINGS_DATA_DIR": str(data_dir), "TIDINGS_ENRICH": "0"}
    env.pop("TIDINGS_DATABASE_URL", None)
    env.pop("TIDINGS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_the_demo_reads_one_source_per_publisher_folder(tmp_path: Path, shared_data: Path) -> None:
    demo = shared_data / "demo-news"
    if not demo.is_dir():
        pytest.skip(f"demo-news not found at {demo}")
    publishers = sorted(p.name for p in demo.iterdir() if p.is_dir())
    assert len(publishers) == 12
    done = run(tmp_path, "demo", "--feeds", str(demo), "--no-serve")
    assert done.returncode == 0, done.stderr
    assert "12 publishers' folders" in done.stdout
    assert "sign in as demo / tidings-demo" in done.stdout
    listed = run(tmp_path, "source", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    sources = json.loads(listed.stdout)
    # One source per folder, named by its feed's own title ("Capital Chronicle"), each with
    # its articles, none failing.
    folders = sorted(Path(s["url"].removeprefix("file://")).name for s in sources)
    assert folders == publishers
    for s in sources:
        assert s["title"] and not s["title"].startswith("Local feeds"), s
        assert s["articles"] > 400 and s["last_error"] is None, s
    assert sum(s["articles"] for s in sources) == 6315
    # Running it again adds nothing twice.
    again = run(tmp_path, "demo", "--feeds", str(demo), "--no-serve")
    assert again.returncode == 0, again.stderr
    assert len(json.loads(run(tmp_path, "source", "list", "--json").stdout)) == 12
