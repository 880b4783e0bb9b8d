"""Small helpers shared by the views and the API."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from ._auth import actor
from ._keys import STORE

logger = logging.getLogger(__name__)
T = TypeVar("T")


async def audit(request: web.Request, action: str, *, dossier_id: str | None = None,
                who: str | None = None, **details: Any) -> None:
    """Append to the store's audit chain, awaited on its writer thread (the event loop goes on).
    ``details`` must never hold personal data."""
    await request.app[STORE].aaudit(action, actor=who or actor(request), dossier_id=dossier_id, details=details)


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-heavy work that touches no database (argon2, PDF rendering) off the loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def off_loop(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a use case that writes (``edge.services``) off the event loop: its write waits for the
    store's writer thread in a worker thread, its reads use that thread's own connection."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a local path may follow a login (no open redirect).

    Browsers drop tabs and line breaks from a URL and read a backslash as ``/``, so ``/<TAB>/evil.example``
    would become ``//evil.example``: any control character, space or backslash is refused.
    """
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ch.isspace() or not ch.isprintable() for ch in value)):
        return default
    return value


def form_str(form: Any, key: str, limit: int = 2000) -> str:
    value = form.get(key, "")
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]
