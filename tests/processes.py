"""Tidings itself as real processes, for tests that run several: servers and workers.

``free_port()`` finds a loopback port; ``TidingsProcess`` runs ``python -m tidings ...`` with
its output going to a file (a pipe nobody reads would fill and stall the process), and stops
it on exit (SIGTERM, then SIGKILL after a grace period)::

    with TidingsProcess(["serve", "--port", str(port)], env) as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/api/health")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tidings_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a Tidings process on ``database_url``: nothing inherited that
    configures Tidings (a developer's TIDINGS_* variables or config file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=database_url, TIDINGS_DATA_DIR=str(data_dir), **extra)
    return env


class TidingsProcess:
    """One ``tidings`` command running in its own process (module docstring)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix="tidings-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tidings", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def output(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def wait_for_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"tidings {self.args} exited early:\n{self.output}")
            try:
                if httpx.get(url, timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"tidings {self.args} did not answer {url}:\n{self.output}")

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"tidings {self.args} still running after {timeout} s:\n{self.output}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no cleanup of any kind."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, grace: float = 20.0) -> int | None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self._log.closed:
            self._log.close()
        return self.process.returncode
