"""The running appliance: start-up script, demo environment, systemd notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._notify import sd_notify, watchdog_interval
    from ._server import run_server, serve

_LAZY: dict[str, tuple[str, str | None]] = {
    "sd_notify": ("._notify", "sd_notify"),
    "watchdog_interval": ("._notify", "watchdog_interval"),
    "run_server": ("._server", "run_server"),
    "serve": ("._server", "serve"),
}

__all__ = ["run_server", "sd_notify", "serve", "watchdog_interval"]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
