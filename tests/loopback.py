"""A real HTTP/1.1 server on 127.0.0.1 for tests: canned routes, recorded requests.

Tests talk to real things on loopback (STYLE.md, habit 6); this is the real thing for HTTP.
It is a threaded ``http.server`` on an ephemeral port, one thread per connection, so a route
that hangs never blocks another. In integration tests use the ``loopback`` fixture
(``tests/integration/conftest.py``); elsewhere::

    with LoopbackServer() as server:
        server.serve("/feed.xml", b"<rss/>", etag='"v1"')
        url = server.url("/feed.xml")          # "http://127.0.0.1:PORT/feed.xml"

The fetcher's guard refuses loopback, so a test's ``FetchSettings`` needs
``allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),)``.

``LoopbackServer(tls=context)`` serves HTTPS with a server-side ``ssl.SSLContext`` (its
``sni_callback`` is taken over to record ``server.tls_server_names``); ``base_url`` and
``url()`` then say https.

Routes (``path`` is matched exactly, without the query string; unknown paths get 404):

``serve(path, body, *, status=200, content_type=..., headers=None, etag=None,
last_modified=None, encoding=None, chunked=False, delay=0.0)``
    Bytes (or str, UTF-8) with headers. With ``etag`` / ``last_modified`` the response
    carries them and a matching If-None-Match / If-Modified-Since gets 304 (If-None-Match
    wins, as RFC 9110 says). ``encoding`` is "gzip", "deflate" or "br": the body is
    compressed and Content-Encoding set. ``chunked`` sends it without Content-Length.
    ``delay`` waits before answering (to overlap requests in concurrency tests).
``serve_file(path, file, *, content_type=None, headers=None, etag=None, ...)``
    A file's bytes, served like ``serve``; the content type is guessed from the suffix
    (.rss, .atom, .xml, .json and .opml get their feed types).
``status(path, code, *, headers=None, body=b"", retry_after=None, delay=0.0)``
    An error or any other status: ``status("/x", 503, retry_after=1)``.
``redirect(path, location, *, status=302)``
    Location as given: absolute ("http://10.1.2.3/"), relative ("../new.xml") or a path.
``hang(path, *, after_headers=False)``
    Reads the request and never answers (or sends headers and no body), until the server
    stops or ``HANG_LIMIT`` seconds pass, whichever is first.
``drip(path, body, *, interval=0.1, chunk=1)``
    Declares the full Content-Length, then sends ``chunk`` bytes every ``interval`` seconds.
``endless(path, *, chunk=65536, content_length=None)``
    Streams zeros, chunked, until the client leaves; or declares ``content_length`` (say
    10 GB) and sends that many.

To answer differently on successive hits, pass several responses to ``add``; each hit takes
the next and the last one repeats::

    server.add("/feed", Canned(status=503, headers={"Retry-After": "1"}), Canned(body=b"ok"))

``Canned``, ``Hang``, ``Drip`` and ``Endless`` are the response types behind the helpers.

Records (all thread-safe):

``hits(path)``            requests received for a path (304s included)
``requests(path=None)``   ``RecordedRequest(method, path, headers)`` in arrival order;
                          ``headers`` has lower-cased names
``max_in_flight(path=None)``  most requests being answered at once, for one path or all
``reset()``               forget routes and records (for a server shared across tests)
"""

from __future__ import annotations

import gzip
import mimetypes
import socket
import ssl
import sys
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import brotli  # type: ignore[import-untyped]

Encoding = Literal["gzip", "deflate", "br"]

#: Longest a hanging or streaming route keeps its connection, in case a test forgets to stop
#: the server; far above any timeout a test sets, far below a CI job's patience.
HANG_LIMIT = 30.0


@dataclass(frozen=True)
class Canned:
    """A complete response; conditional requests answered with 304 when validators match."""

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    encoding: Encoding | None = None
    chunked: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Never answer (or answer headers only) until the server stops."""

    after_headers: bool = False


@dataclass(frozen=True)
class Drip:
    """Send ``body`` ``chunk`` bytes at a time, ``interval`` seconds apart."""

    body: bytes
    interval: float = 0.1
    chunk: int = 1


@dataclass(frozen=True)
class Endless:
    """Stream zeros until the client disconnects (or the server stops)."""

    chunk: int = 64 * 1024
    content_length: int | None = None


Response = Canned | Hang | Drip | Endless


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]


def _compress(body: bytes, encoding: Encoding) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return bytes(brotli.compress(body))


class LoopbackServer:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self._host = host
        self._tls = tls
        #: The SNI name each TLS client sent, in order (None when it sent none).
        self.tls_server_names: list[str | None] = []
        if tls is not None:
            tls.sni_callback = self._record_server_name
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._routes: dict[str, list[Response]] = {}
        self._served: defaultdict[str, int] = defaultdict(int)
        self._requests: list[RecordedRequest] = []
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self._max_in_flight: defaultdict[str, int] = defaultdict(int)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        httpd = _Server((self._host, 0), _Handler)
        httpd.loopback = self
        httpd.tls = self._tls
        self._httpd = httpd
        self._stopping.clear()
        # A short poll interval so stop() returns in milliseconds, not the default 0.5 s.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging, dripping and streaming routes
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the loopback server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{self._host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    # --- routes ----------------------------------------------------------------------------

    def add(self, path: str, *responses: Response) -> None:
        if not responses:
            raise ValueError("add() needs at least one response")
        with self._lock:
            self._routes[path] = list(responses)
            self._served[path] = 0

    def serve(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/xml",
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        encoding: Encoding | None = None,
        chunked: bool = False,
        delay: float = 0.0,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.add(
            path,
            Canned(
                body=data,
                status=status,
                headers={"Content-Type": content_type, **(headers or {})},
                etag=etag,
                last_modified=last_modified,
                encoding=encoding,
                chunked=chunked,
                delay=delay,
            ),
        )

    def serve_file(
        self,
        path: str,
        file: Path | str,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        encoding: Encoding | None = None,
    ) -> None:
        file = Path(file)
        if content_type is None:
            content_type = _FEED_TYPES.get(file.suffix.lower()) or (
                mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            )
        self.serve(
            path,
            file.read_bytes(),
            content_type=content_type,
            headers=headers,
            etag=etag,
            last_modified=last_modified,
            encoding=encoding,
        )

    def status(
        self,
        path: str,
        code: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        retry_after: float | str | None = None,
        delay: float = 0.0,
    ) -> None:
        all_headers = dict(headers or {})
        if retry_after is not None:
            text = str(retry_after)
            all_headers["Retry-After"] = text.removesuffix(".0")
        self.add(path, Canned(body=body, status=code, headers=all_headers, delay=delay))

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        self.add(path, Canned(status=status, headers={"Location": location}))

    def hang(self, path: str, *, after_headers: bool = False) -> None:
        self.add(path, Hang(after_headers=after_headers))

    def drip(self, path: str, body: bytes, *, interval: float = 0.1, chunk: int = 1) -> None:
        self.add(path, Drip(body=body, interval=interval, chunk=chunk))

    def endless(
        self, path: str, *, chunk: int = 64 * 1024, content_length: int | None = None
    ) -> None:
        self.add(path, Endless(chunk=chunk, content_length=content_length))

    # --- records ---------------------------------------------------------------------------

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self._requests if r.path.partition("?")[0] == path)

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path.partition("?")[0] == path]

    def max_in_flight(self, path: str | None = None) -> int:
        with self._lock:
            return self._max_in_flight["*" if path is None else path]

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._served.clear()
            self._requests.clear()
            self._in_flight.clear()
            self._max_in_flight.clear()

    # --- used by the handler ---------------------------------------------------------------

    def _begin(self, request: RecordedRequest) -> Response | None:
        path = request.path.partition("?")[0]
        with self._lock:
            self._requests.append(request)
            for key in (path, "*"):
                self._in_flight[key] += 1
                self._max_in_flight[key] = max(self._max_in_flight[key], self._in_flight[key])
            responses = self._routes.get(path)
            if responses is None:
                return None
            index = min(self._served[path], len(responses) - 1)
            self._served[path] += 1
            return responses[index]

    def _end(self, path: str) -> None:
        with self._lock:
            for key in (path.partition("?")[0], "*"):
                self._in_flight[key] -= 1

    def _record_server_name(
        self, connection: ssl.SSLObject | ssl.SSLSocket, name: str | None, context: ssl.SSLContext
    ) -> None:
        with self._lock:
            self.tls_server_names.append(name)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True if it is stopping."""
        return self._stopping.wait(seconds)


_FEED_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".json": "application/feed+json",
    ".opml": "text/x-opml",
}

# What a test client walking away looks like from the server side.
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout)
# What a client refusing our certificate looks like (tests of certificate checks).
_REJECTED = (ssl.SSLError,)


class _Server(ThreadingHTTPServer):
    # Handler threads must not keep the test process alive; stop() releases them anyway.
    daemon_threads = True
    loopback: LoopbackServer
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The handshake happens here, in the connection's own thread, so a client that
        # never completes one cannot stall the accept loop; the timeout bounds that thread.
        request.settimeout(HANG_LIMIT)
        with self.tls.wrap_socket(request, server_side=True) as tls_request:
            super().finish_request(tls_request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _GONE + _REJECTED):
            return  # clients that hang up early are what half these routes are for
        super().handle_error(request, client_address)


def _etag_matches(header: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    wanted = etag.removeprefix("W/")
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted for tag in header.split(",")
    )


def _not_modified_since(header: str, last_modified: str) -> bool:
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked, like real servers
    server: _Server

    @property
    def loopback(self) -> LoopbackServer:
        return self.server.loopback

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are recorded; stderr stays for real failures

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest(method=self.command, path=self.path, headers=headers)
        response = self.loopback._begin(request)
        try:
            if response is None:
                self._send_canned(Canned(status=404, body=b"no such route\n"), send_body)
            elif isinstance(response, Canned):
                self._send_canned(response, send_body)
            elif isinstance(response, Hang):
                self._hang(response)
            elif isinstance(response, Drip):
                self._drip(response)
            else:
                self._endless(response)
        except _GONE:
            self.close_connection = True
        finally:
            self.loopback._end(self.path)

    def _send_canned(self, response: Canned, send_body: bool) -> None:
        if response.delay and self.loopback._wait(response.delay):
            self.close_connection = True
            return
        validators = {}
        if response.etag is not None:
            validators["ETag"] = response.etag
        if response.last_modified is not None:
            validators["Last-Modified"] = response.last_modified
        if response.status == 200 and self._is_not_modified(response):
            self.send_response(304)
            for name, value in {**response.headers, **validators}.items():
                if name.lower() not in ("content-type", "content-length"):
                    self.send_header(name, value)
            self.end_headers()
            return
        body = response.body
        self.send_response(response.status)
        for name, value in {**response.headers, **validators}.items():
            self.send_header(name, value)
        if response.encoding is not None:
            body = _compress(body, response.encoding)
            self.send_header("Content-Encoding", response.encoding)
        if response.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if send_body:
                if body:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
                self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _is_not_modified(self, response: Canned) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return response.etag is not None and _etag_matches(if_none_match, response.etag)
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is not None and response.last_modified is not None:
            return _not_modified_since(if_modified_since, response.last_modified)
        return False

    def _hang(self, response: Hang) -> None:
        if response.after_headers:
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
        self.loopback._wait(HANG_LIMIT)
        self.close_connection = True

    def _drip(self, response: Drip) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.flush()
        for start in range(0, len(response.body), response.chunk):
            if self.loopback._wait(response.interval):
                break
            self.wfile.write(response.body[start : start + response.chunk])
            self.wfile.flush()
        self.close_connection = True

    def _endless(self, response: Endless) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        if response.content_length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(response.content_length))
        self.end_headers()
        remaining = response.content_length
        deadline = time.monotonic() + HANG_LIMIT
        while not self.loopback._stopping.is_set() and time.monotonic() < deadline:
            size = response.chunk if remaining is None else min(response.chunk, remaining)
            if size <= 0:
                break
            if remaining is None:
                self.wfile.write(b"%x\r\n%s\r\n" % (size, b"\0" * size))
            else:
                self.wfile.write(b"\0" * size)
                remaining -= size
        self.close_connection = True
