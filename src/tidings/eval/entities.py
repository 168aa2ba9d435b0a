"""``tidings eval entities``: named-entity mentions, their grouping within an article, and
whether the entities a reader is shown are well-formed.

Measured on entity-linking news benchmarks (JSONL ``{id, title, text, labels[{span:[start,
end], entity_id, name, type}]}``, every ``*.jsonl`` in the folder).

- Mention detection: a predicted mention matches a gold one when their spans overlap; each
  mention is matched at most once (greedily, in text order). Precision is matched predicted
  over predicted, recall matched gold over gold; counts are summed over all documents.
- Grouping: within each document, over the matched mentions whose gold entity id is a real
  Wikidata id (not ``<NIL>`` / ``<NO_MAPPING>``, which say nothing about identity), every
  pair with equal gold ids should sit in one predicted entity. Precision is over pairs we put
  in one entity, recall over pairs with the same gold id, summed over documents.
- What a reader sees. The documents are read in file order and their entities matched
  across articles by storage itself with enrichment's rules (:class:`StoreLinker`, a
  scratch SQLite database), so each entity gets the name and the article count the
  store would give it. Two precisions are then taken against the annotation:

  - *onboarding*: the entities the onboarding page suggests, chosen as it chooses them
    (``web/pages.py``: for each of PERSON, ORG and PLACE, the ``ONBOARDING_ENTITIES`` most
    covered by article count, ties to the first seen, as ``Storage.list_entities`` orders);
    the share that are well-formed in at least one document where they were found;
  - *reasons*: every (document, entity) pair whose entity is first named within the lead
    (:data:`tidings.rank.score.LEAD_CHARS`), the entities a reason on that article can name
    ("You often read about X"); the share where the entity is well-formed in that document.

  An entity with shown name N and type T is *well-formed in a document* when the annotation
  of that document has a mention g such that (1) g's span is exactly the span of one of the
  entity's mentions there (a leading "the", a trailing possessive and trailing punctuation
  trimmed from both), (2) N is g's text or g's linked name or a run of their words, compared
  by :func:`tidings.store.base.entity_key` (case, accents, dots and punctuation aside:
  "United States" for "U.S." linked to "United States of America", "Philips" for "NV Philips
  Gloeilampenfabrieken"), except that a name in capitals only of more than four letters counts
  only if the linked name is in capitals too ("NATO" yes, "LONDON" for London no) and one
  starting with a small letter only if the annotated text does ("senate" no), and
  (3) g's Wikidata classes include T's class (PERSON person Q215627, ORG organisation Q43229,
  PLACE geographic entity Q27096213, EVENT Q1656682, PRODUCT Q2424752, WORK creative work
  Q17537576), or the annotation gives no class (``OTHER``). So a dateline, an all-capitals
  fragment, a role word or a common noun is well-formed only if the annotators marked that
  very span as a name and the name shown is the one they marked; a person named "Deep Throat"
  or a city typed as a person is not. The annotation marks some common nouns ("Vice
  President", "Blueberries") and leaves some names unmarked, so both figures err a little
  each way; they compare methods on the same documents, not the whole truth.

Every figure is reported for the whole set and for its halves: each ``*.jsonl`` file
(MSNBC, Reuters-128), and odd and even documents in file order. A rule chosen on one half
is judged on the other (see ``BENCHMARKS.md``).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from tidings.enrich.entities import EntityExtractor, EntityRecord
from tidings.enrich.linking import EntityRules
from tidings.store.base import entity_key

#: The gates issue 4 set, used until ``baseline.json`` carries these keys.
DEFAULT_MINIMUMS = {
    "entities_mention_f1": 0.80,
    "entities_pairwise_f1": 0.85,
    "entities_onboarding_precision": 0.0,
    "entities_reason_precision": 0.0,
}

#: Our entity types and the Wikidata class each must have in the annotation.
TYPE_CLASSES = {
    "PERSON": "Q215627",
    "ORG": "Q43229",
    "PLACE": "Q27096213",
    "EVENT": "Q1656682",
    "PRODUCT": "Q2424752",
    "WORK": "Q17537576",
}
#: A name in capitals only longer than this is shouting unless the linked name is in
#: capitals too: acronyms of up to four letters ("FBI", "NATO") are names as they stand.
_MAX_PLAIN_ACRONYM = 4
_TRIM_START = re.compile(r"^(?:the|The|THE)\s+")
_TRIM_END = re.compile(r"(?:['\u2019]s?|[\s.,;:()])+$")


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


# --- the store's cross-article matching, in memory ----------------------------------------


@dataclass
class StoredEntity:
    """What the store keeps of an entity: what the onboarding page and reasons show."""

    id: int
    name: str
    type: str
    articles: int


class StoreLinker:
    """The documents stored one by one in a scratch SQLite database and their entities
    matched across them by storage itself (``save_enrichments`` with enrichment's own
    rules, :class:`tidings.enrich.linking.EntityRules`): each entity gets the name and
    article count the store would give it, as the onboarding page and reasons read them."""

    def __init__(self, folder: Path) -> None:
        from datetime import UTC, datetime

        from tidings.store.sql import open_storage

        self.storage = open_storage(f"sqlite:///{folder / 'entities.sqlite'}")
        self.now = datetime(2024, 1, 1, tzinfo=UTC)
        self.source = self.storage.add_source("https://eval.example/feed", added=self.now)
        self.rules = EntityRules()

    def link(self, d: int, records: Sequence[EntityRecord]) -> list[int]:
        """Store document ``d`` with its entities; the stored entity id of each record."""
        from tidings.enrich.pipeline import found_entities
        from tidings.types import ArticleDraft, Enrichment

        guid = f"doc-{d}"
        self.storage.upsert_articles(
            self.source.id, [ArticleDraft(guid=guid, title=guid)], fetched_at=self.now
        )
        [article] = self.storage.find_articles(self.source.id, guids=[guid])
        names = self.storage.save_enrichments(
            [
                Enrichment(
                    article_id=article.id,
                    content_hash=article.content_hash,
                    entities=found_entities(records),
                )
            ],
            enriched_at=self.now,
            matcher=self.rules,
        )[article.id]
        return [names[r.name] for r in records]

    def entity(self, entity_id: int) -> StoredEntity:
        e = self.storage.get_entity(entity_id)
        return StoredEntity(id=e.id, name=e.name, type=e.type, articles=e.article_count)

    def most_covered(self, type_: str, limit: int) -> list[StoredEntity]:
        """What onboarding asks storage for: the most covered entities of a type."""
        return [
            StoredEntity(id=e.id, name=e.name, type=e.type, articles=e.article_count)
            for e in self.storage.list_entities(type=type_, limit=limit)
        ]

    def close(self) -> None:
        self.storage.close()


# --- well-formed entities -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoldMention:
    start: int
    end: int
    text: str
    linked_name: str
    classes: frozenset[str]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    lead = _TRIM_START.match(text[start:end])
    if lead:
        start += lead.end()
    trail = _TRIM_END.search(text[start:end])
    if trail and trail.start() > 0:
        end = start + trail.start()
    return start, end


def gold_mentions(doc: dict[str, Any]) -> dict[tuple[int, int], GoldMention]:
    """The document's annotated mentions by trimmed span."""
    text: str = doc["text"]
    found: dict[tuple[int, int], GoldMention] = {}
    for label in doc["labels"]:
        s, e = _trimmed(text, int(label["span"][0]), int(label["span"][1]))
        classes = frozenset(c for c in str(label.get("type", "")).split("|") if c.startswith("Q"))
        name = str(label.get("name") or "")
        found[(s, e)] = GoldMention(s, e, text[s:e], "" if name == "Unknown" else name, classes)
    return found


def _shouted(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return len(letters) > _MAX_PLAIN_ACRONYM and all(c.isupper() for c in letters)


def _words_within(short: str, long: str) -> bool:
    """Whether ``short``'s words are ``long``'s or a run of them."""
    return bool(short) and f" {short} " in f" {long} "


def well_formed(
    name: str, type_: str, spans: Iterable[tuple[int, int]], text: str, gold: dict[Any, Any]
) -> bool:
    """Whether an entity shown as ``name`` (of ``type_``) with these mention spans in ``text``
    is what the annotation (:func:`gold_mentions`) marked there; see the module docstring."""
    key = entity_key(name)
    for start, end in spans:
        g: GoldMention | None = gold.get(_trimmed(text, start, end))
        if g is None:
            continue
        names = [g.text, *([g.linked_name] if g.linked_name else [])]
        if not any(_words_within(key, entity_key(n)) for n in names):
            continue
        if _shouted(name) and not (g.linked_name and _shouted(g.linked_name)):
            continue
        if name[:1].islower() and not g.text[:1].islower():
            continue
        if g.classes and TYPE_CLASSES.get(type_) not in g.classes:
            continue
        return True
    return False


def reader_view(
    docs: Sequence[dict[str, Any]],
    records: Sequence[Sequence[EntityRecord]],
    *,
    per_type: int | None = None,
    types: Sequence[str] | None = None,
    lead_chars: int | None = None,
) -> dict[str, Any]:
    """Onboarding and reason precision over documents read in order (module docstring)."""
    if per_type is None or types is None:
        from tidings.web.pages import ONBOARDING_ENTITIES, ONBOARDING_ENTITY_TYPES

        per_type = ONBOARDING_ENTITIES if per_type is None else per_type
        types = [t for t, _ in ONBOARDING_ENTITY_TYPES] if types is None else types
    if lead_chars is None:
        from tidings.rank.state import LEAD_CHARS

        lead_chars = LEAD_CHARS
    with tempfile.TemporaryDirectory(prefix="tidings-eval-entities-") as folder:
        linker = StoreLinker(Path(folder))
        try:
            # (document, entity) -> that entity's mention spans in the document.
            found_in: dict[tuple[int, int], list[tuple[int, int]]] = {}
            articles_of: dict[int, list[int]] = {}
            leads: list[tuple[int, int]] = []
            for d, entities in enumerate(records):
                for record, entity_id in zip(entities, linker.link(d, entities), strict=True):
                    spans = found_in.setdefault((d, entity_id), [])
                    if not spans:
                        articles_of.setdefault(entity_id, []).append(d)
                        if record.mentions and record.mentions[0].start < lead_chars:
                            leads.append((d, entity_id))
                    spans.extend((m.start, m.end) for m in record.mentions)
            golds = [gold_mentions(doc) for doc in docs]

            def judged(d: int, e: StoredEntity) -> bool:
                return well_formed(e.name, e.type, found_in[(d, e.id)], docs[d]["text"], golds[d])

            suggestions: list[dict[str, Any]] = []
            for type_ in types:
                for e in linker.most_covered(type_, per_type):
                    ok = any(judged(d, e) for d in articles_of.get(e.id, ()))
                    suggestions.append(
                        {"type": type_, "name": e.name, "articles": e.articles, "well_formed": ok}
                    )
            stored = {e: linker.entity(e) for e in {e for _, e in leads}}
            good_reasons = sum(judged(d, stored[e]) for d, e in leads)
        finally:
            linker.close()
    good_suggestions = sum(s["well_formed"] for s in suggestions)
    return {
        "onboarding": {
            "precision": good_suggestions / len(suggestions) if suggestions else 0.0,
            "shown": len(suggestions),
            "well_formed": good_suggestions,
            "suggestions": suggestions,
        },
        "reasons": {
            "precision": good_reasons / len(leads) if leads else 0.0,
            "shown": len(leads),
            "well_formed": good_reasons,
        },
    }


# --- the evaluation -----------------------------------------------------------------------


def load_documents(data_dir: Path) -> list[dict[str, Any]]:
    """Every document of every ``*.jsonl`` file, in file then line order, each with its
    file's stem under ``"file"``."""
    docs: list[dict[str, Any]] = []
    for path in sorted(data_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    doc = json.loads(line)
                    doc["file"] = path.name.split(".")[0]
                    docs.append(doc)
    if not docs:
        raise FileNotFoundError(f"no *.jsonl documents in {data_dir}")
    return docs


def score_mentions(
    docs: Sequence[dict[str, Any]], records: Sequence[Sequence[EntityRecord]]
) -> dict[str, Any]:
    """Mention and grouping precision, recall and F1 (module docstring)."""
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
    }


def _short(report: dict[str, Any]) -> dict[str, Any]:
    """A half's figures without the lists."""
    reader = report["reader"]
    return {
        "documents": report["documents"],
        "mention_f1": report["mentions"]["f1"],
        "pairwise_f1": report["pairwise"]["f1"],
        "onboarding_precision": reader["onboarding"]["precision"],
        "reason_precision": reader["reasons"]["precision"],
    }


def evaluate_entities(
    data_dir: Path, *, extractor: EntityExtractor | None = None
) -> dict[str, Any]:
    docs = load_documents(data_dir)
    extractor = extractor or EntityExtractor()
    extractor.extract(["Warm-up: load the model before timing."])
    started = time.perf_counter()
    records = extractor.extract([d["text"] for d in docs])
    seconds = time.perf_counter() - started

    def report_on(chosen: list[int]) -> dict[str, Any]:
        subset = [docs[i] for i in chosen]
        found = [records[i] for i in chosen]
        return {**score_mentions(subset, found), "reader": reader_view(subset, found)}

    report = report_on(list(range(len(docs))))
    halves: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        halves.setdefault(doc["file"], []).append(i)
    halves["odd"] = list(range(1, len(docs), 2))
    halves["even"] = list(range(0, len(docs), 2))
    report["halves"] = {name: _short(report_on(chosen)) for name, chosen in halves.items()}
    report["articles_per_second"] = len(docs) / seconds if seconds else 0.0
    return report


#: The figures the gate checks: (label, path in the report, baseline key).
GATED = (
    ("mention F1", ("mentions", "f1"), "entities_mention_f1"),
    ("pairwise F1", ("pairwise", "f1"), "entities_pairwise_f1"),
    (
        "onboarding precision",
        ("reader", "onboarding", "precision"),
        "entities_onboarding_precision",
    ),
    ("reason precision", ("reader", "reasons", "precision"), "entities_reason_precision"),
)


def gated_score(report: dict[str, Any], path: Sequence[str]) -> float:
    value: Any = report
    for part in path:
        value = value[part]
    return float(value)


def summary_line(report: dict[str, Any], minimums: dict[str, float]) -> tuple[str, bool]:
    """One line with every gated score against its minimum, and whether all pass."""
    parts: list[str] = []
    ok = True
    for label, path, key in GATED:
        score = gated_score(report, path)
        minimum = minimums.get(key, DEFAULT_MINIMUMS[key])
        passed = score >= minimum
        ok &= passed
        parts.append(f"{label} {score:.3f} {'>=' if passed else '< '} {minimum:.2f}")
    parts.append(f"{report['articles_per_second']:.0f} articles/s")
    return f"entities: {'PASS' if ok else 'FAIL'}: " + "; ".join(parts), ok
