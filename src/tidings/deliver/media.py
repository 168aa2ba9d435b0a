"""The media proxy: publishers' pictures served from Tidings' own address.

A reader's browser that loaded a lead image straight from the publisher would tell the
publisher (and every tracker its image host runs) who reads which article, when, and from
where. So the page never names a publisher's image: it names ``/media/<signature>/<url>``
instead, and the server fetches the picture itself, through the same safe fetcher as the
feeds (:class:`tidings.ingest.fetch.Fetcher`: no private addresses unless the operator
allows them, deadlines, a size cap), and serves it. The shape is Miniflux's media proxy:

* **Only what Tidings put on a page is fetched.** The path carries the image URL and an
  HMAC-SHA256 of it under a key derived from a server secret (:class:`MediaSigner`); a
  path whose signature does not match is refused before anything is fetched, so the proxy
  cannot be used to fetch arbitrary URLs. The secret never reaches a page; the key is
  derived from it (not the secret itself), so the same secret can serve other purposes
  without one use's signatures being valid for another.
* **Only pictures come back.** The publisher must declare an ``image/*`` type, and the bytes
  must start like one of :data:`IMAGE_SIGNATURES` (JPEG, PNG, GIF, WebP, AVIF); that type is
  what we serve. SVG is refused: it is a document that can carry script, and served from our
  origin it would run as ours.
* **Bounded.** At most :data:`MAX_IMAGE_BYTES` per picture (the fetcher stops reading past
  it), an in-memory LRU of :data:`CACHE_BYTES` so a page's thumbnails cost the publisher one
  request however many readers see them, and failures remembered for
  :data:`FAILURE_SECONDS` so a broken picture is not fetched on every page view.
* **Cacheable.** Responses carry a strong ``ETag`` (the bytes' SHA-256) and
  ``Cache-Control: public, max-age=`` :data:`BROWSER_CACHE_SECONDS`; the path names the
  picture for good, so a browser need not ask again.

:func:`proxied_html` rewrites the ``<img>`` addresses of already sanitised article HTML to
proxied ones, so the reader view leaks nothing either. The route is
:mod:`tidings.api.routes.media`; the page gets addresses from :meth:`MediaSigner.url`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import nh3

from tidings.config import MIN_MEDIA_SECRET_CHARS, FetchSettings
from tidings.deliver.sanitize import ATTRIBUTES, LINK_REL, TAGS, URL_SCHEMES
from tidings.errors import (
    BadSignatureError,
    BlockedAddressError,
    FetchError,
    FetchTimeoutError,
    ImageTooLargeError,
    InvalidURLError,
    MediaError,
    MediaForbiddenError,
    MediaTimeoutError,
    MediaUnavailableError,
    NotAnImageError,
    ResponseTooLargeError,
)
from tidings.ingest.fetch import Fetcher

log = logging.getLogger(__name__)

#: Where the proxy answers; the route and the addresses the page gets agree on it.
MEDIA_PREFIX = "/media"
#: The setting holding the proxy's secret (``Settings.media_secret``), by its variable;
#: without it a random secret is kept in the data directory (see :func:`media_secret`).
SECRET_VARIABLE = "TIDINGS_MEDIA_SECRET"  # noqa: S105 - a variable's name
#: The file that holds the generated secret, in the data directory.
SECRET_FILE = "media-proxy.secret"  # noqa: S105 - a file's name
#: Shortest secret accepted (the setting checks the same length when it is loaded).
MIN_SECRET_CHARS = MIN_MEDIA_SECRET_CHARS
#: What the signing key is derived for (changing it invalidates every address once).
KEY_PURPOSE = b"tidings media proxy v1"

#: Largest picture served. News lead images as publishers serve them (1,200 to 2,000 px
#: JPEG or WebP) weigh 100 to 800 kB; 5 MiB leaves room for a large PNG and refuses
#: anything that is not a picture for a page.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: Longest image URL signed: real ones are under 500 characters; a path stays well inside
#: a server's request-line limit (h11's 16 KiB head) once base64 has grown it by a third.
MAX_URL_CHARS = 2048
#: Bytes of pictures kept in memory per process: a few hundred thumbnails, the pictures of
#: the pages readers are reading now.
CACHE_BYTES = 32 * 1024 * 1024
#: How long a failed picture is not asked for again, and how many failures are remembered.
FAILURE_SECONDS = 5 * 60
FAILURES_KEPT = 1024
#: How long a browser keeps a picture without asking again (a week): the address names one
#: picture at one URL, and publishers replace pictures under a new URL.
BROWSER_CACHE_SECONDS = 7 * 24 * 60 * 60
#: Seconds one picture may take, all included: a thumbnail that has not come in 15 s will
#: not be waited for by a reader either.
TOTAL_TIMEOUT = 15.0
#: What we ask publishers for.
IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,image/*;q=0.5"
#: The policy of the proxy's own responses: a picture needs nothing, and if one were ever
#: opened as a document it could run nothing.
MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"


def _is_jpeg(head: bytes) -> bool:
    return head.startswith(b"\xff\xd8\xff")


def _is_png(head: bytes) -> bool:
    return head.startswith(b"\x89PNG\r\n\x1a\n")


def _is_gif(head: bytes) -> bool:
    return head.startswith((b"GIF87a", b"GIF89a"))


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_avif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis")


#: The picture formats served, each with how its bytes begin: what the bytes are decides the
#: type we send, whatever the publisher declared.
IMAGE_SIGNATURES = (
    ("image/jpeg", _is_jpeg),
    ("image/png", _is_png),
    ("image/gif", _is_gif),
    ("image/webp", _is_webp),
    ("image/avif", _is_avif),
)


def sniff_image(content: bytes) -> str | None:
    """The image type ``content`` starts like, or None."""
    head = content[:16]
    for kind, matches in IMAGE_SIGNATURES:
        if matches(head):
            return kind
    return None


# --- signing ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or len(text) > 4 * MAX_URL_CHARS or not text.isascii():
        raise binascii.Error("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _image_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL we would fetch, else None."""
    if not url:
        return None
    text = url.strip()
    if len(text) > MAX_URL_CHARS or any(c <= " " for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return text


class MediaSigner:
    """Makes and checks proxy addresses. ``secret`` is the server's; the signing key is
    derived from it (HMAC-SHA256 of :data:`KEY_PURPOSE`), and only signatures leave."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the media proxy's secret must be at least 16 bytes")
        self._key = hmac.new(secret, KEY_PURPOSE, hashlib.sha256).digest()

    def _sign(self, url: str) -> str:
        return _b64(hmac.new(self._key, url.encode("utf-8"), hashlib.sha256).digest())

    def url(self, image_url: str | None) -> str | None:
        """The proxied address of ``image_url`` (a path on this site), or None when it is
        not an absolute http(s) URL (nothing should be shown then)."""
        found = _image_url(image_url)
        if found is None:
            return None
        return f"{MEDIA_PREFIX}/{self._sign(found)}/{_b64(found.encode('utf-8'))}"

    def verify(self, signature: str, encoded: str) -> str:
        """The image URL a proxy address names. Raises BadSignatureError."""
        try:
            url = _unb64(encoded).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise BadSignatureError("this picture address is malformed") from None
        if not hmac.compare_digest(self._sign(url), signature):
            raise BadSignatureError("this picture address was not made by this server")
        if _image_url(url) != url:
            raise BadSignatureError("this picture address names no web address")
        return url


def media_secret(data_dir: Path, configured: str | None = None) -> bytes:
    """The proxy's secret: ``configured`` (the ``media_secret`` setting, which every process
    and machine serving one site must share) if given, else a random one generated once and
    kept in ``data_dir`` (readable by its owner only), which the processes of one machine
    share. Raises ValueError for a configured secret that is too short (the setting refuses
    one when it is loaded; this guards callers that build the value themselves)."""
    given = (configured or "").strip()
    if given:
        if len(given) < MIN_SECRET_CHARS:
            raise ValueError(
                f"{SECRET_VARIABLE} must be at least {MIN_SECRET_CHARS} characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return given.encode("utf-8")
    path = data_dir / SECRET_FILE
    try:
        return _read_secret(path)
    except OSError:
        pass  # none yet (or none can be kept there: see below)
    secret = _b64(os.urandom(32)).encode("ascii")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: of two processes starting at once, one writes and both read its secret.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    except OSError as e:
        # A read-only data directory must not take the pages down: this process signs with
        # a secret of its own (pictures then work within one process only).
        log.warning(
            "cannot keep the media proxy's secret in %s (%s): set %s", path, e, SECRET_VARIABLE
        )
        return secret
    with os.fdopen(handle, "wb") as out:
        out.write(secret)
    return secret


def _read_secret(path: Path) -> bytes:
    found = path.read_bytes().strip()
    if len(found) < MIN_SECRET_CHARS:
        # Written by another process this very moment: wait for it once.
        time.sleep(0.05)
        found = path.read_bytes().strip()
    if len(found) < MIN_SECRET_CHARS:
        raise ValueError(f"{path} holds no usable media proxy secret: remove it to make a new one")
    return found


# --- sanitised article HTML ------------------------------------------------------------


def proxied_html(clean: str, signer: MediaSigner) -> str:
    """Already sanitised HTML (:func:`tidings.deliver.sanitize.clean_html`) with every
    ``<img src>`` turned into a proxied address; an image that cannot be proxied loses its
    ``src``. The same allowlist runs again, so the result is as safe as the input."""
    if "<img" not in clean:
        return clean
    return _html_cleaner(signer).clean(clean)


@lru_cache(maxsize=8)
def _html_cleaner(signer: MediaSigner) -> nh3.Cleaner:
    # One per signer (a process has one): building a Cleaner costs more than using it.
    def rewrite(element: str, attribute: str, value: str) -> str | None:
        if element == "img" and attribute == "src":
            return signer.url(value)
        return value

    return nh3.Cleaner(
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=rewrite,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
        # The input's addresses are all absolute already (clean_html resolved or removed the
        # relative ones); the only relative ones now are the proxy's own paths.
        url_relative="pass_through",
    )


# --- fetching and serving --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaItem:
    """A picture ready to serve."""

    content: bytes
    content_type: str
    #: A strong validator: the quoted SHA-256 of the bytes, shortened.
    etag: str


class _LRU:
    """Pictures by URL, least recently used evicted first, bounded in bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._items: OrderedDict[str, MediaItem] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> MediaItem | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, item: MediaItem) -> None:
        if len(item.content) > self.capacity:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old.content)
            self._items[key] = item
            self.size += len(item.content)
            while self.size > self.capacity:
                _, evicted = self._items.popitem(last=False)
                self.size -= len(evicted.content)


class MediaProxy:
    """Fetches, checks and caches the pictures that signed addresses name. Share one per
    process (it keeps a cache and a fetcher). ``fetch_settings`` are the operator's (their
    allowed networks, user agent, timeouts); the picture limits are applied on top."""

    def __init__(
        self,
        signer: MediaSigner,
        fetch_settings: FetchSettings,
        *,
        max_bytes: int = MAX_IMAGE_BYTES,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.signer = signer
        self.max_bytes = max_bytes
        self._settings = fetch_settings.replace(
            max_body_bytes=min(max_bytes, fetch_settings.max_body_bytes),
            total_timeout=min(TOTAL_TIMEOUT, fetch_settings.total_timeout),
            # A reader is waiting: one try, and a broken picture is remembered instead.
            attempts=1,
        )
        self._cache = _LRU(cache_bytes)
        self._failures: OrderedDict[str, tuple[MediaError, float]] = OrderedDict()
        self._lock = threading.Lock()
        # The fetcher's connection pool belongs to the event loop it was made in.
        self._fetcher: tuple[asyncio.AbstractEventLoop, Fetcher] | None = None

    async def get(self, signature: str, encoded: str) -> MediaItem:
        """The picture a proxy address names. Raises a :class:`MediaError`."""
        url = self.signer.verify(signature, encoded)
        cached = self._cache.get(url)
        if cached is not None:
            return cached
        failed = self._failure(url)
        if failed is not None:
            raise failed
        try:
            item = await self._fetch(url)
        except MediaError as e:
            self._remember_failure(url, e)
            raise
        self._cache.put(url, item)
        return item

    async def aclose(self) -> None:
        if self._fetcher is not None:
            loop, fetcher = self._fetcher
            self._fetcher = None
            if loop is asyncio.get_running_loop():
                await fetcher.aclose()

    def _failure(self, url: str) -> MediaError | None:
        with self._lock:
            found = self._failures.get(url)
            if found is None:
                return None
            error, until = found
            if time.monotonic() < until:
                return error
            del self._failures[url]
            return None

    def _remember_failure(self, url: str, error: MediaError) -> None:
        with self._lock:
            self._failures[url] = (error, time.monotonic() + FAILURE_SECONDS)
            self._failures.move_to_end(url)
            while len(self._failures) > FAILURES_KEPT:
                self._failures.popitem(last=False)

    def _current_fetcher(self) -> Fetcher:
        loop = asyncio.get_running_loop()
        if self._fetcher is None or self._fetcher[0] is not loop:
            self._fetcher = (loop, Fetcher(self._settings))
        return self._fetcher[1]

    async def _fetch(self, url: str) -> MediaItem:
        try:
            response = await self._current_fetcher().fetch(url, accept=IMAGE_ACCEPT)
        except BlockedAddressError as e:
            raise MediaForbiddenError(f"the picture's address is not allowed: {e}") from e
        except ResponseTooLargeError as e:
            raise ImageTooLargeError(
                f"the picture is larger than {self.max_bytes // (1024 * 1024)} MiB"
            ) from e
        except FetchTimeoutError as e:
            raise MediaTimeoutError(f"the picture did not arrive in time: {e}") from e
        except InvalidURLError as e:
            raise MediaUnavailableError(f"the picture's address is invalid: {e}") from e
        except FetchError as e:
            raise MediaUnavailableError(f"the picture could not be fetched: {e}") from e
        declared = (response.content_type or "").split(";")[0].strip().lower()
        if not declared.startswith("image/"):
            raise NotAnImageError(f"the publisher sent {declared or 'no type'}, not a picture")
        kind = sniff_image(response.content)
        if kind is None:
            raise NotAnImageError(
                f"the publisher declared {declared} but sent no JPEG, PNG, GIF, WebP or AVIF"
            )
        digest = hashlib.sha256(response.content).hexdigest()[:32]
        return MediaItem(content=response.content, content_type=kind, etag=f'"{digest}"')


def cache_headers(item: MediaItem) -> dict[str, str]:
    """The headers a served picture carries."""
    return {
        "Cache-Control": f"public, max-age={BROWSER_CACHE_SECONDS}, immutable",
        "ETag": item.etag,
        "Content-Security-Policy": MEDIA_CONTENT_SECURITY_POLICY,
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether a request's If-None-Match names ``etag`` (or is ``*``)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags
