"""The copied-page-text quality gate: body F1 of :func:`~tidings.extract.text.extract_text`.

Input is the benchmark's ``page-text.json`` (the whole page as a browser copies it); the
expected output its ``ground-truth.json`` ``articleBody``; the metric the Zyte benchmark's
(:mod:`tidings.eval.metrics`). The whole page text, returned as it is, is the floor to beat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tidings.errors import ExtractionError
from tidings.eval.metrics import ShingleCounts, body_scores, shingle_counts
from tidings.extract.text import extract_text

#: How many of the worst-scoring documents the report names.
WORST = 10


def _f1(c: ShingleCounts) -> float:
    return 2 * c.tp / (2 * c.tp + c.fp + c.fn) if c.tp else 0.0


def evaluate_page_text(data_dir: Path) -> dict[str, Any]:
    """Body precision, recall and F1 over ``data_dir`` (an ``aeb`` folder), with the baseline.

    Returns ``precision``, ``recall``, ``f1``, ``documents``, ``whole_page_f1`` (the score of
    returning the page text unchanged) and ``worst``: ``[id, f1]`` of the worst documents.
    """
    pages = json.loads((data_dir / "page-text.json").read_text("utf-8"))
    truth = json.loads((data_dir / "ground-truth.json").read_text("utf-8"))
    counts: dict[str, ShingleCounts] = {}
    whole: list[ShingleCounts] = []
    for doc_id in sorted(truth):
        expected = truth[doc_id]["articleBody"]
        page = pages.get(doc_id, {})
        text = page.get("pageText", "")
        try:
            body = extract_text(text, url=page.get("url")).body or ""
        except ExtractionError:
            body = ""
        counts[doc_id] = shingle_counts(expected, body)
        whole.append(shingle_counts(expected, text))
    scores = body_scores(counts.values())
    worst = sorted(counts, key=lambda d: _f1(counts[d]))[:WORST]
    return {
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "documents": scores.documents,
        "whole_page_f1": body_scores(whole).f1,
        "worst": [[d, round(_f1(counts[d]), 3)] for d in worst],
    }
