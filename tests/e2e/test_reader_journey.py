"""A reader's journey through the real pages in a real browser: sign up, choose what to
follow, read the feed and its reasons, change it from the feed, read an article and its
story's full coverage, change settings, sign out and back in.

Every page visited is checked for console errors and CSP violations, and the main ones are
screenshotted (``test-artifacts/screenshots/``) at desktop and phone widths; at a phone's
width no page may scroll sideways.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import Browsing, new_reader_name

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def sign_up(b: Browsing, name: str) -> None:
    """Sign up through the form; the reader lands on onboarding."""
    b.goto("/signup")
    b.page.get_by_label("Name", exact=True).fill(name)
    b.page.get_by_label("Password", exact=True).fill(PASSWORD)
    b.page.get_by_role("button", name="Sign up").click()
    expect(b.page).to_have_url(re.compile(r"/onboarding$"))


def onboard(b: Browsing, *, topics: int = 2, entities: int = 1) -> list[str]:
    """Tick the first few topics and entities, then "Show my feed"; what was ticked."""
    chosen = []
    boxes = b.page.locator("input[type=checkbox][name=topic]")
    for i in range(min(topics, boxes.count())):
        chosen.append(label_of(boxes.nth(i)))
        boxes.nth(i).check()
    boxes = b.page.locator("input[type=checkbox][name=entity]")
    for i in range(min(entities, boxes.count())):
        chosen.append(label_of(boxes.nth(i)))
        boxes.nth(i).check()
    b.page.get_by_role("button", name="Show my feed").click()
    expect(b.page).to_have_url(re.compile(r"/(\?.*)?$"))
    return chosen


def label_of(box: Locator) -> str:
    text = box.locator("xpath=ancestor::label[1]").inner_text()
    return re.sub(r"\s*\(\d+\)\s*$", "", text).strip()


def signed_up_with_feed(b: Browsing, prefix: str) -> str:
    name = new_reader_name(prefix)
    sign_up(b, name)
    onboard(b)
    expect(b.page.locator("article.item").first).to_be_visible()
    return name


def items(b: Browsing) -> Locator:
    return b.page.locator("article.item")


def sources_on_page(b: Browsing) -> list[str]:
    return [s.strip() for s in b.page.locator("article.item .meta .source").all_inner_texts()]


def test_sign_up_onboard_and_see_a_feed_with_reasons(browsing: Browsing) -> None:
    b = browsing
    b.goto("/")  # signed out: sent to sign in
    expect(b.page).to_have_url(re.compile(r"/signin"))
    expect(b.page.get_by_role("button", name="Sign in")).to_be_visible()
    b.check("signin")
    b.fits_phone("signin")

    sign_up(b, new_reader_name("ana"))
    expect(b.page.get_by_role("heading", level=1)).to_contain_text("follow")
    b.check("onboarding")
    b.fits_phone("onboarding")
    chosen = onboard(b, topics=2, entities=1)
    assert len(chosen) == 3, chosen

    expect(b.page.get_by_role("heading", level=1, name="For you")).to_be_visible()
    expect(items(b).first).to_be_visible()
    assert items(b).count() >= 5
    # One reason line on each item; all of them, with their actions, behind "Why this?".
    lines = b.page.locator("article.item .meta .reason")
    expect(lines.first).to_be_visible()
    texts = lines.all_inner_texts()
    # The reasons name what the reader chose ("You follow ...").
    assert any(any(c.lower() in t.lower() for c in chosen) for t in texts), (chosen, texts[:10])
    first = items(b).first
    expect(first.locator("ul.reasons")).to_be_hidden()
    first.get_by_text("Why this?").click()
    reasons = first.locator("ul.reasons li")
    expect(reasons.first).to_be_visible()
    # Each reason comes with the action that changes it (unless another one's does that).
    expect(first.locator("ul.reasons li button").first).to_be_visible()
    b.page.keyboard.press("Escape")
    expect(first.locator("ul.reasons")).to_be_hidden()
    b.check("feed")
    b.fits_phone("feed")


def open_menu(item: Locator) -> Locator:
    """Open an item's ⋯ menu; its panel."""
    item.locator("details.menu > summary").click()
    panel = item.locator("details.menu .panel")
    expect(panel).to_be_visible()
    return panel


def test_follow_and_mute_from_the_feed_change_the_next_page(browsing: Browsing) -> None:
    b = browsing
    signed_up_with_feed(b, "bo")
    before = sources_on_page(b)
    assert len(set(before)) >= 2, before
    muted = before[0]
    open_menu(items(b).first).get_by_role("button", name=f"Mute {muted}").click()
    # In place: every item of the source folds away, with Undo, and the page stays put.
    expect(b.page.locator(".folded").first).to_contain_text(f"Muted {muted}")
    of_muted = items(b).filter(has=b.page.locator(".meta .source", has_text=muted))
    for i in range(of_muted.count()):
        expect(of_muted.nth(i)).to_be_hidden()
    b.check()
    # The mute is the reader's, kept: a fresh load of the feed still leaves it out.
    b.goto("/")
    after = sources_on_page(b)
    assert muted not in after, (muted, after)

    followed = after[-1]
    of_source = items(b).filter(has=b.page.locator(".meta .source", has_text=followed))
    open_menu(of_source.first).get_by_role("button", name=f"Follow {followed}").click()
    # In place: the item says so, and the menu now offers to unfollow.
    expect(of_source.first.locator(".badge.following")).to_be_visible()
    open_menu(of_source.first)
    expect(of_source.first.get_by_role("button", name=f"Unfollow {followed}")).to_be_visible()
    b.check()
    # On the next page the source is a reason, with the action that undoes it.
    b.goto("/")
    of_source = items(b).filter(has=b.page.locator(".meta .source", has_text=followed))
    expect(of_source.first).to_be_visible()
    of_source.first.get_by_text("Why this?").click()
    reason = of_source.first.locator("ul.reasons li").filter(has_text=f"You follow {followed}")
    expect(reason.get_by_role("button", name=f"Unfollow {followed}")).to_be_visible()
    b.check()


def test_open_an_article_then_its_story_full_coverage(browsing: Browsing) -> None:
    b = browsing
    signed_up_with_feed(b, "cy")
    covered = b.page.locator("article.item").filter(has=b.page.locator(".meta .also"))
    expect(covered.first).to_be_visible()
    item = covered.first
    title = item.locator("h2 a").inner_text().strip()
    expect(item.locator(".meta .also")).to_contain_text("Also covered by")
    item.locator("h2 a").click()

    expect(b.page.get_by_role("heading", level=1)).to_have_text(title)
    expect(b.page.locator("article.reader .body p").first).to_be_visible()
    b.check("article")
    b.fits_phone("article")

    b.page.locator("aside.context").get_by_role("link", name="Full coverage").click()
    expect(b.page).to_have_url(re.compile(r"/stories/\d+$"))
    expect(b.page.get_by_role("heading", name="Full coverage")).to_be_visible()
    coverage = b.page.locator("ul.coverage li")
    assert coverage.count() >= 2
    sources = {s.strip() for s in b.page.locator("ul.coverage li .source").all_inner_texts()}
    assert len(sources) >= 2, sources
    titles = [t.strip() for t in b.page.locator("ul.coverage li a.title").all_inner_texts()]
    assert title in titles
    b.check("story")
    b.fits_phone("story")

    # The feed's own "Full coverage" link leads to the same kind of page.
    b.goto("/")
    covered.first.get_by_role("link", name=re.compile(r"^Full coverage")).click()
    expect(b.page.get_by_role("heading", name="Full coverage")).to_be_visible()
    b.check()


def test_settings_then_sign_out_and_back_in(browsing: Browsing) -> None:
    b = browsing
    name = signed_up_with_feed(b, "di")
    b.page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(b.page.get_by_role("heading", level=1)).to_be_visible()
    b.check("settings")
    b.fits_phone("settings")

    b.page.get_by_role("button", name="Sign out").click()
    expect(b.page).to_have_url(re.compile(r"/signin"))
    expect(b.page.get_by_role("button", name="Sign out")).to_have_count(0)
    b.goto("/settings")  # the session is over
    expect(b.page).to_have_url(re.compile(r"/signin"))
    b.check()

    b.page.get_by_label("Name", exact=True).fill(name)
    b.page.get_by_label("Password", exact=True).fill("not the password")
    b.page.get_by_role("button", name="Sign in").click()
    expect(b.page.get_by_role("alert")).to_contain_text("Wrong name or password")
    b.forgive("status of 422")  # the form comes back as 422, which chromium logs
    b.page.get_by_label("Name", exact=True).fill(name)
    b.page.get_by_label("Password", exact=True).fill(PASSWORD)
    b.page.get_by_role("button", name="Sign in").click()
    # Back where they were going, signed in.
    expect(b.page).to_have_url(re.compile(r"/settings$"))
    expect(b.page.get_by_role("button", name="Sign out")).to_be_visible()
    b.check()


def test_the_feed_can_be_used_with_the_keyboard(browsing: Browsing) -> None:
    b = browsing
    signed_up_with_feed(b, "ed")
    # The first Tab reaches the skip link, which moves focus to the main content.
    b.page.keyboard.press("Tab")
    expect(b.page.get_by_role("link", name="Skip to content")).to_be_focused()
    b.page.keyboard.press("Enter")
    expect(b.page.locator("main")).to_be_focused()
    # From there, tabbing reaches the first item's headline link, and Enter opens it.
    first = items(b).first.locator("h2 a")
    title = first.inner_text().strip()
    for _ in range(40):
        b.page.keyboard.press("Tab")
        if first.evaluate("(el) => el === document.activeElement"):
            break
    expect(first).to_be_focused()
    b.page.keyboard.press("Enter")
    expect(b.page.get_by_role("heading", level=1)).to_have_text(title)
    b.check()
