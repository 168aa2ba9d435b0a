"""``tidings bench extract``: HTML pages per second, Tidings beside plain trafilatura.

Both sides get the same decoded page strings, in the same process, interleaved page by page
(so a noisy neighbour slows both alike), and the best of several rounds is kept for each.
"""

from __future__ import annotations

import contextlib
import gzip
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Rounds over all pages; the fastest round of each side counts (the least disturbed).
ROUNDS = 3


def load_pages(data_dir: Path) -> list[str]:
    pages = []
    for path in sorted((data_dir / "html").glob("*.html.gz")):
        pages.append(gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace"))
    if not pages:
        raise FileNotFoundError(f"no html/*.html.gz pages under {data_dir}")
    return pages


def bench_extract(data_dir: Path, rounds: int = ROUNDS) -> dict[str, Any]:
    import trafilatura

    from tidings.errors import ExtractionError
    from tidings.extract.html import extract_html

    pages = load_pages(data_dir)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ours_round = theirs_round = 0.0
        for page in pages:
            start = time.perf_counter()
            with contextlib.suppress(ExtractionError):  # counted like a page done
                extract_html(page)
            middle = time.perf_counter()
            trafilatura.extract(page)
            end = time.perf_counter()
            ours_round += middle - start
            theirs_round += end - middle
        ours.append(ours_round)
        theirs.append(theirs_round)
    ours_pps = len(pages) / min(ours)
    theirs_pps = len(pages) / min(theirs)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "pages": len(pages),
        "rounds": rounds,
        "tidings_pages_per_second": ours_pps,
        "trafilatura_pages_per_second": theirs_pps,
        "trafilatura_version": trafilatura.__version__,
        "ratio": ours_pps / theirs_pps,
    }


def format_report(r: dict[str, Any]) -> str:
    return (
        f"extract benchmark, {r['date']}, {r['machine']}, {r['pages']} pages, best of "
        f"{r['rounds']}\n"
        f"  tidings      {r['tidings_pages_per_second']:7.1f} pages/s\n"
        f"  trafilatura  {r['trafilatura_pages_per_second']:7.1f} pages/s "
        f"({r['trafilatura_version']})\n"
        f"  ratio tidings/trafilatura: {r['ratio']:.2f}"
    )
