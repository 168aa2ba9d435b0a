"""Similarity quality: the engine's pair similarity against human scores on news sentences.

The yardstick is the STS Benchmark (``sts_news/``): sentence pairs scored 0-5 by people. Only
the ``main-news`` genre is used, the kind of text Tidings embeds. The gated score is the
Spearman rank correlation between :class:`~tidings.enrich.similarity.SimilarityModel`'s score
and the gold score over all pairs of a split; Pearson is reported alongside, and so is the
plain cosine of the two vectors (the figure the sentence-transformers papers report, times 100
there), which the model starts from. The model is fitted on the train split only, so the dev
and test splits measure it on unseen pairs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Embedder
from tidings.enrich.similarity import SimilarityModel

#: The STS genre that is news (the others are image captions and forum posts).
GENRE = "main-news"


def read_pairs(path: Path) -> list[tuple[str, str, float, str]]:
    """``(sentence1, sentence2, score, file)`` of the news rows of an STS Benchmark TSV file.

    ``file`` is the pair's origin within the genre (``MSRpar`` paraphrases, ``headlines``).
    """
    pairs: list[tuple[str, str, float, str]] = []
    for line in path.read_text("utf-8").splitlines():
        # Not csv: the sentences hold bare quotes, and a few rows carry extra source columns.
        fields = line.split("\t")
        if len(fields) >= 7 and fields[0] == GENRE:
            pairs.append((fields[5], fields[6], float(fields[4]), fields[1]))
    return pairs


def rank(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks from 1, ties given the mean of the ranks they span (as Spearman's rho needs)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1, dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts), dtype=np.float64)
    np.add.at(sums, inverse, ranks)
    return (sums / counts)[inverse]


def pearson(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    return pearson(rank(a), rank(b))


def evaluate_similarity(
    data_dir: Path,
    *,
    split: str = "dev",
    embedder: Embedder | None = None,
    model: SimilarityModel | None = None,
) -> dict[str, Any]:
    """Score pair similarity on ``data_dir/sts-{split}.csv`` (the ``sts_news`` folder).

    Returns ``pairs``; ``spearman`` and ``pearson`` of the engine's score (the gated figure);
    ``cosine_spearman`` and ``cosine_pearson`` of the plain embedding cosine; ``by_file`` and
    ``cosine_by_file``, the Spearman of each origin, since MSRpar's long paraphrases score far
    below headlines; ``pairs_per_second``, end to end (both sentences of every pair embedded
    at the default batch size, then scored; model load excluded) and
    ``scoring_pairs_per_second``, the model's share alone with the vectors given.
    """
    path = data_dir / f"sts-{split}.csv"
    pairs = read_pairs(path)
    if not pairs:
        raise ValueError(f"no {GENRE} pairs in {path}")
    embedder = embedder or Embedder()
    model = model or SimilarityModel(embedder=embedder)
    embedder.embed(["warm up: load the model before timing"])
    texts = [(p[0], p[1]) for p in pairs]
    started = time.perf_counter()
    first = embedder.embed([p[0] for p in pairs])
    second = embedder.embed([p[1] for p in pairs])
    scoring_started = time.perf_counter()
    combined = model.score(texts, (first, second))
    finished = time.perf_counter()
    cosine = np.sum(first * second, axis=1).astype(np.float64)
    gold = np.array([p[2] for p in pairs], dtype=np.float64)
    files = np.array([p[3] for p in pairs])
    names = sorted(set(files.tolist()))
    return {
        "split": path.name,
        "pairs": len(pairs),
        "spearman": spearman(combined, gold),
        "pearson": pearson(combined, gold),
        "cosine_spearman": spearman(cosine, gold),
        "cosine_pearson": pearson(cosine, gold),
        "pairs_per_second": len(pairs) / (finished - started),
        "scoring_pairs_per_second": len(pairs) / (finished - scoring_started),
        "by_file": {str(n): spearman(combined[files == n], gold[files == n]) for n in names},
        "cosine_by_file": {str(n): spearman(cosine[files == n], gold[files == n]) for n in names},
    }


def summary_line(report: dict[str, Any], minimum: float) -> tuple[str, bool]:
    """One line with the score against its minimum, and whether it passes."""
    ok = bool(report["spearman"] >= minimum)
    return (
        f"similarity: {'PASS' if ok else 'FAIL'}: {report['split']} news pairs "
        f"{report['pairs']}: spearman {report['spearman']:.3f} {'>=' if ok else '< '} "
        f"{minimum:.2f}; pearson {report['pearson']:.3f}; plain cosine spearman "
        f"{report['cosine_spearman']:.3f}; {report['pairs_per_second']:.0f} pairs/s",
        ok,
    )
