"""Which new entries go first in the analysis queue: those naming something a reader follows.

A reader who follows an entity wants its news first, but an entry's entities are known only
once it is analysed. Its headline and summary are a good enough guide: an entry goes ahead
when any run of up to :data:`LONGEST_NAME` words in them, normalised like stored entity
names (:func:`tidings.store.base.entity_key`), is a name or alias of a followed entity. Pure.
A false match costs only a place in the queue; a missed one, the wait of the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidings.store.base import entity_key
from tidings.types import ArticleDraft

#: Longest name looked for, in words: "International Monetary Fund", "Xi Jinping" and
#: "Democratic Republic of the Congo" (5) are all names of entities; 5 covers nearly every
#: entity name in the shared entity-linking set while keeping the runs per headline few.
LONGEST_NAME = 5
#: Characters of headline and summary looked at: what a reader sees of an entry.
LOOKED_AT = 600


def names_followed(draft: ArticleDraft, followed: frozenset[str]) -> bool:
    """Whether the entry's headline or summary names one of ``followed`` (entity keys)."""
    if not followed:
        return False
    text = " ".join(part for part in (draft.title, draft.summary) if part)[:LOOKED_AT]
    words = entity_key(text).split()
    return any(run in followed for run in _runs(words))


def _runs(words: list[str]) -> Iterable[str]:
    for start in range(len(words)):
        for end in range(start + 1, min(start + LONGEST_NAME, len(words)) + 1):
            yield " ".join(words[start:end])
