"""The ``tidings`` command line for operators, one module per group of commands.

Every command talks to the Engine. Errors print as one line on stderr with a non-zero exit
status, never as a traceback (``--debug`` shows the traceback for bug reports). ``--json``
prints the HTTP API's own schemas (:mod:`tidings.api.schemas`), so scripts read one shape
from either.

``main`` (the group and its shared options), ``context`` (settings and the Engine each
command is handed), ``output`` (errors, dates, JSON); the commands: ``sources`` (sources,
OPML, ingest), ``articles`` (articles, extract, search), ``understanding`` (enrich,
entities, stories, topics), ``readers`` (readers, follows and mutes, events, the feed,
learning), ``accounts`` (passwords, API tokens), ``digests``, ``serving`` (serve, demo),
``bench`` and ``evaluation``.
"""

from tidings.cli.main import cli, main

__all__ = ["cli", "main"]
