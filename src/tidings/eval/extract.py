"""``tidings eval extract``: the extraction quality gates in one report.

Each part runs the harness of its own stage (HTML bodies, copied page text, metadata) and is
compared with the stored minimum in ``baseline.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tidings.eval import baseline


def evaluate_extraction(
    *, data_dir: Path | None = None, metadata_dir: Path | None = None
) -> dict[str, Any]:
    report: dict[str, Any] = {"minimums": baseline()}
    if data_dir is not None:
        from tidings.eval.html_body import evaluate_html
        from tidings.eval.page_text import evaluate_page_text

        report["html_body"] = evaluate_html(data_dir)
        report["page_text"] = evaluate_page_text(data_dir)
    if metadata_dir is not None:
        from tidings.eval.metadata import evaluate_metadata

        report["metadata"] = evaluate_metadata(metadata_dir)
    return report


def _get(report: dict[str, Any], *path: str) -> float | None:
    node: Any = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


#: (label, path in the report, key of the minimum in baseline.json)
CHECKS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("html body F1", ("html_body", "ours", "f1"), "extract_html_body_f1"),
    ("page text body F1", ("page_text", "f1"), "extract_text_body_f1"),
    ("title", ("metadata", "ours", "title"), "extract_metadata_title"),
    ("byline", ("metadata", "ours", "byline"), "extract_metadata_byline"),
    ("date", ("metadata", "ours", "date"), "extract_metadata_date"),
)


def summary_line(report: dict[str, Any]) -> tuple[str, bool]:
    """One line with every score against its minimum, and whether all pass."""
    minimums = report["minimums"]
    parts: list[str] = []
    ok = True
    for label, path, key in CHECKS:
        score = _get(report, *path)
        if score is None:
            continue
        minimum = minimums[key]
        passed = score >= minimum
        ok &= passed
        parts.append(f"{label} {score:.3f} {'>=' if passed else '< '} {minimum:.2f}")
    peer = _get(report, "html_body", "trafilatura", "f1")
    ours = _get(report, "html_body", "ours", "f1")
    if peer is not None and ours is not None:
        ok &= ours >= peer
        parts.append(f"(trafilatura {peer:.3f})")
    return f"extract: {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok
