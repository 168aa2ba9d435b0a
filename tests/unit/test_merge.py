from __future__ import annotations

from datetime import UTC, datetime

from tidings.extract.merge import (
    PENDING_NOTE,
    TEASER_WORDS,
    carry_page,
    merge_page,
    page_pending,
    wants_page,
)
from tidings.types import Article, ArticleDraft, Image, Link, PagePolicy

T0 = datetime(2024, 3, 5, 9, tzinfo=UTC)
LONG = " ".join(["word"] * (TEASER_WORDS + 10))


def test_teasers_want_their_page_under_auto() -> None:
    teaser = ArticleDraft(url="https://x.example/a", summary="Two short sentences. That is all.")
    whole = ArticleDraft(url="https://x.example/b", body=LONG)
    assert wants_page(teaser, PagePolicy.AUTO)
    assert not wants_page(whole, PagePolicy.AUTO)
    assert wants_page(whole, PagePolicy.ALWAYS)
    assert not wants_page(teaser, PagePolicy.NEVER)
    assert not wants_page(ArticleDraft(summary="no link"), PagePolicy.ALWAYS)
    assert not wants_page(ArticleDraft(url="ftp://x.example/a"), PagePolicy.ALWAYS)


def test_feed_identity_wins_and_page_text_fills_in() -> None:
    feed = ArticleDraft(
        url="https://x.example/a",
        guid="g",
        title="Feed headline",
        published=T0,
        summary="Teaser.",
        extraction_note=PENDING_NOTE,
    )
    page = ArticleDraft(
        url="https://x.example/a?amp",
        title="Page headline | Site",
        authors=("Jane Doe",),
        section="World",
        body=LONG,
        summary_points=("First point",),
        images=(Image(url="https://x.example/i.jpg", caption="A harbour", credit="AP"),),
        related=(Link(url="https://x.example/r", title="Related"),),
        site_name="Example News",
    )
    merged = merge_page(feed, page)
    assert (merged.title, merged.url, merged.guid, merged.published) == (
        "Feed headline",
        "https://x.example/a",
        "g",
        T0,
    )
    assert merged.summary == "Teaser."
    assert merged.body == LONG and merged.authors == ("Jane Doe",)
    assert merged.section == "World" and merged.site_name == "Example News"
    assert merged.images == page.images and merged.related == page.related
    assert merged.extraction_note is None


def test_page_shorter_than_feed_text_does_not_replace_it() -> None:
    feed = ArticleDraft(url="https://x.example/a", body=LONG)
    page = ArticleDraft(body="Just a stub.")
    assert merge_page(feed, page).body == LONG


def test_carry_keeps_stored_page_fields_so_nothing_changes() -> None:
    feed = ArticleDraft(url="https://x.example/a", guid="g", title="T", summary="Teaser.")
    page = ArticleDraft(body=LONG, section="World", site_name="Example News")
    merged = merge_page(feed, page)
    stored = Article(
        **{f: getattr(merged, f) for f in ArticleDraft.__dataclass_fields__},
        id=1,
        source_id=1,
        content_hash=merged.digest(),
        fetched_at=T0,
    )
    carried = carry_page(feed, stored)
    assert carried.digest() == merged.digest()
    assert not page_pending(stored)
