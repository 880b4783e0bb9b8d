"""The config loader against arbitrary files, documents and environment values: a Settings or a
ConfigError with a message, nothing else."""

from __future__ import annotations

import datetime as dt
import math

import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from edge.config import Settings, known_sections, load_settings
from edge.config._schema import fields_of
from edge.errors import ConfigError

# Every section of the box: the configuration's own and those its packages register (conftest.py
# installs the packages, as the CLI and the daemon do).
SECTIONS = known_sections()
SECTION_NAMES = sorted(SECTIONS)
FIELD_NAMES = sorted({name for cls in SECTIONS.values() for name in fields_of(cls)})

toml_scalars = (st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=20)
                | st.sampled_from(["auto", "X25519", "DEBUG", "07:30", "１２", "true", "8080"])
                | st.datetimes(timezones=st.none() | st.just(dt.UTC)) | st.dates() | st.times())
toml_values = st.recursive(toml_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
sections = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), toml_values, max_size=5)
documents = st.dictionaries(st.sampled_from(SECTION_NAMES) | st.text(max_size=8), sections | toml_values, max_size=4)


def _outcome(call) -> Settings | ConfigError:
    try:
        result = call()
    except ConfigError as exc:
        assert str(exc).strip(), "a ConfigError without a message"
        return exc
    assert isinstance(result, Settings)
    return result


def _finite(settings: Settings) -> None:
    assert math.isfinite(settings.reception.hours_per_day)
    assert math.isfinite(settings.devices.rescan_debounce_seconds)


@given(doc=documents)
def test_any_toml_document_gives_settings_or_a_config_error(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("cfg") / "edge.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    result = _outcome(lambda: load_settings(path, env={}))
    if isinstance(result, Settings):
        _finite(result)


@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_file_content_gives_settings_or_a_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "edge.toml"
    path.write_bytes(raw)
    _outcome(lambda: load_settings(path, env={}))


@given(section=st.sampled_from(SECTION_NAMES), key=st.sampled_from(FIELD_NAMES), value=st.text(max_size=30)
       | st.sampled_from(["nan", "inf", "-inf", "1e999", "9" * 400, "１２", "٣"]))
def test_any_environment_value_gives_settings_or_a_config_error(section, key, value):
    result = _outcome(lambda: load_settings(None, env={f"MOTCUA_{section.upper()}__{key.upper()}": value}))
    if isinstance(result, Settings):
        _finite(result)


def test_a_directory_or_an_unreadable_path_is_a_config_error(tmp_path):
    _outcome(lambda: load_settings(tmp_path, env={}))
    assert isinstance(_outcome(lambda: load_settings(tmp_path, env={})), ConfigError)


def test_a_number_that_is_not_finite_is_a_config_error(tmp_path):
    for text in ("hours_per_day = nan", "hours_per_day = inf", "hours_per_day = " + "9" * 400):
        path = tmp_path / "edge.toml"
        path.write_text(f"[reception]\n{text}\n")
        assert isinstance(_outcome(lambda p=path: load_settings(p, env={})), ConfigError), text
    path.write_text("[web]\nport = " + "9" * 5000 + "\n")
    assert isinstance(_outcome(lambda: load_settings(path, env={})), ConfigError)
    assert isinstance(_outcome(lambda: load_settings(None, env={"MOTCUA_WEB__PORT": "9" * 5000})), ConfigError)
    for value in ("nan", "-inf", "1e999"):
        env = {"MOTCUA_RECEPTION__HOURS_PER_DAY": value}
        assert isinstance(_outcome(lambda e=env: load_settings(None, env=e)), ConfigError), value


def test_unicode_digits_in_an_environment_integer_are_refused():
    assert isinstance(_outcome(lambda: load_settings(None, env={"MOTCUA_WEB__PORT": "８０８０"})), ConfigError)
