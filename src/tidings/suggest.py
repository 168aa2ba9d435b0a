"""Finding something to follow: suggestions as a reader types, and the choices a new reader
is offered. Pure: storage finds the candidates (``FindingsStorage.suggest_entities`` and
``suggest_topics``), these functions decide which to show and in what order.

What a reader is offered must be something a person would recognise and want to follow. The
entity extractor's mistakes are few in number but loud in the grid of a new reader's
choices, where "JAPAN" and "LONDON" (datelines: the capitalised place a wire story opens
with), "Secretary" (a title) or a one-off name found in one article would sit beside
Xi Jinping. :func:`presentable` keeps those out; :func:`well_covered` adds how much news
there is about the thing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tidings.types import Entity, InterestKind, Source, TopicKind, TopicTag

#: Suggestions shown as a reader types: a phone's screen below the box holds about eight.
SUGGESTIONS = 8
#: The fewest characters worth suggesting for ("x" matches half the news).
MIN_QUERY_CHARS = 2
#: Longest query looked up (longer is a search, not a name being typed).
MAX_QUERY_CHARS = 100

#: What a type is called on the page.
ENTITY_TYPES = {
    "PERSON": "Person",
    "ORG": "Organisation",
    "PLACE": "Place",
    "EVENT": "Event",
    "PRODUCT": "Product",
    "WORK": "Work",
}
TOPIC_KINDS = {
    TopicKind.TAXONOMY: "Topic",
    TopicKind.SECTION: "Section",
    TopicKind.RELATION: "Relations",
}

#: The fewest articles for an entity offered to a new reader: a name in one or two articles
#: is mostly a walk-on (a witness, a coach quoted once), not something to follow from the
#: first day. On demo-news (6,315 articles of twelve publishers) the twelve most covered
#: people each have 18 or more, so the floor matters on young instances only, where
#: :func:`onboarding_entities` lets two do.
MIN_ONBOARDING_ARTICLES = 3
#: Words that make a "person" a title or a role rather than someone ("Secretary of
#: State", "President", "Prime Minister"): the extractor tags them PERSON when a sentence
#: uses them as a name.
TITLE_WORDS = frozenset(
    {
        "president",
        "secretary",
        "minister",
        "prime",
        "chancellor",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "senator",
        "governor",
        "mayor",
        "general",
        "judge",
        "chairman",
        "chief",
        "director",
        "spokesman",
        "spokeswoman",
        "mr",
        "mrs",
        "ms",
        "dr",
        "sir",
        "lord",
        "lady",
    }
)
#: The news agencies whose names stand in articles as credits ("(Reuters)", "AP"): the most
#: named organisations of any wire-fed instance (on demo-news Reuters, AP and AFP are three of
#: the four most named), and not what a reader means to follow. Typed in the search box they
#: are still found.
NEWS_AGENCIES = frozenset(
    {
        "reuters",
        "ap",
        "associated press",
        "the associated press",
        "afp",
        "agence france-presse",
        "agence france presse",
        "upi",
        "united press international",
        "dpa",
        "ansa",
        "efe",
    }
)
#: Time zones, which datelines end with and the extractor takes for organisations.
TIME_ZONES = frozenset(
    {
        "GMT",
        "UTC",
        "BST",
        "CET",
        "CEST",
        "EST",
        "EDT",
        "CST",
        "CDT",
        "MST",
        "MDT",
        "PST",
        "PDT",
        "IST",
        "JST",
        "AEST",
        "AEDT",
    }
)
#: All-capital names kept as they are: acronyms are written so ("NATO", "FBI", "US"). A
#: capitalised word of this many letters or fewer passes; "LONDON" or "WASHINGTON" does not.
MAX_ACRONYM = 5
#: Among them, places are kept only up to this length ("US", "UK", "UAE"); "JAPAN", "PARIS"
#: and "CHINA" are datelines.
MAX_PLACE_ACRONYM = 3
_LETTERS = re.compile(r"[^\W\d_]+")
#: What separates words besides spaces: "China–Russia", "Rolls-Royce".
_DASHES = re.compile(r"[-\u2010-\u2015/]")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Something a reader may follow or mute, as a suggestion shows it."""

    #: What following it takes: ``/interests`` kind and value.
    kind: InterestKind
    value: str
    label: str
    #: The entity's type (PERSON, ORG, …) or the topic's kind (taxonomy, section, relation).
    type: str | None
    #: Articles about it (None for a source, which is not counted here).
    articles: int | None
    #: A short line under the name ("Person · 12 articles").
    detail: str


def presentable(entity: Entity) -> bool:
    """Whether a reader would recognise this entity's name as something to follow: not a
    dateline or a shouted fragment in capitals, not a title taken for a person, not a lone
    letter or number. Pure."""
    name = " ".join(entity.name.split())
    words = _LETTERS.findall(name)
    if not words or sum(c.isalnum() for c in name) < 2:
        return False
    if any(c.isdigit() for c in name) and entity.type in ("PERSON", "PLACE"):
        return False
    # A name is written with a capital ("navy", "the court" are words taken for names), and a
    # time zone is the end of a dateline ("10: 39 GMT"), not an organisation.
    if not any(c.isupper() for c in name) and any(c.islower() for c in name):
        return False
    if name.upper() in TIME_ZONES:
        return False
    if all(w.isupper() for w in words) and any(len(w) > 1 for w in words):
        if len(words) > 1:
            return False
        limit = MAX_PLACE_ACRONYM if entity.type == "PLACE" else MAX_ACRONYM
        if entity.type == "PERSON" or len(words[0]) > limit:
            return False
    if entity.type == "PERSON":
        folded = [w.casefold() for w in words]
        if folded[0] in TITLE_WORDS or all(w in TITLE_WORDS for w in folded):
            return False
    return True


def well_covered(entity: Entity, *, min_articles: int = MIN_ONBOARDING_ARTICLES) -> bool:
    """Whether a new reader should be offered the entity: there is enough news about it to
    follow from the first day, and its name is one a reader knows. A person is offered by a
    full name: a single word named as a person is mostly a surname whose articles are still
    being linked to the full name ("Xi" beside "Xi Jinping"), or a word taken for one
    ("State" of "Secretary of State"). Pure."""
    if entity.article_count < min_articles or not presentable(entity):
        return False
    if _fold(entity.name).rstrip(".") in NEWS_AGENCIES:
        return False
    return entity.type != "PERSON" or len(_LETTERS.findall(entity.name)) >= 2


def onboarding_entities(
    entities: Iterable[Entity], *, limit: int, min_articles: int = MIN_ONBOARDING_ARTICLES
) -> list[Entity]:
    """The first ``limit`` of ``entities`` (most covered first, as storage lists them) worth
    offering a new reader (:func:`well_covered`). On a young instance where fewer than
    ``limit`` reach ``min_articles``, names in two articles or more make up the list: a name
    seen once is never offered. Pure."""
    candidates = list(entities)
    chosen = [e for e in candidates if well_covered(e, min_articles=min_articles)]
    if len(chosen) < limit:
        chosen += [
            e
            for e in candidates
            if e not in chosen and well_covered(e, min_articles=min(2, min_articles))
        ]
    return chosen[:limit]


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def match_rank(query: str, names: Sequence[str]) -> int | None:
    """How well ``query`` matches one of ``names`` as typed so far: 0 for a whole name, 1
    for the start of a name, 2 for the start of a later word, None for no match (a query
    inside a word, "xi" in "Mexico", is no match). Case and accents do not count. Pure."""
    wanted = _fold(query)
    if not wanted:
        return None
    best: int | None = None
    for name in names:
        folded = _fold(name)
        if folded == wanted:
            return 0
        if folded.startswith(wanted):
            best = 1
        elif best is None and (" " + wanted) in (" " + _DASHES.sub(" ", folded)):
            best = 2
    return best


def articles_text(count: int) -> str:
    return f"{count} article{'' if count == 1 else 's'}"


def entity_suggestion(entity: Entity) -> Suggestion:
    kind = ENTITY_TYPES.get(entity.type, entity.type.title())
    return Suggestion(
        kind=InterestKind.ENTITY,
        value=str(entity.id),
        label=entity.name,
        type=entity.type,
        articles=entity.article_count,
        detail=f"{kind} · {articles_text(entity.article_count)}",
    )


def topic_suggestion(tag: TopicTag, count: int) -> Suggestion:
    return Suggestion(
        kind=InterestKind.TOPIC,
        value=tag.id,
        label=tag.label,
        type=tag.kind.value,
        articles=count,
        detail=f"{TOPIC_KINDS.get(tag.kind, 'Topic')} · {articles_text(count)}",
    )


def source_suggestion(source: Source) -> Suggestion:
    return Suggestion(
        kind=InterestKind.SOURCE,
        value=str(source.id),
        label=source.title or source.url,
        type=None,
        articles=None,
        detail="Source · " + (_host(source.site or source.url) or "feed"),
    )


def _host(url: str) -> str:
    text = url.split("://", 1)[-1]
    return text.split("/", 1)[0].removeprefix("www.")


def suggest(
    query: str,
    *,
    entities: Iterable[Entity] = (),
    topics: Iterable[tuple[TopicTag, int]] = (),
    sources: Iterable[Source] = (),
    limit: int = SUGGESTIONS,
) -> list[Suggestion]:
    """What to suggest for ``query`` among these candidates: those whose name (or an
    entity's other names) starts with it or has a word starting with it, whole names first,
    then by how much news there is about them; sources last among equals. Entities a reader
    would not recognise (:func:`presentable`) are left out. Pure."""
    ranked: list[tuple[tuple[int, int, int, str], Suggestion]] = []
    for entity in entities:
        rank = match_rank(query, [entity.name])
        alias = match_rank(query, entity.aliases)
        if rank is None and alias is not None:
            rank = alias + 1  # found by another name: after those found by their own
        if rank is None or not presentable(entity):
            continue
        ranked.append(((rank, 0, -entity.article_count, entity.name), entity_suggestion(entity)))
    for tag, count in topics:
        rank = match_rank(query, [tag.label])
        if rank is None:
            continue
        ranked.append(((rank, 0, -count, tag.label), topic_suggestion(tag, count)))
    for source in sources:
        rank = match_rank(query, [source.title or "", _host(source.site or source.url)])
        if rank is None:
            continue
        ranked.append(((rank, 1, 0, source.title or source.url), source_suggestion(source)))
    ranked.sort(key=lambda r: r[0])
    seen: set[tuple[InterestKind, str]] = set()
    out: list[Suggestion] = []
    for _, s in ranked:
        if (s.kind, s.value) in seen:
            continue
        seen.add((s.kind, s.value))
        out.append(s)
        if len(out) >= limit:
            break
    return out
