"""``tidings eval stories``: story clustering on ECB+, as enrichment runs it, in real orders.

ECB+ (``ecbplus/docs.jsonl``) holds 567 news articles in 25 topics; each topic is two
different real events of the same kind (two earthquakes, two product launches), and the gold
story of an article is its ``subtopic`` (50 stories). The clusterer is not told how many.

How a run goes. Every article is analysed once by enrichment's own analysis
(:class:`tidings.enrich.pipeline.Enricher`: the first sentence stands as the title, ECB+ has
no headlines). Then, for each order asked for, the articles are stored in a fresh SQLite
database in that order and the enrichment stage itself runs over them
(:class:`tidings.enrich.stage.EnrichmentStage`, in its batches of 64, with entity matching,
near-duplicates, story filing and saving as in production; only the analysis is taken from
the first step rather than computed again). The stories are read back from the stage's
clustering. ECB+ has no dates and no publishers: every article gets one publication time
(so time plays no part) and a source of its own (so the same-source rule plays none).

Orders (``--order``):

- ``file``: the file's order (a topic's articles together, the two events interleaved): the
  easiest order, and the only one measured before;
- ``shuffled``: a random order per seed (``--seeds``), as a real stream interleaves events;
  each seed is reported, with the mean and the worst.

``--distractors N`` mixes N unrelated AG News items (``ag_news``, a fixed sample drawn with
:data:`DISTRACTOR_SEED`) into the stream at random positions for the seed; each is a story of
its own in the gold labels, and B-cubed is counted over every item of the stream.

Score: B-cubed precision, recall and F1. Beside each figure, the baseline: TF-IDF vectors of
the whole texts with average-link agglomerative clustering **told the true number of stories**
(scipy's hierarchical clustering; it does not depend on the order). The published reference
for ECB+ is F1 about 0.88 for that set-up. Each figure is also given by halves of the topics
(even and odd topic numbers; the stream is clustered whole, and each half's articles are
scored alone, the baseline run on that half alone), because the pair model was fitted on
ECB+ dev: :mod:`tidings.enrich.story_pairs_train` reports the honest figure, each half
clustered by a model fitted on the other.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Vector
from tidings.enrich.pipeline import Analysis, Enricher
from tidings.enrich.stories import StoryItem
from tidings.enrich.story_feed import story_item
from tidings.types import Article, ArticleDraft

#: Used until ``baseline.json`` carries the keys.
DEFAULT_MINIMUMS = {
    "stories_bcubed_f1": 0.88,
    "stories_shuffled_bcubed_f1": 0.88,
    "stories_shuffled_over_tfidf": 0.0,
    "stories_mixed_bcubed_f1": 0.88,
    "stories_mixed_over_tfidf": 0.0,
}
KEY = "stories_bcubed_f1"
#: The one publication time every article is given (ECB+ carries no reliable dates).
SAME_DAY = datetime(2000, 1, 1, tzinfo=UTC)
#: Seed of the fixed sample of AG News distractors (their positions follow each run's seed).
DISTRACTOR_SEED = 0
#: The seeds of the gate's shuffled and mixed settings.
GATE_SEEDS = (0, 1, 2, 3, 4)
GATE_DISTRACTORS = 1000

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Doc:
    """One item of the stream: its text, gold story and (for ECB+) topic number."""

    key: str
    title: str
    body: str
    gold: str
    topic: int | None


def read_docs(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "docs.jsonl"
    with path.open(encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    if not docs:
        raise ValueError(f"no documents in {path}")
    return docs


def ecb_docs(data_dir: Path) -> list[Doc]:
    return [
        Doc(
            key=f"ecb:{d['doc_id']}",
            title=d["sentences"][0] if d["sentences"] else "",
            body=" ".join(d["sentences"][1:]),
            gold=str(d["subtopic"]),
            topic=int(d["topic"]),
        )
        for d in read_docs(data_dir)
    ]


def distractor_docs(ag_dir: Path, n: int) -> list[Doc]:
    """A fixed sample of ``n`` AG News items (title, description), each its own story."""
    from tidings.eval.topics import clean_ag_text

    rows: list[list[str]] = []
    for path in sorted(ag_dir.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows.extend(r for r in csv.reader(f) if len(r) >= 3)
    if n > len(rows):
        raise ValueError(f"{n} distractors asked for, {len(rows)} AG News items in {ag_dir}")
    chosen = random.Random(DISTRACTOR_SEED).sample(range(len(rows)), n)
    return [
        Doc(
            key=f"ag:{k}",
            title=clean_ag_text(rows[k][1]),
            body=clean_ag_text(rows[k][2]),
            gold=f"ag:{k}",
            topic=None,
        )
        for k in sorted(chosen)
    ]


def _article(doc: Doc, number: int) -> Article:
    return Article(
        id=number,
        source_id=number,
        content_hash="",
        fetched_at=SAME_DAY,
        published=SAME_DAY,
        guid=doc.key,
        title=doc.title,
        body=doc.body,
    )


def analyse(docs: Sequence[Doc], enricher: Enricher | None = None) -> dict[str, Analysis]:
    """Enrichment's analysis of each document, by key (the slow part: done once)."""
    enricher = enricher or Enricher()
    out: dict[str, Analysis] = {}
    batch = 64
    for start in range(0, len(docs), batch):
        chunk = docs[start : start + batch]
        for doc, analysis in zip(
            chunk, enricher.analyse([_article(d, k) for k, d in enumerate(chunk)]), strict=True
        ):
            out[doc.key] = analysis
    return out


class _AnalysedEnricher(Enricher):
    """An :class:`Enricher` that returns the analyses made beforehand, for stored articles
    with their new ids (the stage's run is otherwise untouched)."""

    def __init__(self, analyses: dict[str, Analysis]) -> None:
        super().__init__()
        self._analyses = analyses

    def analyse(
        self,
        articles: Sequence[Article],
        *,
        quick: bool = False,
        vectors: Mapping[int, Vector] | None = None,
    ) -> list[Analysis]:
        # Always the full analysis made beforehand: run_stage asks for no quick pass.
        out = []
        for article in articles:
            done = self._analyses[article.guid or ""]
            enrichment = replace(
                done.enrichment, article_id=article.id, content_hash=article.content_hash
            )
            out.append(Analysis(enrichment, done.vector, done.lead_names))
        return out


def run_stage(
    docs: Sequence[Doc], analyses: dict[str, Analysis], *, cold: bool = False
) -> list[str]:
    """Store ``docs`` in this order in a fresh database, run the enrichment stage over them
    and return each one's story id.

    With ``cold``, every batch is run by a new stage, as if each were a new process: the
    open stories come back from storage as their sums and name counts only (see
    :class:`tidings.enrich.story_feed.StoryFiler`)."""
    from tidings.config import Settings
    from tidings.engine import make_engine
    from tidings.enrich.stage import BATCH, EnrichmentStage

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/eval.sqlite", data_dir=Path(folder))
        with make_engine(settings) as engine:
            storage = engine.storage
            ids: list[int] = []
            for k, doc in enumerate(docs):
                # One source per article: ECB+ does not say who published what.
                source = storage.add_source(f"https://source{k}.example/feed", added=SAME_DAY)
                draft = ArticleDraft(
                    guid=doc.key, title=doc.title, body=doc.body, published=SAME_DAY
                )
                result = storage.upsert_articles(source.id, [draft], fetched_at=SAME_DAY)
                ids.extend(result.changed_ids)
            enricher = _AnalysedEnricher(analyses)
            while storage.count_to_enrich():
                # No quick first pass however many wait: each article is filed once, with
                # its full analysis, in the order stored.
                stage = EnrichmentStage(
                    storage,
                    vector_path=None,
                    clock=lambda: SAME_DAY,
                    enricher=enricher,
                    quick_backlog=len(docs),
                )
                stage.run(limit=BATCH if cold else None)
            filed = storage.stories_of(ids)
    return [f"s{filed[i]}" if i in filed else f"none:{i}" for i in ids]


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


_TOKEN = re.compile(r"[a-z0-9]+")


def _scipy(module: str) -> Any:
    """A scipy module, imported by name because it ships no type information. scipy is a
    dependency of the installed package (``pyproject.toml``), so the baseline runs without
    the dev extras."""
    return importlib.import_module(module)


def tfidf(texts: Sequence[str]) -> Any:
    """Unit-length TF-IDF rows as a sparse matrix (log-scaled term counts, smoothed idf,
    lower-cased words)."""
    sparse = _scipy("scipy.sparse")
    csr_matrix, diags = sparse.csr_matrix, sparse.diags
    counts = [Counter(_TOKEN.findall(t.lower())) for t in texts]
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, c in enumerate(counts):
        for word, n in c.items():
            rows.append(row)
            cols.append(vocab.setdefault(word, len(vocab)))
            values.append(1.0 + math.log(n))
    matrix = csr_matrix((values, (rows, cols)), shape=(len(texts), len(vocab)))
    df = np.bincount(matrix.indices, minlength=len(vocab))
    matrix = (matrix @ diags(np.log((1 + len(texts)) / (1 + df)) + 1.0)).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return diags(1.0 / np.maximum(norms, 1e-12)) @ matrix


def average_link(vectors: Any, k: int) -> list[int]:
    """Average-link agglomerative clustering by cosine into ``k`` clusters; a label per row
    (``vectors``: unit rows, dense or sparse)."""
    hierarchy = _scipy("scipy.cluster.hierarchy")
    fcluster, linkage = hierarchy.fcluster, hierarchy.linkage
    squareform = _scipy("scipy.spatial.distance").squareform

    n = vectors.shape[0]
    if k >= n:
        return list(range(n))
    sim = vectors @ vectors.T
    sim = sim.toarray() if hasattr(sim, "toarray") else np.asarray(sim)
    distance: npt.NDArray[np.float64] = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return [int(x) for x in fcluster(tree, k, criterion="maxclust")]


def tfidf_told_the_count(docs: Sequence[Doc]) -> tuple[float, float, float]:
    gold = [d.gold for d in docs]
    labels = average_link(tfidf([f"{d.title} {d.body}" for d in docs]), len(set(gold)))
    return bcubed([str(x) for x in labels], gold)


def _scores(docs: Sequence[Doc], predicted: Sequence[str]) -> dict[str, Any]:
    precision, recall, f1 = bcubed(predicted, [d.gold for d in docs])
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "stories": len(set(predicted)),
        "gold_stories": len({d.gold for d in docs}),
    }


def _halves(docs: Sequence[Doc], predicted: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, parity in (("even", 0), ("odd", 1)):
        keep = [k for k, d in enumerate(docs) if d.topic is not None and d.topic % 2 == parity]
        part = [docs[k] for k in keep]
        out[name] = _scores(part, [predicted[k] for k in keep])
        out[name]["tfidf_f1"] = tfidf_told_the_count(part)[2]
    return out


def evaluate_stories(
    data_dir: Path,
    *,
    order: str = "file",
    seeds: Sequence[int] = (0,),
    distractors: int = 0,
    ag_dir: Path | None = None,
    analyses: dict[str, Analysis] | None = None,
    cold: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Cluster the ECB+ articles in ``data_dir`` (the ``ecbplus`` folder) in the given
    order(s) through the enrichment stage and score them (see the module docstring).

    ``analyses`` (by document key, as :func:`analyse` returns them) saves analysing again
    when several settings are run in one process. ``cold`` runs every batch in a new stage
    (:func:`run_stage`).
    """
    if order not in ("file", "shuffled"):
        raise ValueError(f"order must be 'file' or 'shuffled', not {order!r}")
    if distractors < 0:
        raise ValueError("distractors must not be negative")
    ecb = ecb_docs(data_dir)
    extra: list[Doc] = []
    if distractors:
        folder = ag_dir or data_dir.parent / "ag_news"
        extra = distractor_docs(folder, distractors)
    say = progress or (lambda _: None)
    started = time.perf_counter()
    if analyses is None:
        analyses = {}
    missing = [d for d in [*ecb, *extra] if d.key not in analyses]
    if missing:
        say(f"analysing {len(missing)} articles")
        analyses.update(analyse(missing))
    features_seconds = time.perf_counter() - started
    runs: list[dict[str, Any]] = []
    baselines: dict[tuple[str, ...], tuple[float, float, float]] = {}
    for seed in seeds if order == "shuffled" or distractors else (None,):
        stream = [*ecb, *extra]
        rng = random.Random(seed)
        if order == "shuffled":
            rng.shuffle(stream)
        elif extra:
            # File order with distractors: the ECB+ articles keep their order, the
            # distractors go in at random places.
            stream = list(ecb)
            for doc in extra:
                stream.insert(rng.randrange(len(stream) + 1), doc)
        say(f"clustering {len(stream)} articles, {order} order, seed {seed}")
        began = time.perf_counter()
        predicted = run_stage(stream, analyses, cold=cold)
        seconds = time.perf_counter() - began
        key = tuple(sorted(d.key for d in stream))
        if key not in baselines:  # average link does not depend on the order
            baselines[key] = tfidf_told_the_count(stream)
        run = _scores(stream, predicted)
        run.update(
            seed=seed,
            seconds=seconds,
            tfidf=dict(zip(("precision", "recall", "f1"), baselines[key], strict=True)),
            halves=_halves(stream, predicted),
        )
        runs.append(run)
    f1s = [r["f1"] for r in runs]
    over = [r["f1"] - r["tfidf"]["f1"] for r in runs]
    return {
        "order": order,
        "distractors": distractors,
        "cold": cold,
        "documents": len(ecb) + len(extra),
        "runs": runs,
        "mean_f1": float(np.mean(f1s)),
        "worst_f1": float(min(f1s)),
        "mean_tfidf_f1": float(np.mean([r["tfidf"]["f1"] for r in runs])),
        "mean_over_tfidf": float(np.mean(over)),
        "worst_over_tfidf": float(min(over)),
        "features_seconds": features_seconds,
    }


def setting_key(order: str, distractors: int) -> str:
    """The ``baseline.json`` key of a setting's F1 minimum."""
    if distractors:
        return "stories_mixed_bcubed_f1"
    return "stories_shuffled_bcubed_f1" if order == "shuffled" else KEY


def format_report(report: dict[str, Any]) -> str:
    """Every run with its baseline and halves, then the mean and the worst."""
    lines = [
        f"stories on {report['documents']} items, {report['order']} order"
        + (f", {report['distractors']} AG News distractors" if report["distractors"] else "")
        + (", a new stage for every batch" if report.get("cold") else "")
        + f" (features {report['features_seconds']:.0f} s)"
    ]
    for r in report["runs"]:
        halves = r["halves"]
        lines.append(
            f"  seed {r['seed']}: B-cubed F1 {r['f1']:.3f} (P {r['precision']:.3f}, "
            f"R {r['recall']:.3f}; {r['stories']} stories for {r['gold_stories']}) | TF-IDF "
            f"told the count {r['tfidf']['f1']:.3f} | halves even {halves['even']['f1']:.3f} "
            f"(TF-IDF {halves['even']['tfidf_f1']:.3f}), odd {halves['odd']['f1']:.3f} "
            f"(TF-IDF {halves['odd']['tfidf_f1']:.3f}) | {r['seconds']:.1f} s"
        )
    lines.append(
        f"  mean F1 {report['mean_f1']:.3f}, worst {report['worst_f1']:.3f}; TF-IDF told the "
        f"count {report['mean_tfidf_f1']:.3f}; over it: mean {report['mean_over_tfidf']:+.3f}, "
        f"worst {report['worst_over_tfidf']:+.3f}"
    )
    return "\n".join(lines)


def summary_line(report: dict[str, Any], minimums: dict[str, float]) -> tuple[str, bool]:
    """One line: the setting's mean F1 (and, shuffled or mixed, its lead over TF-IDF told
    the count) against the stored minimums, and whether it passes."""
    key = setting_key(report["order"], report["distractors"])
    minimum = minimums.get(key, DEFAULT_MINIMUMS[key])
    ok = bool(report["mean_f1"] >= minimum)
    parts = [f"mean B-cubed F1 {report['mean_f1']:.3f} {'>=' if ok else '< '} {minimum:.3f}"]
    if key != KEY:
        over_key = key.replace("bcubed_f1", "over_tfidf")
        over_min = minimums.get(over_key, DEFAULT_MINIMUMS[over_key])
        over_ok = bool(report["mean_over_tfidf"] >= over_min)
        ok = ok and over_ok
        parts.append(
            f"over TF-IDF told the count {report['mean_over_tfidf']:+.3f} "
            f"{'>=' if over_ok else '< '} {over_min:+.3f}"
        )
    parts.append(f"worst seed {report['worst_f1']:.3f}")
    return f"stories ({key}): {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok


def ecb_items(docs: Sequence[dict[str, Any]]) -> list[StoryItem]:
    """The clusterer's items for ECB+ documents (as read by :func:`read_docs`), made as the
    stage makes them with each canonical entity name standing for its stored entity; for
    :mod:`tidings.enrich.story_pairs_train`. No source (each article its own)."""
    as_docs = [
        Doc(
            key=f"ecb:{d['doc_id']}",
            title=d["sentences"][0] if d["sentences"] else "",
            body=" ".join(d["sentences"][1:]),
            gold=str(d["subtopic"]),
            topic=int(d["topic"]),
        )
        for d in docs
    ]
    analyses = analyse(as_docs)
    items: list[StoryItem] = []
    for k, doc in enumerate(as_docs):
        analysis = analyses[doc.key]
        names = {e.name: e.name for e in analysis.enrichment.entities}
        item = story_item(_article(doc, k + 1), analysis, names)
        if item is None:
            raise ValueError(f"{doc.key} has no embedding")
        items.append(replace(item, source=None))
    return items
