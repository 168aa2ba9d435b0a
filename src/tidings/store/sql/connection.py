"""Connections, transactions and the schema's migration, shared by every part of the storage.

:func:`create_engine` prepares the connections (SQLite pragmas, timeouts); :class:`SQLBase`
holds the engine and runs every query in :meth:`SQLBase._transaction`, which converts driver
and SQLAlchemy exceptions to :class:`~tidings.errors.StorageError` with a one-line message
that never contains the database password.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite

from tidings.errors import StorageError, TidingsError
from tidings.store.schema import change_counter

#: The Alembic environment shipped inside the package.
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

#: Keys per ``IN (…)`` query. SQLite before 3.32 allowed 999 bound variables per statement;
#: 500 stays under that with room for the query's other parameters, and still lets a batch
#: of a few hundred entries look up each kind of key with one query.
IN_CHUNK = 500

#: How long a SQLite connection waits for another writer, in milliseconds. Our write
#: transactions are short (a batch of a few hundred articles commits in tens of
#: milliseconds), so 15 s runs out only when something is wedged, and a person should
#: then see an error rather than a hang.
SQLITE_BUSY_TIMEOUT_MS = 15_000

#: Seconds to wait for a PostgreSQL server to accept a connection (unless the URL sets
#: ``connect_timeout``): long enough for a busy server on a slow network, short enough that
#: a wrong host name fails while the operator is still looking.
PG_CONNECT_TIMEOUT_S = 10

#: PostgreSQL advisory lock that serialises concurrent first opens while they migrate;
#: an arbitrary constant ("tidings" in ASCII) so that it will not collide with another app.
PG_MIGRATION_LOCK = 0x74696469_6E6773

#: Execution option marking a connection whose transactions write; on SQLite they begin
#: IMMEDIATE (see ``_configure_sqlite``).
_WRITES = "tidings_writes"
#: Where a write transaction keeps its change number (:func:`change_seq`).
_SEQ = "tidings_change_seq"

#: Attempts (50 ms apart) to switch a new database file to WAL: the switch needs a moment
#: alone with the file and, unlike ordinary statements, does not wait on the busy timeout,
#: so processes opening a fresh database together retry it. 100 x 50 ms = 5 s at most.
WAL_SWITCH_ATTEMPTS = 100


def alembic_config(url: str | None = None, *, connection: sa.Connection | None = None) -> Config:
    """Alembic configuration for the packaged migrations, built in code (no alembic.ini).

    ``open_storage`` passes ``connection``; a developer writing a new revision passes a
    ``url``: ``command.revision(alembic_config(url), "message", rev_id="0002")``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Split version locations on the OS path separator, not on spaces: the installed
    # package may live under a folder whose name has a space.
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolates %, which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def create_engine(url: str) -> tuple[sa.Engine, sa.URL]:
    """An engine for the database at ``url``, its connections set up for Tidings, and the
    URL as used (plain ``postgresql://`` means psycopg 3). Connects to nothing yet.
    Raises StorageError.
    """
    try:
        parsed = sa.make_url(url)
    except (exc.ArgumentError, ValueError):
        # Not "from e": SQLAlchemy's message repeats the URL, password included.
        raise StorageError(
            "not a database URL; expected sqlite:///path/to/file.sqlite "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    safe_url = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()

    try:
        if backend == "sqlite":
            _create_sqlite_folder(parsed)
            engine = sa.create_engine(parsed)
            _configure_sqlite(engine)
        elif backend == "postgresql":
            connect_args = {}
            if "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
            # pre_ping: a long-running server outlives database restarts and idle cut-offs.
            engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        else:
            raise StorageError(
                f"unsupported database {backend!r}; Tidings stores its data in SQLite "
                "(sqlite:///…) or PostgreSQL (postgresql+psycopg://…)",
                resource=safe_url,
            )
    except ImportError as e:
        raise StorageError(
            f"the database driver for this URL is not installed ({_first_line(e)}); "
            "Tidings uses psycopg 3 for PostgreSQL: postgresql+psycopg://…",
            resource=safe_url,
        ) from e
    except exc.SQLAlchemyError as e:
        raise StorageError(
            f"cannot use this database URL: {_first_line(e)}", resource=safe_url
        ) from e
    return engine, parsed


def _create_sqlite_folder(url: sa.URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(
            f"cannot create the database folder {folder}: {e.strerror}", resource=str(folder)
        ) from e


def _configure_sqlite(engine: sa.Engine) -> None:
    """Set up every new SQLite connection for several processes sharing one file.

    WAL lets readers run while one process writes; the busy timeout makes a writer wait
    for another instead of failing at once; foreign keys are off in SQLite unless asked.
    Transactions are begun by us rather than the sqlite3 module so that writing ones can
    be ``BEGIN IMMEDIATE``: they take the write lock before reading, so two writers queue
    on the busy timeout instead of one failing when it tries to upgrade a read lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS:d}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _enable_wal(cursor)
            # In WAL mode NORMAL is safe against corruption and against application
            # crashes; only a power loss can lose the last commits. It saves an fsync per
            # commit, which dominates the cost of a small ingest batch.
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        writes = connection.get_execution_options().get(_WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """WAL is a property of the file: set it once, and only when it is not set yet."""
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def _first_line(e: BaseException) -> str:
    """The driver's own words about a failure, without SQL, parameters or SQLAlchemy's
    links: those can be long (an article body) and say nothing to an operator."""
    cause: BaseException = e
    if isinstance(e, exc.StatementError) and e.orig is not None:
        cause = e.orig
    for line in str(cause).splitlines():
        if line.strip():
            return line.strip()
    return type(cause).__name__


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``, for ``IN (…)`` queries."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def change_seq(conn: sa.Connection) -> int:
    """This write transaction's number in the change sequence (migration 0006): taken on
    first use, the same for every row the transaction stamps. PostgreSQL's sequence hands
    numbers out at once, so they may commit out of order (readers look again for numbers
    missing below the highest they read); SQLite's writers are serialised, so its counter's
    numbers commit in order."""
    found = conn.info.get(_SEQ)
    if found is None:
        if conn.dialect.name == "postgresql":
            found = conn.execute(sa.text("SELECT nextval('change_seq')")).scalar_one()
        else:
            found = conn.execute(
                sa.update(change_counter)
                .values(value=change_counter.c.value + 1)
                .returning(change_counter.c.value)
            ).scalar_one()
        conn.info[_SEQ] = int(found)
    return int(found)


def insert_for(conn: sa.Connection) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING (Core's generic one has not)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class SQLBase:
    """What every part of :class:`tidings.store.sql.SQLStorage` shares: the engine,
    transactions that convert database errors, and the schema's migration."""

    def __init__(
        self, engine: sa.Engine, *, safe_url: str | None = None, password: str | None = None
    ) -> None:
        self._engine = engine
        self._safe_url = safe_url or engine.url.render_as_string(hide_password=True)
        self._password = password if password is not None else engine.url.password

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._safe_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    def after_fork(self) -> None:
        """In a process forked from one that used this storage: open connections of its
        own, leaving the parent's alone (a connection must never cross a fork)."""
        self._engine.dispose(close=False)

    def _error(self, doing: str, e: BaseException) -> StorageError:
        message = f"cannot {doing}: {_first_line(e)}"
        if self._password:
            # Drivers do not print passwords today; this keeps it so if one ever does.
            message = message.replace(self._password, "***")
        return StorageError(message, resource=self._safe_url)

    @contextmanager
    def _transaction(self, doing: str, *, writes: bool = False) -> Iterator[sa.Connection]:
        """A connection in a transaction that commits if the block ends without error.

        Database errors become StorageError("cannot <doing>: <driver's first line>"), so
        the operator reads what Tidings was doing rather than which library failed.
        """
        try:
            conn = self._engine.connect()
        except (exc.SQLAlchemyError, sqlite3.Error) as e:
            raise self._error("connect to the database", e) from e
        try:
            with conn:
                if writes:
                    conn.execution_options(**{_WRITES: True})
                with conn.begin():
                    # A pooled connection's info outlives the transaction that took a number.
                    conn.info.pop(_SEQ, None)
                    yield conn
        except TidingsError:
            raise
        except (exc.SQLAlchemyError, sqlite3.Error) as e:
            raise self._error(doing, e) from e

    def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is there already.

        Concurrent callers are serialised (an advisory lock on PostgreSQL, the write lock
        on SQLite) and each re-reads the version under the lock, so the first one migrates
        and the others find nothing to do. Raises StorageError.
        """
        try:
            script = ScriptDirectory.from_config(alembic_config())
            heads = set(script.get_heads())
            known = {rev.revision for rev in script.walk_revisions()}
        except (CommandError, RevisionError) as e:
            raise StorageError(f"the packaged migrations are broken: {e}") from e
        with self._transaction("read the schema version") as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        if current == heads:
            return
        if unknown := current - known:
            raise StorageError(
                f"the database schema is at revision {', '.join(sorted(unknown))}, which this "
                "version of Tidings does not know; it was written by a newer Tidings",
                resource=self._safe_url,
            )
        with self._transaction("migrate the schema", writes=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_MIGRATION_LOCK)))
            try:
                command.upgrade(alembic_config(connection=conn), "head")
            except (CommandError, RevisionError) as e:
                raise StorageError(
                    f"cannot migrate the schema: {e}", resource=self._safe_url
                ) from e

    def schema_revision(self) -> tuple[str, ...]:
        """The Alembic revision(s) the database is at. Raises StorageError."""
        with self._transaction("read the schema version") as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())

    def _insert_one(
        self, doing: str, table: sa.Table, values: dict[str, Any], *, taken: TidingsError
    ) -> sa.Row[Any]:
        """Insert a row and return it as stored; raise ``taken`` when a unique index refuses
        it. Relying on the index, rather than looking first, is also right when two
        processes race."""
        try:
            with self._transaction(doing, writes=True) as conn:
                return conn.execute(sa.insert(table).values(values).returning(table)).one()
        except StorageError as e:
            if isinstance(e.__cause__, exc.IntegrityError):
                raise taken from e.__cause__
            raise
