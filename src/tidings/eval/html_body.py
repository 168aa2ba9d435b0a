"""Body extraction from HTML pages, scored with the Zyte article-extraction-benchmark's metric.

The folder holds pages in the benchmark's layout: ``html/<id>.html.gz`` (UTF-8) and
``ground-truth.json`` mapping each id to ``{"articleBody": ..., "url": ...}``. Tidings
(:func:`tidings.extract.page.parse_html` then :func:`tidings.extract.body.extract_body`) and
plain ``trafilatura.extract`` run in the same process on the same decoded strings, so their
scores and speeds are comparable.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

from tidings.errors import ExtractionError
from tidings.eval.metrics import ShingleCounts, body_scores, shingle_counts
from tidings.extract.body import extract_body
from tidings.extract.page import parse_html

#: How many of the lowest-scoring pages the report names.
WORST_SHOWN = 10

#: Timed passes over all pages. Each pass times the two extractors page by page, turn about,
#: so both see the same machine load; the faster pass of each extractor counts.
TIMED_RUNS = 2


def predict_body(html: str, url: str | None = None) -> str:
    """Tidings' body text for one page, paragraphs separated by blank lines ("" if none)."""
    try:
        body = extract_body(parse_html(html, resource=url), url=url)
    except ExtractionError:
        return ""
    return "\n\n".join(body.paragraphs)


def predict_trafilatura(html: str, url: str | None = None) -> str:
    """Plain trafilatura with its default settings, the peer we measure against."""
    import trafilatura

    return trafilatura.extract(html) or ""


def load_pages(data_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Decoded pages and the ground truth of a folder in the benchmark's layout."""
    truth: dict[str, dict[str, Any]] = json.loads(
        (data_dir / "ground-truth.json").read_text(encoding="utf-8")
    )
    pages: dict[str, str] = {}
    for page_id in sorted(truth):
        path = data_dir / "html" / f"{page_id}.html.gz"
        pages[page_id] = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    return pages, truth


def _run_both(
    pages: dict[str, str], truth: dict[str, dict[str, Any]]
) -> tuple[dict[str, str], float, dict[str, str], float]:
    """Both extractors' predictions and best total times, interleaved page by page."""
    ours: dict[str, str] = {}
    peer: dict[str, str] = {}
    best_ours = best_peer = float("inf")
    for run in range(TIMED_RUNS):
        ours_seconds = peer_seconds = 0.0
        for n, (pid, html) in enumerate(pages.items()):
            url = truth[pid].get("url")
            # alternate who goes first, so neither always runs on a warm cache
            for side in ("ours", "peer") if (n + run) % 2 == 0 else ("peer", "ours"):
                start = time.perf_counter()
                if side == "ours":
                    ours[pid] = predict_body(html, url)
                    ours_seconds += time.perf_counter() - start
                else:
                    peer[pid] = predict_trafilatura(html, url)
                    peer_seconds += time.perf_counter() - start
        best_ours = min(best_ours, ours_seconds)
        best_peer = min(best_peer, peer_seconds)
    return ours, best_ours, peer, best_peer


def _report(
    predictions: dict[str, str], truth: dict[str, dict[str, Any]], seconds: float
) -> tuple[dict[str, float], dict[str, ShingleCounts]]:
    counts = {
        pid: shingle_counts(truth[pid].get("articleBody") or "", text)
        for pid, text in predictions.items()
    }
    scores = body_scores(counts.values())
    return {
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
        "f1": round(scores.f1, 4),
        "pages_per_second": round(len(predictions) / seconds, 2) if seconds else 0.0,
    }, counts


def _f1(c: ShingleCounts) -> float:
    return 2 * c.tp / (2 * c.tp + c.fp + c.fn) if c.tp else 0.0


def evaluate_html(data_dir: Path) -> dict[str, Any]:
    """Score Tidings' body extraction and plain trafilatura's on one folder of pages."""
    pages, truth = load_pages(data_dir)
    # One untimed pass each first, so imports and caches do not count against either side.
    for html in list(pages.values())[:3]:
        predict_body(html)
        predict_trafilatura(html)
    our_predictions, our_seconds, peer_predictions, peer_seconds = _run_both(pages, truth)
    ours, our_counts = _report(our_predictions, truth, our_seconds)
    peer, _ = _report(peer_predictions, truth, peer_seconds)
    worst = sorted(our_counts, key=lambda pid: (_f1(our_counts[pid]), pid))[:WORST_SHOWN]
    return {
        "documents": len(pages),
        "ours": ours,
        "trafilatura": peer,
        "speed_ratio": round(ours["pages_per_second"] / peer["pages_per_second"], 3)
        if peer["pages_per_second"]
        else 0.0,
        "worst": [
            {"id": pid, "url": truth[pid].get("url"), "f1": round(_f1(our_counts[pid]), 3)}
            for pid in worst
        ],
    }
