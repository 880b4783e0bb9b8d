"""The composition root: the one list of packages, and the call of each package's hook.

Order matters where a contribution is ordered: the migration sets of a fresh database are
applied in this order (``store`` is the store's own and always first, then ``outbox``,
``web``, ``reception``, ``sync``, ``transfer``), and ``motcua config show`` prints the registered
config sections in this order (``web``, ``reception``, ``sync``, ``guardrails``, ``transfer``,
``devices``, ``signing``) between the configuration's
own ``station``/``store`` and ``log``. Commands are listed by name.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from edge._registry import REGISTRY, Registry
from edge.cli import _extension as cli_ext
from edge.devices import _extension as devices_ext
from edge.devices.cccd import _extension as cccd_ext
from edge.outbox import _extension as outbox_ext
from edge.reception import _extension as reception_ext
from edge.signing import _extension as signing_ext
from edge.updater import _extension as updater_ext
from edge.web import _extension as web_ext
from provisioning import _extension as provisioning_ext
from sync.client import _extension as sync_client_ext
from sync.hub import _extension as hub_ext
from sync.transfer import _extension as transfer_ext

PACKAGES: tuple[ModuleType, ...] = (
    cli_ext,
    outbox_ext,
    web_ext,
    reception_ext,
    sync_client_ext,
    transfer_ext,
    devices_ext,
    cccd_ext,
    signing_ext,
    hub_ext,
    provisioning_ext,
    updater_ext,
)
#: Packages found by name, after those above: the benchmarks use the whole appliance (their
#: child processes call :func:`install` to open stores and start hubs), so the CLI does not
#: import them; their hook only adds the ``bench`` command, which loads on first use.
PLUGINS: tuple[str, ...] = ("bench._extension",)


def install(registry: Registry = REGISTRY) -> Registry:
    """Call every package's ``register`` hook once (idempotent); returns the registry."""
    for module in (*PACKAGES, *(importlib.import_module(name) for name in PLUGINS)):
        registry.install(module.__name__.removesuffix("._extension"), module.register)
    return registry


__all__ = ["PACKAGES", "PLUGINS", "install"]
