"""The reader's pages: server-rendered templates, forms that work without JavaScript.

:func:`install` adds the pages and their static files to the HTTP app
(``tidings.api.app.create_app`` calls it).
"""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the reader's pages to ``app``."""
