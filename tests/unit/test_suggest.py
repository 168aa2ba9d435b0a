"""Finding something to follow, as pure decisions: which entities a reader is offered, how
what they type matches names, and the order of suggestions."""

from __future__ import annotations

from tidings.suggest import (
    match_rank,
    onboarding_entities,
    presentable,
    suggest,
)
from tidings.types import Entity, InterestKind, Source, SourceKind, TopicKind, TopicTag


def entity(name: str, type: str = "PERSON", count: int = 10, *aliases: str, id: int = 0) -> Entity:
    return Entity(
        id=id or abs(hash(name)) % 10_000,
        name=name,
        type=type,
        article_count=count,
        aliases=aliases,
    )


def test_datelines_shouted_fragments_and_titles_are_not_offered() -> None:
    for bad in (
        entity("JAPAN", "PLACE"),
        entity("LONDON", "PLACE"),
        entity("WASHINGTON", "PLACE"),
        entity("PARIS", "PLACE"),
        entity("THE WHITE HOUSE", "ORG"),
        entity("REUTERS", "ORG"),
        entity("Secretary of State", "PERSON"),
        entity("President", "PERSON"),
        entity("Prime Minister", "PERSON"),
        entity("Mr Smith", "PERSON"),
        entity("X", "ORG"),
        entity("2009", "EVENT"),
        entity("JOHN", "PERSON"),
        entity("GMT", "ORG"),  # the end of "10: 39 GMT"
        entity("navy", "ORG"),  # a word, not a name
    ):
        assert not presentable(bad), bad.name
    for good in (
        entity("Xi Jinping"),
        entity("Vladimir Putin"),
        entity("NATO", "ORG"),
        entity("FBI", "ORG"),
        entity("US", "PLACE"),
        entity("UAE", "PLACE"),
        entity("Belt and Road Forum", "EVENT"),
        entity("Deep Throat"),  # a pseudonym is someone
        entity("São Paulo", "PLACE"),
        entity("G20", "ORG"),
    ):
        assert presentable(good), good.name


def test_onboarding_offers_well_covered_names_a_reader_knows() -> None:
    found = onboarding_entities(
        [
            entity("JAPAN", "PLACE", 40),
            entity("Xi Jinping", "PERSON", 30),
            entity("Xi", "PERSON", 20),  # the same man by his surname, not linked yet
            entity("Secretary", "PERSON", 15),
            entity("State", "PERSON", 14),  # of "Secretary of State"
            entity("Vladimir Putin", "PERSON", 12),
            entity("Reuters", "ORG", 400),  # a credit, not news about it
            entity("AP", "ORG", 300),
            entity("Wang Yi", "PERSON", 2),  # little news: only while there is no more
        ],
        limit=5,
    )
    assert [e.name for e in found] == ["Xi Jinping", "Vladimir Putin", "Wang Yi"]
    # Enough well-covered names: those in two articles only are not needed.
    assert [e.name for e in onboarding_entities(found, limit=2)] == ["Xi Jinping", "Vladimir Putin"]
    # A name seen once is never offered.
    assert onboarding_entities([entity("Only Once", count=1)], limit=5) == []
    assert (
        len(onboarding_entities([entity(f"Person {c}", count=5) for c in "ABCDEF"], limit=3)) == 3
    )


def test_what_is_typed_matches_the_start_of_a_name_or_of_a_word() -> None:
    assert match_rank("xi jinping", ["Xi Jinping"]) == 0
    assert match_rank("xi", ["Xi Jinping"]) == 1
    assert match_rank("jin", ["Xi Jinping"]) == 2
    assert match_rank("russia", ["China–Russia relations"]) == 2  # dashes part words too
    assert match_rank("xi", ["Mexico"]) is None
    assert match_rank("SAO", ["São Paulo"]) == 1
    assert match_rank("", ["anything"]) is None
    assert match_rank("russia", ["China-Russia relations"]) == 2


def test_suggestions_put_whole_and_leading_matches_first_then_the_most_covered() -> None:
    topics = [
        (
            TopicTag(
                id="relation:china-russia", label="China–Russia relations", kind=TopicKind.RELATION
            ),
            4,
        ),
        (TopicTag(id="medtop:11", label="politics"), 90),
    ]
    source = Source(id=3, url="https://xinhua.example/feed", title="Xinhua", kind=SourceKind.FEED)
    found = suggest(
        "xi",
        entities=[
            entity("Xi Jinping", count=3, id=1),
            entity("Mexico", "PLACE", 50, id=2),
            entity("President Xi", count=1, id=4),  # a title first: left out
            entity("Jinping Li", count=9, id=5),
            entity("XI", "PERSON", 20, id=6),
            entity("Sun Xiaoming", count=2, id=7),
        ],
        topics=topics,
        sources=[source],
    )
    assert [(s.kind, s.label) for s in found] == [
        (InterestKind.ENTITY, "Xi Jinping"),
        (InterestKind.SOURCE, "Xinhua"),
        (InterestKind.ENTITY, "Sun Xiaoming"),
    ]
    assert found[0].detail == "Person · 3 articles" and found[0].value == "1"
    assert found[1].detail == "Source · xinhua.example"
    relation = suggest("russia", topics=topics)
    assert [(s.value, s.detail) for s in relation] == [
        ("relation:china-russia", "Relations · 4 articles")
    ]
    # Found by another of its names: after those found by their own.
    by_alias = suggest("vova", entities=[entity("Vladimir Putin", "PERSON", 5, "Vova", id=8)])
    assert [s.label for s in by_alias] == ["Vladimir Putin"]
    assert (
        len(
            suggest(
                "p", entities=[entity(f"P{c}t Quinn", id=ord(c)) for c in "abcdefghijkl"], limit=8
            )
        )
        == 8
    )
