"""The ``[web]`` configuration section, registered by this package (``_extension.py``).

Imports only :mod:`edge.config` (no aiohttp, no Jinja): the composition root loads it with the
registrations.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import Secret


@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """The clerk web app and JSON API."""

    host: str = "127.0.0.1"
    port: int = 8080
    session_idle_minutes: int = 15
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    max_upload_mb: int = 20
    session_secret: Secret = Secret("")


__all__ = ["WebConfig"]
