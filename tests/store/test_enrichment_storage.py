"""Storage of analyses: entities across articles, topics, quotes, stories, duplicates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.enrich.linking import EntityRules
from tidings.errors import ArticleNotFoundError, EntityNotFoundError, StoryNotFoundError
from tidings.store.sql import SQLStorage
from tidings.types import (
    ArticleDraft,
    Enrichment,
    EnrichmentStatus,
    FoundEntity,
    FoundQuote,
    StoryChange,
    TopicKind,
    TopicTag,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
#: The matching rules enrichment passes to storage.
RULES = EntityRules()
XI = FoundEntity(
    name="Xi Jinping",
    type="PERSON",
    aliases=("Xi", "Chinese President Xi Jinping"),
    description="Chinese President",
    mentions=3,
    first_offset=10,
)
POLITICS = TopicTag(id="medtop:11000000", label="politics", confidence=0.8)
RELATION = TopicTag(
    id="relation:china-russia", label="China–Russia relations", kind=TopicKind.RELATION
)


def stored_articles(
    storage: SQLStorage, n: int, *, source_url: str = "https://a.example/feed"
) -> list[int]:
    source = storage.add_source(source_url, added=T0)
    drafts = [
        ArticleDraft(
            guid=f"{source_url}-{i}",
            title=f"Headline {i}",
            body=f"Body of article {i}.",
            published=T0 + timedelta(hours=i),
        )
        for i in range(n)
    ]
    storage.upsert_articles(source.id, drafts, fetched_at=T0)
    found = storage.find_articles(source.id, guids=[d.guid for d in drafts if d.guid])
    return sorted(a.id for a in found)


def enrichment(storage: SQLStorage, article_id: int, **changes: object) -> Enrichment:
    article = storage.get_article(article_id)
    base = Enrichment(article_id=article_id, content_hash=article.content_hash, language="en")
    return replace(base, **changes)


def test_pending_articles_are_those_without_a_current_analysis(storage: SQLStorage) -> None:
    a, b, c = stored_articles(storage, 3)
    assert [x.id for x in storage.articles_to_enrich(limit=10)] == [a, b, c]
    assert storage.count_to_enrich() == 3
    storage.save_enrichments([enrichment(storage, a)], enriched_at=T0, matcher=RULES)
    assert [x.id for x in storage.articles_to_enrich(limit=10)] == [b, c]
    assert [x.id for x in storage.articles_to_enrich(limit=10, after_id=b)] == [c]
    assert storage.count_to_enrich(everything=True) == 3
    # A changed article is pending again.
    source_id = storage.get_article(a).source_id
    changed = ArticleDraft(guid="https://a.example/feed-0", title="Headline 0", body="New text.")
    storage.upsert_articles(source_id, [changed], fetched_at=T0 + timedelta(days=1))
    assert a in [x.id for x in storage.articles_to_enrich(limit=10)]


def test_short_forms_in_later_articles_join_the_entity(storage: SQLStorage) -> None:
    a, b, c = stored_articles(storage, 3)
    names = storage.save_enrichments(
        [
            enrichment(storage, a, entities=(XI,)),
            enrichment(storage, b, entities=(FoundEntity(name="Xi", type="PERSON"),)),
        ],
        enriched_at=T0,
        matcher=RULES,
    )
    assert names[a]["Xi Jinping"] == names[b]["Xi"]
    xi = storage.get_entity("chinese president xi jinping")
    assert xi.name == "Xi Jinping"
    assert xi.article_count == 2
    assert xi.description == "Chinese President"
    assert xi.first_seen == T0 and xi.last_seen == T0 + timedelta(hours=1)
    # The same name as an organisation is another entity.
    storage.save_enrichments(
        [enrichment(storage, c, entities=(FoundEntity(name="Xi", type="ORG"),))],
        enriched_at=T0,
        matcher=RULES,
    )
    assert storage.get_entity(xi.id).article_count == 2
    assert {e.type for e in storage.list_entities(query="xi")} == {"PERSON", "ORG"}


def test_a_short_form_seen_first_is_renamed_to_the_full_name(storage: SQLStorage) -> None:
    a, b = stored_articles(storage, 2)
    first = storage.save_enrichments(
        [enrichment(storage, a, entities=(FoundEntity(name="Xi", type="PERSON"),))],
        enriched_at=T0,
        matcher=RULES,
    )
    second = storage.save_enrichments(
        [enrichment(storage, b, entities=(XI,))], enriched_at=T0, matcher=RULES
    )
    assert first[a]["Xi"] == second[b]["Xi Jinping"]
    entity = storage.get_entity(first[a]["Xi"])
    assert entity.name == "Xi Jinping"
    assert entity.article_count == 2


def test_a_shared_surname_does_not_join_two_people(storage: SQLStorage) -> None:
    a, b = stored_articles(storage, 2)
    john = FoundEntity(name="John Smith", type="PERSON", aliases=("Smith",))
    jane = FoundEntity(name="Jane Smith", type="PERSON", aliases=("Smith",))
    ids = storage.save_enrichments(
        [enrichment(storage, a, entities=(john,)), enrichment(storage, b, entities=(jane,))],
        enriched_at=T0,
        matcher=RULES,
    )
    assert ids[a]["John Smith"] != ids[b]["Jane Smith"]


def test_analysing_again_replaces_the_old_analysis(storage: SQLStorage) -> None:
    (a,) = stored_articles(storage, 1)
    storage.save_enrichments(
        [
            enrichment(
                storage,
                a,
                entities=(XI,),
                topics=(POLITICS, RELATION),
                quotes=(
                    FoundQuote(text="We are friends.", speaker="Xi", entity_name="Xi Jinping"),
                ),
            )
        ],
        enriched_at=T0,
        matcher=RULES,
    )
    insight = storage.article_insight(a)
    assert insight is not None
    assert [e.entity.name for e in insight.entities] == ["Xi Jinping"]
    assert insight.entities[0].mentions == 3
    assert {t.id for t in insight.topics} == {POLITICS.id, RELATION.id}
    assert insight.topics[0].confidence >= insight.topics[-1].confidence
    [quote] = insight.quotes
    assert quote.entity_name == "Xi Jinping" and quote.speaker == "Xi"

    putin = FoundEntity(name="Vladimir Putin", type="PERSON")
    storage.save_enrichments(
        [enrichment(storage, a, entities=(putin,))], enriched_at=T0, matcher=RULES
    )
    insight = storage.article_insight(a)
    assert insight is not None
    assert [e.entity.name for e in insight.entities] == ["Vladimir Putin"]
    assert insight.topics == () and insight.quotes == ()
    # Xi is named in no article any more: gone from listings, still readable by id.
    assert [e.name for e in storage.list_entities()] == ["Vladimir Putin"]
    assert storage.get_entity("Xi Jinping").article_count == 0


def test_skipped_articles_keep_their_reason(storage: SQLStorage) -> None:
    (a,) = stored_articles(storage, 1)
    assert storage.article_insight(a) is None
    skipped = enrichment(storage, a, status=EnrichmentStatus.SKIPPED, note="not English (de)")
    storage.save_enrichments([skipped], enriched_at=T0, matcher=RULES)
    insight = storage.article_insight(a)
    assert insight is not None
    assert insight.status is EnrichmentStatus.SKIPPED and insight.note == "not English (de)"
    assert storage.count_to_enrich() == 0
    with pytest.raises(ArticleNotFoundError):
        storage.article_insight(a + 100)


def vector_bytes(seed: int) -> bytes:
    return np.random.default_rng(seed).standard_normal(384).astype(np.float32).tobytes()


def test_stories_are_created_grown_and_merged(storage: SQLStorage) -> None:
    a, b, c = stored_articles(storage, 3)
    (d,) = stored_articles(storage, 1, source_url="https://b.example/feed")
    storage.save_enrichments(
        [enrichment(storage, x) for x in (a, b, c, d)], enriched_at=T0, matcher=RULES
    )
    ids = storage.save_stories(
        [
            StoryChange(
                id=None,
                total=vector_bytes(1),
                names=(("7", 2),),
                article_count=2,
                first_seen=T0,
                last_seen=T0 + timedelta(hours=1),
                headline="Headline 0",
                representative_id=a,
                new_members=(a, b),
            ),
            StoryChange(
                id=None,
                total=vector_bytes(2),
                names=(),
                article_count=1,
                first_seen=T0 + timedelta(hours=2),
                last_seen=T0 + timedelta(hours=2),
                headline="Headline 2",
                representative_id=c,
                new_members=(c,),
            ),
        ]
    )
    first, second = ids[0], ids[1]
    assert storage.stories_of([a, b, c, d]) == {a: first, b: first, c: second}
    story = storage.get_story(first)
    assert (story.article_count, story.source_count, story.headline) == (2, 1, "Headline 0")
    [state] = [s for s in storage.open_stories(T0) if s.id == first]
    assert state.names == (("7", 2),)
    assert np.frombuffer(state.total, dtype=np.float32).shape == (384,)
    assert state.representative_id == a

    # The second story and a new article from another source join the first.
    storage.save_stories(
        [
            StoryChange(
                id=first,
                total=vector_bytes(3),
                names=(("7", 3),),
                article_count=4,
                first_seen=T0,
                last_seen=T0 + timedelta(hours=3),
                headline="Headline 0",
                representative_id=a,
                new_members=(d,),
                absorbed=(second,),
            )
        ]
    )
    story = storage.get_story(first)
    assert (story.article_count, story.source_count) == (4, 2)
    assert story.recent_count == 4
    assert sorted(x.id for x in storage.story_articles(first)) == [a, b, c, d]
    with pytest.raises(StoryNotFoundError):
        storage.get_story(second)
    assert [s.id for s in storage.list_stories()] == [first]
    insight = storage.article_insight(d)
    assert insight is not None and insight.story is not None and insight.story.id == first


def test_duplicates_are_linked_both_ways(storage: SQLStorage) -> None:
    a, b, c = stored_articles(storage, 3)
    storage.save_enrichments(
        [
            enrichment(storage, a, signature=b"sig-a", vector=b"v"),
            enrichment(storage, b, signature=b"sig-b", duplicate_of=a),
            enrichment(storage, c, signature=b"sig-c", duplicate_of=a),
        ],
        enriched_at=T0,
        matcher=RULES,
    )
    for article_id, others in ((a, (b, c)), (b, (a, c)), (c, (a, b))):
        insight = storage.article_insight(article_id)
        assert insight is not None and insight.duplicates == others
    recent = storage.recent_signatures(T0 - timedelta(days=1))
    assert [(r[0], r[3]) for r in recent] == [(a, None), (b, a), (c, a)]
    assert storage.article_vector(a) == b"v"


def test_entity_pages_and_topics(storage: SQLStorage) -> None:
    a, b = stored_articles(storage, 2)
    storage.save_enrichments(
        [
            enrichment(storage, a, entities=(XI,), topics=(POLITICS,)),
            enrichment(
                storage,
                b,
                entities=(XI,),
                topics=(POLITICS, RELATION),
                quotes=(FoundQuote(text="Friends.", entity_name="Xi Jinping"),),
            ),
        ],
        enriched_at=T0,
        matcher=RULES,
    )
    xi = storage.get_entity("Xi")
    assert [x.id for x in storage.entity_articles(xi.id)] == [b, a]
    assert [q.text for q in storage.entity_quotes(xi.id)] == ["Friends."]
    counts = {t.id: n for t, n in storage.list_topics()}
    assert counts == {POLITICS.id: 2, RELATION.id: 1}
    assert [t.id for t, _ in storage.list_topics(kind=TopicKind.RELATION)] == [RELATION.id]
    found = storage.find_topic("China–Russia RELATIONS")
    assert found is not None and (found.id, found.kind) == (RELATION.id, TopicKind.RELATION)
    assert storage.find_topic(POLITICS.id.upper()) is not None
    assert storage.find_topic("underwater basket weaving") is None
    with pytest.raises(EntityNotFoundError):
        storage.get_entity("Nobody Atall")
    assert storage.list_entities(type="place") == []


def test_removing_a_source_removes_its_analyses(storage: SQLStorage) -> None:
    (a,) = stored_articles(storage, 1)
    storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,))], enriched_at=T0, matcher=RULES
    )
    storage.remove_source(storage.get_article(a).source_id)
    assert storage.count_to_enrich(everything=True) == 0
    assert storage.recent_signatures(T0 - timedelta(days=1)) == []
    assert storage.article_vectors() == []


def test_topic_pages_and_ranking_facts(storage: SQLStorage) -> None:
    ids = stored_articles(storage, 6)
    (other,) = stored_articles(storage, 1, source_url="https://b.example/feed")
    names = storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,) if a == ids[0] else ()) for a in ids]
        + [enrichment(storage, other, topics=(RELATION,))],
        enriched_at=T0,
        matcher=RULES,
    )
    xi = names[ids[0]]["Xi Jinping"]
    [story] = storage.save_stories(
        [
            StoryChange(
                id=None,
                total=vector_bytes(1),
                names=(),
                article_count=1,
                first_seen=T0,
                last_seen=T0 + timedelta(hours=1),
                headline="Headline 1",
                representative_id=ids[1],
                new_members=(ids[1],),
            )
        ]
    ).values()
    assert [a.id for a in storage.topic_articles(RELATION.id)] == [other]
    assert storage.topic_articles("medtop:nothing") == []
    facts = {f.article_id: f for f in storage.rank_facts(limit=0, article_ids=[ids[0], ids[1]])}
    assert [e[:2] for e in facts[ids[0]].entities] == [(xi, "Xi Jinping")]
    assert facts[ids[1]].story_id == story and facts[ids[1]].story_recent == 1


def test_readers_follow_a_story_through_its_splits_and_merges(storage: SQLStorage) -> None:
    from tidings.types import Interest, InterestKind, Stance

    ids = stored_articles(storage, 4)
    storage.save_enrichments([enrichment(storage, a) for a in ids], enriched_at=T0, matcher=RULES)

    def story(members: tuple[int, ...], **changes: object) -> StoryChange:
        base = StoryChange(
            id=None,
            total=vector_bytes(1),
            names=(),
            article_count=len(members),
            first_seen=T0,
            last_seen=T0,
            headline="Headline",
            representative_id=members[0],
            new_members=members,
        )
        return replace(base, **changes)

    [first] = storage.save_stories([story((ids[0], ids[1]))]).values()
    ana = storage.add_reader("ana", created=T0)
    bo = storage.add_reader("bo", created=T0)
    storage.set_interest(ana.id, Interest(kind=InterestKind.STORY, value=str(first)), created=T0)
    mute = Interest(kind=InterestKind.STORY, value=str(first), stance=Stance.MUTE)
    storage.set_interest(bo.id, mute, created=T0)
    # A part splits off: whoever followed or muted the story does the same for the part.
    [part] = storage.save_stories([story((ids[1],), split_from=first)]).values()

    def stances(reader_id: int) -> dict[str, str]:
        return {
            i.value: i.stance.value
            for i in storage.list_interests(reader_id)
            if i.kind is InterestKind.STORY
        }

    assert stances(ana.id) == {str(first): "follow", str(part): "follow"}
    assert stances(bo.id) == {str(first): "mute", str(part): "mute"}
    # Another story merges into the part: its followers now follow the part.
    [other] = storage.save_stories([story((ids[2], ids[3]))]).values()
    cy = storage.add_reader("cy", created=T0)
    storage.set_interest(cy.id, Interest(kind=InterestKind.STORY, value=str(other)), created=T0)
    storage.save_stories([story((ids[1],), id=part, absorbed=(other,))])
    assert stances(cy.id) == {str(part): "follow"}
    assert stances(ana.id) == {str(first): "follow", str(part): "follow"}


def test_a_storys_members_are_read_back_in_bulk(storage: SQLStorage) -> None:
    ids = stored_articles(storage, 3)
    vector = vector_bytes(2)
    names = storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,), vector=vector) for a in ids],
        enriched_at=T0,
        matcher=RULES,
    )
    xi = names[ids[0]]["Xi Jinping"]
    [story] = storage.save_stories(
        [
            StoryChange(
                id=None,
                total=vector_bytes(1),
                names=(),
                article_count=3,
                first_seen=T0,
                last_seen=T0,
                headline="Headline",
                representative_id=ids[0],
                new_members=tuple(ids),
            )
        ]
    ).values()
    found = storage.story_members([story, 999], limit=2)
    assert list(found) == [story]
    # The newest two, with their vectors and entities.
    assert [m.article.id for m in found[story]] == [ids[2], ids[1]]
    # Their entities' kinds and names too: the clusterer finds whom each is about.
    assert all(
        m.vector == vector and m.entities == ((xi, 3, 10, "PERSON", "Xi Jinping"),)
        for m in found[story]
    )
