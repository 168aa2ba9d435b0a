"""The database schema, as SQLAlchemy Core tables.

This module describes the schema as the newest migration leaves it; the migrations in
``migrations/versions`` are what actually create and change it, and a test checks that the
two agree on SQLite and PostgreSQL. Change both together, and only by adding a migration.

Tuples (authors, tags, images, …) are JSON text: they are always read and written whole with
their article, never queried inside, so a table per tuple would only cost joins.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps an instant in ``timestamptz`` and hands it back in the session's time
    zone; SQLite has no datetime type, so the value is stored as naive UTC text, whose
    fixed-width format sorts and compares in time order. Either way it reads back as aware
    UTC. A naive datetime is refused: guessing its zone would silently shift times.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.DateTime())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (Tidings stores aware UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Stable constraint names, so that later migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _part_of(column: str, owner: str, *, key: bool = False) -> sa.Column[int]:
    """A column naming a row of ``owner`` by id, never NULL, deleted with that row; part
    of the primary key with ``key``."""
    return sa.Column(
        column,
        sa.Integer,
        sa.ForeignKey(f"{owner}.id", ondelete="CASCADE"),
        primary_key=key,
        nullable=False,
    )


#: Something Tidings reads news from, with its polling state (``tidings.types.Source``).
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("site", sa.Text),
    # JSON list of strings.
    sa.Column("tags", sa.Text, nullable=False),
    # PagePolicy: when to fetch entries' article pages.
    sa.Column("pages", sa.String(16), nullable=False, server_default="auto"),
    sa.Column("added", UTCDateTime),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("last_success", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("warning", sa.Text),
    sa.Column("interval", sa.Integer),
    sa.Column("next_poll", UTCDateTime),
    # Added from the operator's command line: may use the network allowances (0007).
    sa.Column("operator", sa.Boolean, nullable=False, server_default=sa.false()),
    # Which worker is reading it, until when (0007): see ``analysis_queue``.
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_until", UTCDateTime),
    sa.Index("ux_sources_url", "url", unique=True),
    # "What is due" asks for next_poll IS NULL OR next_poll <= now on every pass.
    sa.Index("ix_sources_next_poll", "next_poll"),
    # Never reuse the id of a removed source or article: ids end up in indexes and logs.
    sqlite_autoincrement=True,
)

#: One stored article (``tidings.types.Article``); ``source_id`` is the source it first
#: came from (or, after that source is removed, another one it appeared in).
articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _part_of("source_id", "sources"),
    sa.Column("guid", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("canonical_url", sa.Text),
    sa.Column("title", sa.Text),
    # JSON list of strings.
    sa.Column("authors", sa.Text, nullable=False),
    sa.Column("published", UTCDateTime),
    sa.Column("updated", UTCDateTime),
    sa.Column("section", sa.Text),
    sa.Column("site_name", sa.Text),
    sa.Column("extraction_note", sa.Text),
    sa.Column("summary", sa.Text),
    # JSON list of strings.
    sa.Column("summary_points", sa.Text, nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("content_html", sa.Text),
    sa.Column("language", sa.String(35)),
    # JSON list of {"url", "caption", "credit"}.
    sa.Column("images", sa.Text, nullable=False),
    # JSON list of {"url", "title"}.
    sa.Column("related", sa.Text, nullable=False),
    # JSON list of strings.
    sa.Column("tags", sa.Text, nullable=False),
    # ArticleDraft.digest(): hex SHA-256.
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("fetched_at", UTCDateTime, nullable=False),
    sa.Column("changed_at", UTCDateTime),
    # Identity within a source; partial, because most sources give guids but not all.
    sa.Index(
        "ux_articles_source_guid",
        "source_id",
        "guid",
        unique=True,
        sqlite_where=sa.text("guid IS NOT NULL"),
        postgresql_where=sa.text("guid IS NOT NULL"),
    ),
    # Identity across sources.
    sa.Index("ix_articles_canonical_url", "canonical_url"),
    # Identity of entries with neither guid nor canonical URL.
    sa.Index("ix_articles_source_id_content_hash", "source_id", "content_hash"),
    # Per-source counts, newest date and listing; also serves the foreign key on delete.
    sa.Index("ix_articles_source_id_published", "source_id", "published"),
    sqlite_autoincrement=True,
)

# Listing newest first with nulls last. SQLite sorts NULL lowest, so a plain DESC index
# already puts them last (and SQLite refuses NULLS LAST in an index); PostgreSQL sorts NULL
# highest, so its index must say NULLS LAST to match the query's ORDER BY. ``info`` tells
# Alembic's comparison which is which (see ``objects_for``), as it ignores ``ddl_if``.
sa.Index(
    "ix_articles_published",
    articles.c.published.desc(),
    articles.c.id.desc(),
    info={"dialect": "sqlite"},
).ddl_if(dialect="sqlite")
sa.Index(
    "ix_articles_published",
    articles.c.published.desc().nulls_last(),
    articles.c.id.desc(),
    info={"dialect": "postgresql"},
).ddl_if(dialect="postgresql")

#: The other sources an article also appeared in (matched by canonical URL); the source
#: that owns it (``articles.source_id``) is never listed here.
article_sources = sa.Table(
    "article_sources",
    metadata,
    _part_of("article_id", "articles", key=True),
    _part_of("source_id", "sources", key=True),
    # When the article was first seen in this source; the earliest inherits the article
    # when its owner is removed.
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Index("ix_article_sources_source_id", "source_id"),
)


# --- enrichment (migration 0002) -------------------------------------------------------------

#: Stories: articles about one event across sources (``tidings.types.Story``). Clustering
#: state lives here too: the sum of member vectors and the counts of their lead names.
stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("headline", sa.Text),
    sa.Column("representative_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="SET NULL")),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("article_count", sa.Integer, nullable=False),
    sa.Column("source_count", sa.Integer, nullable=False),
    # Articles published in the 24 hours before last_seen: how fast it grows (kept here so
    # that ranking reads one number instead of counting members per page).
    sa.Column("recent_count", sa.Integer, nullable=False, server_default="1"),
    # float32 sum of member unit vectors.
    sa.Column("total", sa.LargeBinary, nullable=False),
    # JSON list of [name, count].
    sa.Column("names", sa.Text, nullable=False),
    # "Open stories" are those last seen within the clustering window.
    sa.Index("ix_stories_last_seen", "last_seen"),
    # "Top stories": the most covered first, recent ones picked from the index alone.
    sa.Index("ix_stories_source_count_last_seen", "source_count", "last_seen"),
    # The change that last wrote it (migration 0006: see ``change_counter``).
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_stories_seq", "seq"),
    sqlite_autoincrement=True,
)

#: One row per analysed article version (``tidings.types.Enrichment``).
enrichments = sa.Table(
    "enrichments",
    metadata,
    _part_of("article_id", "articles", key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("language", sa.String(35)),
    sa.Column("enriched_at", UTCDateTime, nullable=False),
    sa.Column("vector", sa.LargeBinary),
    sa.Column("signature", sa.LargeBinary),
    sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id", ondelete="SET NULL")),
    sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("articles.id", ondelete="SET NULL")),
    sa.Index("ix_enrichments_story_id", "story_id"),
    sa.Index("ix_enrichments_duplicate_of", "duplicate_of"),
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_enrichments_seq", "seq"),
    # "quick" (title and lead, the first pass over a backlog) or "full" (0007).
    sa.Column("depth", sa.String(8), nullable=False, server_default="full"),
    # How many analyses of the article were stored: work done twice shows here (0007).
    sa.Column("analyses", sa.Integer, nullable=False, server_default="1"),
)

#: Entities across articles (``tidings.types.Entity``).
entities = sa.Table(
    "entities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("description", sa.Text),
    # JSON list of strings.
    sa.Column("aliases", sa.Text, nullable=False),
    sa.Column("article_count", sa.Integer, nullable=False),
    sa.Column("first_seen", UTCDateTime),
    sa.Column("last_seen", UTCDateTime),
    sa.Index("ix_entities_article_count", "article_count"),
    sqlite_autoincrement=True,
)

#: Normalised names (and short forms) that identify an entity when an article uses them.
entity_keys = sa.Table(
    "entity_keys",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    _part_of("entity_id", "entities", key=True),
    sa.Index("ix_entity_keys_entity_id", "entity_id"),
)

#: Which entities an article names.
article_entities = sa.Table(
    "article_entities",
    metadata,
    _part_of("article_id", "articles", key=True),
    _part_of("entity_id", "entities", key=True),
    sa.Column("mentions", sa.Integer, nullable=False),
    sa.Column("first_offset", sa.Integer, nullable=False),
    sa.Column("description", sa.Text),
    # Recent articles naming an entity (ids grow with arrival): a reader's candidates.
    sa.Index("ix_article_entities_entity_id_article_id", "entity_id", "article_id"),
    # Ranking reads an article's entities with their first offsets: from this index alone.
    sa.Index("ix_article_entities_rank", "article_id", "entity_id", "first_offset"),
)

#: Topics of every kind (``tidings.types.TopicTag`` without a confidence).
topics = sa.Table(
    "topics",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("parent", sa.String(200)),
)

#: Which topics an article has, with confidence.
article_topics = sa.Table(
    "article_topics",
    metadata,
    _part_of("article_id", "articles", key=True),
    sa.Column(
        "topic_id",
        sa.String(200),
        sa.ForeignKey("topics.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Index("ix_article_topics_topic_id_article_id", "topic_id", "article_id"),
    # Ranking reads an article's topics with their confidence: from this index alone.
    sa.Index("ix_article_topics_rank", "article_id", "topic_id", "confidence"),
)

#: Direct quotes (``tidings.types.Quote``).
quotes = sa.Table(
    "quotes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _part_of("article_id", "articles"),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("speaker", sa.Text),
    sa.Column("entity_id", sa.Integer, sa.ForeignKey("entities.id", ondelete="SET NULL")),
    sa.Index("ix_quotes_article_id", "article_id"),
    sa.Index("ix_quotes_entity_id", "entity_id"),
    sqlite_autoincrement=True,
)


# --- readers (migration 0003) ----------------------------------------------------------------

#: Someone Tidings makes a feed for (``tidings.types.Reader``).
readers = sa.Table(
    "readers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("exploration", sa.Float, nullable=False),
    sa.Column("diversity", sa.Float, nullable=False),
    sa.Index("ux_readers_name", "name", unique=True),
    sqlite_autoincrement=True,
)

#: What a reader follows or mutes; one stance per thing.
interests = sa.Table(
    "interests",
    metadata,
    _part_of("reader_id", "readers", key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("stance", sa.String(16), nullable=False),
    sa.Column("label", sa.Text),
    sa.Column("created", UTCDateTime, nullable=False),
    # Who follows a thing: analysis priority and page freshness (0007).
    sa.Index("ix_interests_kind_value", "kind", "value"),
)

#: What was shown to a reader and what they did (``tidings.types.ReaderEvent``).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _part_of("reader_id", "readers"),
    _part_of("article_id", "articles"),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("at", UTCDateTime, nullable=False),
    # An impression's features as the ranker scored it (migration 0006), packed by ranking.
    sa.Column("features", sa.LargeBinary),
    # A reader's history, newest first; and "has this reader seen / read this article".
    sa.Index("ix_events_reader_id_at", "reader_id", "at"),
    sa.Index("ix_events_reader_id_article_id", "reader_id", "article_id"),
    sa.Index("ix_events_article_id", "article_id"),
    sqlite_autoincrement=True,
)

#: Articles a reader saved for later.
saved = sa.Table(
    "saved",
    metadata,
    _part_of("reader_id", "readers", key=True),
    _part_of("article_id", "articles", key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_saved_article_id", "article_id"),
)


#: Articles a reader added themselves, by link or copied page (migration 0008): their
#: clippings, which their exported data carries and deleting their account removes.
clippings = sa.Table(
    "clippings",
    metadata,
    _part_of("reader_id", "readers", key=True),
    _part_of("article_id", "articles", key=True),
    sa.Column("added", UTCDateTime, nullable=False),
    sa.Index("ix_clippings_article_id", "article_id"),
)


# --- accounts and search (migration 0004) --------------------------------------------------

#: How a reader signs in and is reached (``tidings.types.Account``).
accounts = sa.Table(
    "accounts",
    metadata,
    _part_of("reader_id", "readers", key=True),
    sa.Column("email", sa.Text),
    # argon2id, in the PHC string format; NULL until a password is set.
    sa.Column("password_hash", sa.Text),
    sa.Column("digest", sa.String(8), nullable=False),
    sa.Column("digest_last_sent", UTCDateTime),
    sa.Column("created", UTCDateTime, nullable=False),
    # The worker composing and sending the digest now, until when (0007).
    sa.Column("digest_lease_owner", sa.String(128)),
    sa.Column("digest_lease_until", UTCDateTime),
)

#: Sessions, API tokens and private-feed tokens (``tidings.types.Token``); only the
#: SHA-256 of each secret is kept.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _part_of("reader_id", "readers"),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("last_used", UTCDateTime),
    sa.Column("expires", UTCDateTime),
    sa.Column("revoked", UTCDateTime),
    sa.Index("ux_tokens_secret_hash", "secret_hash", unique=True),
    sa.Index("ix_tokens_reader_id_kind", "reader_id", "kind"),
    sqlite_autoincrement=True,
)

#: Models learned from all readers (the global ranking weights), by name, as JSON.
models = sa.Table(
    "models",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("fitted_at", UTCDateTime, nullable=False),
    # How many examples it was learned from.
    sa.Column("examples", sa.Integer, nullable=False),
)

#: Per article and UTC day (days since 1970-01-01), how many readers were first shown it
#: and first engaged with it (opened, saved, shared) that day; kept as events are recorded,
#: so that popularity is read per candidate without scanning events. Counts only, never who.
engagement = sa.Table(
    "engagement",
    metadata,
    _part_of("article_id", "articles", key=True),
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("shown", sa.Integer, nullable=False),
    sa.Column("engaged", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_engagement_seq", "seq"),
)

# --- the change sequence (migration 0006) ------------------------------------------------

#: Every write of an analysis, a story's counts or an article's engagement stamps the rows
#: it writes (their ``seq``) with the next number of one sequence, so that a serving process
#: can ask what changed after the last number it read (``RankingStorage.ranking_changes``).
#: PostgreSQL's numbers come from the sequence ``change_seq``; SQLite has no sequences, so
#: they come from this table's one row.
change_counter = sa.Table(
    "change_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.CheckConstraint("id = 1", name="one_row"),
    info={"dialect": "sqlite"},
)

#: Articles deleted (their source removed), with the change that deleted them.
article_removals = sa.Table(
    "article_removals",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("removed", UTCDateTime, nullable=False),
)

# --- workers (migration 0007) ----------------------------------------------------------------

#: One row: a random token made when the database was created, so that a file built from
#: it (a vector index) is never taken for one of another database at the same URL.
database_identity = sa.Table(
    "database_identity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    # 32 hex digits.
    sa.Column("token", sa.String(32), nullable=False),
    sa.CheckConstraint("id = 1", name="one_row"),
)

#: Articles waiting for analysis, in the order workers take them: first those with no
#: analysis yet (``needs`` 0: a quick pass makes them rankable) before those waiting for
#: their full one (1); within that, those naming something a reader follows (``priority``
#: 0) before the rest (1); newest first. A worker leases rows (``lease_owner`` until
#: ``lease_until``) and another takes them over once the lease runs out.
analysis_queue = sa.Table(
    "analysis_queue",
    metadata,
    _part_of("article_id", "articles", key=True),
    # The version queued: an analysis of another version does not take it off the queue.
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("needs", sa.SmallInteger, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("dated", UTCDateTime, nullable=False),
    # When the version was stored: freshness is measured from here.
    sa.Column("queued", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_until", UTCDateTime),
)
sa.Index(
    "ix_analysis_queue_order",
    analysis_queue.c.needs,
    analysis_queue.c.priority,
    analysis_queue.c.dated.desc(),
)

#: The last change that brought a new article to something readers follow (an entity, a
#: topic, a source, a story, an author; ``*`` for everything at once: a source removed,
#: new ranking weights): a reader's cached page is stale once one of theirs moves.
follow_marks = sa.Table(
    "follow_marks",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    # The latest of them, from the index alone, on every page (Engine.feed).
    sa.Index("ix_follow_marks_seq", "seq"),
)

#: Attempts counted by rate limits, shared by every serving process: per key (a hash of
#: what is limited, so no address or name is kept), the times of the attempts in the
#: window, as JSON.
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("hits", sa.Text, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Index("ix_rate_limits_until", "until"),
)

#: Full-text search lives outside this module's tables: an FTS5 table kept by triggers on
#: SQLite, an expression GIN index on PostgreSQL (see migration 0004). Comparisons of this
#: module with a database leave them out (:func:`objects_for`).
SEARCH_OBJECTS = ("articles_fts", "ix_articles_search")


def objects_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """An Alembic ``include_object`` hook that leaves out what is meant for another
    database, so that comparing a database with this module shows only real drift."""

    def include(obj: Any, _name: str | None, _type: str, reflected: bool, _compare_to: Any) -> bool:
        info = getattr(obj, "info", None) or {}
        if reflected and _name is not None and _name.startswith(SEARCH_OBJECTS):
            return False
        return reflected or info.get("dialect", dialect) == dialect

    return include
