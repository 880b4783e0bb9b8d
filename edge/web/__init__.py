"""The clerk web app and JSON API.

Public API: :func:`create_app` (used by ``motcua serve``) and the :mod:`edge.web.accounts` module
(clerk accounts; the sync client applies the city's account feed with
``accounts.upsert_from_feed``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import accounts
    from ._app import create_app
    from ._migrations import migrations

_LAZY: dict[str, tuple[str, str | None]] = {
    "accounts": (".accounts", None),
    "create_app": ("._app", "create_app"),
    "migrations": ("._migrations", "migrations"),
}

__all__ = ["accounts", "create_app", "migrations"]


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
