"""Page assembly: mutes, story collapse, caps, diversity, exploration, read demotion, paging."""

from __future__ import annotations

import base64
import json
import math
import random
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import tidings.rank.assemble as assemble
from tidings.errors import InvalidCursorError, TidingsError
from tidings.rank.assemble import (
    ALSO_COVERED_MAX,
    Candidate,
    Mutes,
    Page,
    PageCursor,
    PageSettings,
    assemble_page,
    exploration_positions,
)
from tidings.types import Action, ActionVerb, FeedItem, Reason, ReasonKind, TargetKind

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
DIM = 8


def unit(*components: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


def cand(
    article_id: int,
    score: float = 1.0,
    *,
    story_id: int | None = None,
    source_id: int | None = None,
    minutes: int = 0,
    **fields: object,
) -> Candidate:
    """A candidate; each article gets its own source unless told otherwise."""
    c = Candidate(
        article_id=article_id,
        story_id=story_id,
        source_id=article_id if source_id is None else source_id,
        published=(T0 + timedelta(minutes=minutes)).timestamp(),
        score=score,
        title=f"Article {article_id}",
    )
    return replace(c, **fields)  # type: ignore[arg-type]


def ids(page: Page) -> list[int]:
    return [i.article_id for i in page.items]


def all_pages(
    candidates: list[Candidate], settings: PageSettings, mutes: Mutes, *, limit: int = 500
) -> list[Page]:
    pages = [assemble_page(candidates, settings, mutes)]
    while pages[-1].next_cursor is not None:
        pages.append(assemble_page(candidates, settings, mutes, cursor=pages[-1].next_cursor))
        assert len(pages) < limit, "pagination does not end"
    return pages


PLAIN = PageSettings(size=30, per_source_cap=None, diversity=0.0, exploration=0.0)


# --- basics ------------------------------------------------------------------------------


def test_no_candidates_give_an_empty_last_page() -> None:
    page = assemble_page([], PageSettings(), Mutes())
    assert page == Page(items=(), next_cursor=None)
    cursor = PageCursor(
        snapshot=T0, offset=30, shown_articles=frozenset({1}), shown_stories=frozenset()
    )
    assert assemble_page([], PageSettings(), Mutes(), cursor=cursor).items == ()


def test_without_diversity_items_come_by_score_with_ties_by_article_id() -> None:
    page = assemble_page([cand(5, 1.0), cand(3, 2.0), cand(9, 1.0), cand(1, 0.5)], PLAIN, Mutes())
    assert ids(page) == [3, 5, 9, 1]
    assert [i.rank for i in page.items] == [1, 2, 3, 4]
    assert page.next_cursor is None


def test_the_same_candidates_in_any_order_give_the_same_page() -> None:
    rng = random.Random(7)
    candidates = random_candidates(rng, 300)
    first = assemble_page(candidates, PageSettings(), Mutes())
    for _ in range(5):
        rng.shuffle(candidates)
        assert assemble_page(candidates, PageSettings(), Mutes()) == first


@pytest.mark.parametrize(
    "settings",
    [
        {"size": 0},
        {"per_source_cap": 0},
        {"diversity": -0.1},
        {"diversity": 1.5},
        {"exploration": 0.6},
        {"exploration": -0.1},
        {"read_penalty": 1.5},
    ],
)
def test_settings_out_of_range_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PageSettings(**settings)  # type: ignore[arg-type]


def test_scores_must_be_numbers() -> None:
    with pytest.raises(ValueError, match="finite"):
        assemble_page([cand(1, math.nan), cand(2)], PageSettings(), Mutes())


def test_vectors_of_different_lengths_are_refused() -> None:
    candidates = [cand(1, vector=unit(1.0)), cand(2, vector=np.ones(3, dtype=np.float32))]
    with pytest.raises(ValueError, match="one length"):
        assemble_page(candidates, PageSettings(diversity=0.5), Mutes())


# --- mutes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutes", "muted"),
    [
        (Mutes(source_ids=frozenset({102})), {2}),
        (Mutes(story_ids=frozenset({7})), {3, 4}),
        (Mutes(topic_ids=frozenset({"sport"})), {1}),
        (Mutes(entity_ids=frozenset({42})), {2, 5}),
        (Mutes(authors=frozenset({"jane doe"})), {5}),
        (Mutes(keywords=frozenset({"AI"})), {1}),
        (Mutes(keywords=frozenset({"world  cup"})), {6}),
    ],
)
def test_every_kind_of_mute_removes_its_articles(mutes: Mutes, muted: set[int]) -> None:
    candidates = [
        cand(1, 9, source_id=101, topic_ids=("sport", "tech"), title="AI rules the pitch"),
        cand(2, 8, source_id=102, entity_ids=(42, 1)),
        cand(3, 7, source_id=103, story_id=7, title="She said it"),
        cand(4, 6, source_id=104, story_id=7),
        cand(5, 5, source_id=105, entity_ids=(42,), authors=("Jane DOE",)),
        cand(6, 4, source_id=106, title="World-Cup: the final"),
    ]
    page = assemble_page(candidates, PLAIN, mutes)
    assert set(ids(page)) == {1, 2, 3, 5, 6} - muted  # 4 is 3's story, shown through 3


def test_keywords_match_whole_words_only() -> None:
    candidates = [cand(1, title="Said the mayor"), cand(2, title="Sustainable AI."), cand(3)]
    page = assemble_page(candidates, PLAIN, Mutes(keywords=frozenset({"ai", "  "})))
    assert ids(page) == [1, 3]


def test_a_muted_source_is_neither_shown_nor_listed_as_also_covering() -> None:
    candidates = [
        cand(1, 9, story_id=5, source_id=1),
        cand(2, 5, story_id=5, source_id=2),
        cand(3, 4, story_id=5, source_id=3),
    ]
    (item,) = assemble_page(candidates, PLAIN, Mutes(source_ids=frozenset({1}))).items
    assert item.article_id == 2
    assert [c.article_id for c in item.also_covered_by] == [3]
    assert item.source_count == 2


def test_mutes_win_over_any_score() -> None:
    candidates = [cand(1, 1e9, source_id=1), cand(2, -1e9, source_id=2)]
    assert ids(assemble_page(candidates, PLAIN, Mutes(source_ids=frozenset({1})))) == [2]


# --- stories -----------------------------------------------------------------------------


def test_one_item_per_story_with_other_sources_best_first() -> None:
    candidates = [
        cand(10, 5.0, story_id=1, source_id=1),
        cand(11, 9.0, story_id=1, source_id=2),
        cand(12, 7.0, story_id=1, source_id=3),
        cand(13, 8.0, story_id=1, source_id=2),  # the shown article's source again
        cand(14, 6.0, story_id=1, source_id=3),  # a lesser article of source 3
        cand(20, 3.0),
    ]
    page = assemble_page(candidates, PLAIN, Mutes())
    assert ids(page) == [11, 20]
    story = page.items[0]
    assert story.story_id == 1
    assert [(c.article_id, c.source_id) for c in story.also_covered_by] == [(12, 3), (10, 1)]
    assert story.source_count == 3
    assert page.items[1].also_covered_by == () and page.items[1].source_count == 1


def test_also_covered_by_is_capped_but_counted_in_full() -> None:
    candidates = [cand(i, 10.0 - i, story_id=1, source_id=i) for i in range(1, 15)]
    (item,) = assemble_page(candidates, PLAIN, Mutes()).items
    assert [c.article_id for c in item.also_covered_by] == list(range(2, 2 + ALSO_COVERED_MAX))
    assert item.source_count == 14


# --- read items --------------------------------------------------------------------------


def test_read_items_are_demoted() -> None:
    candidates = [cand(1, 10.0, read=True), cand(2, 6.0), cand(3, 4.0)]
    page = assemble_page(candidates, PLAIN, Mutes())
    assert ids(page) == [2, 1, 3]  # 10 * 0.5 = 5 falls between 6 and 4
    assert page.items[1].read and page.items[1].score == 5.0
    unpenalised = assemble_page(candidates, replace(PLAIN, read_penalty=1.0), Mutes())
    # Unpenalised it keeps its place above the rest, but never leads the page.
    assert ids(unpenalised) == [2, 1, 3]


def test_a_read_negative_score_goes_down_not_up() -> None:
    candidates = [cand(1, -2.0, read=True), cand(2, -2.5)]
    page = assemble_page(candidates, PLAIN, Mutes())
    assert ids(page) == [2, 1] and page.items[1].score == -3.0


def test_a_half_read_story_shows_an_unread_article_and_is_demoted() -> None:
    candidates = [
        cand(1, 10.0, story_id=4, source_id=1, read=True),
        cand(2, 8.0, story_id=4, source_id=2),
        cand(3, 5.0),
    ]
    page = assemble_page(candidates, PLAIN, Mutes())
    assert ids(page) == [3, 2]
    assert page.items[1].read and page.items[1].score == 4.0


# --- per-source cap ----------------------------------------------------------------------


def test_per_source_cap_holds_on_each_page_and_the_rest_follows() -> None:
    candidates = [cand(i, 100.0 - i, source_id=1 + i // 10) for i in range(20)]
    settings = replace(PLAIN, size=10, per_source_cap=3)
    pages = all_pages(candidates, settings, Mutes())
    assert [ids(p) for p in pages[:2]] == [[0, 1, 2, 10, 11, 12], [3, 4, 5, 13, 14, 15]]
    assert sorted(i for p in pages for i in ids(p)) == list(range(20))
    uncapped = assemble_page(candidates, replace(settings, per_source_cap=None), Mutes())
    assert ids(uncapped) == list(range(10))


def test_cap_counts_shown_items_not_also_covered_articles() -> None:
    # Source 1 covers five stories, but only as the lesser source; it still may lead three.
    candidates = [cand(10 + s, 50.0 - s, story_id=s, source_id=2 + s) for s in range(5)]
    candidates += [cand(20 + s, 1.0, story_id=s, source_id=1) for s in range(5)]
    candidates += [cand(30 + i, 0.5 - i / 100, source_id=1) for i in range(5)]
    page = assemble_page(candidates, replace(PLAIN, per_source_cap=3), Mutes())
    assert ids(page) == [10, 11, 12, 13, 14, 30, 31, 32]


# --- diversity ---------------------------------------------------------------------------


def themed_candidates() -> list[Candidate]:
    """Four near-identical articles on one theme, scoring best, and three on others."""
    same = [cand(i, 10.0 - i / 10, vector=unit(1.0, 0.05 * i)) for i in range(1, 5)]
    other = [
        cand(11, 8.0, vector=unit(0.0, 0.0, 1.0)),
        cand(12, 7.5, vector=unit(0.0, 0.0, 0.0, 1.0)),
        cand(13, 7.0, vector=unit(0.0, 0.0, 0.0, 0.0, 1.0)),
    ]
    return same + other


def test_mmr_diversifies_when_asked() -> None:
    settings = replace(PLAIN, size=4)
    assert ids(assemble_page(themed_candidates(), settings, Mutes())) == [1, 2, 3, 4]
    diverse = assemble_page(themed_candidates(), replace(settings, diversity=0.7), Mutes())
    assert ids(diverse) == [1, 11, 12, 13]


def test_topics_stand_in_for_missing_vectors() -> None:
    candidates = [
        cand(1, 10.0, topic_ids=("economy", "china")),
        cand(2, 9.5, topic_ids=("economy", "china")),  # the same topics as 1
        cand(3, 9.0, topic_ids=("china", "economy", "trade")),  # two of three shared
        cand(4, 8.0, topic_ids=("football",)),
        cand(5, 7.5, vector=unit(1.0), topic_ids=("economy", "china")),  # one side lacks one
    ]
    settings = replace(PLAIN, size=3)
    assert ids(assemble_page(candidates, settings, Mutes())) == [1, 2, 3]
    diverse = assemble_page(candidates, replace(settings, diversity=0.5), Mutes())
    assert ids(diverse) == [1, 4, 3]


@pytest.mark.parametrize("diversity", [0.0, 0.3, 0.6, 0.9, 1.0])
def test_the_shortlist_gives_the_same_pages_as_all_candidates(
    diversity: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(int(diversity * 10))
    candidates = random_candidates(rng, 1500, vector_share=0.7)
    settings = PageSettings(size=20, diversity=diversity, exploration=0.2)
    shortlisted = all_pages(candidates, settings, Mutes())[:4]
    monkeypatch.setattr(assemble, "SHORTLIST_FACTOR", 10**6)
    assert all_pages(candidates, settings, Mutes())[:4] == shortlisted


# --- exploration -------------------------------------------------------------------------


def test_exploration_slots_are_spread_and_never_first() -> None:
    for size in range(1, 61):
        for share in (0.0, 0.05, 0.1, 0.25, 0.33, 0.5):
            slots = exploration_positions(size, share)
            assert len(slots) == math.floor(size * share + 1e-9), (size, share)
            assert all(0 < s < size for s in slots), (size, share)
    assert exploration_positions(30, 0.1) == {8, 15, 22}


def test_exploration_candidates_fill_their_slots_only() -> None:
    regular = [cand(i, 100.0 - i) for i in range(1, 41)]
    exploring = [cand(100 + i, 1000.0, is_exploration=True) for i in range(5)]
    settings = replace(PLAIN, exploration=0.1)
    page = assemble_page(regular + exploring, settings, Mutes())
    assert [n for n, i in enumerate(page.items) if i.exploration] == [8, 15, 22]
    assert [page.items[n].article_id for n in (8, 15, 22)] == [100, 101, 102]
    assert not page.items[0].exploration
    off = assemble_page(regular + exploring, PLAIN, Mutes())
    assert not any(i.exploration for i in off.items)


def test_exploration_slots_fall_back_to_regular_items_and_vice_versa() -> None:
    settings = replace(PLAIN, size=10, exploration=0.5)
    few_exploring = [cand(i, 10.0 - i) for i in range(10)] + [cand(50, 1.0, is_exploration=True)]
    page = assemble_page(few_exploring, settings, Mutes())
    assert len(page.items) == 10 and [i.exploration for i in page.items].count(True) == 1
    few_regular = [cand(1, 5.0)] + [cand(50 + i, 1.0, is_exploration=True) for i in range(5)]
    page = assemble_page(few_regular, settings, Mutes())
    assert ids(page)[0] == 1 and len(page.items) == 6
    only_exploring = [cand(50 + i, 1.0, is_exploration=True) for i in range(5)]
    assert assemble_page(only_exploring, settings, Mutes()).items == ()


# --- explanations ------------------------------------------------------------------------


def reason(kind: ReasonKind, weight: float, verb: ActionVerb, target: TargetKind) -> Reason:
    return Reason(
        kind=kind,
        text=f"{kind} {weight}",
        weight=weight,
        action=Action(verb=verb, target_kind=target, target_id=7, label=f"{verb} 7"),
    )


def test_reasons_come_strongest_first_with_their_actions() -> None:
    follow = reason(ReasonKind.FOLLOW_ENTITY, 0.6, ActionVerb.UNFOLLOW, TargetKind.ENTITY)
    top = reason(ReasonKind.TOP_STORY, 0.9, ActionVerb.FEWER_LIKE_THIS, TargetKind.STORY)
    source = reason(ReasonKind.FOLLOW_SOURCE, 0.2, ActionVerb.LESS_FROM_SOURCE, TargetKind.SOURCE)
    (item,) = assemble_page([cand(1, reasons=(follow, source, top))], PLAIN, Mutes()).items
    assert item.reasons == (top, follow, source)
    assert [r.action.verb for r in item.reasons] == [
        "fewer_like_this",
        "unfollow",
        "less_from_source",
    ]


# --- pagination --------------------------------------------------------------------------


def test_pages_continue_ranks_and_never_repeat() -> None:
    candidates = [cand(i, 1000.0 - i, story_id=i // 2, source_id=i % 7) for i in range(100)]
    settings = replace(PLAIN, size=10)
    pages = all_pages(candidates, settings, Mutes())
    ranks = [i.rank for p in pages for i in p.items]
    assert ranks == list(range(1, 51))
    stories = [i.story_id for p in pages for i in p.items if i.story_id is not None]
    assert sorted(stories) == list(range(50))
    assert pages[-1].next_cursor is None


def test_pagination_is_stable_while_articles_arrive_and_scores_shift() -> None:
    rng = random.Random(3)
    old = random_candidates(rng, 200)
    settings = PageSettings(size=15)
    first = assemble_page(old, settings, Mutes())
    assert first.next_cursor is not None
    snapshot = first.next_cursor.snapshot
    shown_stories = {i.story_id for i in first.items if i.story_id is not None}
    assert shown_stories
    joining: list[int | None] = [*sorted(shown_stories), None, None, None]

    # Meanwhile: new articles, some joining page-1 stories, all scoring high; old scores shift.
    arrivals = [
        cand(
            10_000 + i,
            1e6,
            story_id=joining[i % len(joining)],
            minutes=10_000 + i,
        )
        for i in range(20)
    ]
    shifted = [replace(c, score=rng.random() * 100) for c in old]
    later = shifted + arrivals
    second = assemble_page(later, settings, Mutes(), cursor=first.next_cursor)

    assert second.items
    assert not set(ids(second)) & set(ids(first))
    assert not ({i.story_id for i in second.items} - {None}) & shown_stories
    arrived = {c.article_id for c in arrivals}
    assert not set(ids(second)) & arrived
    assert not any(c.article_id in arrived for i in second.items for c in i.also_covered_by)
    assert all(c.published <= snapshot.timestamp() for c in later if c.article_id in ids(second))
    # A fresh first page does show them.
    assert set(ids(assemble_page(later, settings, Mutes()))) & arrived


def test_a_story_counts_as_shown_once_any_of_its_articles_was() -> None:
    first = assemble_page([cand(1, 5.0), cand(2, 1.0)], replace(PLAIN, size=1), Mutes())
    assert ids(first) == [1]
    # Since page 1, article 1 joined story 9 with a newcomer published before the snapshot.
    later = [cand(1, 5.0, story_id=9), cand(3, 9.0, story_id=9, minutes=-5), cand(2, 1.0)]
    second = assemble_page(later, replace(PLAIN, size=1), Mutes(), cursor=first.next_cursor)
    assert ids(second) == [2]


def test_first_page_snapshot_defaults_to_the_newest_candidate_or_now() -> None:
    candidates = [cand(1, minutes=5), cand(2, minutes=60), cand(3, minutes=1)]
    settings = replace(PLAIN, size=1)
    page = assemble_page(candidates, settings, Mutes())
    assert page.next_cursor is not None
    assert page.next_cursor.snapshot == T0 + timedelta(minutes=60)
    now = T0 + timedelta(days=1)
    page = assemble_page(candidates, settings, Mutes(), now=now)
    assert page.next_cursor is not None and page.next_cursor.snapshot == now


# --- the property test -------------------------------------------------------------------

TOPICS = [f"topic-{i}" for i in range(12)]
AUTHORS = ["Ann Lee", "Bo Chen", "Cy Diaz", "Di Eze"]
WORDS = ["storm", "vote", "market", "match", "court", "ai", "rally", "deal", "said"]


def random_candidates(
    rng: random.Random, n: int, *, vector_share: float = 0.8, id_base: int = 0
) -> list[Candidate]:
    nrng = np.random.default_rng(rng.randrange(2**32))
    out = []
    for i in range(n):
        vector = None
        if rng.random() < vector_share:
            v = nrng.standard_normal(DIM).astype(np.float32)
            vector = v / np.linalg.norm(v)
        out.append(
            Candidate(
                article_id=id_base + i + 1,
                story_id=rng.randrange(n // 3 + 1) if rng.random() < 0.6 else None,
                source_id=rng.randrange(12),
                published=(T0 + timedelta(minutes=rng.randrange(600))).timestamp(),
                title=" ".join(rng.choices(WORDS, k=4)).capitalize(),
                score=rng.choice([rng.random(), rng.uniform(-1, 1), 0.5]),
                vector=vector,
                topic_ids=tuple(rng.sample(TOPICS, rng.randrange(3))),
                entity_ids=tuple(rng.sample(range(30), rng.randrange(4))),
                authors=tuple(rng.sample(AUTHORS, rng.randrange(2))),
                read=rng.random() < 0.15,
                is_exploration=rng.random() < 0.15,
            )
        )
    return out


def random_mutes(rng: random.Random) -> Mutes:
    return Mutes(
        topic_ids=frozenset(rng.sample(TOPICS, rng.randrange(3))),
        entity_ids=frozenset(rng.sample(range(30), rng.randrange(4))),
        source_ids=frozenset(rng.sample(range(12), rng.randrange(3))),
        authors=frozenset(a.upper() for a in rng.sample(AUTHORS, rng.randrange(2))),
        story_ids=frozenset(rng.sample(range(40), rng.randrange(5))),
        keywords=frozenset(rng.sample(WORDS, rng.randrange(2))),
    )


def is_muted(c: Candidate, mutes: Mutes) -> bool:
    words = c.title.casefold().split()
    return (
        c.source_id in mutes.source_ids
        or c.story_id in mutes.story_ids
        or bool(set(c.topic_ids) & mutes.topic_ids)
        or bool(set(c.entity_ids) & mutes.entity_ids)
        or bool({a.casefold() for a in c.authors} & {a.casefold() for a in mutes.authors})
        or any(k in words for k in mutes.keywords)
    )


def check_item(item: FeedItem, by_id: dict[int, Candidate], mutes: Mutes) -> None:
    shown = by_id[item.article_id]
    assert not is_muted(shown, mutes)
    for other in item.also_covered_by:
        assert not is_muted(by_id[other.article_id], mutes)
        assert by_id[other.article_id].story_id == item.story_id is not None
    weights = [r.weight for r in item.reasons]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize("trial", range(200))
def test_random_feeds_never_break_the_rules(trial: int) -> None:
    rng = random.Random(trial)
    candidates = random_candidates(rng, rng.randrange(0, 150))
    by_id = {c.article_id: c for c in candidates}
    mutes = random_mutes(rng)
    settings = PageSettings(
        size=rng.randrange(1, 25),
        per_source_cap=rng.choice([None, 1, 2, 3, 5]),
        diversity=rng.choice([0.0, 0.3, 0.7, 1.0, rng.random()]),
        exploration=rng.choice([0.0, 0.1, 0.5, rng.random() / 2]),
        read_penalty=rng.random(),
    )
    pages = all_pages(candidates, settings, mutes)
    seen_articles: set[int] = set()
    seen_stories: set[int] = set()
    for page in pages:
        assert len(page.items) <= settings.size
        if page.items:
            assert not page.items[0].exploration
        per_source: dict[int, int] = {}
        for item in page.items:
            check_item(item, by_id, mutes)
            assert item.article_id not in seen_articles
            seen_articles.add(item.article_id)
            if item.story_id is not None:
                assert item.story_id not in seen_stories
                seen_stories.add(item.story_id)
            per_source[item.source_id] = per_source.get(item.source_id, 0) + 1
        if settings.per_source_cap is not None:
            assert max(per_source.values(), default=0) <= settings.per_source_cap

    # Every story with unmuted articles, none of them exploration, shows up in the session.
    # (A story led by an exploration article waits for an exploration slot.)
    def key(c: Candidate | FeedItem) -> int:
        return c.story_id if c.story_id is not None else -c.article_id

    unmuted = [c for c in candidates if not is_muted(c, mutes)]
    exploring = {key(c) for c in unmuted if c.is_exploration}
    wanted = {key(c) for c in unmuted} - exploring
    got = {key(i) for p in pages for i in p.items}
    assert wanted <= got


# --- cursors -----------------------------------------------------------------------------


def test_cursor_round_trips_through_a_url_safe_string() -> None:
    cursor = PageCursor(
        snapshot=T0,
        offset=60,
        shown_articles=frozenset({1, 2, 2**40}),
        shown_stories=frozenset({7}),
    )
    text = cursor.encode()
    assert all(ch.isalnum() or ch in "-_" for ch in text)
    assert PageCursor.decode(text) == cursor


def test_cursor_from_a_page_round_trips() -> None:
    page = assemble_page(
        [cand(i, story_id=i % 3) for i in range(10)], replace(PLAIN, size=2), Mutes()
    )
    assert page.next_cursor is not None
    assert PageCursor.decode(page.next_cursor.encode()) == page.next_cursor


def encoded(payload: object, *, compress: bool = True, tail: bytes = b"") -> str:
    raw = json.dumps(payload).encode()
    packed = (zlib.compress(raw) if compress else raw) + tail
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


GOOD = {"v": 1, "t": "2030-06-01T12:00:00+00:00", "o": 0, "a": [1, 4], "s": []}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a cursor!",
        "A" * 40_000,
        "AAAA",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        encoded([1, 2]),
        encoded({**GOOD, "v": 2}),
        encoded({**GOOD, "v": True}),
        encoded({**GOOD, "t": "yesterday"}),
        encoded({**GOOD, "t": "2030-06-01T12:00:00"}),
        encoded({**GOOD, "t": 5}),
        encoded({**GOOD, "o": -1}),
        encoded({**GOOD, "o": "3"}),
        encoded({**GOOD, "a": [True]}),
        encoded({**GOOD, "a": [-4]}),
        encoded({**GOOD, "a": [5, 0]}),  # gaps after the first are >= 1
        encoded({**GOOD, "a": [5, -2]}),
        encoded({**GOOD, "a": [1.5]}),
        encoded({**GOOD, "s": {"1": 1}}),
        encoded({**GOOD, "a": [2**62, 2**62]}),  # past the largest id
        encoded(GOOD, compress=False),
        encoded(GOOD, tail=b"x"),
        encoded(GOOD)[:-4],
        # A forged cursor inflating to megabytes.
        base64.urlsafe_b64encode(zlib.compress(b" " * 5_000_000, 9)).rstrip(b"=").decode(),
        encoded({k: v for k, v in GOOD.items() if k != "s"}),
        encoded({**GOOD, "x": 1}),
    ],
)
def test_garbage_cursors_are_refused_clearly(text: str) -> None:
    with pytest.raises(InvalidCursorError, match="page cursor") as info:
        PageCursor.decode(text)
    assert isinstance(info.value, TidingsError) and info.value.key == "invalid_cursor"


def test_the_good_payload_above_does_decode() -> None:
    assert PageCursor.decode(encoded(GOOD)).shown_articles == {1, 5}


def test_a_cursor_stays_short_for_a_long_session() -> None:
    # Ten pages of 30 items from recent articles: ids within a few thousand of each other.
    rng = random.Random(5)
    articles = frozenset(rng.sample(range(4_000_000, 4_005_000), 300))
    stories = frozenset(rng.sample(range(900_000, 902_000), 250))
    cursor = PageCursor(snapshot=T0, offset=300, shown_articles=articles, shown_stories=stories)
    text = cursor.encode()
    assert len(text) < 2_000
    assert PageCursor.decode(text) == cursor


def test_a_session_too_long_for_a_cursor_ends_instead() -> None:
    # Ids scattered over the whole range compress badly: the worst case for the cursor.
    scattered = random.Random(6).sample(range(10**6, 2**40), 2_000)

    def session(n: int) -> PageCursor:
        return PageCursor(
            snapshot=T0,
            offset=n,
            shown_articles=frozenset(scattered[:n]),
            shown_stories=frozenset(),
        )

    # The longest session whose cursor is still (barely) within the limit.
    low, high = 0, len(scattered)
    while low < high:
        mid = (low + high + 1) // 2
        fits = len(session(mid).encode()) <= assemble.MAX_CURSOR_CHARS - 10
        low, high = (mid, high) if fits else (low, mid - 1)
    cursor = session(low)
    candidates = [cand(i, minutes=-1) for i in scattered[-100:]]
    page = assemble_page(candidates, PageSettings(size=30), Mutes(), cursor=cursor)
    assert len(page.items) == 30 and page.items[0].rank == low + 1
    assert page.next_cursor is None
    assert PageCursor.decode(cursor.encode()) == cursor


def test_a_read_story_never_leads_the_page() -> None:
    read_top = [
        Candidate(
            article_id=1, story_id=10, source_id=1, published=T0.timestamp(), score=50.0, read=True
        ),
        Candidate(article_id=2, story_id=20, source_id=2, published=T0.timestamp(), score=1.0),
        Candidate(article_id=3, story_id=30, source_id=3, published=T0.timestamp(), score=0.5),
    ]
    page = assemble_page(read_top, PageSettings(size=3, diversity=0.0), Mutes())
    assert [i.article_id for i in page.items] == [2, 1, 3]
    # Only read stories left: they still make a page.
    alone = assemble_page(read_top[:1], PageSettings(size=3), Mutes())
    assert [i.article_id for i in alone.items] == [1]
