"""The running appliance: start-up script, demo environment, systemd notifications."""

from ._notify import sd_notify, watchdog_interval
from ._server import run_server, serve

__all__ = ["run_server", "sd_notify", "serve", "watchdog_interval"]
