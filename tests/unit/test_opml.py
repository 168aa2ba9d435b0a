"""OPML import and export."""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

import pytest
from defusedxml.ElementTree import fromstring

from tidings.errors import OPMLError
from tidings.ingest.opml import parse_opml, write_opml
from tidings.types import OutlineEntry, Source, SourceKind

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Mine</title></head>
  <body>
    <outline type="rss" text="Top level" xmlUrl="https://top.example/rss" />
    <outline text="News">
      <outline text="World" title="World news">
        <outline type="rss" text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"
                 htmlUrl="https://www.bbc.co.uk/news/world" category="Europe,/Regions/UK/" />
        <outline text="Empty folder" />
      </outline>
      <outline type="rss" title="Only a title" XMLURL="  https://lower.example/feed  " />
    </outline>
    <outline text="Also here">
      <outline type="rss" text="BBC again" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml" />
    </outline>
    <outline text="A link, not a feed" type="link" url="https://example.com/" />
  </body>
</opml>"""


def test_nested_folders_become_tags_outer_to_inner() -> None:
    entries = parse_opml(NESTED)
    assert entries == [
        OutlineEntry(url="https://top.example/rss", title="Top level"),
        OutlineEntry(
            url="https://feeds.bbci.co.uk/news/world/rss.xml",
            title="BBC",
            site="https://www.bbc.co.uk/news/world",
            # folder titles (title over text), then category, then the second listing's folder
            tags=("News", "World news", "Europe", "Regions/UK", "Also here"),
        ),
        OutlineEntry(url="https://lower.example/feed", title="Only a title", tags=("News",)),
    ]


def test_starter_list() -> None:
    content = (resources.files("tidings") / "data" / "starter.opml").read_bytes()
    entries = parse_opml(content)
    assert len(entries) >= 8
    hosts = {urlsplit(e.url).hostname for e in entries}
    assert len(hosts) == len(entries)  # one feed per outlet
    for entry in entries:
        assert entry.url.startswith("https://")
        assert entry.title and entry.site
        assert entry.tags == ("World news",)


def _sources() -> list[Source]:
    return [
        Source(id=1, url="https://a.example/rss", title="A", site="https://a.example/"),
        Source(id=2, url="https://b.example/rss", title="B & <b>", tags=("World",)),
        Source(id=3, url="https://c.example/rss?x=1&y=2", tags=("Tech", "AI", "Europe")),
        Source(id=4, url="https://d.example/rss", title='Quote "d"', tags=("World", "Daily")),
        Source(id=5, url="file:///srv/feeds/", kind=SourceKind.LOCAL, title="Local folder"),
        Source(id=6, url="manual:", kind=SourceKind.MANUAL, title="Pasted articles"),
    ]


def test_round_trip() -> None:
    sources = _sources()
    written = write_opml(sources, title="Export")
    entries = parse_opml(written.encode("utf-8"))
    expected = [s for s in sources if s.kind is not SourceKind.MANUAL]
    # Top-level sources first in the body, then folders in order of first use.
    by_url = {e.url: e for e in entries}
    assert set(by_url) == {s.url for s in expected}
    for source in expected:
        entry = by_url[source.url]
        assert entry.title == (source.title or source.url)
        assert entry.site == source.site
        assert entry.tags == source.tags


def test_written_document_is_opml_2() -> None:
    written = write_opml(_sources(), title="My <feeds>")
    assert written.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = fromstring(written.encode("utf-8"))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "My <feeds>"
    folders = [o.get("text") for o in root.findall("body/outline") if o.get("xmlUrl") is None]
    assert folders == ["World", "Tech"]  # grouped by first tag, in order of first use
    world = next(o for o in root.findall("body/outline") if o.get("text") == "World")
    assert [o.get("xmlUrl") for o in world] == ["https://b.example/rss", "https://d.example/rss"]


def test_empty_list() -> None:
    assert parse_opml(write_opml([]).encode()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"<opml><body><outline", "not well-formed"),
        (b'<rss version="2.0"><channel/></rss>', "root element is <rss>"),
        (b'<opml version="2.0"><head/></opml>', "no <body>"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x/"/></body></opml>',
            "declares XML entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://x/"/></body></opml>',
            "declares XML entities",
        ),
    ],
)
def test_bad_documents(content: bytes, message: str) -> None:
    with pytest.raises(OPMLError, match=message):
        parse_opml(content)


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000
    content = (
        b'<opml version="2.0"><body>'
        + b'<outline text="f">' * depth
        + b'<outline xmlUrl="https://deep.example/rss"/>'
        + b"</outline>" * depth
        + b"</body></opml>"
    )
    (entry,) = parse_opml(content)
    assert entry.url == "https://deep.example/rss"
    assert entry.tags == ("f",)  # the same folder name, once
