"""Quality metrics, each computed exactly as the benchmark that defines it does.

Body extraction: the Zyte article-extraction-benchmark's metric. Each text becomes the
multiset of its shingles (4 consecutive ``\\w+`` tokens, case kept); per document, true
positives, false positives and false negatives are counted over shingles and normalised to
sum to 1 (so long articles weigh no more than short ones); precision is averaged over the
documents that predicted something or expected nothing, recall over those that expected
something or predicted nothing, and F1 is taken of the two averages.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+")

#: Tokens per shingle in the benchmark's metric.
SHINGLE_TOKENS = 4


@dataclass(frozen=True, slots=True)
class ShingleCounts:
    """Normalised true positives, false positives and false negatives of one document."""

    tp: float
    fp: float
    fn: float


def shingles(text: str, n: int = SHINGLE_TOKENS) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    # A text shorter than n tokens is one (short) shingle, as in the benchmark.
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def shingle_counts(expected: str, predicted: str, n: int = SHINGLE_TOKENS) -> ShingleCounts:
    true, pred = shingles(expected, n), shingles(predicted, n)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if total == 0:
        return ShingleCounts(0.0, 0.0, 0.0)
    return ShingleCounts(tp / total, fp / total, fn / total)


def _precision(c: ShingleCounts) -> float:
    if c.fp == c.fn == 0:
        return 1.0
    return 0.0 if c.tp == c.fp == 0 else c.tp / (c.tp + c.fp)


def _recall(c: ShingleCounts) -> float:
    if c.fp == c.fn == 0:
        return 1.0
    return 0.0 if c.tp == c.fn == 0 else c.tp / (c.tp + c.fn)


@dataclass(frozen=True, slots=True)
class BodyScores:
    precision: float
    recall: float
    f1: float
    documents: int


def body_scores(counts: Iterable[ShingleCounts]) -> BodyScores:
    """Precision and recall averaged over documents, and F1 of the averages."""
    docs = list(counts)
    precisions = [_precision(c) for c in docs if c.tp + c.fp > 0]
    recalls = [_recall(c) for c in docs if c.tp + c.fn > 0]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BodyScores(precision, recall, f1, len(docs))
