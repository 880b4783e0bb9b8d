"""Package attributes that load on first use (PEP 562).

A package whose ``__init__`` would import heavy modules (aiohttp, Jinja, reportlab …) lists its
public names with the private module each comes from; importing the package (for its
``_extension``, or one light name) then costs nothing until a name is used::

    __getattr__, __dir__ = lazy_exports(__name__, {"create_app": ("._app", "create_app")})

A name mapped to ``(module, None)`` is the module itself.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, tuple[str, str | None]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package`` for ``names``."""

    def __getattr__(name: str) -> Any:
        try:
            module, attr = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value: Any = importlib.import_module(module, package)
        if attr is not None:
            value = getattr(value, attr)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
