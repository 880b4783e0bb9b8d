"""Typed configuration: TOML file + ``MOTCUA_SECTION__KEY`` environment overrides.

The configuration's own sections are ``station``, ``store`` and ``log``; the packages above
register theirs (``registry.add_config_section`` in their ``_extension.py``): ``web``
(:mod:`edge.web`), ``reception`` (:mod:`edge.reception`), ``sync`` (:mod:`sync.client`),
``devices`` (:mod:`edge.devices`).
"""

from ._load import DEFAULT_CONFIG_PATH, Settings, known_sections, load_settings, show_settings
from ._schema import LogConfig, Secret, StationConfig, StoreConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "LogConfig",
    "Secret",
    "Settings",
    "StationConfig",
    "StoreConfig",
    "known_sections",
    "load_settings",
    "show_settings",
]
