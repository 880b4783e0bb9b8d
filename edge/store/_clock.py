"""Time on a box without a real-time clock.

Ordering never relies on the wall clock alone: every dossier gets a persisted local counter and
a hybrid logical clock (HLC) stamp. The hub's time offset, learned from every hub response, is
kept in the store; local times taken before any anchor are flagged.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def format_hlc(wall_ms: int, logical: int) -> str:
    return f"{wall_ms:015d}.{logical:06d}"


def parse_hlc(text: str) -> tuple[int, int]:
    wall, _, logical = text.partition(".")
    return int(wall), int(logical or 0)


OFFSET_KEY = "clock.offset_ms"
ANCHORED_KEY = "clock.anchored"


class Clock:
    """Corrected time, counter and HLC, persisted through the store's meta table.

    ``wall`` returns seconds since the epoch and is the single place the OS clock is read, so
    tests (and a box whose clock is off by days) can replace it.
    """

    def __init__(self, meta_get: Callable[[str], str | None], meta_set: Callable[[str, str], None],
                 wall: Callable[[], float] = time.time) -> None:
        self._get = meta_get
        self._set = meta_set
        self.wall = wall

    @property
    def offset_ms(self) -> int:
        return int(self._get(OFFSET_KEY) or 0)

    @property
    def anchored(self) -> bool:
        return self._get(ANCHORED_KEY) == "1"

    def observe_server_time(self, server_epoch_s: float) -> int:
        """Record the hub's time (from a response); returns the new offset in ms."""
        offset = round((server_epoch_s - self.wall()) * 1000)
        self._set(OFFSET_KEY, str(offset))
        self._set(ANCHORED_KEY, "1")
        return offset

    @staticmethod
    def save_offset(conn, offset_ms: int) -> None:
        """Record an offset measured elsewhere (the sync client's round-trip estimate) inside the
        caller's write: the clock is the one writer of its keys."""
        for key, value in ((OFFSET_KEY, str(int(offset_ms))), (ANCHORED_KEY, "1")):
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def now_s(self) -> float:
        return self.wall() + self.offset_ms / 1000

    def now(self) -> dt.datetime:
        """Corrected current time in Vietnam's zone."""
        return dt.datetime.fromtimestamp(self.now_s(), VN_TZ)

    def next_counter(self) -> int:
        value = int(self._get("clock.counter") or 0) + 1
        self._set("clock.counter", str(value))
        return value

    def next_hlc(self, remote: str | None = None) -> str:
        """Advance the HLC (send/local event, or receive when ``remote`` is given)."""
        last_wall, last_logical = parse_hlc(self._get("clock.hlc") or format_hlc(0, 0))
        now_ms = int(self.now_s() * 1000)
        candidates = [last_wall, now_ms]
        r_wall, r_logical = parse_hlc(remote) if remote else (0, 0)
        candidates.append(r_wall)
        wall = max(candidates)
        if wall == last_wall == r_wall:
            logical = max(last_logical, r_logical) + 1
        elif wall == last_wall:
            logical = last_logical + 1
        elif wall == r_wall:
            logical = r_logical + 1
        else:
            logical = 0
        stamp = format_hlc(wall, logical)
        self._set("clock.hlc", stamp)
        return stamp
