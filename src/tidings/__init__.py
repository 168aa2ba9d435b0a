"""Tidings: a self-hostable engine that turns news from many sources into a personalised feed.

The one entry point is :func:`tidings.engine.make_engine`; the public data types live in
:mod:`tidings.types` and the errors in :mod:`tidings.errors`.
"""

__version__ = "0.1.0"
