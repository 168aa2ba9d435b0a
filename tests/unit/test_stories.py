"""Online story clustering: the pure clusterer on small synthetic vectors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.enrich.entities import EntityRecord, Mention
from tidings.enrich.stories import (
    StoryClusterer,
    StoryItem,
    StoryParams,
    cluster,
    lead_names,
    name_cosine,
)
from tidings.eval.stories import average_link, bcubed, summary_line, tfidf

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
DIM = 8


def direction(angle_deg: float, plane: int = 0) -> np.ndarray:
    """A unit vector at ``angle_deg`` from axis ``2 * plane`` towards axis ``2 * plane + 1``."""
    v = np.zeros(DIM, dtype=np.float32)
    a = math.radians(angle_deg)
    v[2 * plane], v[2 * plane + 1] = math.cos(a), math.sin(a)
    return v


def item(
    id: str,
    vector: np.ndarray,
    names: set[str],
    hours: float = 0.0,
    title: str | None = None,
) -> StoryItem:
    return StoryItem(id, vector, frozenset(names), T0 + timedelta(hours=hours), title)


CHILE = {"Chile", "Valparaiso"}
NEPAL = {"Nepal", "Kathmandu"}


def test_articles_of_one_event_join_one_story() -> None:
    c = StoryClusterer()
    first = c.add(item("a1", direction(0), CHILE, 0, "Quake hits Chile"))
    assert c.add(item("a2", direction(30), CHILE | {"USGS"}, 2)) == first
    assert c.add(item("a3", direction(-20), CHILE, 5)) == first
    (story,) = c.stories()
    assert story.members == ("a1", "a2", "a3")
    assert story.first_seen == T0 and story.last_seen == T0 + timedelta(hours=5)


def test_unrelated_article_starts_a_new_story() -> None:
    c = StoryClusterer()
    a = c.add(item("a", direction(0, plane=0), CHILE))
    b = c.add(item("b", direction(0, plane=1), {"Apple", "iPhone"}))
    assert a != b
    assert [s.members for s in c.stories()] == [("a",), ("b",)]


def test_two_events_of_one_kind_stay_apart_by_their_names() -> None:
    # Two earthquakes: the articles read alike (cosine 0.71 across events, 0.87 within one)
    # but name different places.
    c = StoryClusterer()
    chile = [c.add(item(f"c{k}", direction(a), CHILE, k)) for k, a in enumerate((0, 30, -30))]
    nepal = [c.add(item(f"n{k}", direction(45 + a), NEPAL, 3 + k)) for k, a in enumerate((0, 5))]
    assert len(set(chile)) == 1 and len(set(nepal)) == 1
    assert chile[0] != nepal[0]
    # Embeddings alone, at a threshold that still joins the articles of one event, cannot.
    blind = StoryParams(join_threshold=0.70, entity_weight=0.0, merge_threshold=0.85)
    items = [item("c0", direction(0), CHILE), item("n0", direction(45), NEPAL, 1)]
    assert len(set(cluster(items, blind).values())) == 1


def test_a_story_closes_after_the_window() -> None:
    params = StoryParams(window=timedelta(days=3))
    c = StoryClusterer(params)
    first = c.add(item("a", direction(0), CHILE, 0))
    assert c.add(item("b", direction(0), CHILE, 48)) == first  # two days after "a"
    assert c.add(item("c", direction(0), CHILE, 48 + 73)) != first  # three days after "b"


def test_time_penalty_prefers_the_fresh_story() -> None:
    c = StoryClusterer(StoryParams(window=timedelta(days=3), merge_threshold=9.0))
    old = c.add(item("old", direction(0), CHILE, 0))
    fresh = c.add(item("fresh", direction(0, plane=1), CHILE, 40))
    # Halfway between the two in meaning, but "old" was last seen 40 hours before "fresh".
    mid = (direction(0) + direction(0, plane=1)) / np.float32(math.sqrt(2))
    assert old != fresh
    assert c.add(item("new", mid, CHILE, 48)) == fresh


def test_stories_merge_when_an_article_bridges_them() -> None:
    # "a" and "b" are too far apart to join (cosine 0.2 + names 0.5 < 0.75); "c" sits between,
    # joins one of them, and the grown story's centroid is close enough to merge with the other.
    c = StoryClusterer()
    a = c.add(item("a", direction(0), CHILE, 0))
    b = c.add(item("b", direction(math.degrees(math.acos(0.2))), CHILE, 1))
    assert a != b
    merged = c.add(item("c", direction(math.degrees(math.acos(0.2)) / 2), CHILE, 2))
    assert merged == a  # the older story keeps its id
    assert [s.members for s in c.stories()] == [("a", "b", "c")]
    assert c.story_of("b") == a


def test_headline_is_the_member_closest_to_the_centroid() -> None:
    c = StoryClusterer()
    c.add(item("edge1", direction(-25), CHILE, 0, "Edge one"))
    c.add(item("centre", direction(0), CHILE, 1, "Centre"))
    c.add(item("edge2", direction(25), CHILE, 2, "Edge two"))
    (story,) = c.stories()
    assert (story.representative, story.headline) == ("centre", "Centre")


def test_add_refuses_repeats_and_items_out_of_order() -> None:
    c = StoryClusterer()
    c.add(item("a", direction(0), CHILE, 5))
    with pytest.raises(ValueError, match="already"):
        c.add(item("a", direction(0), CHILE, 6))
    with pytest.raises(ValueError, match="order"):
        c.add(item("b", direction(0), CHILE, 1))


def test_name_cosine() -> None:
    from collections import Counter

    assert name_cosine(Counter(), Counter({"a": 1})) == 0.0
    assert name_cosine(Counter({"a": 1}), Counter({"b": 1})) == 0.0
    assert name_cosine(Counter({"a": 1}), Counter({"a": 3})) == pytest.approx(1.0)
    half = name_cosine(Counter({"a": 1, "b": 1}), Counter({"a": 1, "c": 1}))
    assert half == pytest.approx(0.5)
    # A heavier weight on the shared name raises the cosine.
    assert name_cosine(
        Counter({"a": 1, "b": 1}), Counter({"a": 1, "c": 1}), lambda n: 3.0 if n == "a" else 1.0
    ) == pytest.approx(9 / 10)


def test_lead_names_keeps_names_first_mentioned_early() -> None:
    def record(name: str, *starts: int) -> EntityRecord:
        mentions = tuple(Mention(name, s, s + len(name), "PLACE") for s in starts)
        return EntityRecord(name, "PLACE", (), None, mentions)

    records = [record("Chile", 10, 900), record("Peru", 400), record("Empty")]
    assert lead_names(records, 300) == frozenset({"Chile"})


def test_bcubed() -> None:
    assert bcubed(["x", "x", "y"], ["a", "a", "b"]) == (1.0, 1.0, 1.0)
    p, r, f = bcubed(["x", "x", "x", "x"], ["a", "a", "b", "b"])
    assert (p, r) == (0.5, 1.0) and f == pytest.approx(2 / 3)
    p, r, _ = bcubed(["1", "2", "3", "4"], ["a", "a", "b", "b"])
    assert (p, r) == (1.0, 0.5)
    with pytest.raises(ValueError):
        bcubed([], [])


def test_tfidf_average_link_baseline_separates_obvious_groups() -> None:
    texts = [
        "earthquake chile coast tsunami",
        "chile earthquake tsunami warning",
        "apple iphone launch price",
        "iphone apple price launch event",
    ]
    labels = average_link(tfidf(texts), 2)
    assert labels[0] == labels[1] != labels[2] == labels[3]


def test_summary_line() -> None:
    report = {
        "bcubed": {"precision": 0.9, "recall": 0.95, "f1": 0.924},
        "predicted_stories": 60,
        "gold_stories": 50,
    }
    line, ok = summary_line(report, {"stories_bcubed_f1": 0.88})
    assert ok and line.startswith("stories: PASS") and "0.924" in line
    assert not summary_line(report, {"stories_bcubed_f1": 0.95})[1]
