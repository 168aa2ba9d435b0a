"""`tidings extract` on good and hostile input, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 't.sqlite'}"}
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("doc.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n" + bytes(range(256)) * 4, "PDF"),
        ("empty.html", b"", "empty page"),
        ("blank.html", b"   \n\t  \n", "empty page"),
        ("noise.bin", bytes(range(256)) * 64, "binary"),
        ("huge.html", b"<html><body>" + b"<p>word word word</p>" * 300_000, "too large"),
    ],
)
def test_bad_pages_get_one_clear_line(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run("extract", str(path), tmp_path=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_missing_file(tmp_path: Path) -> None:
    result = run("extract", str(tmp_path / "nope.html"), tmp_path=tmp_path)
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_deeply_nested_and_malformed_html_neither_crashes_nor_hangs(tmp_path: Path) -> None:
    path = tmp_path / "nested.html"
    depth = 20_000
    path.write_text(
        "<html><body>" + "<div><span>" * depth + "<p>Deep text." + "</table></i>" * 50,
        encoding="utf-8",
    )
    result = run("extract", str(path), "--json", tmp_path=tmp_path)
    # Either an (empty) article or one clear error line: never a traceback.
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        json.loads(result.stdout)
    else:
        assert result.stderr.startswith("error: ")


def test_page_without_charset_in_latin1(tmp_path: Path) -> None:
    paragraphs = "".join(
        f"<p>Le ministre a annoncé une réforme ambitieuse des retraites, numéro {i}, "
        "qui suscite déjà des réactions très vives à l'Assemblée nationale.</p>"
        for i in range(8)
    )
    html = (
        "<html><head><title>Réforme</title></head>"
        f"<body><article>{paragraphs}</article></body></html>"
    )
    path = tmp_path / "latin1.html"
    path.write_bytes(html.encode("latin-1"))
    result = run("extract", str(path), "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)["body"]
    assert "annoncé une réforme" in body


def test_seed_as_json(tmp_path: Path, shared_data: Path) -> None:
    seed = shared_data.parent / "seed" / "xi-putin-belt-and-road.txt"
    expected = json.loads((seed.parent / "expected.json").read_text("utf-8"))
    result = run("extract", str(seed), "--text", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == expected["title"]
    assert article["section"] == expected["section"]
    assert article["summary_points"] == expected["summary"]
