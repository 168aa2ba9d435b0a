"""Language detection and the English decision: the pure rules, then real feeds."""

from __future__ import annotations

import html
import re
from pathlib import Path

import feedparser
import pytest

from tidings.enrich.language import (
    MIN_LETTERS,
    SURE,
    LanguageGuess,
    declared_code,
    detect_language,
    is_english,
    skip_reason,
)

ENGLISH = (
    "The city council voted on Tuesday to close the old bridge over the river for repairs, "
    "after engineers found cracks in two of its supports during a routine inspection."
)
GERMAN = (
    "Der Stadtrat hat am Dienstag beschlossen, die alte Brücke über den Fluss für Reparaturen "
    "zu sperren, nachdem Ingenieure Risse in zwei ihrer Stützen gefunden hatten."
)
PORTUGUESE = (
    "A câmara municipal decidiu na terça-feira fechar a velha ponte sobre o rio para obras, "
    "depois de os engenheiros terem encontrado fissuras em dois dos seus pilares."
)


@pytest.mark.parametrize(("text", "code"), [(ENGLISH, "en"), (GERMAN, "de"), (PORTUGUESE, "pt")])
def test_detects_whole_sentences_surely(text: str, code: str) -> None:
    guess = detect_language(text)
    assert guess.code == code
    assert guess.confidence >= SURE


@pytest.mark.parametrize("text", ["", "   ", "OK", "12:45 - 3:2", "Breaking news", "a" * 5])
def test_short_or_empty_text_has_no_guess(text: str) -> None:
    assert detect_language(text) == LanguageGuess(None, 0.0)


def test_the_letter_floor_counts_letters_not_characters() -> None:
    assert detect_language("1234567890 " * 10 + "news").code is None
    assert detect_language("x" * MIN_LETTERS).code is not None


def test_detection_is_deterministic() -> None:
    guesses = {detect_language(GERMAN[:40]) for _ in range(5)}
    assert len(guesses) == 1


def test_short_text_gets_a_low_confidence() -> None:
    short = detect_language("Council closes the old bridge")
    assert short.code is not None
    assert short.confidence < detect_language(ENGLISH).confidence


@pytest.mark.parametrize(
    ("declared", "code"),
    [
        ("en-US", "en"),
        ("en_gb", "en"),
        ("EN", "en"),
        ("de", "de"),
        ("pt-BR", "pt"),
        (" fr ", "fr"),
        ("", None),
        (None, None),
        ("english", None),
        ("1-2", None),
    ],
)
def test_declared_code(declared: str | None, code: str | None) -> None:
    assert declared_code(declared) == code


@pytest.mark.parametrize(
    ("guess", "declared", "english"),
    [
        # A sure guess decides, whatever the feed says.
        (LanguageGuess("en", 0.99), None, True),
        (LanguageGuess("de", 0.99), "en-US", False),
        (LanguageGuess("en", SURE), "de", True),
        # An unsure guess gives way to the declaration...
        (LanguageGuess("de", 0.4), "en-US", True),
        (LanguageGuess("en", 0.4), "de", False),
        # ...but decides without one.
        (LanguageGuess("de", 0.4), None, False),
        (LanguageGuess("en", 0.4), "", True),
        # No guess: the declaration, else English.
        (LanguageGuess(None, 0.0), "pt-BR", False),
        (LanguageGuess(None, 0.0), "en", True),
        (LanguageGuess(None, 0.0), None, True),
    ],
)
def test_is_english(guess: LanguageGuess, declared: str | None, english: bool) -> None:
    assert is_english(guess, declared) is english


def test_skip_reason_says_where_the_language_came_from() -> None:
    assert skip_reason(LanguageGuess("en", 0.99), "de") is None
    detected = skip_reason(LanguageGuess("de", 0.97), "en")
    assert detected == "not English: language 'de' (detected with confidence 0.97)"
    declared = skip_reason(LanguageGuess("en", 0.3), "pt-BR")
    assert declared == "not English: language 'pt' (declared by the feed as 'pt-BR')"
    unsure = skip_reason(LanguageGuess("it", 0.5), None)
    assert unsure == "not English: language 'it' (detected with confidence 0.50)"


# --- real feeds ----------------------------------------------------------------------------

#: Feeds whose items are all in one language: (path under feeds/, language).
FEEDS = [
    ("rss-parser/test/input/heise.atom", "de"),
    ("rss-parser/test/input/uolNoticias.rss", "pt"),
    ("rss-parser/test/input/encoding.rss", "pt"),
    ("feed-rs/fixture/rss2/rss_2.0_spiegel.xml", "de"),
    ("rss-parser/test/input/guardian.rss", "en"),
]


def _items(path: Path) -> list[str]:
    def plain(s: str) -> str:
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", s))).strip()

    parsed = feedparser.parse(str(path))
    return [f"{plain(e.get('title', ''))}. {plain(e.get('summary', ''))}" for e in parsed.entries]


@pytest.mark.parametrize(("feed", "code"), FEEDS)
def test_real_feed_items(shared_data: Path, feed: str, code: str) -> None:
    path = shared_data / "feeds" / feed
    if not path.is_file():
        pytest.skip(f"{path} not found")
    items = _items(path)
    assert items
    guesses = [detect_language(text) for text in items]
    assert all(g.code == code for g in guesses), [
        (g, t[:60]) for g, t in zip(guesses, items, strict=True) if g.code != code
    ]
    assert all(is_english(g, None) is (code == "en") for g in guesses)
