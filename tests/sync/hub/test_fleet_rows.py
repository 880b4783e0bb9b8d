"""The fleet's rows: states, problems in Vietnamese and versions, from station records."""

from __future__ import annotations

import dataclasses

from sync.hub.fleet._rows import duration_vi, fleet_rows, version_key
from sync.hub.storage import StationRecord

NOW = 1_800_000_000_000
BASE = StationRecord(station_id="a", agency_code="000.00.06.H56", name="", kind="branch", address="",
                     partition_index=0, partition_size=10, public_key=b"k" * 32, key_id="k", enrolled_at=1,
                     revoked_at=None, revoke_reason="", wipe_command=None, token_expires_at=None,
                     token_pending=False, last_seen_at=NOW - 1000, last_heartbeat=None, created_at=1)


def station(sid: str, **over) -> StationRecord:
    over.setdefault("last_heartbeat", {"pending": 0, "versions": {"motcua": "0.2.0"}, **over.pop("beat", {})})
    return dataclasses.replace(BASE, station_id=sid, **over)


def test_versions_compare_by_their_numbers():
    assert version_key("0.10.0") > version_key("0.9.2") > version_key("0.9")
    assert sorted(["1.0.0", "0.10.1", "0.2.0"], key=version_key) == ["0.2.0", "0.10.1", "1.0.0"]


def test_states_and_problems():
    rows = {r.station_id: r for r in fleet_rows([
        station("ok"),
        station("late", last_seen_at=NOW - 3 * 3600_000),
        station("silent", last_seen_at=NOW - 25 * 3600_000),
        station("never", last_seen_at=None, last_heartbeat=None),
        station("gone", revoked_at=NOW - 5),
        station("clock", beat={"clock_offset_ms": -301_000}),
        station("backlog", beat={"pending": 3, "oldest_unsynced_age_s": 90_000}),
        station("old", beat={"versions": {"motcua": "0.1.9"}}),
        station("new", beat={"versions": {"motcua": "0.10.0"}}),
    ], now_ms=NOW)}
    assert rows["ok"].state == "warning" and rows["ok"].behind  # 0.2.0 is older than 0.10.0
    assert rows["new"].state == "healthy" and rows["new"].problems == []
    assert rows["late"].problems[0] == "chưa liên lạc 3 giờ" and rows["late"].state == "warning"
    assert rows["silent"].state == "silent" and rows["silent"].problems[0] == "mất liên lạc 25 giờ"
    assert rows["never"].state == "pending" and rows["never"].problems == ["chưa kết nối lần nào"]
    assert rows["gone"].state == "revoked" and not rows["gone"].behind
    assert "đồng hồ lệch 5 phút" in rows["clock"].problems
    assert "3 hồ sơ chờ gửi, cũ nhất 25 giờ" in rows["backlog"].problems
    order = [r.state for r in fleet_rows([station("g", revoked_at=1), station("x"),
                                          station("s", last_seen_at=NOW - 25 * 3600_000)], now_ms=NOW)]
    assert order == ["silent", "healthy", "revoked"]


def test_durations_read_naturally():
    assert [duration_vi(s) for s in (5, 600, 7200, 86400 * 5)] == ["5 giây", "10 phút", "2 giờ", "5 ngày"]


def test_guardrail_warnings_are_problems_in_vietnamese():
    rows = {r.station_id: r for r in fleet_rows([
        station("ok"),
        station("stale", beat={"warnings": ["catalog_stale", "unsynced_old", "catalog_stale"]}),
        station("filling", beat={"warnings": ["disk_forecast"]}),
        station("newer", beat={"warnings": ["battery_low", "Not A Code!"]}),
        station("gone", revoked_at=NOW - 5, beat={"warnings": ["disk_forecast"]}),
    ], now_ms=NOW)}
    assert rows["ok"].state == "healthy" and rows["ok"].warnings == []
    assert rows["stale"].state == "warning" and rows["stale"].warnings == ["catalog_stale", "unsynced_old"]
    assert rows["stale"].problems == ["danh mục thủ tục chưa cập nhật",
                                      "hồ sơ chưa đồng bộ quá lâu — nên chuyển bằng thẻ nhớ"]
    assert rows["filling"].problems == ["ổ đĩa sắp đầy theo dự báo"]
    # a code from a newer box is still shown; text that is not a code is dropped
    assert rows["newer"].warnings == ["battery_low"] and rows["newer"].problems == ["cảnh báo battery_low"]
    assert rows["gone"].state == "revoked" and rows["gone"].problems == [] and rows["gone"].warnings == []
