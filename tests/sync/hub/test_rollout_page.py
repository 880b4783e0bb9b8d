"""The fleet page's rollout view over real HTTP (both storage backends): start a rollout with the
CLI's validation (Vietnamese messages, nothing written on a bad value), follow it wave by wave as
enrolled boxes report through the real, signed ``POST /v1/update-report``, see it halt itself with
the failed boxes linked, abort it with a typed confirmation; every action behind the login, the
CSRF token and the same-origin check, and audited."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from hubclient import Station
from test_fleet_page import add_admin, csrf, login, session, stations_in

from sync.hub._rollout import rollout_status, station_updates

N = 9  # partitions of 1000 numbers
OTHER = "000.00.07.H56"


@pytest.fixture
def rollout_hub(hub):
    stations = {}
    for i in range(N):
        sid = f"HN-{i:04d}"
        st = Station(hub.url, sid)
        other = i == N - 1  # one box of another agency
        token = hub.add_station(sid, partition_index=0 if other else i, **({"agency": OTHER} if other else {}))
        assert st.enroll(token).status == 200
        assert st.heartbeat(versions={"motcua": "0.1.0"}).status == 200
        stations[sid] = st
    add_admin(hub.storage)
    return hub, stations


def report(st: Station, rollout_id: str, outcome: str, *, version: str = "0.3.0", running: str | None = None):
    reply = st.json_call("POST", "/v1/update-report", {
        "rollout_id": rollout_id, "version": version, "outcome": outcome,
        "running_version": running or (version if outcome == "installed" else "0.1.0"),
        "detail": "" if outcome == "installed" else "motcua-edge.service did not send READY"})
    assert reply.status == 200, reply.body
    return reply.json


def text_of(page: str) -> str:
    """The page's text, tags dropped and entities decoded (what a reader sees, roughly)."""
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", page)))


def wave_cells(page: str, wave: int) -> dict[str, int]:
    row = re.search(rf'<tr data-wave="{wave}".*?</tr>', page, re.S).group(0)
    return {k: int(v) for k, v in re.findall(r'data-col="([a-z_]+)">(\d+)<', row)}


BAD_STARTS = [
    ({"version": ""}, "Cần ghi phiên bản cần triển khai"),
    ({"version": "0.3.0;rm -rf"}, "“0.3.0;rm -rf” không phải số phiên bản của gói"),
    ({"waves": "1,10"}, "Các đợt “1,10”: đợt cuối phải là 100 (mọi trạm)."),
    ({"waves": "a,100"}, "Các đợt “a,100”: ghi phần trăm số trạm của từng đợt"),
    ({"waves": "10,5,100"}, "Các đợt “10,5,100”: phần trăm phải tăng dần"),
    ({"waves": "50,50,100"}, "phần trăm phải tăng dần (không lặp lại)"),
    ({"waves": "0,100"}, "mỗi số từ 1 đến 100"),
    ({"waves": ""}, "Các đợt “”: ghi phần trăm"),
    ({"kind": "spaceship"}, "Loại điểm phải là một trong: Chi nhánh, Xã/phường, Lưu động, Điểm tạm."),
    ({"threshold": "150"}, "Ngưỡng lỗi “150”: ghi một số phần trăm từ 0 đến 100."),
    ({"threshold": "mười"}, "Ngưỡng lỗi “mười”"),
    ({"canaries": "HN-0404"}, "Trạm thử trước HN-0404: không phải trạm đã đăng ký"),
    ({"canaries": "<script>"}, "Mã trạm thử trước “<script>” không hợp lệ."),
    ({"agency": "000.00.06.H99"}, "Không có trạm nào đã đăng ký và chưa thu hồi khớp phạm vi này"),
    ({"kind": "mobile"}, "Không có trạm nào đã đăng ký"),  # all nine are branches
    ({"agency": "000.00.09.H56", "canaries": ""}, "Không có trạm nào đã đăng ký"),
    ({"kind": "branch", "agency": "000.00.06.H56", "canaries": "HN-0008"}, "Trạm thử trước HN-0008: không phải"),
]


async def test_a_bad_start_gets_a_precise_message_and_writes_nothing(rollout_hub):
    hub, _ = rollout_hub
    async with session() as s:
        await login(s, hub.url)
        page = await (await s.get(f"{hub.url}/fleet/rollout")).text()
        assert "Chưa có đợt triển khai nào" in page and "9 trạm đã đăng ký, chưa thu hồi" in page
        token = csrf(page)
        good = {"version": "0.3.0", "waves": "10,50,100", "canaries": "HN-0003", "agency": "", "kind": "",
                "threshold": "25"}
        for change, message in BAD_STARTS:
            r = await s.post(f"{hub.url}/fleet/rollout/start", data={**good, **change, "csrf_token": token})
            body = await r.text()
            assert r.status == 400, (change, body)
            assert message in text_of(body), (change, text_of(body))
            # the form keeps what IT typed, escaped
            assert 'value="' + htmllib.escape({**good, **change}["waves"]) + '"' in body
            assert "<script>" not in body
        assert rollout_status(hub.storage) is None
        feed, _ = hub.storage.feed(hub.storage.get_station("HN-0003"), since=0, limit=100)
        assert [row for row in feed if row.data.get("command", {}).get("kind") == "update"] == []
        assert [a for a in hub.storage.admin_audit_entries() if a[2].startswith("rollout.")] == []


async def test_start_needs_the_login_the_csrf_token_and_the_same_origin(rollout_hub):
    hub, _ = rollout_hub
    form = {"version": "0.3.0", "waves": "100"}
    async with session() as s:
        r = await s.post(f"{hub.url}/fleet/rollout/start", data=form, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/fleet/login")
        r = await s.get(f"{hub.url}/fleet/rollout", allow_redirects=False)
        assert r.status == 303
        await login(s, hub.url)
        token = csrf(await (await s.get(f"{hub.url}/fleet/rollout")).text())
        r = await s.post(f"{hub.url}/fleet/rollout/start", data=form)
        assert r.status == 403 and "mã chống giả mạo" in await r.text()
        r = await s.post(f"{hub.url}/fleet/rollout/start", data={**form, "csrf_token": token},
                         headers={"Origin": "http://evil.example"})
        assert r.status == 403
        assert rollout_status(hub.storage) is None
        r = await s.post(f"{hub.url}/fleet/rollout/start", data={**form, "csrf_token": token},
                         headers={"Origin": hub.url})
        assert r.status == 200 and "Đã bắt đầu triển khai phiên bản 0.3.0 cho 9 trạm" in text_of(await r.text())
        rid = rollout_status(hub.storage)["rollout_id"]
        r = await s.post(f"{hub.url}/fleet/rollout/{rid}/abort", data={"confirm": rid})
        assert r.status == 403 and rollout_status(hub.storage)["state"] == "running"


async def test_a_bad_wave_halts_itself_and_the_page_shows_it(rollout_hub):
    hub, stations = rollout_hub
    async with session() as s:
        await login(s, hub.url)
        token = csrf(await (await s.get(f"{hub.url}/fleet/rollout")).text())
        start = {"version": "0.3.0", "waves": "10,50,100", "canaries": "HN-0003", "threshold": "25",
                 "agency": "", "kind": "", "csrf_token": token}
        r = await s.post(f"{hub.url}/fleet/rollout/start", data=start)
        page = await r.text()
        assert r.status == 200, page
        status = rollout_status(hub.storage)
        rid = status["rollout_id"]
        assert f'data-rollout="{rid}"' in page and 'data-rollout-state="running"' in page
        assert wave_cells(page, 1) == {"boxes": 1, "sent": 1, "installed": 0, "rolled_back": 0, "failed": 0, "waiting": 0}
        assert wave_cells(page, 2)["waiting"] == 4 and wave_cells(page, 3)["waiting"] == 4
        assert "Bắt đầu triển khai phiên bản mới" not in page  # one rollout at a time
        again = await s.post(f"{hub.url}/fleet/rollout/start", data={**start, "version": "0.3.1"})
        assert again.status == 400 and f"Đợt triển khai {rid} (phiên bản 0.3.0) vẫn đang chạy" in await again.text()

        # the canary installs: wave 2 is sent; two of its four boxes roll back (50 % > 25 %): halted
        assert report(stations["HN-0003"], rid, "installed")["rollout"]["state"] == "running"
        page = await (await s.get(f"{hub.url}/fleet/rollout")).text()
        assert wave_cells(page, 1)["installed"] == 1 and wave_cells(page, 2)["sent"] == 4
        second = _wave_members(hub, rid, 1)
        assert report(stations[second[0]], rid, "rolled_back")["rollout"]["state"] == "running"  # 25 %: not over
        assert report(stations[second[1]], rid, "rolled_back")["rollout"]["state"] == "halted"
        page = await (await s.get(f"{hub.url}/fleet/rollout")).text()
        shown = text_of(page)
        assert 'data-rollout-state="halted"' in page and "Đã tự dừng" in shown
        assert "Tự dừng ở đợt 2 khi 2 trên 4 trạm của đợt đã báo cập nhật lỗi (vượt ngưỡng 25 %)" in shown
        assert re.search(r'<tr data-wave="2"[^>]*data-halted', page)
        assert wave_cells(page, 2) == {"boxes": 4, "sent": 2, "installed": 0, "rolled_back": 2, "failed": 0, "waiting": 0}
        assert wave_cells(page, 3) == {"boxes": 4, "sent": 0, "installed": 0, "rolled_back": 0, "failed": 0, "waiting": 4}
        linked = re.findall(r'href="/fleet/stations/([^"]+)" data-failed-station', page)
        assert sorted(linked) == sorted(second[:2])

        # the failed box's page: its last report, running the old version again
        box = await (await s.get(f"{hub.url}/fleet/stations/{second[0]}")).text()
        assert 'data-outcome="rolled_back"' in box and "Lỗi, đã quay về phiên bản cũ" in box
        assert re.search(r'id="update-running">0\.1\.0<', box) and re.search(r'id="update-version">0\.3\.0<', box)
        assert "cập nhật 0.3.0 lỗi, đang chạy 0.1.0" in box
        canary = await (await s.get(f"{hub.url}/fleet/stations/HN-0003")).text()
        assert 'data-outcome="installed"' in canary
        quiet = await (await s.get(f"{hub.url}/fleet/stations/{_wave_members(hub, rid, 2)[0]}")).text()
        assert "Trạm chưa báo lần cập nhật nào" in quiet
        # the list: "cập nhật lỗi" finds exactly those two
        listed = await (await s.get(f"{hub.url}/fleet/?update=1")).text()
        assert sorted(stations_in(listed)) == sorted(second[:2]) and "Cập nhật lỗi: 2" in listed
        assert {u["station_id"] for u in station_updates(hub.storage) if u["update_failed"]} == set(second[:2])

        # abort: the typed confirmation must be the rollout's id or its version
        token = csrf(page)
        r = await s.post(f"{hub.url}/fleet/rollout/{rid}/abort", data={"confirm": "0.3", "csrf_token": token})
        assert r.status == 400 and "Gõ đúng mã đợt triển khai hoặc số phiên bản" in await r.text()
        assert rollout_status(hub.storage)["state"] == "halted"
        r = await s.post(f"{hub.url}/fleet/rollout/{rid}/abort",
                         data={"confirm": "0.3.0", "reason": "bản lỗi khởi động", "csrf_token": token})
        page = await r.text()
        assert r.status == 200 and "Đã dừng đợt triển khai phiên bản 0.3.0" in page
        after = rollout_status(hub.storage)
        assert after["state"] == "aborted" and after["reason"] == "bản lỗi khởi động"
        r = await s.post(f"{hub.url}/fleet/rollout/{rid}/abort", data={"confirm": rid, "csrf_token": token})
        assert r.status == 409 and "không còn gì để dừng" in await r.text()
        r = await s.post(f"{hub.url}/fleet/rollout/{'f' * 32}/abort", data={"confirm": "x", "csrf_token": token})
        assert r.status == 404

        # a new rollout; the earlier one stays listed and can be opened
        r = await s.post(f"{hub.url}/fleet/rollout/start", data={**start, "version": "0.3.1", "waves": "100",
                                                                  "canaries": ""})
        page = await r.text()
        assert r.status == 200, text_of(page)
        newer = rollout_status(hub.storage)["rollout_id"]
        assert newer != rid and f'data-recent="{rid}"' in page and f'data-recent="{newer}"' in page
        old = await (await s.get(f"{hub.url}/fleet/rollout?id={rid}")).text()
        assert f'data-rollout="{rid}"' in old and "Đợt triển khai trước đây" in old and "Đã dừng (CNTT)" in old
        assert (await s.get(f"{hub.url}/fleet/rollout?id=nope")).status == 404
        assert (await s.get(f"{hub.url}/fleet/rollout?id={'0' * 32}")).status == 404

    actions = [(a[1], a[2], a[3]) for a in hub.storage.admin_audit_entries() if a[2].startswith("rollout.")]
    assert actions == [("cntt", "rollout.start", None), ("cntt", "rollout.abort", None), ("cntt", "rollout.start", None)]
    details = [a[4] for a in hub.storage.admin_audit_entries() if a[2] == "rollout.start"]
    assert any(d.startswith(f"{rid} version 0.3.0 waves 10,50,100 threshold 25 %") and "canaries HN-0003" in d
               for d in details)


def _wave_members(hub, rollout_id: str, wave: int) -> list[str]:
    """The stations of one wave (0-based), in the rollout's order, read from the hub's own table."""
    with hub.storage._tx() as tx:
        rows = tx.all("SELECT station_id FROM rollout_targets WHERE rollout_id = ? AND wave = ? ORDER BY position",
                      (rollout_id, wave))
    return [r[0] for r in rows]


async def test_a_healthy_rollout_ends_done_without_an_abort_button(rollout_hub):
    hub, stations = rollout_hub
    async with session() as s:
        await login(s, hub.url)
        token = csrf(await (await s.get(f"{hub.url}/fleet/rollout")).text())
        r = await s.post(f"{hub.url}/fleet/rollout/start", data={"version": "0.2.0", "waves": "50,100",
                                                                  "agency": OTHER, "csrf_token": token})
        assert r.status == 200 and "/rollout?id=" in str(r.url)
        rid = rollout_status(hub.storage)["rollout_id"]
        assert report(stations["HN-0008"], rid, "installed", version="0.2.0")["rollout"]["state"] == "done"
        page = await (await s.get(f"{hub.url}/fleet/rollout")).text()
        assert 'data-rollout-state="done"' in page and "Hoàn tất" in page and f"cơ quan {OTHER}" in page
        assert wave_cells(page, 1)["installed"] == 1 and wave_cells(page, 2)["boxes"] == 0
        assert "Dừng triển khai" not in page and "Bắt đầu triển khai phiên bản mới" in page
        assert "data-failed-station" not in page
        box = await (await s.get(f"{hub.url}/fleet/stations/HN-0008")).text()
        assert 'data-outcome="installed"' in box and re.search(r'id="update-running">0\.2\.0<', box)
        assert stations_in(await (await s.get(f"{hub.url}/fleet/?update=1")).text()) == []
