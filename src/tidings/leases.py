"""Who holds a lease on shared work, and for how long (see ``store/sql/work.py``).

Workers sharing one database divide the work by leasing it: a due source, a batch of
articles to analyse, a digest to send. A lease names its holder and runs out at a time, so a
worker that dies lets its work go to the others. Pure: names and times only.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from datetime import datetime, timedelta


def holder_name(token: str) -> str:
    """The name a lease is taken under: host, process and ``token`` (each stage of a process
    has its own, so two threads never mistake each other's leases), at most 128 characters.
    The process id is read at every call: a forked process is another holder."""
    host = socket.gethostname()[:64]
    return f"{host}:{os.getpid()}:{threading.get_native_id()}:{token}"[:128]


def new_token() -> str:
    return secrets.token_hex(4)


def lease_until(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def source_lease_seconds(lease_seconds: float, source_deadline: float) -> float:
    """How long a source is leased: never shorter than twice its deadline (a source's whole
    read, feed and pages, ends at its deadline; storing what it brought and the margin for a
    loaded machine fit in the second one), so that no lease runs out under a live worker and
    no source is read twice in one due window."""
    return max(lease_seconds, 2 * source_deadline)
