"""``tidings eval entities``: named-entity mentions and their grouping within an article.

Measured on entity-linking news benchmarks (JSONL ``{id, title, text, labels[{span:[start,
end], entity_id, name, type}]}``, every ``*.jsonl`` in the folder).

- Mention detection: a predicted mention matches a gold one when their spans overlap; each
  mention is matched at most once (greedily, in text order). Precision is matched predicted
  over predicted, recall matched gold over gold; counts are summed over all documents.
- Grouping: within each document, over the matched mentions whose gold entity id is a real
  Wikidata id (not ``<NIL>`` / ``<NO_MAPPING>``, which say nothing about identity), every
  pair with equal gold ids should sit in one predicted entity. Precision is over pairs we put
  in one entity, recall over pairs with the same gold id, summed over documents.
"""

from __future__ import annotations

import json
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from tidings.enrich.entities import EntityExtractor

#: The gates issue 4 set, used until ``baseline.json`` carries these keys.
DEFAULT_MINIMUMS = {"entities_mention_f1": 0.80, "entities_pairwise_f1": 0.85}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def match_mentions(
    predicted: list[tuple[int, int]], gold: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """One-to-one (predicted index, gold index) pairs of overlapping spans, in text order."""
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for pi, (ps, pe) in sorted(enumerate(predicted), key=lambda x: x[1]):
        for gi, (gs, ge) in sorted(enumerate(gold), key=lambda x: x[1]):
            if gi not in used and ps < ge and gs < pe:
                used.add(gi)
                pairs.append((pi, gi))
                break
    return pairs


def pair_counts(matched: list[tuple[int, str]]) -> tuple[int, int, int]:
    """(both, predicted-same, gold-same) pair counts for (predicted entity, gold id) items."""
    both = pred_same = gold_same = 0
    for (ea, ga), (eb, gb) in combinations(matched, 2):
        p, g = ea == eb, ga == gb
        both += p and g
        pred_same += p
        gold_same += g
    return both, pred_same, gold_same


def evaluate_entities(
    data_dir: Path, *, extractor: EntityExtractor | None = None
) -> dict[str, Any]:
    docs: list[dict[str, Any]] = []
    for path in sorted(data_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            docs.extend(json.loads(line) for line in f if line.strip())
    if not docs:
        raise FileNotFoundError(f"no *.jsonl documents in {data_dir}")
    extractor = extractor or EntityExtractor()
    extractor.extract(["Warm-up: load the model before timing."])
    started = time.perf_counter()
    records = extractor.extract([d["text"] for d in docs])
    seconds = time.perf_counter() - started

    n_pred = n_gold = n_matched = 0
    both = pred_same = gold_same = 0
    for doc, entities in zip(docs, records, strict=True):
        predicted = [(m.start, m.end) for e in entities for m in e.mentions]
        owner = [k for k, e in enumerate(entities) for _ in e.mentions]
        gold = [(int(lab["span"][0]), int(lab["span"][1])) for lab in doc["labels"]]
        gold_ids = [str(lab["entity_id"]) for lab in doc["labels"]]
        pairs = match_mentions(predicted, gold)
        n_pred += len(predicted)
        n_gold += len(gold)
        n_matched += len(pairs)
        linked = [(owner[pi], gold_ids[gi]) for pi, gi in pairs if gold_ids[gi].startswith("Q")]
        b, ps, gs = pair_counts(linked)
        both += b
        pred_same += ps
        gold_same += gs

    precision = n_matched / n_pred if n_pred else 0.0
    recall = n_matched / n_gold if n_gold else 0.0
    pair_p = both / pred_same if pred_same else 0.0
    pair_r = both / gold_same if gold_same else 0.0
    return {
        "documents": len(docs),
        "mentions": {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "predicted": n_pred,
            "gold": n_gold,
        },
        "pairwise": {"precision": pair_p, "recall": pair_r, "f1": _f1(pair_p, pair_r)},
        "articles_per_second": len(docs) / seconds if seconds else 0.0,
    }


def summary_line(report: dict[str, Any], minimums: dict[str, float]) -> tuple[str, bool]:
    """One line with both scores against their minimums, and whether both pass."""
    parts: list[str] = []
    ok = True
    for label, score, key in (
        ("mention F1", report["mentions"]["f1"], "entities_mention_f1"),
        ("pairwise F1", report["pairwise"]["f1"], "entities_pairwise_f1"),
    ):
        minimum = minimums.get(key, DEFAULT_MINIMUMS[key])
        passed = score >= minimum
        ok &= passed
        parts.append(f"{label} {score:.3f} {'>=' if passed else '< '} {minimum:.2f}")
    parts.append(f"{report['articles_per_second']:.0f} articles/s")
    return f"entities: {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok
