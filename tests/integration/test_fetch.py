"""The fetcher against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import pytest

from tests.loopback import Canned, LoopbackServer
from tidings.config import FetchSettings
from tidings.errors import (
    BlockedAddressError,
    FetchConnectionError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from tidings.ingest.fetch import (
    FEED_ACCEPT,
    Fetcher,
    freshness_seconds,
    guarded_transport,
    parse_retry_after,
)
from tidings.ingest.netguard import IPAddress, Resolver

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def make_settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {
        "allowed_networks": LOOPBACK_ONLY,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 5.0,
        "attempts": 1,
        "backoff_base": 0.5,
        "backoff_max": 30.0,
        "user_agent": "TidingsTest/1.0 (+https://example.org/bot)",
    }
    values.update(overrides)
    return FetchSettings(**values)


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers the delays, waits for none of them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def names(mapping: dict[str, str]) -> Resolver:
    """A resolver for test host names; DNS is the one thing these tests fake."""

    async def resolve(host: str, port: int) -> Sequence[IPAddress]:
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(mapping[host])]

    return resolve


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def fetcher(sleep: RecordingSleep) -> AsyncIterator[Fetcher]:
    async with Fetcher(make_settings(), sleep=sleep) as f:
        yield f


# --- a normal fetch and conditional requests ---------------------------------------------


async def test_fetch_returns_body_headers_and_validators(
    loopback: LoopbackServer, fetcher: Fetcher
) -> None:
    loopback.serve(
        "/feed.xml",
        FEED,
        content_type="application/rss+xml; charset=utf-8",
        etag='"v1"',
        last_modified="Mon, 06 Jan 2025 10:00:00 GMT",
        headers={"Cache-Control": "public, max-age=600", "Age": "100", "X-Thing": "yes"},
    )
    before = datetime.now(UTC)
    response = await fetcher.fetch(loopback.url("/feed.xml"))

    assert response.status == 200
    assert not response.not_modified
    assert response.content == FEED
    assert response.url == loopback.url("/feed.xml")
    assert response.etag == '"v1"'
    assert response.last_modified == "Mon, 06 Jan 2025 10:00:00 GMT"
    assert response.content_type == "application/rss+xml; charset=utf-8"
    assert response.headers["x-thing"] == "yes"
    assert response.max_age == 500  # max-age less the Age the response already had
    assert before <= response.fetched_at <= datetime.now(UTC)
    sent = loopback.requests("/feed.xml")[0].headers
    assert sent["user-agent"] == "TidingsTest/1.0 (+https://example.org/bot)"
    assert sent["accept"] == FEED_ACCEPT
    assert sent["accept-encoding"] == "gzip, deflate, br"
    assert "if-none-match" not in sent


async def test_etag_round_trip_gives_304_without_a_body(
    loopback: LoopbackServer, fetcher: Fetcher
) -> None:
    loopback.serve("/feed.xml", FEED, etag='"v1"')
    first = await fetcher.fetch(loopback.url("/feed.xml"))
    second = await fetcher.fetch(loopback.url("/feed.xml"), etag=first.etag)

    assert second.not_modified
    assert second.status == 304
    assert second.content == b""
    assert second.etag == '"v1"'
    assert loopback.requests("/feed.xml")[1].headers["if-none-match"] == '"v1"'
    assert loopback.hits("/feed.xml") == 2


async def test_last_modified_round_trip_gives_304(
    loopback: LoopbackServer, fetcher: Fetcher
) -> None:
    stamp = "Mon, 06 Jan 2025 10:00:00 GMT"
    loopback.serve("/feed.xml", FEED, last_modified=stamp)
    response = await fetcher.fetch(loopback.url("/feed.xml"), last_modified=stamp)

    assert response.not_modified
    assert response.last_modified == stamp
    assert response.etag is None
    assert loopback.requests("/feed.xml")[0].headers["if-modified-since"] == stamp


async def test_changed_etag_gives_the_new_body(loopback: LoopbackServer, fetcher: Fetcher) -> None:
    loopback.serve("/feed.xml", FEED, etag='"v2"')
    response = await fetcher.fetch(loopback.url("/feed.xml"), etag='"v1"')
    assert response.status == 200
    assert response.content == FEED
    assert response.etag == '"v2"'


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compressed_bodies_are_decoded(
    loopback: LoopbackServer, fetcher: Fetcher, encoding: Any
) -> None:
    body = FEED * 500
    loopback.serve("/feed.xml", body, encoding=encoding)
    response = await fetcher.fetch(loopback.url("/feed.xml"))
    assert response.content == body
    assert response.headers["content-encoding"] == encoding


async def test_raw_deflate_without_zlib_header_is_decoded(
    loopback: LoopbackServer, fetcher: Fetcher
) -> None:
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = squeezer.compress(FEED) + squeezer.flush()
    loopback.add("/feed.xml", Canned(body=raw, headers={"Content-Encoding": "deflate"}))
    assert (await fetcher.fetch(loopback.url("/feed.xml"))).content == FEED


async def test_unrequested_content_encoding_is_an_error(
    loopback: LoopbackServer, fetcher: Fetcher
) -> None:
    loopback.add(
        "/feed.xml", Canned(body=b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"})
    )
    with pytest.raises(FetchError, match="Content-Encoding 'zstd'"):
        await fetcher.fetch(loopback.url("/feed.xml"))


# --- size limits --------------------------------------------------------------------------


async def test_declared_length_over_the_limit_is_refused_before_reading(
    loopback: LoopbackServer,
) -> None:
    loopback.endless("/huge", content_length=10 * 1024**3)
    async with Fetcher(make_settings(max_body_bytes=1000)) as fetcher:
        with pytest.raises(ResponseTooLargeError) as caught:
            await fetcher.fetch(loopback.url("/huge"))
    assert "10,737,418,240 bytes (Content-Length)" in str(caught.value)
    assert "1,000 bytes limit" in str(caught.value)
    assert "TIDINGS_MAX_BODY_BYTES" in str(caught.value)


async def test_chunked_body_over_the_limit_is_stopped_while_streaming(
    loopback: LoopbackServer,
) -> None:
    loopback.serve("/big", b"x" * 5000, chunked=True)
    loopback.endless("/endless")
    async with Fetcher(make_settings(max_body_bytes=1000)) as fetcher:
        with pytest.raises(ResponseTooLargeError, match="over the 1,000 bytes limit"):
            await fetcher.fetch(loopback.url("/big"))
        assert "content-length" not in loopback.requests("/big")[0].headers
        with pytest.raises(ResponseTooLargeError):
            await fetcher.fetch(loopback.url("/endless"))


async def test_body_at_the_limit_is_accepted(loopback: LoopbackServer) -> None:
    loopback.serve("/exact", b"x" * 1000, chunked=True)
    async with Fetcher(make_settings(max_body_bytes=1000)) as fetcher:
        assert len((await fetcher.fetch(loopback.url("/exact"))).content) == 1000


async def test_gzip_bomb_is_stopped_by_its_decompressed_size(loopback: LoopbackServer) -> None:
    bomb = b"\0" * (64 * 1024 * 1024)
    loopback.serve("/bomb", bomb, encoding="gzip")  # about 64 KB on the wire
    async with Fetcher(make_settings(max_body_bytes=1024 * 1024)) as fetcher:
        with pytest.raises(ResponseTooLargeError) as caught:
            await fetcher.fetch(loopback.url("/bomb"))
    assert str(caught.value).startswith(
        f"{loopback.url('/bomb')}: decompressed response body is over the 1 MiB"
    )


async def test_brotli_bomb_never_inflates_in_memory(loopback: LoopbackServer) -> None:
    # 64 MiB of zeros is under 100 bytes of brotli; httpx's own decoder would inflate it in
    # one call, so this checks that our bounded decoding keeps memory near the limit.
    bomb = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=5)
    loopback.add("/bomb", Canned(body=bomb, headers={"Content-Encoding": "br"}))
    async with Fetcher(make_settings(max_body_bytes=1024 * 1024)) as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError, match="decompressed"):
                await fetcher.fetch(loopback.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


# --- timeouts -------------------------------------------------------------------------------


async def test_server_that_never_answers_times_out(loopback: LoopbackServer) -> None:
    loopback.hang("/hang")
    started = time.monotonic()
    async with Fetcher(make_settings(read_timeout=0.3)) as fetcher:
        with pytest.raises(FetchTimeoutError) as caught:
            await fetcher.fetch(loopback.url("/hang"))
    assert time.monotonic() - started < 2
    assert "read timeout" in str(caught.value)
    assert caught.value.transient


async def test_body_that_stops_arriving_times_out(loopback: LoopbackServer) -> None:
    loopback.hang("/stall", after_headers=True)
    async with Fetcher(make_settings(read_timeout=0.3)) as fetcher:
        with pytest.raises(FetchTimeoutError, match="read timeout"):
            await fetcher.fetch(loopback.url("/stall"))


async def test_slow_drip_is_cut_off_at_the_total_timeout(loopback: LoopbackServer) -> None:
    # Each byte arrives well within the read timeout; only the total deadline can stop it.
    loopback.drip("/drip", b"x" * 200, interval=0.05)
    started = time.monotonic()
    async with Fetcher(make_settings(read_timeout=1.0, total_timeout=0.6)) as fetcher:
        with pytest.raises(FetchTimeoutError) as caught:
            await fetcher.fetch(loopback.url("/drip"))
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 2
    assert str(caught.value) == (
        f"{loopback.url('/drip')}: no complete response within 0.6 s (total timeout)"
    )


async def test_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with Fetcher(make_settings()) as fetcher:
        with pytest.raises(FetchConnectionError) as caught:
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    assert str(caught.value) == (
        f"http://127.0.0.1:{port}/feed: cannot connect to 127.0.0.1 port {port}: connection refused"
    )
    assert caught.value.transient


async def test_unknown_host_is_a_connection_error() -> None:
    settings = make_settings()
    transport = guarded_transport(settings, resolve=names({}))
    async with Fetcher(settings, transport=transport) as fetcher:
        with pytest.raises(FetchConnectionError) as caught:
            await fetcher.fetch("http://nowhere.test/feed")
    assert str(caught.value) == (
        "http://nowhere.test/feed: cannot resolve host nowhere.test: Name or service not known"
    )


# --- HTTP errors and retries ---------------------------------------------------------------


async def test_server_error_is_retried_then_reported(loopback: LoopbackServer) -> None:
    loopback.status("/feed", 500)
    sleep = RecordingSleep()
    async with Fetcher(make_settings(attempts=3, backoff_base=0.5), sleep=sleep) as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.fetch(loopback.url("/feed"))
    error = caught.value
    assert error.status == 500
    assert error.transient
    assert error.retry_after is None
    assert str(error) == (
        f"{loopback.url('/feed')}: HTTP 500 Internal Server Error (after 3 attempts)"
    )
    assert loopback.hits("/feed") == 3
    # Full jitter: each wait is drawn from [0, base * 2**n].
    assert len(sleep.calls) == 2
    assert 0 <= sleep.calls[0] <= 0.5
    assert 0 <= sleep.calls[1] <= 1.0


async def test_server_error_then_success_returns_the_success(loopback: LoopbackServer) -> None:
    loopback.add("/feed", Canned(status=502), Canned(status=504), Canned(body=FEED))
    sleep = RecordingSleep()
    async with Fetcher(make_settings(attempts=3), sleep=sleep) as fetcher:
        response = await fetcher.fetch(loopback.url("/feed"))
    assert response.content == FEED
    assert loopback.hits("/feed") == 3


async def test_client_error_is_not_retried(loopback: LoopbackServer) -> None:
    loopback.status("/gone", 404)
    sleep = RecordingSleep()
    async with Fetcher(make_settings(attempts=3), sleep=sleep) as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.fetch(loopback.url("/gone"))
    assert caught.value.status == 404
    assert not caught.value.transient
    assert str(caught.value) == f"{loopback.url('/gone')}: HTTP 404 Not Found"
    assert loopback.hits("/gone") == 1
    assert sleep.calls == []


async def test_retry_after_within_backoff_max_is_waited(loopback: LoopbackServer) -> None:
    loopback.add("/feed", Canned(status=503, headers={"Retry-After": "1"}), Canned(body=FEED))
    sleep = RecordingSleep()
    async with Fetcher(make_settings(attempts=3), sleep=sleep) as fetcher:
        response = await fetcher.fetch(loopback.url("/feed"))
    assert response.content == FEED
    assert sleep.calls == [pytest.approx(1.0)]


async def test_long_retry_after_gives_up_at_once_and_says_when(loopback: LoopbackServer) -> None:
    loopback.status("/feed", 503, retry_after=3600)
    sleep = RecordingSleep()
    async with Fetcher(make_settings(attempts=3, backoff_max=30), sleep=sleep) as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.fetch(loopback.url("/feed"))
    assert caught.value.retry_after == 3600
    assert caught.value.status == 503
    assert "retry after 3600 s" in str(caught.value)
    assert loopback.hits("/feed") == 1
    assert sleep.calls == []


async def test_retry_after_as_http_date_on_429(loopback: LoopbackServer) -> None:
    when = datetime.fromtimestamp(time.time() + 7200, UTC)
    loopback.status("/feed", 429, retry_after=when.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    async with Fetcher(make_settings(attempts=3), sleep=RecordingSleep()) as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.fetch(loopback.url("/feed"))
    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(7200, abs=5)


async def test_timeouts_are_retried(loopback: LoopbackServer) -> None:
    loopback.add("/feed", Canned(body=FEED, delay=1.0), Canned(body=FEED))
    sleep = RecordingSleep()
    async with Fetcher(make_settings(attempts=2, read_timeout=0.2), sleep=sleep) as fetcher:
        response = await fetcher.fetch(loopback.url("/feed"))
    assert response.content == FEED
    assert len(sleep.calls) == 1


# --- redirects ------------------------------------------------------------------------------


async def test_relative_redirects_are_followed(loopback: LoopbackServer, fetcher: Fetcher) -> None:
    loopback.redirect("/old/feed", "../new/feed.xml", status=301)
    loopback.redirect("/new/feed.xml", "/final.xml?v=2", status=308)
    loopback.serve("/final.xml", FEED)
    response = await fetcher.fetch(loopback.url("/old/feed"))
    assert response.status == 200
    assert response.content == FEED
    assert response.url == loopback.url("/final.xml?v=2")


async def test_redirect_loop_is_stopped(loopback: LoopbackServer) -> None:
    loopback.redirect("/a", "/b")
    loopback.redirect("/b", "/a")
    async with Fetcher(make_settings(max_redirects=3, attempts=3)) as fetcher:
        with pytest.raises(TooManyRedirectsError, match="more than 3 redirects"):
            await fetcher.fetch(loopback.url("/a"))
    assert loopback.hits("/a") + loopback.hits("/b") == 4  # not retried: it will not heal


async def test_redirect_to_another_scheme_is_refused(
    loopback: LoopbackServer, fetcher: Fetcher
) -> None:
    loopback.redirect("/feed", "file:///etc/passwd")
    with pytest.raises(InvalidURLError, match="only http and https"):
        await fetcher.fetch(loopback.url("/feed"))


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("http://10.1.2.3/feed", "10.1.2.3 is a private address"),
        ("http://[::1]:{port}/feed", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://127.0.0.2:{port}/feed", "127.0.0.2 is a loopback address"),
        ("http://sneaky.test:{port}/feed", "sneaky.test resolves to 127.0.0.2, a loopback"),
    ],
)
async def test_redirect_from_allowed_host_to_private_address_is_refused(
    loopback: LoopbackServer, target: str, refused: str
) -> None:
    settings = make_settings()
    transport = guarded_transport(settings, resolve=names({"sneaky.test": "127.0.0.2"}))
    loopback.redirect("/feed", target.format(port=loopback.port))
    async with Fetcher(settings, transport=transport) as fetcher:
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(loopback.url("/feed"))
    assert refused in str(caught.value)
    assert "TIDINGS_ALLOWED_NETWORKS" in str(caught.value)
    assert not caught.value.transient


async def test_credentials_follow_redirects_on_the_same_host_only(
    loopback: LoopbackServer,
) -> None:
    settings = make_settings()
    transport = guarded_transport(settings, resolve=names({"other.test": "127.0.0.1"}))
    loopback.redirect("/private", "/private/feed")
    loopback.redirect("/private/feed", f"http://other.test:{loopback.port}/public")
    loopback.serve("/public", FEED)
    url = f"http://reader:s3cret@127.0.0.1:{loopback.port}/private"
    async with Fetcher(settings, transport=transport) as fetcher:
        response = await fetcher.fetch(url)

    assert response.url == f"http://other.test:{loopback.port}/public"
    auth = "Basic cmVhZGVyOnMzY3JldA=="  # reader:s3cret
    assert loopback.requests("/private")[0].headers["authorization"] == auth
    assert loopback.requests("/private/feed")[0].headers["authorization"] == auth
    assert "authorization" not in loopback.requests("/public")[0].headers


# --- the guard ------------------------------------------------------------------------------


async def test_loopback_is_refused_without_the_allow_list(loopback: LoopbackServer) -> None:
    loopback.serve("/feed", FEED)
    async with Fetcher(make_settings(allowed_networks=())) as fetcher:
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(loopback.url("/feed"))
    assert str(caught.value) == (
        f"{loopback.url('/feed')}: refused: 127.0.0.1 is a loopback address "
        "(allow it with TIDINGS_ALLOWED_NETWORKS)"
    )
    assert loopback.hits("/feed") == 0


async def test_connection_goes_to_the_checked_address(loopback: LoopbackServer) -> None:
    # A rebinding DNS server answers "allowed" once and "127.0.0.2" (refused, and not
    # where the server listens) afterwards. One lookup per connection means only the
    # first answer is ever used.
    answers = ["127.0.0.1", "127.0.0.2", "127.0.0.2"]
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address(answers[len(lookups) - 1])]

    loopback.serve("/feed", FEED)
    settings = make_settings()
    async with Fetcher(settings, transport=guarded_transport(settings, resolve=rebinding)) as f:
        response = await f.fetch(f"http://rebind.test:{loopback.port}/feed")
    assert response.content == FEED
    assert lookups == ["rebind.test"]
    assert loopback.requests("/feed")[0].headers["host"] == f"rebind.test:{loopback.port}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/feed", "uses ftp; only http and https are fetched"),
        ("file:///etc/passwd", "uses file; only http and https are fetched"),
        ("example.com/feed", "uses no scheme"),
        ("http:///feed", "has no host"),
        ("http://[::1/", "is not a valid URL"),
    ],
)
async def test_invalid_urls_are_refused(fetcher: Fetcher, url: str, message: str) -> None:
    with pytest.raises(InvalidURLError, match=re.escape(message)):
        await fetcher.fetch(url)


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for feed.test, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=feed.test", "-addext", "subjectAltName=DNS:feed.test"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_loopback(certificate: tuple[Path, Path]) -> Iterator[LoopbackServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with LoopbackServer(tls=context) as server:
        server.serve("/feed", FEED)
        yield server


async def test_tls_checks_the_url_host_name_though_we_connect_to_an_address(
    tls_loopback: LoopbackServer, certificate: tuple[Path, Path]
) -> None:
    settings = make_settings()
    transport = guarded_transport(
        settings,
        resolve=names({"feed.test": "127.0.0.1", "other.test": "127.0.0.1"}),
        ssl_context=ssl.create_default_context(cafile=certificate[0]),
    )
    port = tls_loopback.port
    async with Fetcher(settings, transport=transport) as fetcher:
        response = await fetcher.fetch(f"https://feed.test:{port}/feed")
        assert response.content == FEED
        assert tls_loopback.tls_server_names == ["feed.test"]  # SNI: the name, not 127.0.0.1

        with pytest.raises(FetchConnectionError) as caught:
            await fetcher.fetch(f"https://other.test:{port}/feed")
    assert str(caught.value) == (
        f"https://other.test:{port}/feed: connection to other.test failed: TLS certificate "
        "not accepted: Hostname mismatch, certificate is not valid for 'other.test'."
    )


async def test_tls_trusts_public_authorities_only_by_default(tls_loopback: LoopbackServer) -> None:
    settings = make_settings()
    transport = guarded_transport(settings, resolve=names({"feed.test": "127.0.0.1"}))
    async with Fetcher(settings, transport=transport) as fetcher:
        with pytest.raises(FetchConnectionError, match="self-signed certificate"):
            await fetcher.fetch(f"https://feed.test:{tls_loopback.port}/feed")


# --- concurrency ----------------------------------------------------------------------------


async def test_per_host_concurrency_is_respected(loopback: LoopbackServer) -> None:
    loopback.serve("/feed", FEED, delay=0.15)
    settings = make_settings(per_host_concurrency=2, total_concurrency=10)
    async with Fetcher(settings) as fetcher:
        responses = await asyncio.gather(*(fetcher.fetch(loopback.url("/feed")) for _ in range(6)))
    assert all(r.content == FEED for r in responses)
    assert loopback.max_in_flight("/feed") == 2


async def test_total_concurrency_is_respected_across_hosts(loopback: LoopbackServer) -> None:
    loopback.serve("/a", FEED, delay=0.15)
    loopback.serve("/b", FEED, delay=0.15)
    settings = make_settings(per_host_concurrency=2, total_concurrency=3)
    transport = guarded_transport(
        settings, resolve=names({"a.test": "127.0.0.1", "b.test": "127.0.0.1"})
    )
    urls = [f"http://{h}.test:{loopback.port}/{h}" for h in "ab" for _ in range(4)]
    async with Fetcher(settings, transport=transport) as fetcher:
        await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    assert loopback.max_in_flight("/a") == 2
    assert loopback.max_in_flight("/b") == 2
    assert loopback.max_in_flight() == 3


# --- pure helpers -----------------------------------------------------------------------------

NOW = datetime(2025, 1, 6, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"cache-control": "max-age=300"}, 300),
        ({"cache-control": "public, s-maxage=60, max-age=300"}, 60),
        ({"cache-control": "max-age=300", "age": "500"}, 0),
        ({"cache-control": "no-cache"}, 0),
        ({"cache-control": "no-store, max-age=300"}, 0),
        ({"cache-control": 'no-cache="set-cookie", max-age=300'}, 300),
        ({"cache-control": "max-age=abc"}, None),
        ({"expires": "Mon, 06 Jan 2025 11:00:00 GMT"}, 3600),
        (
            {"expires": "Mon, 06 Jan 2025 11:00:00 GMT", "date": "Mon, 06 Jan 2025 10:30:00 GMT"},
            1800,
        ),
        ({"expires": "0"}, 0),
        ({"expires": "Mon, 06 Jan 2025 09:00:00 GMT"}, 0),
        ({"expires": "Mon, 06 Jan 2025 11:00:00 GMT", "cache-control": "max-age=5"}, 5),
    ],
)
async def test_freshness_from_cache_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    assert freshness_seconds(headers, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 120),
        (" 5 ", 5),
        ("Mon, 06 Jan 2025 10:05:00 GMT", 300),
        ("Mon, 06 Jan 2025 09:00:00 GMT", 0),
        ("soon", None),
        ("-1", None),
    ],
)
async def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected
