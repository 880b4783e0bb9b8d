"""Offline guardrails: what a box offline for long should tell its clerks (and the city, through
the heartbeat), by the site's policy (``[guardrails]``).

Master data (catalog, holiday table, clerk list) is as fresh as the last feed pull that read the
feed to its head: then the box held everything the city had published. The disk forecast divides
the free space by this week's pace (bytes of pages stored in the last seven days); a scan is
refused only when the pages it would store could not fit above the reserve, never for a forecast.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass

from edge.outbox import Outbox, parse_iso

#: meta key: time (RFC 3339) of the last pull that read the feed up to its head.
META_FEED_CURRENT = "sync.feed_current_at"
WEEK_S = 7 * 86400

_MASTER = (
    ("catalog_stale", "catalog_max_age_days", "Danh mục thủ tục"),
    ("holidays_stale", "holidays_max_age_days", "Bảng ngày nghỉ lễ"),
    ("clerks_stale", "clerks_max_age_days", "Danh sách cán bộ"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Warning:
    code: str
    message_vi: str
    days: float | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message_vi": self.message_vi, "days": self.days}


def _days(seconds: float) -> int:
    return max(0, int(seconds // 86400))


def week_pace_bytes(store, now: float) -> int:
    """Bytes of pages stored in the last seven days (this week's pace)."""
    since = dt.datetime.fromtimestamp(now - WEEK_S, dt.UTC).isoformat()
    rows = store.query("SELECT COALESCE(SUM(size), 0) AS n, COUNT(*) AS c FROM pages WHERE created_at >= ?", (since,))
    return int(rows[0]["n"])


def average_page_bytes(store, now: float, default: int) -> int:
    since = dt.datetime.fromtimestamp(now - WEEK_S, dt.UTC).isoformat()
    rows = store.query("SELECT AVG(size) AS a FROM pages WHERE created_at >= ?", (since,))
    value = rows[0]["a"]
    return int(value) if value else default


def free_bytes(store) -> int | None:
    try:
        return shutil.disk_usage(store.root).free
    except OSError:
        return None


def disk_days_left(store, now: float) -> float | None:
    """Days of room at this week's pace (None: no pages this week, or the disk is unknown)."""
    free, pace = free_bytes(store), week_pace_bytes(store, now)
    if free is None or pace <= 0:
        return None
    return free / (pace / 7)


def warnings(store, policy, *, now: float) -> list[Warning]:
    """The site's guardrail warnings now, in plain Vietnamese."""
    out: list[Warning] = []
    fresh = parse_iso(store.meta_get(META_FEED_CURRENT)) or parse_iso(store.meta_get("sync.enrolled_at"))
    if fresh is not None:
        age = now - fresh
        for code, key, what in _MASTER:
            limit = getattr(policy, key)
            if age > limit * 86400:
                out.append(Warning(code=code, days=_days(age), message_vi=(
                    f"{what} chưa được cập nhật từ thành phố {_days(age)} ngày (quá {limit} ngày): có thể đã cũ; "
                    "hãy kết nối mạng cho trạm khi có thể.")))
    oldest = parse_iso(Outbox(store).oldest_unsynced_created())
    if oldest is not None and now - oldest > policy.unsynced_max_age_days * 86400:
        out.append(Warning(code="unsynced_old", days=_days(now - oldest), message_vi=(
            f"Có hồ sơ chưa gửi lên thành phố đã {_days(now - oldest)} ngày: nên chuyển hồ sơ bằng thẻ nhớ "
            "(nút “Ghi thẻ nhớ” ở trang Đồng bộ) qua một điểm có mạng.")))
    left = disk_days_left(store, now)
    if left is not None and left < policy.disk_warn_days:
        out.append(Warning(code="disk_forecast", days=round(left, 1), message_vi=(
            f"Ổ đĩa còn chỗ cho khoảng {int(left)} ngày nữa theo tốc độ tuần này.")))
    return out


class NoRoomError(Exception):
    """The store could not hold the pages of this scan."""

    def __init__(self, message: str, *, message_vi: str) -> None:
        super().__init__(message)
        self.message_vi = message_vi


def check_room_for_scan(store, policy, *, pages: int, now: float) -> None:
    """Refuse a scan only when its pages could not fit above the reserve (raises NoRoomError)."""
    free = free_bytes(store)
    if free is None:
        return
    need = max(1, pages) * average_page_bytes(store, now, policy.default_page_kb * 1024)
    room = free - policy.scan_reserve_mb * 1024 * 1024
    if need > room:
        raise NoRoomError(f"{pages} page(s) need about {need} bytes; {max(0, room)} bytes free above the reserve",
                          message_vi=(f"Ổ đĩa của trạm không còn đủ chỗ cho {pages} trang này (còn khoảng "
                                      f"{max(0, room) // (1024 * 1024)} MB trên mức dự phòng). Hãy chuyển hồ sơ đã "
                                      "có lên thành phố (mạng hoặc thẻ nhớ) để trạm giải phóng chỗ."))
