"""Typed configuration: unknown keys, wrong types, environment overrides, masked secrets, and the
sections the packages register."""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Literal

import pytest

from edge._registry import REGISTRY, RegistrationError, Registry
from edge.config import Secret, Settings, known_sections, load_settings, show_settings
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


# --- Sections registered by the packages ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LabelPrinterConfig:
    """A section as a package declares it in its ``_config.py``."""

    model: Literal["ql-800", "zd421"] = "ql-800"
    copies: int = 1
    token: Secret = Secret("")


def _registry_with_printer() -> Registry:
    registry = Registry()
    registry.install("tests.printer", lambda r: r.add_config_section("printer", LabelPrinterConfig))
    return registry


def test_the_packages_register_the_sections_above_the_configuration() -> None:
    assert list(known_sections()) == ["station", "store", "web", "reception", "sync", "guardrails", "transfer",
                                      "devices", "signing", "log"]
    assert {name: cls.__module__ for name, cls in REGISTRY.config_sections.items()} == {
        "web": "edge.web._config", "reception": "edge.reception._config",
        "sync": "sync.client._config", "guardrails": "sync.client._guardrails_config",
        "transfer": "sync.transfer._config", "devices": "edge.devices._config", "signing": "edge.signing._config"}
    settings = load_settings(None, env={})
    assert type(settings.web) is REGISTRY.config_sections["web"] and settings.devices.scan_mode == "Gray"


def test_a_registered_section_is_loaded_like_the_own_ones(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[printer]\ncopies = 2\ntoken = "abc-secret"\n[store]\ncipher = "aes-256-gcm"\n')
    settings = load_settings(path, env={"MOTCUA_PRINTER__MODEL": "zd421"}, overrides={"printer": {"copies": 3}},
                             registry=_registry_with_printer())
    assert settings.printer == LabelPrinterConfig(model="zd421", copies=3, token=Secret("abc-secret"))
    assert settings.store.cipher == "aes-256-gcm" and list(settings.sections) == ["station", "store", "printer", "log"]
    text = show_settings(settings)
    assert '[printer]\nmodel = "zd421"\ncopies = 3\ntoken = "********"\n' in text and "abc-secret" not in text
    assert settings.replace("printer", copies=4).printer.copies == 4


def test_a_registered_section_refuses_an_unknown_key_by_name(tmp_path) -> None:
    registry = _registry_with_printer()
    path = tmp_path / "edge.toml"
    path.write_text("[printer]\ncopeis = 2\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'printer\.copeis'\. Did you mean 'copies'\?"):
        load_settings(path, env={}, registry=registry)
    with pytest.raises(ConfigError, match=r"MOTCUA_PRINTER__MODLE.*unknown config key 'printer\.modle'\. Did you mean 'model'\?"):
        load_settings(None, env={"MOTCUA_PRINTER__MODLE": "zd421"}, registry=registry)
    path.write_text('[printer]\ncopies = "two"\n')
    with pytest.raises(ConfigError, match=r"'printer\.copies' must be an integer, got 'two' \(str\)"):
        load_settings(path, env={}, registry=registry)
    path.write_text('[printer]\nmodel = "zd42"\n')
    with pytest.raises(ConfigError, match=r"'printer\.model' must be one of 'ql-800', 'zd421'.*Did you mean 'zd421'\?"):
        load_settings(path, env={}, registry=registry)
    with pytest.raises(ConfigError, match=r"unknown config key 'printer\.colour'"):
        load_settings(None, env={}, overrides={"printer": {"colour": True}}, registry=registry)


def test_a_section_no_installed_package_registers_is_unknown(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("[printer]\ncopies = 2\n")
    with pytest.raises(ConfigError, match=r"unknown config section \[printer\]"):
        load_settings(path, env={})  # the box's packages: none registers [printer]
    bare = Registry()  # a box without the web package (or any package above the configuration)
    path.write_text("[web]\nport = 8081\n")
    with pytest.raises(ConfigError, match=r"edge\.toml: unknown config section \[web\]"):
        load_settings(path, env={}, registry=bare)
    with pytest.raises(ConfigError, match=r"environment MOTCUA_WEB__PORT: unknown config section 'web'"):
        load_settings(None, env={"MOTCUA_WEB__PORT": "8081"}, registry=bare)
    with pytest.raises(ConfigError, match=r"unknown config section 'web'"):
        load_settings(None, env={}, overrides={"web": {"port": 8081}}, registry=bare)
    settings = load_settings(None, env={}, registry=bare)
    assert list(settings.sections) == ["station", "store", "log"]
    assert show_settings(settings).startswith("[station]\n") and "[web]" not in show_settings(settings)
    with pytest.raises(AttributeError, match=r"no config section \[web\]"):
        settings.web  # noqa: B018
    with pytest.raises(ConfigError, match=r"unknown config section \[web\]"):
        settings.replace("web", port=1)


def test_a_section_is_registered_once_as_a_frozen_dataclass_with_defaults() -> None:
    registry = _registry_with_printer()
    with pytest.raises(RegistrationError, match=r"\[printer\] registered by tests\.printer and other"):
        registry.install("other", lambda r: r.add_config_section("printer", LabelPrinterConfig))

    @dataclass(kw_only=True)
    class Mutable:
        copies: int = 1

    @dataclass(frozen=True, kw_only=True)
    class NoDefault:
        copies: int

    for name, cls, message in [("mutable", Mutable, "frozen dataclass"), ("plain", dict, "frozen dataclass"),
                               ("nodefault", NoDefault, "keys without a default: copies"),
                               ("Printer", LabelPrinterConfig, "lower-case"), ("a__b", LabelPrinterConfig, "lower-case")]:
        with pytest.raises(RegistrationError, match=message):
            Registry().install("p", lambda r, n=name, c=cls: r.add_config_section(n, c))
    own = Registry()
    own.install("p", lambda r: r.add_config_section("store", LabelPrinterConfig))
    with pytest.raises(RegistrationError, match=r"\[store\] belongs to edge\.config"):
        load_settings(None, env={}, registry=own)


def test_settings_are_immutable_and_replace_validates() -> None:
    settings = load_settings(None, env={})
    changed = settings.replace("web", port=9000)
    assert changed.web.port == 9000 and settings.web.port == 8080
    assert changed.store == settings.store and changed != settings and settings == load_settings(None, env={})
    with pytest.raises(ConfigError, match=r"unknown config key 'web\.prot'\. Did you mean 'port'\?"):
        settings.replace("web", prot=9000)
    with pytest.raises(AttributeError):
        settings.web = changed.web  # type: ignore[misc]
    assert Settings() == settings  # every installed section at its defaults
    assert copy.deepcopy(changed) == changed and pickle.loads(pickle.dumps(changed)).web.port == 9000
    with pytest.raises(ConfigError, match=r"unknown config section \[printer\]"):
        Settings(printer=LabelPrinterConfig())
    with pytest.raises(TypeError, match="must be a WebConfig"):
        Settings(web=settings.store)


def test_show_prints_every_section_in_order() -> None:
    text = show_settings(load_settings(None, env={}))
    assert [line for line in text.splitlines() if line.startswith("[")] == [
        "[station]", "[store]", "[web]", "[reception]", "[sync]", "[guardrails]", "[transfer]", "[devices]", "[signing]", "[log]"]
