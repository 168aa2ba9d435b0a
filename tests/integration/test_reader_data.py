"""What is the reader's own, through the real app: adding an article by address or pasted
page (and bad input refused with nothing stored), suggestions of things to follow, undoing a
hide, exporting their data and importing it on a fresh instance, and deleting the account;
in the API, the pages and the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

import tidings.accounts
import tidings.errors
from tests.integration.test_api_accounts import assert_error, signed_in
from tests.integration.test_cli import run
from tests.integration.test_feed import newsroom
from tests.integration.test_web import Page, submit
from tests.integration.test_web import sign_up as sign_up_on_page
from tests.loopback import LoopbackServer
from tidings.api.app import create_app
from tidings.api.limits import AuthRateLimits
from tidings.config import FetchSettings, Settings
from tidings.engine import Engine, make_engine
from tidings.readers import CLIPPINGS_SOURCE
from tidings.types import EventKind, InterestKind, ReaderEvent, Stance

pytestmark = pytest.mark.integration

#: Every table that holds a reader's own rows.
READER_TABLES = ("interests", "events", "saved", "clippings", "accounts", "tokens")

ARTICLE_PAGE = b"""<!doctype html><html><head>
<title>Harbour reopens after storm | The Coast Post</title>
<meta property="og:site_name" content="The Coast Post">
<meta property="og:title" content="Harbour reopens after storm">
<link rel="canonical" href="https://coast.example/news/harbour-reopens">
</head><body><article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Tuesday after a storm closed it for three days, the port
authority said. Fishing boats returned to their moorings by the afternoon.</p>
<p>Engineers inspected the sea wall overnight and found no lasting damage, the authority
said in a statement. Ferries will run on their usual timetable from Wednesday.</p>
<p>Local businesses said the closure had cost them a week of trade in the busiest month of
the year, and asked the council for help with the losses.</p>
</article></body></html>"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp: Path = tmp_path_factory.mktemp("reader-data")
    settings = Settings(database_url=f"sqlite:///{tmp / 'db.sqlite'}", data_dir=tmp)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tidings.accounts, "_HASHER", PasswordHasher(1, 8, 1))
        patch.setattr(tidings.accounts, "_DUMMY", None)
        with make_engine(settings) as engine:
            newsroom(engine)
            yield create_app(engine, auth_limits=AuthRateLimits(limit=10_000))


@pytest.fixture
def app(world: FastAPI) -> FastAPI:
    return world


def engine_of(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


_readers = iter(range(1_000_000))


def fresh(app: FastAPI) -> TestClient:
    return signed_in(app, f"clipper{next(_readers)}")


def reader_id(app: FastAPI, client: TestClient) -> int:
    return int(client.get("/api/me").json()["reader"]["id"])


def counts(engine: Engine) -> tuple[int, ...]:
    """How many articles and clippings are stored (bad input must change neither)."""
    with engine.storage._transaction("count") as conn:
        return tuple(
            int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("articles", "clippings", "saved", "sources")
        )


@pytest.fixture(scope="module")
def seed(shared_data: Path) -> Path:
    return shared_data.parent / "seed" / "xi-putin-belt-and-road.txt"


# --- adding an article -----------------------------------------------------------------------


def test_the_pasted_seed_is_the_article_tidings_extract_gives(app: FastAPI, seed: Path) -> None:
    engine = engine_of(app)
    client = fresh(app)
    expected = engine.extract(str(seed), text=True)
    added = client.post("/api/articles", json={"text": seed.read_text("utf-8")})
    assert added.status_code == 201, added.text
    body = added.json()
    stored = engine.get_article(body["id"])
    for name in ("title", "body", "summary_points", "section", "summary", "site_name"):
        assert getattr(stored, name) == getattr(expected, name), name
    assert [(i.caption, i.credit) for i in stored.images] == [
        (i.caption, i.credit) for i in expected.images
    ]
    # Analysed and joined to its story: the newsroom's meeting of Xi and Putin.
    assert body["story"] is not None and body["story"]["article_count"] >= 2
    assert "Xi Jinping" in {e["name"] for e in body["entities"]}
    # The publisher's section "China-Russia relations" and the relation found in the text
    # are one topic.
    topics = [t["id"] for t in body["topics"]]
    assert topics.count("relation:china-russia") == 1
    assert not [t for t in topics if t.startswith("section:china-russia")]
    # Saved for this reader, and listed as their clipping with where it came from.
    assert body["id"] in [a["id"] for a in client.get("/api/saved").json()]
    [clipping] = client.get("/api/clippings").json()
    assert clipping["article"]["id"] == body["id"] and clipping["source"] == "Pasted page"
    assert engine.get_source(stored.source_id).title == CLIPPINGS_SOURCE
    # Pasting it again finds the same article.
    again = client.post("/api/articles", json={"text": seed.read_text("utf-8")})
    assert again.json()["id"] == body["id"]
    assert len(client.get("/api/clippings").json()) == 1


def test_an_article_by_its_address_is_fetched_as_the_reader_gave_it(tmp_path: Path) -> None:
    asked: list[httpx.Request] = []

    def publisher(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        # A stream, as the network gives it (the fetcher reads the body in chunks).
        return httpx.Response(
            200, stream=httpx.ByteStream(ARTICLE_PAGE), headers={"content-type": "text/html"}
        )

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path, enrich=False
    )
    with make_engine(settings, transport=httpx.MockTransport(publisher)) as engine:
        client = signed_in(create_app(engine), "ana")
        added = client.post(
            "/api/articles", json={"url": "https://coast.example/news/harbour-reopens?ref=rss"}
        )
        assert added.status_code == 201, added.text
        assert added.json()["title"] == "Harbour reopens after storm"
        assert str(asked[0].url) == "https://coast.example/news/harbour-reopens?ref=rss"
        [clipping] = client.get("/api/clippings").json()
        assert clipping["source"] == "The Coast Post"
        assert clipping["article"]["id"] in [a["id"] for a in client.get("/api/saved").json()]


def test_a_readers_address_never_uses_the_operators_network_allowances(tmp_path: Path) -> None:
    with LoopbackServer() as site:
        site.serve("/story.html", ARTICLE_PAGE, content_type="text/html")
        # The operator lets Tidings reach this machine (for a feed of their own).
        fetch = FetchSettings(allowed_networks=("127.0.0.1/32",), attempts=1)
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            data_dir=tmp_path,
            enrich=False,
            fetch=fetch,
        )
        with make_engine(settings) as engine:
            # The operator's own command reaches it...
            engine.add_article(site.url("/story.html"))
            before = counts(engine)
            served = len(site.requests())
            # ...a reader's address to the same place is refused, and nothing is stored.
            client = signed_in(create_app(engine), "ana")
            refused = client.post("/api/articles", json={"url": site.url("/story.html")})
            body = assert_error(refused, 422, "invalid_url")
            assert "not on the public web" in body["message"]
            assert "ALLOWED_NETWORKS" not in body["message"]
            assert counts(engine) == before and len(site.requests()) == served


BAD_INPUT = [
    ({"url": "not a web address"}, "invalid_url", "web address"),
    ({"url": "ftp://files.example/a.txt"}, "invalid_url", "https://"),
    ({"url": "http://127.0.0.1:9/admin"}, "invalid_url", "not on the public web"),
    ({"url": "http://10.1.2.3/intranet"}, "invalid_url", "not on the public web"),
    ({"url": "http://[::1]/"}, "invalid_url", "not on the public web"),
    ({"text": ""}, "invalid_input", "empty"),
    ({"text": " \n\n\t"}, "invalid_input", "empty"),
    ({"text": "\x7fELF\x02\x01\x01\x00" + "\x00\x03" * 400}, "invalid_input", "binary"),
    ({"text": "x" * 600_000}, "invalid_input", "far shorter"),
    ({}, "invalid_input", "either"),
    ({"url": "https://a.example/", "text": "both"}, "invalid_input", "either"),
]


@pytest.mark.parametrize(("body", "key", "says"), BAD_INPUT)
def test_bad_input_gets_a_4xx_from_the_api_and_stores_nothing(
    app: FastAPI, body: dict[str, str], key: str, says: str
) -> None:
    engine = engine_of(app)
    client = fresh(app)
    before = counts(engine)
    found = assert_error(client.post("/api/articles", json=body), 422, key)
    assert says in found["message"]
    assert counts(engine) == before


def test_a_20_mb_paste_is_refused_before_it_is_read(app: FastAPI) -> None:
    engine = engine_of(app)
    client = fresh(app)
    before = counts(engine)
    huge = b'{"text": "' + b"news " * (4 * 1024 * 1024) + b'"}'
    refused = client.post(
        "/api/articles", content=huge, headers={"content-type": "application/json"}
    )
    assert_error(refused, 413, "too_large")
    # The page's form gets a page that says what happened.
    page = TestClient(app)
    sign_up_on_page(page)
    csrf = Page(page.get("/clippings").text).form("Add the pasted article")[1]["csrf"]
    shown = page.post(
        "/clippings", files={"text": (None, "news " * (4 * 1024 * 1024))}, data={"csrf": csrf}
    )
    assert shown.status_code == 413 and shown.headers["content-type"].startswith("text/html")
    assert "That was too large to send" in shown.text and "give its address" in shown.text
    assert counts(engine) == before


@pytest.mark.parametrize(("body", "key", "says"), BAD_INPUT[:9])
def test_bad_input_on_the_page_is_shown_with_the_form_and_stores_nothing(
    app: FastAPI, body: dict[str, str], key: str, says: str
) -> None:
    engine = engine_of(app)
    client = TestClient(app)
    sign_up_on_page(client)
    form = client.get("/clippings")
    assert form.status_code == 200
    before = counts(engine)
    if "url" in body:
        shown = submit(client, form.text, "Add this article", url=body["url"])
    else:
        csrf = Page(form.text).form("Add the pasted article")[1]["csrf"]
        shown = client.post("/clippings", files={"text": (None, body["text"])}, data={"csrf": csrf})
    assert shown.status_code == 422
    alert = re.search(r'class="error" role="alert"[^>]*>([^<]+)<', shown.text)
    assert alert and says in alert.group(1), shown.text[:2000]
    assert counts(engine) == before


def test_adding_on_the_page_lists_the_clipping_with_its_source(app: FastAPI, seed: Path) -> None:
    client = TestClient(app)
    sign_up_on_page(client)
    form = client.get("/clippings?url=https://coast.example/a")
    # The bookmarklet's address arrives filled in, to be added with one press.
    assert 'value="https://coast.example/a"' in form.text
    csrf = Page(form.text).form("Add the pasted article")[1]["csrf"]
    done = client.post(
        "/clippings",
        files={"text": (None, seed.read_text("utf-8"))},
        data={"csrf": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert re.fullmatch(r"/clippings\?added=\d+#row-\d+", done.headers["location"])
    page = client.get(done.headers["location"]).text
    assert "Added and saved" in page and "Pasted page" in page
    assert "Putin discuss Gaza crisis" in page
    saved = client.get("/saved").text
    assert "Putin discuss Gaza crisis" in saved and 'href="/clippings"' in saved


# --- suggestions -----------------------------------------------------------------------------


def test_suggestions_find_xi_by_xi_with_type_and_count_and_follow_him(app: FastAPI) -> None:
    client = fresh(app)
    found = client.get("/api/suggest", params={"q": "xi"}).json()
    first = found[0]
    assert (first["kind"], first["label"], first["type"]) == ("entity", "Xi Jinping", "PERSON")
    assert first["articles"] >= 2 and first["detail"].startswith("Person · ")
    assert first["stance"] is None
    assert (
        client.put("/api/interests", json={"kind": "entity", "value": first["value"]}).status_code
        == 200
    )
    again = client.get("/api/suggest", params={"q": "XI JIN"}).json()
    assert again[0]["label"] == "Xi Jinping" and again[0]["stance"] == "follow"
    relation = client.get("/api/suggest", params={"q": "russia"}).json()
    assert ("topic", "relation:china-russia") in {(s["kind"], s["value"]) for s in relation}
    assert {
        (s["kind"], s["label"]) for s in client.get("/api/suggest", params={"q": "wire"}).json()
    } >= {("source", "https://wire.example/feed")}
    # Signed out, the same suggestions without a stance; bad queries are a 422.
    anonymous = TestClient(app).get("/api/suggest", params={"q": "xi"}).json()
    assert anonymous[0]["label"] == "Xi Jinping" and anonymous[0]["stance"] is None
    for q in ("x", "", "y" * 101):
        assert_error(client.get("/api/suggest", params={"q": q}), 422)


def test_onboarding_and_search_pages_suggest_without_script(app: FastAPI) -> None:
    client = TestClient(app)
    sign_up_on_page(client)
    onboarding = client.get("/onboarding", params={"q": "xi"})
    assert onboarding.status_code == 200
    assert 'data-suggest="find-follow-suggestions"' in onboarding.text
    assert "Found for “xi”" in onboarding.text and "Person · " in onboarding.text
    done = submit(client, onboarding.text, "Follow Xi Jinping")
    assert done.status_code == 303 and done.headers["location"] == "/onboarding?q=xi"
    again = client.get("/onboarding", params={"q": "xi"}).text
    assert "Unfollow Xi Jinping" in Page(again).shown_buttons()
    short = client.get("/onboarding", params={"q": "x"}).text
    assert "Suggestions need 2 to 100 characters." in short
    search = client.get("/search", params={"q": "Putin"}).text
    assert "Follow or mute" in search and "Follow Vladimir Putin" in Page(search).buttons()
    # The header's box on every page suggests as the reader types (with the script).
    assert 'data-suggest="site-search-suggestions"' in client.get("/saved").text


# --- undoing a hide ----------------------------------------------------------------------------


def test_a_hide_is_undone_through_the_api(app: FastAPI) -> None:
    client = fresh(app)
    article = client.get("/api/articles", params={"limit": 1}).json()[0]["id"]
    client.post("/api/events", json=[{"kind": "hide", "article_id": article}])
    engine = engine_of(app)
    assert engine.readers.is_hidden(reader_id(app, client), article)
    assert client.delete(f"/api/hidden/{article}").status_code == 204
    assert not engine.readers.is_hidden(reader_id(app, client), article)
    assert_error(client.delete(f"/api/hidden/{article}"), 404)


# --- the reader's data -------------------------------------------------------------------------


def busy_reader(app: FastAPI, seed: Path) -> tuple[TestClient, dict[str, Any]]:
    """A reader with something of everything: follows and mutes of every kind, a saved
    feed article, a pasted clipping, events and settings."""
    client = fresh(app)
    engine = engine_of(app)
    for kind, value, stance in (
        ("entity", "Xi Jinping", "follow"),
        ("topic", "China–Russia relations", "follow"),
        ("source", "https://wire.example/feed", "follow"),
        ("keyword", "Floods", "mute"),
        ("author", "Jane Doe", "follow"),
    ):
        response = client.put(
            "/api/interests", json={"kind": kind, "value": value, "stance": stance}
        )
        assert response.status_code == 200, response.text
    feed = client.get("/api/feed").json()["items"]
    first = feed[0]["article_id"]
    story = feed[0]["story_id"]
    assert (
        client.put(
            "/api/interests", json={"kind": "story", "value": str(story), "stance": "mute"}
        ).status_code
        == 200
    )
    assert client.put(f"/api/saved/{first}").status_code == 204
    clip = client.post("/api/articles", json={"text": seed.read_text("utf-8")}).json()["id"]
    client.post(
        "/api/events",
        json=[
            {"kind": "impression", "article_id": first, "value": 0},
            {"kind": "open", "article_id": first},
            {"kind": "read", "article_id": first, "value": 42},
            {"kind": "more", "article_id": clip},
        ],
    )
    assert (
        client.patch(
            "/api/me",
            json={
                "exploration": 0.25,
                "diversity": 0.6,
                "email": "busy@example.org",
                "digest": "weekly",
            },
        ).status_code
        == 200
    )
    return client, {"first": first, "clip": clip, "engine": engine}


def portable_state(client: TestClient) -> dict[str, Any]:
    """What must come across: follows and mutes by what they name, saved and clipped
    articles by title, events by kind and article title, the settings."""
    titles = {a["id"]: a["title"] for a in client.get("/api/saved").json()}
    me = client.get("/api/me").json()
    return {
        "interests": sorted(
            (i["kind"], i["stance"], i["label"]) for i in client.get("/api/interests").json()
        ),
        "saved": sorted(titles.values()),
        "clippings": sorted(c["article"]["title"] for c in client.get("/api/clippings").json()),
        "settings": (
            me["reader"]["exploration"],
            me["reader"]["diversity"],
            me["account"]["email"],
            me["account"]["digest"],
        ),
    }


def test_export_then_import_on_a_fresh_instance_gives_the_same_data(
    app: FastAPI, seed: Path, tmp_path: Path
) -> None:
    client, _ = busy_reader(app, seed)
    exported = client.get("/api/me/export")
    assert exported.status_code == 200
    assert 'attachment; filename="tidings-clipper' in exported.headers["content-disposition"]
    data = exported.json()
    assert data["format"] == "tidings-reader" and data["version"] == 1
    kinds = [e["kind"] for e in data["events"]]
    assert {"impression", "open", "read", "more"} <= set(kinds)
    before = portable_state(client)

    # A new Tidings with nothing in it: a new account, the file imported.
    other = tmp_path / "other"
    settings = Settings(database_url=f"sqlite:///{other / 'db.sqlite'}", data_dir=other)
    with make_engine(settings) as engine:
        there = signed_in(create_app(engine), "newcomer")
        imported = there.post(
            "/api/me/import", content=exported.content, headers={"content-type": "application/json"}
        )
        assert imported.status_code == 200, imported.text
        report = imported.json()
        assert report["saved"] == 2 and report["clippings"] == 1
        assert report["articles_added"] == 2 and report["sources_added"] == 1
        after = portable_state(there)
        # The story's mute names a story that exists only where its articles do.
        assert [i for i in before["interests"] if i[0] != "story"] == [
            i for i in after["interests"] if i[0] != "story"
        ]
        assert after["saved"] == before["saved"] and after["clippings"] == before["clippings"]
        assert after["settings"] == before["settings"]
        assert report["events"] == len(
            [
                e
                for e in data["events"]
                if e["article"] in (data["saved"] + [c["article"] for c in data["clippings"]])
            ]
        )
        # The clipping came with its whole text, and was analysed.
        [clipping] = there.get("/api/clippings").json()
        full = there.get(f"/api/articles/{clipping['article']['id']}").json()
        assert (
            full["body"]
            == engine_of(app)
            .get_article(engine_of(app).clippings(reader_id(app, client))[0][0].id)
            .body
        )
        assert "Xi Jinping" in {e["name"] for e in full["entities"]}

        # Importing the same file again changes nothing.
        again = there.post(
            "/api/me/import", content=exported.content, headers={"content-type": "application/json"}
        ).json()
        assert (again["articles_added"], again["events"], again["sources_added"]) == (0, 0, 0)
        assert portable_state(there) == after
        events = engine.storage.reader_events(reader_id(app, there), limit=10_000)
        assert len(events) == report["events"]

    # On the same instance, a second account gets everything, the story's mute too.
    twin = fresh(app)
    report = twin.post(
        "/api/me/import", content=exported.content, headers={"content-type": "application/json"}
    ).json()
    assert report["articles_added"] == 0 and not report["skipped"]
    assert portable_state(twin)["interests"] == before["interests"]


def test_a_file_that_is_not_an_export_is_refused_with_the_reason(app: FastAPI) -> None:
    client = fresh(app)
    before = client.get("/api/interests").json()
    for content, says in (
        (b"", "send the file"),
        (b"{not json", "not JSON"),
        (b'{"format": "other"}', "format"),
        (json.dumps({"format": "tidings-reader", "version": 1}).encode(), "exported"),
        (
            json.dumps(
                {
                    "format": "tidings-reader",
                    "version": 1,
                    "exported": "2026-01-01T00:00:00Z",
                    "reader": {"name": "x"},
                    "settings": {"exploration": 9, "diversity": 0.5},
                }
            ).encode(),
            "settings.exploration",
        ),
        (b"<opml><head/></opml>", "OPML"),
    ):
        refused = client.post("/api/me/import", content=content)
        assert says in assert_error(refused, 422)["message"], content
    assert client.get("/api/interests").json() == before


def test_feeds_as_opml_go_out_and_come_back_with_the_follows(app: FastAPI) -> None:
    client = fresh(app)
    client.put("/api/interests", json={"kind": "source", "value": "https://wire.example/feed"})
    client.put(
        "/api/interests",
        json={"kind": "source", "value": "https://markets.example/feed", "stance": "mute"},
    )
    opml = client.get("/api/me/export.opml")
    assert opml.status_code == 200 and opml.headers["content-type"].startswith("text/x-opml")
    assert "https://wire.example/feed" in opml.text and "https://paper.example/feed" in opml.text
    assert "markets.example" not in opml.text  # muted: not a feed this reader reads
    assert 'text="Following"' in opml.text
    other = fresh(app)
    report = other.post(
        "/api/me/import", content=opml.content, headers={"content-type": "text/x-opml"}
    ).json()
    assert report["follows"] == 1 and report["sources_added"] == 0
    follows = other.get("/api/interests").json()
    assert [(i["kind"], i["label"]) for i in follows] == [("source", "https://wire.example/feed")]


def test_settings_page_downloads_imports_and_offers_the_bookmarklet(
    app: FastAPI, seed: Path
) -> None:
    client = TestClient(app)
    sign_up_on_page(client)
    page = client.get("/settings").text
    bookmarklet = re.search(r'class="bookmarklet" href="([^"]+)"', page)
    assert bookmarklet and bookmarklet.group(1).startswith("javascript:")
    assert "http://testserver/clippings?url=" in bookmarklet.group(1).replace("&#34;", '"')
    assert 'href="/settings/export"' in page and 'href="/settings/export.opml"' in page
    exported = client.get("/settings/export")
    assert exported.status_code == 200 and exported.json()["format"] == "tidings-reader"
    # Another reader's file, imported through the page.
    source, _ = busy_reader(app, seed)
    csrf = Page(page).form("Import")[1]["csrf"]
    done = client.post(
        "/settings/import",
        files={"file": ("data.json", source.get("/api/me/export").content, "application/json")},
        data={"csrf": csrf},
    )
    assert done.status_code == 200
    assert re.search(r"Imported 4 follows, 2 mutes, 2 saved, 1 clipping, \d+ events\.", done.text)
    bad = client.post(
        "/settings/import", files={"file": ("x.json", b"{oops", "text/plain")}, data={"csrf": csrf}
    )
    assert bad.status_code == 422 and "Nothing was imported: not a Tidings export" in bad.text


# --- deleting the account ----------------------------------------------------------------------


def rows_of(engine: Engine, who: int) -> dict[str, int]:
    with engine.storage._transaction("count") as conn:
        return {
            t: int(
                conn.execute(
                    sa.text(f"SELECT count(*) FROM {t} WHERE reader_id = :r"),
                    {"r": who},
                ).scalar_one()
            )
            for t in READER_TABLES
        }


def test_deleting_the_account_on_the_page_leaves_nothing_of_the_reader(
    app: FastAPI, seed: Path
) -> None:
    engine = engine_of(app)
    client = TestClient(app)
    name = sign_up_on_page(client)
    who = engine.readers.get_reader(name).id
    page = client.get("/clippings").text
    csrf = Page(page).form("Add the pasted article")[1]["csrf"]
    # An article of their own that no one else has: a page of the seed changed a little.
    text = seed.read_text("utf-8").replace("Belt and Road Forum", "Belt and Road Summit")
    client.post("/clippings", files={"text": (None, text)}, data={"csrf": csrf})
    [(own, _)] = engine.clippings(who)
    client.post("/feedback", data={"article_id": own.id, "kind": "more", "csrf": csrf})
    engine.readers.follow(who, InterestKind.KEYWORD, "harbour")
    engine.accounts.create_token(who, "script")
    assert all(rows_of(engine, who)[t] for t in ("interests", "events", "saved", "clippings"))

    settings = client.get("/settings").text
    wrong = submit(client, settings, "Delete my account", confirm="someone else")
    assert wrong.status_code == 422 and "nothing was deleted" in wrong.text
    assert engine.readers.get_reader(who).name == name
    done = submit(client, settings, "Delete my account", confirm=name)
    assert done.status_code == 303 and done.headers["location"] == "/signup?deleted=1"
    assert (
        "Your account and everything of yours were deleted."
        in client.get(done.headers["location"]).text
    )
    assert rows_of(engine, who) == dict.fromkeys(READER_TABLES, 0)
    assert not [r for r in engine.readers.list_readers() if r.id == who]
    with pytest.raises(tidings.errors.ArticleNotFoundError):
        engine.get_article(own.id)
    # Signed out: the old cookie opens nothing.
    assert client.get("/settings", follow_redirects=False).status_code == 303


def test_deleting_the_account_through_the_api(app: FastAPI) -> None:
    engine = engine_of(app)
    client = fresh(app)
    who = reader_id(app, client)
    engine.readers.record_events(
        who, [ReaderEvent(kind=EventKind.OPEN, article_id=1, at=engine.now())]
    )
    engine.readers.follow(who, InterestKind.ENTITY, "Xi Jinping")
    assert client.delete("/api/me").status_code == 204
    assert rows_of(engine, who) == dict.fromkeys(READER_TABLES, 0)
    assert_error(client.get("/api/me"), 401)


# --- the command line --------------------------------------------------------------------------


def test_the_command_line_exports_imports_and_removes(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    env = {"TIDINGS_ENRICH": "0", "TIDINGS_DATA_DIR": str(tmp_path)}
    assert run(db, "reader", "add", "ana", env=env).returncode == 0
    assert run(db, "follow", "ana", "keyword", "harbour", env=env).returncode == 0
    assert run(db, "follow", "ana", "topic", "China–Russia relations", env=env).returncode == 0
    assert run(db, "reader", "set", "ana", "--diversity", "0.7", env=env).returncode == 0
    out = tmp_path / "ana.json"
    exported = run(db, "reader", "export", "ana", "-o", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(out.read_text())
    assert {(i["kind"], i["value"]) for i in data["interests"]} == {
        ("keyword", "harbour"),
        ("topic", "relation:china-russia"),
    }
    opml = run(db, "reader", "export", "ana", "--opml", env=env)
    assert opml.returncode == 0 and "<opml" in opml.stdout

    assert run(db, "reader", "add", "bo", env=env).returncode == 0
    imported = run(db, "reader", "import", "bo", str(out), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 follows, 0 mutes, 0 saved, 0 clippings, 0 events" in imported.stdout
    shown = run(db, "reader", "show", "bo", "--json", env=env)
    body = json.loads(shown.stdout)
    assert body["diversity"] == 0.7 and len(body["interests"]) == 2

    bad = run(db, "reader", "import", "bo", str(db), env=env)
    assert bad.returncode != 0 and "error:" in bad.stderr
    removed = run(db, "reader", "remove", "bo", env=env)
    assert removed.returncode == 0 and "removed reader bo" in removed.stdout
    assert "no such reader" in run(db, "reader", "show", "bo", env=env).stderr


def test_stances_are_shown_as_a_reader_set_them(app: FastAPI) -> None:
    # Follow and mute from suggestions keep the kind the reader chose.
    client = fresh(app)
    xi = client.get("/api/suggest", params={"q": "xi"}).json()[0]
    client.put(
        "/api/interests",
        json={"kind": xi["kind"], "value": xi["value"], "stance": Stance.MUTE.value},
    )
    assert client.get("/api/suggest", params={"q": "xi"}).json()[0]["stance"] == "mute"
