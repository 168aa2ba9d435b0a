"""Settings: one typed model, read from ``TIDINGS_*`` environment variables and a TOML file.

:func:`load_settings` is the one place that reads the outside world. Precedence: explicit
arguments (``settings.replace(...)`` after loading, as the command line's ``--database``
does) > environment > TOML file (``TIDINGS_CONFIG``, or ``<config dir>/tidings.toml``) >
defaults. Building a model directly (``Settings(database_url=...)``) reads neither the
environment nor a file, so code and tests get exactly what they ask for.

Every setting has a variable: ``TIDINGS_<NAME>`` at the top level (``TIDINGS_DATABASE_URL``),
``TIDINGS_<SECTION>__<NAME>`` inside a section (``TIDINGS_FETCH__CONNECT_TIMEOUT`` for
``[fetch] connect_timeout``). The flat names that predate the sections
(:data:`FLAT_VARIABLES`, e.g. ``TIDINGS_CONNECT_TIMEOUT``) keep working.

Values are checked by type when loaded: a TOML ``connect_timeout = "ten"``, an unknown key in
the file or under ``TIDINGS_FETCH__``, or an insecure SMTP setup is a :class:`ConfigError`
naming the variable or key, the value and what was expected, so a typo never silently falls
back to a default.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tidings import __version__
from tidings.errors import ConfigError

APP_NAME = "tidings"
#: Every variable starts with this.
ENV_PREFIX = "TIDINGS_"
#: Between a section and a setting in a variable's name: ``TIDINGS_FETCH__ATTEMPTS``.
ENV_NESTED = "__"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Shortest media proxy secret accepted: 32 characters of a random token are far beyond
#: guessing, and anything shorter is more likely a placeholder than a secret.
MIN_MEDIA_SECRET_CHARS = 32
#: Where a value sits in the settings: ("fetch", "attempts"), ("database_url",).
Loc = tuple[str | int, ...]


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    return sqlite_url(default_data_dir())


def sqlite_url(data_dir: Path) -> str:
    """The SQLite database Tidings keeps in ``data_dir`` when no database is configured."""
    return f"sqlite:///{data_dir / 'tidings.sqlite'}"


def derived_path(data_dir: Path, database_url: str, folder: str, suffix: str) -> Path:
    """Where a file derived from one database lives (its vector index, the ranking's
    window): the data folder, one file per database, since tests and operators may point
    several databases at one data folder."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return data_dir / folder / f"{digest}{suffix}"


def parse_networks(values: str | Sequence[str | Network]) -> tuple[Network, ...]:
    """Parse ``"127.0.0.0/8, ::1"`` or a list of CIDRs. Raises ConfigError."""
    items = values.split(",") if isinstance(values, str) else list(values)
    nets = []
    for item in items:
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            nets.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError as e:
            raise ConfigError(f"not a network address: {text!r} ({e})") from e
    return tuple(nets)


M = TypeVar("M", bound=BaseModel)


def _validated(
    model: type[M], values: Mapping[str, Any], origins: Sequence[Mapping[Loc, str]] = ()
) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise _config_error(model, e, origins) from None


class Section(BaseModel):
    """One table of the TOML file (``[fetch]``), one ``TIDINGS_<SECTION>__`` prefix."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, validated like the original. Raises ConfigError.

        (``model_copy(update=...)`` would skip validation and accept a misspelt name.)
        """
        return _validated(type(self), {**dict(self), **changes})


class FetchSettings(Section):
    """How Tidings talks to the network (``[fetch]``)."""

    user_agent: str = f"Tidings/{__version__} (self-hosted news reader; polite feed fetcher)"
    """Sent with every request, so publishers can tell who is polling them."""
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to establish a connection."""
    read_timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for each chunk of the response."""
    total_timeout: float = Field(default=60.0, gt=0)
    """Seconds for the whole response, body included; a slow-drip server cannot hold us."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    """Largest response body accepted, enforced while streaming (10 MiB)."""
    max_redirects: int = Field(default=5, ge=0)
    """Redirect hops followed before giving up."""
    per_host_concurrency: int = Field(default=2, ge=1)
    """Concurrent requests to one host; publishers dislike more."""
    total_concurrency: int = Field(default=16, ge=1)
    """Concurrent requests overall."""
    attempts: int = Field(default=3, ge=1)
    """Attempts per fetch for transient failures (1 = no retry)."""
    backoff_base: float = Field(default=1.0, ge=0)
    """First retry delay in seconds; doubles each attempt, with full jitter."""
    backoff_max: float = Field(default=30.0, ge=0)
    """Longest delay between attempts within one fetch; longer Retry-After values are left to
    the scheduler instead of blocking the pass."""
    source_deadline: float = Field(default=90.0, gt=0)
    """Seconds one source may take in a pass, every attempt and wait included: its feed, then
    its article pages. A feed not read by then is a timeout (retried at the next poll);
    pages not fetched by then wait for the next pass. 90 s lets one whole attempt at
    ``total_timeout`` (60 s) and a quick retry through, where three attempts of a server
    dripping a byte a second held a pass for 183 s."""
    allowed_networks: tuple[Network, ...] = ()
    """Private, loopback or link-local networks the guard lets fetches reach anyway
    (``"10.0.0.0/8, 127.0.0.1/32"``); none by default."""

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if not isinstance(value, str | list | tuple):
            return value
        try:
            return parse_networks(value)
        except ConfigError as e:
            raise ValueError(str(e)) from e


class ScheduleSettings(Section):
    """How often sources are polled (``[schedule]``)."""

    min_interval: int = Field(default=5 * 60, gt=0)
    """Never poll one source more often than this (seconds). 5 minutes."""
    max_interval: int = Field(default=24 * 60 * 60, gt=0)
    """Poll every source at least this often (seconds). 24 hours."""
    default_interval: int = Field(default=60 * 60, gt=0)
    """Interval for a source whose publishing rhythm is not known yet (seconds). 1 hour."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_interval > self.max_interval:
            raise ValueError(
                f"min_interval ({self.min_interval}) must not exceed "
                f"max_interval ({self.max_interval})"
            )
        return self


class WorkersSettings(Section):
    """How processes sharing one database divide the work (``[workers]``)."""

    lease_seconds: float = Field(default=300.0, gt=0)
    """How long a worker holds the work it took (a batch of articles to analyse, a digest to
    send; a source at least twice its ``source_deadline``) before another worker may take it
    over: what a worker that dies delays. Far longer than a batch takes (seconds)."""
    quick_backlog: int = Field(default=128, ge=0)
    """While more articles than this wait for their first analysis, workers give them a
    quick one (title and lead: rankable in a fraction of the time) before any full one.
    128 is two batches: a steady flow is analysed in full at once, a backlog quickly first."""


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


class SMTPSettings(Section):
    """How Tidings sends email digests (``[smtp]``).

    Without a host, digests are not sent. Refuses to send a password unencrypted to
    anything but this machine.
    """

    host: str | None = None
    """The mail server; none turns digests off."""
    port: int | None = None
    """Its port; none means the standard one for ``security``."""
    username: str | None = None
    """Login name, if the server wants one."""
    password: str | None = Field(default=None, repr=False)
    """Login password (never shown in logs, reprs or errors)."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls`` (upgrade after connecting), ``ssl`` (TLS from the start) or ``none``."""
    sender: str | None = None
    """The From address of digests (``Tidings <news@example.org>``); required to send."""
    timeout: float = 30.0
    """Seconds to connect and for each exchange with the server."""
    site_url: str = "http://127.0.0.1:8000/"
    """The address readers reach this Tidings at, for the links in digests (the settings page,
    unsubscribing). Defaults to what ``tidings serve`` listens on."""

    @field_validator("security", mode="before")
    @classmethod
    def _security(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in SMTP_SECURITY:
                raise ValueError(f"expected one of {', '.join(SMTP_SECURITY)}")
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value < 65536:
            raise ValueError("expected a port within 1-65535")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("expected a positive number of seconds")
        return value

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, value: str) -> str:
        try:
            site = urlsplit(value)
            host = site.hostname
        except ValueError:
            site, host = None, None
        if site is None or site.scheme not in ("http", "https") or not host:
            raise ValueError("expected an http(s) URL")
        return value

    @model_validator(mode="after")
    def _secure(self) -> Self:
        if bool(self.username) != bool(self.password):
            raise ValueError("set both the SMTP user and password, or neither")
        if (
            self.password
            and self.security == "none"
            and self.host
            and not _is_loopback_host(self.host)
        ):
            raise ValueError(
                f"refusing to send the SMTP password unencrypted to {self.host}: "
                "set TIDINGS_SMTP_SECURITY to starttls or ssl"
            )
        return self

    @property
    def effective_port(self) -> int:
        return self.port or SMTP_DEFAULT_PORTS[self.security]


#: While :func:`load_settings` runs: the environment's and the file's values, lowest
#: priority last. Empty otherwise, so ``Settings(...)`` reads nothing from outside.
_OUTSIDE: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar(
    "tidings_settings_sources", default=()
)


class Settings(BaseSettings):
    """Everything configurable about a Tidings installation."""

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, validate_default=True
    )

    database_url: str = Field(default_factory=default_database_url)
    """SQLAlchemy URL of the database (``sqlite:///path`` or ``postgresql+psycopg://…``);
    by default a SQLite file in the data directory."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Where Tidings keeps files of its own (the default SQLite file, indexes)."""
    enrich: bool = True
    """Analyse new articles (embeddings, entities, topics, stories, quotes) as part of each
    ingestion pass; off (``0``), they wait for ``tidings enrich``."""
    admins: tuple[str, ...] = ()
    """Names of the readers who operate this Tidings (``ana,bo``): only they may remove
    sources through the HTTP API."""
    feed_cache_seconds: float = Field(default=60.0, ge=0)
    """How long a reader's page may lag news they do not follow, in seconds, before it is
    ranked again in the background; a page nothing of which changed is served for ten times
    this (``tidings.rank.pages``). 0 ranks every request afresh."""
    trusted_proxies: tuple[Network, ...] = ()
    """Addresses of the reverse proxies in front of ``tidings serve`` (``"10.0.0.5/32"``):
    only requests from them may say, in ``X-Forwarded-For`` and ``X-Forwarded-Proto``, who
    the client is and whether it came over HTTPS. None by default: from anyone else those
    headers would let a client pick the address that rate limits count."""

    media_secret: SecretStr | None = None
    """The media proxy's signing secret (32 characters or more), the same for every process
    and machine serving one site; without it, a random one kept in the data directory
    (``media-proxy.secret``). Never shown in logs, reprs or errors."""
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    """How Tidings talks to the network."""
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    """How often sources are polled."""
    smtp: SMTPSettings = Field(default_factory=SMTPSettings)
    """Email digests: the SMTP server and sender."""
    workers: WorkersSettings = Field(default_factory=WorkersSettings)
    """How workers sharing one database divide the work."""

    #: The section fields, by name (``fetch`` → FetchSettings).
    SECTIONS: ClassVar[Mapping[str, type[Section]]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # pydantic-settings' own environment source reads os.environ only, knows no second
        # (flat) name for a nested setting and cannot say which variable a bad value came
        # from; ours (_Given, built by load_settings) does all three.
        return (init_settings, *_OUTSIDE.get())

    @model_validator(mode="before")
    @classmethod
    def _database_in_data_dir(cls, values: Any) -> Any:
        # A data directory given without a database puts the SQLite file in it.
        if isinstance(values, dict) and "database_url" not in values:
            data_dir = values.get("data_dir")
            if isinstance(data_dir, str | Path):
                values = {**values, "database_url": sqlite_url(Path(data_dir).expanduser())}
        return values

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        if not isinstance(value, str | list | tuple):
            return value
        try:
            return parse_networks(value)
        except ConfigError as e:
            raise ValueError(str(e)) from e

    @field_validator("media_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value().strip()
        if not secret:
            return None
        if len(secret) < MIN_MEDIA_SECRET_CHARS:
            raise ValueError(
                f"expected at least {MIN_MEDIA_SECRET_CHARS} characters (make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return SecretStr(secret)

    @field_validator("admins", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(str(n).strip() for n in value if str(n).strip())
        return value

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, validated like the original. Raises ConfigError.

        (``model_copy(update=...)`` would skip validation and accept a misspelt name.)
        """
        return _validated(type(self), {**dict(self), **changes})


Settings.SECTIONS = {
    name: info.annotation
    for name, info in Settings.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
}

#: Variables that predate the sections, each with the setting it sets. Installations have
#: them in their environment, so they keep working beside ``TIDINGS_<SECTION>__<NAME>``.
FLAT_VARIABLES: Mapping[str, tuple[str, str]] = {
    "TIDINGS_USER_AGENT": ("fetch", "user_agent"),
    "TIDINGS_CONNECT_TIMEOUT": ("fetch", "connect_timeout"),
    "TIDINGS_READ_TIMEOUT": ("fetch", "read_timeout"),
    "TIDINGS_TOTAL_TIMEOUT": ("fetch", "total_timeout"),
    "TIDINGS_MAX_BODY_BYTES": ("fetch", "max_body_bytes"),
    "TIDINGS_MAX_REDIRECTS": ("fetch", "max_redirects"),
    "TIDINGS_PER_HOST_CONCURRENCY": ("fetch", "per_host_concurrency"),
    "TIDINGS_ATTEMPTS": ("fetch", "attempts"),
    "TIDINGS_ALLOWED_NETWORKS": ("fetch", "allowed_networks"),
    "TIDINGS_SMTP_HOST": ("smtp", "host"),
    "TIDINGS_SMTP_PORT": ("smtp", "port"),
    "TIDINGS_SMTP_USER": ("smtp", "username"),
    "TIDINGS_SMTP_PASSWORD": ("smtp", "password"),
    "TIDINGS_SMTP_SECURITY": ("smtp", "security"),
    "TIDINGS_SMTP_FROM": ("smtp", "sender"),
    "TIDINGS_SMTP_TIMEOUT": ("smtp", "timeout"),
    "TIDINGS_SITE_URL": ("smtp", "site_url"),
}


def variable_name(section: str | None, name: str) -> str:
    """The variable of a setting: ``TIDINGS_FEED_CACHE_SECONDS``, ``TIDINGS_FETCH__ATTEMPTS``."""
    if section is None:
        return f"{ENV_PREFIX}{name.upper()}"
    return f"{ENV_PREFIX}{section.upper()}{ENV_NESTED}{name.upper()}"


def settings_fields() -> Iterator[tuple[str | None, str, FieldInfo]]:
    """Every setting as (section or None, name, field), in the model's order."""
    for name, info in Settings.model_fields.items():
        if name not in Settings.SECTIONS:
            yield None, name, info
    for section, model in Settings.SECTIONS.items():
        for name, info in model.model_fields.items():
            yield section, name, info


# --- loading -----------------------------------------------------------------------------


class _Given(PydanticBaseSettingsSource):
    """Values already read (from the environment or the TOML file), and where each came from."""

    def __init__(
        self, settings_cls: type[BaseSettings], values: dict[str, Any], origins: dict[Loc, str]
    ) -> None:
        super().__init__(settings_cls)
        self.values = values
        self.origins = origins

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values


def _from_environment(env: Mapping[str, str]) -> _Given:
    """``TIDINGS_*`` variables as raw strings; pydantic converts them. Empty ones are unset."""
    values: dict[str, Any] = {}
    origins: dict[Loc, str] = {}
    given = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX) and v.strip()}
    for name in Settings.model_fields:
        variable = variable_name(None, name)
        if name not in Settings.SECTIONS and variable in given:
            values[name] = given[variable]
            origins[(name,)] = variable
    for section in Settings.SECTIONS:
        prefix = f"{ENV_PREFIX}{section.upper()}{ENV_NESTED}"
        for variable, value in given.items():
            if variable.startswith(prefix):
                # An unknown name under a section's prefix is kept, so validation refuses it.
                name = variable.removeprefix(prefix).lower()
                values.setdefault(section, {})[name] = value
                origins[(section, name)] = variable
    for flat, (section, name) in FLAT_VARIABLES.items():
        if flat not in given:
            continue
        nested = variable_name(section, name)
        if nested in given and given[nested] != given[flat]:
            raise ConfigError(f"{flat} and {nested} set one setting to two values; keep one")
        values.setdefault(section, {})[name] = given[flat]
        origins.setdefault((section, name), flat)
    return _Given(Settings, values, origins)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"configuration file {path} is not valid TOML: {e}") from e


def _from_file(path: Path) -> _Given:
    doc = _read_toml(path)
    origins: dict[Loc, str] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            origins[(key,)] = f"[{key}] in {path}"
            for name in value:
                origins[(key, name)] = f"[{key}] {name} in {path}"
        else:
            origins[(key,)] = f"{key} in {path}"
    return _Given(Settings, doc, origins)


def config_file_path(env: Mapping[str, str]) -> Path | None:
    """The TOML file to read: ``TIDINGS_CONFIG``, else ``tidings.toml`` in the user config
    directory if there is one."""
    if env.get("TIDINGS_CONFIG"):
        return Path(env["TIDINGS_CONFIG"]).expanduser()
    candidate = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "tidings.toml"
    return candidate if candidate.is_file() else None


def load_settings(
    env: Mapping[str, str] | None = None, *, config_file: Path | None = None
) -> Settings:
    """Build settings from the environment (``os.environ`` unless ``env`` is given) and a TOML
    file (``config_file``, else :func:`config_file_path`). Raises ConfigError."""
    env = os.environ if env is None else env
    path = config_file if config_file is not None else config_file_path(env)
    sources: tuple[_Given, ...] = (_from_environment(env),)
    if path is not None:
        sources += (_from_file(path),)
    token = _OUTSIDE.set(sources)
    try:
        return Settings()
    except ValidationError as e:
        raise _config_error(Settings, e, [s.origins for s in sources]) from None
    finally:
        _OUTSIDE.reset(token)


# --- errors ------------------------------------------------------------------------------


def _origin(loc: Loc, origins: Sequence[Mapping[Loc, str]]) -> str:
    for size in range(len(loc), 0, -1):
        for found in origins:
            if loc[:size] in found:
                return found[loc[:size]]
    if len(loc) == 1 and loc[0] in Settings.SECTIONS:
        return f"[{loc[0]}]"
    return ".".join(str(part) for part in loc) or "settings"


def _config_error(
    model: type[BaseModel], error: ValidationError, origins: Sequence[Mapping[Loc, str]]
) -> ConfigError:
    """One message for every problem: where the value came from, the value, what was expected."""
    problems = []
    for problem in error.errors(include_url=False):
        loc: Loc = tuple(problem["loc"])
        where = _origin(loc, origins)
        if problem["type"] == "extra_forbidden":
            section = model is Settings and len(loc) == 1 and isinstance(problem["input"], dict)
            kind = "section" if section else "setting"
            problems.append(f"unknown {kind} {where}")
            continue
        message = problem["msg"]
        if problem["type"] == "value_error":
            message = str(problem["ctx"]["error"])
        message = re.sub(r"^Input should be (greater|less)", r"expected a number \1", message)
        message = message.replace("Input should be", "expected", 1)
        if problem["type"] == "value_error" and _names_a_section(model, loc):
            # A rule across fields (the SMTP user and password): no one value to show.
            problems.append(f"{where}: {message}")
            continue
        value = "(hidden)" if loc[-1] in SECRET_FIELDS else repr(problem["input"])
        problems.append(f"{where} = {value}: {message}")
    return ConfigError("; ".join(problems))


#: Settings whose values never appear in an error.
SECRET_FIELDS = ("password", "media_secret")


def _names_a_section(model: type[BaseModel], loc: Loc) -> bool:
    if model is Settings:
        return not loc or (len(loc) == 1 and loc[0] in Settings.SECTIONS)
    return not loc
