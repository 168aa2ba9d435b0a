"""How an entity named in a new article is matched to the entities already stored.

Pure rules, no I/O: :class:`EntityRules` is the
:class:`~tidings.store.base.EntityMatcher` that the enrichment stage hands to
:meth:`~tidings.store.base.EnrichmentStorage.save_enrichments`, which runs the lookups the
rules need and the writes they decide, in the transaction that stores the analyses. Names
are compared by :func:`tidings.store.base.entity_key`, the normal form storage keeps them
in. Within one article, enrichment has already grouped "Xi", "Xi Jinping" and "Chinese
President Xi Jinping" into one record named by its fullest form. Across articles:

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

from collections.abc import Iterable, Sequence

from tidings.store.base import EntityCandidate, entity_key
from tidings.types import FoundEntity

#: At most this many aliases are kept on an entity (the first ones seen): a name used in
#: thousands of articles collects spelling variants without end.
MAX_ALIASES = 20


class EntityRules:
    """The rules above, as the :class:`~tidings.store.base.EntityMatcher` storage asks."""

    def choose(
        self,
        found: FoundEntity,
        by_name: Sequence[EntityCandidate],
        by_alias: Sequence[EntityCandidate],
    ) -> tuple[EntityCandidate | None, bool]:
        """The stored entity ``found`` is, and whether to rename it to ``found.name``.

        ``by_name`` are the stored entities with ``entity_key(found.name)`` among their
        keys; ``by_alias`` those with the key of one of ``found.aliases`` among theirs.
        """
        same = [c for c in by_name if c.type == found.type]
        if same:
            # An ambiguous short form ("Smith") goes to the entity most often named.
            return max(same, key=lambda c: (c.article_count, -c.id)), False
        words = set(entity_key(found.name).split())
        alias_keys = {entity_key(a) for a in found.aliases}
        shorter = [
            c
            for c in by_alias
            if c.type == found.type
            and entity_key(c.name) in alias_keys
            and set(entity_key(c.name).split()) <= words
        ]
        if shorter:
            return max(shorter, key=lambda c: (c.article_count, -c.id)), True
        return None, False

    def aliases(self, name: str, current: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
        """``current`` then the unseen ones of ``new``, never the name itself, by key; at
        most :data:`MAX_ALIASES`."""
        seen = {entity_key(name)}
        out: list[str] = []
        for alias in (*current, *new):
            key = entity_key(alias)
            if key and key not in seen and len(out) < MAX_ALIASES:
                seen.add(key)
                out.append(alias)
        return tuple(out)
