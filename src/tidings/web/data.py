"""What is the reader's own: articles they add themselves (by address or copied page), and
their data, to take elsewhere or bring in, and the deletion of their account.

``/clippings`` shows the "Add an article" forms and the reader's clippings (the bookmarklet
on the settings page opens it with ``?url=`` filled in; adding still takes a press of the
button, a POST with the session's CSRF token). ``/settings/export`` and
``/settings/export.opml`` download the reader's data, ``/settings/import`` takes a file
back, ``/settings/delete`` deletes the account after the reader types their name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from tidings.api.ingesting import source_added
from tidings.api.routes.mine import MAX_IMPORT_BYTES
from tidings.errors import FetchError, InvalidInputError, OPMLError
from tidings.portability import ReaderData, clipping_source
from tidings.readers import MAX_PASTE_CHARS, MAX_URL_CHARS
from tidings.web.account import settings_page
from tidings.web.render import PageRoute, counted, page, redirect
from tidings.web.session import end_session, engine_of, require_form, require_reader

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Csrf = Annotated[str, Form(max_length=200)]
#: Clippings listed on the page.
CLIPPINGS_SHOWN = 100


def clippings_page(
    request: Request,
    *,
    status_code: int = 200,
    url: str = "",
    text: str = "",
    error: str | None = None,
    which: str | None = None,
    added: int | None = None,
) -> HTMLResponse:
    caller = require_reader(request)
    engine = engine_of(request)
    found = engine.clippings(caller.reader.id, limit=CLIPPINGS_SHOWN)
    just = next((a for a, _ in found if a.id == added), None) if added else None
    return page(
        request,
        "clippings.html",
        status_code=status_code,
        title="Add an article",
        clippings=[(a, at, clipping_source(a)) for a, at in found],
        url=url,
        text=text,
        error=error,
        which=which,
        just_added=just,
        max_paste=MAX_PASTE_CHARS,
    )


@router.get("/clippings", response_class=HTMLResponse)
def clippings(
    request: Request,
    # Longer than any address taken, so that one too long is refused with its reason.
    url: Annotated[str, Query(max_length=4 * MAX_URL_CHARS)] = "",
    added: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    return clippings_page(request, url=url, added=added)


@router.post("/clippings", response_class=HTMLResponse)
def add_clipping(
    request: Request,
    csrf: Csrf = "",
    url: Annotated[str | None, Form(max_length=2 * MAX_URL_CHARS)] = None,
    text: Annotated[str | None, Form()] = None,
) -> Response:
    """Add an article by its address (the address form) or its copied page (the paste
    form): saved for the reader and listed as theirs. Bad input comes back on the same page
    with what was wrong, and nothing is stored."""
    caller = require_form(request, csrf)
    engine = engine_of(request)
    which = "url" if url is not None else "text"
    try:
        if url is not None:
            article = engine.clip(caller.reader.id, url=url)
        else:
            article = engine.clip(caller.reader.id, text=text or "")
    except (InvalidInputError, FetchError) as e:
        message = str(e)
        # Binary garbage is not worth showing back; anything else is kept to correct.
        kept = text if which == "text" and "binary" not in message else ""
        return clippings_page(
            request,
            status_code=422,
            url=url or "",
            text=kept or "",
            error=message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."),
            which=which,
        )
    return redirect(f"/clippings?added={article.id}#row-{article.id}")


# --- the reader's data ----------------------------------------------------------------------


@router.get("/settings/export")
def export(request: Request) -> Response:
    caller = require_reader(request)
    data = ReaderData(engine_of(request)).export(caller.reader.id)
    return Response(
        data.model_dump_json(indent=1),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="tidings-{caller.reader.name}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/settings/export.opml")
def export_opml(request: Request) -> Response:
    caller = require_reader(request)
    return Response(
        ReaderData(engine_of(request)).export_opml(caller.reader.id),
        media_type="text/x-opml",
        headers={
            "Content-Disposition": f'attachment; filename="tidings-{caller.reader.name}.opml"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/settings/import", response_class=HTMLResponse)
async def import_file(
    request: Request, file: Annotated[UploadFile, File()], csrf: Csrf = ""
) -> Response:
    import asyncio

    caller = require_form(request, csrf)
    engine = engine_of(request)
    data = await file.read(MAX_IMPORT_BYTES + 1)
    try:
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidInputError("that file is larger than a Tidings export can be")
        if not data.strip():
            raise InvalidInputError("that file is empty")
        report = await asyncio.to_thread(ReaderData(engine).import_any, caller.reader.id, data)
    except (InvalidInputError, OPMLError) as e:
        return settings_page(request, status_code=422, error=f"Nothing was imported: {e}.")
    done = [
        counted(report.follows, "follow"),
        counted(report.mutes, "mute"),
        f"{report.saved} saved",
        counted(report.clippings, "clipping"),
        counted(report.events, "event"),
    ]
    if report.sources_added:
        done.append(counted(report.sources_added, "new source"))
        source_added(request.app)
    notice = "Imported " + ", ".join(done) + "."
    if report.skipped:
        notice += f" Not found here ({len(report.skipped)}): " + "; ".join(report.skipped[:8])
        notice += "…" if len(report.skipped) > 8 else "."
    return settings_page(request, notice=notice)


@router.post("/settings/delete", response_class=HTMLResponse)
def delete_account(
    request: Request, confirm: Annotated[str, Form(max_length=200)] = "", csrf: Csrf = ""
) -> Response:
    """Delete the account once the reader has typed their name (a slip of the mouse must
    not delete years of reading)."""
    caller = require_form(request, csrf)
    if confirm.strip() != caller.reader.name:
        return settings_page(
            request,
            status_code=422,
            error="Type your name exactly to delete your account: nothing was deleted.",
        )
    engine_of(request).readers.remove_reader(caller.reader.id)
    response = redirect("/signup?deleted=1")
    end_session(request, response)
    return response
