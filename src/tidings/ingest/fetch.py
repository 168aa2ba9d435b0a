"""Safe HTTP fetching: the first stage of ingestion.

:class:`Fetcher` GETs one URL and returns a :class:`FetchResponse`, or raises a
:class:`~tidings.errors.FetchError` whose message an operator can act on. It is built to
fetch URLs that strangers chose, so it defends itself:

* every connection goes through the address guard (:mod:`tidings.ingest.netguard`), on every
  redirect hop, with no environment proxies to route around it;
* redirects are followed by hand, so each hop is validated and credentials never follow the
  request to another host;
* the response has a connect, a read *and* a total deadline, so a server dripping one byte a
  second cannot hold a worker;
* the body is capped while it streams, after decompression, and decompressed in bounded
  steps, so neither a lying Content-Length nor a compression bomb can exhaust memory;
* requests are limited per host and overall, and transient failures are retried with
  exponential backoff and full jitter, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import ssl
import types
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, Self

# brotli ships no type hints; pyproject's ignore_missing_imports list could take it instead.
import brotli
import httpcore
import httpx

from tidings.config import FetchSettings
from tidings.errors import (
    ConfigError,
    FetchConnectionError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from tidings.ingest.netguard import (
    GuardedNetworkBackend,
    Resolver,
    network_error_reason,
    resolve_host,
)
from tidings.text import parse_date

logger = logging.getLogger(__name__)

#: The Accept header for feeds: feed types first, generic XML/JSON next, HTML last (a page
#: that links to its feed is still useful to feed discovery), anything else barely.
FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.7, text/html;q=0.5, */*;q=0.1"
)

#: Exactly the encodings :class:`_BodyDecoder` undoes. We decode ourselves rather than let
#: httpx do it because httpx inflates each network chunk in one call: 1.6 KB of brotli
#: becomes 1 GiB before any size check could run.
ACCEPT_ENCODING = "gzip, deflate, br"

#: Decoded bytes produced per decompression step, so a compression bomb costs at most this
#: much memory beyond the body limit. 64 KiB is httpcore's own network read size.
_DECODE_STEP = 64 * 1024

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_LIMIT_HINT = "TIDINGS_MAX_BODY_BYTES"


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResponse:
    """A successful (2xx) or not-modified (304) response, read in full."""

    #: The final URL after redirects, without credentials or fragment.
    url: str
    #: 200 (or another 2xx), or 304 when the conditional request found nothing new.
    status: int
    #: The decoded body; ``b""`` for 304, whose body is never read.
    content: bytes
    #: Response headers with lower-cased names; repeated headers joined with ", ".
    headers: Mapping[str, str]
    #: When the response headers arrived (aware, UTC).
    fetched_at: datetime
    #: The validator to send as ``etag=`` next time. On a 304 without an ETag header this is
    #: the one that was sent, so storing it back never forgets a validator.
    etag: str | None
    #: Like :attr:`etag`, for Last-Modified / If-Modified-Since.
    last_modified: str | None
    #: Seconds the response stays fresh after :attr:`fetched_at`: Cache-Control
    #: ``s-maxage`` or ``max-age``, else Expires minus Date, less the Age header; 0 for
    #: ``no-cache``/``no-store`` or an invalid Expires; None when the server says nothing.
    max_age: float | None
    #: The Content-Type header as sent (parameters such as charset included), if any.
    content_type: str | None

    @property
    def not_modified(self) -> bool:
        """Whether the server answered 304: what we have is still current."""
        return self.status == 304


def guarded_transport(
    settings: FetchSettings,
    *,
    resolve: Resolver = resolve_host,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncHTTPTransport:
    """The httpx transport the fetcher uses: HTTP/1.1 and HTTP/2, every connection guarded.

    ``resolve`` replaces DNS (tests use it to point a name at a chosen address); the guard
    and the connection still go through the same code as in production. ``ssl_context``
    replaces the default trust store (certifi's CAs), for a private CA or a test's own.
    """
    limits = httpx.Limits(
        max_connections=settings.total_concurrency,
        max_keepalive_connections=settings.total_concurrency,
    )
    transport = httpx.AsyncHTTPTransport(http2=True, trust_env=False, limits=limits)
    # httpx offers no public way to choose the network backend (encode/httpx#3089), and the
    # backend is the only place that sees the resolved address before connecting. So we
    # replace the transport's connection pool with one built like httpx builds it, plus ours.
    # The guard-refuses-loopback tests fail loudly if an httpx upgrade breaks this.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=True,
        network_backend=GuardedNetworkBackend(settings.allowed_networks, resolve=resolve),
    )
    return transport


class Fetcher:
    """Fetches URLs safely; share one per process (it pools connections and host limits).

    ``transport`` replaces the guarded network entirely (unit tests of callers use
    ``httpx.MockTransport``); without one, :func:`guarded_transport` is used. ``sleep`` waits
    between attempts and ``rng`` draws the jitter, both injectable so tests run instantly
    and deterministically.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        for name in ("per_host_concurrency", "total_concurrency", "attempts"):
            if getattr(settings, name) < 1:
                raise ConfigError(f"fetch setting {name} must be at least 1")
        if settings.max_redirects < 0:
            raise ConfigError("fetch setting max_redirects must not be negative")
        self._settings = settings
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._client = httpx.AsyncClient(
            transport=transport if transport is not None else guarded_transport(settings),
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            follow_redirects=False,
            # No proxies or .netrc credentials from the environment: a proxy would make the
            # connection (and the guard's check) go to the proxy, not to the feed's host.
            trust_env=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )
        self._all_slots = asyncio.Semaphore(settings.total_concurrency)
        # One semaphore per host ever fetched: a few hundred bytes each, and a reader's
        # sources span thousands of hosts at most, so they are kept rather than evicted.
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections. The fetcher cannot be used afterwards."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResponse:
        """GET ``url``, conditionally if validators are given, following redirects.

        Raises InvalidURLError, BlockedAddressError, FetchTimeoutError, FetchConnectionError,
        ResponseTooLargeError, TooManyRedirectsError or HTTPStatusError. The error's
        ``resource`` is the URL that failed (a redirect target, perhaps); ``transient`` and
        ``retry_after`` tell the scheduler whether and when to try again.
        """
        start = _parse_url(url)
        attempt = 1
        while True:
            try:
                return await self._follow(start, etag, last_modified, accept)
            except FetchError as e:
                delay = self._retry_delay(e, attempt)
                if delay is None:
                    if attempt > 1:
                        _append(e, f"after {attempt} attempts")
                    raise
                logger.debug("retrying in %.1f s: %s", delay, e)
            attempt += 1
            await self._sleep(delay)

    def _retry_delay(self, error: FetchError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        settings = self._settings
        if not error.transient or attempt >= settings.attempts:
            return None
        if error.retry_after is not None:
            # A longer wait than backoff_max would stall the whole pass; the scheduler has
            # the error's retry_after and can come back later instead.
            return error.retry_after if error.retry_after <= settings.backoff_max else None
        # "Full jitter": uniform in [0, capped exponential], which spreads retries from many
        # workers best (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
        ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    async def _follow(
        self, start: httpx.URL, etag: str | None, last_modified: str | None, accept: str
    ) -> FetchResponse:
        """One attempt: request ``start`` and follow its redirects by hand."""
        url = _without_credentials(start)
        credentials = _credentials(start)
        for _hop in range(self._settings.max_redirects + 1):
            headers = {"Accept": accept}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            if credentials is not None:
                headers["Authorization"] = credentials
            outcome = await self._exchange(url, headers, etag, last_modified)
            if isinstance(outcome, FetchResponse):
                return outcome
            target = _parse_url(str(outcome), redirected_from=url)
            if target.userinfo:
                credentials = _credentials(target)
            elif not _same_authority(url, target):
                # The credentials were given for one host; a redirect must not leak them.
                credentials = None
            url = _without_credentials(target)
        raise TooManyRedirectsError(
            f"more than {self._settings.max_redirects} redirects (the last one led to {url})",
            resource=str(_without_credentials(start)),
        )

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self._settings.per_host_concurrency)
        return slot

    async def _exchange(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResponse | httpx.URL:
        """One request: the final response, or the URL a redirect points to."""
        settings = self._settings
        # Host slot first, then a global one: waiting for a busy host does not hold a
        # global slot that a request to another host could use.
        async with self._host_slot(url.host), self._all_slots:
            # The deadline starts once we hold the slots: queueing is not the server's fault.
            deadline = asyncio.timeout(settings.total_timeout)
            try:
                async with deadline:
                    return await self._send(url, headers, etag, last_modified)
            except FetchError as e:
                if e.resource is None:
                    e.resource = str(url)
                raise
            except TimeoutError as e:
                if deadline.expired():
                    message = (
                        f"no complete response within {settings.total_timeout:g} s (total timeout)"
                    )
                else:  # an OS-level socket timeout that no httpx layer wrapped
                    message = f"timed out ({network_error_reason(e)})"
                raise FetchTimeoutError(message, resource=str(url)) from e
            except httpx.HTTPError as e:
                raise _convert_httpx_error(e, settings, url) from e
            except OSError as e:
                raise FetchConnectionError(
                    f"connection to {url.host} failed: {network_error_reason(e)}",
                    resource=str(url),
                ) from e

    async def _send(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResponse | httpx.URL:
        request = self._client.build_request("GET", url, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            fetched_at = datetime.now(UTC)
            status = response.status_code
            if status in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise HTTPStatusError(
                        f"{_status_text(status)} without a Location header", status=status
                    )
                try:
                    return url.join(location.strip())
                except httpx.InvalidURL as e:
                    raise InvalidURLError(f"redirect to an invalid URL {location!r}: {e}") from e
            if status == 304:
                if not (etag or last_modified):
                    raise HTTPStatusError(
                        f"{_status_text(304)} to a request that was not conditional",
                        status=304,
                    )
                # Returned without reading: a 304 has no body, and a broken server that sends
                # one anyway only costs a closed connection.
                return _make_response(
                    url, response, b"", fetched_at, etag=etag, last_modified=last_modified
                )
            if 200 <= status < 300:
                content = await self._read_body(response)
                return _make_response(url, response, content, fetched_at)
            raise _status_error(response, fetched_at)
        finally:
            await response.aclose()

    async def _read_body(self, response: httpx.Response) -> bytes:
        limit = self._settings.max_body_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLargeError(
                f"response of {int(declared):,} bytes (Content-Length) is over the "
                f"{_size_text(limit)} limit (set {_LIMIT_HINT} to change it)"
            )
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        received = 0
        try:
            async for raw in response.aiter_raw():
                # Raw bytes count too: data after the end of a gzip stream decodes to
                # nothing, but must not be read for ever.
                received += len(raw)
                if received > limit:
                    raise _too_large(limit, decoded=False)
                for piece in decoder.decode(raw):
                    body += piece
                    if len(body) > limit:
                        raise _too_large(limit, decoded=bool(decoder.encodings))
            for piece in decoder.flush():
                body += piece
                if len(body) > limit:
                    raise _too_large(limit, decoded=True)
        except (zlib.error, brotli.error) as e:
            raise FetchError(f"response body is not valid {decoder.description} data: {e}") from e
        return bytes(body)


# --- URLs ---------------------------------------------------------------------------------


def _parse_url(url: str, *, redirected_from: httpx.URL | None = None) -> httpx.URL:
    """Parse and validate a URL to fetch. Raises InvalidURLError."""
    what = "redirect target" if redirected_from is not None else "URL"
    resource = str(redirected_from) if redirected_from is not None else url
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise InvalidURLError(f"{what} {url!r} is not a valid URL: {e}", resource=resource) from e
    if parsed.scheme not in ("http", "https"):
        scheme = parsed.scheme or "no scheme"
        raise InvalidURLError(
            f"{what} {url!r} uses {scheme}; only http and https are fetched", resource=resource
        )
    if not parsed.host:
        raise InvalidURLError(f"{what} {url!r} has no host", resource=resource)
    return parsed.copy_with(fragment=None)


def _credentials(url: httpx.URL) -> str | None:
    """The Authorization header for credentials embedded in the URL, if any."""
    if not url.userinfo:
        return None
    token = base64.b64encode(f"{url.username}:{url.password}".encode()).decode("ascii")
    return f"Basic {token}"


def _without_credentials(url: httpx.URL) -> httpx.URL:
    # Credentials travel only in our Authorization header, never in a URL we request,
    # log or return, so they cannot end up in a stored source or an error message.
    return url.copy_with(userinfo=b"") if url.userinfo else url


def _same_authority(current: httpx.URL, target: httpx.URL) -> bool:
    """Whether credentials given for ``current`` may be sent on to ``target``."""
    if current.host != target.host:
        return False
    if current.scheme == target.scheme:
        return current.port == target.port
    # http → https on the default ports is the same site, now encrypted; the reverse would
    # send the credentials in clear, so it drops them.
    return current.scheme == "http" and current.port is None and target.port is None


# --- responses ------------------------------------------------------------------------------


def _make_response(
    url: httpx.URL,
    response: httpx.Response,
    content: bytes,
    fetched_at: datetime,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResponse:
    headers = {name.lower(): value for name, value in response.headers.items()}
    return FetchResponse(
        url=str(url),
        status=response.status_code,
        content=content,
        headers=types.MappingProxyType(headers),
        fetched_at=fetched_at,
        etag=headers.get("etag") or etag,
        last_modified=headers.get("last-modified") or last_modified,
        max_age=freshness_seconds(headers, fetched_at),
        content_type=headers.get("content-type"),
    )


def _status_text(status: int) -> str:
    return f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip()


def _status_error(response: httpx.Response, now: datetime) -> HTTPStatusError:
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    message = _status_text(status)
    if retry_after is not None:
        message += f" (the server asks to retry after {retry_after:g} s)"
    return HTTPStatusError(message, status=status, retry_after=retry_after)


def _http_date(value: str) -> datetime | None:
    # HTTP dates are GMT; parse_date reads a zone-less one as UTC rather than local time.
    return parse_date(value)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    when = _http_date(text)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _cache_directives(value: str) -> dict[str, str]:
    directives: dict[str, str] = {}
    for part in value.split(","):
        name, _, argument = part.partition("=")
        if name.strip():
            directives[name.strip().lower()] = argument.strip().strip('"')
    return directives


def freshness_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long a response stays fresh (RFC 9111 §4.2), given lower-cased headers.

    Cache-Control wins over Expires; ``s-maxage`` over ``max-age``, because one fetch serves
    every reader of the installation, as a shared cache does. The Age the response already
    had at a CDN is subtracted, so the result counts from ``now``.
    """
    lifetime: float | None = None
    directives = _cache_directives(headers.get("cache-control", ""))
    # A qualified no-cache ("no-cache=Set-Cookie") only concerns those fields.
    if "no-store" in directives or directives.get("no-cache") == "":
        return 0.0
    for name in ("s-maxage", "max-age"):
        argument = directives.get(name, "")
        if argument.isdigit():
            lifetime = float(argument)
            break
    if lifetime is None and "expires" in headers:
        expires = _http_date(headers["expires"])
        if expires is None:
            return 0.0  # RFC 9111 §5.3: an invalid Expires means already expired
        date = _http_date(headers.get("date", "")) or now
        lifetime = (expires - date).total_seconds()
    if lifetime is None:
        return None
    age = headers.get("age", "").strip()
    if age.isdigit():
        lifetime -= float(age)
    return max(0.0, lifetime)


# --- errors ---------------------------------------------------------------------------------


def _size_text(size: int) -> str:
    mib = 1024 * 1024
    if size >= mib:
        return f"{size / mib:g} MiB ({size:,} bytes)"
    return f"{size:,} bytes"


def _too_large(limit: int, *, decoded: bool) -> ResponseTooLargeError:
    what = "decompressed response body" if decoded else "response body"
    return ResponseTooLargeError(
        f"{what} is over the {_size_text(limit)} limit (set {_LIMIT_HINT} to change it)"
    )


def _append(error: FetchError, note: str) -> None:
    error.message = f"{error.message} ({note})"
    error.args = (error.message,)


def _convert_httpx_error(
    error: httpx.HTTPError, settings: FetchSettings, url: httpx.URL
) -> FetchError:
    resource = str(url)
    if isinstance(error, httpx.ConnectTimeout):
        return FetchTimeoutError(
            f"cannot connect within {settings.connect_timeout:g} s (connect timeout)",
            resource=resource,
        )
    if isinstance(error, httpx.ReadTimeout):
        return FetchTimeoutError(
            f"the server sent nothing for {settings.read_timeout:g} s (read timeout)",
            resource=resource,
        )
    if isinstance(error, httpx.WriteTimeout):
        return FetchTimeoutError(
            f"cannot send the request within {settings.read_timeout:g} s (write timeout)",
            resource=resource,
        )
    if isinstance(error, httpx.PoolTimeout):
        return FetchTimeoutError(
            f"no free connection within {settings.connect_timeout:g} s (pool timeout)",
            resource=resource,
        )
    if isinstance(error, httpx.TimeoutException):
        return FetchTimeoutError(f"timed out: {error}", resource=resource)
    if isinstance(error, httpx.RemoteProtocolError):
        return FetchConnectionError(f"the server broke the connection: {error}", resource=resource)
    if isinstance(error, httpx.UnsupportedProtocol):
        return InvalidURLError(f"cannot request this URL: {error}", resource=resource)
    reason = network_error_reason(error)
    if isinstance(error, httpx.TransportError) and not isinstance(error, httpx.LocalProtocolError):
        return FetchConnectionError(f"connection to {url.host} failed: {reason}", resource=resource)
    return FetchError(f"request failed: {reason}", resource=resource)


# --- content decoding ------------------------------------------------------------------------


class _StepDecoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _ZlibDecoder:
    """gzip or deflate, inflated at most :data:`_DECODE_STEP` bytes at a time."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding == "gzip"
        self._started = False
        self._inflate = self._new()

    def _new(self, *, raw: bool = False) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        # "deflate" means zlib-wrapped data, but some servers send bare deflate.
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        while not self._inflate.eof:
            try:
                out = self._inflate.decompress(data, _DECODE_STEP)
            except zlib.error:
                if self._gzip or self._started:
                    raise
                self._started = True
                self._inflate = self._new(raw=True)
                continue
            self._started = True
            data = self._inflate.unconsumed_tail
            if out:
                yield out
            # A full step may leave output inside zlib even when all input was consumed.
            if not data and len(out) < _DECODE_STEP:
                break
        # Anything after the end of the stream is ignored, as browsers do.

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._inflate.eof:
            tail = self._inflate.flush()
            if tail:
                yield tail


class _BrotliDecoder:
    """brotli, which expands far more than gzip (1 GiB from 1.6 KB), in bounded steps."""

    def __init__(self) -> None:
        self._inflate = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._inflate.is_finished():
            return
        out = self._inflate.process(data, output_buffer_limit=_DECODE_STEP)
        yield out
        # At the limit, brotli keeps the rest of the input and must be drained with empty
        # input until it can take more and has nothing left to give.
        while not self._inflate.is_finished() and (out or not self._inflate.can_accept_more_data()):
            out = self._inflate.process(b"", output_buffer_limit=_DECODE_STEP)
            yield out

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _BodyDecoder:
    """Undoes a Content-Encoding list ("gzip", "gzip, br", …) in bounded steps."""

    def __init__(self, header: str) -> None:
        encodings = [e.strip().lower() for e in header.split(",") if e.strip()]
        encodings = ["gzip" if e == "x-gzip" else e for e in encodings if e != "identity"]
        for encoding in encodings:
            if encoding not in ("gzip", "deflate", "br"):
                raise FetchError(
                    f"the server used Content-Encoding {encoding!r}, which was not requested "
                    f"(Tidings asks for {ACCEPT_ENCODING})"
                )
        self.encodings = encodings
        self.description = " + ".join(encodings) or "identity"
        # Encodings are listed in the order applied, so they are undone last first.
        self._steps: list[_StepDecoder] = [
            _BrotliDecoder() if e == "br" else _ZlibDecoder(e) for e in reversed(encodings)
        ]

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, self._steps[0].decode(data) if self._steps else iter((data,)))

    def flush(self) -> Iterator[bytes]:
        for index, step in enumerate(self._steps):
            yield from self._through(index, step.flush())

    def _through(self, index: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Pass the output of step ``index`` through the steps after it."""
        if index + 1 >= len(self._steps):
            yield from pieces
            return
        following = self._steps[index + 1]
        for piece in pieces:
            yield from self._through(index + 1, following.decode(piece))
