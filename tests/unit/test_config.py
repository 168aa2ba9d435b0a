from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tidings.config import load_settings, parse_networks
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
