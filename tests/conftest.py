"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
