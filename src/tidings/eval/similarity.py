"""Embedding quality: cosine similarity against human similarity scores on news sentences.

The yardstick is the STS Benchmark (``sts_news/``): sentence pairs scored 0-5 by people. Only
the ``main-news`` genre is used, the kind of text Tidings embeds. The score is the Spearman
rank correlation between the cosine of our two vectors and the gold score over all pairs, as
the sentence-transformers papers report it (times 100 there); Pearson is reported alongside.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Embedder

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
    data_dir: Path, *, split: str = "dev", embedder: Embedder | None = None
) -> dict[str, Any]:
    """Score the embeddings on ``data_dir/sts-{split}.csv`` (the ``sts_news`` folder).

    Returns ``pairs``, ``spearman``, ``pearson``, ``pairs_per_second`` (both sentences of
    every pair embedded at the default batch size, model load excluded) and ``by_file``: the
    Spearman of each origin, since MSRpar's long paraphrases score far below headlines.
    """
    path = data_dir / f"sts-{split}.csv"
    pairs = read_pairs(path)
    if not pairs:
        raise ValueError(f"no {GENRE} pairs in {path}")
    embedder = embedder or Embedder()
    embedder.embed(["warm up: load the model before timing"])
    started = time.perf_counter()
    first = embedder.embed([p[0] for p in pairs])
    second = embedder.embed([p[1] for p in pairs])
    elapsed = time.perf_counter() - started
    cosine = np.sum(first * second, axis=1).astype(np.float64)
    gold = np.array([p[2] for p in pairs], dtype=np.float64)
    files = np.array([p[3] for p in pairs])
    by_file = {
        str(name): spearman(cosine[files == name], gold[files == name])
        for name in sorted(set(files.tolist()))
    }
    return {
        "split": path.name,
        "pairs": len(pairs),
        "spearman": spearman(cosine, gold),
        "pearson": pearson(cosine, gold),
        "pairs_per_second": len(pairs) / elapsed,
        "by_file": by_file,
    }


def summary_line(report: dict[str, Any], minimum: float) -> tuple[str, bool]:
    """One line with the score against its minimum, and whether it passes."""
    ok = bool(report["spearman"] >= minimum)
    return (
        f"similarity: {'PASS' if ok else 'FAIL'}: {report['split']} news pairs "
        f"{report['pairs']}: spearman {report['spearman']:.3f} {'>=' if ok else '< '} "
        f"{minimum:.2f}; pearson {report['pearson']:.3f}; "
        f"{report['pairs_per_second']:.0f} pairs/s",
        ok,
    )
