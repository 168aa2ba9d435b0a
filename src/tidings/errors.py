"""Errors Tidings raises.

Everything derives from :class:`TidingsError`. Each error carries a message written for the
person who will read it (an operator at the command line, a reader in the API) and, where
there is one, the resource it is about. Third-party exceptions are converted where they enter
our code (``raise FetchError(...) from e``), so callers never need to know which library failed.
"""

from __future__ import annotations


class TidingsError(Exception):
    """Root of every error Tidings raises on purpose."""

    #: A stable key for the kind of error, for APIs and translations.
    key: str = "error"

    def __init__(self, message: str, *, resource: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.resource = resource

    def __str__(self) -> str:
        if self.resource and self.resource not in self.message:
            return f"{self.resource}: {self.message}"
        return self.message


class ConfigError(TidingsError):
    """The configuration is invalid or insecure."""

    key = "config"


# --- storage -----------------------------------------------------------------------------


class StorageError(TidingsError):
    """The database could not be reached or refused an operation."""

    key = "storage"


class NotFoundError(StorageError):
    """A requested resource does not exist."""

    key = "not_found"


class SourceNotFoundError(NotFoundError):
    key = "source_not_found"


class ArticleNotFoundError(NotFoundError):
    key = "article_not_found"


class EntityNotFoundError(NotFoundError):
    key = "entity_not_found"


class StoryNotFoundError(NotFoundError):
    key = "story_not_found"


class TopicNotFoundError(NotFoundError):
    key = "topic_not_found"


class ReaderNotFoundError(NotFoundError):
    key = "reader_not_found"


class ReaderExistsError(StorageError):
    """Adding a reader whose name is taken."""

    key = "reader_exists"


class InvalidInputError(TidingsError):
    """A request that cannot be carried out as asked (a malformed event, a bad setting)."""

    key = "invalid_input"


class SourceExistsError(StorageError):
    """A source with this URL is already subscribed."""

    key = "source_exists"


# --- ingestion ---------------------------------------------------------------------------


class FetchError(TidingsError):
    """A resource could not be fetched."""

    key = "fetch"
    #: Whether trying again later may succeed (timeouts, 5xx, 429); decides backoff.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        resource: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, resource=resource)
        #: Seconds the server asked us to wait (Retry-After), if it did.
        self.retry_after = retry_after


class InvalidURLError(FetchError):
    """The URL is malformed or uses a scheme Tidings does not fetch."""

    key = "invalid_url"


class BlockedAddressError(FetchError):
    """The host resolves to an address the network guard refuses (loopback, private, …)."""

    key = "blocked_address"


class FetchTimeoutError(FetchError):
    """The server did not connect or answer in time."""

    key = "timeout"
    transient = True


class FetchConnectionError(FetchError):
    """The connection failed (DNS, refused, reset, TLS)."""

    key = "connection"
    transient = True


class ResponseTooLargeError(FetchError):
    """The response body exceeded the configured maximum size."""

    key = "too_large"


class TooManyRedirectsError(FetchError):
    """The redirect chain was longer than the configured limit."""

    key = "too_many_redirects"


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    key = "http_status"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        resource: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, resource=resource, retry_after=retry_after)
        self.status = status
        # 408, 425, 429 and 5xx may go away; other 4xx will not without someone acting.
        self.transient = status in (408, 425, 429) or status >= 500


class FeedParseError(TidingsError):
    """A document could not be read as a feed (not a feed, or unsafe XML)."""

    key = "feed_parse"


class ExtractionError(TidingsError):
    """A page could not be turned into an article; the message says why."""

    key = "extraction"


class OPMLError(TidingsError):
    """An OPML document could not be read."""

    key = "opml"


# --- understanding ----------------------------------------------------------------------


class ModelLoadError(TidingsError):
    """The embedding model or its tokenizer could not be loaded."""

    key = "model_load"


class VectorIndexError(TidingsError):
    """The vector index could not do what was asked (bad input, I/O failure, library error)."""

    key = "vector_index"


class VectorIndexCorruptError(VectorIndexError):
    """The index file is truncated, damaged, or was built with other settings; rebuild it."""

    key = "vector_index_corrupt"


class VectorShapeError(VectorIndexError):
    """A vector has the wrong number of dimensions or non-finite values."""

    key = "vector_shape"


# --- ranking -----------------------------------------------------------------------------


class InvalidCursorError(TidingsError):
    """A page cursor is not one ``PageCursor.encode`` produced (garbage or edited)."""

    key = "invalid_cursor"


class MindFormatError(TidingsError):
    """A MIND file (``tidings eval rank``) is missing or has a line not in the MIND format."""

    key = "mind_format"


# --- accounts --------------------------------------------------------------------------


class AuthenticationError(TidingsError):
    """Wrong name or password, or an unknown, expired or revoked token. The message never
    says which, so that it cannot be used to find out which names exist."""

    key = "authentication"


class TokenNotFoundError(NotFoundError):
    key = "token_not_found"


class CSRFError(AuthenticationError):
    """A cookie-authenticated change without the session's CSRF token."""

    key = "csrf"


# --- delivery ----------------------------------------------------------------------------


class DeliveryError(TidingsError):
    """A message could not be delivered (the mail server unreachable, refusing the login,
    the sender or the recipient). ``resource`` names the server or the recipient."""

    key = "delivery"
    #: Whether trying again later may succeed (the server unreachable or busy, 4xx replies).
    transient: bool = False

    def __init__(self, message: str, *, resource: str | None = None, transient: bool = False):
        super().__init__(message, resource=resource)
        self.transient = transient


# --- the media proxy (deliver/media.py) ----------------------------------------------------


class MediaError(TidingsError):
    """A picture the media proxy will not serve."""

    key = "media"


class BadSignatureError(MediaError):
    """The address was not signed by this server (or was edited)."""

    key = "media_signature"


class MediaForbiddenError(MediaError):
    """The picture is on an address the fetcher may not reach (private, loopback, ...)."""

    key = "media_forbidden"


class NotAnImageError(MediaError):
    """The publisher's answer is not a picture we serve."""

    key = "media_not_image"


class ImageTooLargeError(MediaError):
    """The picture is over the proxy's size cap."""

    key = "media_too_large"


class MediaUnavailableError(MediaError):
    """The publisher could not be reached, or answered with an error."""

    key = "media_unavailable"


class MediaTimeoutError(MediaError):
    key = "media_timeout"


# --- permissions -------------------------------------------------------------------------


class PermissionDeniedError(TidingsError):
    """The caller is known but may not do this (an operator's action, for example)."""

    key = "forbidden"


class RateLimitedError(TidingsError):
    """Too many attempts (signing in, signing up) in too short a time."""

    key = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, resource: str | None = None) -> None:
        super().__init__(message, resource=resource)
        #: Seconds until the next attempt may succeed.
        self.retry_after = retry_after
