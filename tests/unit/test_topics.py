"""Zero-shot topics: the pure scoring on synthetic vectors, the taxonomy file, a few headlines."""

from __future__ import annotations

import numpy as np
import pytest

from tidings.enrich.topics import (
    Topic,
    TopicClassifier,
    assign_topics,
    load_taxonomy,
    prototype_texts,
    root_groups,
    softmax,
    split_sentences,
    topic_similarities,
)

# Three axis-aligned "topics" in 4 dimensions: a (with subtopics a1, a2), b, c.
TOPICS = [
    Topic("t:a", "a", None, "A one."),
    Topic("t:a1", "a one", "t:a", "A1 one. A1 two."),
    Topic("t:a2", "a two", "t:a", "A2 one."),
    Topic("t:b", "b", None, "B one."),
    Topic("t:c", "c", None, "C one."),
]
OWNERS = [0, 1, 1, 2, 3, 4]
E = np.eye(4, dtype=np.float32)
# a, a1, a1, a2 near axis 0 (a1 leaning to axis 3, a2 to the other side); b axis 1; c axis 2.
PROTOTYPES = np.stack(
    [E[0], (E[0] + 0.3 * E[3]), (E[0] + 0.3 * E[3]), (E[0] - 0.3 * E[3]), E[1], E[2]]
)
PROTOTYPES = PROTOTYPES / np.linalg.norm(PROTOTYPES, axis=1, keepdims=True)


def unit(v: list[float]) -> np.ndarray:
    a = np.asarray([v], dtype=np.float32)
    return a / np.linalg.norm(a)


def test_similarity_is_mean_of_top_k_per_group() -> None:
    sims = np.asarray([[0.9, 0.1, 0.5, 0.7]], dtype=np.float32)
    eye = np.eye(4, dtype=np.float32)
    out = topic_similarities(sims @ eye, eye, [[0, 1, 2], [3], []], top_k=2)
    assert out[0, 0] == pytest.approx(0.7)  # mean of 0.9 and 0.5
    assert out[0, 1] == pytest.approx(0.7)  # fewer rows than k: all of them
    assert out[0, 2] == -1.0  # empty group
    with pytest.raises(ValueError):
        topic_similarities(eye, eye, [[0]], top_k=0)


def test_softmax_rows_sum_to_one_and_temperature_sharpens() -> None:
    sims = np.asarray([[0.3, 0.2, 0.1]], dtype=np.float32)
    soft, sharp = softmax(sims, 1.0), softmax(sims, 0.01)
    assert soft.sum() == pytest.approx(1.0)
    assert sharp[0, 0] > soft[0, 0] and sharp[0, 0] > 0.99
    with pytest.raises(ValueError):
        softmax(sims, 0.0)


def test_root_groups_collect_descendants() -> None:
    assert root_groups(TOPICS, OWNERS) == [[0, 1, 2, 3], [4], [5]]


def test_assigns_topic_and_subtopic() -> None:
    articles = np.concatenate([unit([1, 0, 0, 0.4]), unit([1, 0, 0, -0.4]), unit([0, 1, 0, 0])])
    got = assign_topics(articles, PROTOTYPES, OWNERS, TOPICS, temperature=0.05)
    assert [m.topic.id if m else None for m in got] == ["t:a", "t:a", "t:b"]
    assert got[0] is not None and got[0].subtopic is not None
    assert got[0].subtopic.id == "t:a1"
    assert got[1] is not None and got[1].subtopic is not None
    assert got[1].subtopic.id == "t:a2"
    assert got[2] is not None and got[2].subtopic is None
    assert got[2].subtopic_confidence == 0.0
    assert all(m is not None and 0.9 < m.confidence <= 1.0 for m in got)


def test_no_confident_topic_when_similarities_tie() -> None:
    # Equally close to a, b and c: a third each, below the threshold.
    article = unit([1, 1, 1, 0])
    (got,) = assign_topics(article, PROTOTYPES, OWNERS, TOPICS, top_k=1, min_confidence=0.4)
    assert got is None


def test_split_sentences() -> None:
    assert split_sentences(" One thing. Two? Three!  ") == ["One thing.", "Two?", "Three!"]


def test_taxonomy_is_valid() -> None:
    topics = load_taxonomy()
    ids = [t.id for t in topics]
    assert len(ids) == len(set(ids)), "topic ids must be unique"
    roots = [t for t in topics if t.parent is None]
    assert len(roots) == 17
    assert all(t.id.startswith("medtop:") for t in topics)
    for t in topics:
        assert t.label.strip() and t.description.strip(), t.id
        if t.parent is not None:
            assert t.parent in {r.id for r in roots}, f"{t.id}: parent {t.parent} is not top-level"
            assert t.id.startswith(t.parent + "."), t.id
    assert all(any(t.parent == r.id for t in topics) for r in roots), "every topic has subtopics"
    texts, owners = prototype_texts(topics)
    assert len(texts) == len(owners) and set(owners) == set(range(len(topics)))


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier()


@pytest.mark.parametrize(
    ("headline", "topic"),
    [
        ("Manchester United beat Chelsea 2-1", "medtop:15000000"),
        ("Shares fall as the central bank raises interest rates", "medtop:04000000"),
        ("Earthquake kills hundreds and leaves thousands homeless", "medtop:03000000"),
        ("NASA launches a new probe to Mars", "medtop:13000000"),
        ("Voters go to the polls in the presidential election", "medtop:11000000"),
        ("Heavy snow and freezing temperatures forecast for the weekend", "medtop:17000000"),
    ],
)
def test_obvious_headlines(classifier: TopicClassifier, headline: str, topic: str) -> None:
    (match,) = classifier.classify([headline])
    assert match is not None, headline
    assert match.topic.id == topic, (headline, match.topic.label, match.confidence)


def test_prototypes_are_embedded_once(classifier: TopicClassifier) -> None:
    assert classifier.prototypes() is classifier.prototypes()
