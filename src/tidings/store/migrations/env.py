"""Alembic environment for the Tidings schema.

``tidings.store.sql.open_storage`` runs it with a connection that already holds the
migration lock inside an open transaction (``config.attributes["connection"]``), so the
upgrade and its version bookkeeping commit or roll back together. Developers writing a new
revision build the same configuration with ``tidings.store.sql.alembic_config(url)``, in
which case this file opens its own connection from ``sqlalchemy.url``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from tidings.store.schema import metadata, objects_for


def _run_with(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=objects_for(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if isinstance(connection, sa.Connection):
        _run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            _run_with(conn)
            conn.commit()
    finally:
        engine.dispose()


run_migrations()
