"""Local feed files and folders: reading, signatures, guids, errors."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidings.errors import FetchError, InvalidURLError
from tidings.ingest.local import is_sidecar, path_from_url, read_local, url_from_path

NOW = datetime(2030, 1, 1, tzinfo=UTC)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local RSS</title><link>https://a.example/</link>
<item><title>Shared guid</title><link>https://a.example/1</link><guid>item-1</guid></item>
<item><title>No guid</title><link>https://a.example/2</link></item>
<item><title>Nothing to identify it</title></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Local Atom</title>
<entry><id>item-1</id><title>Same guid, other file</title>
<updated>2025-01-01T00:00:00Z</updated></entry>
</feed>"""
JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Local JSON",
        "items": [{"id": "j1", "title": "From JSON", "url": "https://j.example/1"}],
    }
).encode()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two feeds, a JSON Feed in a subfolder, a junk file, a sidecar and hidden files."""
    root = tmp_path / "feeds"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a.xml").write_bytes(RSS)
    (root / "b.atom").write_bytes(ATOM)
    (root / "sub" / "c.json").write_bytes(JSON_FEED)
    (root / "notes.txt").write_text("remember the milk\n")
    (root / "a.xml.serde.json").write_text('{"expected": "output"}')
    (root / ".DS_Store").write_bytes(b"\x00\x01junk")
    (root / ".git" / "config").write_text("[core]\n")
    return root


def test_folder_reads_every_feed_and_reports_the_junk(folder: Path) -> None:
    read = read_local(url_from_path(folder))
    assert not read.not_modified
    assert [f.title for f in read.feeds] == ["Local RSS", "Local Atom", "Local JSON"]
    assert len(read.errors) == 1
    assert read.errors[0].startswith("notes.txt: not a feed")


def test_folder_guids_are_distinct_and_stable(folder: Path) -> None:
    read = read_local(url_from_path(folder))
    rss, atom, json_feed = read.feeds
    assert [a.guid for a in rss.articles] == [
        "a.xml#item-1",
        "a.xml#https://a.example/2",  # no guid: the link stands in
        None,  # nothing to build one from
    ]
    assert [a.guid for a in atom.articles] == ["b.atom#item-1"]
    assert [a.guid for a in json_feed.articles] == ["sub/c.json#j1"]
    again = read_local(url_from_path(folder))
    assert [a.guid for f in again.feeds for a in f.articles] == [
        a.guid for f in read.feeds for a in f.articles
    ]


def test_signature_is_stable_and_short_circuits(folder: Path) -> None:
    url = url_from_path(folder)
    first = read_local(url)
    second = read_local(url, previous_signature=first.signature)
    assert second.signature == first.signature
    assert second.not_modified
    assert (second.feeds, second.errors) == ((), ())


@pytest.mark.parametrize("change", ["touch", "edit", "add", "remove", "rename"])
def test_any_change_gives_a_new_signature(folder: Path, change: str) -> None:
    url = url_from_path(folder)
    before = read_local(url).signature
    target = folder / "b.atom"
    if change == "touch":
        st = target.stat()
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif change == "edit":
        target.write_bytes(ATOM.replace(b"Local Atom", b"Local Atom!"))
    elif change == "add":
        (folder / "sub" / "d.xml").write_bytes(RSS)
    elif change == "remove":
        target.unlink()
    else:
        target.rename(folder / "b2.atom")
    after = read_local(url, previous_signature=before)
    assert after.signature != before
    assert not after.not_modified


def test_hidden_and_sidecar_files_do_not_count(folder: Path) -> None:
    url = url_from_path(folder)
    before = read_local(url).signature
    (folder / "a.xml.serde.json").write_text('{"changed": true}')
    (folder / ".DS_Store").write_bytes(b"changed")
    assert read_local(url, previous_signature=before).not_modified


def test_single_file_keeps_the_feed_guids(folder: Path) -> None:
    read = read_local(url_from_path(folder / "a.xml"))
    (feed,) = read.feeds
    assert [a.guid for a in feed.articles] == ["item-1", None, None]
    assert read.errors == ()
    assert feed.articles[2].published is None  # no date in the file: storage dates it


def test_single_file_that_is_not_a_feed(folder: Path) -> None:
    read = read_local(str(folder / "notes.txt"))
    assert read.feeds == ()
    assert len(read.errors) == 1 and read.errors[0].startswith("notes.txt: not a feed")


def test_too_large_files_are_skipped_with_an_error(folder: Path) -> None:
    read = read_local(url_from_path(folder), max_file_bytes=len(ATOM))
    assert [f.title for f in read.feeds] == ["Local Atom", "Local JSON"]
    assert any(e.startswith("a.xml: too large") for e in read.errors)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_a_named_pipe_is_not_read(folder: Path) -> None:
    os.mkfifo(folder / "pipe.xml")  # reading it would block forever
    read = read_local(url_from_path(folder))
    assert "pipe.xml: not a regular file" in read.errors
    assert len(read.feeds) == 3


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no such file or folder"):
        read_local(url_from_path(tmp_path / "gone"))


def test_path_and_url_conversions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spaced = tmp_path / "my feeds" / "wörld.xml"
    url = url_from_path(spaced)
    assert url.startswith("file:///") and "%20" in url
    assert path_from_url(url) == spaced.resolve()
    assert path_from_url(str(spaced)) == spaced.resolve()
    assert path_from_url("file://localhost" + str(spaced.resolve())) == spaced.resolve()
    monkeypatch.chdir(tmp_path)
    assert path_from_url("relative/x.xml") == (tmp_path / "relative" / "x.xml").resolve()
    assert path_from_url("~/x.xml") == Path("~/x.xml").expanduser().resolve()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "https://example.com/feed.xml",
        "file://otherhost/feeds/a.xml",
        "file:relative",
        "a\x00b",
    ],
)
def test_nonsense_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidURLError):
        path_from_url(url)


def test_sidecar_names() -> None:
    assert is_sidecar("rss_2.0_bbc.serde.json")
    assert is_sidecar("full.rss.py")
    assert not is_sidecar("feed.json")
    assert not is_sidecar("world.xml")


@pytest.mark.data
def test_reads_the_feed_rs_fixtures_in_place(shared_data: Path) -> None:
    """65 real feeds beside their *.serde.json expectations: the sidecars are never read."""
    fixtures = shared_data / "feeds/feed-rs/fixture"
    read = read_local(url_from_path(fixtures))
    candidates = [p for p in fixtures.rglob("*") if p.is_file() and not is_sidecar(p.name)]
    assert len(read.feeds) + len(read.errors) == len(candidates)
    assert not any(".serde.json" in e for e in read.errors)
    assert sorted(e.partition(":")[0] for e in read.errors) == [
        "xml/xml_sample_1.xml",
        "xml/xml_sample_2.xml",
    ]
    guids = [a.guid for f in read.feeds for a in f.articles if a.guid]
    assert len(guids) == len(set(guids))
    again = read_local(url_from_path(fixtures), previous_signature=read.signature)
    assert again.not_modified
