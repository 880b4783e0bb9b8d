"""Typed configuration: TOML file + ``MOTCUA_SECTION__KEY`` environment overrides."""

from ._load import DEFAULT_CONFIG_PATH, Settings, load_settings, show_settings
from ._schema import (
    DevicesConfig,
    LogConfig,
    ReceptionConfig,
    Secret,
    StationConfig,
    StoreConfig,
    SyncConfig,
    WebConfig,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DevicesConfig",
    "LogConfig",
    "ReceptionConfig",
    "Secret",
    "Settings",
    "StationConfig",
    "StoreConfig",
    "SyncConfig",
    "WebConfig",
    "load_settings",
    "show_settings",
]
