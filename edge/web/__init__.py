"""The clerk web app and JSON API.

Public API: :func:`create_app` (used by ``motcua serve``) and the :mod:`edge.web.accounts` module
(clerk accounts; the sync client applies the city's account feed with
``accounts.upsert_from_feed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from . import accounts
    from ._app import create_app
    from ._config import WebConfig
    from ._migrations import migrations

_LAZY: dict[str, tuple[str, str | None]] = {
    "WebConfig": ("._config", "WebConfig"),
    "accounts": (".accounts", None),
    "create_app": ("._app", "create_app"),
    "migrations": ("._migrations", "migrations"),
}

__all__ = ["WebConfig", "accounts", "create_app", "migrations"]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
