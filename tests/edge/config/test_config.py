"""Typed configuration: unknown keys, wrong types, environment overrides, masked secrets."""

from __future__ import annotations

import pytest

from edge.config import load_settings, show_settings
from edge.errors import ConfigError


def test_defaults_load_without_a_file() -> None:
    settings = load_settings(None, env={})
    assert settings.web.port == 8080 and settings.store.cipher == "auto"


def test_unknown_key_suggests_the_right_one(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("[web]\nprot = 8081\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'web.prot'\. Did you mean 'port'\?"):
        load_settings(path, env={})


def test_unknown_section_suggests(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("[sycn]\nenabled = true\n")
    with pytest.raises(ConfigError, match=r"Did you mean 'sync'\?"):
        load_settings(path, env={})


def test_wrong_type_names_key_and_expected_type(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[web]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"'web.port' must be an integer, got 'eighty' \(str\)"):
        load_settings(path, env={})


def test_choice_is_checked(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[store]\ncipher = "aes-128"\n')
    with pytest.raises(ConfigError, match="must be one of"):
        load_settings(path, env={})


def test_environment_overrides_file_and_is_parsed(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("[web]\nport = 8081\n[sync]\nmetered = false\n")
    settings = load_settings(path, env={"MOTCUA_WEB__PORT": "9090", "MOTCUA_SYNC__METERED": "yes"})
    assert settings.web.port == 9090 and settings.sync.metered is True
    with pytest.raises(ConfigError, match="MOTCUA_WEB__PORT"):
        load_settings(path, env={"MOTCUA_WEB__PORT": "x"})


def test_invalid_toml_is_reported(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("[web\nport=1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, env={})


def test_secrets_are_masked_when_shown() -> None:
    settings = load_settings(None, env={"MOTCUA_WEB__SESSION_SECRET": "hunter2-very-secret"})
    text = show_settings(settings)
    assert "hunter2" not in text and 'session_secret = "********"' in text
    assert settings.web.session_secret == "hunter2-very-secret"
