"""Finding and following anything, adding an article, and the reader's data, in a real
browser: suggestions as the reader types (onboarding and the header's search), the copied
seed page pasted into "Add an article" becoming the clean article, bad input refused with a
message on the page, the bookmarklet, export then import on a fresh instance, and deleting
the account (checked in storage).

Also the pages' timings as the browser measures them (Navigation Timing: from the request to
the load event), written to ``test-artifacts/page-timings.json`` for the record (the median
of ten loads of the feed, an article and a story; nothing is asserted of them).
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, SCREENSHOTS, SEED, Browsing, Site, new_reader_name
from tests.e2e.test_reader_journey import onboard, sign_up, signed_up_with_feed
from tidings.engine import Engine
from tidings.errors import ArticleNotFoundError

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

#: Every table that holds a reader's own rows.
READER_TABLES = ("interests", "events", "saved", "clippings", "accounts", "tokens")


def follows_of(engine: Engine, name: str) -> list[tuple[str, str, str]]:
    who = engine.readers.get_reader(name)
    return sorted(
        (i.kind.value, i.stance.value, i.label or i.value) for i in engine.readers.interests(who.id)
    )


def saved_titles(engine: Engine, name: str) -> list[str]:
    return sorted(
        a.title or "" for a in engine.readers.saved_articles(engine.readers.get_reader(name).id)
    )


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.storage._transaction("count") as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("articles", "clippings", "saved")
        )


def test_suggestions_find_xi_by_xi_and_follow_him(browsing: Browsing, site: Site) -> None:
    b = browsing
    name = new_reader_name("sugg")
    sign_up(b, name)
    box = b.page.get_by_label("Find a person, organisation, place, topic or source")
    box.press_sequentially("xi", delay=40)
    region = b.page.locator("#find-follow-suggestions")
    expect(region).to_be_visible()
    row = region.locator("li").filter(has=b.page.get_by_role("link", name="Xi Jinping"))
    expect(row).to_be_visible()
    expect(row.locator(".detail")).to_have_text(re.compile(r"^Person · \d+ articles?$"))
    assert region.locator("li").first.locator(".name").inner_text() == "Xi Jinping"
    b.check("onboarding-suggestions")
    b.fits_phone("onboarding-suggestions")
    row.get_by_role("button", name="Follow Xi Jinping").click()
    expect(row.get_by_role("button", name="Following ✓ Xi Jinping")).to_be_visible()
    assert ("entity", "follow", "Xi Jinping") in follows_of(site.engine, name)
    # Pressed again: no longer followed.
    row.get_by_role("button", name="Following ✓ Xi Jinping").click()
    expect(row.get_by_role("button", name="Follow Xi Jinping")).to_be_visible()
    assert follows_of(site.engine, name) == []
    row.get_by_role("button", name="Follow Xi Jinping").click()
    expect(row.get_by_role("button", name="Following ✓ Xi Jinping")).to_be_visible()
    # Escape closes the list; the follow is enough for a first page.
    box.press("Escape")
    expect(region).to_be_hidden()
    b.page.get_by_role("button", name="Show my feed").click()
    expect(b.page.get_by_role("heading", level=1, name="For you")).to_be_visible()
    expect(b.page.locator("article.item").first).to_be_visible()

    # The header's search box suggests too: a relation topic, muted from the list.
    header = b.page.locator("#site-search")
    header.press_sequentially("russia", delay=40)
    suggestions = b.page.locator("#site-search-suggestions")
    relation = suggestions.locator("li").filter(has_text="China–Russia relations")
    expect(relation).to_be_visible()
    expect(relation.locator(".detail")).to_contain_text("Relations · ")
    relation.get_by_role("button", name="Mute China–Russia relations").click()
    expect(relation.get_by_role("button", name="Muted ✓ China–Russia relations")).to_be_visible()
    assert ("topic", "mute", "China–Russia relations") in follows_of(site.engine, name)
    b.check("feed-suggestions")
    # And the search page, without typing anything more: Enter searches.
    header.press("Enter")
    expect(b.page).to_have_url(re.compile(r"/search\?q=russia"))
    expect(b.page.get_by_role("heading", name="Follow or mute")).to_be_visible()
    b.check()


def add_an_article(b: Browsing) -> None:
    b.goto("/saved")
    b.page.get_by_role("link", name="Add an article").click()
    expect(b.page.get_by_role("heading", level=1, name="Add an article")).to_be_visible()


def test_the_pasted_seed_becomes_the_clean_article(
    browsing: Browsing, site: Site, shared_data: Path
) -> None:
    b = browsing
    name = signed_up_with_feed(b, "paste")
    seed = shared_data.parent / "seed" / SEED
    # What `tidings extract <seed> --text` prints: the extraction of the file's text (called
    # directly: Engine.extract runs an event loop, which Playwright's in this thread forbids).
    expected = site.engine.ingestion.pages.extract_text(seed.read_text("utf-8"), None)
    add_an_article(b)
    b.check("clippings-empty")
    b.page.get_by_label("Or its copied page").fill(seed.read_text("utf-8"))
    b.page.get_by_role("button", name="Add the pasted article").click()
    expect(b.page.locator("p.notice")).to_contain_text("Added and saved")
    row = b.page.locator("ul.articles li").first
    expect(row.locator("a.title")).to_have_text(expected.title or "")
    expect(row.locator(".source")).to_have_text("Pasted page")
    b.check("clippings")
    b.fits_phone("clippings")

    row.locator("a.title").click()
    expect(b.page.get_by_role("heading", level=1)).to_have_text(expected.title or "")
    body = b.page.locator("article.reader .body")
    paragraphs = [p.strip() for p in (expected.body or "").split("\n\n") if p.strip()]
    expect(body.locator("p").first).to_have_text(paragraphs[0])
    expect(body.locator("p").last).to_have_text(paragraphs[-1])
    text = body.inner_text()
    for furniture in ("Advertisement", "Get more with myNEWS", "Learn more"):
        assert furniture not in text
    b.check("article-pasted")
    # Saved for this reader, as theirs.
    who = site.engine.readers.get_reader(name).id
    [(clipped, _)] = site.engine.clippings(who)
    assert clipped.title == expected.title and clipped.body == expected.body
    assert clipped.id in {a.id for a in site.engine.readers.saved_articles(who)}


def test_bad_input_gets_a_clear_message_and_stores_nothing(browsing: Browsing, site: Site) -> None:
    b = browsing
    signed_up_with_feed(b, "bad")
    add_an_article(b)
    before = counts(site.engine)
    address = b.page.get_by_label("Its address")
    paste = b.page.get_by_label("Or its copied page")

    def refused(button: str, says: str) -> None:
        form = b.page.locator("form.clip").filter(has=b.page.get_by_role("button", name=button))
        form.get_by_role("button", name=button).click()
        expect(form.get_by_role("alert")).to_contain_text(says)
        b.forgive("status of 422")
        assert counts(site.engine) == before

    address.fill("not a web address")
    refused("Add this article", "give the article's web address")
    address.fill(site.url("/settings"))  # this very server, on loopback
    refused("Add this article", "is not on the public web")
    address.fill("http://10.0.0.1/intranet/news")
    refused("Add this article", "is not on the public web")
    paste.fill("   ")
    refused("Add the pasted article", "the box is empty")
    # A binary file's bytes, as a paste would bring them.
    paste.evaluate("(box) => { box.value = 'PK\\u0003\\u0004' + '\\u0001\\u0002'.repeat(400); }")
    refused("Add the pasted article", "looks like a binary file")
    b.check("clippings-refused")
    # 20 MB: refused in the page before anything is sent, with the reason.
    sent: list[str] = []
    b.page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    # (Sent from the page itself: laying out 20 MB of text keeps chromium busy for longer
    # than Playwright waits for the button to be still.)
    paste.evaluate(
        "(box) => { box.value = 'news '.repeat(4 * 1024 * 1024);"
        " box.form.requestSubmit(box.form.querySelector('button')); }"
    )
    expect(b.page.locator("#clip-text").get_by_role("alert")).to_contain_text(
        "20,971,520 characters"
    )
    assert sent == [] and counts(site.engine) == before
    paste.evaluate("(box) => { box.value = ''; }")
    b.check()


def test_the_bookmarklet_sends_the_pages_address(browsing: Browsing, site: Site) -> None:
    b = browsing
    signed_up_with_feed(b, "mark")
    b.goto("/settings")
    link = b.page.get_by_role("link", name="Add to Tidings")
    code = link.get_attribute("href") or ""
    assert code.startswith("javascript:")
    # Run where a reader would: on another page (here one of the site's own, whose address
    # is then the one sent).
    b.goto("/saved")
    here = b.page.url
    with b.page.expect_navigation():
        b.page.evaluate(code.removeprefix("javascript:"))
    expect(b.page).to_have_url(re.compile(r"/clippings\?url="))
    expect(b.page.get_by_label("Its address")).to_have_value(here)
    b.check()


def test_export_then_import_on_a_fresh_instance_then_delete(
    browser: Browser, browsing: Browsing, site: Site, fresh_site: Site, shared_data: Path
) -> None:
    b = browsing
    name = new_reader_name("move")
    sign_up(b, name)
    chosen = onboard(b, topics=1, entities=1)
    assert len(chosen) == 2
    # Something of everything: a follow from suggestions, a saved item, a pasted article.
    b.page.locator("#site-search").press_sequentially("xi", delay=40)
    row = b.page.locator("#site-search-suggestions li").filter(has_text="Xi Jinping")
    row.get_by_role("button", name="Follow Xi Jinping").click()
    expect(row.get_by_role("button", name="Following ✓ Xi Jinping")).to_be_visible()
    b.page.locator("#site-search").press("Escape")
    b.goto("/")
    first = b.page.locator("article.item").first
    first.get_by_role("button", name=re.compile(r"^Save")).click()
    expect(first.get_by_role("button", name=re.compile(r"^Saved ✓"))).to_be_visible()
    add_an_article(b)
    seed = (shared_data.parent / "seed" / SEED).read_text("utf-8")
    b.page.get_by_label("Or its copied page").fill(seed.replace("Beijing", "Peking"))
    b.page.get_by_role("button", name="Add the pasted article").click()
    expect(b.page.locator("p.notice")).to_contain_text("Added and saved")
    follows, saved = follows_of(site.engine, name), saved_titles(site.engine, name)
    assert len(follows) == 3 and len(saved) == 2

    b.goto("/settings")
    with b.page.expect_download() as download:
        b.page.get_by_role("link", name="Download your data (JSON)").click()
    exported = Path(download.value.path())
    data = json.loads(exported.read_text("utf-8"))
    assert data["format"] == "tidings-reader" and len(data["events"]) >= 20
    with b.page.expect_download() as opml:
        b.page.get_by_role("link", name="Download your feeds (OPML)").click()
    assert "<opml" in Path(opml.value.path()).read_text("utf-8")
    b.check()

    # On a new, empty Tidings: sign up, import the file.
    context = browser.new_context(viewport=DESKTOP, base_url=fresh_site.base_url)
    try:
        there = Browsing(context.new_page(), fresh_site)
        sign_up(there, name)
        there.goto("/settings")
        there.page.get_by_label("Import a file").set_input_files(exported)
        there.page.get_by_role("button", name="Import", exact=True).click()
        notice = there.page.locator("p.notice")
        expect(notice).to_contain_text("Imported ")
        there.check("settings-imported")
        # A new, empty Tidings knows only the names of the articles the file brought (the
        # pasted one names Xi Jinping): every follow is imported, or named as not found
        # here, and the reader is told which.
        moved = follows_of(fresh_site.engine, name)
        assert ("entity", "follow", "Xi Jinping") in moved
        assert any(kind == "topic" for kind, _, _ in moved)  # the taxonomy is everywhere
        missing = [f for f in follows if f not in moved]
        told = notice.inner_text()
        assert f"Imported {len(moved)} follows" in told
        assert all(f"{kind}: {label}" in told for kind, _, label in missing)
        assert set(moved) <= set(follows)
        assert saved_titles(fresh_site.engine, name) == saved
        who = fresh_site.engine.readers.get_reader(name).id
        [(own, _)] = fresh_site.engine.clippings(who)
        there.goto("/saved")
        expect(there.page.locator("ul.articles a.title")).to_have_count(2)

        # Deleting the account leaves nothing of the reader.
        there.goto("/settings")
        there.page.get_by_label(f"Type your name, {name}, to confirm").fill(name)
        there.page.get_by_role("button", name="Delete my account").click()
        expect(there.page).to_have_url(re.compile(r"/signup\?deleted=1$"))
        expect(there.page.locator("p.notice")).to_contain_text("were deleted")
        there.check()
        with fresh_site.engine.storage._transaction("count") as conn:
            for table in READER_TABLES:
                left = conn.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE reader_id = :r"),
                    {"r": who},
                ).scalar_one()
                assert left == 0, table
            readers = conn.execute(sa.text("SELECT count(*) FROM readers")).scalar_one()
        assert readers == 0
        # The articles only they brought are gone with them.
        with pytest.raises(ArticleNotFoundError):
            fresh_site.engine.get_article(own.id)
        there.goto("/settings")
        expect(there.page).to_have_url(re.compile(r"/signin"))
    finally:
        context.close()
    # The reader on the first Tidings is untouched.
    assert follows_of(site.engine, name) == follows


#: The browser's own measure of a page: from the start of navigation to the end of the load
#: event, and the server's part of it (request sent to response's last byte).
NAVIGATION_TIMING = """() => { const n = performance.getEntriesByType('navigation')[0];
  return [n.loadEventEnd - n.startTime, n.responseEnd - n.requestStart]; }"""
LOADS = 10


def test_page_timings_as_the_browser_measures_them(browsing: Browsing) -> None:
    b = browsing
    signed_up_with_feed(b, "timing")
    article = b.page.locator("article.item h2 a").first.get_attribute("href") or ""
    story = b.page.locator("article.item a.coverage").first.get_attribute("href") or ""
    assert article.startswith("/articles/") and story.startswith("/stories/")
    found: dict[str, dict[str, float]] = {}
    for label, path in (("feed", "/"), ("article", article), ("story", story)):
        loads, server = [], []
        for _ in range(LOADS):
            b.goto(path)
            b.page.wait_for_load_state("load")
            total, response = b.page.evaluate(NAVIGATION_TIMING)
            loads.append(total)
            server.append(response)
        found[label] = {
            "p50_load_ms": round(statistics.median(loads), 1),
            "p50_response_ms": round(statistics.median(server), 1),
            "loads": LOADS,
        }
    b.check()
    path = SCREENSHOTS.parent / "page-timings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    assert all(v["p50_load_ms"] > 0 for v in found.values())
