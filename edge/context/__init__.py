"""What every command receives: the validated settings and a way to open the store.

Every package's ``cli`` module decorates its commands with :data:`pass_ctx`; this module sits
below them (above the store, which it opens only when a command asks) and stays import-cheap:
click and the typed config, nothing else at import time.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from edge.config import DEFAULT_CONFIG_PATH, Settings, load_settings


@dataclass
class CliContext:
    config_path: Path | None
    state_dir: Path | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            path = self.config_path
            if path is None and DEFAULT_CONFIG_PATH.exists():
                path = DEFAULT_CONFIG_PATH
            overrides: dict[str, dict[str, Any]] = {}
            if self.state_dir is not None:
                overrides["store"] = {"state_dir": str(self.state_dir)}
            settings = load_settings(path, overrides=overrides)
            # A state directory may carry its own edge.toml (written by init / firstboot).
            local = Path(settings.store.state_dir) / "edge.toml"
            if self.config_path is None and local.exists():
                settings = load_settings(local, overrides=overrides)
            self._settings = settings
        return self._settings

    def open_store(self, **kwargs: Any):
        from edge.store import Store

        return Store.open(self.settings, passphrase=os.environ.get("MOTCUA_PASSPHRASE"), **kwargs)

    def with_settings(self, settings: Settings) -> CliContext:
        return dataclasses.replace(self, _settings=settings)


pass_ctx = click.make_pass_decorator(CliContext)
