"""Fit the story pair model of :mod:`tidings.enrich.stories` and report honest scores.

Run from the project's root::

    python -m tidings.enrich.story_pairs_train --data ../shared/data/ecbplus

The ECB+ development articles are analysed as enrichment analyses them and turned into
clusterer items as the stage makes them (:func:`tidings.enrich.story_feed.story_item`, with
each article's canonical entity names standing for stored entities). The pairs are every two
articles of one topic (two events of a kind: the hard pairs, about half of them one event)
and the pairs of different topics whose embeddings are at least
:data:`tidings.enrich.stories._CANDIDATE_COSINE` alike (the only ones the clusterer scores).

A logistic regression over :data:`tidings.enrich.stories.PAIR_FEATURES` is fitted (numpy,
Newton's method with a small ridge); then, for honest figures and the threshold, the topics
are split into halves by the parity of their number: fitted on one half, the other half is
clustered (average link, all at once) at each candidate threshold and scored by B-cubed F1,
and the reverse. The threshold with the best mean of the two held-out halves ships, with the
model fitted on all topics. Nothing but numpy is needed.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tidings.enrich import stories
from tidings.enrich.stories import PairModel, StoryItem, average_link, pair_features

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "story_pairs.json"
#: Thresholds tried (average pair probability at which clustering cuts).
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
#: Ridge penalty per example: only keeps the weights finite when a feature separates
#: perfectly; 1e-4 and 1e-2 gave the same held-out F1 to three places.
RIDGE = 1e-3


def idf_of(items: Sequence[StoryItem]) -> dict[str, float]:
    """Name weights as a clusterer that has seen ``items`` computes them."""
    df: Counter[str] = Counter()
    for it in items:
        df.update(set(it.names) | it.entities)
    n = len(items)
    return {name: math.log((1 + n) / (1 + c)) + 1.0 for name, c in df.items()}


def training_pairs(
    items: Sequence[StoryItem], gold: Sequence[str], topics: Sequence[int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Feature rows and labels (1: one event) of the pairs described in the module doc."""
    features = pair_features(items, None, idf_of(items))
    g = np.array(gold)
    t = np.array(topics)
    upper = np.triu(np.ones((len(items), len(items)), dtype=bool), 1)
    same_topic = t[:, None] == t[None, :]
    chosen = upper & (same_topic | (features[..., 0] >= stories._CANDIDATE_COSINE))
    labels = (g[:, None] == g[None, :])[chosen].astype(np.float64)
    return features[chosen], labels


def fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], threshold: float) -> PairModel:
    """Logistic regression by Newton's method (iteratively reweighted least squares)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    ridge = RIDGE * len(x) * np.eye(design.shape[1])
    ridge[-1, -1] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (p - y) + ridge @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return PairModel(
        weights=tuple(float(v) for v in w[:-1]), bias=float(w[-1]), threshold=threshold
    )


def bcubed_f1(predicted: Sequence[object], gold: Sequence[str]) -> float:
    both = Counter(zip(predicted, gold, strict=True))
    pred_size = Counter(predicted)
    gold_size = Counter(gold)
    p = sum(n * n / pred_size[a] for (a, _), n in both.items()) / len(gold)
    r = sum(n * n / gold_size[b] for (_, b), n in both.items()) / len(gold)
    return 2 * p * r / (p + r) if p + r else 0.0


def held_out(
    items: Sequence[StoryItem], gold: Sequence[str], topics: Sequence[int]
) -> dict[int, dict[float, float]]:
    """For each half (topic number parity), B-cubed F1 of clustering it with a model fitted
    on the other half, at each threshold of :data:`THRESHOLDS`."""
    out: dict[int, dict[float, float]] = {}
    for half in (0, 1):
        train = [k for k, t in enumerate(topics) if t % 2 != half]
        test = [k for k, t in enumerate(topics) if t % 2 == half]
        x, y = training_pairs(
            [items[k] for k in train], [gold[k] for k in train], [topics[k] for k in train]
        )
        model = fit(x, y, 0.5)
        test_items = [items[k] for k in test]
        odds = model.log_odds(pair_features(test_items, None, idf_of(test_items)))
        probability = 1.0 / (1.0 + np.exp(-odds))
        out[half] = {
            thr: bcubed_f1(average_link(probability, thr), [gold[k] for k in test])
            for thr in THRESHOLDS
        }
    return out


def train(
    items: Sequence[StoryItem], gold: Sequence[str], topics: Sequence[int]
) -> tuple[PairModel, dict[int, dict[float, float]]]:
    """The model to ship and the held-out scores that chose its threshold."""
    scores = held_out(items, gold, topics)
    threshold = max(THRESHOLDS, key=lambda t: (scores[0][t] + scores[1][t], -abs(t - 0.5)))
    x, y = training_pairs(items, gold, topics)
    return fit(x, y, threshold), scores


def main(argv: list[str] | None = None) -> None:
    from tidings.eval.stories import ecb_items, read_docs

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the ecbplus folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    docs = read_docs(args.data)
    print(f"{len(docs)} ECB+ articles; analysing...")
    items = ecb_items(docs)
    gold = [str(d["subtopic"]) for d in docs]
    topics = [int(d["topic"]) for d in docs]
    model, scores = train(items, gold, topics)
    for half in (0, 1):
        name = "even" if half == 0 else "odd"
        row = ", ".join(f"{t:.2f}: {f:.3f}" for t, f in scores[half].items())
        print(f"held-out {name} topics (fitted on the other half): {row}")
    weights = dict(zip(stories.PAIR_FEATURES, model.weights, strict=True))
    print(f"threshold {model.threshold}; weights {weights}")
    data = {
        "_comment": (
            "Story pair model of tidings.enrich.stories (logistic regression over "
            "PAIR_FEATURES; threshold: average-link cut); made by "
            "tidings.enrich.story_pairs_train from the ECB+ dev articles."
        ),
        **model.to_json(),
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n", "utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
