"""Alembic migrations of the Tidings schema, run by ``tidings.store.sql.open_storage``.

This folder is a package only so that ``env.py`` ships with the wheel; Alembic loads the
files here by path, never by import.
"""
