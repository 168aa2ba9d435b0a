"""Quality gate: offline news ranking on the MIND format (``mind_subset``).

The scores come from :func:`tidings.eval.rank.evaluate` (its docstring says how impressions
are replayed in time order without look-ahead; :mod:`tidings.rank.metrics` says how AUC, MRR
and nDCG are counted). The engine's own scorer (:class:`tidings.eval.rank.EngineScorer`:
``tidings.rank.score`` features, weights learned from earlier impressions) must keep its AUC
at or above the stored minimum in ``eval/baseline.json``, and a random ranking must land near
0.5 (else the harness is broken). The first run embeds ~840 articles (~25 s on 2 cores);
later runs read them from the cache, and the replay takes ~15 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.eval import baseline
from tidings.eval.rank import DEFAULT_MINIMUM, KEY, evaluate, summary_line

pytestmark = pytest.mark.data


def test_rank_auc_meets_baseline(shared_data: Path) -> None:
    folder = shared_data / "mind_subset"
    if not folder.is_dir():
        pytest.skip(f"MIND subset not found at {folder}")
    report = evaluate(folder)
    minimum = baseline().get(KEY, DEFAULT_MINIMUM)
    line, ok = summary_line(report, {KEY: minimum})
    assert ok, line
