"""Extraction as ingestion uses it: pages and copied page text to articles, and the rules
for completing a feed entry with its page (:mod:`tidings.extract.merge`).

``Engine`` gives an :class:`Extraction` to the ingestion stage, which knows it only through
its ``PageReader`` protocol, so that the stages stay apart. Extraction's libraries (lxml,
trafilatura) are imported on first use: commands that never extract (``source list``, a
feed-only ingest) should not pay for them.
"""

from __future__ import annotations

from tidings.extract import merge
from tidings.types import Article, ArticleDraft, PagePolicy


class Extraction:
    """Extraction's side of ingestion (``tidings.ingest.stage.PageReader``)."""

    pending_note = merge.PENDING_NOTE

    def wants_page(self, draft: ArticleDraft, policy: PagePolicy) -> bool:
        return merge.wants_page(draft, policy)

    def page_pending(self, stored: Article) -> bool:
        return merge.page_pending(stored)

    def carry_page(self, draft: ArticleDraft, stored: Article) -> ArticleDraft:
        return merge.carry_page(draft, stored)

    def merge_page(self, feed: ArticleDraft, page: ArticleDraft) -> ArticleDraft:
        return merge.merge_page(feed, page)

    def extract_html(self, data: bytes, url: str | None) -> ArticleDraft:
        from tidings.extract.html import extract_html

        return extract_html(data, url=url)

    def extract_text(self, text: str, url: str | None) -> ArticleDraft:
        from tidings.extract.text import extract_text

        return extract_text(text, url=url)
