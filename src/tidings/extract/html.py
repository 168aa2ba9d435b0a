"""An article web page becomes an :class:`~tidings.types.ArticleDraft`.

The page is parsed once; metadata is read from the tree first (structured data, then
heuristics), then the body extractor, which may rework the tree, takes the text, captions,
summary points and related links apart.
"""

from __future__ import annotations

from tidings.extract.body import extract_body
from tidings.extract.metadata import extract_metadata
from tidings.extract.page import parse_html
from tidings.types import ArticleDraft


def extract_html(data: bytes | str, *, url: str | None = None) -> ArticleDraft:
    """Extract a structured article from an HTML page. Raises ExtractionError."""
    tree = parse_html(data, resource=url)
    meta = extract_metadata(tree, url=url)
    body = extract_body(tree, url=url)
    text = "\n\n".join(body.paragraphs) or None
    return ArticleDraft(
        url=url,
        canonical_url=meta.canonical_url or url,
        title=meta.title,
        authors=meta.authors,
        published=meta.published,
        updated=meta.updated,
        section=meta.section,
        summary=meta.description,
        summary_points=body.summary_points,
        body=text,
        language=meta.language,
        images=body.images,
        related=body.related,
        tags=meta.tags,
        site_name=meta.site_name,
    )
