"""Staged rollouts of a release: plan, signed ``update`` commands, the boxes' reports (docs/deploy.md §7).

The state is in the hub database (:mod:`sync.hub.storage._rollouts`); this module signs the
commands, validates what IT and the boxes send, and serves ``POST /v1/update-report``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from sync.errors import ApiError, HubError
from sync.protocol import STATION_KINDS

from ._core import signed_command
from ._keys import HubKeys
from .storage import _rollouts as store
from .storage._rollouts import OUTCOMES, RolloutPlan, wave_sizes

__all__ = ["OUTCOMES", "VERSION_RE", "RolloutPlan", "abort_rollout", "parse_waves", "recent_rollouts",
           "rollout_status", "start_rollout", "station_update", "station_updates", "update_report", "wave_sizes"]

#: A Debian version as the build writes it (scripts/build-deb): upstream[-revision], no epoch.
VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~]{0,63}(-[A-Za-z0-9.+~]{1,32})?$")
_ROLLOUT_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def parse_waves(text: str) -> tuple[int, ...]:
    """``1,10,50,100`` -> (1, 10, 50, 100): increasing percents ending at 100."""
    try:
        waves = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise HubError(f"--waves {text!r}: give increasing percents separated by commas, e.g. 1,10,50,100") from None
    if not waves or any(not 0 < w <= 100 for w in waves) or list(waves) != sorted(set(waves)):
        raise HubError(f"--waves {text!r}: percents must be strictly increasing, each in 1..100")
    if waves[-1] != 100:
        raise HubError(f"--waves {text!r}: the last wave must be 100 (every box)")
    return waves


def _builder(keys: HubKeys):
    def build(station_id: str, command_id: str, args: dict[str, Any], now: int) -> dict[str, Any]:
        return signed_command(keys, station_id=station_id, kind="update", now=now, args=args, command_id=command_id)

    return build


def start_rollout(storage, keys: HubKeys, plan: RolloutPlan, *, now: int) -> dict[str, Any]:
    if not VERSION_RE.match(plan.version):
        raise HubError(f"{plan.version!r} is not a package version (e.g. 0.2.0 or 0.2.0-1)")
    if plan.kind is not None and plan.kind not in STATION_KINDS:
        raise HubError(f"--kind must be one of {', '.join(STATION_KINDS)}")
    if not 0 <= plan.failure_threshold_pct <= 100:
        raise HubError("--max-failures must be a percent in 0..100")
    return store.start(storage, plan, rollout_id=uuid.uuid4().hex, command_ids=lambda: uuid.uuid4().hex,
                       build=_builder(keys), now=now)


def rollout_status(storage, rollout_id: str | None = None) -> dict[str, Any] | None:
    """The rollout (the latest one by default) and its per-wave progress as plain data; None if none."""
    rollout_id = rollout_id or store.latest_id(storage)
    return None if rollout_id is None else store.status(storage, rollout_id)


def abort_rollout(storage, rollout_id: str, *, reason: str, now: int) -> None:
    store.abort(storage, rollout_id, reason=reason, now=now)


def station_updates(storage) -> list[dict[str, Any]]:
    return store.station_updates(storage)


def station_update(storage, station_id: str) -> dict[str, Any] | None:
    """One box's last update report (None if it never sent one)."""
    return store.station_update(storage, station_id)


def recent_rollouts(storage, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest rollouts, newest first, in brief."""
    return store.recent(storage, limit=limit)


def _field(body: dict, name: str, *, pattern: re.Pattern | None = None, optional: bool = False, max_len: int = 500):
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > max_len or (pattern is not None and not pattern.match(value)):
        raise ApiError(400, "invalid_request", f"{name} is missing or malformed", extra={"field": name})
    return value


def parse_report(body: Any) -> dict[str, Any]:
    allowed = {"rollout_id", "command_id", "version", "outcome", "running_version", "detail"}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError(400, "invalid_request", f"unknown member {extra[0][:64]!r}", extra={"field": extra[0][:64]})
    outcome = _field(body, "outcome", max_len=32)
    if outcome not in OUTCOMES:
        raise ApiError(400, "invalid_request", f"outcome must be one of {', '.join(OUTCOMES)}", extra={"field": "outcome"})
    return {"rollout_id": _field(body, "rollout_id", pattern=_ROLLOUT_ID_RE, optional=True),
            "command_id": _field(body, "command_id", pattern=_ROLLOUT_ID_RE, optional=True),
            "version": _field(body, "version", pattern=VERSION_RE, max_len=100),
            "outcome": outcome,
            "running_version": _field(body, "running_version", optional=True, max_len=100) or "",
            "detail": _field(body, "detail", optional=True) or ""}


async def update_report(hub, request: web.Request) -> web.Response:
    """``POST /v1/update-report`` (signed by the box): the outcome of one update."""
    adm, _, data = await hub.signed_json(request)
    st = adm.station
    rep = parse_report(data)
    answer = await hub.db(store.report, storage=hub.storage, station_id=st.station_id, build=_builder(hub.keys),
                          now=hub.clock(), **rep)
    await hub.touch(st)
    return web.json_response(answer)
