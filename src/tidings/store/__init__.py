"""Storage: the protocol the rest of Tidings codes against, and its SQL implementation.

``SQLStorage`` and ``open_storage`` are loaded on first use, so that stages importing only
the protocol do not pay for importing SQLAlchemy and Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.store.base import Storage

if TYPE_CHECKING:
    from tidings.store.sql import SQLStorage, open_storage

__all__ = ["SQLStorage", "Storage", "open_storage"]


def __getattr__(name: str) -> object:
    if name in ("SQLStorage", "open_storage"):
        from tidings.store import sql

        return getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
