"""Direct quotes of an article and who said them.

Pure logic: :func:`find_quotes` takes an article's text and its canonical entities (from
:mod:`tidings.enrich.entities`, whose mention offsets point into the same text) and returns
:class:`Quote` values. No model runs here; the speaker is found from the words around each
quote the way news prose writes attributions:

* after the quote: ``"…," Xi said`` / ``said Xi`` / ``Xi told reporters`` / ``according to X``;
* before it: ``Xi said: "…"`` / ``Xi said that "…"`` / ``said Yeager: "…"``, or earlier in
  the same sentence for a quoted fragment (``Xi said ties would grow "based on …"``);
* a quote that starts a sentence with no attribution of its own continues the previous
  speaker when nobody else was named in between (news prose gives a run of quotes by one
  person one attribution).

A speaker written as a name is attributed to the entity one of whose mentions it covers (or,
when the NER missed that mention, whose name ends with the same word); "he"/"she" to the
person quoted just before, else the most recent person named as a speech verb's subject
within about three sentences, else the most recent person named; "the president" / "the
Chinese leader" to the person whose description or role-prefixed name has those words; "a
spokesperson for the ministry" to the organisation with "ministry" in its name; "it" and
"they" to the most recent organisation ("they" after a quote is a group far more often than
one person, so it is never given to a person).

Only double quotation marks count (straight, curly, guillemets and „): single marks are
apostrophes far more often than quotes in English, and the press that quotes with them
(British headlines) quotes with double marks in the body.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tidings.enrich.entities import MAX_CHARS, EntityRecord

__all__ = ["MAX_TEXT_CHARS", "Quote", "find_quotes"]

#: Text past this many characters is not read. The same bound the entity extractor uses:
#: past it there are no mentions to attribute to, and it keeps a pasted book linear and cheap.
MAX_TEXT_CHARS = MAX_CHARS


@dataclass(frozen=True, slots=True)
class Quote:
    """Words a source is quoted as saying, and who said them."""

    #: The quoted words without the quotation marks. A quote running over several paragraphs
    #: has its parts joined with "\n" (the continuing paragraphs' opening marks dropped).
    text: str
    #: Character offsets of the quoted words in the article text (``text[start:end]`` equals
    #: ``text`` for a one-paragraph quote).
    start: int
    end: int
    #: The speaker as written near the quote ("Wang", "he", "the minister", "a spokesperson
    #: for the ministry"), or None when the article does not say.
    speaker: str | None
    #: Canonical name of the PERSON or ORG entity the quote is attributed to, or None.
    entity: str | None


# --- tuning --------------------------------------------------------------------------------

#: Quoted phrases of fewer words are scare quotes or terms ("calling it a "mistake"") unless
#: an attribution stands right next to them. Four is where, in the seed article and ECB+,
#: embedded fragments stop being labels ("no-limits", "current difficult conditions") and
#: start being reported speech ("gone beyond the scope of self-defence").
MIN_WORDS = 4
#: Characters looked at before an opening mark for a speaker: a long sentence's subject, verb
#: and the start of a fragment (the seed's longest, "Xi said China was willing … ties "…", is
#: 62 characters); set by reading the seed and ECB+ samples, with room for long sentences.
LOOKBACK = 300
#: Characters looked at after a closing mark: an attribution follows at once, and with an
#: appositive ("…," Stuart Pimm, Doris Duke Professor of Conservation Ecology at Duke
#: University, said) it still fits well inside this.
LOOKAHEAD = 160
#: Most words a speaker phrase has ("a spokesperson for the Chinese foreign ministry").
MAX_SPEAKER_WORDS = 8
#: How far before a quote (characters) a pronoun's referent may be named: about three news
#: sentences. Farther back, "he" has usually changed referent.
PRONOUN_REACH = 600
#: How far (characters) a quote with no attribution may be from the previous attributed
#: quote and still continue its speaker: about one sentence of attribution and description.
INHERIT_REACH = 300

# --- marks ---------------------------------------------------------------------------------

_OPENERS = frozenset("\u201c\u00ab\u201e")  # “ « „
_CLOSERS = frozenset("\u201d\u00bb")  # ” »
_MARK = re.compile('["\u201c\u201d\u00ab\u00bb\u201e]')
#: Characters that may stand right before an opening mark, or right after a closing one.
_OPEN_BEFORE = frozenset(" \t([{\u2014\u2013-/")
_CLOSE_AFTER = frozenset(" \t.,;:!?)]}\u2014\u2013-/\u2026")


def _direction(text: str, i: int, lo: int, hi: int, is_open: bool) -> bool:
    """Whether the mark at ``i`` (inside the paragraph ``lo:hi``) opens a quote.

    The spacing around a mark decides when it is unambiguous (a mark after a space and before
    a word opens; after a word and before a space closes), which also mends curly marks
    typed the wrong way round; else the glyph decides; a straight mark with spaces on both
    sides (tokenised text) toggles.
    """
    before = text[i - 1] if i > lo else " "
    after = text[i + 1] if i + 1 < hi else " "
    opening_shape = before in _OPEN_BEFORE and not after.isspace()
    closing_shape = not before.isspace() and after in _CLOSE_AFTER
    if opening_shape and not closing_shape:
        return True
    if closing_shape and not opening_shape:
        return False
    mark = text[i]
    if mark in _OPENERS:
        return True
    if mark in _CLOSERS:
        return False
    return not is_open


@dataclass(slots=True)
class _Span:
    """One quote while it is being read: its marks and the paragraphs it covers."""

    open_mark: int
    #: (start, end) of the quoted words in each paragraph the quote covers.
    pieces: list[tuple[int, int]]
    close_mark: int = -1
    #: Indices of the paragraphs it starts and ends in.
    paragraph: int = 0
    last_paragraph: int = 0
    #: Whether the opening mark starts its paragraph (a continuation cue).
    opens_paragraph: bool = False
    para_start: int = 0
    para_end: int = 0


def _paragraphs(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]


def _spans(text: str, paragraphs: list[tuple[int, int]]) -> list[_Span]:
    """Balanced quotes, paragraph by paragraph; an unclosed quote continues only into a
    paragraph that opens with a mark, and is dropped otherwise."""
    found: list[_Span] = []
    pending: _Span | None = None
    for p, (lo, hi) in enumerate(paragraphs):
        first = lo + len(text[lo:hi]) - len(text[lo:hi].lstrip())
        current: _Span | None = None
        for m in _MARK.finditer(text, lo, hi):
            i = m.start()
            if i == first and pending is not None:
                # A continuation paragraph: its opening mark resumes the pending quote.
                current, pending = pending, None
                current.pieces.append((i + 1, -1))
                current.last_paragraph, current.para_end = p, hi
                continue
            if _direction(text, i, lo, hi, current is not None):
                # A second opening mark means the first was stray: start again from here.
                current = _Span(i, [(i + 1, -1)], paragraph=p, opens_paragraph=i == first)
                current.last_paragraph, current.para_start, current.para_end = p, lo, hi
            elif current is not None:
                s, _ = current.pieces[-1]
                current.pieces[-1] = (s, i)
                current.close_mark = i
                found.append(current)
                current = None
        pending = None
        if current is not None:
            s, _ = current.pieces[-1]
            current.pieces[-1] = (s, hi)
            pending = current
    return found


# --- words ---------------------------------------------------------------------------------

#: Abbreviations whose period does not end a sentence or a name ("Mr. Smith", "U.S.").
_TOKEN = re.compile(
    # "Strauss - Kahn": tokenised corpora space the hyphens of double-barrelled names.
    r"[A-Z][\w'\u2019]*\s-\s[A-Z][\w'\u2019\-]*"
    r"|(?:[A-Z]\.){2,}"
    r"|(?:Mr|Mrs|Ms|Dr|Jr|Sr|St|Gen|Sen|Rep|Gov|Lt|Col|Capt|Prof|Sgt|Rev|Hon|Const|Det|Supt"
    r"|Insp|Cpl|Pte|Adm|Cmdr|Maj|Brig|Amb|Atty|Dep|Pres|Sec|Mt|Ft)\."
    r"|[A-Z]\.(?=\s[A-Z])"
    r"|\w[\w'\u2019\-]*"
    r"|[^\w\s]"
)
_COUNTED_WORD = re.compile(r"\w+(?:['\u2019\-]\w+)*")

_FINITE_VERBS = frozenset((
    "said", "says", "say", "told", "tells", "added", "adds", "noted", "notes", "asked", "asks",
    "wrote", "writes", "stated", "states", "warned", "warns", "argued", "argues", "explained",
    "explains", "insisted", "insists", "claimed", "claims", "declared", "declares", "replied",
    "replies", "responded", "continued", "recalled", "recalls", "acknowledged", "admitted",
    "announced", "commented", "complained", "conceded", "confirmed", "cautioned", "urged",
    "stressed", "emphasised", "emphasized", "observed", "tweeted", "posted", "predicted",
    "quipped", "joked", "remarked", "suggested", "agreed", "shouted", "exclaimed", "concluded",
    "promised", "vowed", "testified", "reiterated", "maintained", "pointed", "chanted",
    "reported", "reports",
))  # fmt: skip
#: Participles that report speech by the clause's subject ("…, Wang saying they had "…").
_PARTICIPLES = frozenset((
    "saying", "adding", "noting", "telling", "warning", "writing", "arguing", "insisting",
    "explaining", "claiming", "declaring", "stressing", "urging", "asking", "shouting",
    "chanting", "recalling",
))  # fmt: skip
#: Verbs whose following noun phrase is the listener, never the speaker ("told reporters").
_OBJECT_VERBS = frozenset(("told", "tells", "telling", "asked", "asks", "asking", "urged"))
#: Words between a speaker and the verb ("he also said", "Xi later told").
_VERB_MODIFIERS = frozenset((
    "also", "later", "then", "once", "previously", "earlier", "again", "has", "had", "have",
    "would", "will", "was", "is", "further", "simply", "just", "reportedly", "recently", "did",
    "does", "do", "never", "publicly", "privately", "repeatedly", "often",
))  # fmt: skip
#: Words that end a speaker phrase read backwards from its verb: they start a clause.
_CLAUSE_WORDS = frozenset((
    "that", "and", "but", "which", "who", "whom", "whose", "as", "when", "while", "because",
    "if", "where", "so", "though", "although", "since", "than", "or", "what",
))  # fmt: skip
#: Words that end a speaker phrase read forwards from its verb ("said Xi on Tuesday").
_FORWARD_STOPS = _CLAUSE_WORDS | frozenset((
    "in", "on", "at", "during", "after", "before", "adding", "to", "from", "with", "about",
    "told", "last", "this", "yesterday", "today",
))  # fmt: skip
_DETERMINERS = frozenset((
    "the", "a", "an", "one", "another", "his", "her", "their", "its", "our", "some", "several",
    "many", "two", "three", "four", "other", "both", "most", "few", "no",
))  # fmt: skip
#: Bare nouns the press uses as speakers ("police said", "analysts say").
_SPEAKER_NOUNS = frozenset((
    "police", "officials", "official", "critics", "analysts", "experts", "witnesses",
    "residents", "sources", "authorities", "investigators", "prosecutors", "officers",
    "doctors", "researchers", "scientists", "lawyers", "spokesman", "spokeswoman",
    "spokesperson", "organisers", "organizers", "activists", "diplomats", "economists",
    "observers", "protesters", "relatives", "neighbours", "neighbors", "friends", "fans",
    "democrats", "republicans", "aides", "staff", "family",
))  # fmt: skip
#: Speaker pronouns and the entity types they can stand for.
_PRONOUNS: dict[str, tuple[str, ...]] = {
    "he": ("PERSON",),
    "she": ("PERSON",),
    # "They" after a quote is a group far more often than one person ("police", "the
    # family"); the organisation named last is the best guess, a person is not.
    "they": ("ORG",),
    "it": ("ORG",),
}
#: The first person in an attribution is the writer, who is not an entity of the article.
_WRITER = frozenset(("i", "we"))
#: A role word that stands for any of these in an entity's description ("the Chinese
#: leader" is the Chinese President).
_ROLE_SYNONYMS: dict[str, frozenset[str]] = {
    "leader": frozenset(("leader", "president", "premier", "prime", "chancellor", "king")),
    "spokeswoman": frozenset(("spokeswoman", "spokesperson", "spokesman")),
    "spokesman": frozenset(("spokeswoman", "spokesperson", "spokesman")),
    "spokesperson": frozenset(("spokeswoman", "spokesperson", "spokesman")),
}
#: Words that cannot start a speaker phrase ("about the Watergate break-in").
_PREPOSITIONS = frozenset((
    "about", "in", "on", "at", "to", "from", "with", "by", "for", "of", "after", "before",
    "during", "over", "under", "into", "than", "like", "as", "since", "until", "without",
))  # fmt: skip
#: Prepositions after which a speaker phrase names whom the speaker speaks for.
_SPEAKS_FOR = frozenset(("for", "of", "at", "from"))
#: Prepositions that end a speaker phrase read backwards ("with Wang saying"); not those a
#: speaker phrase holds ("a spokesperson for the ministry", "the head of the agency in Kabul").
_BACK_STOPS = frozenset((
    "with", "by", "to", "after", "during", "despite", "among", "into", "than", "like", "over",
    "under", "about", "against",
))  # fmt: skip
#: Words before a quoted phrase that make it a name or title, not speech ("dubbed "…"").
_NAMING_CUES = frozenset((
    "called", "dubbed", "titled", "entitled", "named", "nicknamed", "so-called", "known", "film",
    "movie", "book", "song", "album", "novel", "show", "series", "play", "headline", "slogan",
    "motto", "hashtag", "column", "article", "documentary", "episode", "single", "hit", "hits",
    "poem", "programme", "program", "campaign", "operation", "term", "phrase", "word",
))  # fmt: skip
#: Words a title leaves in lower case ("Take Me Out to the Ball Game").
_TITLE_SMALL = frozenset((
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "by", "with",
    "from", "as", "nor", "vs", "via", "de", "la", "le", "du", "van", "von",
))  # fmt: skip
_SENTENCE_END = re.compile(r"[.?!\u2026]['\"\u201d\u00bb)]*\s+(?=[A-Z0-9\"\u201c\u00ab\u201e(])")
#: A sentence-final mark, for the end of the sentence a quote sits in.
_TERMINAL = re.compile(r"[.?!](?=\s|$)")


@dataclass(frozen=True, slots=True)
class _Tok:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.casefold()

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum() or self.text[0] == "_"


def _tokens(text: str, lo: int, hi: int) -> list[_Tok]:
    return [_Tok(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text, lo, hi)]


#: Words that make a following speech verb passive ("chips will be added to the system").
_PASSIVE = frozenset(("be", "been", "being", "was", "were", "is", "are", "get", "got"))


def _is_verb(tok: _Tok) -> bool:
    # Case matters: "States" in "United States" is no verb, nor is a headline's "Says".
    return tok.text in _FINITE_VERBS or tok.text in _PARTICIPLES or tok.low == "according"


def _speaker_ok(words: list[_Tok]) -> bool:
    """Whether these words can name who spoke (a name, a pronoun, a determined noun phrase,
    or a bare noun the press uses for speakers)."""
    if not words or len(words) > MAX_SPEAKER_WORDS or not all(w.is_word for w in words):
        return False
    first = words[0].low
    if len(words) == 1 and (first in _PRONOUNS or first in _WRITER):
        return True
    if first in _DETERMINERS:
        return len(words) >= 2
    if words[-1].low in _SPEAKER_NOUNS:
        return True
    # A name, possibly after role words ("deputy head Anna Berg"); not a phrase that only
    # has a name somewhere inside ("about the Watergate break-in").
    lead = words[0].text[0].isupper() or first not in _PREPOSITIONS
    return lead and any(w.text[0].isupper() for w in words)


def _back_phrase(toks: list[_Tok], verb: int) -> list[_Tok]:
    """The speaker phrase ending right before ``toks[verb]``, read backwards to the clause
    start, without the adverbs and auxiliaries between it and the verb."""
    j = verb
    while j > 0 and toks[j - 1].low in _VERB_MODIFIERS:
        j -= 1
    i = j
    while (
        i > 0
        and j - i < MAX_SPEAKER_WORDS + 1
        and toks[i - 1].is_word
        and toks[i - 1].low not in _CLAUSE_WORDS
        and toks[i - 1].text not in _BACK_STOPS
        and not _is_verb(toks[i - 1])
    ):
        i -= 1
    # "Later the president said": an opening adverb is not part of the speaker; a
    # determiner after "of"/"for" is ("a spokesperson for the ministry").
    if j - i > 2 and toks[i + 1].text in _DETERMINERS and toks[i].text[0].isupper():
        i += 1
    return toks[i:j]


def _forward_phrase(toks: list[_Tok], start: int) -> list[_Tok]:
    """The speaker phrase starting at ``toks[start]`` ("said the minister on Tuesday")."""
    j = start
    while (
        j < len(toks)
        and j - start < MAX_SPEAKER_WORDS + 1
        and toks[j].is_word
        and (j == start or toks[j].low not in _FORWARD_STOPS)
        and not _is_verb(toks[j])
    ):
        j += 1
    if j - start > MAX_SPEAKER_WORDS:
        # Too long to be only a name: keep the part before whom it speaks for ("attorney
        # Kassie Siegel of the Center for Biological Diversity").
        cut = next((k for k in range(start, j) if toks[k].low in _SPEAKS_FOR), j)
        j = cut
    return toks[start:j]


@dataclass(frozen=True, slots=True)
class _Attribution:
    words: list[_Tok]
    #: Whether it stands right next to the quote (a short quote needs that to count).
    adjacent: bool
    #: Whether it is an "according to" source rather than a speech verb.
    source: bool = False


def _after(text: str, span: _Span, hi: int) -> _Attribution | None:
    """An attribution right after the closing mark ("…," Xi said / said Xi / according to X)."""
    last_start, last_end = span.pieces[-1]
    content = text[last_start:last_end].rstrip()
    toks = _tokens(text, span.close_mark + 1, hi)
    k = 0
    trailing_comma = False
    while k < len(toks) and toks[k].text in {",", ":", ";", "\u2014", "\u2013", "-"}:
        trailing_comma = True
        k += 1
    if k >= len(toks):
        return None
    ends = content[-1:] if content else ""
    open_ended = ends in {",", "?", "!", "\u2026", "\u2014", "\u2013", "-"} or trailing_comma
    # A quote that ended its sentence: only a lower-case word can still attribute it.
    if not open_ended and (ends != "." or not toks[k].text[0].islower()):
        return None
    t = toks[k]
    if t.low == "according" and k + 1 < len(toks) and toks[k + 1].low == "to":
        words = _forward_phrase(toks, k + 2)
        return _Attribution(words, True, source=True) if _speaker_ok(words) else None
    if t.text in _FINITE_VERBS and t.text not in _OBJECT_VERBS:
        words = _forward_phrase(toks, k + 1)
        return _Attribution(words, True) if _speaker_ok(words) else None
    # Speaker first, up to its verb; an appositive between commas is skipped ("Smith, a
    # spokesman for the ministry, said").
    chunk: list[_Tok] = []
    part = 0  # 0: the name, 1: inside the appositive, 2: after it (only adverbs may follow)
    for tok in toks[k : k + 3 * MAX_SPEAKER_WORDS]:
        if tok.text in _FINITE_VERBS:
            words = chunk
            while words and words[-1].low in _VERB_MODIFIERS:
                words = words[:-1]
            if len(words) > MAX_SPEAKER_WORDS:
                # "the Rev. Larry Kroon of the Wasilla Bible Church said": the person.
                cut = next((i for i, w in enumerate(words) if w.low in _SPEAKS_FOR), len(words))
                words = words[:cut]
            return _Attribution(words, True) if _speaker_ok(words) else None
        if tok.text == "," and chunk and part < 2:
            part += 1
            continue
        if part == 1:
            # An appositive may hold a clause ("Williams, who represents the area, said").
            if tok.text in {".", "?", "!", ";", '"', "\u201c", "\u201d"}:
                return None
            continue
        if not tok.is_word or tok.low in _CLAUSE_WORDS:
            return None
        if part == 2 and tok.low not in _VERB_MODIFIERS:
            return None
        chunk.append(tok)
    return None


def _sentence_tail(text: str, span: _Span, hi: int) -> _Attribution | None:
    """An attribution closing the quote's sentence after a comma ("… cut the flow of "data
    of various kinds" between Europe and Asia, said Sanjeev Gaur.")."""
    stop = _TERMINAL.search(text, span.close_mark + 1, hi)
    if stop is None:
        # The sentence runs on past what was read (into another quote): no closing attribution.
        return None
    end = stop.start()
    toks = _tokens(text, span.close_mark + 1, end)
    commas = [k for k, t in enumerate(toks) if t.text == ","]
    for c in commas:
        # The attribution runs from this comma to the sentence end or the next comma (an
        # appositive may follow: ", said Sanjeev Gaur, a director at the firm.").
        nxt = next((k for k in commas if k > c), len(toks))
        part = toks[c + 1 : nxt]
        if not part or not all(t.is_word for t in part):
            continue
        if part[0].text in _FINITE_VERBS and part[0].text not in _OBJECT_VERBS:
            words = part[1:]
        elif part[-1].text in _FINITE_VERBS:
            words = part[:-1]
            while words and words[-1].low in _VERB_MODIFIERS:
                words = words[:-1]
        else:
            continue
        if _speaker_ok(words) and not any(_is_verb(w) or w.low in _CLAUSE_WORDS for w in words):
            return _Attribution(words, False)
    return None


def _before(text: str, span: _Span, lo: int, quoted: _Quoted) -> _Attribution | None:
    """An attribution before the opening mark in the same sentence: adjacent ("Xi said:",
    "Xi said that", "said Yeager:") or further back for a fragment ("Xi said ties would
    grow "…"). Words inside earlier quotes of the sentence are not read: their verbs are
    the speaker's, not the writer's."""
    toks = [t for t in _tokens(text, lo, span.open_mark) if not quoted.inside(t.start)]
    if not toks:
        return None
    end = len(toks)
    while end > 0 and toks[end - 1].text in {":", ",", "\u2014", "\u2013"}:
        end -= 1
    if end > 0 and toks[end - 1].low == "that":
        end -= 1
    for v in range(end - 1, -1, -1):
        tok = toks[v]
        if not _is_verb(tok) or (v > 0 and toks[v - 1].low in _PASSIVE):
            continue
        adjacent = v == end - 1
        if tok.low == "according":
            if v + 1 < len(toks) and toks[v + 1].low == "to":
                words = _forward_phrase(toks, v + 2)
                if _speaker_ok(words):
                    stop = v + 2 + len(words)
                    return _Attribution(words, stop >= end, source=True)
            continue
        if tok.text in _PARTICIPLES:
            words = _participle_speaker(toks, v)
        else:
            words = _verb_speaker(toks, v, end)
        if not words:
            return None
        # "Smith told the BBC:" is adjacent too: the verb's object ends the phrase.
        if not adjacent and tok.text in _OBJECT_VERBS:
            adjacent = v + 1 + len(_forward_phrase(toks, v + 1)) >= end
        return _Attribution(words, adjacent)
    return None


def _verb_speaker(toks: list[_Tok], v: int, end: int) -> list[_Tok]:
    """Who a finite speech verb before a quote has as its speaker: the phrase before it
    ("Xi said"); the name before an appositive ("Perlo, one of Orozco's lawyers, said");
    or, after a comma or at the sentence start, the name after it ("…, said Yeager:")."""
    back = _back_phrase(toks, v)
    start = v - len(back)
    if (
        _speaker_ok(back)
        and back[0].low in _DETERMINERS
        and start > 1
        and toks[start - 1].text == ","
    ):
        # "Jerry Strickland, a spokesman for Greg Abbott told TIME:": the name before the
        # appositive speaks, not the one inside it.
        name = _back_phrase(toks, start - 1)
        if _speaker_ok(name) and name[0].text[0].isupper():
            return name
    if _speaker_ok(back):
        return back
    if v > 0 and toks[v - 1].text == ",":
        # The appositive runs back to the comma before it; the name is before that.
        for c in range(v - 2, max(-1, v - 2 - 2 * MAX_SPEAKER_WORDS), -1):
            if toks[c].text == ",":
                name = _back_phrase(toks, c)
                if _speaker_ok(name) and any(w.text[0].isupper() for w in name):
                    return name
                break
            if not toks[c].is_word:
                break
    inverted = v == 0 or toks[v - 1].text == ","
    if inverted and toks[v].text not in _OBJECT_VERBS:
        fwd = _forward_phrase(toks, v + 1)
        # The phrase must end at the quote, and hold no verb of its own ("said the
        # administration was "…"").
        if (
            _speaker_ok(fwd)
            and v + 1 + len(fwd) >= end
            and not any(w.low in _VERB_MODIFIERS for w in fwd)
        ):
            return fwd
    return []


def _participle_speaker(toks: list[_Tok], v: int) -> list[_Tok]:
    """Who "saying"/"adding" reports: the phrase before it after "with" or "and" ("with Wang
    saying"),
    else the sentence's subject ("A government official downplayed the unrest, saying")."""
    for f in range(v - 1, -1, -1):
        # "she said, explaining: …": the finite verb's speaker.
        if toks[f].text in _FINITE_VERBS:
            return _verb_speaker(toks, f, f + 1)
    back = _back_phrase(toks, v)
    start = v - len(back)
    while start < v and toks[start].low in _VERB_MODIFIERS:
        start += 1
    # "with Putin calling them "cruel" and Wang saying …": the absolute construction.
    if _speaker_ok(back) and start > 0 and toks[start - 1].low in {"with", "and"}:
        return back
    return _subject(toks[:v])


#: Words that open a sentence before its subject ("However, Prime Minister X …").
_OPENING_WORDS = frozenset((
    "however", "meanwhile", "but", "and", "still", "yet", "also", "instead", "later",
    "earlier", "then", "in", "on", "at", "after", "before", "during", "for", "with", "while",
    "when", "since", "speaking", "asked", "separately", "nevertheless", "now", "today",
))  # fmt: skip
#: Lower-case words a subject may hold between its capitalised ones ("Greek prime minister
#: George Papandreou", "Beat writer Larry Holder", "A government official").
_SUBJECT_WORDS = _SPEAKER_NOUNS | frozenset((
    "president", "minister", "prime", "foreign", "secretary", "chief", "executive", "director",
    "leader", "governor", "mayor", "general", "head", "chairman", "chairwoman", "writer",
    "coach", "lawyer", "attorney", "government", "senior", "former", "deputy", "vice",
    "state", "local", "party", "union", "company", "military", "defence", "defense",
    "spokesman", "spokeswoman", "spokesperson", "official", "officer", "judge", "manager",
    "owner", "professor", "analyst", "economist", "of", "for", "the", "'s",
))  # fmt: skip


def _subject(toks: list[_Tok]) -> list[_Tok]:
    """The sentence's subject when it reads as a speaker: its first run of capitalised and
    role words, after any opening phrase set off by a comma ("In the press conference,
    Putin …", "However, Prime Minister Costas Karamanlis …")."""
    k = 0
    if toks and toks[0].low in _OPENING_WORDS:
        comma = next((i for i, t in enumerate(toks[:12]) if t.text == ","), None)
        if comma is None:
            return []
        k = comma + 1
    if k < len(toks) and toks[k].low in {"he", "she", "they", "it"}:
        return toks[k : k + 1]
    j = k
    while j < len(toks) and j - k < MAX_SPEAKER_WORDS:
        w = toks[j]
        if not w.is_word:
            break
        if not (
            w.text[0].isupper() or w.low in _SUBJECT_WORDS or (j == k and w.low in _DETERMINERS)
        ):
            break
        j += 1
    while j > k and toks[j - 1].low in {"of", "for", "the"}:
        j -= 1
    words = toks[k:j]
    return words if _speaker_ok(words) else []


def _sentence_start(text: str, lo: int, i: int) -> int:
    """Where the sentence holding ``text[i]`` starts, looking no further back than ``lo``."""
    start = lo
    # One character past ``i``: the lookahead must see the quote mark itself.
    for m in _SENTENCE_END.finditer(text, lo, i + 1):
        start = m.end()
    return start


def _named(preceding: str) -> bool:
    """Whether the words before a quote give it as a name or title ("dubbed the plan "…"",
    "promoted as "…""): a cue among the last three words, or "as" right before it."""
    words = [w.casefold().strip(",:;") for w in preceding.split()[-3:]]
    return bool(words) and (words[-1] == "as" or any(w in _NAMING_CUES for w in words))


def _stands_alone(text: str, span: _Span, hi: int) -> bool:
    """Whether the quote ends a clause: its words end in punctuation, or the sentence ends
    right after its closing mark."""
    last_start, last_end = span.pieces[-1]
    content = text[last_start:last_end].rstrip()
    if content[-1:] in {".", ",", "?", "!", "\u2026"}:
        return True
    rest = text[span.close_mark + 1 : hi].lstrip()
    return not rest or rest[0] in ".,?!;:\u2026"


def _is_title(words: list[str]) -> bool:
    """Whether quoted words read as a title: every word but small ones capitalised."""
    big = [w for w in words if w.casefold() not in _TITLE_SMALL]
    return bool(big) and all(w[0].isupper() or w[0].isdigit() for w in big)


# --- entities ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ref:
    start: int
    end: int
    record: EntityRecord


class _Index:
    """PERSON and ORG mentions in text order, with the words each record is described by."""

    def __init__(self, entities: Sequence[EntityRecord]) -> None:
        refs = [
            _Ref(m.start, m.end, r)
            for r in entities
            if r.type in {"PERSON", "ORG"}
            for m in r.mentions
        ]
        refs.sort(key=lambda ref: ref.start)
        self.refs = refs
        self.starts = [ref.start for ref in refs]
        self.records = [r for r in entities if r.type in {"PERSON", "ORG"}]
        self.types = {r.name: r.type for r in self.records}

    def covering(self, start: int, end: int) -> EntityRecord | None:
        """The record with a mention inside ``start:end`` (a person before an organisation:
        "a spokesperson for the ministry" names the ministry, "Smith of Acme" names Smith)."""
        hi = bisect.bisect_left(self.starts, end)
        lo = bisect.bisect_left(self.starts, start)
        inside = [ref.record for ref in self.refs[lo:hi] if ref.end <= end]
        people = [r for r in inside if r.type == "PERSON"]
        chosen = people or inside
        return chosen[0] if chosen else None

    def recent(self, text: str, types: tuple[str, ...], before: int, skip: _Quoted) -> str | None:
        """The entity of ``types`` a pronoun at ``before`` stands for: the most recent one
        named (within :data:`PRONOUN_REACH`, outside quotes) as the subject of a speech verb,
        else the most recent one named. News prose introduces a speaker ("Smith, a pensioner
        who …, said the walkouts were needed") and then names others before "he said"."""
        fallback: str | None = None
        i = bisect.bisect_left(self.starts, before)
        while i > 0:
            i -= 1
            ref = self.refs[i]
            if ref.start < before - PRONOUN_REACH:
                break
            if ref.end > before or ref.record.type not in types or skip.inside(ref.start):
                continue
            if _speaks(text, ref.start, ref.end, before):
                return ref.record.name
            fallback = fallback or ref.record.name
        return fallback

    def by_name(self, words: list[str]) -> EntityRecord | None:
        """A record one of whose names ends with the speaker's last word ("Yeager")."""
        last = words[-1].casefold()
        for r in self.records:
            for name in (r.name, *r.aliases):
                if name.split() and name.split()[-1].casefold() == last:
                    return r
        return None

    def by_role(self, words: list[str], before: int) -> EntityRecord | None:
        """The entity a role phrase stands for: "the (Chinese) president" for a person whose
        description or role-prefixed name has those words; "the ministry" for an
        organisation whose name has that word. The one named last before the quote wins."""
        low = [w.casefold() for w in words if w.casefold() not in _DETERMINERS]
        if not low:
            return None
        head, modifiers = low[-1], low[:-1]
        heads = _ROLE_SYNONYMS.get(head, frozenset((head,)))
        found: list[EntityRecord] = []
        for r in self.records:
            if r.type == "PERSON":
                forms = [r.description or "", *r.aliases]
                name_words = set(r.name.casefold().split())
                vocab = {w for f in forms for w in f.casefold().split()} - name_words
            else:
                vocab = set(r.name.casefold().split())
            if heads & vocab and all(m in vocab for m in modifiers):
                found.append(r)
        if not found:
            return None

        def last_before(r: EntityRecord) -> int:
            return max((m.start for m in r.mentions if m.start < before), default=-1)

        return max(found, key=last_before)


#: How far after a name (characters) its speech verb may come: past an appositive such as
#: ", a 70-year-old pensioner who lives on less than 1,000 euros a month,".
SUBJECT_REACH = 120
_SPEECH_OR_STOP = re.compile(
    r"[.?!](?=\s|$)|\b(?:" + "|".join(sorted(_FINITE_VERBS | _PARTICIPLES)) + r")\b"
)


_VERB_BEFORE = re.compile(r"\b(?:" + "|".join(sorted(_FINITE_VERBS)) + r")\s+$")


def _speaks(text: str, start: int, end: int, hi: int) -> bool:
    """Whether the name at ``text[start:end]`` is a speech verb's subject: a verb follows in
    the same sentence (within reach), or comes right before it ("noted Dean McCarron")."""
    if _VERB_BEFORE.search(text, max(0, start - 20), start):
        return True
    m = _SPEECH_OR_STOP.search(text, end, min(hi, end + SUBJECT_REACH))
    return m is not None and m.group()[0].isalpha()


class _Quoted:
    """Offsets inside quotes: a name said inside a quote is not who speaks after it."""

    def __init__(self, spans: list[_Span]) -> None:
        self.starts = [s.open_mark for s in spans]
        self.ends = [s.close_mark for s in spans]

    def inside(self, i: int) -> bool:
        k = bisect.bisect_right(self.starts, i) - 1
        return k >= 0 and i < self.ends[k]


def _resolve(
    text: str, attribution: _Attribution, quote_start: int, index: _Index, quoted: _Quoted
) -> str | None:
    words = attribution.words
    first = words[0].low
    if len(words) == 1 and first in _PRONOUNS:
        where = min(words[0].start, quote_start)
        return index.recent(text, _PRONOUNS[first], where, quoted)
    if len(words) == 1 and first in _WRITER:
        return None
    record = index.covering(words[0].start, words[-1].end)
    if record is not None:
        return record.name
    if first in _DETERMINERS or words[-1].low in _SPEAKER_NOUNS:
        low = [w.low for w in words]
        # "a spokesperson for the ministry" speaks for the ministry.
        cut = next((k for k, w in enumerate(low) if w in _SPEAKS_FOR), None)
        if cut is not None and cut + 1 < len(words):
            record = index.by_role([w.text for w in words[cut + 1 :]], quote_start)
        else:
            record = index.by_role([w.text for w in words], quote_start)
        return record.name if record else None
    capitalised = [w.text for w in words if w.text[0].isupper()]
    record = index.by_name(capitalised) if capitalised else None
    return record.name if record else None


# --- the finder ----------------------------------------------------------------------------


def _quote_text(text: str, span: _Span) -> tuple[str, int, int]:
    parts: list[str] = []
    bounds: list[tuple[int, int]] = []
    for k, (s, e) in enumerate(span.pieces):
        raw = text[s:e]
        s2 = s + len(raw) - len(raw.lstrip())
        # The comma before an attribution belongs to the sentence, not the speaker.
        tail = " \t," if k == len(span.pieces) - 1 else " \t"
        e2 = e - (len(raw) - len(raw.rstrip(tail)))
        if e2 > s2:
            parts.append(text[s2:e2])
            bounds.append((s2, e2))
    if not bounds:
        return "", span.open_mark, span.open_mark
    return "\n".join(parts), bounds[0][0], bounds[-1][1]


def find_quotes(text: str, entities: Sequence[EntityRecord]) -> list[Quote]:
    """The direct quotes of ``text`` in text order, each with its speaker and entity.

    ``entities`` are the article's canonical entities with mentions into ``text`` (an empty
    list still finds quotes and speakers, with no entity). Scare quotes, titles and quoted
    single words are left out: a phrase under :data:`MIN_WORDS` words counts only with an
    attribution right next to it. Unbalanced marks never raise; only the first
    :data:`MAX_TEXT_CHARS` characters are read.
    """
    text = text[:MAX_TEXT_CHARS]
    paragraphs = _paragraphs(text)
    spans = _spans(text, paragraphs)
    index = _Index(entities)
    quoted = _Quoted(spans)

    quotes: list[Quote] = []
    # The last attributed quote: (speaker, entity, where its attribution ends, paragraph).
    last: tuple[str, str | None, int, int] | None = None
    for n, span in enumerate(spans):
        body, start, end = _quote_text(text, span)
        words = _COUNTED_WORD.findall(body)
        if len(words) < 2:
            continue
        prev_close = spans[n - 1].close_mark + 1 if n else 0
        next_open = spans[n + 1].open_mark if n + 1 < len(spans) else len(text)
        lo = max(span.para_start, span.open_mark - LOOKBACK)
        sentence_lo = _sentence_start(text, lo, span.open_mark)
        after_hi = min(span.para_end, next_open, span.close_mark + 1 + LOOKAHEAD)

        starts_sentence = not text[max(sentence_lo, prev_close) : span.open_mark].strip()
        after = _after(text, span, after_hi)
        before = _before(text, span, sentence_lo, quoted)
        attribution = after
        if attribution is None or (attribution.source and before is not None):
            attribution = before or after
        if attribution is None and not starts_sentence:
            tail_hi = min(span.para_end, next_open, span.close_mark + 1 + 2 * LOOKAHEAD)
            attribution = _sentence_tail(text, span, tail_hi)

        if attribution is None:
            preceding = text[max(sentence_lo, span.open_mark - 60) : span.open_mark]
            if len(words) < MIN_WORDS or _is_title(words):
                continue
            if _named(preceding):
                continue
        elif (len(words) < MIN_WORDS or _is_title(words)) and not (
            # A short quote counts only as a whole utterance with its attribution next to
            # it ("Not yet," he said), never as a phrase the sentence runs on past.
            attribution.adjacent and _stands_alone(text, span, after_hi)
        ):
            continue

        speaker: str | None = None
        entity: str | None = None
        if attribution is not None:
            a, b = attribution.words[0].start, attribution.words[-1].end
            speaker = text[a:b]
            entity = _resolve(text, attribution, span.open_mark, index, quoted)
            pronoun = attribution.words[0].low
            if len(attribution.words) == 1 and pronoun in {"he", "she"} and last is not None:
                # "…," Salazar said. "…," he said: the pronoun is the speaker just quoted,
                # whoever else the NER found as a person in between.
                _, last_entity, since, _ = last
                if (
                    last_entity is not None
                    and index.types.get(last_entity) == "PERSON"
                    and span.open_mark - since <= INHERIT_REACH
                    and _nobody_between(text, index, since, span.open_mark, last_entity)
                ):
                    entity = last_entity
            last = (speaker, entity, max(b, span.close_mark), span.last_paragraph)
        elif last is not None and starts_sentence:
            speaker_, entity_, since, paragraph = last
            same = paragraph == span.paragraph and span.open_mark - since <= INHERIT_REACH
            next_paragraph = paragraph == span.paragraph - 1 and span.opens_paragraph
            if (same or next_paragraph) and _nobody_between(
                text, index, since, span.open_mark, entity_
            ):
                speaker, entity = speaker_, entity_
                last = (speaker_, entity_, span.close_mark, span.last_paragraph)
        if speaker is None:
            # A quote nobody is given for breaks the run: the next one must not reach past it.
            last = None
        quotes.append(Quote(body, start, end, speaker, entity))
    return quotes


def _nobody_between(text: str, index: _Index, lo: int, hi: int, entity: str | None) -> bool:
    """Whether no sentence between ``lo`` (the end of an attribution) and ``hi`` names another
    person. The rest of the attribution's own sentence does not count: "said Bunny Yeager,
    whose photographs of Page …" still hands the next quote to Yeager."""
    boundary = _SENTENCE_END.search(text, lo, hi + 1)
    if boundary is None:
        return True
    i = bisect.bisect_left(index.starts, boundary.end())
    j = bisect.bisect_left(index.starts, hi)
    return all(ref.record.type != "PERSON" or ref.record.name == entity for ref in index.refs[i:j])
