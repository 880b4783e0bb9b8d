"""The ``motcua`` command line: one entry point, the commands each package registers.

The composition root is :mod:`edge.cli._packages`: the one list of packages, whose hooks
:func:`install` calls (the daemon runs under ``motcua serve``; tests call it in their conftest).
``cli``, ``main`` and ``install`` load on first use, so ``edge.cli._extension`` (imported by the
composition root) does not pull the command line in with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._main import cli, main
    from ._packages import PACKAGES, install

__all__ = ["PACKAGES", "cli", "install", "main"]


def __getattr__(name: str) -> Any:
    if name in ("cli", "main"):
        from . import _main

        return getattr(_main, name)
    if name in ("PACKAGES", "install"):
        from . import _packages

        return getattr(_packages, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
