"""Storage fixtures: every test runs on SQLite, and on PostgreSQL when one is configured
(``database_url``, in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tidings.store.sql import SQLStorage, open_storage


@pytest.fixture
def storage(database_url: str) -> Iterator[SQLStorage]:
    opened = open_storage(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def raw(database_url: str, storage: SQLStorage) -> Iterator[sa.Engine]:
    """A plain engine on the same database, for looking behind the storage's back."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
