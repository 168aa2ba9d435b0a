"""What the feed's and pages' buttons do: small forms, each POST → 303 → GET back to the
page it came from (``next``, a path on this site, with the item's anchor so the reader is
back at the item). Each carries the session's CSRF token.

The page's script sends the same forms in place, with the header :data:`IN_PLACE_HEADER`;
those get ``204 No Content`` instead of the redirect, and the script updates the item
(see ``static/tidings.js``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from tidings.errors import InvalidInputError, NotFoundError
from tidings.types import ActionVerb, EventKind, InterestKind, ReaderEvent, TargetKind
from tidings.web.render import PageRoute, local_path, redirect
from tidings.web.session import engine_of, require_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Csrf = Annotated[str, Form(max_length=200)]
Next = Annotated[str, Form(max_length=20000)]
Short = Annotated[str, Form(max_length=300)]
#: How far "Explore less" turns exploration down each time (the setting runs 0 to 0.5).
EXPLORATION_STEP = 0.05

#: The buttons on each feed item, as event kinds.
FEEDBACK = {
    "more": EventKind.MORE,
    "less": EventKind.LESS,
    "hide": EventKind.HIDE,
    "save": EventKind.SAVE,
}


#: Sent by the page's script with a form it submits in place.
IN_PLACE_HEADER = "x-tidings-in-place"


def _now() -> datetime:
    return datetime.now(UTC)


def back(request: Request, next: str, default: str = "/", *, hidden: int | None = None) -> Response:
    """Done: 204 for the page's script, else a redirect to ``next`` (on this site). After a
    hide (``hidden``), the page comes back saying so, with Undo, where the item was."""
    if request.headers.get(IN_PLACE_HEADER) == "1":
        return Response(status_code=204)
    target = local_path(next, default)
    if hidden is not None:
        target = with_hidden(target, hidden)
    return redirect(target)


def with_hidden(path: str, article_id: int) -> str:
    """``path`` (a local one, perhaps with ``#at-N``) asking the feed to show "Hidden: …
    Undo" for ``article_id`` at place N: ``/?hidden=12&at=10#at-10``. Pure."""
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("hidden", "at")]
    query.append(("hidden", str(article_id)))
    if parts.fragment.startswith("at-") and parts.fragment[3:].isdigit():
        query.append(("at", parts.fragment[3:]))
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


@router.post("/interests")
def change_interest(
    request: Request,
    kind: Short,
    value: Short,
    stance: Short,
    csrf: Csrf = "",
    next: Next = "/",
) -> Response:
    """Follow, mute, or forget (``stance`` "unfollow", also for unmuting) a thing."""
    caller = require_form(request, csrf)
    engine = engine_of(request)
    if stance == "follow":
        engine.readers.follow(caller.reader.id, kind, value)
    elif stance == "mute":
        engine.readers.mute(caller.reader.id, kind, value)
    elif stance == "unfollow":
        engine.readers.unfollow(caller.reader.id, kind, value)
    else:
        raise InvalidInputError("choose follow, mute or unfollow")
    return back(request, next)


@router.post("/feedback")
def feedback(
    request: Request,
    article_id: Annotated[int, Form(ge=1)],
    kind: Short,
    csrf: Csrf = "",
    next: Next = "/",
) -> Response:
    """More like this, less like this, hide, save."""
    caller = require_form(request, csrf)
    engine = engine_of(request)
    event = FEEDBACK.get(kind)
    if event is None:
        raise InvalidInputError("choose more, less, hide or save")
    if event is EventKind.SAVE:
        engine.readers.save_article(caller.reader.id, article_id)
    engine.readers.record_events(
        caller.reader.id, [ReaderEvent(kind=event, article_id=article_id, at=_now())]
    )
    return back(request, next, hidden=article_id if event is EventKind.HIDE else None)


@router.post("/unhide")
def unhide(
    request: Request,
    article_id: Annotated[int, Form(ge=1)],
    csrf: Csrf = "",
    next: Next = "/",
) -> Response:
    """Undo a hide: the item is back on the reader's next page (the page's Undo, and the
    plain form the feed shows after a hide without script)."""
    caller = require_form(request, csrf)
    engine_of(request).readers.unhide(caller.reader.id, article_id)
    return back(request, next)


@router.post("/saved/remove")
def unsave(
    request: Request,
    article_id: Annotated[int, Form(ge=1)],
    csrf: Csrf = "",
    next: Next = "/saved",
) -> Response:
    caller = require_form(request, csrf)
    engine_of(request).readers.unsave_article(caller.reader.id, article_id)
    return back(request, next, "/saved")


@router.post("/read")
def read_time(
    request: Request,
    article_id: Annotated[int, Form(ge=1)],
    seconds: Annotated[float, Form(ge=0, le=4 * 60 * 60)],
    csrf: Csrf = "",
) -> Response:
    """Seconds spent reading an article, sent by the page's script when the reader leaves
    (progressive enhancement: without script there is no read time, only the open)."""
    caller = require_form(request, csrf)
    engine_of(request).readers.record_events(
        caller.reader.id,
        [ReaderEvent(kind=EventKind.READ, article_id=article_id, at=_now(), value=seconds)],
    )
    return Response(status_code=204)


@router.post("/reasons")
def act_on_reason(
    request: Request,
    verb: Short,
    target_kind: Short,
    target_id: Short,
    article_id: Annotated[int, Form(ge=1)],
    csrf: Csrf = "",
    next: Next = "/",
) -> Response:
    """The button under a reason ("Unfollow Xi Jinping", "Mute this story", "Explore
    less"): each :class:`~tidings.rank.assemble.ActionVerb` done through the Engine."""
    caller = require_form(request, csrf)
    engine = engine_of(request)
    reader = caller.reader.id
    try:
        action = ActionVerb(verb)
        kind = TargetKind(target_kind)
    except ValueError:
        raise InvalidInputError("unknown action") from None
    if action is ActionVerb.UNFOLLOW:
        try:
            engine.readers.unfollow(reader, kind.value, target_id)
        except NotFoundError:
            if kind is not TargetKind.TOPIC:
                raise
            # A followed keyword's reason names it as a topic; it is not one.
            engine.readers.unfollow(reader, InterestKind.KEYWORD, target_id)
    elif action is ActionVerb.MUTE_TOPIC:
        engine.readers.mute(reader, InterestKind.TOPIC, target_id)
    elif action is ActionVerb.MUTE_ENTITY:
        engine.readers.mute(reader, InterestKind.ENTITY, target_id)
    elif action is ActionVerb.MUTE_STORY:
        engine.readers.mute(reader, InterestKind.STORY, target_id)
    elif action is ActionVerb.LESS_FROM_SOURCE:
        # The one lever on a source short of muting it is the reader's own signal: "less"
        # on its article lowers the source's affinity and what is like it.
        engine.readers.record_events(
            reader, [ReaderEvent(kind=EventKind.LESS, article_id=article_id, at=_now())]
        )
    elif action is ActionVerb.FEWER_LIKE_THIS:
        engine.readers.record_events(
            reader, [ReaderEvent(kind=EventKind.LESS, article_id=article_id, at=_now())]
        )
    elif action is ActionVerb.LESS_EXPLORATION:
        current = caller.reader.exploration
        engine.readers.set_reader_settings(
            reader, exploration=max(0.0, round(current - EXPLORATION_STEP, 2))
        )
    return back(request, next)
