"""The understanding commands, run as real processes on the seed article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import run

pytestmark = pytest.mark.integration


@pytest.fixture
def seed_file(shared_data: Path) -> Path:
    path = shared_data.parent / "seed" / "xi-putin-belt-and-road.txt"
    if not path.is_file():
        pytest.skip(f"seed page not found at {path}")
    return path


def test_the_seed_article_is_understood(tmp_path: Path, seed_file: Path) -> None:
    db = tmp_path / "t.sqlite"
    env = {"TIDINGS_DATA_DIR": str(tmp_path / "data")}
    added = run(db, "article", "add", str(seed_file), "--text", "--source", "SCMP", env=env)
    assert added.returncode == 0, added.stderr
    article_id = added.stdout.split()[2].rstrip(":")

    shown = run(db, "article", "show", article_id, env=env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "China–Russia relations" in out
    assert "Xi Jinping [PERSON, Chinese President]" in out
    assert "Vladimir Putin [PERSON" in out
    assert "story " in out
    assert "quotes:" in out and "Wang Yi:" in out

    data = json.loads(run(db, "article", "show", article_id, "--json", env=env).stdout)
    analysis = data["analysis"]
    assert analysis["status"] == "done" and analysis["language"] == "en"
    kinds = {t["kind"] for t in analysis["topics"]}
    # The page's section ("China-Russia relations") names a relation: it is the relation's
    # topic, once, not a section topic beside it (migration 0008).
    assert kinds == {"taxonomy", "relation"}
    relations = [t["label"] for t in analysis["topics"] if t["kind"] == "relation"]
    assert relations == ["China–Russia relations"]
    names = {e["name"] for e in analysis["entities"]}
    assert {"Xi Jinping", "Vladimir Putin", "Wang Yi", "Belt and Road Initiative"} <= names
    speakers = {q["entity"] for q in analysis["quotes"]}
    assert {"Xi Jinping", "Vladimir Putin", "Wang Yi"} <= speakers
    expected = json.loads((seed_file.parent / "expected.json").read_text("utf-8"))
    for quote in expected["quotes"]:
        found = [q for q in analysis["quotes"] if q["text"].startswith(quote["starts"])]
        assert [q["entity"] for q in found] == [quote["speaker"]], quote
    # The stored entities carry what the article called them.
    stored = {e["name"]: e for e in analysis["entities"]}
    for name, aliases in expected["entities"]["PERSON"].items():
        assert set(aliases) <= {*stored[name]["aliases"], name}, name

    entities = run(db, "entity", "list", "--type", "PERSON", env=env)
    assert entities.returncode == 0, entities.stderr
    assert "Xi Jinping" in entities.stdout
    xi = run(db, "entity", "show", "Chinese President Xi Jinping", env=env)
    assert xi.returncode == 0, xi.stderr
    assert xi.stdout.startswith("Xi Jinping  [PERSON")
    assert "quotes:" in xi.stdout
    missing = run(db, "entity", "show", "Nobody Atall", env=env)
    assert missing.returncode == 1 and "no such entity" in missing.stderr

    stories = json.loads(run(db, "story", "list", "--json", env=env).stdout)
    [story] = stories
    assert story["article_count"] == 1
    shown_story = run(db, "story", "show", str(story["id"]), env=env)
    assert "sources: SCMP" in shown_story.stdout
    assert run(db, "story", "show", "999", env=env).returncode == 1

    topics = run(db, "topic", "list", env=env)
    assert "relation" in topics.stdout and "China–Russia relations" in topics.stdout

    again = run(db, "enrich", "--all", "--quiet", env=env)
    assert again.returncode == 0, again.stderr
    assert "1 article(s) analysed" in again.stdout
    assert json.loads(run(db, "story", "list", "--json", env=env).stdout) == stories


def test_enrich_on_an_empty_database_says_so(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    env = {"TIDINGS_DATA_DIR": str(tmp_path / "data")}
    result = run(db, "enrich", env=env)
    assert result.returncode == 0, result.stderr
    assert "0 article(s) analysed" in result.stdout
    assert "no entities yet" in run(db, "entity", "list", env=env).stdout
    assert "no stories yet" in run(db, "story", "list", env=env).stdout
