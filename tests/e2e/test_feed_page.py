"""The feed page as a reader uses it, in a real browser: how much fits on one screen, lead
pictures that never come from the publisher, actions that leave the reader where they were
(with script, and without), and the keyboard.

The counts of items above the fold are written to ``test-artifacts/above-the-fold.json``
beside the screenshots (``feed-fold.png``, ``feed-fold-phone.png``: what the first screen
shows at 1280x900 and 390x844).
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, TIMEOUT_S, Browsing, Site
from tests.e2e.test_reader_journey import open_menu, signed_up_with_feed

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

#: The goals of issue 12: at least this many whole items on the first screen.
DESKTOP_ITEMS = 8
PHONE_ITEMS = 4

#: How many items are wholly inside the viewport, from the top of the page.
ITEMS_IN_VIEW = """() => [...document.querySelectorAll('article.item')]
  .filter((el) => !el.hidden)
  .filter((el) => { const r = el.getBoundingClientRect();
                    return r.top >= 0 && r.bottom <= window.innerHeight; }).length"""


def items(b: Browsing) -> Locator:
    return b.page.locator("article.item:visible")


def nth_item(b: Browsing, n: int) -> Locator:
    """The n-th item of the page (from 1), by its place in the list."""
    return b.page.locator(f"ol.feed > li:nth-child({n}) > article.item")


def record_fold(name: str, count: int) -> None:
    path = SCREENSHOTS.parent / "above-the-fold.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    found = json.loads(path.read_text()) if path.is_file() else {}
    found[name] = count
    path.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")


def test_a_screenful_of_stories_at_both_sizes_with_private_pictures(
    browsing: Browsing, site: Site
) -> None:
    b = browsing
    asked: list[str] = []
    b.page.on("request", lambda request: asked.append(request.url))
    signed_up_with_feed(b, "fold")
    assert items(b).count() >= 10
    b.page.evaluate("window.scrollTo(0, 0)")
    # The pictures are loaded (lazily: those on the first screen at once).
    pictured = b.page.locator("article.item img.thumb")
    assert pictured.count() >= 3
    expect(pictured.first).to_be_visible()
    b.page.wait_for_function(
        "() => { const i = document.querySelector('article.item img.thumb');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    desktop = b.page.evaluate(ITEMS_IN_VIEW)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    b.page.screenshot(path=SCREENSHOTS / "feed-fold.png")
    record_fold(f"desktop {DESKTOP['width']}x{DESKTOP['height']}", desktop)
    b.page.set_viewport_size(PHONE)
    b.page.wait_for_timeout(150)
    b.page.evaluate("window.scrollTo(0, 0)")
    phone = b.page.evaluate(ITEMS_IN_VIEW)
    b.page.screenshot(path=SCREENSHOTS / "feed-fold-phone.png")
    record_fold(f"phone {PHONE['width']}x{PHONE['height']}", phone)
    b.page.set_viewport_size(DESKTOP)
    assert desktop >= DESKTOP_ITEMS, f"{desktop} items above the fold at 1280x900"
    assert phone >= PHONE_ITEMS, f"{phone} items above the fold at 390x844"

    # Every picture came from this site; the publishers' host saw only the server.
    sources = pictured.evaluate_all("(imgs) => imgs.map((i) => i.getAttribute('src'))")
    assert all(src.startswith("/media/") for src in sources), sources
    publisher = urlsplit(site.pictures.base_url).netloc
    assert not [u for u in asked if urlsplit(u).netloc == publisher]
    seen = [r for r in site.pictures.requests() if r.path.startswith("/pictures/")]
    assert seen and all(r.headers["user-agent"].startswith("Tidings/") for r in seen)
    assert all("cookie" not in r.headers and "referer" not in r.headers for r in seen)
    b.check()


def test_an_action_on_item_ten_leaves_the_reader_at_item_ten(
    browsing: Browsing, site: Site
) -> None:
    b = browsing
    name = signed_up_with_feed(b, "ten")
    tenth = nth_item(b, 10)
    tenth.scroll_into_view_if_needed()
    tenth.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    article_id = int(tenth.get_attribute("data-article-id") or 0)
    title = tenth.locator("h2 a").inner_text().strip()

    def place() -> tuple[float, float]:
        return b.page.evaluate("window.scrollY"), tenth.bounding_box()["y"]  # type: ignore[index]

    where = place()
    # Save: the button says Saved ✓ where Save was, and nothing moved.
    tenth.get_by_role("button", name=re.compile(r"^Save")).click()
    expect(tenth.get_by_role("button", name=re.compile(r"^Saved ✓"))).to_be_visible()
    assert place() == pytest.approx(where, abs=2)
    reader = site.engine.readers.get_reader(name)
    assert article_id in {a.id for a in site.engine.readers.saved_articles(reader.id)}

    # Follow its source from the menu: "Following" on the item, the page where it was.
    source = tenth.locator(".meta .source").inner_text().strip()
    open_menu(tenth).get_by_role("button", name=f"Follow {source}").click()
    expect(tenth.locator(".badge.following")).to_be_visible()
    assert place()[0] == pytest.approx(where[0], abs=2)

    # Hide: the item folds into "Hidden ... Undo" in its place, and the hide is stored at
    # once; Undo brings it back and forgets the hide on the server.
    def hidden() -> bool:
        return site.engine.readers.is_hidden(reader.id, article_id)

    def eventually(expected: bool) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while hidden() is not expected:
            if time.monotonic() > deadline:
                pytest.fail(f"the hide was {'never' if expected else 'not'} undone on the server")
            time.sleep(0.05)

    open_menu(tenth).get_by_role("button", name="Hide").click()
    folded = b.page.locator("ol.feed > li:nth-child(10) > .folded")
    expect(folded).to_contain_text(f"Hidden: {title}")
    expect(tenth).to_be_hidden()
    assert b.page.evaluate("window.scrollY") == pytest.approx(where[0], abs=2)
    eventually(True)
    folded.get_by_role("button", name="Undo").click()
    expect(tenth).to_be_visible()
    expect(folded).to_have_count(0)
    assert b.page.evaluate("window.scrollY") == pytest.approx(where[0], abs=2)
    eventually(False)

    # Hidden for good: the next page leaves it out.
    open_menu(tenth).get_by_role("button", name="Hide").click()
    expect(tenth).to_be_hidden()
    eventually(True)
    b.check()
    b.goto("/")
    expect(b.page.locator(f"article.item[data-article-id='{article_id}']")).to_have_count(0)
    b.check()


def test_without_script_an_action_returns_to_the_same_item(browser: Browser, site: Site) -> None:
    context = browser.new_context(
        viewport=DESKTOP, base_url=site.base_url, java_script_enabled=False
    )
    try:
        b = Browsing(context.new_page(), site)
        signed_up_with_feed(b, "noscript")
        tenth = nth_item(b, 10)
        anchor = tenth.get_attribute("id")
        tenth.scroll_into_view_if_needed()
        # Without script the ⋯ menu is a plain disclosure, and each button a plain form.
        tenth.get_by_role("button", name=re.compile(r"^Save")).click()
        b.page.wait_for_load_state("load")
        assert b.page.url.endswith(f"/#{anchor}"), b.page.url
        back = b.page.locator(f"#{anchor}")
        expect(back).to_be_in_viewport()
        # The item shows its new state after the round trip.
        if back.get_attribute("data-article-id") == tenth.get_attribute("data-article-id"):
            expect(back.get_by_role("button", name=re.compile(r"^Saved ✓"))).to_be_visible()
        hidden_id = back.get_attribute("data-article-id")
        hidden_anchor = back.get_attribute("id")
        open_menu(back).get_by_role("button", name="Hide").click()
        b.page.wait_for_load_state("load")
        found = re.search(r"/\?hidden=(\d+)&at=(\d+)#at-(\d+)$", b.page.url)
        assert found and found.group(1) == hidden_id, b.page.url
        # Where the item was: "Hidden: …" with Undo, which brings it back to the same place.
        place = b.page.locator(f"#at-{found.group(2)}")
        expect(place.locator(".folded")).to_contain_text("Hidden: ")
        expect(place).to_be_in_viewport()
        place.get_by_role("button", name=re.compile(r"^Undo")).click()
        b.page.wait_for_load_state("load")
        assert b.page.url.endswith(f"/#at-{found.group(2)}"), b.page.url
        # Back on the page: its story (the engine may show it through another article).
        expect(b.page.locator(f"article.item#{hidden_anchor}")).to_have_count(1)
        b.check()
    finally:
        context.close()


def test_the_keyboard_moves_saves_hides_and_opens(browsing: Browsing) -> None:
    b = browsing
    signed_up_with_feed(b, "keys")
    b.page.locator("h1").click()  # focus on the page, not in a field
    b.page.keyboard.press("j")
    first, second, third = nth_item(b, 1), nth_item(b, 2), nth_item(b, 3)
    expect(first).to_be_focused()
    expect(first).to_have_class(re.compile(r"\bcurrent\b"))
    b.page.keyboard.press("j")
    b.page.keyboard.press("j")
    expect(third).to_be_focused()
    b.page.keyboard.press("k")
    expect(second).to_be_focused()
    # s saves the current story (and says so), h hides it and moves on to the next.
    b.page.keyboard.press("s")
    expect(second.get_by_role("button", name=re.compile(r"^Saved ✓"))).to_be_visible()
    b.page.keyboard.press("s")
    expect(second.get_by_role("button", name=re.compile(r"^Save\b(?! ✓)"))).to_be_visible()
    b.page.keyboard.press("h")
    expect(second).to_be_hidden()
    expect(b.page.locator(".folded")).to_contain_text("Hidden")
    expect(third).to_be_focused()
    # ? shows the shortcuts; Escape closes them.
    b.page.keyboard.press("?")
    dialog = b.page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    b.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # o opens the current story.
    title = third.locator("h2 a").inner_text().strip()
    b.page.keyboard.press("o")
    expect(b.page.get_by_role("heading", level=1)).to_have_text(title)
    b.check()


def test_a_storys_numbers_agree_on_the_item_the_article_and_the_story_page(
    browsing: Browsing,
) -> None:
    """One definition of a story's sources and articles (issue 12): the item's "Top story"
    reason, its "Also covered by" (names and "+N"), its "Full coverage" link, the article
    page's "Full coverage: N sources, M articles" and the story page's "M articles from N
    sources" say the same numbers, for every story on the first page."""
    b = browsing
    signed_up_with_feed(b, "numbers")
    told: dict[str, tuple[int, str, str | None]] = {}  # story -> (sources, article, reason)
    for item in b.page.locator("article.item").all():
        coverage = item.locator("a.coverage")
        if coverage.count() == 0:
            continue
        story = coverage.get_attribute("href") or ""
        hidden = coverage.locator(".visually-hidden").inner_text()
        found = re.search(r"(\d+) sources", hidden)
        assert found, hidden
        sources = int(found.group(1))
        named = item.locator(".also a[href^='/articles/']").count()
        # "+N" after the names, or "N other sources" where the page names none.
        more = item.locator(".also a[href^='/stories/']")
        counted = re.search(r"\d+", more.inner_text()) if more.count() else None
        extra = int(counted.group(0)) if counted else 0
        assert named + extra + 1 == sources, (story, named, extra, sources)
        reason = item.locator(".meta .reason")
        line = reason.inner_text() if reason.count() else None
        if line and (top := re.match(r"Top story: (\d+) sources", line)):
            assert int(top.group(1)) == sources, (story, line)
        article = item.locator("h2 a").get_attribute("href") or ""
        told[story] = (sources, article, line)
    assert len(told) >= 3, told
    for story, (sources, article, _) in told.items():
        b.goto(article)
        full = b.page.locator("p", has=b.page.locator(f"a[href='{story}']")).first.inner_text()
        on_article = re.search(r"(\d+) sources, (\d+) articles", full)
        assert on_article and int(on_article.group(1)) == sources, (story, full)
        b.goto(story)
        meta = b.page.locator("p.meta").first.inner_text()
        on_story = re.match(r"(\d+) articles from (\d+) sources", meta)
        assert on_story, meta
        assert int(on_story.group(2)) == sources, (story, meta)
        assert int(on_story.group(1)) == int(on_article.group(2)), (story, meta, full)
        listed = b.page.locator("ul.coverage li").count()
        assert listed == int(on_story.group(1)), (story, listed, meta)
    b.check()
