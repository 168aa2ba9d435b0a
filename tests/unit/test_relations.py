"""Relation topics: country mapping and pair choice on made-up records, then the seed article
through the real extractor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.enrich.entities import EntityExtractor, EntityRecord, Mention
from tidings.enrich.relations import (
    LEAD_CHARS,
    RelationTopic,
    count_relations,
    country_of,
    key,
    load_countries,
    recurring_relations,
    relation_topics,
)
from tidings.extract.text import extract_text


def record(
    name: str,
    type_: str,
    starts: list[int],
    *,
    description: str | None = None,
    aliases: tuple[str, ...] = (),
) -> EntityRecord:
    """A record whose mentions are ``name`` at each start (the text itself is not needed)."""
    mentions = tuple(Mention(name, s, s + len(name), type_) for s in starts)
    return EntityRecord(name, type_, aliases, description, mentions)


XI = record("Xi Jinping", "PERSON", [0, 900, 1500], description="Chinese President")
PUTIN = record("Vladimir Putin", "PERSON", [40, 1000, 1600], description="his Russian counterpart")


def labels(topics: list[RelationTopic]) -> list[str]:
    return [t.label for t in topics]


# --- country_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "type_", "code"),
    [
        ("China", "PLACE", "CN"),
        ("Russia", "PLACE", "RU"),
        ("U.S.", "PLACE", "US"),
        ("US", "PLACE", "US"),
        ("America", "PLACE", "US"),
        ("United States", "PLACE", "US"),
        ("UK", "PLACE", "GB"),
        ("Britain", "PLACE", "GB"),
        ("Türkiye", "PLACE", "TR"),
        ("Beijing", "PLACE", "CN"),
        ("Moscow", "PLACE", "RU"),
        ("Kremlin", "ORG", "RU"),
        ("the Kremlin", "ORG", "RU"),
        ("White House", "ORG", "US"),
        ("Washington", "PLACE", "US"),
        ("Downing Street", "PLACE", "GB"),
        ("Kyiv", "PLACE", "UA"),
        ("Kiev", "PLACE", "UA"),
        ("Tehran", "PLACE", "IR"),
        ("Chinese Foreign Ministry", "ORG", "CN"),
        ("Russian Defence Ministry", "ORG", "RU"),
        ("U.S. Senate", "ORG", "US"),
        ("Ministry of Foreign Affairs of Japan", "ORG", "JP"),
    ],
)
def test_places_and_bodies_map_to_countries(name: str, type_: str, code: str) -> None:
    assert country_of(record(name, type_, [0])) == code


@pytest.mark.parametrize(
    ("description", "code"),
    [
        ("Chinese President", "CN"),
        ("Russian Foreign Minister", "RU"),
        ("his Russian counterpart", "RU"),
        ("US President", "US"),
        ("U.S. Secretary of State", "US"),
        ("British Prime Minister", "GB"),
        ("South Korean President", "KR"),
        ("Saudi Crown Prince", "SA"),
        ("Chinese tennis player", None),  # not a state role
        ("President", None),  # no country
        ("US-China envoy", None),  # two countries: whose envoy?
        ("Apple CEO", None),
    ],
)
def test_people_map_by_description(description: str, code: str | None) -> None:
    assert country_of(record("Someone Name", "PERSON", [0], description=description)) == code


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("British Airways", "ORG"),  # a company carrying a demonym is not the state
        ("Bank of China", "ORG"),
        ("Georgia", "PLACE"),  # in English news as often the US state
        ("Israel-Hamas war", "EVENT"),
        ("Shanghai", "PLACE"),  # a city, not a seat of government
        ("China", "PERSON"),  # a misread name: a person is tied by description only
    ],
)
def test_what_is_not_a_country(name: str, type_: str) -> None:
    assert country_of(record(name, type_, [0])) is None


def test_aliases_are_tried() -> None:
    assert country_of(record("Russian Federation", "PLACE", [0], aliases=("Russia",))) == "RU"
    assert country_of(record("Federation", "PLACE", [0], aliases=("Russia",))) == "RU"


def test_possessive_before_a_person_needs_the_text() -> None:
    text = "China's Xi met officials."
    xi = EntityRecord("Xi", "PERSON", (), None, (Mention("Xi", 8, 10, "PERSON"),))
    assert country_of(xi) is None
    assert country_of(xi, text) == "CN"


def test_key_ignores_dots_accents_case_and_the() -> None:
    assert key("U.S.") == key("US") == "us"
    assert key("The Kremlin") == "kremlin"
    assert key("Türkiye") == "turkiye"
    assert key("The Hague") == "hague"


def test_every_country_in_the_table_has_a_label_and_names() -> None:
    table = load_countries()
    assert len({c.code for c in table.places.values()}) > 190
    assert table.places["kremlin"].name == "Russia"
    assert table.qualifiers["chinese"].code == "CN"  # not Hong Kong or Macau
    assert table.qualifiers["american"].code == "US"


# --- relation_topics -----------------------------------------------------------------------


def test_xi_and_putin_make_china_russia() -> None:
    (topic,) = relation_topics([XI, PUTIN])
    assert topic == RelationTopic(
        id="relation:china-russia",
        label="China\u2013Russia relations",
        countries=("CN", "RU"),
        mentions=(3, 3),
        weight=3,
    )


def test_label_is_alphabetical_whatever_the_order_of_mention() -> None:
    putin_first = [
        record("Vladimir Putin", "PERSON", [0, 700], description="Russian President"),
        record("Xi Jinping", "PERSON", [50, 800], description="Chinese President"),
    ]
    assert labels(relation_topics(putin_first)) == ["China\u2013Russia relations"]


def test_metonyms_count_for_their_countries() -> None:
    records = [
        record("Beijing", "PLACE", [0, 600]),
        record("Kremlin", "ORG", [30, 700]),
    ]
    (topic,) = relation_topics(records)
    assert topic.label == "China\u2013Russia relations"
    assert topic.mentions == (2, 2)


def test_mentions_of_one_country_add_up_across_records() -> None:
    records = [
        XI,
        PUTIN,
        record("Beijing", "PLACE", [100, 1200]),
        record("Moscow", "PLACE", [2000]),
    ]
    (topic,) = relation_topics(records)
    assert topic.mentions == (5, 4)


def test_same_country_pair_is_excluded() -> None:
    records = [
        XI,
        record("Beijing", "PLACE", [60, 700]),
        record("Wang Yi", "PERSON", [120, 800], description="Chinese Foreign Minister"),
    ]
    assert relation_topics(records) == []


def test_background_mentions_deep_in_the_text_do_not_make_a_relation() -> None:
    # The US is named twice, far past the lead, by a person in a state role.
    deep = LEAD_CHARS + 2000
    biden = record("Joe Biden", "PERSON", [deep, deep + 500], description="US President")
    assert labels(relation_topics([XI, PUTIN, biden])) == ["China\u2013Russia relations"]


def test_a_country_named_often_enough_counts_outside_the_lead() -> None:
    far = LEAD_CHARS + 100
    biden = record(
        "Joe Biden", "PERSON", [far, far + 100, far + 200, far + 300], description="US President"
    )
    china = record("China", "PLACE", [10, 900])
    assert labels(relation_topics([china, biden])) == ["China\u2013United States relations"]


def test_places_alone_do_not_make_a_relation() -> None:
    # "cables between Italy and Egypt": two places, nobody acting for either.
    records = [record("Italy", "PLACE", [10, 500]), record("Egypt", "PLACE", [30, 600])]
    assert relation_topics(records) == []
    assert relation_topics(records, need_actor=False)[0].label == "Egypt\u2013Italy relations"


def test_a_country_that_speaks_acts() -> None:
    text = "Japan said on Friday it wants Russia to return the islands."
    japan = EntityRecord("Japan", "PLACE", (), None, (Mention("Japan", 0, 5, "PLACE"),))
    russia = EntityRecord("Russia", "PLACE", (), None, (Mention("Russia", 30, 36, "PLACE"),))
    # A short item (all lead) needs one mention a side; the verb makes Japan an actor.
    assert labels(relation_topics([japan, russia], text)) == ["Japan\u2013Russia relations"]
    assert relation_topics([japan, russia]) == []


def test_a_dateline_is_where_a_story_was_filed_not_a_country_it_is_about() -> None:
    # Vienna is a seat of government: in a dateline it would make Austria act.
    text = "VIENNA (Reuters) - Iran said on Monday it would keep enriching uranium."
    vienna = EntityRecord("Vienna", "PLACE", (), None, (Mention("Vienna", 0, 6, "PLACE"),))
    iran = EntityRecord("Iran", "PLACE", (), None, (Mention("Iran", 19, 23, "PLACE"),))
    assert relation_topics([vienna, iran], text) == []
    # Named in the story itself, it counts.
    text += " Talks in Vienna go on."
    vienna_again = EntityRecord(
        "Vienna",
        "PLACE",
        (),
        None,
        (Mention("Vienna", 0, 6, "PLACE"), Mention("Vienna", 81, 87, "PLACE")),
    )
    assert labels(relation_topics([vienna_again, iran], text)) == ["Austria\u2013Iran relations"]


def test_one_passing_mention_is_not_enough_in_a_long_article() -> None:
    records = [
        record("Xi Jinping", "PERSON", [0, 900, 1500], description="Chinese President"),
        record("UK", "PLACE", [50]),
    ]
    assert relation_topics(records) == []


def test_at_most_max_pairs_strongest_first() -> None:
    leaders = [
        record("A", "PERSON", [0, 500, 600, 700, 800], description="French President"),
        record("B", "PERSON", [10, 510, 610, 710], description="German Chancellor"),
        record("C", "PERSON", [20, 520, 620], description="Italian Prime Minister"),
        record("D", "PERSON", [30, 530], description="Spanish Prime Minister"),
    ]
    topics = relation_topics(leaders, min_share=0.0)
    assert len(topics) == 3
    assert [t.weight for t in topics] == [4, 3, 3]
    assert topics[0].label == "France\u2013Germany relations"
    assert labels(relation_topics(leaders, max_pairs=1)) == ["France\u2013Germany relations"]


def test_weak_pairs_below_the_share_of_the_best_are_dropped() -> None:
    many = list(range(0, 3000, 100))
    records = [
        record("Xi Jinping", "PERSON", many, description="Chinese President"),
        record("Vladimir Putin", "PERSON", [m + 10 for m in many], description="Russian President"),
        record("Ukraine", "PLACE", [50, 1000, 2000, 2500]),
    ]
    assert labels(relation_topics(records)) == ["China\u2013Russia relations"]
    assert len(relation_topics(records, min_share=0.0)) == 3


def test_ties_come_out_in_label_order() -> None:
    records = [
        record("A", "PERSON", [0, 500], description="Japanese Prime Minister"),
        record("B", "PERSON", [10, 510], description="Brazilian President"),
    ]
    swapped = list(reversed(records))
    assert relation_topics(records) == relation_topics(swapped)


def test_no_records_no_topics() -> None:
    assert relation_topics([]) == []


# --- recurring -----------------------------------------------------------------------------


def test_recurring_relations_count_articles_not_mentions() -> None:
    cr = relation_topics([XI, PUTIN])
    articles = [cr, cr, cr + cr, []]
    counts = count_relations(articles)
    assert counts == {"relation:china-russia": 3}
    assert recurring_relations(counts) == ["relation:china-russia"]
    assert recurring_relations(counts, min_articles=4) == []


def test_recurring_relations_most_frequent_first_then_by_id() -> None:
    counts = {"relation:b-c": 3, "relation:a-b": 3, "relation:c-d": 5, "relation:x-y": 1}
    assert recurring_relations(counts) == ["relation:c-d", "relation:a-b", "relation:b-c"]


# --- the seed article, through the real extractor ------------------------------------------


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor()


def test_seed_article_is_china_russia(extractor: EntityExtractor, shared_data: Path) -> None:
    seed = shared_data.parent / "seed"
    if not (seed / "expected.json").is_file():
        pytest.skip(f"seed article not found at {seed}")
    expected = json.loads((seed / "expected.json").read_text("utf-8"))
    page = (seed / expected["source_file"]).read_text("utf-8")
    draft = extract_text(page)
    assert draft.body is not None
    # As the engine reads an article: the page text, and the extracted title and body.
    for text in (page, f"{draft.title}\n\n{draft.body}"):
        (records,) = extractor.extract([text])
        topics = relation_topics(records, text)
        assert labels(topics) == ["China\u2013Russia relations"], text[:80]
        assert topics[0].id == "relation:china-russia"
        assert min(topics[0].mentions) > 20
    by_name = {r.name: r for r in records}
    assert country_of(by_name["Xi Jinping"]) == "CN"
    assert country_of(by_name["Vladimir Putin"]) == "RU"
    assert country_of(by_name["Joe Biden"]) == "US"
    assert country_of(by_name["Wang Yi"]) == "CN"
