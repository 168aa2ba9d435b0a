"""An article web page becomes an :class:`~tidings.types.ArticleDraft`.

The page is parsed once; metadata is read from the tree first (structured data, then
heuristics), then the body extractor, which may rework the tree, takes the text, captions,
summary points and related links apart.
"""

from __future__ import annotations

from tidings.extract.body import extract_body
from tidings.extract.metadata import extract_metadata
from tidings.extract.page import parse_html
from tidings.types import ArticleDraft, Image


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
        images=lead_image_first(meta.image, body.images),
        related=body.related,
        tags=meta.tags,
        site_name=meta.site_name,
    )


def lead_image_first(lead: str | None, images: tuple[Image, ...]) -> tuple[Image, ...]:
    """The page's figures, after the picture it names for sharing (``og:image``,
    ``twitter:image``, JSON-LD ``image``) when that is not one of them: publishers choose
    it to stand for the article, so it is the one a feed shows beside the headline."""
    if not lead or any(i.url == lead for i in images):
        return images
    return (Image(url=lead), *images)
