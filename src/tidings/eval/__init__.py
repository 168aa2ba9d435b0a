"""Offline evaluation: metrics and the harness of each quality gate.

Every gate compares a score with a stored minimum in ``baseline.json``; minimums only move up.
"""

from __future__ import annotations

import json
from importlib import resources


def baseline() -> dict[str, float]:
    """The stored minimums of the quality gates."""
    text = resources.files("tidings.eval").joinpath("baseline.json").read_text("utf-8")
    return {k: float(v) for k, v in json.loads(text).items() if not k.startswith("_")}
