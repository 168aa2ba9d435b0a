"""How enrichment feeds the story clusterer: analysed articles in, stories to save out.

:func:`story_item` is the clusterer's view of one analysed article (embedding, lead names,
all names with their mention counts, the numbers and years it quotes, its date and source,
whom it is about, the words of its lead and what its lead counts).
:class:`StoryFiler` files a batch of them under the open stories storage gives back
(:class:`tidings.types.StoryState`) and returns the changes to write
(:class:`tidings.types.StoryChange`). It keeps, for the life of the process, the features
of the articles it filed, so that a story filed earlier in the same process is clustered
again article by article (and can be split); a story from before the process started comes
back as its stored sum and name counts and can grow or merge, not split, until storage hands
back its members too (see the issue 13 notes in the report: ``StoryState.members``).

No I/O: :class:`tidings.enrich.stage.EnrichmentStage` reads and writes around it, and
``tidings eval stories`` runs that stage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np

from tidings.enrich.embed import Vector
from tidings.enrich.pipeline import Analysis, article_text
from tidings.enrich.stories import (
    LEAD_NAME_CHARS,
    PairModel,
    StoryAssignment,
    StoryClusterer,
    StoryItem,
    StoryParams,
    lead_words,
    principals,
    quantities,
    specifics,
)
from tidings.store.embedding import from_bytes
from tidings.types import Article, FoundEntity, StoryChange, StoryState

#: Most members read back per stored story (the latest); the rest of a larger story stand
#: together as one item. Stories that run to more are broad events whose newest coverage is
#: what new articles are compared with.
MEMBERS_READ = 50

#: Features of filed articles kept in memory, at most. A story's members older than the
#: window are not needed (it is closed); 50,000 articles (about 30 MB of features) covers
#: several days of a large installation's intake.
MEMORY = 50_000


def published(article: Article) -> datetime:
    return article.published or article.fetched_at


def stored_item(
    article: Article, vector: Vector, entities: Sequence[tuple[int, int, int, str, str]]
) -> StoryItem:
    """The clusterer's view of a stored article (as :func:`story_item` made it when the
    article was filed): from its stored vector and its entities' ``(id, mentions, first
    offset, kind, name)``. Its principals (:func:`tidings.enrich.stories.principals`) come
    from the stored entities' names, so a member filed by another worker, or before this
    process started, is kept apart by them too."""
    names: dict[str, int] = {}
    lead: set[str] = set()
    for entity_id, mentions, first_offset, _, _ in entities:
        key = str(entity_id)
        names[key] = names.get(key, 0) + mentions
        if first_offset < LEAD_NAME_CHARS:
            lead.add(key)
    text = article_text(article)
    numbers, years = specifics(text)
    return StoryItem(
        id=f"a{article.id}",
        vector=vector,
        entities=frozenset(lead),
        published=published(article),
        title=article.title,
        names=names,
        numbers=numbers,
        years=years,
        source=str(article.source_id),
        principals=principals(
            FoundEntity(name=name, type=kind, mentions=mentions, first_offset=first_offset)
            for _, mentions, first_offset, kind, name in entities
        ),
        lead_words=lead_words(text),
        quantities=quantities(text),
    )


def story_item(
    article: Article, analysis: Analysis, ids: Mapping[str, int | str]
) -> StoryItem | None:
    """The clusterer's view of an analysed article; None when it has no embedding.

    ``ids`` maps the article's entity names to the stored entities they were matched to
    (what :meth:`tidings.store.base.Storage.save_enrichments` returns); names are the ids as
    text, so "Xi" in one article and "Xi Jinping" in another are one name.
    """
    if analysis.vector is None:
        return None
    names: dict[str, int] = {}
    lead: set[str] = set()
    for found in analysis.enrichment.entities:
        if found.name not in ids:
            continue
        key = str(ids[found.name])
        names[key] = names.get(key, 0) + found.mentions
        if found.first_offset < LEAD_NAME_CHARS:
            lead.add(key)
    text = article_text(article)
    numbers, years = specifics(text)
    return StoryItem(
        id=f"a{article.id}",
        vector=analysis.vector,
        entities=frozenset(lead),
        published=published(article),
        title=article.title,
        names=names,
        numbers=numbers,
        years=years,
        source=str(article.source_id),
        principals=principals(analysis.enrichment.entities),
        lead_words=lead_words(text),
        quantities=quantities(text),
    )


class StoryFiler:
    """Files batches of articles under stories, remembering the members it has seen."""

    def __init__(self, params: StoryParams | None = None, model: PairModel | None = None):
        self.params = params or StoryParams()
        self.model = model
        #: Filed articles' features, by item id, oldest first.
        self._members: dict[str, StoryItem] = {}
        #: Item ids of each stored story's members known here, and the other way round.
        self._story_members: dict[int, list[str]] = {}
        self._home: dict[str, int] = {}

    def file(
        self,
        items: Sequence[StoryItem],
        states: Sequence[StoryState],
        frequencies: Mapping[str, int],
        articles: int,
        members: Mapping[int, Sequence[StoryItem]] | None = None,
        load: Callable[[Sequence[int]], Mapping[int, Sequence[StoryItem]]] | None = None,
    ) -> list[StoryChange]:
        """The changes that filing ``items`` makes to the open ``states``.

        ``frequencies`` counts the articles naming each name (as storage counts them, this
        batch included) out of ``articles``. ``members`` (stored story id -> its articles as
        :func:`story_item` makes them), when storage can give them, lets stories from before
        this process be taken apart too; otherwise the members remembered here are used.
        ``load`` (stored story ids -> their members) is asked for the members of the stories
        the batch touches that neither gives: only those, so a new process reads back a few
        stories rather than the whole window.
        """
        given = dict(members or {})
        if load is not None:
            unknown = [s for s in states if s.id not in given and not self._knows(s)]
            if unknown:
                probe = self._clusterer(unknown, given, items, frequencies, articles)
                wanted = sorted(int(sid[1:]) for sid in probe.touched_by(items))
                if wanted:
                    given.update(load(wanted))
        clusterer = self._clusterer(states, given, items, frequencies, articles)
        clusterer.add_all(items)
        for item in items:
            self._members[item.id] = item
        return [self._change(story) for story in clusterer.changed()]

    def _knows(self, state: StoryState) -> bool:
        known = self._story_members.get(state.id, [])
        return sum(1 for m in known if m in self._members) >= state.article_count

    def _clusterer(
        self,
        states: Sequence[StoryState],
        members: Mapping[int, Sequence[StoryItem]],
        items: Sequence[StoryItem],
        frequencies: Mapping[str, int],
        articles: int,
    ) -> StoryClusterer:
        """A clusterer holding ``states`` (with the members known), name statistics set."""
        clusterer = StoryClusterer(self.params, self.model)
        for state in states:
            rep = None
            if state.representative_vector is not None and state.representative_id is not None:
                rep = StoryItem(
                    id=f"a{state.representative_id}",
                    vector=from_bytes(state.representative_vector),
                    entities=frozenset(),
                    published=state.last_seen,
                    title=state.headline,
                )
            known = list(members.get(state.id, ())) or [
                self._members[m]
                for m in self._story_members.get(state.id, [])
                if m in self._members
            ]
            clusterer.restore(
                f"s{state.id}",
                total=np.frombuffer(state.total, dtype=np.float32),
                names=Counter(dict(state.names)),
                article_count=state.article_count,
                first_seen=state.first_seen,
                last_seen=state.last_seen,
                representative=rep,
                members=known,
            )
        # Storage already counts this batch; the clusterer counts each item as it adds it.
        in_batch = Counter(n for i in items for n in set(i.names) | i.entities)
        clusterer.set_frequencies(
            Counter({k: max(v - in_batch[k], 0) for k, v in frequencies.items()}),
            max(articles - len(items), 0),
        )
        return clusterer

    def _change(self, story: StoryAssignment) -> StoryChange:
        total = story.total if story.total is not None else np.zeros(1)
        return StoryChange(
            id=_stored_id(story.story_id),
            total=np.asarray(total, dtype=np.float32).tobytes(),
            names=story.names,
            article_count=story.article_count,
            first_seen=story.first_seen,
            last_seen=story.last_seen,
            headline=story.headline,
            representative_id=int(story.representative[1:]) if story.representative else None,
            new_members=tuple(int(m[1:]) for m in story.members),
            absorbed=tuple(i for s in story.absorbed if (i := _stored_id(s)) is not None),
            split_from=_stored_id(story.split_from) if story.split_from else None,
        )

    def remember(self, changes: Sequence[StoryChange], ids: Mapping[int | None, int]) -> None:
        """Note which stored story each filed article went to (``ids``: position of each
        change in ``changes`` -> its stored id, as ``Storage.save_stories`` returns them)."""
        for position, change in enumerate(changes):
            story_id = ids.get(position)
            if story_id is None:
                continue
            members = self._story_members.setdefault(story_id, [])
            for gone in change.absorbed:
                for key in self._story_members.pop(gone, []):
                    members.append(key)
                    self._home[key] = story_id
            for article_id in change.new_members:
                key = f"a{article_id}"
                before = self._home.get(key)
                if before == story_id:
                    continue
                if before is not None and key in self._story_members.get(before, []):
                    self._story_members[before].remove(key)
                members.append(key)
                self._home[key] = story_id
        while len(self._members) > MEMORY:
            self._forget(next(iter(self._members)))

    def forget_before(self, when: datetime) -> None:
        """Drop remembered articles published before ``when``: their stories are closed."""
        for key in [k for k, v in self._members.items() if v.published < when]:
            self._forget(key)

    def _forget(self, key: str) -> None:
        self._members.pop(key, None)
        story_id = self._home.pop(key, None)
        if story_id is not None:
            members = self._story_members.get(story_id, [])
            if key in members:
                members.remove(key)
            if not members:
                self._story_members.pop(story_id, None)


def _stored_id(story_id: str) -> int | None:
    """The stored id of a story the clusterer restored ("s12" -> 12); None for a new one."""
    if story_id.startswith("s") and story_id[1:].isdigit():
        return int(story_id[1:])
    return None
