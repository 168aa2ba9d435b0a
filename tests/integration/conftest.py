"""Fixtures for integration tests: real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tidings.config import Settings
from tidings.engine import Engine, make_engine


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A fresh HTTP server on 127.0.0.1 (see ``tests/loopback.py`` for its API).

    One per test: starting one takes about a millisecond, and nothing leaks between tests.
    """
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine over a fresh SQLite file in the test's own folder (files that need other
    settings define their own ``engine``)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    with make_engine(settings) as e:
        yield e


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the fetcher uses asyncio primitives."""
    return "asyncio"
