"""Browser end-to-end tests: the real app on loopback, driven by Debian's chromium.

The app runs in a background thread under uvicorn on a free loopback port, over a fresh
SQLite database filled with real news from ``../shared/data/demo-news`` (twelve publishers:
the ECB+ articles of a few topics, each topic two real events reported by several of them,
so that stories span sources, and each publisher's newest other items), analysed by the
real enrichment pipeline. Half the articles name a lead picture, served by a real loopback
HTTP server standing in for the publishers' image hosts (the operator allows 127.0.0.1, as
``TIDINGS_ALLOWED_NETWORKS`` would), which the browser only ever reaches through the app's
media proxy. Nothing is faked between the browser and storage.

Chromium is Debian's (``/usr/bin/chromium``, or ``TIDINGS_CHROMIUM``), launched by
Playwright's sync API through ``executable_path``: never ``playwright install``, which
downloads browsers. Without chromium the tests skip with a message; with
``TIDINGS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) that skip is a failure instead.

Each test gets a :class:`Browsing`: a page that records console errors, uncaught exceptions
and Content-Security-Policy violations, saves screenshots to ``test-artifacts/screenshots/``
(git-ignored) and checks the page fits a phone's width.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.loopback import LoopbackServer
from tidings.config import FetchSettings, Settings
from tidings.engine import Engine, make_engine
from tidings.types import ArticleDraft, Image

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
#: Where screenshots go; CI keeps the folder as the run's artefacts.
SCREENSHOTS = Path(os.environ.get("TIDINGS_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
CHROMIUM = os.environ.get("TIDINGS_CHROMIUM", "/usr/bin/chromium")
#: Headless, and nothing that reaches the network on its own (updates, sync, QUIC probes).
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP = {"width": 1280, "height": 900}
#: An iPhone 12-15's CSS viewport: the narrowest common phone the page must fit.
PHONE = {"width": 390, "height": 844}
#: Seconds any one wait in the browser may take: generous for a loaded CI machine, and the
#: first feed page of a reader builds the vector index.
TIMEOUT_S = 20.0

#: What is taken from demo-news: the ECB+ articles of this many topics (each about 23
#: articles over the twelve publishers: two real events each, so multi-source stories), and
#: each publisher's newest other items (MIND and AG News). About 115 articles, which analyse
#: in about 40 s on 2 cores (48 took 15 s).
ECB_TOPICS = 4
OTHERS_PER_PUBLISHER = 2
#: Every how many articles one names a lead picture.
PICTURE_EVERY = 2

pytestmark = pytest.mark.e2e


def require_browser() -> str:
    """The chromium executable, or skip (fail in CI) without one."""
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if found is None:
        message = (
            f"chromium not found at {CHROMIUM} (Debian: apt-get install chromium; "
            "or set TIDINGS_CHROMIUM)"
        )
        if os.environ.get("TIDINGS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TIDINGS_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        message = "playwright is not installed (pip install -e '.[dev]')"
        if os.environ.get("TIDINGS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TIDINGS_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return found


# --- the site ------------------------------------------------------------------------------


def png(width: int, height: int, hue: int) -> bytes:
    """A real PNG: a diagonal gradient in one of a few colours (no imaging library needed)."""
    base = ((hue * 67) % 200 + 30, (hue * 131) % 200 + 30, (hue * 29) % 200 + 30)
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            shade = (x + y) * 60 // (width + height)
            rows += bytes(min(255, c + shade) for c in base)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def demo_drafts(demo: Path, now: datetime) -> dict[str, tuple[str, list[ArticleDraft]]]:
    """Each publisher's chosen items (see :data:`ECB_TOPICS`), by folder: its title and the
    drafts, moved in time together so that the newest is five minutes old."""
    from tidings.ingest.feeds import parse_feed

    feeds = {}
    for folder in sorted(p for p in demo.iterdir() if (p / "feed.xml").is_file()):
        parsed = parse_feed((folder / "feed.xml").read_bytes(), url=f"file://{folder}/feed.xml")
        feeds[folder.name] = (parsed.title or folder.name, list(parsed.articles))

    def topic(draft: ArticleDraft) -> int | None:
        found = re.match(r"ecb-(\d+)_", draft.guid or "")
        return int(found.group(1)) if found else None

    topics = sorted({t for _, drafts in feeds.values() for d in drafts if (t := topic(d))})
    wanted = set(topics[:ECB_TOPICS])
    chosen: dict[str, tuple[str, list[ArticleDraft]]] = {}
    for name, (title, drafts) in feeds.items():
        stories = [d for d in drafts if topic(d) in wanted]
        others = sorted(
            (d for d in drafts if topic(d) is None and d.published),
            key=lambda d: d.published or now,
            reverse=True,
        )[:OTHERS_PER_PUBLISHER]
        chosen[name] = (title, stories + others)
    newest = max(d.published for _, ds in chosen.values() for d in ds if d.published)
    shift = now - timedelta(minutes=5) - newest
    return {
        name: (title, [replace(d, published=(d.published or newest) + shift) for d in drafts])
        for name, (title, drafts) in chosen.items()
    }


def fill(engine: Engine, demo: Path, pictures: LoopbackServer) -> int:
    """Store the chosen demo-news items, every :data:`PICTURE_EVERY`-th naming a picture on
    ``pictures``, and analyse them; how many articles."""
    now = datetime.now(UTC)
    count = 0
    for name, (title, drafts) in demo_drafts(demo, now).items():
        source = engine.storage.add_source(
            f"https://{name}.example/feed.xml", added=now, title=title
        )
        pictured = []
        for draft in drafts:
            count += 1
            if count % PICTURE_EVERY == 0:
                path = f"/pictures/{name}/{count}.png"
                pictures.serve(path, png(160, 108, count), content_type="image/png")
                draft = replace(draft, images=(Image(url=pictures.url(path)),))
            pictured.append(draft)
        engine.storage.upsert_articles(source.id, pictured, fetched_at=now)
    report = engine.enrich()
    assert report.error is None, report.error
    return count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """The running app: its address, and its engine for checks behind the page's back."""

    base_url: str
    engine: Engine
    #: The publishers' picture host (its requests show who fetched the pictures).
    pictures: LoopbackServer

    def url(self, path: str = "/") -> str:
        return self.base_url + path


#: The copied page of ``../shared/seed``, added by the operator as ``tidings article add
#: ... --text --source Clippings`` would: Xi Jinping and the China–Russia relation are in the
#: news the browser sees.
SEED = "xi-putin-belt-and-road.txt"


@contextlib.contextmanager
def serving(engine: Engine) -> Iterator[str]:
    """The app over ``engine`` on a free loopback port, in a thread; its base address."""
    import uvicorn

    from tidings.api.app import create_app
    from tidings.api.limits import AuthRateLimits

    port = free_port()
    # Every test signs up and in from 127.0.0.1: the limits on attempts (tested on their
    # own) would turn the suite into a wait.
    app = create_app(engine, auth_limits=AuthRateLimits(limit=1000))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    # A thread, not a process: the test can look at storage through the same engine.
    # uvicorn installs no signal handlers off the main thread.
    thread = threading.Thread(target=server.run, name=f"uvicorn-e2e-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start (see the log above)")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Site]:
    """The app on a free loopback port over an analysed database; one per session (filling
    and analysing the database is most of the suite's setup time)."""
    require_browser()
    demo = shared_data / "demo-news"
    if not demo.is_dir():
        pytest.skip(f"demo-news not found at {demo}")
    folder = tmp_path_factory.mktemp("e2e-site")
    # The publishers' picture host is on loopback, which the operator allows here.
    fetch = FetchSettings(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),), attempts=1)
    settings = Settings(
        database_url=f"sqlite:///{folder / 'tidings.sqlite'}", data_dir=folder, fetch=fetch
    )
    with LoopbackServer() as pictures, make_engine(settings) as engine:
        # (The text, not the file's path: extracting a path runs an event loop of its own,
        # which Playwright's, running in this thread, does not allow.)
        engine.ingestion.add_article_text(
            (shared_data.parent / "seed" / SEED).read_text("utf-8"), source_name="Clippings"
        )
        fill(engine, demo, pictures)
        with serving(engine) as base_url:
            yield Site(base_url, engine, pictures)


@pytest.fixture
def fresh_site(tmp_path: Path, site: Site) -> Iterator[Site]:
    """Another Tidings, new and empty (no sources, no articles), as a reader moving their
    data would find one; the same process, so its analysis shares the loaded models."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'fresh.sqlite'}", data_dir=tmp_path / "fresh"
    )
    with make_engine(settings) as engine, serving(engine) as base_url:
        yield Site(base_url, engine, site.pictures)


# --- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


#: Recorded in the page before any of its scripts run; Playwright's init scripts are not
#: subject to the page's CSP, so this sees every violation, scripts and styles alike.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
    + ` at ${e.sourceFile || document.location.href}:${e.lineNumber}`);
});
"""


class Browsing:
    """A page that keeps what went wrong in it: console errors, uncaught exceptions and
    CSP violations (also seen in the console as "Refused to ...")."""

    def __init__(self, page: Page, site: Site) -> None:
        self.page = page
        self.site = site
        self.problems: list[str] = []
        page.set_default_timeout(TIMEOUT_S * 1000)
        page.add_init_script(CSP_RECORDER)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            where = message.location.get("url", "")
            if where.endswith("/favicon.ico") and "404" in message.text:
                return  # the browser's own probe for an icon the page never asked for
            self.problems.append(f"console {message.type}: {message.text} ({where})")

    def goto(self, path: str) -> None:
        response = self.page.goto(self.site.url(path))
        assert response is not None and response.ok, (
            f"GET {path}: {response.status if response else 'no response'}"
        )

    def forgive(self, text: str) -> None:
        """Forget the console errors so far that contain ``text`` (ones a test provoked)."""
        self.problems = [p for p in self.problems if text not in p]

    def check(self, name: str | None = None) -> None:
        """No console errors and no CSP violations on this page so far; a screenshot of it
        (the whole page) when ``name`` is given."""
        self.page.wait_for_load_state("load")
        violations = self.page.evaluate("window.__cspViolations || []")
        found = self.problems + [f"CSP: {v}" for v in violations]
        self.problems = []
        assert not found, f"on {self.page.url}:\n" + "\n".join(found)
        if name is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def fits_phone(self, name: str | None = None) -> None:
        """At a phone's width the page scrolls only vertically."""
        self.page.set_viewport_size(PHONE)
        try:
            self.page.wait_for_timeout(100)  # one layout after the resize
            widths = self.page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if widths[0] > widths[1]:
                wide = self.page.evaluate(WIDEST_ELEMENTS, widths[1])
                raise AssertionError(
                    f"{self.page.url} scrolls sideways at {PHONE['width']} px: content is "
                    f"{widths[0]} px wide; too wide: {wide}"
                )
            if name is not None:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                self.page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
        finally:
            self.page.set_viewport_size(DESKTOP)


#: The elements that stick out past the viewport, for the failure message.
WIDEST_ELEMENTS = """(limit) => [...document.querySelectorAll('body *')]
  .filter((el) => el.getBoundingClientRect().right > limit + 1)
  .slice(0, 5)
  .map((el) => `${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''}`
    + ` (${Math.round(el.getBoundingClientRect().right)} px)`)"""


@pytest.fixture
def browsing(browser: Browser, site: Site) -> Iterator[Browsing]:
    """A fresh browser context (no cookies) and page for each test."""
    context = browser.new_context(viewport=DESKTOP, base_url=site.base_url)
    try:
        yield Browsing(context.new_page(), site)
    finally:
        context.close()


_names = iter(range(1, 1_000_000))
_lock = threading.Lock()


def new_reader_name(prefix: str = "reader") -> str:
    """A reader name no other test of this session uses."""
    with _lock:
        n = next(_names)
    return re.sub(r"[^a-z0-9]", "", prefix.lower())[:12] + str(n)
