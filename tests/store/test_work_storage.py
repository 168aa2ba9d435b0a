"""Sharing work through the database (``store/sql/work.py``): leases on sources, articles and
digests, the analysis queue's order, and the analysis lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

from tidings.store.sql import SQLStorage, open_storage
from tidings.types import (
    ArticleDraft,
    DigestFrequency,
    Interest,
    InterestKind,
    Stance,
)

from .test_enrichment_storage import RULES, T0, XI, enrichment, stored_articles

LEASE = timedelta(minutes=5)


def follow(storage: SQLStorage, kind: InterestKind, value: str) -> None:
    reader = storage.add_reader(f"r{time.monotonic_ns()}", created=T0)
    storage.set_interest(
        reader.id, Interest(kind=kind, value=value, stance=Stance.FOLLOW), created=T0
    )


def test_a_due_source_is_leased_to_one_worker_until_its_lease_runs_out(
    storage: SQLStorage,
) -> None:
    a = storage.add_source("https://a.example/feed", added=T0)
    b = storage.add_source("https://b.example/feed", added=T0)
    follow(storage, InterestKind.SOURCE, str(b.id))
    first = storage.claim_sources("w1", now=T0, until=T0 + LEASE, limit=1)
    assert [s.id for s in first] == [b.id]  # followed sources first
    assert [s.id for s in storage.claim_sources("w2", now=T0, until=T0 + LEASE)] == [a.id]
    assert storage.claim_sources("w3", now=T0, until=T0 + LEASE) == []
    # w2 reads a: not due again until its next poll, and released.
    storage.update_source(replace(storage.get_source(a.id), next_poll=T0 + timedelta(hours=1)))
    storage.release_sources("w2", [a.id])
    assert storage.claim_sources("w3", now=T0, until=T0 + LEASE) == []
    # w1 dies holding b: once the lease runs out, another worker takes it over.
    later = T0 + LEASE + timedelta(seconds=1)
    assert [s.id for s in storage.claim_sources("w3", now=later, until=later + LEASE)] == [b.id]
    # Asked for by id (ingest --all), a source is taken due or not, unless someone holds it.
    named = storage.claim_sources("w4", now=later, until=later + LEASE, ids=[a.id, b.id])
    assert [s.id for s in named] == [a.id]


def test_sources_with_the_most_followers_are_claimed_and_read_first(
    storage: SQLStorage,
) -> None:
    a, b, c = (storage.add_source(f"https://{n}.example/feed", added=T0) for n in "abc")
    follow(storage, InterestKind.SOURCE, str(b.id))
    for _ in range(2):
        follow(storage, InterestKind.SOURCE, str(c.id))
    # In that order too: the caller reads them in the order given.
    claimed = storage.claim_sources("w1", now=T0, until=T0 + LEASE)
    assert [s.id for s in claimed] == [c.id, b.id, a.id]
    storage.release_sources("w1", [a.id, b.id, c.id])
    assert [s.id for s in storage.claim_sources("w2", now=T0, until=T0 + LEASE, limit=1)] == [c.id]


def test_following_a_source_puts_its_waiting_articles_first(storage: SQLStorage) -> None:
    old, new = stored_articles(storage, 2)
    (waiting,) = stored_articles(storage, 1, source_url="https://f.example/feed")
    claims = storage.claim_analysis("w1", now=T0, until=T0 + LEASE, limit=10)
    assert [c.article.id for c in claims] == [new, old, waiting]  # newest first
    storage.release_analysis("w1", [c.article.id for c in claims])
    # Stored before anyone followed its source; followed now, it goes first.
    follow(storage, InterestKind.SOURCE, str(storage.get_article(waiting).source_id))
    claims = storage.claim_analysis("w1", now=T0, until=T0 + LEASE, limit=10)
    assert [c.article.id for c in claims] == [waiting, new, old]
    assert [c.followed for c in claims] == [True, False, False]


def test_concurrent_claims_never_share_a_source(database_url: str) -> None:
    with open_storage(database_url) as storage:
        for n in range(60):
            storage.add_source(f"https://{n}.example/feed", added=T0)
    got: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        with open_storage(database_url) as mine:
            start.wait()
            taken: list[int] = []
            while claimed := mine.claim_sources(name, now=T0, until=T0 + LEASE, limit=3):
                taken.extend(s.id for s in claimed)
            got[name] = taken

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for taken in got.values() for i in taken]
    assert len(every) == len(set(every)) == 60


def test_the_queue_gives_first_analyses_then_followed_then_newest(storage: SQLStorage) -> None:
    old, mid, new = stored_articles(storage, 3)  # published an hour apart
    (followed,) = stored_articles(storage, 1, source_url="https://f.example/feed")
    follow(storage, InterestKind.SOURCE, str(storage.get_article(followed).source_id))
    # A later version of a followed source's article: first in line.
    source = storage.get_source("https://f.example/feed")
    storage.upsert_articles(
        source.id,
        [ArticleDraft(guid="https://f.example/feed-0", title="Headline 0", body="Changed.")],
        fetched_at=T0,
    )
    assert storage.analysis_backlog() == (4, 0)
    claims = storage.claim_analysis("w1", now=T0, until=T0 + LEASE, limit=10)
    assert [c.article.id for c in claims] == [followed, new, mid, old]
    assert claims[0].followed and not claims[1].followed and all(c.first for c in claims)
    assert storage.claim_analysis("w2", now=T0, until=T0 + LEASE, limit=10) == []

    # A quick pass leaves them waiting for the full one, behind any first analysis.
    items = [enrichment(storage, c.article.id, vector=b"\x01" * 389) for c in claims]
    saved = storage.save_enrichments(items, enriched_at=T0, matcher=RULES, owner="w1", quick=True)
    assert sorted(saved) == sorted(c.article.id for c in claims)
    storage.finish_analysis("w1", [(i.article_id, i.content_hash) for i in items], quick=True)
    assert storage.analysis_backlog() == (0, 4)
    (brand_new,) = stored_articles(storage, 1, source_url="https://n.example/feed")
    again = storage.claim_analysis("w2", now=T0, until=T0 + LEASE, limit=2)
    assert [c.article.id for c in again] == [brand_new, followed]
    assert again[1].vector == b"\x01" * 389 and not again[1].first  # the quick embedding


def test_a_lease_lost_to_another_worker_stores_nothing(storage: SQLStorage) -> None:
    (a,) = stored_articles(storage, 1)
    [first] = storage.claim_analysis("slow", now=T0, until=T0 + LEASE, limit=1)
    later = T0 + LEASE + timedelta(seconds=1)
    [second] = storage.claim_analysis("quick", now=later, until=later + LEASE, limit=1)
    assert first.article.id == second.article.id == a
    late = storage.save_enrichments(
        [enrichment(storage, a)], enriched_at=later, matcher=RULES, owner="slow"
    )
    assert late == {}
    storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,))], enriched_at=later, matcher=RULES, owner="quick"
    )
    storage.finish_analysis("quick", [(a, first.article.content_hash)], quick=False)
    assert storage.analysis_backlog() == (0, 0)
    insight = storage.article_insight(a)
    assert insight is not None and [e.entity.name for e in insight.entities] == ["Xi Jinping"]


def test_a_version_changed_while_analysed_stays_queued(storage: SQLStorage) -> None:
    (a,) = stored_articles(storage, 1)
    [claim] = storage.claim_analysis("w1", now=T0, until=T0 + LEASE, limit=1)
    source = storage.get_article(a).source_id
    storage.upsert_articles(
        source,
        [ArticleDraft(guid="https://a.example/feed-0", title="Headline 0", body="Corrected.")],
        fetched_at=T0,
    )
    stale = enrichment(storage, a, content_hash=claim.article.content_hash)
    assert storage.save_enrichments([stale], enriched_at=T0, matcher=RULES, owner="w1") == {}
    storage.finish_analysis("w1", [(a, claim.article.content_hash)], quick=False)
    assert storage.analysis_backlog() == (1, 0)  # the new version waits, lease released
    [again] = storage.claim_analysis("w2", now=T0, until=T0 + LEASE, limit=1)
    assert again.article.content_hash != claim.article.content_hash


def test_every_stored_analysis_is_counted(storage: SQLStorage, raw: object) -> None:
    import sqlalchemy as sa

    (a,) = stored_articles(storage, 1)
    for _ in range(2):
        storage.save_enrichments([enrichment(storage, a)], enriched_at=T0, matcher=RULES)
    assert isinstance(raw, sa.Engine)
    with raw.connect() as conn:
        assert conn.execute(sa.text("SELECT analyses FROM enrichments")).scalar_one() == 2
    assert storage.analysis_backlog() == (0, 0)
    assert storage.queue_everything(now=T0) == 1
    assert storage.analysis_backlog() == (0, 1)


def test_followed_entities_are_known_by_every_name(storage: SQLStorage) -> None:
    (a,) = stored_articles(storage, 1)
    names = storage.save_enrichments(
        [enrichment(storage, a, entities=(XI,))], enriched_at=T0, matcher=RULES
    )
    follow(storage, InterestKind.ENTITY, str(names[a]["Xi Jinping"]))
    assert {"xi jinping", "xi"} <= storage.followed_entity_keys()


def test_the_analysis_lock_is_held_by_one_process_at_a_time(database_url: str) -> None:
    inside: list[str] = []
    overlaps: list[str] = []
    start = threading.Barrier(3)

    def worker(name: str) -> None:
        with open_storage(database_url) as storage:
            start.wait()
            for _ in range(3):
                with storage.analysis_lock():
                    if inside:
                        overlaps.append(name)
                    inside.append(name)
                    time.sleep(0.02)
                    inside.remove(name)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_a_digest_is_sent_by_one_worker(storage: SQLStorage) -> None:
    reader = storage.add_reader("ana", created=T0)
    storage.update_account(reader.id, now=T0, email="ana@example.org", digest=DigestFrequency.DAILY)
    assert storage.claim_digest(reader.id, "w1", now=T0, until=T0 + LEASE, last_sent=None)
    assert not storage.claim_digest(reader.id, "w2", now=T0, until=T0 + LEASE, last_sent=None)
    storage.update_account(reader.id, now=T0, digest_last_sent=T0)
    later = T0 + LEASE + timedelta(seconds=1)
    # Sent since it was found due: not taken again, even with the lease run out.
    assert not storage.claim_digest(reader.id, "w2", now=later, until=later + LEASE, last_sent=None)
    assert storage.claim_digest(reader.id, "w2", now=later, until=later + LEASE, last_sent=T0)
    storage.release_digest(reader.id, "w2")
    assert storage.claim_digest(reader.id, "w3", now=later, until=later + LEASE, last_sent=T0)
