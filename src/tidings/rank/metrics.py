"""Ranking metrics of one impression, computed as MIND's official ``evaluate.py`` does.

MIND (Wu et al., ACL 2020) scores a recommender per impression (one page of candidates shown
to one reader, each labelled clicked 1 or not 0) and averages over impressions:

- AUC: the area under the ROC curve of the candidates' scores, as scikit-learn's
  ``roc_auc_score`` computes it: the share of (clicked, not clicked) pairs the scores order
  correctly, a tied pair counting one half.
- MRR: the mean over the *clicked* candidates of ``1 / rank`` (not only the first click):
  ``sum(labels_in_rank_order / rank) / sum(labels)``.
- nDCG@k: DCG of the top ``k`` (gain ``2**label - 1``, discount ``log2(rank + 1)``) divided
  by the DCG of the ideal order.

Ties in MRR and nDCG: the official code ranks by ``np.argsort(scores)[::-1]``, so among equal
scores the order is whatever numpy's (unstable) default sort leaves. We rank by
``np.argsort(scores, kind="stable")[::-1]``: among equal scores the *later* candidate ranks
first. That is the official result whenever the scores have no ties (the official submissions
are permutations) and for lists short enough that numpy's default sort is an insertion sort;
with ties in long lists the official result is not well defined, so a scorer should not tie.

Impressions without both classes: the official code calls ``roc_auc_score``, which raises
(scikit-learn < 1.6) or returns NaN with a warning (>= 1.6) when all labels are equal. MIND's
impressions always hold a click and nearly always a non-click, so the question seldom arises;
:class:`ImpressionMetrics` skips such impressions for AUC and counts them in
``skipped_auc``. An impression without any click also has no defined MRR or nDCG (the official
code divides by zero), so it is skipped for those as well (``skipped_no_click``); an impression
whose candidates were all clicked keeps its MRR and nDCG, as in the official code (nDCG is 1;
MRR is the mean of 1/1 ... 1/n, whatever the order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def _arrays(labels: Sequence[int], scores: Sequence[float]) -> tuple[F64, F64]:
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be equally long lists ({y.shape}, {s.shape})")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    return y, s


def _rank_order(scores: F64) -> npt.NDArray[np.intp]:
    # Stable then reversed: among equal scores the later candidate comes first (module doc).
    order: npt.NDArray[np.intp] = np.argsort(scores, kind="stable")[::-1]
    return order


def auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """ROC AUC of one impression (ties count one half); NaN unless both labels occur."""
    y, s = _arrays(labels, scores)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    # Mann-Whitney U with mid-ranks for ties: exactly the trapezoidal ROC area sklearn takes.
    order = np.argsort(s, kind="stable")
    sorted_scores = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    # Mid-rank of each run of equal scores (1-based).
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(s)]
    mid = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mid, ends - starts)
    u = float(ranks[y == 1].sum()) - positives * (positives + 1) / 2.0
    return u / (positives * negatives)


def mrr(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Mean reciprocal rank of the clicked candidates; NaN when nothing was clicked."""
    y, s = _arrays(labels, scores)
    if y.sum() == 0:
        return math.nan
    ranked = y[_rank_order(s)]
    return float(np.sum(ranked / np.arange(1, len(y) + 1)) / np.sum(y))


def _dcg(labels: F64, scores: F64, k: int) -> float:
    top = labels[_rank_order(scores)[:k]]
    gains = 2.0**top - 1.0
    return float(np.sum(gains / np.log2(np.arange(len(top)) + 2.0)))


def ndcg(labels: Sequence[int], scores: Sequence[float], k: int) -> float:
    """nDCG of the top ``k``; NaN when nothing was clicked."""
    if k < 1:
        raise ValueError("k must be at least 1")
    y, s = _arrays(labels, scores)
    if y.sum() == 0:
        return math.nan
    return _dcg(y, s, k) / _dcg(y, y, k)


@dataclass(slots=True)
class ImpressionMetrics:
    """Running means of AUC, MRR, nDCG@5 and nDCG@10 over impressions (MIND's averages)."""

    #: Impressions added.
    impressions: int = 0
    #: Impressions left out of the AUC mean: all clicked or none clicked.
    skipped_auc: int = 0
    #: Impressions left out of MRR and nDCG too: none clicked.
    skipped_no_click: int = 0
    _sums: dict[str, float] = field(
        default_factory=lambda: {"auc": 0.0, "mrr": 0.0, "ndcg@5": 0.0, "ndcg@10": 0.0}
    )

    def add(self, labels: Sequence[int], scores: Sequence[float]) -> float:
        """Score one impression and add it to the means; returns its AUC (NaN if skipped)."""
        self.impressions += 1
        a = auc(labels, scores)
        if math.isnan(a):
            self.skipped_auc += 1
        else:
            self._sums["auc"] += a
        if not any(labels):
            self.skipped_no_click += 1
            return a
        self._sums["mrr"] += mrr(labels, scores)
        self._sums["ndcg@5"] += ndcg(labels, scores, 5)
        self._sums["ndcg@10"] += ndcg(labels, scores, 10)
        return a

    def means(self) -> dict[str, float]:
        """``{"auc", "mrr", "ndcg@5", "ndcg@10"}``, each the mean over its impressions (NaN
        when there were none)."""
        n_auc = self.impressions - self.skipped_auc
        n_rest = self.impressions - self.skipped_no_click
        return {
            name: (total / (n_auc if name == "auc" else n_rest))
            if (n_auc if name == "auc" else n_rest)
            else math.nan
            for name, total in self._sums.items()
        }
