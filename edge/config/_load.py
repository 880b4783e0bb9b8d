"""Load, validate and print the configuration: TOML file, then ``MOTCUA_*`` environment."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from edge.errors import ConfigError

from ._schema import (
    SECTIONS,
    DevicesConfig,
    LogConfig,
    ReceptionConfig,
    Secret,
    StationConfig,
    StoreConfig,
    SyncConfig,
    WebConfig,
    fields_of,
)

DEFAULT_CONFIG_PATH = Path("/etc/motcua/edge.toml")
# Numbers from the environment: ASCII digits only (int() would also take "８０８０" or "1_000").
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_FLOAT_LIMIT = 1e300
ENV_PREFIX = "MOTCUA_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole validated configuration of one box."""

    station: StationConfig = StationConfig()
    store: StoreConfig = StoreConfig()
    web: WebConfig = WebConfig()
    reception: ReceptionConfig = ReceptionConfig()
    sync: SyncConfig = SyncConfig()
    devices: DevicesConfig = DevicesConfig()
    log: LogConfig = LogConfig()

    @property
    def state_dir(self) -> Path:
        return Path(self.store.state_dir)

    def replace(self, section_name: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed (validated like the file)."""
        current = dataclasses.asdict(getattr(self, section_name))
        current.update(values)
        built = _build_section(section_name, current, origin="override")
        return dataclasses.replace(self, **{section_name: built})


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean (true/false)", Secret: "a string"}.get(tp, str(tp))


def _coerce(key: str, tp: Any, value: Any, origin: str) -> Any:
    """Check a value against a field type; strings from the environment are parsed."""
    from_env = origin.startswith("environment")
    if get_origin(tp) is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        raise ConfigError(f"{origin}: '{key}' must be {_type_name(tp)}, got {value!r}.{_suggest(str(value), map(str, choices))}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            return int(value)
    elif tp is float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value) if abs(value) < _FLOAT_LIMIT else math.inf
        elif from_env and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            number = float(value)
        if number is not None:
            if math.isfinite(number):
                return number
            raise ConfigError(f"{origin}: '{key}' must be a finite number, got {value!r}.")
    elif tp is Secret:
        if isinstance(value, str):
            return Secret(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a schema mistake, not user input
        raise ConfigError(f"unsupported config type for '{key}': {tp}")
    shown = "********" if tp is Secret else repr(value)
    raise ConfigError(f"{origin}: '{key}' must be {_type_name(tp)}, got {shown} ({type(value).__name__}).")


def _build_section(name: str, values: dict[str, Any], origin: str) -> Any:
    cls = SECTIONS[name]
    known = fields_of(cls)
    hints = typing.get_type_hints(cls)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown config key '{name}.{key}'.{_suggest(key, known)}")
        clean[key] = _coerce(f"{name}.{key}", hints[key], value, origin)
    return cls(**clean)


def load_settings(
    path: Path | None = None,
    *,
    env: typing.Mapping[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Settings:
    """Read the TOML file (if any), apply ``MOTCUA_SECTION__KEY`` variables, then overrides."""
    env = os.environ if env is None else env
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a directory, not a file") from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except ValueError as exc:  # e.g. an integer of thousands of digits
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        for sec, body in data.items():
            if sec not in SECTIONS:
                raise ConfigError(f"{path}: unknown config section [{sec}].{_suggest(sec, SECTIONS)}")
            if not isinstance(body, dict):
                raise ConfigError(f"{path}: '{sec}' must be a table [{sec}]")
            raw.setdefault(sec, {}).update(body)
    origins: dict[str, str] = {sec: str(path) for sec in raw}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        sec, _, key = var[len(ENV_PREFIX):].lower().partition("__")
        if sec not in SECTIONS:
            raise ConfigError(f"environment {var}: unknown config section '{sec}'.{_suggest(sec, SECTIONS)}")
        raw.setdefault(sec, {})[key] = value
        origins[sec] = f"environment ({var})"
    for sec, body in (overrides or {}).items():
        raw.setdefault(sec, {}).update(body)
        origins.setdefault(sec, "command line")
    built = {sec: _build_section(sec, body, origins.get(sec, "config")) for sec, body in raw.items()}
    return Settings(**built)


def show_settings(settings: Settings) -> str:
    """The configuration as TOML with secrets masked."""
    lines: list[str] = []
    for sec in SECTIONS:
        lines.append(f"[{sec}]")
        for key, value in dataclasses.asdict(getattr(settings, sec)).items():
            if isinstance(value, Secret):
                value = value.masked()
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int | float):
                text = repr(value)
            else:
                text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)
