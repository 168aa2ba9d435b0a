"""Settings, read from ``TIDINGS_*`` environment variables and an optional TOML file.

Precedence: explicit arguments > environment > TOML file (``TIDINGS_CONFIG`` or
``<config dir>/tidings.toml``) > defaults. Unknown keys in the file are an error, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from tidings import __version__
from tidings.errors import ConfigError

APP_NAME = "tidings"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'tidings.sqlite'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchSettings:
    """How Tidings talks to the network."""

    #: Sent with every request, so publishers can tell who is polling them.
    user_agent: str = f"Tidings/{__version__} (self-hosted news reader; polite feed fetcher)"
    #: Seconds to establish a connection.
    connect_timeout: float = 10.0
    #: Seconds to wait for each chunk of the response.
    read_timeout: float = 30.0
    #: Seconds for the whole response, body included; a slow-drip server cannot hold us.
    total_timeout: float = 60.0
    #: Largest response body accepted, enforced while streaming (10 MiB).
    max_body_bytes: int = 10 * 1024 * 1024
    #: Redirect hops followed before giving up.
    max_redirects: int = 5
    #: Concurrent requests to one host; publishers dislike more.
    per_host_concurrency: int = 2
    #: Concurrent requests overall.
    total_concurrency: int = 16
    #: Attempts per fetch for transient failures (1 = no retry).
    attempts: int = 3
    #: First retry delay in seconds; doubles each attempt, with full jitter.
    backoff_base: float = 1.0
    #: Longest delay between attempts within one fetch; longer Retry-After values are
    #: left to the scheduler instead of blocking the pass.
    backoff_max: float = 30.0
    #: Networks the guard lets through even though they are private/loopback/link-local.
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSettings:
    """How often sources are polled."""

    #: Never poll one source more often than this (seconds). 5 minutes.
    min_interval: int = 5 * 60
    #: Poll every source at least this often (seconds). 24 hours.
    max_interval: int = 24 * 60 * 60
    #: Interval for a source whose publishing rhythm is not known yet (seconds). 1 hour.
    default_interval: int = 60 * 60


#: How an SMTP connection is secured.
SMTP_SECURITY = ("starttls", "ssl", "none")
#: The standard port for each: submission with STARTTLS (RFC 6409), implicit TLS (RFC 8314),
#: and plain SMTP.
SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SMTPSettings:
    """How Tidings sends email digests (``TIDINGS_SMTP_*``, or the ``[smtp]`` table).

    Without a host, digests are not sent. Refuses to send a password unencrypted to
    anything but this machine.
    """

    #: The mail server; ``None`` turns digests off.
    host: str | None = None
    #: Its port; ``None`` means the standard one for :attr:`security`.
    port: int | None = None
    #: Login name, if the server wants one.
    username: str | None = None
    #: Login password (never shown in logs or reprs).
    password: str | None = field(default=None, repr=False)
    #: ``starttls`` (upgrade after connecting), ``ssl`` (TLS from the start) or ``none``.
    security: str = "starttls"
    #: The From address of digests ("Tidings <news@example.org>"); required to send.
    sender: str | None = None
    #: Seconds to connect and for each exchange with the server.
    timeout: float = 30.0
    #: The address readers reach this Tidings at, for the links in digests (the settings
    #: page, unsubscribing). Defaults to what ``tidings serve`` listens on.
    site_url: str = "http://127.0.0.1:8000/"

    def __post_init__(self) -> None:
        if self.security not in SMTP_SECURITY:
            raise ConfigError(
                f"SMTP security must be one of {', '.join(SMTP_SECURITY)}, not {self.security!r}"
            )
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"SMTP port must be within 1-65535, not {self.port}")
        if self.timeout <= 0:
            raise ConfigError(f"SMTP timeout must be positive, not {self.timeout}")
        if bool(self.username) != bool(self.password):
            raise ConfigError("set both the SMTP user and password, or neither")
        if (
            self.password
            and self.security == "none"
            and self.host
            and not _is_loopback_host(self.host)
        ):
            raise ConfigError(
                f"refusing to send the SMTP password unencrypted to {self.host}: "
                "set TIDINGS_SMTP_SECURITY to starttls or ssl"
            )
        try:
            site = urlsplit(self.site_url)
            host = site.hostname
        except ValueError:
            site, host = None, None
        if site is None or site.scheme not in ("http", "https") or not host:
            raise ConfigError(f"the site URL must be an http(s) URL, not {self.site_url!r}")

    @property
    def effective_port(self) -> int:
        return self.port or SMTP_DEFAULT_PORTS[self.security]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything configurable about a Tidings installation."""

    #: SQLAlchemy URL of the database (``sqlite:///path`` or ``postgresql+psycopg://…``).
    database_url: str = field(default_factory=default_database_url)
    #: Where Tidings keeps files of its own (the default SQLite file, indexes).
    data_dir: Path = field(default_factory=default_data_dir)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    #: Email digests: the SMTP server and sender.
    smtp: SMTPSettings = field(default_factory=SMTPSettings)
    #: Analyse new articles (embeddings, entities, topics, stories, quotes) as part of each
    #: ingestion pass. Off, they wait for ``tidings enrich``.
    enrich: bool = True
    #: Names of the readers who operate this Tidings (``TIDINGS_ADMINS="ana,bo"``): only
    #: they may remove sources through the HTTP API.
    admins: tuple[str, ...] = ()
    #: How long a reader's page may be served again while nothing of theirs changed, in
    #: seconds (``TIDINGS_FEED_CACHE_SECONDS``; 0 ranks every request afresh).
    feed_cache_seconds: float = 60.0


def parse_networks(
    values: str | list[str] | tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse ``"127.0.0.0/8, ::1"`` or a list of CIDRs. Raises ConfigError."""
    items = values.split(",") if isinstance(values, str) else list(values)
    nets = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError as e:
            raise ConfigError(f"not a network address: {text!r} ({e})") from e
    return tuple(nets)


_ENV_FETCH = {
    "TIDINGS_USER_AGENT": ("user_agent", str),
    "TIDINGS_CONNECT_TIMEOUT": ("connect_timeout", float),
    "TIDINGS_READ_TIMEOUT": ("read_timeout", float),
    "TIDINGS_TOTAL_TIMEOUT": ("total_timeout", float),
    "TIDINGS_MAX_BODY_BYTES": ("max_body_bytes", int),
    "TIDINGS_MAX_REDIRECTS": ("max_redirects", int),
    "TIDINGS_PER_HOST_CONCURRENCY": ("per_host_concurrency", int),
    "TIDINGS_ATTEMPTS": ("attempts", int),
}


_ENV_SMTP: dict[str, tuple[str, Callable[[str], Any]]] = {
    "TIDINGS_SMTP_HOST": ("host", str),
    "TIDINGS_SMTP_PORT": ("port", int),
    "TIDINGS_SMTP_USER": ("username", str),
    "TIDINGS_SMTP_PASSWORD": ("password", str),
    "TIDINGS_SMTP_SECURITY": ("security", str.lower),
    "TIDINGS_SMTP_FROM": ("sender", str),
    "TIDINGS_SMTP_TIMEOUT": ("timeout", float),
    "TIDINGS_SITE_URL": ("site_url", str),
}


def _coerce(section: str, cls: type[Any], raw: Mapping[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    values = dict(raw)
    if "allowed_networks" in values:
        values["allowed_networks"] = parse_networks(values["allowed_networks"])
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"]).expanduser()
    try:
        return cls(**values)
    except TypeError as e:
        raise ConfigError(f"invalid settings in [{section}]: {e}") from e


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"configuration file {path} is not valid TOML: {e}") from e


def load_settings(
    env: Mapping[str, str] | None = None, *, config_file: Path | None = None
) -> Settings:
    """Build settings from a TOML file and the environment. Raises ConfigError."""
    env = os.environ if env is None else env
    path = config_file
    if path is None and env.get("TIDINGS_CONFIG"):
        path = Path(env["TIDINGS_CONFIG"]).expanduser()
    if path is None:
        candidate = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "tidings.toml"
        path = candidate if candidate.is_file() else None
    doc = _read_toml(path) if path is not None else {}

    top = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    fetch_raw = dict(doc.get("fetch", {}))
    schedule_raw = dict(doc.get("schedule", {}))
    smtp_raw = dict(doc.get("smtp", {}))
    unknown_sections = {k for k, v in doc.items() if isinstance(v, dict)} - {
        "fetch",
        "schedule",
        "smtp",
    }
    if unknown_sections:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown_sections))}")

    if env.get("TIDINGS_DATA_DIR"):
        top["data_dir"] = env["TIDINGS_DATA_DIR"]
    if env.get("TIDINGS_DATABASE_URL"):
        top["database_url"] = env["TIDINGS_DATABASE_URL"]
    if env.get("TIDINGS_ADMINS"):
        top["admins"] = env["TIDINGS_ADMINS"]
    if "admins" in top:
        listed = top["admins"]
        names = listed.split(",") if isinstance(listed, str) else [str(n) for n in listed]
        top["admins"] = tuple(n.strip() for n in names if n.strip())
    if env.get("TIDINGS_FEED_CACHE_SECONDS"):
        try:
            top["feed_cache_seconds"] = float(env["TIDINGS_FEED_CACHE_SECONDS"])
        except ValueError as e:
            raise ConfigError(f"TIDINGS_FEED_CACHE_SECONDS: {e}") from e
    if env.get("TIDINGS_ENRICH"):
        flag = env["TIDINGS_ENRICH"].strip().lower()
        if flag not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"TIDINGS_ENRICH: expected 1 or 0, not {env['TIDINGS_ENRICH']!r}")
        top["enrich"] = flag in ("1", "true", "yes", "on")
    for name, (key, conv) in _ENV_FETCH.items():
        if env.get(name):
            try:
                fetch_raw[key] = conv(env[name])
            except ValueError as e:
                raise ConfigError(f"{name}: {e}") from e
    if env.get("TIDINGS_ALLOWED_NETWORKS"):
        fetch_raw["allowed_networks"] = env["TIDINGS_ALLOWED_NETWORKS"]
    for name, (key, read) in _ENV_SMTP.items():
        if env.get(name):
            try:
                smtp_raw[key] = read(env[name])
            except ValueError as e:
                raise ConfigError(f"{name}: {e}") from e

    settings: Settings = _coerce("top level", Settings, {})
    fetch = _coerce("fetch", FetchSettings, fetch_raw)
    schedule = _coerce("schedule", ScheduleSettings, schedule_raw)
    smtp = _coerce("smtp", SMTPSettings, smtp_raw)
    if "data_dir" in top:
        settings = replace(settings, data_dir=Path(str(top.pop("data_dir"))).expanduser())
        if "database_url" not in top:
            top["database_url"] = f"sqlite:///{settings.data_dir / 'tidings.sqlite'}"
    settings = _coerce("top level", Settings, {**top, "data_dir": settings.data_dir})
    return replace(settings, fetch=fetch, schedule=schedule, smtp=smtp)
