"""News topics without training data: embedding similarity to written topic descriptions.

The taxonomy (``tidings/data/topics.json``) is the 17 top-level IPTC Media Topics and a few
subtopics under each, every one with a short description of its typical vocabulary. Each
sentence of a description is a *prototype*: it is embedded once, and an article (title + lead,
see :func:`tidings.enrich.embed.text_for_embedding`) is scored against all of them.

Scoring, all pure (vectors in, topics out):

1. A topic's similarity to an article is the mean cosine of its :data:`TOP_K` closest
   prototypes, counting the prototypes of its subtopics too. Not the mean of all of them: a
   sports story need only look like one kind of sport, and a mean would pull it towards the
   centre of all sports. Not the single closest either: one sentence that happens to share a
   word decides too much.
2. Top-level similarities become probabilities with a softmax at :data:`TEMPERATURE`.
3. The best top-level topic is kept when its probability reaches :data:`MIN_CONFIDENCE`;
   otherwise the article has no confident topic (``None``). Within the chosen topic the best
   subtopic is reported the same way, its confidence a softmax over that topic's subtopics.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Embedder, Vector

#: Prototypes averaged per topic. Compared on AG News (see ``tidings.eval.topics``) with the
#: single best (k=1), k=2, 3, 4, the mean of all and the centroid: k=3 scored best, k=2 and 4
#: within a point of it, k=1 and the mean of all 3-7 points lower.
TOP_K = 3
#: Softmax temperature over (top-k mean) cosine similarities. Between a news text and its
#: best and runner-up topic these typically differ by 0.01-0.2, so at 0.03 a gap of 0.05 gives
#: odds of about 5:1 and a gap of 0.01 barely tips the balance (1.4:1). It does not change
#: which topic wins, only how sure we say we are. Measured on AG News (expected calibration
#: error of the top topic's probability, judged by its mapped AG class): 0.15 at 0.01, 0.10 at
#: 0.02, 0.075 at 0.03; the confidences still run high, so treat them as a ranking, not odds.
TEMPERATURE = 0.03
#: Below this top-level probability the article gets no topic. With 17 topics a uniform guess
#: is 0.06; at 0.4 no rival can be ahead of the winner and most mass sits on it. On AG News
#: 94% of articles reach it (at TEMPERATURE 0.03), and those are 83% right against 81% overall.
MIN_CONFIDENCE = 0.4


@dataclass(frozen=True)
class Topic:
    """One entry of the taxonomy."""

    #: IPTC Media Topic id (``medtop:15000000``) or, for a subtopic, its parent's id + a slug.
    id: str
    #: Human-readable name, lower case as IPTC writes them.
    label: str
    #: The parent's id; ``None`` for a top-level topic.
    parent: str | None
    #: A few sentences of typical vocabulary; each sentence is one prototype.
    description: str


@dataclass(frozen=True)
class TopicMatch:
    """The topic of one article."""

    #: The top-level topic.
    topic: Topic
    #: Softmax probability of ``topic`` among the top-level topics, in [0, 1].
    confidence: float
    #: The best subtopic of ``topic``; ``None`` when the topic has none.
    subtopic: Topic | None
    #: Softmax probability of ``subtopic`` among ``topic``'s subtopics (0 when there is none).
    subtopic_confidence: float


def load_taxonomy() -> tuple[Topic, ...]:
    """The shipped taxonomy, parents before their children."""
    text = resources.files("tidings").joinpath("data/topics.json").read_text("utf-8")
    return tuple(
        Topic(id=t["id"], label=t["label"], parent=t["parent"], description=t["description"])
        for t in json.loads(text)["topics"]
    )


def split_sentences(description: str) -> list[str]:
    """The sentences of a description (split after ``.``, ``!`` or ``?`` and a space)."""
    return [s for s in re.split(r"(?<=[.!?])\s+", description.strip()) if s]


def prototype_texts(topics: Sequence[Topic]) -> tuple[list[str], list[int]]:
    """Every description sentence, and for each the index of the topic it belongs to."""
    texts: list[str] = []
    owners: list[int] = []
    for i, topic in enumerate(topics):
        for sentence in split_sentences(topic.description):
            texts.append(sentence)
            owners.append(i)
    return texts, owners


def topic_similarities(
    articles: Vector, prototypes: Vector, groups: Sequence[Sequence[int]], top_k: int = TOP_K
) -> npt.NDArray[np.float32]:
    """``(n_articles, len(groups))``: per group, the mean of its ``top_k`` best cosines.

    Rows of ``articles`` and ``prototypes`` are unit vectors; ``groups[k]`` lists the rows of
    ``prototypes`` that speak for group ``k``. A group with fewer than ``top_k`` rows averages
    all it has; an empty group scores -1, the lowest cosine.
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    sims = np.asarray(articles, dtype=np.float32) @ np.asarray(prototypes, dtype=np.float32).T
    out = np.full((sims.shape[0], len(groups)), -1.0, dtype=np.float32)
    for k, rows in enumerate(groups):
        if rows:
            group = sims[:, list(rows)]
            k_best = min(top_k, group.shape[1])
            out[:, k] = np.sort(group, axis=1)[:, -k_best:].mean(axis=1)
    return out


def softmax(similarities: npt.NDArray[np.float32], temperature: float) -> npt.NDArray[np.float32]:
    """Row-wise softmax of ``similarities / temperature``."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    z = similarities / np.float32(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probabilities: npt.NDArray[np.float32] = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return probabilities


def root_groups(topics: Sequence[Topic], owners: Sequence[int]) -> list[list[int]]:
    """Prototype rows per top-level topic (its own and its descendants'), in taxonomy order."""
    index = {t.id: i for i, t in enumerate(topics)}
    roots = [i for i, t in enumerate(topics) if t.parent is None]
    position = {r: k for k, r in enumerate(roots)}

    def root_of(i: int) -> int:
        seen: set[int] = set()
        while topics[i].parent is not None:
            if i in seen:
                raise ValueError(f"topic {topics[i].id} is its own ancestor")
            seen.add(i)
            i = index[topics[i].parent]  # type: ignore[index]  # not None: checked above
        return i

    groups: list[list[int]] = [[] for _ in roots]
    for row, owner in enumerate(owners):
        groups[position[root_of(owner)]].append(row)
    return groups


def assign_topics(
    articles: Vector,
    prototypes: Vector,
    owners: Sequence[int],
    topics: Sequence[Topic],
    *,
    temperature: float = TEMPERATURE,
    min_confidence: float = MIN_CONFIDENCE,
    top_k: int = TOP_K,
) -> list[TopicMatch | None]:
    """The topic of each article row, or ``None`` where no topic reaches ``min_confidence``.

    ``prototypes[j]`` is the embedding of a description sentence of ``topics[owners[j]]``.
    """
    roots = [t for t in topics if t.parent is None]
    probabilities = top_level_probabilities(
        articles, prototypes, owners, topics, temperature, top_k
    )
    own_rows: dict[str, list[int]] = {}
    for row, owner in enumerate(owners):
        own_rows.setdefault(topics[owner].id, []).append(row)
    children: dict[str, list[Topic]] = {}
    for t in topics:
        if t.parent is not None:
            children.setdefault(t.parent, []).append(t)

    results: list[TopicMatch | None] = []
    for i, row in enumerate(probabilities):
        best = int(np.argmax(row))
        confidence = float(row[best])
        if confidence < min_confidence:
            results.append(None)
            continue
        topic = roots[best]
        subs = children.get(topic.id, [])
        subtopic: Topic | None = None
        sub_confidence = 0.0
        if subs:
            sub_sims = topic_similarities(
                articles[i : i + 1], prototypes, [own_rows.get(s.id, []) for s in subs], top_k
            )
            sub_p = softmax(sub_sims, temperature)[0]
            k = int(np.argmax(sub_p))
            subtopic, sub_confidence = subs[k], float(sub_p[k])
        results.append(TopicMatch(topic, confidence, subtopic, sub_confidence))
    return results


def top_level_probabilities(
    articles: Vector,
    prototypes: Vector,
    owners: Sequence[int],
    topics: Sequence[Topic],
    temperature: float = TEMPERATURE,
    top_k: int = TOP_K,
) -> npt.NDArray[np.float32]:
    """``(n_articles, n_top_level)`` probabilities, columns in taxonomy order."""
    sims = topic_similarities(articles, prototypes, root_groups(topics, owners), top_k)
    return softmax(sims, temperature)


class TopicClassifier:
    """Assigns taxonomy topics to article texts; embeds the descriptions once, on first use.

    :param embedder: shared with the rest of the pipeline so the model loads once.
    :param topics: the taxonomy; :func:`load_taxonomy` by default.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        topics: Sequence[Topic] | None = None,
        *,
        temperature: float = TEMPERATURE,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        self.embedder = embedder or Embedder()
        self.topics = tuple(topics) if topics is not None else load_taxonomy()
        self.temperature = temperature
        self.min_confidence = min_confidence
        self._prototypes: Vector | None = None
        self._texts, self._owners = prototype_texts(self.topics)
        self._lock = threading.Lock()

    @property
    def roots(self) -> list[Topic]:
        """The top-level topics, in the column order of :meth:`probabilities`."""
        return [t for t in self.topics if t.parent is None]

    def prototypes(self) -> Vector:
        """The embedded description sentences (computed once)."""
        with self._lock:
            if self._prototypes is None:
                self._prototypes = self.embedder.embed(self._texts)
            return self._prototypes

    def classify_vectors(self, vectors: Vector) -> list[TopicMatch | None]:
        """Topics of already embedded articles (rows of unit vectors)."""
        return assign_topics(
            vectors,
            self.prototypes(),
            self._owners,
            self.topics,
            temperature=self.temperature,
            min_confidence=self.min_confidence,
        )

    def classify(self, texts: Sequence[str]) -> list[TopicMatch | None]:
        """Topics of article texts (title + lead)."""
        return self.classify_vectors(self.embedder.embed(texts))

    def probabilities(self, vectors: Vector) -> npt.NDArray[np.float32]:
        """Top-level probabilities of embedded articles, columns as in :attr:`roots`."""
        return top_level_probabilities(
            vectors, self.prototypes(), self._owners, self.topics, self.temperature
        )
