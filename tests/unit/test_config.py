from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from pydantic import SecretStr

from tidings.config import (
    FLAT_VARIABLES,
    Settings,
    load_settings,
    parse_networks,
    settings_fields,
    variable_name,
)
from tidings.errors import ConfigError


def test_defaults_refuse_every_private_network() -> None:
    settings = load_settings(env={}, config_file=None)
    assert settings.fetch.allowed_networks == ()
    assert settings.fetch.max_body_bytes == 10 * 1024 * 1024
    assert settings.database_url.startswith("sqlite:///")
    assert (settings.schedule.min_interval, settings.schedule.max_interval) == (300, 86400)


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "TIDINGS_DATA_DIR": str(tmp_path),
        "TIDINGS_ALLOWED_NETWORKS": "127.0.0.0/8, ::1",
        "TIDINGS_MAX_BODY_BYTES": "1024",
    }
    settings = load_settings(env=env)
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path / 'tidings.sqlite'}"
    assert settings.fetch.max_body_bytes == 1024
    assert ipaddress.ip_network("::1/128") in settings.fetch.allowed_networks


def test_toml_file_and_env_precedence(tmp_path: Path) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(
        'database_url = "sqlite:///from-file.sqlite"\n'
        "[fetch]\nmax_redirects = 2\nallowed_networks = ['10.0.0.0/8']\n"
        "[schedule]\nmin_interval = 600\n"
    )
    settings = load_settings(env={"TIDINGS_MAX_REDIRECTS": "7"}, config_file=path)
    assert settings.database_url == "sqlite:///from-file.sqlite"
    assert settings.fetch.max_redirects == 7
    assert settings.schedule.min_interval == 600
    assert settings.fetch.allowed_networks == (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\nmax_redirect = 2\n", "unknown setting"),
        ("[fetchh]\nx = 1\n", "unknown section"),
        ("database_url = \n", "not valid TOML"),
        ("[fetch]\nallowed_networks = ['not-a-net']\n", "not a network"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(env={}, config_file=path)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_settings(env={"TIDINGS_CONFIG": str(tmp_path / "nope.toml")})


def test_parse_networks() -> None:
    assert parse_networks("") == ()
    assert parse_networks(["192.168.1.7"]) == (ipaddress.ip_network("192.168.1.7/32"),)
    with pytest.raises(ConfigError):
        parse_networks("300.1.1.1/8")


# --- typed validation, every variable, unknown keys --------------------------------------

#: A value for every setting as its variable would carry it, and what it must become. A new
#: setting fails test_every_setting_has_a_sample until it gets one here (and a README row).
SAMPLES: dict[tuple[str | None, str], tuple[str, object]] = {
    (None, "database_url"): ("sqlite:////srv/t.sqlite", "sqlite:////srv/t.sqlite"),
    (None, "data_dir"): ("/srv/tidings", Path("/srv/tidings")),
    (None, "enrich"): ("off", False),
    (None, "admins"): ("ana, bo,", ("ana", "bo")),
    (None, "feed_cache_seconds"): ("0", 0.0),
    (None, "trusted_proxies"): ("10.0.0.5, ::1", parse_networks("10.0.0.5,::1")),
    (None, "media_secret"): ("m" * 40, SecretStr("m" * 40)),
    ("fetch", "user_agent"): ("Bot/1", "Bot/1"),
    ("fetch", "connect_timeout"): ("2.5", 2.5),
    ("fetch", "read_timeout"): ("3", 3.0),
    ("fetch", "total_timeout"): ("9", 9.0),
    ("fetch", "max_body_bytes"): ("2048", 2048),
    ("fetch", "max_redirects"): ("0", 0),
    ("fetch", "per_host_concurrency"): ("4", 4),
    ("fetch", "total_concurrency"): ("8", 8),
    ("fetch", "attempts"): ("1", 1),
    ("fetch", "backoff_base"): ("0.25", 0.25),
    ("fetch", "backoff_max"): ("5", 5.0),
    ("fetch", "source_deadline"): ("30", 30.0),
    ("fetch", "allowed_networks"): ("10.0.0.0/8, ::1", parse_networks("10.0.0.0/8,::1")),
    ("schedule", "min_interval"): ("60", 60),
    ("schedule", "max_interval"): ("7200", 7200),
    ("schedule", "default_interval"): ("600", 600),
    ("smtp", "host"): ("mail.example.org", "mail.example.org"),
    ("smtp", "port"): ("2525", 2525),
    ("smtp", "username"): ("tidings", "tidings"),
    ("smtp", "password"): ("hunter2", "hunter2"),
    ("smtp", "security"): ("SSL", "ssl"),
    ("smtp", "sender"): ("Tidings <news@example.org>", "Tidings <news@example.org>"),
    ("smtp", "timeout"): ("12", 12.0),
    ("smtp", "site_url"): ("https://news.example.org/", "https://news.example.org/"),
    ("workers", "lease_seconds"): ("60", 60.0),
    ("workers", "quick_backlog"): ("0", 0),
}


def value_of(settings: Settings, section: str | None, name: str) -> object:
    return getattr(settings if section is None else getattr(settings, section), name)


def test_every_setting_has_a_sample() -> None:
    assert set(SAMPLES) == {(section, name) for section, name, _ in settings_fields()}


def test_every_setting_is_reachable_from_its_variable() -> None:
    env = {variable_name(s, n): raw for (s, n), (raw, _) in SAMPLES.items()}
    assert env["TIDINGS_FETCH__CONNECT_TIMEOUT"] == "2.5"
    settings = load_settings(env=env, config_file=None)
    for (section, name), (_, expected) in SAMPLES.items():
        assert value_of(settings, section, name) == expected, variable_name(section, name)
        # Each one alone moves its setting off the default (a variable read by nothing would
        # pass the loop above only by luck).
        default = value_of(Settings(), section, name)
        assert expected != default, (section, name)


def test_every_older_flat_variable_still_works() -> None:
    env = {flat: SAMPLES[loc][0] for flat, loc in FLAT_VARIABLES.items()}
    settings = load_settings(env=env, config_file=None)
    for section, name in FLAT_VARIABLES.values():
        assert value_of(settings, section, name) == SAMPLES[(section, name)][1]


def test_a_flat_and_a_nested_variable_must_agree() -> None:
    same = {"TIDINGS_ATTEMPTS": "2", "TIDINGS_FETCH__ATTEMPTS": "2"}
    assert load_settings(env=same, config_file=None).fetch.attempts == 2
    with pytest.raises(ConfigError, match="TIDINGS_ATTEMPTS and TIDINGS_FETCH__ATTEMPTS"):
        load_settings(env={**same, "TIDINGS_ATTEMPTS": "5"}, config_file=None)


def test_the_readme_lists_every_variable() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for section, name, _ in settings_fields():
        assert f"`{variable_name(section, name)}`" in readme
        where = name if section is None else f"[{section}] {name}"
        assert f"`{where}`" in readme
    for flat in FLAT_VARIABLES:
        assert f"`{flat}`" in readme


def test_each_section_reads_from_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(
        "enrich = false\nadmins = ['root']\n"
        "[fetch]\nconnect_timeout = 4\nattempts = 2\n"
        "[schedule]\nmin_interval = 120\nmax_interval = 3600\n"
        "[smtp]\nhost = 'localhost'\nport = 2525\nsecurity = 'none'\n"
    )
    env = {"TIDINGS_FETCH__ATTEMPTS": "5", "TIDINGS_SCHEDULE__MAX_INTERVAL": "7200"}
    settings = load_settings(env=env, config_file=path)
    assert (settings.enrich, settings.admins) == (False, ("root",))
    assert (settings.fetch.connect_timeout, settings.fetch.attempts) == (4.0, 5)
    assert (settings.schedule.min_interval, settings.schedule.max_interval) == (120, 7200)
    assert (settings.smtp.host, settings.smtp.effective_port) == ("localhost", 2525)
    # Explicit arguments (the command line's --database) win over both.
    assert settings.replace(database_url="sqlite:///x.db").database_url == "sqlite:///x.db"
    # Empty variables count as unset, as they always did.
    assert load_settings(env={"TIDINGS_FETCH__ATTEMPTS": ""}, config_file=path).fetch.attempts == 2


def test_the_config_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[fetch]\nmax_redirects = 1\n")
    assert load_settings(env={"TIDINGS_CONFIG": str(path)}).fetch.max_redirects == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The key, the value as written and what was expected, in one message.
        (
            '[fetch]\nconnect_timeout = "ten"\n',
            r"\[fetch\] connect_timeout in .* = 'ten': .*number",
        ),
        ("[fetch]\nmax_redirects = 2.5\n", r"\[fetch\] max_redirects in .* = 2.5: .*integer"),
        ("[fetch]\nattempts = 0\n", r"\[fetch\] attempts in .* = 0: expected a number greater"),
        ('enrich = "maybe"\n', r"enrich in .* = 'maybe': expected a valid boolean"),
        ("feed_cache_seconds = -1\n", r"feed_cache_seconds in .* = -1: .*greater than or equal"),
        ("admins = 3\n", r"admins in .* = 3: .*tuple"),
        ('[schedule]\nmin_interval = "soon"\n', r"\[schedule\] min_interval in .* = 'soon'"),
        ("[schedule]\nmin_interval = 7200\nmax_interval = 60\n", r"must not exceed"),
        ('[smtp]\nport = "smtp"\n', r"\[smtp\] port in .* = 'smtp': .*integer"),
        ('[smtp]\nsecurity = "tls1.0"\n', r"= 'tls1.0': expected one of starttls, ssl, none"),
        ('[smtp]\nsite_url = "ftp://x"\n', r"site_url in .* = 'ftp://x': expected an http"),
        ("fetch = 3\n", r"fetch in .* = 3: .*dictionary"),
        ("[fetch]\nallowed_networks = 7\n", r"allowed_networks in .* = 7"),
    ],
)
def test_a_bad_value_in_the_file_names_key_value_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_settings(env={}, config_file=path)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TIDINGS_CONNECT_TIMEOUT": "ten"}, r"^TIDINGS_CONNECT_TIMEOUT = 'ten': .*number"),
        ({"TIDINGS_FETCH__ATTEMPTS": "many"}, r"^TIDINGS_FETCH__ATTEMPTS = 'many': .*integer"),
        ({"TIDINGS_SCHEDULE__MIN_INTERVAL": "-5"}, r"^TIDINGS_SCHEDULE__MIN_INTERVAL = '-5'"),
        ({"TIDINGS_ENRICH": "perhaps"}, r"^TIDINGS_ENRICH = 'perhaps': expected a valid boolean"),
    ],
)
def test_a_bad_variable_is_named(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(env=env, config_file=None)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("databse_url = 'sqlite://'\n", {}, r"unknown setting databse_url in "),
        ("[smtp]\nuser = 'x'\n", {}, r"unknown setting \[smtp\] user in "),
        ("[scheduling]\nmin_interval = 60\n", {}, r"unknown section \[scheduling\] in "),
        (
            "",
            {"TIDINGS_FETCH__CONECT_TIMEOUT": "3"},
            r"unknown setting TIDINGS_FETCH__CONECT_TIMEOUT",
        ),
    ],
)
def test_an_unknown_key_is_an_error(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_settings(env=env, config_file=path)


def test_variables_of_other_tools_are_not_settings() -> None:
    # The test suite's own variables share the prefix; they are not misspelt settings.
    env = {"TIDINGS_TEST_DATABASE_URL": "postgresql://x", "TIDINGS_REQUIRE_BROWSER": "1"}
    assert load_settings(env=env, config_file=None) == load_settings(env={}, config_file=None)


def test_a_password_never_appears_in_an_error() -> None:
    env = {"TIDINGS_SMTP_PASSWORD": "hunter2", "TIDINGS_SMTP_PORT": "x"}
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, config_file=None)
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(
        load_settings(env={**env, "TIDINGS_SMTP_PORT": "25", "TIDINGS_SMTP_USER": "u"})
    )


def test_replace_validates_like_loading() -> None:
    settings = Settings()
    assert settings.replace(feed_cache_seconds=5).feed_cache_seconds == 5
    with pytest.raises(ConfigError, match="feed_cache_seconds = -1"):
        settings.replace(feed_cache_seconds=-1)
    with pytest.raises(ConfigError, match="unknown setting feed_cache"):
        settings.replace(feed_cache=5)
    with pytest.raises(ConfigError, match="connect_timeout = 'soon'"):
        settings.fetch.replace(connect_timeout="soon")
    with pytest.raises(ConfigError, match="unencrypted"):
        settings.smtp.replace(host="mail.example.org", security="none", username="u", password="p")


def test_building_settings_reads_nothing_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_ENRICH", "0")
    monkeypatch.setenv("TIDINGS_FETCH__ATTEMPTS", "9")
    assert Settings().enrich is True
    assert Settings().fetch.attempts == 3
    assert load_settings(config_file=None).fetch.attempts == 9


def test_a_data_dir_alone_puts_the_database_in_it(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).database_url == f"sqlite:///{tmp_path / 'tidings.sqlite'}"
    home = load_settings(env={"TIDINGS_DATA_DIR": "~/news"}, config_file=None)
    assert home.data_dir == Path.home() / "news"
    assert home.database_url == f"sqlite:///{Path.home() / 'news' / 'tidings.sqlite'}"
