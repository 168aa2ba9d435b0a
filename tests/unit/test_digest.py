"""Email digests, the pure parts: when one is due, which stories, the composed message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tests.unit.test_sanitize import problems
from tests.unit.test_syndication import SITE, T0, newsroom
from tidings.accounts import DIGEST_SLACK, digest_due
from tidings.config import SMTPSettings, load_settings
from tidings.deliver.digest import (
    compose_digest,
    digest_entries,
    send_digest,
    settings_url,
)
from tidings.errors import ConfigError, InvalidInputError

NOW = datetime(2030, 6, 2, 7, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("frequency", "last_sent", "due"),
    [
        ("off", None, False),
        ("off", NOW - 30 * DAY, False),
        ("daily", None, True),
        ("daily", NOW - DAY, True),
        # Yesterday's run finished a little after today's starts: still due.
        ("daily", NOW - DAY + timedelta(minutes=5), True),
        ("daily", NOW - DAY + DIGEST_SLACK, True),
        ("daily", NOW - DAY + DIGEST_SLACK + timedelta(seconds=1), False),
        # A second run the same day sends nothing.
        ("daily", NOW - timedelta(hours=2), False),
        ("daily", NOW, False),
        # A clock that went backwards never makes one due.
        ("daily", NOW + timedelta(hours=3), False),
        ("weekly", None, True),
        ("weekly", NOW - 6 * DAY, False),
        ("weekly", NOW - 7 * DAY + timedelta(minutes=30), True),
        ("WEEKLY", NOW - 8 * DAY, True),
    ],
)
def test_digest_due(frequency: str, last_sent: datetime | None, due: bool) -> None:
    assert digest_due(frequency, last_sent, NOW) is due


def test_unknown_frequency_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="daily, weekly or off"):
        digest_due("hourly", None, NOW)


def test_settings_url() -> None:
    assert settings_url("https://t.example") == "https://t.example/settings"
    assert settings_url("https://t.example/app/") == "https://t.example/app/settings"


def compose(since: datetime | None = None) -> EmailMessage:
    page, articles = newsroom()
    entries = digest_entries(page, articles, site_url=SITE, since=since)
    return compose_digest(
        entries,
        reader_name="ana",
        recipient="ana@example.org",
        sender="Tidings <digest@tidings.example>",
        site_url=SITE,
        now=NOW,
        since=since,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    # Through the wire format and back, as a mail client would read it.
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    markup = parsed.get_body(preferencelist=("html",))
    assert text is not None and markup is not None
    return text.get_content(), markup.get_content()


def test_the_message_has_one_entry_per_story() -> None:
    message = compose()
    assert message["Subject"] == "Your Tidings digest: 3 stories"
    assert message["To"] == "ana@example.org"
    assert message["From"] == "Tidings <digest@tidings.example>"
    assert message["List-Unsubscribe"] == "<https://tidings.example/settings>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@tidings.example>")
    assert message.get_content_type() == "multipart/alternative"
    text, markup = parts(message)
    # The summit is one entry, its other sources listed under it.
    assert text.count("Xi and Putin meet in Beijing") == 1
    assert "Leaders meet" not in text
    assert "Also covered by: Paper, Radio" in text
    assert "Why this is here: You follow Xi Jinping · Top story: 14 sources" in text
    assert "Wire, 1 June 2030" in text
    assert "https://news1.example/story/1" in text
    assert "Change or stop these digests: https://tidings.example/settings" in text
    assert markup.count("<h3>") == 3
    assert (
        '<a href="https://news2.example/story/2" rel="noopener noreferrer nofollow">Paper</a>'
        in (markup)
    )
    assert "Top story: 14 sources" in markup


def test_the_html_part_is_sanitised() -> None:
    _, markup = parts(compose())
    body = markup.split("<body>", 1)[1].split("</body>", 1)[0]
    assert problems(body) == []
    assert "javascript:" not in markup and "<script" not in markup
    # The hostile title is text, escaped.
    assert "&lt;script&gt;" in markup


def test_only_stories_with_news_since_the_last_digest() -> None:
    message = compose(since=T0 + timedelta(hours=1))
    assert message["Subject"] == "Your Tidings digest: 1 story"
    text, _ = parts(message)
    assert "1 story since 1 June 2030, for ana." in text
    assert "Quake" not in text


def test_an_address_with_a_line_break_is_refused() -> None:
    page, articles = newsroom()
    with pytest.raises(InvalidInputError):
        compose_digest(
            digest_entries(page, articles, site_url=SITE, since=None),
            reader_name="ana",
            recipient="ana@example.org\nBcc: everyone@example.org",
            sender="t@tidings.example",
            site_url=SITE,
            now=NOW,
        )


def test_sending_without_a_server_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TIDINGS_SMTP_HOST"):
        send_digest(compose(), SMTPSettings())


# --- settings --------------------------------------------------------------------------------


def test_smtp_settings_from_the_environment() -> None:
    settings = load_settings(
        env={
            "TIDINGS_SMTP_HOST": "mail.example.org",
            "TIDINGS_SMTP_USER": "tidings",
            "TIDINGS_SMTP_PASSWORD": "hunter2",
            "TIDINGS_SMTP_SECURITY": "SSL",
            "TIDINGS_SMTP_FROM": "Tidings <news@example.org>",
            "TIDINGS_SITE_URL": "https://news.example.org/",
        },
        config_file=None,
    )
    smtp = settings.smtp
    assert (smtp.host, smtp.username, smtp.security, smtp.effective_port) == (
        "mail.example.org",
        "tidings",
        "ssl",
        465,
    )
    assert smtp.sender == "Tidings <news@example.org>"
    assert "hunter2" not in repr(settings)


def test_smtp_settings_from_a_file(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "tidings.toml"
    path.write_text('[smtp]\nhost = "localhost"\nport = 2525\nsecurity = "none"\n')
    smtp = load_settings(env={}, config_file=path).smtp
    assert (smtp.host, smtp.effective_port, smtp.security) == ("localhost", 2525, "none")
    assert load_settings(env={}, config_file=None).smtp.effective_port == 587


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIDINGS_SMTP_SECURITY": "tls1.0"}, "starttls, ssl, none"),
        ({"TIDINGS_SMTP_PORT": "70000"}, "1-65535"),
        ({"TIDINGS_SMTP_PORT": "smtp"}, "TIDINGS_SMTP_PORT"),
        ({"TIDINGS_SMTP_USER": "u"}, "both"),
        (
            {
                "TIDINGS_SMTP_HOST": "mail.example.org",
                "TIDINGS_SMTP_USER": "u",
                "TIDINGS_SMTP_PASSWORD": "p",
                "TIDINGS_SMTP_SECURITY": "none",
            },
            "unencrypted",
        ),
        ({"TIDINGS_SITE_URL": "javascript:alert(1)"}, "http"),
    ],
)
def test_insecure_or_invalid_smtp_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env, config_file=None)


def test_a_password_in_the_clear_to_this_machine_is_allowed() -> None:
    smtp = SMTPSettings(host="127.0.0.1", username="u", password="p", security="none")
    assert smtp.effective_port == 25
