"""What each package contributes to the box, declared through one hook.

Every package has a small ``_extension.py`` with ``register(registry)``; it names its commands
(with a loader, so nothing heavy is imported until a command runs), its migration set, its feed
handlers, the steps the store commits with a finalize or a shred, and its section of the
configuration. The composition root (:mod:`edge.cli._packages`) lists the packages once and calls
each hook with :data:`REGISTRY`. The layers that consume a contribution (the configuration loads
the registered sections, the store applies the migration sets, the sync client dispatches feed
items, the CLI lists the commands) read it from here, so none of them imports a package above it.

This module imports nothing but the standard library: every layer may read it.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CommandSpec:
    """A top-level ``motcua`` command: its name, its one-line help and how to load it."""

    name: str
    help: str
    load: Callable[[], Any]  # returns the click command or group
    package: str
    hidden: bool = False


@dataclass(frozen=True)
class MigrationSpec:
    """A named migration set; ``load`` returns the ``sqlite_utils`` ``Migrations`` object."""

    name: str
    load: Callable[[], Any]
    package: str


_SECTION_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", re.ASCII)  # MOTCUA_<SECTION>__<KEY>

FeedHandler = Callable[[Any, Any, Any], None]  # (store, conn, item) inside the feed item's savepoint


class RegistrationError(RuntimeError):
    """Two packages claimed the same command, migration set, feed type or config section, or a
    contribution is malformed."""


class Registry:
    """Contributions of the installed packages, in the order the composition root lists them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.commands: dict[str, CommandSpec] = {}
        self.migrations: list[MigrationSpec] = []
        self.feed_handlers: dict[str, FeedHandler] = {}
        self.store_steps: dict[str, list[Callable[..., None]]] = {"finalize": [], "shred": []}
        self.config_sections: dict[str, type] = {}
        self._section_owner: dict[str, str] = {}
        self.packages: list[str] = []
        self._current = ""

    # --- called by a package's register() -----------------------------------------------------
    def add_command(self, name: str, load: Callable[[], Any], *, help: str, hidden: bool = False) -> None:
        if name in self.commands:
            raise RegistrationError(f"command {name!r} registered by {self.commands[name].package} and {self._current}")
        self.commands[name] = CommandSpec(name=name, help=help, load=load, package=self._current, hidden=hidden)

    def add_migrations(self, name: str, load: Callable[[], Any]) -> None:
        if any(m.name == name for m in self.migrations):
            raise RegistrationError(f"migration set {name!r} registered twice ({self._current})")
        self.migrations.append(MigrationSpec(name=name, load=load, package=self._current))

    def add_feed_handler(self, feed_type: str, handler: FeedHandler) -> None:
        if feed_type in self.feed_handlers:
            raise RegistrationError(f"feed type {feed_type!r} already has a handler ({self._current})")
        self.feed_handlers[feed_type] = handler

    def add_store_step(self, kind: str, step: Callable[..., None]) -> None:
        """A step the store commits in the same transaction as every ``finalize`` (and ``ingest``)
        or ``shred`` not given its own ``then=`` (the outbox's enqueue and its shred mark)."""
        if kind not in self.store_steps:
            raise RegistrationError(f"unknown store step kind {kind!r} ({self._current})")
        self.store_steps[kind].append(step)

    def add_config_section(self, name: str, cls: type) -> None:
        """The package's ``[name]`` section of the configuration: a frozen dataclass whose fields
        (each with a default) are the section's keys and whose field types are their schema.
        :mod:`edge.config` loads it like its own sections (file, ``MOTCUA_NAME__KEY``, overrides;
        unknown keys refused) and ``settings.<name>`` returns it."""
        if not _SECTION_NAME.fullmatch(name):
            raise RegistrationError(f"config section name {name!r} must be lower-case ASCII words joined by single"
                                    f" underscores ({self._current})")
        if name in self.config_sections:
            raise RegistrationError(f"config section [{name}] registered by {self._section_owner[name]} and {self._current}")
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):  # type: ignore[attr-defined]
            raise RegistrationError(f"config section [{name}] must be a frozen dataclass, got {cls!r} ({self._current})")
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise RegistrationError(f"config section [{name}]: keys without a default: {', '.join(missing)} ({self._current})")
        self.config_sections[name] = cls
        self._section_owner[name] = self._current

    # --- called by the composition root -------------------------------------------------------
    def install(self, package: str, register: Callable[[Registry], None]) -> None:
        """Run one package's hook once; a package already installed is skipped."""
        with self._lock:
            if package in self.packages:
                return
            self._current = package
            try:
                register(self)
            finally:
                self._current = ""
            self.packages.append(package)


REGISTRY = Registry()

__all__ = ["REGISTRY", "CommandSpec", "FeedHandler", "MigrationSpec", "RegistrationError", "Registry"]
