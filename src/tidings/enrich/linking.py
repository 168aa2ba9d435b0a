"""How an entity named in a new article is matched to the entities already stored.

Pure rules; :class:`tidings.store.sql.SQLStorage` runs the lookups they need. Within one
article, enrichment has already grouped "Xi", "Xi Jinping" and "Chinese President Xi
Jinping" into one record named by its fullest form. Across articles:

1. A record whose *name* is a known key of a stored entity of the same type is that entity.
   Keys are the normalised names and aliases an entity has been given, so an article that
   only says "Xi" finds "Xi Jinping" once any article has used both.
2. Otherwise, a stored entity whose *name* is one of the record's aliases, and whose words
   all appear in the record's name, is the same entity seen first in a shorter form: it is
   adopted and renamed to the fuller name ("Xi" becomes "Xi Jinping").
3. Otherwise the record is a new entity.

Only the record's own name is looked up in rule 1, never its aliases: an article that says
"Jane Smith … Smith" must not be joined to a stored "John Smith" through "smith".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: At most this many aliases are kept on an entity (the first ones seen): a name used in
#: thousands of articles collects spelling variants without end.
MAX_ALIASES = 20

_NON_WORD = re.compile(r"[^\w]+")


def entity_key(name: str) -> str:
    """The normalised form names are matched by: case, accents, dots, punctuation and a
    leading "the" do not matter ("U.S." and "US", "the Kremlin" and "Kremlin")."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace(".", "")
    text = _NON_WORD.sub(" ", text).strip()
    if text.startswith("the "):
        text = text[4:]
    return text


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored entity a lookup returned."""

    id: int
    name: str
    type: str
    article_count: int


def choose(
    name: str,
    type_: str,
    aliases: Sequence[str],
    by_name: Iterable[Candidate],
    by_alias: Iterable[Candidate],
) -> tuple[Candidate | None, bool]:
    """The stored entity a record is, and whether to rename it to the record's name.

    ``by_name`` are the stored entities with ``entity_key(name)`` among their keys;
    ``by_alias`` those whose own name's key is the key of one of ``aliases``.
    """
    same = [c for c in by_name if c.type == type_]
    if same:
        # An ambiguous short form ("Smith") goes to the entity most often named.
        return max(same, key=lambda c: (c.article_count, -c.id)), False
    words = set(entity_key(name).split())
    alias_keys = {entity_key(a) for a in aliases}
    shorter = [
        c
        for c in by_alias
        if c.type == type_
        and entity_key(c.name) in alias_keys
        and set(entity_key(c.name).split()) <= words
    ]
    if shorter:
        return max(shorter, key=lambda c: (c.article_count, -c.id)), True
    return None, False


def merged_aliases(name: str, current: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
    """``current`` then the unseen ones of ``new``, never the name itself, by key."""
    seen = {entity_key(name)}
    out: list[str] = []
    for alias in (*current, *new):
        key = entity_key(alias)
        if key and key not in seen and len(out) < MAX_ALIASES:
            seen.add(key)
            out.append(alias)
    return tuple(out)
