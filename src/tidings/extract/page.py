"""Turning the bytes of a fetched page into an HTML tree, refusing what is not a web page.

Every extractor starts here, so bad input is judged once: binary files, PDFs, empty pages
and oversized pages become an :class:`ExtractionError` with a reason, never a crash.
"""

from __future__ import annotations

from typing import Any

from tidings.errors import ExtractionError

#: Largest page Tidings extracts (characters after decoding). Real article pages are under
#: 2 MB; beyond this lxml and trafilatura spend seconds on pages that are not articles.
MAX_PAGE_CHARS = 5_000_000

#: Magic numbers of formats that are certainly not HTML.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"RIFF", "a RIFF media file"),
    (b"\x00\x00\x00", "binary data"),
)


def refuse_non_html(data: bytes, *, resource: str | None = None) -> None:
    """Raise ExtractionError when ``data`` is empty, binary or a known non-HTML format."""
    head = data[:1024].lstrip()
    if not head:
        raise ExtractionError("empty page: nothing to extract", resource=resource)
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature) or head.startswith(signature):
            raise ExtractionError(f"not a web page: looks like {what}", resource=resource)
    # Text in any ASCII-compatible encoding has almost no NUL or control bytes; UTF-16 pages
    # do have NULs but then start with a BOM.
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        sample = data[:4096]
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls > len(sample) // 20:
            raise ExtractionError("not a web page: looks like binary data", resource=resource)


def parse_html(data: bytes | str, *, resource: str | None = None) -> Any:
    """Decode (BOM, meta charset, then detection) and parse a page into an lxml tree.

    Raises ExtractionError for empty, binary, oversized or unparseable input.
    """
    from trafilatura import load_html

    if isinstance(data, bytes):
        refuse_non_html(data, resource=resource)
        size = len(data)
    else:
        if not data.strip():
            raise ExtractionError("empty page: nothing to extract", resource=resource)
        size = len(data)
    if size > MAX_PAGE_CHARS:
        raise ExtractionError(
            f"page too large to extract ({size:,} > {MAX_PAGE_CHARS:,} characters)",
            resource=resource,
        )
    tree = load_html(data)
    if tree is None:
        raise ExtractionError("the page could not be parsed as HTML", resource=resource)
    return tree
