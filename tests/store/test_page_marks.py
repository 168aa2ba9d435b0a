"""Every serving process sees the same truth (``follow_marks``): a reader's stamp, which
decides whether their cached page may be served again, moves when something they follow
gets a new article, or when every page is stale (a source removed, new weights), whichever
process wrote it; and stays put for what they do not follow."""

from __future__ import annotations

from datetime import timedelta

from tidings.store.sql import SQLStorage, open_storage
from tidings.types import Interest, InterestKind, Stance, StoryChange

from .test_enrichment_storage import POLITICS, RULES, T0, XI, enrichment, stored_articles


def test_a_followers_stamp_moves_with_news_of_what_they_follow(
    storage: SQLStorage, database_url: str
) -> None:
    (first,) = stored_articles(storage, 1)
    names = storage.save_enrichments(
        [enrichment(storage, first, entities=(XI,))], enriched_at=T0, matcher=RULES
    )
    xi = names[first]["Xi Jinping"]
    readers = {}
    for name, kind, value in (
        ("entity", InterestKind.ENTITY, str(xi)),
        ("topic", InterestKind.TOPIC, POLITICS.id),
        ("source", InterestKind.SOURCE, str(storage.get_article(first).source_id)),
        ("nothing", InterestKind.KEYWORD, "volcano"),
    ):
        reader = storage.add_reader(name, created=T0)
        storage.set_interest(
            reader.id, Interest(kind=kind, value=value, stance=Stance.FOLLOW), created=T0
        )
        readers[name] = reader.id
    before = {n: storage.reader_stamp(r) for n, r in readers.items()}

    # Another serving process's worker analyses news of Xi, then of politics elsewhere.
    with open_storage(database_url) as other:
        (second,) = stored_articles(other, 1, source_url="https://b.example/feed")
        other.save_enrichments(
            [enrichment(other, second, entities=(XI,))], enriched_at=T0, matcher=RULES
        )
        after_xi = {n: storage.reader_stamp(r) for n, r in readers.items()}
        (third,) = stored_articles(other, 1, source_url="https://c.example/feed")
        other.save_enrichments(
            [enrichment(other, third, topics=(POLITICS,))], enriched_at=T0, matcher=RULES
        )
    after_politics = {n: storage.reader_stamp(r) for n, r in readers.items()}
    assert after_xi["entity"] != before["entity"]
    assert after_xi["topic"] == before["topic"] and after_xi["source"] == before["source"]
    assert after_politics["topic"] != after_xi["topic"]
    assert after_politics["entity"] == after_xi["entity"]
    assert after_politics["nothing"] == before["nothing"]

    # A story followed grows; a source removed makes every page stale.
    reader = storage.add_reader("story", created=T0)
    [story] = storage.save_stories(
        [
            StoryChange(
                id=None,
                total=bytes(16),
                names=(),
                article_count=1,
                first_seen=T0,
                last_seen=T0,
                headline="A story",
                representative_id=first,
                new_members=(first,),
            )
        ]
    ).values()
    storage.set_interest(
        reader.id,
        Interest(kind=InterestKind.STORY, value=str(story), stance=Stance.FOLLOW),
        created=T0,
    )
    quiet = storage.reader_stamp(reader.id)
    storage.save_stories(
        [
            StoryChange(
                id=story,
                total=bytes(16),
                names=(),
                article_count=2,
                first_seen=T0,
                last_seen=T0 + timedelta(hours=1),
                headline="A story",
                representative_id=first,
                new_members=(second,),
            )
        ]
    )
    assert storage.reader_stamp(reader.id) != quiet
    unchanged = storage.reader_stamp(readers["nothing"])
    storage.remove_source("https://c.example/feed")
    assert storage.reader_stamp(readers["nothing"]) != unchanged
