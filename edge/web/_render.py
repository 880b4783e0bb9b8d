"""Page rendering: the template plus the context every page receives.

aiohttp-jinja2's own ``context_processors`` middleware stores its context under a plain string
request key, which aiohttp ≥ 3.14 warns about (NotAppKeyWarning). The app therefore does not use
it: every page goes through :func:`render`, which adds :func:`base_context` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ._auth import current
from ._keys import DEVICES, SETTINGS, SYNC
from ._roles import has


def base_context(request: web.Request) -> dict[str, Any]:
    session = current(request)
    settings = request.app[SETTINGS]
    return {
        "user": session.account if session else None,
        "csrf_token": session.csrf_token if session else "",
        "can": (lambda perm: has(session.account.role if session else None, perm)),
        "station": settings.station,
        "has_devices": request.app[DEVICES] is not None,
        "has_sync": request.app[SYNC] is not None,
        "idle_minutes": settings.web.session_idle_minutes,
        "path": request.path,
    }


def render(template: str, request: web.Request, context: Mapping[str, Any] | None = None, *,
           status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, {**base_context(request), **(context or {})},
                                          status=status)
