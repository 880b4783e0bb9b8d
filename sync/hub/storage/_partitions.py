"""Dossier-code partitions at the hub: who may issue which numbers of an agency, and until when.

A partition belongs to a *box* (a station key), not to the station forever (docs/sync-protocol.md
§12.1, docs/architecture.md "Dossier codes"). Three kinds of reservation keep ranges apart within
an agency:

- the current partition of every station (``stations``);
- the partition promised to a replacement box whose token is not used yet (``pending_partitions``);
- partitions a box gave up (replaced, or moved by ``hub set-partition``), kept in
  ``retired_partitions`` until the box is known to have stopped using them *and* that day (Vietnam
  time) is over, or until IT releases them once the box is gone.

Numbers restart every day, so a range freed from the next day on can never produce a code equal to
one the old box issued.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.codes import MAX_NUMBER, in_partition, partition_fits, partition_range
from core.vntime import vn_date
from sync.errors import ApiError, HubError

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pending_partitions (
        station_id TEXT PRIMARY KEY,
        agency_code TEXT NOT NULL,
        partition_index INTEGER NOT NULL,
        partition_size INTEGER NOT NULL,
        created_at BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS retired_partitions (
        station_id TEXT NOT NULL,
        agency_code TEXT NOT NULL,
        partition_index INTEGER NOT NULL,
        partition_size INTEGER NOT NULL,
        key_id TEXT,
        public_key TEXT,
        reason TEXT NOT NULL,
        retired_at BIGINT NOT NULL,
        notice_seq BIGINT,
        stopped_at BIGINT,
        released_at BIGINT,
        last_seen_at BIGINT,
        wipe_command TEXT,
        PRIMARY KEY (station_id, agency_code, partition_index, partition_size, retired_at))""",
    "CREATE INDEX IF NOT EXISTS retired_partitions_agency ON retired_partitions (agency_code, released_at)",
    """CREATE TABLE IF NOT EXISTS feed_floors (
        station_id TEXT PRIMARY KEY,
        floor BIGINT NOT NULL)""",
)

_RETIRED_COLS = ("station_id, agency_code, partition_index, partition_size, key_id, public_key, reason, retired_at, "
                 "notice_seq, stopped_at, released_at, last_seen_at, wipe_command")


def vn_date_of(ms: int) -> dt.date:
    """The Vietnam calendar date of a Unix-millisecond time."""
    return vn_date(dt.datetime.fromtimestamp(ms / 1000, dt.UTC))


def vn_day(ms: int) -> int:
    """Day number (Vietnam time) of a Unix-millisecond time."""
    return vn_date_of(ms).toordinal()


def number_range(index: int, size: int) -> tuple[int, int]:
    numbers = partition_range(index, size)
    return numbers.start, numbers.stop - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """A range of an agency's daily numbers that a box holds or may still hold."""

    kind: str  # station | pending | retired
    station_id: str
    agency_code: str
    partition_index: int
    partition_size: int
    key_id: str | None = None
    reason: str = ""
    retired_at: int | None = None
    stopped_at: int | None = None
    released_at: int | None = None
    last_seen_at: int | None = None
    notice_seq: int | None = None

    @property
    def first(self) -> int:
        return self.partition_index * self.partition_size + 1

    @property
    def last(self) -> int:
        return (self.partition_index + 1) * self.partition_size

    def overlaps(self, index: int, size: int) -> bool:
        first, last = number_range(index, size)
        return first <= self.last and self.first <= last

    def describe(self) -> str:
        span = f"{self.first:04d}–{self.last:04d}"
        if self.kind == "station":
            return f"partition {self.partition_index} ({span}) of station {self.station_id}"
        if self.kind == "pending":
            return f"partition {self.partition_index} ({span}) promised to the replacement box of station {self.station_id}"
        return (f"partition {self.partition_index} ({span}) retired from a box of station {self.station_id} "
                f"({self.reason}; reserved until that box has stopped using it and the day is over)")

    def to_json(self) -> dict[str, Any]:
        from sync.protocol import ms_to_rfc3339

        def t(ms: int | None) -> str | None:
            return ms_to_rfc3339(ms) if ms else None

        return {"kind": self.kind, "station_id": self.station_id, "agency_code": self.agency_code,
                "partition_index": self.partition_index, "partition_size": self.partition_size,
                "numbers": f"{self.first:04d}-{self.last:04d}", "key_id": self.key_id, "reason": self.reason,
                "retired_at": t(self.retired_at), "stopped_at": t(self.stopped_at),
                "released_at": t(self.released_at), "last_seen_at": t(self.last_seen_at)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RetiredBox:
    """A replaced box's key: it may still upload the dossiers it holds (and learn it is retired)."""

    station_id: str
    key_id: str
    public_key: bytes
    partition_index: int
    partition_size: int
    retired_at: int
    wipe_command: dict[str, Any] | None


def _retired(row: tuple) -> Reservation:
    (sid, agency, index, size, kid, _pub, reason, retired, notice, stopped, released, seen, _wipe) = row
    return Reservation(kind="retired", station_id=sid, agency_code=agency, partition_index=index,
                       partition_size=size, key_id=kid, reason=reason, retired_at=retired, stopped_at=stopped,
                       released_at=released, last_seen_at=seen, notice_seq=notice)


def still_reserved(r: Reservation, now: int) -> bool:
    """A retired range is free once released, or from the day after its box stopped using it."""
    if r.kind != "retired":
        return True
    if r.released_at is not None:
        return False
    return not (r.stopped_at is not None and vn_day(r.stopped_at) < vn_day(now))


def reservations(tx, agency: str, *, now: int, include_free: bool = False) -> list[Reservation]:
    """Every range of ``agency`` held by a station, a pending replacement or a retired box."""
    out = [Reservation(kind="station", station_id=r[0], agency_code=agency, partition_index=r[1],
                       partition_size=r[2], key_id=r[3])
           for r in tx.all("SELECT station_id, partition_index, partition_size, key_id FROM stations "
                           "WHERE agency_code = ? ORDER BY partition_index", (agency,))]
    out += [Reservation(kind="pending", station_id=r[0], agency_code=agency, partition_index=r[1], partition_size=r[2])
            for r in tx.all("SELECT station_id, partition_index, partition_size FROM pending_partitions "
                            "WHERE agency_code = ? ORDER BY partition_index", (agency,))]
    retired = [_retired(r) for r in tx.all(f"SELECT {_RETIRED_COLS} FROM retired_partitions WHERE agency_code = ? "
                                           "ORDER BY retired_at", (agency,))]
    out += [r for r in retired if include_free or still_reserved(r, now)]
    return out


Ignore = Callable[[Reservation], bool]


def _never(_: Reservation) -> bool:
    return False


def _summary(agency: str, held: list[Reservation]) -> str:
    counts = {k: sum(1 for r in held if r.kind == k) for k in ("station", "pending", "retired")}
    return (f"{len(held)} partitions in use ({counts['station']} stations, "
            f"{counts['pending']} pending replacements, {counts['retired']} retired and still reserved)")


def check_free(tx, agency: str, index: int, size: int, *, now: int, ignore: Ignore = _never,
               station_id: str | None = None) -> None:
    """Raise HubError naming the holder if ``index × size`` is taken in ``agency``."""
    if not partition_fits(index, size):
        raise HubError(f"code partition {index} × {size} does not fit in 0001–{MAX_NUMBER} "
                       f"((index + 1) × size must be ≤ {MAX_NUMBER})")
    for r in reservations(tx, agency, now=now):
        if ignore(r):
            continue
        same_index = r.kind == "station" and r.partition_index == index and r.station_id != station_id
        if same_index or r.overlaps(index, size):
            raise HubError(f"code partition {index} × {size} of agency {agency} overlaps {r.describe()}")


def free_index(tx, agency: str, size: int, *, now: int, ignore: Ignore = _never) -> int:
    """The lowest index whose range is free in ``agency`` (clear error when none is left)."""
    if not partition_fits(0, size):
        raise HubError(f"partition size must be 1–{MAX_NUMBER}, not {size}")
    held = [r for r in reservations(tx, agency, now=now) if not ignore(r)]
    station_indexes = {r.partition_index for r in held if r.kind == "station"}
    index = 0
    while partition_fits(index, size):
        if index not in station_indexes and not any(r.overlaps(index, size) for r in held):
            return index
        index += 1
    raise HubError(f"agency {agency} has no free code partition of {size} numbers: {_summary(agency, held)}. "
                   "Release a retired partition whose box is gone (motcua hub release-partition), or give the "
                   "boxes smaller partitions (motcua hub set-partition … --size)")


def check_code(tx, st: Any, *, key_id: str | None, code: str, number: int, day: dt.date) -> None:
    """A new dossier's code must lie in a range the sending box holds, or held, on the code's date.

    ``st`` is the station (its current partition is its current box's); ``key_id`` the sending
    box's key (None: the current box). The current box may use its current partition and the ranges
    it moved away from (``hub set-partition``) until the day it stopped using them; a replaced box
    its own ranges, for codes dated no later than its replacement (Vietnam time). Raises ApiError
    ``code_out_of_partition`` or ``code_after_retirement`` (403, not retryable).
    """
    current = key_id is None or key_id == st.key_id
    rows = tx.all(f"SELECT {_RETIRED_COLS} FROM retired_partitions WHERE station_id = ? AND agency_code = ?",
                  (st.station_id, st.agency_code))
    ranges = [_retired(r) for r in rows]
    if current:
        # Ranges moved away from before any box enrolled (no key) were the first box's to stop.
        mine = [r for r in ranges if r.key_id == st.key_id or r.key_id is None]
        if in_partition(number, st.partition_index, st.partition_size):
            return
        held = [f"{_span(st.partition_index, st.partition_size)} (current)"]
    else:
        mine = [r for r in ranges if r.key_id == key_id]
        replaced = [r.retired_at for r in mine if r.reason == "replaced" and r.retired_at is not None]
        if replaced and day > vn_date_of(max(replaced)):
            raise ApiError(403, "code_after_retirement", f"code {code} is dated {day.isoformat()}, after this box "
                           f"was replaced on {vn_date_of(max(replaced)).isoformat()} (Vietnam time): a replaced "
                           "box may upload only the dossiers it numbered before")
        held = []
    for r in mine:
        last_day = last_day_of(r)
        if in_partition(number, r.partition_index, r.partition_size) and (last_day is None or day <= last_day):
            return
        held.append(_span(r.partition_index, r.partition_size)
                    + (f" (until {last_day.isoformat()})" if last_day is not None else ""))
    raise ApiError(403, "code_out_of_partition", f"code {code}: number {number:04d} dated {day.isoformat()} is "
                   f"not in a range this box holds on that day ({', '.join(held) or 'none'})")


def last_day_of(r: Reservation) -> dt.date | None:
    """The last date (Vietnam time) a retired range may carry codes of its box (None: no limit yet)."""
    days = []
    if r.stopped_at is not None:
        days.append(vn_date_of(r.stopped_at))
    if r.released_at is not None:
        days.append(vn_date_of(r.released_at) - dt.timedelta(days=1))
    return min(days) if days else None


def _span(index: int, size: int) -> str:
    first, last = number_range(index, size)
    return f"partition {index} ({first:04d}–{last:04d})"


def pending(tx, station_id: str) -> tuple[int, int] | None:
    row = tx.one("SELECT partition_index, partition_size FROM pending_partitions WHERE station_id = ?", (station_id,))
    return (int(row[0]), int(row[1])) if row else None


def set_pending(tx, station_id: str, agency: str, index: int, size: int, *, now: int) -> None:
    tx.run("DELETE FROM pending_partitions WHERE station_id = ?", (station_id,))
    tx.run("INSERT INTO pending_partitions (station_id, agency_code, partition_index, partition_size, created_at) "
           "VALUES (?, ?, ?, ?, ?)", (station_id, agency, index, size, now))


def drop_pending(tx, station_id: str) -> None:
    tx.run("DELETE FROM pending_partitions WHERE station_id = ?", (station_id,))


def retire(tx, *, station_id: str, agency: str, index: int, size: int, key_id: str | None, public_key: bytes | None,
           reason: str, now: int, notice_seq: int | None = None, stopped_at: int | None = None,
           released_at: int | None = None, wipe_command: str | None = None) -> None:
    tx.run(f"INSERT INTO retired_partitions ({_RETIRED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
           (station_id, agency, index, size, key_id,
            base64.b64encode(public_key).decode() if public_key else None, reason, now, notice_seq, stopped_at,
            released_at, None, wipe_command))


def acknowledge(tx, station_id: str, key_id: str | None, *, since: int, now: int) -> int:
    """The box read its feed past the notices of these retirements: it stopped using those ranges."""
    if key_id is None:
        return 0
    return tx.run("UPDATE retired_partitions SET stopped_at = ? WHERE station_id = ? AND key_id = ? "
                  "AND stopped_at IS NULL AND notice_seq IS NOT NULL AND notice_seq <= ?",
                  (now, station_id, key_id, since))


def retired_boxes(tx, station_id: str) -> list[RetiredBox]:
    import json

    rows = tx.all("SELECT key_id, public_key, partition_index, partition_size, wipe_command, retired_at "
                  "FROM retired_partitions "
                  "WHERE station_id = ? AND public_key IS NOT NULL ORDER BY retired_at DESC", (station_id,))
    return [RetiredBox(station_id=station_id, key_id=r[0], public_key=base64.b64decode(r[1]), partition_index=r[2],
                       partition_size=r[3], retired_at=r[5], wipe_command=json.loads(r[4]) if r[4] else None)
            for r in rows]


def pseudo_station(station_id: str, key_id: str) -> str:
    """Feed address of one retired box (``#`` never occurs in a station id)."""
    return f"{station_id}#{key_id}"


def set_floor(tx, station_id: str, floor: int) -> None:
    tx.run("INSERT INTO feed_floors (station_id, floor) VALUES (?, ?) "
           "ON CONFLICT (station_id) DO UPDATE SET floor = excluded.floor", (station_id, floor))


def floor(tx, station_id: str) -> int:
    row = tx.one("SELECT floor FROM feed_floors WHERE station_id = ?", (station_id,))
    return int(row[0]) if row else 0
