"""Email digests: a reader's top stories since their last digest, daily or weekly.

Three layers, so that each can be tested on its own:

- pure decisions and composition: :func:`tidings.accounts.digest_due` (is one due?),
  :func:`digest_entries` (which stories) and :func:`compose_digest` (the message, a text
  part and a sanitised HTML part, one entry per story);
- :func:`send_digest`: one message through the operator's SMTP server, every failure turned
  into a :class:`~tidings.errors.DeliveryError` with a clear message;
- :func:`send_due_digests`: the whole run through the Engine (who is due, their feed, the
  articles, leasing and marking what was sent), seen through :class:`DigestEngine` so that
  delivery does not import the engine that wires it. One reader's failure never stops the
  others; a reader whose digest failed is not marked, so the next run tries again.

``tidings digest send`` runs it; an operator schedules that (cron, a systemd timer) as
often as they like, hourly for example: only digests that are due go out.
"""

from __future__ import annotations

import html
import smtplib
import ssl
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from tidings.config import Settings, SMTPSettings
from tidings.deliver.sanitize import clean_html
from tidings.deliver.syndication import StoryEntry, collect_articles, story_entries
from tidings.errors import ConfigError, DeliveryError, InvalidInputError, TidingsError
from tidings.types import Account, Article, FeedPage, Reader

#: Most stories in one digest: what a reader takes in over a coffee, and what fits one
#: phone screen's scroll or three; the reader's page has the rest.
DIGEST_STORIES = 12

#: Items asked of the ranker for a digest, before keeping the stories new since the last
#: one: four times :data:`DIGEST_STORIES`, so that a digest is still full when most of the
#: top of the feed is older news.
DIGEST_CANDIDATES = 48


def settings_url(site_url: str) -> str:
    """The reader's settings page, where digests are changed or stopped."""
    return urljoin(site_url if site_url.endswith("/") else f"{site_url}/", "settings")


def digest_entries(
    page: FeedPage,
    articles: Mapping[int, Article],
    *,
    site_url: str,
    since: datetime | None,
    limit: int = DIGEST_STORIES,
) -> list[StoryEntry]:
    """The page's stories with news since ``since`` (a story counts when any of its listed
    articles was published after it), best first, at most ``limit``."""
    return story_entries(page, articles, site_url=site_url, since=since)[:limit]


#: The text part's indentation of a story's lines under its number.
INDENT = "   "


def _subject(count: int) -> str:
    return f"Your Tidings digest: {count} {'story' if count == 1 else 'stories'}"


def _day(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def _byline(entry: StoryEntry) -> str:
    return f"{entry.source}, {_day(entry.published)}"


def compose_digest(
    entries: Sequence[StoryEntry],
    *,
    reader_name: str,
    recipient: str,
    sender: str,
    site_url: str,
    now: datetime,
    since: datetime | None = None,
) -> EmailMessage:
    """The digest message for ``entries`` (see :func:`digest_entries`): one entry per story
    with its source, the other sources that covered it and why it is there, as a text part
    and a sanitised HTML part, with a ``List-Unsubscribe`` header pointing at the reader's
    settings page. Raises InvalidInputError for an address that cannot go in a header."""
    settings_link = settings_url(site_url)
    period = f"since {_day(since)}" if since is not None else "lately"
    intro = (
        f"{len(entries)} {'story' if len(entries) == 1 else 'stories'} {period}, for {reader_name}."
    )

    text = [f"Your Tidings digest, {_day(now)}", intro, ""]
    for n, entry in enumerate(entries, 1):
        text.append(f"{n}. {entry.title}")
        text.append(f"   {_byline(entry)}")
        if entry.summary:
            text.append(
                textwrap.fill(entry.summary, 72, initial_indent=INDENT, subsequent_indent=INDENT)
            )
        text.append(f"   Why this is here: {entry.why}")
        if entry.also_covered_by:
            others = ", ".join(c.source for c in entry.also_covered_by)
            text.append(f"   Also covered by: {others}")
        if entry.url:
            text.append(f"   {entry.url}")
        text.append("")
    text += ["-- ", f"Change or stop these digests: {settings_link}"]

    esc = html.escape
    parts = [f"<h2>Your Tidings digest, {esc(_day(now))}</h2>", f"<p>{esc(intro)}</p>"]
    for entry in entries:
        headline = (
            f'<a href="{esc(entry.url)}">{esc(entry.title)}</a>' if entry.url else esc(entry.title)
        )
        parts.append(f"<h3>{headline}</h3>")
        parts.append(f"<p><em>{esc(_byline(entry))}</em></p>")
        if entry.summary:
            parts.append(f"<p>{esc(entry.summary)}</p>")
        parts.append(f"<p><strong>Why this is here:</strong> {esc(entry.why)}</p>")
        if entry.also_covered_by:
            links = ", ".join(
                f'<a href="{esc(c.url)}">{esc(c.source)}</a>' if c.url else esc(c.source)
                for c in entry.also_covered_by
            )
            parts.append(f"<p><strong>Also covered by:</strong> {links}</p>")
    parts.append("<hr>")
    parts.append(f'<p><a href="{esc(settings_link)}">Change or stop these digests</a></p>')
    body = clean_html("".join(parts))
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(_subject(len(entries)))}</title></head>\n<body>{body}</body></html>\n"
    )

    message = EmailMessage()
    try:
        message["Subject"] = _subject(len(entries))
        message["From"] = sender
        message["To"] = recipient
    except (ValueError, IndexError) as e:  # a line break or an unparseable address
        raise InvalidInputError(f"cannot address a digest to {recipient!r}: {e}") from e
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("digest", domain=urlsplit(site_url).hostname or None)
    message["List-Unsubscribe"] = f"<{settings_link}>"
    # RFC 3834: an automatic message, so that autoresponders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(text))
    message.add_alternative(document, subtype="html")
    return message


# --- sending -----------------------------------------------------------------------------


def _reply(error: smtplib.SMTPResponseException) -> str:
    words = error.smtp_error
    said = words.decode("utf-8", "replace") if isinstance(words, bytes) else str(words)
    return f"{error.smtp_code} {' '.join(said.split())}".strip()


def send_digest(message: EmailMessage, settings: SMTPSettings) -> None:
    """Send ``message`` through the operator's SMTP server (``settings``: host, port,
    STARTTLS or TLS, login). Raises ConfigError when no server is configured and
    DeliveryError, with a message saying what went wrong, for any failure to deliver."""
    if not settings.host:
        raise ConfigError("no SMTP server configured: set TIDINGS_SMTP_HOST (and _FROM)")
    port = settings.effective_port
    server = f"smtp://{settings.host}:{port}"
    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    # What was being done when it failed, for the error message.
    stage = "connecting"
    try:
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host, port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
        client.ehlo()
        if settings.security == "starttls":
            stage = "STARTTLS"
            client.starttls(context=context)
            client.ehlo()
        if settings.username and settings.password:
            stage = "login"
            client.login(settings.username, settings.password)
        stage = "sending"
        client.send_message(message)
    except smtplib.SMTPRecipientsRefused as e:
        refused = "; ".join(
            f"{who} ({code} {_text(said)})" for who, (code, said) in e.recipients.items()
        )
        transient = all(400 <= code < 500 for code, _ in e.recipients.values())
        raise DeliveryError(
            f"the mail server refused the recipient: {refused}",
            resource=", ".join(e.recipients),
            transient=transient,
        ) from e
    except smtplib.SMTPSenderRefused as e:
        raise DeliveryError(
            f"the mail server refused the sender {e.sender}: {_reply(e)} (check TIDINGS_SMTP_FROM)",
            resource=server,
            transient=400 <= e.smtp_code < 500,
        ) from e
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryError(
            f"the mail server refused the login: {_reply(e)} "
            "(check TIDINGS_SMTP_USER and TIDINGS_SMTP_PASSWORD)",
            resource=server,
        ) from e
    except smtplib.SMTPNotSupportedError as e:
        if stage == "STARTTLS":
            problem = "does not offer STARTTLS (see TIDINGS_SMTP_SECURITY)"
        elif stage == "login":
            problem = "does not offer a login (unset TIDINGS_SMTP_USER, or use TLS)"
        else:
            problem = f"cannot take this message: {e}"
        raise DeliveryError(f"the mail server {problem}", resource=server) from e
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(
            f"the mail server answered {_reply(e)}",
            resource=server,
            transient=400 <= e.smtp_code < 500,
        ) from e
    except smtplib.SMTPException as e:  # disconnected, no acceptable auth method, ...
        raise DeliveryError(
            f"SMTP failed while {stage.lower()}: {e}", resource=server, transient=True
        ) from e
    except ssl.SSLError as e:  # a certificate that does not verify, or no TLS at all
        raise DeliveryError(
            f"TLS with the mail server failed: {e.reason or e}", resource=server
        ) from e
    except TimeoutError as e:
        raise DeliveryError(
            f"the mail server did not answer within {settings.timeout:g} seconds",
            resource=server,
            transient=True,
        ) from e
    except OSError as e:
        raise DeliveryError(
            f"cannot reach the mail server: {e.strerror or e}", resource=server, transient=True
        ) from e
    finally:
        if client is not None:
            _close(client)


def _text(said: bytes | str) -> str:
    return " ".join((said.decode("utf-8", "replace") if isinstance(said, bytes) else said).split())


def _close(client: smtplib.SMTP) -> None:
    # The message is sent (or failed) by now; a server hanging up early is not our problem.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


# --- the whole run -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestOutcome:
    """What happened to one reader's digest in a run."""

    reader_id: int
    #: The reader's name (``reader N`` if it could not be read).
    reader: str
    #: Where it went, or would have gone.
    email: str
    #: Stories in it (0 when nothing was new).
    stories: int = 0
    #: Whether it was handed to the mail server.
    sent: bool = False
    #: Why it failed, as one line; ``None`` otherwise.
    error: str | None = None
    #: Why nothing was sent without failing ("nothing new since the last digest").
    note: str | None = None
    #: The message composed (kept for dry runs, to show it).
    message: EmailMessage | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestReport:
    """What one digest run did, reader by reader."""

    outcomes: tuple[DigestOutcome, ...] = ()
    #: Whether this was a dry run (composed, neither sent nor marked).
    dry_run: bool = False

    @property
    def sent(self) -> tuple[DigestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.sent)

    @property
    def failed(self) -> tuple[DigestOutcome, ...]:
        return tuple(o for o in self.outcomes if o.error is not None)


class DigestAccounts(Protocol):
    """What sending digests needs of :class:`tidings.accounts.Accounts`."""

    def due_digests(self, now: datetime | None = None) -> list[Account]: ...
    def claim_digest(self, reader_id: int, last_sent: datetime | None) -> bool: ...
    def release_digest(self, reader_id: int) -> None: ...
    def mark_digest_sent(self, reader: int | str, at: datetime) -> None: ...


class DigestReaders(Protocol):
    """What sending digests needs of :class:`tidings.readers.Readers`."""

    def get_reader(self, key: int | str) -> Reader: ...


class DigestEngine(Protocol):
    """What sending digests needs of :class:`tidings.engine.Engine`."""

    @property
    def accounts(self) -> DigestAccounts: ...
    @property
    def readers(self) -> DigestReaders: ...
    def get_article(self, article_id: int) -> Article: ...
    def feed(self, reader: int | str, *, cursor: str | None = ..., size: int = ...) -> FeedPage: ...


def send_due_digests(
    engine: DigestEngine,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
    reader: int | str | None = None,
) -> DigestReport:
    """Compose and send every digest due at ``now`` (only ``reader``'s, when given), and mark
    each one sent. A digest holds the reader's top stories with news since their last
    digest; a reader with none gets no email this time (and is not marked). One reader's
    failure is recorded in the report and the others carry on; their digest is retried on
    the next run. With ``dry_run``, digests are composed but neither sent nor marked.

    Raises ConfigError (before trying anyone) when no SMTP server or sender is configured.
    """
    smtp = settings.smtp
    if not dry_run and not (smtp.host and smtp.sender):
        raise ConfigError(
            "digests need an SMTP server and a sender: set TIDINGS_SMTP_HOST and TIDINGS_SMTP_FROM"
        )
    sender = smtp.sender or "Tidings <tidings@localhost>"
    only = engine.readers.get_reader(reader).id if reader is not None else None
    outcomes = []
    for account in engine.accounts.due_digests(now):
        if only is not None and account.reader_id != only:
            continue
        if not account.email:
            continue
        # Leased first, so that two processes sending digests never send one twice (a dry
        # run sends nothing and takes nothing).
        if not dry_run and not engine.accounts.claim_digest(
            account.reader_id, account.digest_last_sent
        ):
            continue
        try:
            outcomes.append(
                _one_digest(
                    engine,
                    smtp,
                    account.reader_id,
                    account.email,
                    account.digest_last_sent,
                    now=now,
                    sender=sender,
                    dry_run=dry_run,
                )
            )
        finally:
            if not dry_run:
                engine.accounts.release_digest(account.reader_id)
    return DigestReport(outcomes=tuple(outcomes), dry_run=dry_run)


def _one_digest(
    engine: DigestEngine,
    smtp: SMTPSettings,
    reader_id: int,
    email: str,
    since: datetime | None,
    *,
    now: datetime,
    sender: str,
    dry_run: bool,
) -> DigestOutcome:
    outcome = DigestOutcome(reader_id=reader_id, reader=f"reader {reader_id}", email=email)
    try:
        page = engine.feed(reader_id, size=DIGEST_CANDIDATES)
        outcome = replace(outcome, reader=page.reader.name)
        # Pick the stories from what the page already knows, then read only their articles.
        chosen = {
            e.article_id for e in digest_entries(page, {}, site_url=smtp.site_url, since=since)
        }
        if not chosen:
            return replace(outcome, note="nothing new since the last digest")
        page = replace(page, items=tuple(i for i in page.items if i.article_id in chosen))
        articles = collect_articles(page, engine.get_article)
        entries = digest_entries(page, articles, site_url=smtp.site_url, since=since)
        message = compose_digest(
            entries,
            reader_name=page.reader.name,
            recipient=email,
            sender=sender,
            site_url=smtp.site_url,
            now=now,
            since=since,
        )
        outcome = replace(outcome, stories=len(entries), message=message)
        if dry_run:
            return replace(outcome, note="dry run: not sent")
        send_digest(message, smtp)
    except TidingsError as e:
        return replace(outcome, error=str(e))
    # Marked only once the server took it; a failure to mark would send it again next time,
    # which is better than a reader silently missing a digest.
    try:
        engine.accounts.mark_digest_sent(reader_id, now)
    except TidingsError as e:
        return replace(outcome, sent=True, error=f"sent, but not recorded as sent: {e}")
    return replace(outcome, sent=True)
