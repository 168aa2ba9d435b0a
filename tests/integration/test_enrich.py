"""Enrichment end to end: real models, real storage, the engine's stage wiring.

The articles are written for the test in the style of wire copy: two reports of one meeting
from different outlets, a syndicated copy of one of them, an unrelated earthquake, a German
article and an empty teaser.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from tests.loopback import LoopbackServer
from tidings.config import Settings
from tidings.engine import Engine, make_engine
from tidings.types import ArticleDraft, EnrichmentStatus, PagePolicy, TopicKind

T0 = datetime(2024, 10, 18, 9, 0, tzinfo=UTC)

MEETING = (
    "Xi and Putin pledge closer ties at Beijing summit",
    "Chinese President Xi Jinping and Russian President Vladimir Putin met in Beijing on "
    "Wednesday on the sidelines of the Belt and Road Forum, pledging to deepen the "
    "partnership between their countries. Xi told Putin that China and Russia would "
    'defend fairness and justice together. "Our friendship is strong and our cooperation '
    "will grow in the years ahead,\" Xi said. Putin said the Kremlin valued Beijing's "
    'position on the war in Ukraine and called the talks substantive. "We discussed the '
    'situation in the Middle East in detail," Putin told reporters after the meeting. The '
    "two leaders also discussed energy deals, including a new gas pipeline from Siberia. "
    "Russian Foreign Minister Sergei Lavrov and Chinese Foreign Minister Wang Yi joined "
    "the talks, which lasted three hours.",
)
MEETING_OTHER = (
    "Putin praises Xi as Russia and China deepen partnership",
    "Russian leader Vladimir Putin praised Chinese President Xi Jinping during talks in "
    "Beijing, where the Belt and Road Forum brought leaders from more than 100 countries. "
    "Putin said relations between Moscow and Beijing had never been closer and that "
    "common threats had strengthened them. Xi said China was ready to work with Russia to "
    "safeguard the legitimate rights of developing countries. The meeting was the first "
    "between the two presidents since the start of the Israel-Hamas war. Analysts said the "
    "summit showed that Beijing would not distance itself from Moscow despite Western "
    "pressure over the war in Ukraine.",
)
QUAKE = (
    "Powerful earthquake strikes eastern Turkey, killing dozens",
    "A magnitude 6.8 earthquake struck eastern Turkey on Friday evening, killing at least "
    "35 people and injuring hundreds, officials said. The quake hit near the town of "
    "Sivrice in Elazig province, the Disaster and Emergency Management Authority said. "
    "Rescue teams worked through the night to pull survivors from collapsed buildings as "
    "temperatures fell below freezing. President Recep Tayyip Erdogan said the government "
    "would do everything to help those affected. Aftershocks continued into Saturday.",
)
GERMAN = (
    "Bundesregierung beschließt neues Klimapaket",
    "Die Bundesregierung hat am Mittwoch ein neues Klimapaket beschlossen. Die Maßnahmen "
    "sollen dazu beitragen, den Ausstoß von Treibhausgasen bis zum Ende des Jahrzehnts "
    "deutlich zu senken. Kritiker bemängeln, dass die Pläne nicht weit genug gehen und "
    "die Finanzierung unklar bleibe. Der Bundestag soll noch vor der Sommerpause abstimmen.",
)


def draft(guid: str, title: str, body: str, hours: float) -> ArticleDraft:
    return ArticleDraft(
        guid=guid,
        url=f"https://news.example/{guid}",
        title=title,
        body=body,
        published=T0 + timedelta(hours=hours),
        section="World",
    )


def store(engine: Engine, source_url: str, drafts: list[ArticleDraft]) -> dict[str, int]:
    source = engine.storage.add_source(source_url, added=T0)
    engine.storage.upsert_articles(source.id, drafts, fetched_at=T0)
    found = engine.storage.find_articles(source.id, guids=[d.guid or "" for d in drafts])
    return {a.guid or "": a.id for a in found}


def test_enrichment_finds_entities_topics_quotes_duplicates_and_stories(engine: Engine) -> None:
    one = store(
        engine,
        "https://wire.example/feed",
        [
            draft("meeting", *MEETING, 0),
            draft("quake", *QUAKE, 2),
            draft("german", *GERMAN, 3),
            draft("teaser", "Breaking", "", 4),
        ],
    )
    other = store(
        engine,
        "https://paper.example/feed",
        [
            draft("meeting-2", *MEETING_OTHER, 1),
            # A syndicated copy: the wire text under the paper's own headline and footer.
            draft(
                "meeting-copy",
                "Xi, Putin vow closer cooperation",
                MEETING[1] + " Reporting by the Beijing bureau; editing by the world desk.",
                1.5,
            ),
        ],
    )
    seen: list[tuple[int, int]] = []
    report = engine.enrich(progress=lambda done, total: seen.append((done, total)))
    assert report.error is None
    assert (report.analysed, report.skipped) == (4, 2)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    assert report.duplicates == 1

    meeting = engine.article_insight(one["meeting"])
    assert meeting is not None and meeting.status is EnrichmentStatus.DONE
    assert meeting.language == "en"
    names = {e.entity.name for e in meeting.entities}
    assert {"Xi Jinping", "Vladimir Putin", "Beijing", "Sergei Lavrov", "Wang Yi"} <= names
    xi = next(e for e in meeting.entities if e.entity.name == "Xi Jinping")
    assert xi.description == "Chinese President"
    kinds = {t.kind for t in meeting.topics}
    assert {TopicKind.TAXONOMY, TopicKind.SECTION, TopicKind.RELATION} <= kinds
    assert any(t.label == "China–Russia relations" for t in meeting.topics)
    assert any(t.label == "politics" for t in meeting.topics)
    speakers = {q.entity_name for q in meeting.quotes}
    assert {"Xi Jinping", "Vladimir Putin"} <= speakers

    # The copy is linked to the original, both ways, and nothing is deleted.
    copy = engine.article_insight(other["meeting-copy"])
    assert copy is not None and copy.duplicates == (one["meeting"],)
    assert other["meeting-copy"] in meeting.duplicates

    # One story for the three reports of the meeting, across both sources; the quake apart.
    assert meeting.story is not None
    story = engine.story_page(meeting.story.id)
    assert {a.id for a in story.articles} == {
        one["meeting"],
        other["meeting-2"],
        other["meeting-copy"],
    }
    assert story.story.source_count == 2 and len(story.sources) == 2
    quake = engine.article_insight(one["quake"])
    assert quake is not None and quake.story is not None
    assert quake.story.id != meeting.story.id

    # Entities across articles: Xi is one entity named in the three meeting reports.
    page = engine.entity_page("Xi")
    assert page.entity.name == "Xi Jinping" and page.entity.article_count == 3
    assert any(q.text.startswith("Our friendship") for q in page.quotes)

    # What could not be analysed says why, and is not tried again.
    german = engine.article_insight(one["german"])
    assert german is not None and german.status is EnrichmentStatus.SKIPPED
    assert german.language == "de" and "not English" in (german.note or "")
    teaser = engine.article_insight(one["teaser"])
    assert teaser is not None and teaser.note == "too little text to analyse"
    assert engine.enrich().analysed == 0

    # "Articles like this" through the vector index.
    similar = engine.similar_articles(one["meeting"], limit=3)
    assert [a.id for a, _ in similar[:2]] == sorted(
        [other["meeting-copy"], other["meeting-2"]],
        key=lambda i: -next(s for a, s in similar if a.id == i),
    )
    assert similar[0][1] > 0.9


def test_later_articles_join_stored_stories_and_reruns_keep_them(engine: Engine) -> None:
    first = store(engine, "https://wire.example/feed", [draft("meeting", *MEETING, 0)])
    engine.enrich()
    before = engine.article_insight(first["meeting"])
    assert before is not None and before.story is not None

    later = store(engine, "https://paper.example/feed", [draft("meeting-2", *MEETING_OTHER, 5)])
    engine.enrich()
    joined = engine.article_insight(later["meeting-2"])
    assert joined is not None and joined.story is not None
    assert joined.story.id == before.story.id
    assert joined.story.article_count == 2

    # Re-analysing everything changes no story and duplicates nothing.
    report = engine.enrich(everything=True)
    assert report.analysed == 2 and report.new_stories == 0
    again = engine.article_insight(later["meeting-2"])
    assert again is not None and again.story is not None and again.story.id == before.story.id
    assert engine.entity_page("Xi Jinping").entity.article_count == 2


def test_the_vector_index_is_rebuilt_when_its_file_is_lost(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    with make_engine(settings) as engine:
        ids = store(
            engine,
            "https://wire.example/feed",
            [draft("meeting", *MEETING, 0), draft("meeting-2", *MEETING_OTHER, 1)],
        )
        engine.enrich()
    for path in (tmp_path / "vectors").iterdir():
        path.unlink()
    with make_engine(settings) as engine:
        similar = engine.similar_articles(ids["meeting"])
        assert [a.id for a, _ in similar] == [ids["meeting-2"]]


def test_articles_added_by_hand_are_analysed_unless_switched_off(tmp_path: Path) -> None:
    page = tmp_path / "article.html"
    page.write_text(
        f"<html><head><title>{MEETING[0]}</title></head><body><article><h1>{MEETING[0]}</h1>"
        + "".join(f"<p>{s}.</p>" for s in MEETING[1].split(". "))
        + "</article></body></html>",
        encoding="utf-8",
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    with make_engine(settings) as engine:
        article = engine.add_article(str(page))
        insight = engine.article_insight(article.id)
        assert insight is not None and insight.status is EnrichmentStatus.DONE
    with make_engine(settings.replace(enrich=False)) as engine:
        page.write_text(page.read_text().replace("Wednesday", "Thursday"), encoding="utf-8")
        article = engine.add_article(str(page))
        assert engine.storage.count_to_enrich() == 1


def rss(items: list[tuple[str, str, str, int]]) -> str:
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{escape(title)}</title>"
        f"<link>https://news.example/{guid}</link>"
        f"<pubDate>{format_datetime(T0 + timedelta(hours=hours))}</pubDate>"
        f"<description>{escape(escape(body))}</description></item>"
        for guid, title, body, hours in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://news.example/</link><language>en</language>{entries}</channel></rss>"
    )


def test_an_ingestion_pass_analyses_what_it_brought(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    loopback.serve(
        "/feed.xml",
        rss([("m1", *MEETING, 0), ("m2", *MEETING_OTHER, 1), ("q", *QUAKE, 2)]),
        content_type="application/rss+xml",
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    settings = settings.replace(
        fetch=settings.fetch.replace(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),)),
    )
    with make_engine(settings) as engine:
        engine.add_source(loopback.url("/feed.xml"), pages=PagePolicy.NEVER, operator=True)
        report = engine.ingest()
        assert report.new == 3
        assert report.enrichment is not None and report.enrichment.error is None
        assert report.enrichment.analysed == 3
        assert report.enrichment.new_stories == 2
        # A pass that brings nothing new analyses nothing.
        engine.storage.update_source(
            replace(engine.storage.get_source(loopback.url("/feed.xml")), next_poll=None)
        )
        again = engine.ingest()
        assert again.new == 0 and again.enrichment is None


def test_huge_and_mixed_language_articles_get_a_clear_result(engine: Engine) -> None:
    from tidings.enrich.entities import MAX_CHARS

    # 20 times the NER bound: read up to the bound, stored whole, never a crash.
    huge_body = " ".join([MEETING[1]] * (20 * MAX_CHARS // len(MEETING[1])))
    # Mostly English with a German paragraph: English, so analysed.
    mixed_body = QUAKE[1] + "\n\n" + GERMAN[1] + "\n\n" + QUAKE[1]
    ids = store(
        engine,
        "https://wire.example/feed",
        [draft("huge", MEETING[0], huge_body, 0), draft("mixed", QUAKE[0], mixed_body, 1)],
    )
    report = engine.enrich()
    assert report.error is None and report.analysed == 2
    huge = engine.article_insight(ids["huge"])
    assert huge is not None and huge.status is EnrichmentStatus.DONE
    xi = next(e for e in huge.entities if e.entity.name == "Xi Jinping")
    # Mentions are counted within the bound only (about 4 per copy of the text).
    assert 0 < xi.mentions <= 4 * (MAX_CHARS // len(MEETING[1]) + 1)
    mixed = engine.article_insight(ids["mixed"])
    assert mixed is not None and mixed.status is EnrichmentStatus.DONE
    assert mixed.language == "en"
