"""Measure the reader's page of a running Tidings as a reader sees it, in Debian's chromium.

For the reader's page section of BENCHMARKS.md: run the demo on the real offline news, then
point this at it::

    TIDINGS_DATA_DIR=/tmp/demo .venv/bin/tidings demo --feeds ../shared/data/demo-news
    .venv/bin/python -m tests.e2e.measure_demo http://127.0.0.1:8000

It signs in (as the demo reader by default), and prints as JSON (also written to
``test-artifacts/demo/measure.json``):

- how many feed items are wholly on the first screen at 1280x800 and 390x844 (and at
  1280x900, the size of issue 12's goal);
- how many items of the first page are stories reported by several sources (the item's
  own "Full coverage" count, the number the reader reads);
- p50 (and p90) of the browser's own Navigation Timing for the feed, an article and a
  story page: ``loadEventEnd - startTime`` (what the reader waits for) and
  ``responseEnd - requestStart`` (the server's part), over ``--loads`` loads each;
- the paths of full-page screenshots of the feed, an article, a story, onboarding,
  settings and search ("xi" typed, suggestions open) at both sizes, in
  ``test-artifacts/demo/``.

Nothing here changes what the reader follows; opening pages records the events a reader's
visit would (shown, opened).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from typing import Any

from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
OUT = ROOT / "test-artifacts" / "demo"

#: Items wholly inside the viewport, from the top of the page.
ITEMS_IN_VIEW = """() => [...document.querySelectorAll('article.item')]
  .filter((el) => !el.hidden)
  .filter((el) => { const r = el.getBoundingClientRect();
                    return r.top >= 0 && r.bottom <= window.innerHeight; }).length"""
#: The browser's own measure of the page just loaded (ms).
NAVIGATION_TIMING = """() => { const n = performance.getEntriesByType('navigation')[0];
  return [n.loadEventEnd - n.startTime, n.responseEnd - n.requestStart]; }"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def sign_in(page: Page, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/($|\?|onboarding)"))


def first_page(page: Page) -> dict[str, Any]:
    """The first page's items: how many, and the sources each one's story has."""
    counts = page.evaluate(
        """() => [...document.querySelectorAll('article.item')].map((el) => {
             const c = el.querySelector('a.coverage .visually-hidden');
             const m = c && c.textContent.match(/(\\d+) sources/);
             return m ? Number(m[1]) : 1; })"""
    )
    return {
        "items": len(counts),
        "several_sources": sum(1 for c in counts if c >= 2),
        "sources_per_item": counts,
    }


def timings(page: Page, url: str, loads: int) -> dict[str, float]:
    total, server = [], []
    for _ in range(loads):
        page.goto(url)
        page.wait_for_load_state("load")
        page.wait_for_function(
            "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
        )
        t, s = page.evaluate(NAVIGATION_TIMING)
        total.append(t)
        server.append(s)
    return {
        "p50_load_ms": round(statistics.median(total), 1),
        "p90_load_ms": round(percentile(total, 0.9), 1),
        "p50_response_ms": round(statistics.median(server), 1),
        "loads": loads,
    }


def measure(base: str, name: str, password: str, loads: int) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {"url": base, "reader": name}
    shots: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        context = browser.new_context(viewport=SIZES["desktop"])
        page = context.new_page()
        sign_in(page, base, name, password)
        page.goto(f"{base}/")
        found["first_page"] = first_page(page)
        article = page.locator("article.item h2 a").first.get_attribute("href") or ""
        story = page.locator("article.item a.coverage").first.get_attribute("href") or ""
        fold = {}
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            page.goto(f"{base}/")
            page.wait_for_load_state("load")
            fold[f"{size} {viewport['width']}x{viewport['height']}"] = page.evaluate(ITEMS_IN_VIEW)
            fold_shot = OUT / f"feed-fold-{size}.png"
            page.screenshot(path=fold_shot)
            shots.append(str(fold_shot))
            for label, path in (
                ("feed", "/"),
                ("article", article),
                ("story", story),
                ("onboarding", "/onboarding"),
                ("settings", "/settings"),
                ("sources", "/sources"),
                ("search", "/search?q=xi"),
            ):
                page.goto(base + path)
                page.wait_for_load_state("load")
                shot = OUT / f"{label}-{size}.png"
                page.screenshot(path=shot, full_page=True)
                shots.append(str(shot))
            # Suggestions as the reader types in the header's search box.
            page.goto(f"{base}/")
            box = page.locator("#site-search")
            box.fill("xi")
            page.wait_for_timeout(800)
            shot = OUT / f"suggestions-{size}.png"
            page.screenshot(path=shot)
            shots.append(str(shot))
        # And at the size issue 12's goal names (8 items at 1280x900).
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/")
        page.wait_for_load_state("load")
        fold["desktop 1280x900"] = page.evaluate(ITEMS_IN_VIEW)
        found["above_the_fold"] = fold
        page.set_viewport_size(SIZES["desktop"])
        found["timings"] = {
            label: timings(page, base + path, loads)
            for label, path in (("feed", "/"), ("article", article), ("story", story))
        }
        found["pages"] = {"article": article, "story": story}
        found["screenshots"] = shots
        browser.close()
    (OUT / "measure.json").write_text(json.dumps(found, indent=2) + "\n")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the running Tidings, e.g. http://127.0.0.1:8000")
    parser.add_argument("--reader", default="demo")
    parser.add_argument("--password", default="tidings-demo")
    parser.add_argument("--loads", type=int, default=15, help="page loads timed per page")
    args = parser.parse_args(argv)
    found = measure(args.url.rstrip("/"), args.reader, args.password, args.loads)
    shown = {k: v for k, v in found.items() if k != "screenshots"}
    shown["first_page"] = {k: v for k, v in found["first_page"].items() if k != "sources_per_item"}
    print(json.dumps(shown, indent=2))
    print(f"screenshots: {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
