"""The ``[sync]`` configuration section of the box's client, registered by this package
(``_extension.py``).

Imports nothing but the standard library: the composition root loads it with the registrations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SyncConfig:
    """Reconciliation with the city hub."""

    enabled: bool = True
    hub_url: str = ""
    ca_file: str = ""
    push_interval_seconds: int = 60
    pull_interval_seconds: int = 300
    heartbeat_interval_seconds: int = 300
    retention_days: int = 30
    chunk_size_kb: int = 1024
    bandwidth_limit_kbps: int = 0
    metered: bool = False
    request_timeout_seconds: int = 60


__all__ = ["SyncConfig"]
