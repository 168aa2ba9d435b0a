"""Fixtures shared by the whole suite.

``database_url``: every test that takes it runs on SQLite, and on PostgreSQL when one is
configured: ``TIDINGS_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://tidings:tidings@127.0.0.1:5432/tidings_test``). Each test gets a
schema of its own, made the connection's ``search_path`` through the URL, so that tables and
Alembic's version table start empty and tests cannot see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

#: The shared benchmark data, read in place (never copied into the repository).
SHARED_DATA = Path(
    os.environ.get(
        "TIDINGS_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder; tests that need it skip with a clear message without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA} (set TIDINGS_SHARED_DATA)")
    return SHARED_DATA


PG_URL = os.environ.get("TIDINGS_TEST_DATABASE_URL")


def _pg_schema_url(base: str, schema: str) -> str:
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema, dropped afterwards; skips (or fails, with
    TIDINGS_REQUIRE_POSTGRES) without TIDINGS_TEST_DATABASE_URL."""
    if not PG_URL:
        if os.environ.get("TIDINGS_REQUIRE_POSTGRES"):
            pytest.fail("TIDINGS_REQUIRE_POSTGRES is set but TIDINGS_TEST_DATABASE_URL is not")
        pytest.skip("PostgreSQL tests need TIDINGS_TEST_DATABASE_URL (postgresql+psycopg://…)")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG_URL, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[pytest.mark.postgres, pytest.mark.integration],
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'tidings.sqlite'}"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema (for what only PostgreSQL does: many workers)."""
    with pg_schema() as url:
        yield url
