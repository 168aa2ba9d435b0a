"""Pure decisions about completing a feed entry with its article page.

A feed entry is often only a headline and a teaser. These functions decide when the page is
worth fetching and how what the feed said and what the page said combine: the feed's own
identity fields (guid, link, title, dates) are reliable and win; the page supplies the text
and everything around it.
"""

from __future__ import annotations

import re
from dataclasses import replace

from tidings.types import Article, ArticleDraft, PagePolicy

#: Fewer words than this in an entry's text means it is a teaser, not the article. Teasers
#: run one to three sentences (20 to 70 words in the shared real feeds); the shortest real
#: news articles (briefs) run 150 words and more. 120 sits between the two.
TEASER_WORDS = 120

_WORD = re.compile(r"\w+")


def word_count(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


def wants_page(draft: ArticleDraft, policy: PagePolicy) -> bool:
    """Whether to fetch the entry's page under ``policy``."""
    if policy is PagePolicy.NEVER or not draft.url:
        return False
    if not draft.url.startswith(("http://", "https://")):
        return False
    if policy is PagePolicy.ALWAYS:
        return True
    return word_count(draft.body or draft.summary) < TEASER_WORDS


def merge_page(feed: ArticleDraft, page: ArticleDraft) -> ArticleDraft:
    """The feed entry completed with its page: identity from the feed, text from the page."""
    return replace(
        feed,
        title=feed.title or page.title,
        authors=feed.authors or page.authors,
        published=feed.published or page.published,
        updated=feed.updated or page.updated,
        section=page.section or feed.section,
        summary=feed.summary or page.summary,
        summary_points=page.summary_points or feed.summary_points,
        body=page.body if word_count(page.body) > word_count(feed.body) else feed.body,
        language=feed.language or page.language,
        images=page.images or feed.images,
        related=page.related or feed.related,
        tags=feed.tags or page.tags,
        site_name=page.site_name or feed.site_name,
        extraction_note=None,
    )


def carry_page(feed: ArticleDraft, stored: Article) -> ArticleDraft:
    """A fresh feed entry for an article whose page was already extracted: the stored
    article stands in for the page, so an unchanged entry stays unchanged without
    fetching the page again."""
    return merge_page(feed, stored)


#: The extraction note of an entry whose page is still to be fetched (a pass fetches only
#: so many pages per source; the rest wait for the next pass).
PENDING_NOTE = "pending: the article page has not been fetched yet"


def page_pending(stored: Article) -> bool:
    """Whether a stored teaser is still waiting for its page."""
    return stored.extraction_note == PENDING_NOTE
