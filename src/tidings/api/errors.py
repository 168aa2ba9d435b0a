"""The one place where an error of Tidings becomes an HTTP status (the API's JSON errors,
the pages' error pages and the media proxy's answers all ask here)."""

from __future__ import annotations

from tidings.errors import (
    AuthenticationError,
    BadSignatureError,
    BlockedAddressError,
    CSRFError,
    ExtractionError,
    FeedParseError,
    FetchError,
    InvalidCursorError,
    InvalidInputError,
    InvalidURLError,
    MediaError,
    MediaForbiddenError,
    MediaTimeoutError,
    NotFoundError,
    OPMLError,
    PermissionDeniedError,
    RateLimitedError,
    ReaderExistsError,
    SourceExistsError,
    TidingsError,
)


def status_for(error: TidingsError) -> int:
    """The one place where an error becomes an HTTP status."""
    if isinstance(error, MediaError):
        if isinstance(error, BadSignatureError | MediaForbiddenError):
            return 403
        return 504 if isinstance(error, MediaTimeoutError) else 502
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, CSRFError | PermissionDeniedError):
        return 403
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, RateLimitedError):
        return 429
    if isinstance(error, SourceExistsError | ReaderExistsError):
        return 409
    if isinstance(
        error,
        InvalidURLError
        | BlockedAddressError
        | OPMLError
        | FeedParseError
        | InvalidInputError
        | InvalidCursorError
        | ExtractionError,
    ):
        # A private address or a page with no article in it: what the caller gave.
        return 422
    if isinstance(error, FetchError):
        return 502
    return 500
