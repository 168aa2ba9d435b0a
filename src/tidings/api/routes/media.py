"""The media proxy's route: ``GET /media/{signature}/{url}`` serves a publisher's picture
from this site (:mod:`tidings.deliver.media` does the work). No sign-in: the signature
limits it to the pictures Tidings itself put on a page, and a picture says nothing about
who asked for it."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import PlainTextResponse, Response

from tidings.api.errors import status_for
from tidings.deliver.media import (
    MAX_URL_CHARS,
    MEDIA_CONTENT_SECURITY_POLICY,
    MEDIA_PREFIX,
    MediaProxy,
    MediaSigner,
    cache_headers,
    etag_matches,
    media_secret,
)
from tidings.engine import Engine
from tidings.errors import MediaError

router = APIRouter(include_in_schema=False)

_making = threading.Lock()


def media_proxy(app: FastAPI) -> MediaProxy:
    """The app's one media proxy (and its signer), made on first use from the engine's
    settings: the secret (or the data directory that keeps one), the fetch settings for the
    network."""
    found: MediaProxy | None = getattr(app.state, "media_proxy", None)
    if found is not None:
        return found
    with _making:
        found = getattr(app.state, "media_proxy", None)
        if found is None:
            engine: Engine = app.state.engine
            settings = engine.settings
            configured = settings.media_secret
            signer = MediaSigner(
                media_secret(
                    settings.data_dir,
                    configured.get_secret_value() if configured is not None else None,
                )
            )
            found = MediaProxy(signer, settings.fetch)
            app.state.media_proxy = found
    return found


Signature = Annotated[str, Path(min_length=20, max_length=100)]
Encoded = Annotated[str, Path(min_length=1, max_length=4 * MAX_URL_CHARS)]


@router.get(MEDIA_PREFIX + "/{signature}/{encoded}")
async def media(request: Request, signature: Signature, encoded: Encoded) -> Response:
    try:
        item = await media_proxy(request.app).get(signature, encoded)
    except MediaError as e:
        return PlainTextResponse(
            str(e),
            status_code=status_for(e),
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": MEDIA_CONTENT_SECURITY_POLICY,
            },
        )
    headers = cache_headers(item)
    if etag_matches(request.headers.get("if-none-match"), item.etag):
        return Response(status_code=304, headers=headers)
    return Response(item.content, media_type=item.content_type, headers=headers)
