"""``tidings eval stories``: online story clustering on ECB+ against its gold events.

ECB+ (``ecbplus/docs.jsonl``) holds 567 news articles in 25 topics; each topic is two
different real events of the same kind (two earthquakes, two product launches), and the gold
story of an article is its ``subtopic`` (50 stories). The clusterer is not told how many.

Ordering and time: ECB+ articles carry no reliable dates, so every article gets the same
publication time and they arrive in file order (topic by topic, the two events of a topic
interleaved by document number). With no time gaps the time term and window play no part;
the test is of meaning and names, the hard case of two same-kind events on the same day.

Each article is embedded as :func:`tidings.enrich.embed.text_for_embedding` sees it, with its
first sentence standing as the title (ECB+ has no headlines); its entity names are the
canonical names :class:`tidings.enrich.entities.EntityExtractor` finds in the whole text,
kept when first mentioned in the lead (:func:`tidings.enrich.stories.lead_names`).

Score: B-cubed precision, recall and F1 (per article: the share of its predicted story that
shares its gold story, and the share of its gold story inside its predicted story; averaged
over articles). A baseline is reported alongside: TF-IDF vectors with average-link
agglomerative clustering told the true number of stories (the published reference for ECB+
is B-cubed F1 about 0.88 for this set-up).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Embedder, text_for_embedding
from tidings.enrich.entities import EntityExtractor
from tidings.enrich.stories import StoryItem, StoryParams, cluster, lead_names

#: Used until ``baseline.json`` carries the key.
DEFAULT_MINIMUM = 0.88
KEY = "stories_bcubed_f1"
#: The one publication time every ECB+ article is given (they carry no reliable dates).
SAME_DAY = datetime(2000, 1, 1, tzinfo=UTC)


def read_docs(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "docs.jsonl"
    with path.open(encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    if not docs:
        raise ValueError(f"no documents in {path}")
    return docs


def bcubed(predicted: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    """B-cubed (precision, recall, F1) of a predicted labelling against a gold one."""
    if len(predicted) != len(gold) or not gold:
        raise ValueError("predicted and gold must be equally long and not empty")
    both = Counter(zip(predicted, gold, strict=True))
    pred_size = Counter(predicted)
    gold_size = Counter(gold)
    precision = sum(n * n / pred_size[p] for (p, _), n in both.items()) / len(gold)
    recall = sum(n * n / gold_size[g] for (_, g), n in both.items()) / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def story_items(
    docs: Sequence[dict[str, Any]],
    *,
    embedder: Embedder | None = None,
    extractor: EntityExtractor | None = None,
) -> list[StoryItem]:
    """The clusterer's view of each ECB+ article (embedding, names, the one shared date)."""
    titles = [d["sentences"][0] if d["sentences"] else "" for d in docs]
    bodies = [" ".join(d["sentences"][1:]) for d in docs]
    texts = [text_for_embedding(t, None, b) for t, b in zip(titles, bodies, strict=True)]
    vectors = (embedder or Embedder()).embed(texts)
    records = (extractor or EntityExtractor()).extract([" ".join(d["sentences"]) for d in docs])
    return [
        StoryItem(
            id=str(d["doc_id"]),
            vector=vectors[k],
            entities=lead_names(records[k]),
            published=SAME_DAY,
            title=titles[k],
        )
        for k, d in enumerate(docs)
    ]


_TOKEN = re.compile(r"[a-z0-9]+")


def tfidf(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """Unit-length TF-IDF rows (log-scaled term counts, smoothed idf, lower-cased words)."""
    counts = [Counter(_TOKEN.findall(t.lower())) for t in texts]
    vocab = {w: i for i, w in enumerate(sorted({w for c in counts for w in c}))}
    matrix = np.zeros((len(texts), len(vocab)), dtype=np.float64)
    for row, c in enumerate(counts):
        for word, n in c.items():
            matrix[row, vocab[word]] = 1.0 + math.log(n)
    df = (matrix > 0).sum(axis=0)
    matrix *= np.log((1 + len(texts)) / (1 + df)) + 1.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: npt.NDArray[np.float64] = matrix / np.maximum(norms, 1e-12)
    return result


def average_link(vectors: npt.NDArray[np.float64], k: int) -> list[int]:
    """Average-link agglomerative clustering by cosine into ``k`` clusters; a label per row."""
    n = len(vectors)
    sim = vectors @ vectors.T
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    labels = list(range(n))
    np.fill_diagonal(sim, -np.inf)
    for _ in range(n - k):
        masked = np.where(alive[:, None] & alive[None, :], sim, -np.inf)
        a, b = divmod(int(np.argmax(masked)), n)
        # Lance-Williams update for average linkage: size-weighted mean of the two rows.
        merged = (sim[a] * sizes[a] + sim[b] * sizes[b]) / (sizes[a] + sizes[b])
        sim[a], sim[:, a] = merged, merged
        sim[a, a] = -np.inf
        sizes[a] += sizes[b]
        alive[b] = False
        labels = [a if lab == b else lab for lab in labels]
    return labels


def evaluate_stories(
    data_dir: Path,
    *,
    params: StoryParams | None = None,
    embedder: Embedder | None = None,
    extractor: EntityExtractor | None = None,
    with_baseline: bool = True,
) -> dict[str, Any]:
    """Cluster the ECB+ articles in ``data_dir`` (the ``ecbplus`` folder) and score them."""
    docs = read_docs(data_dir)
    gold = [str(d["subtopic"]) for d in docs]
    started = time.perf_counter()
    items = story_items(docs, embedder=embedder, extractor=extractor)
    features_seconds = time.perf_counter() - started
    started = time.perf_counter()
    assigned = cluster(items, params)
    cluster_seconds = time.perf_counter() - started
    predicted = [assigned[item.id] for item in items]
    precision, recall, f1 = bcubed(predicted, gold)
    report: dict[str, Any] = {
        "documents": len(docs),
        "gold_stories": len(set(gold)),
        "predicted_stories": len(set(predicted)),
        "bcubed": {"precision": precision, "recall": recall, "f1": f1},
        "features_seconds": features_seconds,
        "cluster_seconds": cluster_seconds,
    }
    if with_baseline:
        texts = [" ".join(d["sentences"]) for d in docs]
        labels = average_link(tfidf(texts), len(set(gold)))
        bp, br, bf = bcubed([str(x) for x in labels], gold)
        report["tfidf_baseline"] = {"precision": bp, "recall": br, "f1": bf}
    return report


def summary_line(report: dict[str, Any], minimums: dict[str, float]) -> tuple[str, bool]:
    """One line with the B-cubed F1 against its minimum, and whether it passes."""
    minimum = minimums.get(KEY, DEFAULT_MINIMUM)
    b = report["bcubed"]
    ok = bool(b["f1"] >= minimum)
    parts = [
        f"B-cubed F1 {b['f1']:.3f} {'>=' if ok else '< '} {minimum:.2f} "
        f"(P {b['precision']:.3f}, R {b['recall']:.3f})",
        f"{report['predicted_stories']} stories for {report['gold_stories']} gold",
    ]
    if "tfidf_baseline" in report:
        parts.append(f"TF-IDF baseline told the count F1 {report['tfidf_baseline']['f1']:.3f}")
    return f"stories: {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok
