"""Fixtures for integration tests: real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.loopback import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A fresh HTTP server on 127.0.0.1 (see ``tests/loopback.py`` for its API).

    One per test: starting one takes about a millisecond, and nothing leaks between tests.
    """
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the fetcher uses asyncio primitives."""
    return "asyncio"
