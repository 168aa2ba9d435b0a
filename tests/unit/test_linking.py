"""Entity matching across articles: the pure rules (storage runs them in tests/store)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tidings.enrich.linking import MAX_ALIASES, EntityRules
from tidings.store.base import EntityCandidate, EntityMatcher, entity_key
from tidings.types import FoundEntity

RULES = EntityRules()


def found(name: str, type_: str = "PERSON", *aliases: str) -> FoundEntity:
    return FoundEntity(name=name, type=type_, aliases=aliases)


def candidate(id_: int, name: str, type_: str = "PERSON", count: int = 1) -> EntityCandidate:
    return EntityCandidate(id=id_, name=name, type=type_, article_count=count)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("U.S.", "US"),
        ("the Kremlin", "Kremlin"),
        ("The Kremlin", "kremlin"),
        ("Zelenskyy", "ZELENSKYY"),
        ("Élysée", "Elysee"),
        ("Xi  Jinping", "xi jinping"),
        ("Rolls-Royce", "Rolls Royce"),
    ],
)
def test_keys_ignore_case_accents_dots_punctuation_and_a_leading_the(a: str, b: str) -> None:
    assert entity_key(a) == entity_key(b)


@pytest.mark.parametrize(("name", "key"), [("Theresa May", "theresa may"), ("...", ""), ("", "")])
def test_keys_keep_words_and_may_be_empty(name: str, key: str) -> None:
    assert entity_key(name) == key


def test_a_name_that_is_a_stored_key_of_the_same_type_is_that_entity() -> None:
    xi = candidate(7, "Xi Jinping")
    assert RULES.choose(found("Xi"), [xi], []) == (xi, False)


def test_a_name_owned_only_by_another_type_is_not_that_entity() -> None:
    org = candidate(7, "Xi", "ORG")
    assert RULES.choose(found("Xi"), [org], [org]) == (None, False)


def test_an_ambiguous_name_goes_to_the_most_named_then_the_oldest() -> None:
    john = candidate(3, "John Smith", count=5)
    jane = candidate(2, "Jane Smith", count=9)
    older_jane = candidate(1, "Jane Smith", count=9)
    assert RULES.choose(found("Smith"), [john, jane], []) == (jane, False)
    assert RULES.choose(found("Smith"), [john, jane, older_jane], []) == (older_jane, False)


def test_the_name_wins_over_aliases() -> None:
    by_name = candidate(1, "Xi Jinping")
    by_alias = candidate(2, "Xi", count=50)
    assert RULES.choose(found("Xi Jinping", "PERSON", "Xi"), [by_name], [by_alias]) == (
        by_name,
        False,
    )


def test_a_stored_shorter_form_is_adopted_and_renamed() -> None:
    xi = candidate(4, "Xi")
    record = found("Xi Jinping", "PERSON", "Xi", "President Xi")
    assert RULES.choose(record, [], [xi]) == (xi, True)


def test_a_shorter_form_must_be_the_stored_entity_s_own_name() -> None:
    # "John Smith" owns the key "smith" (an alias of his), but his name is not an alias
    # of the record: "Jane Smith … Smith" is not John.
    john = candidate(4, "John Smith")
    assert RULES.choose(found("Jane Smith", "PERSON", "Smith"), [], [john]) == (None, False)


def test_a_shorter_form_must_have_only_words_of_the_name() -> None:
    # An alias that is not a shorter form of the name ("Beijing" for "Xi Jinping").
    beijing = candidate(4, "Beijing")
    record = found("Xi Jinping", "PERSON", "Beijing")
    assert RULES.choose(record, [], [beijing]) == (None, False)


def test_a_shorter_form_of_another_type_is_not_adopted() -> None:
    xi = candidate(4, "Xi", "ORG")
    assert RULES.choose(found("Xi Jinping", "PERSON", "Xi"), [], [xi]) == (None, False)


def test_among_shorter_forms_the_most_named_is_adopted() -> None:
    few, many = candidate(1, "Xi", count=1), candidate(2, "Jinping", count=3)
    record = found("Xi Jinping", "PERSON", "Xi", "Jinping")
    assert RULES.choose(record, [], [few, many]) == (many, True)


def test_nothing_known_is_a_new_entity() -> None:
    assert RULES.choose(found("Ada Lovelace"), [], []) == (None, False)


def test_aliases_keep_the_first_seen_spelling_of_each_key_and_never_the_name() -> None:
    merged = RULES.aliases(
        "Xi Jinping", ["Xi", "President Xi"], ["XI", "xi jinping", "Chinese President Xi", ""]
    )
    assert merged == ("Xi", "President Xi", "Chinese President Xi")


def test_aliases_stop_at_the_cap_keeping_the_first() -> None:
    merged = RULES.aliases("Name", [], [f"Alias {i}" for i in range(MAX_ALIASES + 5)])
    assert merged == tuple(f"Alias {i}" for i in range(MAX_ALIASES))


def test_the_rules_are_what_storage_asks_for() -> None:
    matcher: EntityMatcher = RULES
    assert matcher.choose(found("X"), [], []) == (None, False)


def test_storage_does_not_import_the_stages() -> None:
    """Stages sit above storage: opening storage must not load enrichment (or any stage)."""
    code = (
        "import sys, tidings.store.sql, tidings.store.base; "
        "stages = ('tidings.enrich', 'tidings.ingest', 'tidings.extract', 'tidings.rank'); "
        "print(sorted(m for m in sys.modules if m.startswith(stages)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
