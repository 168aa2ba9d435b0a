"""Storage on SQLite or PostgreSQL through SQLAlchemy Core.

:func:`open_storage` is the way in: it prepares the connections (SQLite pragmas, timeouts),
brings the schema to the newest migration and returns a :class:`SQLStorage`. Every driver
or SQLAlchemy exception is converted to :class:`~tidings.errors.StorageError` where it
leaves this package, with a one-line message that never contains the database password.

One module per domain, each a mixin over :class:`~tidings.store.sql.connection.SQLBase`
(the engine, transactions, error conversion, migration): ``sources``, ``articles`` (with
search), ``enrichment`` (what the enrichment stage reads and writes), ``findings``
(entities, stories and topics as pages read them), ``readers`` (interests, events, saved
articles, engagement counts), ``accounts`` (accounts and tokens), ``ranking`` (what the
page reads, learned models) and ``work`` (what processes sharing the database share: leases
on work, changes to follow). ``rows`` converts rows that several of them share.
"""

from __future__ import annotations

from tidings.store.sql.accounts import AccountsMixin
from tidings.store.sql.articles import PG_SEARCH_VECTOR, ArticlesMixin
from tidings.store.sql.connection import alembic_config, create_engine
from tidings.store.sql.enrichment import EnrichmentMixin
from tidings.store.sql.findings import FindingsMixin
from tidings.store.sql.ranking import RankingMixin
from tidings.store.sql.readers import ENGAGING, ReadersMixin
from tidings.store.sql.sources import SourcesMixin
from tidings.store.sql.work import WorkMixin

__all__ = ["ENGAGING", "PG_SEARCH_VECTOR", "SQLStorage", "alembic_config", "open_storage"]


class SQLStorage(
    SourcesMixin,
    ArticlesMixin,
    EnrichmentMixin,
    FindingsMixin,
    ReadersMixin,
    AccountsMixin,
    RankingMixin,
    WorkMixin,
):
    """:class:`tidings.store.base.Storage` on SQLAlchemy Core.

    Build it with :func:`open_storage`, which configures the engine's connections and
    migrates the schema; the constructor takes the engine as it is.
    """


def open_storage(url: str) -> SQLStorage:
    """Open (and, if needed, create or upgrade) the database at ``url``.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path/to/file.sqlite`` or
    ``postgresql+psycopg://user:password@host/dbname`` (plain ``postgresql://`` means
    psycopg 3 too). Safe to call on an already-migrated database and from several processes
    at once. Raises StorageError.
    """
    engine, parsed = create_engine(url)
    storage = SQLStorage(
        engine,
        safe_url=parsed.render_as_string(hide_password=True),
        password=parsed.password,
    )
    try:
        storage.migrate()
    except BaseException:
        storage.close()
        raise
    return storage
