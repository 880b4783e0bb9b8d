"""Staged rollouts in the hub database: the rollout, its boxes by wave, each box's last update.

Everything a rollout is lives in these tables, so any hub worker (or the CLI) can take the next
step: a report from a box is recorded, the wave is judged and the next wave's commands are put on
the feed in ONE transaction that holds the rollout's row. Nothing is kept in a worker's memory.

A rollout's boxes are ordered canaries first (the stations IT names), then by a hash of the
rollout id and the station id (a stable, agency-mixed order); wave *i* takes the boxes up to
``ceil(percent_i × n / 100)`` of that order (at least one box for the first wave).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import ApiError, HubError
from sync.protocol import FeedType

#: Appended at the end of the hub's schema (sync/hub/storage/_sql.py): self-contained steps.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS rollouts (
        rollout_id TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        waves TEXT NOT NULL,
        agency_code TEXT,
        kind TEXT,
        failure_threshold_pct INTEGER NOT NULL,
        state TEXT NOT NULL,
        current_wave INTEGER NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rollout_targets (
        rollout_id TEXT NOT NULL REFERENCES rollouts (rollout_id),
        station_id TEXT NOT NULL,
        wave INTEGER NOT NULL,
        position INTEGER NOT NULL,
        command_id TEXT,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        sent_at BIGINT,
        reported_at BIGINT,
        PRIMARY KEY (rollout_id, station_id))""",
    "CREATE INDEX IF NOT EXISTS rollout_targets_wave ON rollout_targets (rollout_id, wave)",
    """CREATE TABLE IF NOT EXISTS station_updates (
        station_id TEXT PRIMARY KEY,
        rollout_id TEXT,
        version TEXT NOT NULL,
        outcome TEXT NOT NULL,
        running_version TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        reported_at BIGINT NOT NULL)""",
)

RUNNING, HALTED, DONE, ABORTED = "running", "halted", "done", "aborted"
#: A target's states: waiting for its wave, command sent, and the box's outcomes.
WAITING, SENT = "waiting", "sent"
OUTCOMES = ("installed", "rolled_back", "failed")
FAILED_OUTCOMES = ("rolled_back", "failed")

#: (station_id, command_id, args, now) -> the hub-signed command object {"command", "signature"}.
UpdateCommandBuilder = Callable[[str, str, dict[str, Any], int], dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutPlan:
    version: str
    waves: tuple[int, ...]
    agency_code: str | None = None
    kind: str | None = None
    failure_threshold_pct: int = 10
    canaries: tuple[str, ...] = ()


def wave_sizes(n: int, waves: Sequence[int]) -> list[int]:
    """How many boxes each wave adds (cumulative percents of ``n``)."""
    ends, sizes, prev = [], [], 0
    for i, pct in enumerate(waves):
        end = min(n, math.ceil(pct * n / 100))
        if i == 0 and n:
            end = max(1, end)
        end = max(end, prev)
        ends.append(end)
        sizes.append(end - prev)
        prev = end
    return sizes


def _order_key(rollout_id: str, station_id: str) -> str:
    return hashlib.sha256(f"{rollout_id}\0{station_id}".encode()).hexdigest()


def _lock(storage, tx, rollout_id: str) -> tuple | None:
    return tx.one("SELECT rollout_id, version, waves, agency_code, kind, failure_threshold_pct, state, current_wave, "
                  "reason, created_at, updated_at FROM rollouts WHERE rollout_id = ?" + storage.for_update, (rollout_id,))


def _send_wave(storage, tx, rollout_id: str, version: str, wave: int, build: UpdateCommandBuilder, now: int) -> int:
    rows = tx.all("SELECT station_id, command_id FROM rollout_targets WHERE rollout_id = ? AND wave = ? AND state = ? "
                  "ORDER BY position", (rollout_id, wave, WAITING))
    for station_id, command_id in rows:
        signed = build(station_id, command_id, {"version": version, "rollout_id": rollout_id, "wave": wave}, now)
        storage._append(tx, FeedType.COMMAND, signed, now=now, station_id=station_id)
        tx.run("UPDATE rollout_targets SET state = ?, sent_at = ? WHERE rollout_id = ? AND station_id = ?",
               (SENT, now, rollout_id, station_id))
    return len(rows)


def start(storage, plan: RolloutPlan, *, rollout_id: str, command_ids: Callable[[], str],
          build: UpdateCommandBuilder, now: int) -> dict[str, Any]:
    """Create the rollout, assign every matching enrolled box to a wave and send the first wave."""
    with storage._tx() as tx:
        # One start at a time across hub workers: the feed counter's row lock (SQLite: the writer lock).
        tx.one("SELECT value FROM hub_counters WHERE name = 'feed'" + storage.for_update)
        busy = tx.one("SELECT rollout_id, version FROM rollouts WHERE state = ?", (RUNNING,))
        if busy is not None:
            raise HubError(f"rollout {busy[0]} of version {busy[1]} is still running: wait for it or "
                           f"`motcua hub rollout abort {busy[0]}`")
        sql = "SELECT station_id FROM stations WHERE public_key IS NOT NULL AND revoked_at IS NULL"
        params: list[Any] = []
        if plan.agency_code:
            sql += " AND agency_code = ?"
            params.append(plan.agency_code)
        if plan.kind:
            sql += " AND kind = ?"
            params.append(plan.kind)
        stations = [r[0] for r in tx.all(sql, params)]
        unknown = [c for c in plan.canaries if c not in stations]
        if unknown:
            raise HubError(f"canary station(s) {', '.join(unknown)} are not enrolled boxes of this rollout's selection")
        if not stations:
            raise HubError("no enrolled, unrevoked station matches this rollout")
        rest = sorted((s for s in stations if s not in plan.canaries), key=lambda s: _order_key(rollout_id, s))
        ordered = list(plan.canaries) + rest
        tx.run("INSERT INTO rollouts (rollout_id, version, waves, agency_code, kind, failure_threshold_pct, state, "
               "current_wave, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
               (rollout_id, plan.version, json.dumps(list(plan.waves)), plan.agency_code, plan.kind,
                plan.failure_threshold_pct, RUNNING, now, now))
        pos = 0
        for wave, size in enumerate(wave_sizes(len(ordered), plan.waves)):
            for station_id in ordered[pos:pos + size]:
                tx.run("INSERT INTO rollout_targets (rollout_id, station_id, wave, position, command_id, state) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (rollout_id, station_id, wave, pos, command_ids(), WAITING))
                pos += 1
        _send_wave(storage, tx, rollout_id, plan.version, 0, build, now)
    return status(storage, rollout_id)


def report(storage, station_id: str, *, command_id: str | None, rollout_id: str | None, version: str, outcome: str,
           running_version: str, detail: str, build: UpdateCommandBuilder, now: int) -> dict[str, Any]:
    """Record one box's update outcome; judge its wave; halt the rollout or send the next wave."""
    if outcome not in OUTCOMES:
        raise ApiError(400, "invalid_request", f"outcome must be one of {', '.join(OUTCOMES)}", extra={"field": "outcome"})
    with storage._tx() as tx:
        tx.run("INSERT INTO station_updates (station_id, rollout_id, version, outcome, running_version, detail, "
               "reported_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station_id) DO UPDATE SET "
               "rollout_id = excluded.rollout_id, version = excluded.version, outcome = excluded.outcome, "
               "running_version = excluded.running_version, detail = excluded.detail, reported_at = excluded.reported_at",
               (station_id, rollout_id, version, outcome, running_version, detail[:500], now))
        answer: dict[str, Any] = {"recorded": True, "rollout": None}
        if not rollout_id:
            return answer
        row = _lock(storage, tx, rollout_id)
        target = tx.one("SELECT command_id, wave, state FROM rollout_targets WHERE rollout_id = ? AND station_id = ?",
                        (rollout_id, station_id))
        if row is None or target is None:
            raise ApiError(404, "not_found", f"station {station_id} is not part of rollout {rollout_id!r}")
        if command_id is not None and command_id != target[0]:
            raise ApiError(409, "conflict", "the report names another command than this station's in the rollout")
        if row[1] != version:
            raise ApiError(409, "conflict", f"rollout {rollout_id} ships {row[1]}, the report is about {version}")
        tx.run("UPDATE rollout_targets SET state = ?, detail = ?, reported_at = ? WHERE rollout_id = ? AND station_id = ?",
               (outcome, detail[:500], now, rollout_id, station_id))
        _judge(storage, tx, row, int(target[1]), build, now)
        answer["rollout"] = {"rollout_id": rollout_id, "state": _lock(storage, tx, rollout_id)[6]}
    return answer


def _judge(storage, tx, row: tuple, wave: int, build: UpdateCommandBuilder, now: int) -> None:
    rollout_id, version, waves, _agency, _kind, threshold, state, current = row[:8]
    if state != RUNNING:
        return
    counts = dict(tx.all("SELECT state, COUNT(*) FROM rollout_targets WHERE rollout_id = ? AND wave = ? GROUP BY state",
                         (rollout_id, wave)))
    size = sum(counts.values())
    failed = sum(counts.get(s, 0) for s in FAILED_OUTCOMES)
    if size and failed * 100 > threshold * size:
        tx.run("UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE rollout_id = ?",
               (HALTED, f"wave {wave + 1}: {failed} of {size} box(es) failed (threshold {threshold} %)", now, rollout_id))
        return
    if wave != current or counts.get(SENT, 0) or counts.get(WAITING, 0):
        return  # the wave is not over
    nxt = current + 1
    n_waves = len(json.loads(waves))
    while nxt < n_waves:
        if _send_wave(storage, tx, rollout_id, version, nxt, build, now):
            tx.run("UPDATE rollouts SET current_wave = ?, updated_at = ? WHERE rollout_id = ?", (nxt, now, rollout_id))
            return
        nxt += 1  # an empty wave (few boxes): go on to the next
    tx.run("UPDATE rollouts SET state = ?, current_wave = ?, updated_at = ? WHERE rollout_id = ?",
           (DONE, n_waves - 1, now, rollout_id))


def abort(storage, rollout_id: str, *, reason: str, now: int) -> None:
    """Stop a rollout: no more waves are sent (boxes already told may still update and report)."""
    with storage._tx() as tx:
        row = _lock(storage, tx, rollout_id)
        if row is None:
            raise HubError(f"no rollout {rollout_id!r}")
        if row[6] in (DONE, ABORTED):
            raise HubError(f"rollout {rollout_id} is already {row[6]}")
        tx.run("UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE rollout_id = ?",
               (ABORTED, reason, now, rollout_id))


def latest_id(storage) -> str | None:
    with storage._tx() as tx:
        row = tx.one("SELECT rollout_id FROM rollouts ORDER BY created_at DESC, rollout_id DESC LIMIT 1")
    return row[0] if row else None


def status(storage, rollout_id: str) -> dict[str, Any]:
    """A rollout with its per-wave progress, as plain data (the CLI prints it; a page may render it)."""
    with storage._tx() as tx:
        row = _lock(storage, tx, rollout_id)
        if row is None:
            raise HubError(f"no rollout {rollout_id!r}")
        targets = tx.all("SELECT station_id, wave, state, detail FROM rollout_targets WHERE rollout_id = ? "
                         "ORDER BY position", (rollout_id,))
    rid, version, waves, agency, kind, threshold, state, current, reason, created, updated = row
    percents = json.loads(waves)
    out_waves = []
    for i, pct in enumerate(percents):
        mine = [t for t in targets if t[1] == i]
        counts = {s: sum(1 for t in mine if t[2] == s) for s in (WAITING, SENT, *OUTCOMES)}
        out_waves.append({"wave": i + 1, "percent": pct, "boxes": len(mine), **counts,
                          "failed_stations": [t[0] for t in mine if t[2] in FAILED_OUTCOMES]})
    return {"rollout_id": rid, "version": version, "state": state, "reason": reason, "agency_code": agency,
            "kind": kind, "failure_threshold_pct": threshold, "current_wave": current + 1, "boxes": len(targets),
            "created_at": created, "updated_at": updated, "waves": out_waves}


def station_updates(storage) -> list[dict[str, Any]]:
    """Every box's last update report (for the fleet view's ``motcua_update_failed``)."""
    with storage._tx() as tx:
        rows = tx.all("SELECT station_id, rollout_id, version, outcome, running_version, detail, reported_at "
                      "FROM station_updates ORDER BY station_id")
    return [{"station_id": r[0], "rollout_id": r[1], "version": r[2], "outcome": r[3], "running_version": r[4],
             "detail": r[5], "reported_at": r[6], "update_failed": r[3] in FAILED_OUTCOMES} for r in rows]


def recent(storage, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest rollouts, newest first, each with its number of boxes (the fleet page's history)."""
    with storage._tx() as tx:
        rows = tx.all("SELECT r.rollout_id, r.version, r.state, r.reason, r.created_at, r.updated_at, "
                      "(SELECT COUNT(*) FROM rollout_targets t WHERE t.rollout_id = r.rollout_id) "
                      "FROM rollouts r ORDER BY r.created_at DESC, r.rollout_id DESC LIMIT ?", (limit,))
    return [{"rollout_id": r[0], "version": r[1], "state": r[2], "reason": r[3], "created_at": r[4],
             "updated_at": r[5], "boxes": int(r[6])} for r in rows]


def station_update(storage, station_id: str) -> dict[str, Any] | None:
    """One box's last update report, or None (the fleet page's per-box view)."""
    with storage._tx() as tx:
        r = tx.one("SELECT station_id, rollout_id, version, outcome, running_version, detail, reported_at "
                   "FROM station_updates WHERE station_id = ?", (station_id,))
    if r is None:
        return None
    return {"station_id": r[0], "rollout_id": r[1], "version": r[2], "outcome": r[3], "running_version": r[4],
            "detail": r[5], "reported_at": r[6], "update_failed": r[3] in FAILED_OUTCOMES}
