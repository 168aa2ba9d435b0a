"""Quality gate: body extraction from copied page text on the Zyte benchmark's dev split.

The input is each page as a browser copies it (``page-text.json``); the minimum is stored in
``baseline.json`` and the score must also beat returning the whole page text unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.eval import baseline
from tidings.eval.page_text import evaluate_page_text

pytestmark = pytest.mark.data


def test_page_text_body_f1_meets_baseline(shared_data: Path) -> None:
    folder = shared_data / "aeb"
    if not (folder / "page-text.json").is_file():
        pytest.skip(f"page texts not found at {folder}")
    minimums = baseline()
    report = evaluate_page_text(folder)
    summary = json.dumps(report, indent=1)
    assert report["documents"] > 0
    assert report["f1"] > report["whole_page_f1"], summary
    assert report["f1"] >= minimums["extract_text_body_f1"], summary
