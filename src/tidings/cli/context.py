"""What every command is handed: the settings and, opened on first use, the Engine."""

from __future__ import annotations

import click

from tidings.config import Settings
from tidings.engine import Engine, make_engine


class Context:
    """What every command needs: settings and, lazily, an open Engine."""

    def __init__(self, settings: Settings, debug: bool) -> None:
        self.settings = settings
        self.debug = debug
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


pass_ctx = click.make_pass_decorator(Context)
