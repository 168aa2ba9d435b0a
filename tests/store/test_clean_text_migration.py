"""Migration 0005 cleans the titles and summaries stored before ingestion cleaned them, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tidings.store.sql import alembic_config, open_storage
from tidings.types import ArticleDraft

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

#: As an older Tidings stored them: AG News' escapes, a double-escaped entity, a tag.
DIRTY = [
    ArticleDraft(
        guid="pm",
        title="Italian PM #39;s transplant confirmed",
        summary="Doctors &amp;#39;pleased&amp;#39; #151; more\\$ later\n\nSecond paragraph.",
        body="The body is left as it was: #39;",
        published=T0,
    ),
    ArticleDraft(guid="gaza", title="Sharon Pushes On With Gaza &lt;b&gt;...&lt;/b&gt;"),
    ArticleDraft(guid="yukos", title="Yukos faces tax arrears of \\$4bn", summary="&nbsp;"),
]
CLEAN = ArticleDraft(guid="clean", title="C# 12 and AT&T: the #1 hit", summary="C:\\Users")


def test_upgrading_cleans_stored_titles_summaries_and_headlines(database_url: str) -> None:
    database = sa.make_url(database_url).database
    if database_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    with open_storage(database_url) as storage:
        source = storage.add_source(
            "https://a.example/feed", title="News &amp;amp; views", added=T0
        )
        storage.upsert_articles(source.id, [*DIRTY, CLEAN], fetched_at=T0)
        before = {a.guid: a for a in storage.list_articles(limit=10)}
    command.downgrade(alembic_config(database_url), "0004")

    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        # A story headline copied from a dirty title, and an analysis of every article as
        # it was, as an older Tidings left them.
        conn.execute(
            sa.text(
                "INSERT INTO stories (headline, first_seen, last_seen, article_count, "
                "source_count, recent_count, total, names) "
                "VALUES (:h, :t, :t, 1, 1, 1, :b, '[]')"
            ),
            {"h": DIRTY[0].title, "t": T0.replace(tzinfo=None), "b": b""},
        )
        for article in before.values():
            conn.execute(
                sa.text(
                    "INSERT INTO enrichments (article_id, content_hash, status, enriched_at) "
                    "VALUES (:a, :h, 'ok', :t)"
                ),
                {"a": article.id, "h": article.content_hash, "t": T0.replace(tzinfo=None)},
            )
    engine.dispose()

    with open_storage(database_url) as storage:
        # Opening migrates to the head, through 0005.
        assert storage.schema_revision() == tuple(
            ScriptDirectory.from_config(alembic_config()).get_heads()
        )
        after = {a.guid: a for a in storage.list_articles(limit=10)}
        assert after["pm"].title == "Italian PM's transplant confirmed"
        assert after["pm"].summary == "Doctors 'pleased' — more$ later\n\nSecond paragraph."
        assert after["pm"].body == "The body is left as it was: #39;"
        assert after["gaza"].title == "Sharon Pushes On With Gaza ..."
        assert after["yukos"].title == "Yukos faces tax arrears of $4bn"
        assert after["yukos"].summary is None
        assert after["clean"] == before["clean"]
        assert storage.get_source(source.id).title == "News & views"
        assert [s.headline for s in storage.list_stories()] == ["Italian PM's transplant confirmed"]

        # The changed articles are analysed again; the clean one is not.
        waiting = {a.guid for a in storage.articles_to_enrich(limit=10)}
        assert waiting == {"pm", "gaza", "yukos"}
        # Their digests are those of the cleaned entries, so the fixed parser's copy of
        # each entry (the undated ones too) is seen again unchanged.
        cleaned = [
            ArticleDraft(
                guid="pm",
                title="Italian PM's transplant confirmed",
                summary="Doctors 'pleased' — more$ later\n\nSecond paragraph.",
                body="The body is left as it was: #39;",
                published=T0,
            ),
            ArticleDraft(guid="gaza", title="Sharon Pushes On With Gaza ..."),
            ArticleDraft(guid="yukos", title="Yukos faces tax arrears of $4bn"),
            CLEAN,
        ]
        result = storage.upsert_articles(source.id, cleaned, fetched_at=T0)
        assert (result.new, result.updated, result.unchanged) == (0, 0, 4)
        # The search index follows the cleaned text.
        assert [a.guid for a, _ in storage.search_articles("transplant")] == ["pm"]
