"""Relation topics: "China–Russia relations" from the countries an article is about.

Pure: canonical entity records (:class:`tidings.enrich.entities.EntityRecord`) in, topics out.

1. :func:`country_of` maps one record to a country, from the table in
   ``tidings/data/countries.json`` (built by :mod:`tidings.enrich.countries_build`):

   - a place or organisation named as a country, a short form, a capital or a seat of
     government ("Russia", "U.S.", "Beijing", "the Kremlin", "Downing Street");
   - an organisation whose name joins a country or demonym to a word of government
     ("Chinese Foreign Ministry", "Russian Defence Ministry", "U.S. Senate"); a company
     that only carries one ("British Airways", "Bank of China") is not the state;
   - a person whose description pairs a demonym or country with a state role ("Chinese
     President", "his Russian counterpart", "US Secretary of State"); a "Chinese tennis
     player" is not, so two athletes do not make a relation; with the text, also a person
     written right after a country's possessive ("China's Xi"), though not as an actor.

   Heads of state are not listed by name: such a list goes stale with every election, and
   articles name the role at least once.

   A person in a state role, a government body, a seat of government, or (given the text)
   a country that speaks ("France said", "Iraq's interim government") *acts* for its
   country; a country named as a place ("a bank in Greece", "beat Spain") does not.

2. :func:`relation_topics` counts each country's mentions (every mention of every record
   that maps to it) and keeps the *prominent* ones: named in the lead (the first
   :data:`LEAD_CHARS` characters) or at least :data:`MIN_MENTIONS` times. A pair of
   prominent countries is a candidate when at least one side acts and each side has
   :data:`MIN_WEIGHT` mentions; it weighs its weaker side's mentions, and the strongest
   :data:`MAX_PAIRS` that reach :data:`MIN_SHARE` of the best one are kept.

   The actor rule is what keeps places apart from relations: without it the dev data
   (ECB+, entity-linking news and AG News) gave 535 relations instead of 131, with sports
   fixtures ("Canada beat the Czech Republic") and lists of places ("quake felt in Oman and
   the UAE") among them: 71 AG News sports items got one, against 1 with it. It costs
   some real relations written only with country names ("France is pushing a UN resolution
   against the Ivory Coast") where no verb of :data:`STATE_VERBS` follows the name.

3. :func:`recurring_relations` says which relations keep coming back over recent articles.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import combinations

from tidings.enrich.entities import EntityRecord, dateline_spans

#: The lead: an article's first this-many characters, about a headline and a first
#: paragraph (98% of AG News title + summary items fit in it). Measured with the other
#: defaults on ECB+, entity-linking news and AG News (131 relations in 4,562 texts): at 250,
#: 45 relations go, sensible ones among them ("Australian PM ... his British counterpart");
#: at 600 one more comes.
LEAD_CHARS = 400
#: A country outside the lead needs this many mentions to count. On the same data 3 added
#: five relations and 2 fourteen, all background: Somali pirates beside the Indian or US navy,
#: Germany in stories of Greek riots, France beside Italy at a G5 meeting; 5 changed nothing.
MIN_MENTIONS = 4
#: Mentions each side of a pair needs, unless the whole article fits in the lead (a feed
#: item's title and summary names each side once). At 1, six relations came from one
#: passing mention: a "7:00pm UK" time stamp, delegates listed at a meeting.
MIN_WEIGHT = 2
#: Relations kept per article at most: a summit story has one, a crisis story two or three.
MAX_PAIRS = 3
#: A pair weighing less than this share of the best pair is background. In the seed article,
#: China–Russia weighs 34 and Ukraine, named 6 times, would add Russia–Ukraine and
#: China–Ukraine; on the dev data 0.5 would also drop Chile beside a Mexico–US story.
MIN_SHARE = 0.25
#: Articles a relation must appear in (within the window the caller counts over) to be
#: recurring: two can be one story told twice; three separate articles make a thread.
MIN_ARTICLES = 3

#: Words that make an organisation a part of a state ("Chinese Foreign Ministry").
GOVERNMENT_WORDS = frozenset((
    "ministry", "government", "administration", "cabinet", "army", "navy", "air force",
    "military", "armed forces", "forces", "embassy", "consulate", "mission", "parliament",
    "congress", "senate", "house of representatives", "foreign office", "state department",
    "defence", "defense", "foreign affairs", "interior", "presidency", "coast guard",
    "central bank", "treasury", "intelligence", "state council", "communist party",
    "security council", "national security", "border guard", "border patrol", "police",
    "customs", "ministry of defence", "ministry of foreign affairs", "department",
    "office", "agency", "council", "chancellery", "kremlin", "duma", "delegation", "troops",
))  # fmt: skip
#: Words that make a person's description a state role ("Russian Foreign Minister").
STATE_ROLES = frozenset((
    "president", "leader", "minister", "chancellor", "premier", "secretary", "ambassador",
    "envoy", "counterpart", "spokesman", "spokeswoman", "spokesperson", "diplomat", "king",
    "queen", "prince", "emperor", "monarch", "general", "admiral", "commander", "senator",
    "sen.", "congressman", "congresswoman", "lawmaker", "legislator", "official", "negotiator",
    "representative", "rep.", "head", "chief", "vice-president",
))  # fmt: skip
#: Record types that can name a country as a place or body (EVENT "Israel-Hamas war",
#: PRODUCT and WORK never stand for a state).
_PLACE_TYPES = frozenset({"PLACE", "ORG"})
#: Longest country name, in words, looked for inside a longer name ("United Arab Emirates").
_MAX_NGRAM = 4

_WORD = re.compile(r"[\w'\u2019.-]+")


@dataclass(frozen=True, slots=True)
class Country:
    """One row of the country table."""

    #: ISO 3166-1 alpha-2 code ("CN").
    code: str
    #: The name used in labels ("China", "United States").
    name: str


@dataclass(frozen=True, slots=True)
class RelationTopic:
    """A relation between two countries that an article is about."""

    #: ``relation:`` and the two names as a slug, in label order (``relation:china-russia``).
    id: str
    #: The two names in alphabetical order joined by an en dash (``China–Russia relations``).
    label: str
    #: The two countries' ISO alpha-2 codes, in label order.
    countries: tuple[str, str]
    #: Mentions of each country in the article, in label order: the evidence.
    mentions: tuple[int, int]
    #: How strongly the article is about the pair: the weaker side's mentions.
    weight: int


def key(name: str) -> str:
    """The form names are compared in: accents and dots dropped, case folded, one space,
    no leading "the". Must match :func:`tidings.enrich.countries_build.key`."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = plain.replace(".", "").replace("\u2019", "'").casefold().split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


@dataclass(frozen=True, slots=True)
class CountryTable:
    """Names in :func:`key` form to countries."""

    #: Country names, short forms, capitals and seats of government.
    places: Mapping[str, Country]
    #: Demonyms and country names, for reading descriptions and organisation names.
    qualifiers: Mapping[str, Country]
    #: The keys of ``places`` that are seats of government ("kremlin", "white house").
    seats: frozenset[str]


@cache
def load_countries() -> CountryTable:
    """The shipped table (read once)."""
    raw = json.loads(
        resources.files("tidings").joinpath("data/countries.json").read_text(encoding="utf-8")
    )
    places: dict[str, Country] = {}
    qualifiers: dict[str, Country] = {}
    seats: set[str] = set()
    for row in raw["countries"]:
        seats.update(row["seats"])
        country = Country(row["code"], row["name"])
        for name in (*row["names"], *row["capitals"], *row["seats"]):
            places[name] = country
        for name in (*row["names"], *row["demonyms"]):
            qualifiers[name] = country
    return CountryTable(places, qualifiers, frozenset(seats))


def _words(text: str) -> list[str]:
    return [key(w.strip("'\u2019-")) for w in _WORD.findall(text) if w.strip("'\u2019.-")]


def _possessive(word: str) -> str:
    """Drop a possessive ending: china's -> china."""
    return re.sub(r"'s?$", "", word)


def _qualifiers_in(words: Sequence[str], table: CountryTable) -> set[Country]:
    """Countries whose name or demonym is a run of ``words`` ("south korean", "us")."""
    found: set[Country] = set()
    i = 0
    while i < len(words):
        for n in range(min(_MAX_NGRAM, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            country = table.qualifiers.get(phrase) or table.qualifiers.get(_possessive(phrase))
            if country:
                found.add(country)
                i += n
                break
        else:
            i += 1
    return found


def _has_any(words: Sequence[str], vocabulary: frozenset[str]) -> bool:
    joined = f" {' '.join(words)} "
    return any(f" {w} " in joined for w in vocabulary)


def country_of(
    record: EntityRecord, text: str | None = None, *, table: CountryTable | None = None
) -> str | None:
    """The ISO alpha-2 code of the country a record stands for, or None (see the module's
    docstring for how)."""
    found = _country_of(record, text, table or load_countries())
    return found[0].code if found else None


def _country_of(
    record: EntityRecord, text: str | None, table: CountryTable
) -> tuple[Country, bool] | None:
    """The record's country and whether the record *acts* for it: a person in a state role,
    a government body or a seat of government, rather than the country as a place."""
    names = (record.name, *record.aliases)
    if record.type in _PLACE_TYPES:
        for name in names:
            k = key(name)
            country = table.places.get(k)
            if country:
                return country, k in table.seats or (text is not None and _speaks(record, text))
    if record.type == "ORG":
        for name in names:
            words = [_possessive(w) for w in _words(name)]
            found = _qualifiers_in(words, table)
            if len(found) == 1 and _has_any(words, GOVERNMENT_WORDS):
                return found.pop(), True
    if record.type == "PERSON":
        if record.description:
            words = _words(record.description)
            found = _qualifiers_in(words, table)
            # "US-China envoy" names two: it does not say whose envoy.
            if len(found) == 1 and _has_any(words, STATE_ROLES):
                return found.pop(), True
        if text is not None:
            country = _possessor(record, text, table)
            # "Spain's Javier Bosma" is as often an athlete as "China's Xi" is a leader:
            # the person counts for the country but does not act for it.
            if country:
                return country, False
    return None


#: Verbs of a state speaking or acting, after a country as subject ("France said", "North Korea
#: says", "China has urged"). Not "won", "beat" or "lost": teams named after countries use those.
STATE_VERBS = frozenset((
    "said", "says", "say", "told", "tells", "urged", "urges", "warned", "warns", "accused",
    "accuses", "announced", "announces", "called", "calls", "demanded", "demands", "rejected",
    "rejects", "denied", "denies", "condemned", "condemns", "agreed", "agrees", "signed",
    "signs", "pledged", "pledges", "threatened", "threatens", "defended", "defends", "insisted",
    "insists", "vowed", "vows", "protested", "protests", "summoned", "summons", "expelled",
    "expels", "recognised", "recognized", "recognises", "recognizes", "sanctioned", "imposed",
    "imposes", "offered", "offers", "refused", "refuses",
))  # fmt: skip
#: Auxiliaries that may stand between the subject and its verb ("China has urged").
_AUXILIARIES = frozenset({"is", "has", "have", "will", "would", "had", "was", "also"})
#: "France's foreign ministry", "Iraq's interim government": a body named by the country.
_FOLLOWING = re.compile(r"\s*(?:['\u2019]s\s+)?((?:[\w-]+\s+){0,3})")


def _speaks(record: EntityRecord, text: str) -> bool:
    """Whether the text makes the named country a speaker or an actor at least once."""
    for mention in record.mentions:
        after = _FOLLOWING.match(text, mention.end)
        if after is None:
            continue
        words = after.group(1).casefold().split()
        possessive = text[mention.end : mention.end + 2] in ("'s", "\u2019s")
        if possessive and _has_any(words, GOVERNMENT_WORDS):
            return True
        rest = [w for w in words if w not in _AUXILIARIES]
        if not possessive and rest and rest[0] in STATE_VERBS - _AUXILIARIES:
            return True
    return False


#: "China's Xi", "Russia's Putin" (either apostrophe): a country's possessive right before a
#: person's name.
_POSSESSOR = re.compile(r"([A-Z][\w.]*(?:\s[A-Z][\w.]*){0,2})['\u2019]s\s+$")


def _possessor(record: EntityRecord, text: str, table: CountryTable) -> Country | None:
    for mention in record.mentions:
        found = _POSSESSOR.search(text, max(0, mention.start - 40), mention.start)
        if found:
            country = table.places.get(key(found.group(1)))
            if country:
                return country
    return None


@dataclass(frozen=True, slots=True)
class CountryMentions:
    """Where an article names one country."""

    country: Country
    #: Start offsets of every mention, sorted.
    starts: tuple[int, ...]
    #: Whether any of them is a person, body or seat acting for the country.
    acting: bool


def country_mentions(
    records: Iterable[EntityRecord], text: str | None = None, *, table: CountryTable | None = None
) -> list[CountryMentions]:
    """Each country the records name, most mentioned first."""
    table = table or load_countries()
    starts: dict[Country, list[int]] = {}
    acting: set[Country] = set()
    # A dateline says where the story was filed ("VIENNA (Reuters) -"), not which country
    # it is about: a capital there would make Austria act in every story from Vienna.
    filed = dateline_spans(text) if text is not None else []
    for record in records:
        named = [m.start for m in record.mentions if not any(s <= m.start < e for s, e in filed)]
        if not named:
            continue
        found = _country_of(record, text, table)
        if found is not None:
            starts.setdefault(found[0], []).extend(named)
            if found[1]:
                acting.add(found[0])
    out = [CountryMentions(c, tuple(sorted(s)), c in acting) for c, s in starts.items()]
    return sorted(out, key=lambda m: (-len(m.starts), m.starts[0]))


def relation_topics(
    records: Iterable[EntityRecord],
    text: str | None = None,
    *,
    lead_chars: int = LEAD_CHARS,
    min_mentions: int = MIN_MENTIONS,
    min_weight: int = MIN_WEIGHT,
    max_pairs: int = MAX_PAIRS,
    min_share: float = MIN_SHARE,
    need_actor: bool = True,
    table: CountryTable | None = None,
) -> list[RelationTopic]:
    """The relations an article is about, strongest first (see the module's docstring).

    ``text`` is the article text the records were found in; without it a person is tied to
    a country by their description alone and a country never acts by speaking.
    ``need_actor=False`` drops the actor rule (for measuring what it does).
    """
    records = list(records)
    # An article that is all lead (a feed item's title and summary) names each side once.
    end = (
        len(text)
        if text is not None
        else max((m.end for r in records for m in r.mentions), default=0)
    )
    need = 1 if end <= lead_chars else min_weight
    prominent = [
        m
        for m in country_mentions(records, text, table=table)
        if m.starts[0] < lead_chars or len(m.starts) >= min_mentions
    ]
    candidates: list[tuple[tuple[int, int, int], RelationTopic]] = []
    for a, b in combinations(prominent, 2):
        if need_actor and not (a.acting or b.acting):
            continue
        first, second = sorted((a, b), key=lambda m: m.country.name)
        counts = (len(first.starts), len(second.starts))
        if min(counts) < need:
            continue
        topic = RelationTopic(
            id=f"relation:{_slug(first.country.name)}-{_slug(second.country.name)}",
            label=f"{first.country.name}\u2013{second.country.name} relations",
            countries=(first.country.code, second.country.code),
            mentions=counts,
            weight=min(counts),
        )
        # Strongest first: the weaker side's mentions, then how many sides act, then the
        # total; the label last so that ties come out the same every time.
        candidates.append(((topic.weight, a.acting + b.acting, sum(counts)), topic))
    candidates.sort(key=lambda c: (-c[0][0], -c[0][1], -c[0][2], c[1].label))
    if not candidates:
        return []
    best = candidates[0][1].weight
    return [t for _, t in candidates[:max_pairs] if t.weight >= min_share * best]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key(name)).strip("-")


def count_relations(articles: Iterable[Iterable[RelationTopic]]) -> Counter[str]:
    """How many articles carry each relation (by id), each article counted once."""
    counts: Counter[str] = Counter()
    for topics in articles:
        counts.update({topic.id for topic in topics})
    return counts


def recurring_relations(
    counts: Mapping[str, int], *, min_articles: int = MIN_ARTICLES
) -> list[str]:
    """The relation ids seen in at least ``min_articles`` articles, most frequent first.

    ``counts`` is articles per relation id over whatever recent window the caller keeps (the
    last week's articles, say), as :func:`count_relations` gives; the window is the caller's
    choice because it is a question of storage, not of this decision.
    """
    recurring = [(n, rid) for rid, n in counts.items() if n >= min_articles]
    return [rid for n, rid in sorted(recurring, key=lambda x: (-x[0], x[1]))]


_NAMED_PAIR = re.compile(
    r"^\s*(?P<a>.+?)\s*(?:[\u2013\u2014-]|\band\b|/)\s*(?P<b>.+?)(?:\s+relations?)?\s*$",
    re.IGNORECASE,
)


def relation_named(text: str, *, table: CountryTable | None = None) -> tuple[str, str] | None:
    """The ``(id, label)`` of the relation topic a reader names: "China–Russia relations",
    "china-russia", "Russia and China", "relation:china-russia". None when the text does
    not name two different countries. A reader may follow a relation before any article
    about it has arrived, so this does not need one."""
    table = table or load_countries()
    body = text.strip()

    def country(part: str) -> Country | None:
        return table.places.get(key(part)) or table.qualifiers.get(key(part))

    pair: tuple[Country, Country] | None = None
    if body.casefold().startswith("relation:"):
        # An id: slugs joined by "-", which names may contain too ("united-states").
        words = body[len("relation:") :].split("-")
        for cut in range(1, len(words)):
            a, b = country(" ".join(words[:cut])), country(" ".join(words[cut:]))
            if a is not None and b is not None:
                pair = (a, b)
                break
    elif (match := _NAMED_PAIR.match(body)) is not None:
        a, b = country(match["a"]), country(match["b"])
        if a is not None and b is not None:
            pair = (a, b)
    if pair is None:
        return None
    first, second = sorted(pair, key=lambda c: c.name)
    if first.code == second.code:
        return None
    return (
        f"relation:{_slug(first.name)}-{_slug(second.name)}",
        f"{first.name}\u2013{second.name} relations",
    )
