"""Browser end-to-end tests: the real app on loopback, driven by Debian's chromium.

The app runs in a background thread under uvicorn on a free loopback port, over a fresh
SQLite database filled with real news articles (a few ECB+ topics from ``../shared/data``,
each topic two real events reported by several outlets, so that stories span sources),
analysed by the real enrichment pipeline. Nothing is faked between the browser and storage.

Chromium is Debian's (``/usr/bin/chromium``, or ``TIDINGS_CHROMIUM``), launched by
Playwright's sync API through ``executable_path``: never ``playwright install``, which
downloads browsers. Without chromium the tests skip with a message; with
``TIDINGS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) that skip is a failure instead.

Each test gets a :class:`Browsing`: a page that records console errors, uncaught exceptions
and Content-Security-Policy violations, saves screenshots to ``test-artifacts/screenshots/``
(git-ignored) and checks the page fits a phone's width.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tidings.config import Settings
from tidings.engine import Engine, make_engine
from tidings.types import ArticleDraft

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

#: ECB+ topics loaded, and documents per topic: each topic holds two real events covered by
#: several outlets. 6 x 8 = 48 articles analyse in about 15 s on 2 cores (186 took 64 s).
TOPICS = 6
PER_TOPIC = 8
OUTLETS = ("wire", "paper", "daily", "globe", "herald", "courier")

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


def ecb_drafts(ecbplus: Path, now: datetime) -> dict[str, list[ArticleDraft]]:
    """Real articles from the first ECB+ topics, spread over the outlets, published over the
    last day (the newest first in each topic's first event)."""
    docs = [json.loads(line) for line in (ecbplus / "docs.jsonl").open(encoding="utf-8")]
    topics = sorted({d["topic"] for d in docs})[:TOPICS]
    chosen: list[dict[str, Any]] = []
    for topic in topics:
        chosen += [d for d in docs if d["topic"] == topic][:PER_TOPIC]
    by_outlet: dict[str, list[ArticleDraft]] = {o: [] for o in OUTLETS}
    for i, doc in enumerate(chosen):
        outlet = OUTLETS[i % len(OUTLETS)]
        first, *rest = doc["sentences"]
        title = first if len(first) <= 110 else first[:107].rsplit(" ", 1)[0] + "..."
        by_outlet[outlet].append(
            ArticleDraft(
                guid=doc["doc_id"],
                url=f"https://{outlet}.example/news/{doc['doc_id']}",
                title=title,
                body=" ".join(rest) or first,
                summary=first,
                published=now - timedelta(minutes=20 * i + 5),
                section="News",
                authors=(f"{outlet.title()} reporter",),
            )
        )
    return by_outlet


def fill(engine: Engine, ecbplus: Path) -> None:
    now = datetime.now(UTC)
    for outlet, drafts in ecb_drafts(ecbplus, now).items():
        source = engine.storage.add_source(
            f"https://{outlet}.example/feed", added=now, title=f"The {outlet.title()}"
        )
        engine.storage.upsert_articles(source.id, drafts, fetched_at=now)
    report = engine.enrich()
    assert report.error is None, report.error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """The running app: its address, and its engine for checks behind the page's back."""

    base_url: str
    engine: Engine

    def url(self, path: str = "/") -> str:
        return self.base_url + path


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Site]:
    """The app on a free loopback port over an analysed database; one per session (filling
    and analysing the database is most of the suite's setup time)."""
    require_browser()
    ecbplus = shared_data / "ecbplus"
    if not (ecbplus / "docs.jsonl").is_file():
        pytest.skip(f"ECB+ articles not found at {ecbplus}")
    import uvicorn

    from tidings.api.app import create_app
    from tidings.api.limits import AuthRateLimits

    folder = tmp_path_factory.mktemp("e2e-site")
    settings = Settings(database_url=f"sqlite:///{folder / 'tidings.sqlite'}", data_dir=folder)
    with make_engine(settings) as engine:
        fill(engine, ecbplus)
        port = free_port()
        # Every test signs up and in from 127.0.0.1: the limits on attempts (tested on
        # their own) would turn the suite into a wait.
        app = create_app(engine, auth_limits=AuthRateLimits(limit=1000))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        # A thread, not a process: the test can look at storage through the same engine.
        # uvicorn installs no signal handlers off the main thread.
        thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
        thread.start()
        deadline = time.monotonic() + TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the app did not start (see the log above)")
            time.sleep(0.02)
        try:
            yield Site(f"http://127.0.0.1:{port}", engine)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


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
