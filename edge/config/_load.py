"""Load, validate and print the configuration: TOML file, then ``MOTCUA_*`` environment."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args, get_origin

from edge._registry import REGISTRY, RegistrationError, Registry
from edge.errors import ConfigError

from ._schema import (
    HEAD_SECTIONS,
    TAIL_SECTIONS,
    LogConfig,
    Secret,
    StationConfig,
    StoreConfig,
    fields_of,
)

DEFAULT_CONFIG_PATH = Path("/etc/motcua/edge.toml")
# Numbers from the environment: ASCII digits only (int() would also take "８０８０" or "1_000").
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_FLOAT_LIMIT = 1e300
ENV_PREFIX = "MOTCUA_"


def known_sections(registry: Registry | None = None) -> dict[str, type]:
    """The sections a configuration may have, in the order they are shown: the configuration's own
    ``station`` and ``store``, the sections the installed packages registered (in the composition
    root's order: ``web``, ``reception``, ``sync``, ``devices``), then ``log``. A section no
    installed package registered is not among them, so a file or a variable naming it is refused."""
    registered = (REGISTRY if registry is None else registry).config_sections
    for name, cls in registered.items():
        if name in HEAD_SECTIONS or name in TAIL_SECTIONS:
            raise RegistrationError(f"config section [{name}] belongs to edge.config, not to {cls.__module__}")
    return {**HEAD_SECTIONS, **registered, **TAIL_SECTIONS}


class Settings:
    """The whole validated configuration of one box: one attribute per section.

    ``station``, ``store`` and ``log`` are the configuration's own; the other sections are those
    the installed packages registered, read the same way (``settings.web.port``). Which sections
    there are is fixed when the object is made: keyword arguments name sections (each an instance
    of its class, the defaults otherwise). Immutable; :meth:`replace` returns a changed copy.
    """

    __slots__ = ("_sections",)
    _sections: Mapping[str, Any]

    def __init__(self, **sections: Any) -> None:
        schema = known_sections()
        for name in sections:
            if name not in schema:
                raise ConfigError(f"unknown config section [{name}].{_suggest(name, schema)}")
        values: dict[str, Any] = {}
        for name, cls in schema.items():
            value = sections.get(name)
            if value is None:
                value = cls()
            elif type(value) is not cls:
                raise TypeError(f"config section [{name}] must be a {cls.__qualname__}, not {type(value).__qualname__}")
            values[name] = value
        object.__setattr__(self, "_sections", MappingProxyType(values))

    @classmethod
    def _of(cls, values: Mapping[str, Any]) -> Settings:
        made = object.__new__(cls)
        object.__setattr__(made, "_sections", MappingProxyType(dict(values)))
        return made

    # The configuration's own sections, typed; the registered ones come through __getattr__.
    @property
    def station(self) -> StationConfig:
        return self._sections["station"]

    @property
    def store(self) -> StoreConfig:
        return self._sections["store"]

    @property
    def log(self) -> LogConfig:
        return self._sections["log"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._sections[name]
        except KeyError:
            raise AttributeError(f"no config section [{name}]: no installed package registers it."
                                 f"{_suggest(name, self._sections)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._sections})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return dict(self._sections) == dict(other._sections)

    def __hash__(self) -> int:
        return hash(tuple(self._sections.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle: the same sections (attribute assignment is refused, so no slot state)
        return (Settings._of, (dict(self._sections),))

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value in self._sections.items()) + ")"

    @property
    def sections(self) -> Mapping[str, Any]:
        """Every section by name, in the order :func:`show_settings` prints them."""
        return self._sections

    @property
    def state_dir(self) -> Path:
        return Path(self.store.state_dir)

    def replace(self, section_name: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed (validated like the file)."""
        if section_name not in self._sections:
            raise ConfigError(f"unknown config section [{section_name}].{_suggest(section_name, self._sections)}")
        current = dataclasses.asdict(self._sections[section_name])
        current.update(values)
        built = _build_section(section_name, type(self._sections[section_name]), current, origin="override")
        return Settings._of({**self._sections, section_name: built})


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


def _build_section(name: str, cls: type, values: dict[str, Any], origin: str) -> Any:
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
    registry: Registry | None = None,
) -> Settings:
    """Read the TOML file (if any), apply ``MOTCUA_SECTION__KEY`` variables, then overrides.

    The sections are :func:`known_sections` of ``registry`` (the installed packages by default):
    a section no installed package registered is refused like a misspelt one."""
    env = os.environ if env is None else env
    schema = known_sections(registry)
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
            if sec not in schema:
                raise ConfigError(f"{path}: unknown config section [{sec}].{_suggest(sec, schema)}")
            if not isinstance(body, dict):
                raise ConfigError(f"{path}: '{sec}' must be a table [{sec}]")
            raw.setdefault(sec, {}).update(body)
    origins: dict[str, str] = {sec: str(path) for sec in raw}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        sec, _, key = var[len(ENV_PREFIX):].lower().partition("__")
        if sec not in schema:
            raise ConfigError(f"environment {var}: unknown config section '{sec}'.{_suggest(sec, schema)}")
        raw.setdefault(sec, {})[key] = value
        origins[sec] = f"environment ({var})"
    for sec, body in (overrides or {}).items():
        if sec not in schema:
            raise ConfigError(f"command line: unknown config section '{sec}'.{_suggest(sec, schema)}")
        raw.setdefault(sec, {}).update(body)
        origins.setdefault(sec, "command line")
    built = {sec: _build_section(sec, schema[sec], raw[sec], origins.get(sec, "config")) if sec in raw else cls()
             for sec, cls in schema.items()}
    return Settings._of(built)


def show_settings(settings: Settings) -> str:
    """The configuration as TOML with secrets masked."""
    lines: list[str] = []
    for sec, values in settings.sections.items():
        lines.append(f"[{sec}]")
        for key, value in dataclasses.asdict(values).items():
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
