"""Direct quotes and their speakers: made-up news prose for each pattern, then the seed article
with the real entity extractor."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tidings.enrich.entities import EntityExtractor, EntityRecord, Mention, canonicalise
from tidings.enrich.quotes import MAX_TEXT_CHARS, Quote, find_quotes
from tidings.extract.text import extract_text


def records(text: str, *names: tuple[str, str]) -> list[EntityRecord]:
    """Canonical entities from a mention at every whole-word occurrence of each name (what
    the NER would give on clean prose, without loading it)."""
    found: list[Mention] = []
    for name, label in names:
        for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            found.append(Mention(name, m.start(), m.end(), label))
    return canonicalise(text, found)


def said(text: str, *names: tuple[str, str]) -> list[tuple[str, str | None, str | None]]:
    """(quoted words, speaker, entity) of each quote found."""
    return [(q.text, q.speaker, q.entity) for q in find_quotes(text, records(text, *names))]


XI = ("Xi Jinping", "PERSON"), ("Xi", "PERSON")
PUTIN = ("Vladimir Putin", "PERSON"), ("Putin", "PERSON")
WANG = ("Wang Yi", "PERSON"), ("Wang", "PERSON")


# --- attribution after the quote --------------------------------------------------------------


def test_name_and_verb_after_the_quote() -> None:
    text = (
        "Chinese President Xi Jinping opened the forum on Wednesday.\n\n"
        "\u201cThe political mutual trust between the two countries has been deepened,\u201d "
        "Xi said in the meeting."
    )
    assert said(text, *XI) == [
        (
            "The political mutual trust between the two countries has been deepened",
            "Xi",
            "Xi Jinping",
        )
    ]


def test_verb_before_the_name_after_the_quote() -> None:
    text = (
        'Foreign Minister Wang Yi met his counterparts in Jakarta. "Asia must not become a '
        'battleground for the great powers," said Wang, who arrived on Monday.'
    )
    [(words, speaker, entity)] = said(text, *WANG)
    assert words.startswith("Asia must not become")
    assert (speaker, entity) == ("Wang", "Wang Yi")


def test_told_names_the_speaker_not_the_listener() -> None:
    text = (
        "\u201cThe attack on a hospital in Gaza is a tragedy and a humanitarian catastrophe,"
        "\u201d Vladimir Putin told journalists in Beijing."
    )
    [quote] = find_quotes(text, records(text, *PUTIN))
    assert (quote.speaker, quote.entity) == ("Vladimir Putin", "Vladimir Putin")
    assert text[quote.start : quote.end] == quote.text
    assert not quote.text.endswith(",")


def test_according_to_an_organisation() -> None:
    text = (
        "Talks are expected to resume next week. \u201cThe sides agreed to keep working on a "
        "ceasefire plan\u201d, according to the Kremlin."
    )
    [(_, speaker, entity)] = said(text, ("Kremlin", "ORG"))
    assert (speaker, entity) == ("the Kremlin", "Kremlin")


def test_appositive_between_speaker_and_verb() -> None:
    text = (
        '"The Greek people have been called to make sacrifices while the rich pay nothing," '
        "Giannis Panagopoulos, head of the private sector union, said on Tuesday."
    )
    [(_, speaker, entity)] = said(text, ("Giannis Panagopoulos", "PERSON"))
    assert (speaker, entity) == ("Giannis Panagopoulos", "Giannis Panagopoulos")


# --- attribution before the quote -------------------------------------------------------------


def test_speaker_and_colon_before_the_quote() -> None:
    text = (
        "Wang Yi spoke after the talks. Wang said: \u201cDialogue is the only way out of this "
        "crisis.\u201d"
    )
    assert said(text, *WANG) == [
        ("Dialogue is the only way out of this crisis.", "Wang", "Wang Yi")
    ]


def test_said_that_before_the_quote_resolves_a_role_noun() -> None:
    text = (
        "Chinese President Xi Jinping hosted the forum. Later the president said that "
        "\u201cno country can develop in isolation from the world\u201d."
    )
    [(_, speaker, entity)] = said(text, *XI)
    assert (speaker, entity) == ("the president", "Xi Jinping")


def test_a_fragment_takes_the_subject_of_its_sentence() -> None:
    text = (
        "Xi said China was willing to work with Russia to enhance ties \u201cbased on the "
        "fundamental interests of the two peoples\u201d."
    )
    assert said(text, *XI) == [
        ("based on the fundamental interests of the two peoples", "Xi", "Xi")
    ]


def test_participle_attribution() -> None:
    text = (
        "Beijing hardened its position, with Chinese Foreign Minister Wang Yi saying Israel "
        "had \u201cgone beyond the scope of self-defence\u201d."
    )
    [(_, speaker, entity)] = said(text, *WANG)
    assert (speaker, entity) == ("Chinese Foreign Minister Wang Yi", "Wang Yi")


def test_spokesperson_for_an_organisation() -> None:
    text = (
        "The Chinese Foreign Ministry issued a statement overnight. \u201cWe firmly oppose "
        "any interference in our internal affairs,\u201d a spokesperson for the ministry said."
    )
    [(_, speaker, entity)] = said(text, ("Chinese Foreign Ministry", "ORG"))
    assert (speaker, entity) == ("a spokesperson for the ministry", "Chinese Foreign Ministry")


def test_name_before_an_appositive_speaks() -> None:
    text = (
        "Jerry Strickland, a spokesman for Texas Attorney General Greg Abbott told TIME: "
        '"Whenever he is brought to Texas, we stand ready to try him on felony charges."'
    )
    found = said(text, ("Jerry Strickland", "PERSON"), ("Greg Abbott", "PERSON"))
    assert [(s, e) for _, s, e in found] == [("Jerry Strickland", "Jerry Strickland")]


def test_long_speaker_keeps_the_person() -> None:
    text = (
        '"We have no idea what caused it," the Rev. Larry Kroon of the Wasilla Bible Church '
        "said on Saturday."
    )
    [(_, speaker, entity)] = said(text, ("Larry Kroon", "PERSON"))
    assert (speaker, entity) == ("the Rev. Larry Kroon", "Larry Kroon")


def test_attribution_closing_the_sentence_of_a_fragment() -> None:
    text = (
        'The failures cut the flow of "data of various kinds" between Europe and the Middle '
        "East, said Sanjeev Gaur, a director at the firm."
    )
    assert said(text, ("Sanjeev Gaur", "PERSON")) == [
        ("data of various kinds", "Sanjeev Gaur", "Sanjeev Gaur")
    ]


def test_passive_speech_verb_is_no_attribution() -> None:
    text = (
        "Lisa Su spoke on Tuesday. She said that Opteron chips will be added to the system "
        "\u201ctowards the end of this year and not before\u201d."
    )
    [(_, speaker, _)] = said(text, ("Lisa Su", "PERSON"))
    assert speaker == "She"


def test_title_abbreviation_inside_a_speaker() -> None:
    text = (
        '"Our negotiators got on the phone with him right away," Vancouver police Const. '
        'Tim Fanning told a news conference. "He gave himself up just after six."'
    )
    found = said(text, ("Tim Fanning", "PERSON"))
    assert [e for _, _, e in found] == ["Tim Fanning", "Tim Fanning"]
    assert found[0][1] == "Vancouver police Const. Tim Fanning"


# --- split, continued and inherited quotes ----------------------------------------------------


def test_quote_split_by_its_attribution_keeps_one_speaker() -> None:
    text = (
        "Prime Minister Anna Berg spoke outside parliament. \u201cWe will not give in,\u201d "
        "she said, \u201cand we will win this vote by the end of the week.\u201d"
    )
    found = said(text, ("Anna Berg", "PERSON"))
    assert found == [
        ("We will not give in", "she", "Anna Berg"),
        ("and we will win this vote by the end of the week.", "she", "Anna Berg"),
    ]


def test_multi_paragraph_quote() -> None:
    text = (
        "Mayor Tom Reyes addressed the council on Monday night.\n\n"
        "\u201cThis city has waited long enough for a bridge that is safe to cross. "
        "Engineers have told us so for a decade.\n\n"
        "\u201cTonight we start the work, and we will not stop until it is done,\u201d Reyes "
        "said."
    )
    [quote] = find_quotes(text, records(text, ("Tom Reyes", "PERSON"), ("Reyes", "PERSON")))
    assert quote.text.startswith("This city has waited")
    assert "\n" in quote.text
    assert quote.text.endswith("until it is done")
    assert (quote.speaker, quote.entity) == ("Reyes", "Tom Reyes")


def test_next_sentence_quote_continues_the_speaker() -> None:
    text = (
        '"She looked so fresh and wholesome," said Bunny Yeager, whose photographs of Page '
        "appeared in every men's magazine. \"She wasn't trying to be seductive; she was the "
        'girl next door."'
    )
    found = said(text, ("Bunny Yeager", "PERSON"), ("Page", "PERSON"))
    assert [(s, e) for _, s, e in found] == [("Bunny Yeager", "Bunny Yeager")] * 2


def test_pronoun_prefers_the_person_who_was_speaking() -> None:
    text = (
        "Apostolos Kolokythopoulos, a pensioner who lives on less than 1,000 euros a month, "
        "said the walkouts were needed. Prime Minister George Papandreou has defended the cuts "
        "in parliament. Still, Kolokythopoulos was adamant. \u201cIf people don't protest, how "
        "will things ever change?\u201d he asked."
    )
    found = said(
        text,
        ("Apostolos Kolokythopoulos", "PERSON"),
        ("Kolokythopoulos", "PERSON"),
        ("George Papandreou", "PERSON"),
    )
    assert [(s, e) for _, s, e in found] == [("he", "Apostolos Kolokythopoulos")]


def test_it_said_is_an_organisation() -> None:
    text = (
        "Acme Corp reported a loss for the quarter. \u201cDemand for our products remains "
        "strong across every region,\u201d it said in a statement."
    )
    [(_, speaker, entity)] = said(text, ("Acme Corp", "ORG"))
    assert (speaker, entity) == ("it", "Acme Corp")


# --- marks --------------------------------------------------------------------------------------


def test_guillemets_and_straight_marks() -> None:
    text = (
        "\u00abNous ne reculerons pas devant la menace\u00bb, said Emmanuel Macron.\n"
        'Later, "we will keep talking to everyone in the region," Macron told reporters.'
    )
    found = said(text, ("Emmanuel Macron", "PERSON"), ("Macron", "PERSON"))
    assert [e for _, _, e in found] == ["Emmanuel Macron", "Emmanuel Macron"]
    assert found[0][0] == "Nous ne reculerons pas devant la menace"


def test_tokenised_marks_with_spaces_on_both_sides() -> None:
    text = (
        'The union called a strike. " Back then, you\'d have a bunch of guys with cameras, " '
        'Yeager said. " It was a different world. "'
    )
    found = said(text, ("Yeager", "PERSON"))
    assert [q for q, _, _ in found] == [
        "Back then, you'd have a bunch of guys with cameras",
        "It was a different world.",
    ]
    assert [e for _, _, e in found] == ["Yeager", "Yeager"]


def test_quote_with_no_speaker() -> None:
    text = "\u201cNobody in this town knows what will happen next.\u201d\n\nThe mill closed in May."
    assert said(text) == [("Nobody in this town knows what will happen next.", None, None)]


# --- what is not a quote ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # Scare quotes and labels inside a sentence.
        "Putin slammed the decision, calling it a \u201cmistake\u201d that would cost lives.",
        "He and Xi declared a \u201cno-limits\u201d partnership between their countries.",
        "Putin said many of the discussions were \u201cconfidential\u201d.",
        "Putin called them \u201ccruel\u201d and \u201cpointless\u201d in his remarks.",
        # Titles of works and names given to things.
        'She starred in "Take Me Out to the Ball Game" and "Million Dollar Mermaid".',
        "Critics dubbed the plan \u201cthe bridge to nowhere and back again\u201d.",
        # A quoted single word, even with an attribution.
        "\u201cNo,\u201d he said.",
    ],
)
def test_scare_quotes_titles_and_single_words_are_skipped(text: str) -> None:
    assert find_quotes(text, records(text, *PUTIN, *XI)) == []


@pytest.mark.parametrize(
    "text",
    [
        "\u201cThe talks went well, he said, and never closed the quote.",
        "The talks went well.\u201d He left without another word to anyone.",
        '"An opener" and then "another one that never closes',
        '\u201c\u201c\u201d\u201d\u00bb\u00ab\u201e"',
        "",
    ],
)
def test_unbalanced_marks_never_raise(text: str) -> None:
    for quote in find_quotes(text, []):
        assert 0 <= quote.start <= quote.end <= len(text)


def test_unclosed_paragraph_does_not_swallow_the_next_one() -> None:
    text = (
        "\u201cWe will be back next year, the coach said.\n\n"
        "The team flew home on Sunday. \u201cIt was the best season we have had,\u201d "
        "said Maria Lopez."
    )
    assert said(text, ("Maria Lopez", "PERSON")) == [
        ("It was the best season we have had", "Maria Lopez", "Maria Lopez")
    ]


def test_huge_text_is_bounded() -> None:
    unit = "\u201cWe will keep building roads and bridges,\u201d she said. "
    text = unit * (3 * MAX_TEXT_CHARS // len(unit))
    found = find_quotes(text, [])
    assert found
    assert all(q.end <= MAX_TEXT_CHARS for q in found)
    assert all(isinstance(q, Quote) and q.speaker == "she" for q in found)


# --- the seed article, with the real entity extractor -----------------------------------------


def test_seed_quotes(shared_data: Path) -> None:
    seed = shared_data.parent / "seed"
    if not (seed / "expected.json").is_file():
        pytest.skip(f"seed article not found at {seed}")
    expected = json.loads((seed / "expected.json").read_text("utf-8"))
    body = extract_text((seed / expected["source_file"]).read_text("utf-8")).body
    assert body is not None
    (found,) = EntityExtractor().extract([body])
    quotes = find_quotes(body, found)

    # Every full quote the reading lists, attributed to the right person.
    for want in expected["quotes"]:
        matches = [q for q in quotes if q.text.startswith(want["starts"])]
        assert len(matches) == 1, want
        assert matches[0].entity == want["speaker"], (want, matches[0])
    # Fragments count too, each with a speaker the article names.
    people = {r.name for r in found if r.type == "PERSON"}
    attributed = [q for q in quotes if q.entity is not None]
    assert len(attributed) >= len(quotes) - 1
    assert {q.entity for q in attributed} <= people
    assert {q.entity for q in quotes if q.text.startswith("gone beyond")} == {"Wang Yi"}
    # Scare quotes stay out.
    texts = {q.text for q in quotes}
    assert not texts & {"confidential", "mistake", "repel", "cruel", "no-limits"}
    for q in quotes:
        if "\n" not in q.text:
            assert body[q.start : q.end] == q.text
