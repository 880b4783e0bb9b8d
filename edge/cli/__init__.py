"""The ``motcua`` command line: one entry point, the commands each package registers.

``cli`` and ``main`` load on first use, so a package's ``_extension`` (imported by the
composition root) does not pull the command line in with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._main import cli, main

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import _main

        return getattr(_main, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
