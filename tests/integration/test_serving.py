"""``tidings serve`` as a real process: who a client is behind proxies, and plain HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.processes import TidingsProcess, free_port, tidings_env
from tidings.cli.serving import plain_http_warning

pytestmark = pytest.mark.integration


def sign_ups(base: str, count: int) -> list[int]:
    """Sign up ``count`` new readers from loopback, each claiming another client address."""
    statuses = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(count):
            response = client.post(
                "/api/signup",
                json={"name": f"reader{n}", "password": "a long enough password"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            statuses.append(response.status_code)
    return statuses


@pytest.mark.parametrize("trusted", [False, True], ids=["no-proxy", "trusted-proxy"])
def test_forwarded_for_counts_only_from_trusted_proxies(tmp_path: Path, trusted: bool) -> None:
    """Rotating X-Forwarded-For from loopback used to get all 15 sign-ups through the
    limit of 10 a minute per address: uvicorn trusts 127.0.0.1 by default."""
    port = free_port()
    extra = {"TIDINGS_TRUSTED_PROXIES": "127.0.0.1/32"} if trusted else {}
    env = tidings_env(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, **extra)
    with TidingsProcess(["serve", "--port", str(port)], env) as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/api/health")
        statuses = sign_ups(f"http://127.0.0.1:{port}", 15)
    if trusted:
        # The proxy vouches for 15 different clients, each within its own limit.
        assert statuses == [201] * 15
    else:
        assert statuses == [201] * 10 + [429] * 5


def test_plain_http_beyond_this_machine_is_warned_about(tmp_path: Path) -> None:
    port = free_port()
    env = tidings_env(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    with TidingsProcess(["serve", "--host", "0.0.0.0", "--port", str(port)], env) as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/api/health")
        output = server.output
    assert "warning: serving plain HTTP on 0.0.0.0" in output
    assert "TIDINGS_TRUSTED_PROXIES" in output and "--ssl-certfile" in output
    port = free_port()
    with TidingsProcess(["serve", "--port", str(port)], env) as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/api/health")
        assert "warning" not in server.output


def test_plain_http_warning_decision() -> None:
    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.1.1"):
        assert plain_http_warning(host, tls=False, behind_proxy=False) is None
    for host in ("0.0.0.0", "::", "192.0.2.7", "news.example.org"):
        assert plain_http_warning(host, tls=False, behind_proxy=False) is not None
        assert plain_http_warning(host, tls=True, behind_proxy=False) is None
        assert plain_http_warning(host, tls=False, behind_proxy=True) is None
