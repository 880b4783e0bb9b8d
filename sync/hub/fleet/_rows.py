"""One row per box, as IT sees it: its state, its problems in Vietnamese, and the figures behind them.

Computed from the station records (their last heartbeat) at the time of the request; the metrics
(`/metrics`) and the fleet page read the same rows, so a box the page calls silent is the one the
alert names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..storage import StationRecord

# Thresholds shared by the page; the alerting rules (deploy/prometheus/) use the same numbers.
SILENT_AFTER_S = 24 * 3600        # no contact for a day: silent
LATE_AFTER_S = 2 * 3600           # no contact for two hours: late (a warning)
BACKLOG_OLD_S = 24 * 3600         # a dossier waiting longer than this to reach the city
DISK_LOW_RATIO = 0.10             # less than 10 % free
CLOCK_OFFSET_S = 300              # box clock more than 5 minutes off the hub's

STATE_VI = {"healthy": "Bình thường", "warning": "Cần chú ý", "silent": "Mất liên lạc",
            "pending": "Chưa kết nối", "revoked": "Đã thu hồi"}
KIND_VI = {"branch": "Chi nhánh", "commune": "Xã/phường", "mobile": "Lưu động", "popup": "Điểm tạm"}
DEVICE_VI = {"scanner": "máy quét", "qr_scanner": "đầu đọc QR", "card_reader": "đầu đọc thẻ", "printer": "máy in"}
DEVICE_BAD = frozenset({"error"})
# The box's offline guardrails (heartbeat ``warnings``; sync/client/_guardrails.py), as IT reads them.
WARNING_VI = {"catalog_stale": "danh mục thủ tục chưa cập nhật",
              "holidays_stale": "bảng ngày nghỉ lễ chưa cập nhật",
              "clerks_stale": "danh sách cán bộ chưa cập nhật",
              "unsynced_old": "hồ sơ chưa đồng bộ quá lâu — nên chuyển bằng thẻ nhớ",
              "disk_forecast": "ổ đĩa sắp đầy theo dự báo"}
# A code the hub does not know yet (a newer box) is still shown and exported, if it looks like one.
_WARNING_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ORDER = {"silent": 0, "warning": 1, "pending": 2, "healthy": 3, "revoked": 4}


def version_key(version: str) -> tuple:
    """Dotted versions compare by their numbers (0.10.0 after 0.9.2); text parts after them."""
    parts = re.split(r"[.+-]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def duration_vi(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 120:
        return f"{s} giây"
    if s < 7200:
        return f"{s // 60} phút"
    if s < 3 * 86400:
        return f"{s // 3600} giờ"
    return f"{s // 86400} ngày"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True, kw_only=True)
class FleetRow:
    station_id: str
    name: str
    agency_code: str
    kind: str
    state: str = "healthy"
    last_seen_at: int | None = None
    contact_age_s: float | None = None
    pending: int | None = None
    oldest_unsynced_age_s: int | None = None
    disk_free_bytes: int | None = None
    disk_total_bytes: int | None = None
    clock_offset_ms: int | None = None
    version: str = ""
    devices: dict[str, str] = field(default_factory=dict)
    sync_errors: dict[str, int] = field(default_factory=dict)
    behind: bool = False
    problems: list[str] = field(default_factory=list)
    revoked_at: int | None = None
    enrolled: bool = False
    update_failed: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def state_vi(self) -> str:
        return STATE_VI[self.state]

    @property
    def kind_vi(self) -> str:
        return KIND_VI.get(self.kind, self.kind)

    @property
    def disk_free_ratio(self) -> float | None:
        if self.disk_free_bytes is None or not self.disk_total_bytes:
            return None
        return self.disk_free_bytes / self.disk_total_bytes

    @property
    def warnings_vi(self) -> list[str]:
        return [WARNING_VI.get(c, f"cảnh báo {c}") for c in self.warnings]

    @property
    def device_problem(self) -> bool:
        return any(v in DEVICE_BAD for v in self.devices.values())


def fleet_rows(stations: Iterable[StationRecord], *, now_ms: int) -> list[FleetRow]:
    """Every box's row, worst first; ``behind`` against the newest version any active box reports."""
    rows = [_row(st, now_ms) for st in stations]
    versions = [r.version for r in rows if r.version and r.state != "revoked"]
    newest = max(versions, key=version_key) if versions else None
    for r in rows:
        if r.state == "revoked":
            continue  # a revoked box is not updated any more: never "behind"
        if newest is not None and r.version and version_key(r.version) < version_key(newest):
            r.behind = True
            r.problems.append(f"phiên bản {r.version} cũ hơn {newest}")
            if r.state == "healthy":
                r.state = "warning"
    rows.sort(key=lambda r: (_ORDER[r.state], r.agency_code, r.station_id))
    return rows


def mark_update_failures(rows: Iterable[FleetRow], updates: Iterable[dict[str, Any]]) -> None:
    """Flag the boxes whose last update report (``station_updates``) is a failure or a rollback."""
    failed = {u["station_id"]: u for u in updates if u.get("update_failed")}
    for r in rows:
        u = failed.get(r.station_id)
        if u is None or r.state == "revoked":
            continue
        r.update_failed = True
        running = f", đang chạy {u['running_version']}" if u.get("running_version") else ""
        r.problems.append(f"cập nhật {u['version']} lỗi{running}")
        if r.state == "healthy":
            r.state = "warning"


def newest_version(rows: Iterable[FleetRow]) -> str | None:
    versions = [r.version for r in rows if r.version and r.state != "revoked"]
    return max(versions, key=version_key) if versions else None


def warning_codes(value: Any) -> list[str]:
    """The heartbeat's ``warnings``: known-shaped codes, each once, in the box's order."""
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for code in value:
        if isinstance(code, str) and _WARNING_CODE.fullmatch(code) and code not in out:
            out.append(code)
    return out


def _row(st: StationRecord, now_ms: int) -> FleetRow:
    beat = st.last_heartbeat or {}
    versions = beat.get("versions") if isinstance(beat.get("versions"), dict) else {}
    devices = beat.get("devices") if isinstance(beat.get("devices"), dict) else {}
    errors = beat.get("sync_errors") if isinstance(beat.get("sync_errors"), dict) else {}
    row = FleetRow(station_id=st.station_id, name=st.name, agency_code=st.agency_code, kind=st.kind,
                   last_seen_at=st.last_seen_at, revoked_at=st.revoked_at, enrolled=st.public_key is not None,
                   pending=_int(beat.get("pending")), oldest_unsynced_age_s=_int(beat.get("oldest_unsynced_age_s")),
                   disk_free_bytes=_int(beat.get("disk_free_bytes")), disk_total_bytes=_int(beat.get("disk_total_bytes")),
                   clock_offset_ms=_int(beat.get("clock_offset_ms")), version=str(versions.get("motcua", "")),
                   devices={str(k): str(v) for k, v in devices.items()},
                   sync_errors={str(k): v for k, v in errors.items() if _int(v) is not None},
                   warnings=warning_codes(beat.get("warnings")))
    if st.last_seen_at is not None:
        row.contact_age_s = max(0.0, (now_ms - st.last_seen_at) / 1000)
    if st.revoked_at is not None:
        row.state = "revoked"
        row.warnings = []  # a revoked box is watched no more: nothing to warn IT about
        return row
    if st.last_seen_at is None:
        row.state = "pending"
        row.problems.append("chưa kết nối lần nào" if row.enrolled else "chưa đăng ký")
        return row
    p = row.problems
    assert row.contact_age_s is not None
    if row.contact_age_s > SILENT_AFTER_S:
        row.state = "silent"
        p.append(f"mất liên lạc {duration_vi(row.contact_age_s)}")
    elif row.contact_age_s > LATE_AFTER_S:
        p.append(f"chưa liên lạc {duration_vi(row.contact_age_s)}")
    if row.oldest_unsynced_age_s is not None and row.oldest_unsynced_age_s > BACKLOG_OLD_S:
        p.append(f"{row.pending or 0} hồ sơ chờ gửi, cũ nhất {duration_vi(row.oldest_unsynced_age_s)}")
    ratio = row.disk_free_ratio
    if ratio is not None and ratio < DISK_LOW_RATIO:
        p.append(f"ổ đĩa còn {ratio:.0%}")
    if row.clock_offset_ms is not None and abs(row.clock_offset_ms) > CLOCK_OFFSET_S * 1000:
        p.append(f"đồng hồ lệch {duration_vi(abs(row.clock_offset_ms) / 1000)}")
    for kind, status in sorted(row.devices.items()):
        if status in DEVICE_BAD:
            p.append(f"{DEVICE_VI.get(kind, kind)} lỗi")
    p.extend(row.warnings_vi)
    if p and row.state == "healthy":
        row.state = "warning"
    return row
