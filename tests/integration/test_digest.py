"""Email digests end to end: real analysed articles, readers with accounts, and a real SMTP
server (aiosmtpd) on loopback receiving what ``send_due_digests`` and ``tidings digest
send`` send."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.integration.test_enrich import draft, store
from tests.integration.test_feed import newsroom
from tests.unit.test_sanitize import problems
from tidings.config import Settings, SMTPSettings
from tidings.deliver.digest import send_digest, send_due_digests
from tidings.engine import Engine, make_engine
from tidings.errors import DeliveryError

pytestmark = pytest.mark.integration

SITE = "https://tidings.example/"
HOSTILE_TITLE = 'Storm <script>alert("digest")</script> hits the coast'
HOSTILE_BODY = (
    "A powerful storm hit the northern coast of Portugal on Thursday, cutting power to tens of "
    "thousands of homes and flooding streets in Porto, the civil protection agency said. "
    "Winds of up to 120 kilometres an hour uprooted trees and damaged roofs, and the airport "
    "cancelled dozens of flights. Forecasters said the storm would weaken as it moved inland "
    "towards Spain over the weekend, but warned of more heavy rain on Friday."
)


class Inbox:
    """An aiosmtpd handler keeping what it receives; refuses the recipients it is told to."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()

    # aiosmtpd calls its hooks by these names.
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Analysed articles from three sources (the Xi–Putin meeting covered by two of them),
    plus one with a hostile headline and HTML. Analysis is slow, so the module shares them;
    each test makes its own readers."""
    tmp = tmp_path_factory.mktemp("digest")
    settings = Settings(database_url=f"sqlite:///{tmp / 'db.sqlite'}", data_dir=tmp)
    with make_engine(settings) as e:
        newsroom(e)
        hostile = replace(
            draft("storm", HOSTILE_TITLE, HOSTILE_BODY, 0),
            published=e._clock() - timedelta(hours=20),
            content_html='<p onclick="alert(1)">Storm</p><script>alert(2)</script>',
            summary="Winds <img src=x onerror=alert(3)> of 120 km/h",
        )
        store(e, "https://weather.example/feed", [hostile])
        e.enrich()
        yield e


def smtp_settings(port: int, **changes: Any) -> Settings:
    smtp = SMTPSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        sender="Tidings <digest@tidings.example>",
        timeout=5,
        site_url=SITE,
    )
    return Settings(smtp=smtp.replace(**changes))


def reader(engine: Engine, name: str, digest: str = "daily") -> int:
    r = engine.readers.add_reader(name)
    engine.accounts.set_account(name, email=f"{name}@example.org", digest=digest)
    return r.id


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None and markup is not None
    return text.get_content(), markup.get_content()


def test_digests_go_out_once_and_a_refused_recipient_stops_no_one(
    engine: Engine, inbox: tuple[Inbox, int]
) -> None:
    server, port = inbox
    for name in ("ana", "ben", "cy"):
        reader(engine, name)
    engine.readers.follow("ana", "entity", "Xi Jinping")
    server.refuse.add("ben@example.org")
    settings = smtp_settings(port)
    now = datetime.now(UTC)

    report = send_due_digests(engine, settings, now)

    by_name = {o.reader: o for o in report.outcomes}
    assert by_name["ana"].sent and by_name["cy"].sent
    assert not by_name["ben"].sent
    assert "refused the recipient" in (by_name["ben"].error or "")
    assert "ben@example.org" in (by_name["ben"].error or "")
    assert [o.reader for o in report.failed] == ["ben"]
    assert server.envelopes[0][0] == "digest@tidings.example"

    [message] = server.to("ana@example.org")
    stories = by_name["ana"].stories
    assert stories >= 4
    assert message["Subject"] == f"Your Tidings digest: {stories} stories"
    assert message["From"] == "Tidings <digest@tidings.example>"
    assert message["List-Unsubscribe"] == "<https://tidings.example/settings>"
    text, markup = bodies(message)
    # One entry per story: the meeting once, its other source under "also covered by".
    meeting = [t for t in ("Xi and Putin pledge", "Putin praises Xi") if t in text]
    assert len(meeting) == 1
    assert "Also covered by: " in text
    assert "You follow Xi Jinping" in text
    assert text.count("Why this is here:") == stories
    assert markup.count("<h3>") == stories
    # Hostile text arrives as text; nothing in the HTML part can run.
    assert HOSTILE_TITLE in text
    body = markup.split("<body>", 1)[1].split("</body>", 1)[0]
    assert problems(body) == []
    assert "<script" not in markup and "onerror=" not in markup.replace("onerror=alert(3)", "")
    assert "&lt;script&gt;" in markup
    assert len(server.messages) == 2

    # A second run the same day sends nothing to those who got theirs; ben's is retried.
    again = send_due_digests(engine, settings, now + timedelta(hours=3))
    assert [o.reader for o in again.outcomes if o.reader in ("ana", "ben", "cy")] == ["ben"]
    assert len(server.messages) == 2
    # Once ben's mailbox works, he gets his, and only he.
    server.refuse.clear()
    third = send_due_digests(engine, settings, now + timedelta(hours=4), reader="ben")
    assert [o.reader for o in third.sent] == ["ben"]
    assert len(server.to("ben@example.org")) == 1
    assert engine.accounts.account("ben").digest_last_sent is not None


def test_only_stories_new_since_the_last_digest(engine: Engine, inbox: tuple[Inbox, int]) -> None:
    server, port = inbox
    reader(engine, "dee")
    now = datetime.now(UTC)
    # newsroom(): the meeting 30 h ago, the quake 29 h, the other meeting report 28 h,
    # floods 27 h, markets 25 h; the storm 20 h.
    engine.accounts.mark_digest_sent("dee", now - timedelta(hours=28, minutes=30))
    report = send_due_digests(engine, smtp_settings(port), now, reader="dee")
    assert [o.reader for o in report.sent] == ["dee"]
    text, _ = bodies(server.to("dee@example.org")[0])
    assert "earthquake" not in text.lower() and "quake" not in text.lower()
    assert "Floods" in text and "Stocks rally" in text
    assert report.sent[0].stories == 4  # the meeting (new coverage), floods, markets, storm

    # A day later with nothing published since: no email, not marked, a note instead.
    later = now + timedelta(hours=25)
    nothing = send_due_digests(engine, smtp_settings(port), later, reader="dee")
    assert nothing.outcomes[0].note == "nothing new since the last digest"
    assert not nothing.outcomes[0].sent and nothing.outcomes[0].error is None
    assert engine.accounts.account("dee").digest_last_sent == now
    assert len(server.to("dee@example.org")) == 1


def test_an_unreachable_server_is_a_clear_error_for_each_reader(engine: Engine) -> None:
    ids = {reader(engine, name) for name in ("eve", "fay")}
    now = datetime.now(UTC)
    report = send_due_digests(engine, smtp_settings(free_port()), now)
    mine = [o for o in report.outcomes if o.reader_id in ids]
    assert len(mine) == 2 and not any(o.sent for o in mine)
    for o in mine:
        assert o.error is not None and "cannot reach the mail server" in o.error
        assert "smtp://127.0.0.1:" in o.error
        # Not marked: the next run tries again.
        assert engine.accounts.account(o.reader_id).digest_last_sent is None


def test_dry_run_sends_and_marks_nothing(engine: Engine, inbox: tuple[Inbox, int]) -> None:
    server, _ = inbox
    reader(engine, "gil")
    report = send_due_digests(engine, Settings(), datetime.now(UTC), dry_run=True, reader="gil")
    [outcome] = report.outcomes
    assert outcome.message is not None and outcome.stories > 0 and not outcome.sent
    assert server.messages == []
    assert engine.accounts.account("gil").digest_last_sent is None


def test_readers_without_digests_get_none(engine: Engine, inbox: tuple[Inbox, int]) -> None:
    server, port = inbox
    reader(engine, "hal", digest="off")
    engine.readers.add_reader("ivy")  # no email at all
    report = send_due_digests(engine, smtp_settings(port), datetime.now(UTC))
    assert not {"hal", "ivy"} & {o.reader for o in report.outcomes}
    assert not server.to("hal@example.org")


def test_smtp_failures_are_delivery_errors(engine: Engine, inbox: tuple[Inbox, int]) -> None:
    _, port = inbox
    message = EmailMessage()
    message["From"] = "digest@tidings.example"
    message["To"] = "x@example.org"
    message["Subject"] = "test"
    message.set_content("hello")
    # The test server offers no STARTTLS: refusing to go on in the clear, with the reason.
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as info:
        send_digest(message, smtp_settings(port).smtp.replace(security="starttls"))
    assert info.value.resource == f"smtp://127.0.0.1:{port}"
    with pytest.raises(DeliveryError, match=r"did not answer|cannot reach|TLS"):
        send_digest(message, smtp_settings(port).smtp.replace(security="ssl", timeout=2))


@pytest.fixture
def auth_inbox() -> Iterator[int]:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password == b"right"
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,  # loopback only, for this test
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_a_refused_login_is_a_delivery_error(auth_inbox: int) -> None:
    message = EmailMessage()
    message["From"] = "digest@tidings.example"
    message["To"] = "x@example.org"
    message.set_content("hello")
    smtp = smtp_settings(auth_inbox).smtp.replace(username="tidings", password="wrong")
    with pytest.raises(DeliveryError, match="refused the login"):
        send_digest(message, smtp)
    send_digest(message, smtp.replace(password="right"))


def test_the_cli_sends_due_digests(
    engine: Engine, inbox: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tidings.cli import cli

    server, port = inbox
    reader(engine, "jo")
    for name, value in {
        "TIDINGS_SMTP_HOST": "127.0.0.1",
        "TIDINGS_SMTP_PORT": str(port),
        "TIDINGS_SMTP_SECURITY": "none",
        "TIDINGS_SMTP_FROM": "digest@tidings.example",
        "TIDINGS_SITE_URL": SITE,
        "TIDINGS_DATA_DIR": str(engine.settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    database = ["--database", engine.settings.database_url]
    dry = runner.invoke(cli, [*database, "digest", "send", "--dry-run", "--reader", "jo"])
    assert dry.exit_code == 0, dry.output
    assert "Subject: Your Tidings digest:" in dry.output and "would send" in dry.output
    assert server.messages == []
    sent = runner.invoke(cli, [*database, "digest", "send", "--reader", "jo"])
    assert sent.exit_code == 0, sent.output
    assert "sent jo's digest to jo@example.org" in sent.output
    assert len(server.to("jo@example.org")) == 1
    again = runner.invoke(cli, [*database, "digest", "send", "--reader", "jo"])
    assert again.exit_code == 0 and "no digests due" in again.output
