"""The running appliance: start-up script, demo environment, systemd notifications."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    # Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = importlib.import_module(module, __name__)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
