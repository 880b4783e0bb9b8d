"""The fleet page over real HTTP: login and lockout, filters, the per-box page, and the CLI's
actions behind CSRF tokens and a same-origin check (both storage backends)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from click.testing import CliRunner
from fleet_sim import populate, warn

from sync.hub.fleet._auth import hash_password
from sync.protocol import FeedType

PASSWORD = "mat-khau-cntt-2026"


def add_admin(storage, username: str = "cntt") -> None:
    storage.put_admin(username, display_name="Phòng CNTT", password_hash=hash_password(PASSWORD), now=0)


def session() -> aiohttp.ClientSession:
    # The hub is on 127.0.0.1 in the tests: the jar must keep cookies of an IP address.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login(s: aiohttp.ClientSession, url: str, password: str = PASSWORD, username: str = "cntt"):
    return await s.post(f"{url}/fleet/login", data={"username": username, "password": password, "next": "/fleet/"})


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def stations_in(html: str) -> list[str]:
    return re.findall(r'data-station="([^"]+)"', html)


@pytest.fixture
def fleet_hub(hub):
    fleet = populate(hub.storage, 24, now=hub.now_ms())
    add_admin(hub.storage)
    return hub, fleet


async def test_the_page_needs_a_login(fleet_hub):
    hub, _ = fleet_hub
    async with session() as s:
        r = await s.get(f"{hub.url}/fleet/", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/fleet/login")
        r = await s.get(f"{hub.url}/fleet/stations/st-0001", allow_redirects=False)
        assert r.status == 303
        r = await s.post(f"{hub.url}/fleet/stations/st-0001/revoke", data={"reason": "x", "confirm": "st-0001"},
                         allow_redirects=False)
        assert r.status == 303 and hub.storage.get_station("st-0001").revoked_at is None
        r = await login(s, hub.url, password="sai-mat-khau-roi")
        assert r.status == 401 and "Tên đăng nhập hoặc mật khẩu không đúng" in await r.text()
        r = await login(s, hub.url)
        assert r.status == 200 and str(r.url).endswith("/fleet/")
        html = await r.text()
        assert "Đội máy: 24 trạm" in html and len(stations_in(html)) == 24
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
        cookie = next(c for c in s.cookie_jar if c.key == "motcua_hub_session")
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/fleet"


async def test_five_failures_lock_the_account_even_for_the_right_password(fleet_hub):
    hub, _ = fleet_hub
    async with session() as s:
        for _ in range(5):
            assert (await login(s, hub.url, password="sai-mat-khau-roi")).status == 401
        r = await login(s, hub.url)
        assert r.status == 401 and "tạm khoá" in await r.text()


async def test_filters_find_the_silent_box_and_the_broken_scanner(fleet_hub):
    hub, fleet = fleet_hub
    async with session() as s:
        await login(s, hub.url)
        get = lambda q: s.get(f"{hub.url}/fleet/?{q}")  # noqa: E731
        assert stations_in(await (await get("state=silent")).text()) == [fleet.silent]
        assert stations_in(await (await get("device=1")).text()) == [fleet.scanner_broken]
        assert stations_in(await (await get("behind=1")).text()) == [fleet.behind]
        agency = stations_in(await (await get("agency=000.00.07.H56")).text())
        assert len(agency) == 8 and all(int(sid[3:]) % 3 == 1 for sid in agency)
        mobile = stations_in(await (await get("kind=mobile&agency=000.00.06.H56")).text())
        assert mobile and all(int(sid[3:]) % 4 == 2 and int(sid[3:]) % 3 == 0 for sid in mobile)
        html = await (await get("state=warning")).text()
        assert {fleet.scanner_broken, fleet.behind, fleet.disk_low} <= set(stations_in(html))
        assert "máy quét lỗi" in html and "ổ đĩa còn 5%" in html


async def test_guardrail_warnings_show_in_vietnamese_count_and_filter(fleet_hub):
    hub, fleet = fleet_hub
    now = hub.now_ms()
    stale, filling = fleet.ids[3], fleet.ids[10]
    warn(hub.storage, stale, ["catalog_stale", "unsynced_old"], now=now)
    warn(hub.storage, filling, ["disk_forecast"], now=now)
    async with session() as s:
        await login(s, hub.url)
        get = lambda q: s.get(f"{hub.url}/fleet/?{q}")  # noqa: E731
        html = await (await get("")).text()
        assert "Cảnh báo ngoại tuyến: 2" in html
        row = re.search(rf'<tr[^>]*data-station="{stale}".*?</tr>', html, re.S).group(0)
        assert 'data-state="warning"' in row and 'data-warnings="catalog_stale unsynced_old"' in row
        assert "danh mục thủ tục chưa cập nhật; hồ sơ chưa đồng bộ quá lâu — nên chuyển bằng thẻ nhớ" in row
        assert "ổ đĩa sắp đầy theo dự báo" in html
        assert stations_in(await (await get("warning=any")).text()) == sorted([stale, filling])
        assert stations_in(await (await get("warning=disk_forecast")).text()) == [filling]
        assert stations_in(await (await get("warning=unsynced_old")).text()) == [stale]
        assert stations_in(await (await get("warning=holidays_stale")).text()) == []
        # a warned box counts as needing attention, and filters combine
        assert {stale, filling} <= set(stations_in(await (await get("state=warning")).text()))
        agency = hub.storage.get_station(stale).agency_code
        assert stations_in(await (await get(f"warning=any&agency={agency}")).text()) == [stale]
        page = await (await s.get(f"{hub.url}/fleet/stations/{filling}")).text()
        assert "<li>ổ đĩa sắp đầy theo dự báo</li>" in page
        # the next heartbeat without warnings clears them
        warn(hub.storage, stale, [], now=now)
        assert stations_in(await (await get("warning=any")).text()) == [filling]


async def test_the_list_pages_problem_boxes_first_and_keeps_the_filters(hub):
    fleet = populate(hub.storage, 250, now=hub.now_ms())
    add_admin(hub.storage)
    async with session() as s:
        await login(s, hub.url)
        get = lambda q: s.get(f"{hub.url}/fleet/?{q}")  # noqa: E731
        first = await (await get("")).text()
        ids = stations_in(first)
        assert len(ids) == 100 and "Đội máy: 250 trạm" in first
        assert '<span id="matched">250</span> trạm; hiển thị 1–100 (trang 1/3)' in first
        # worst first: the silent box leads page 1, then the boxes needing attention
        assert ids[0] == fleet.silent
        assert {fleet.scanner_broken, fleet.behind, fleet.disk_low} <= set(ids[1:4])
        pages = [ids] + [stations_in(await (await get(f"page={n}")).text()) for n in (2, 3)]
        assert [len(p) for p in pages] == [100, 100, 50]
        seen = [sid for p in pages for sid in p]
        assert len(seen) == len(set(seen)) == 250 and set(seen) == set(fleet.ids)
        assert 'href="?page=2"' in first and "Trang sau" in first
        # out of range or not a number: the last page, the first page
        assert stations_in(await (await get("page=999")).text()) == pages[2]
        assert stations_in(await (await get("page=abc")).text()) == ids
        # the filters stay in the pager's links; the count is of the matches
        special = {fleet.silent, fleet.scanner_broken, fleet.behind, fleet.disk_low}
        communes = [sid for i, sid in enumerate(fleet.ids) if i % 4 == 1 and sid not in special]
        healthy = await (await get("state=healthy&kind=commune")).text()
        assert f'<span id="matched">{len(communes)}</span> / 250 trạm khớp bộ lọc' in healthy
        assert sorted(stations_in(healthy)) == communes and "Phân trang" not in healthy
        many = await (await get("state=healthy")).text()
        assert 'href="?state=healthy&amp;page=2"' in many
        second = await (await get("state=healthy&page=2")).text()
        assert 'href="?state=healthy"' in second  # back to page 1, filter kept
        rest = stations_in(await (await get("state=healthy&page=3")).text())
        assert len(stations_in(many)) + len(stations_in(second)) + len(rest) == 246
        # one page of 100 rows, not every box
        assert len(first.encode()) < 120_000


async def test_the_box_page_has_its_chart_and_only_the_hubs_own_assets(fleet_hub):
    hub, fleet = fleet_hub
    async with session() as s:
        await login(s, hub.url)
        html = await (await s.get(f"{hub.url}/fleet/stations/{fleet.silent}")).text()
        assert "Mất liên lạc" in html and "<svg" in html and 'class="backlog"' in html
        assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
        css = await s.get(f"{hub.url}/fleet/static/fleet.css")
        assert css.status == 200 and "svg.chart" in await css.text()
        missing = await s.get(f"{hub.url}/fleet/stations/nope")
        assert missing.status == 404 and "Không có trạm nope" in await missing.text()


async def test_actions_need_the_csrf_token_and_the_same_origin(fleet_hub):
    hub, fleet = fleet_hub
    sid = fleet.ids[5]
    async with session() as s:
        await login(s, hub.url)
        page = await (await s.get(f"{hub.url}/fleet/stations/{sid}")).text()
        token = csrf(page)
        url = f"{hub.url}/fleet/stations/{sid}/revoke"
        r = await s.post(url, data={"reason": "mất cắp", "confirm": sid})
        assert r.status == 403 and "mã chống giả mạo" in await r.text()
        r = await s.post(url, data={"reason": "mất cắp", "confirm": sid, "csrf_token": token},
                         headers={"Origin": "http://evil.example"})
        assert r.status == 403
        r = await s.post(url, data={"reason": "mất cắp", "confirm": "st-9999", "csrf_token": token})
        assert r.status == 400 and "Gõ đúng mã trạm" in await r.text()
        assert hub.storage.get_station(sid).revoked_at is None
        r = await s.post(url, data={"reason": "mất cắp", "confirm": sid, "csrf_token": token})
        assert r.status == 200 and "Đã thu hồi trạm" in await r.text()
        st = hub.storage.get_station(sid)
        assert st.revoked_at is not None and st.revoke_reason == "mất cắp"
        assert st.wipe_command["command"]["kind"] == "wipe"


async def test_send_command_and_replace_like_the_cli(fleet_hub):
    hub, fleet = fleet_hub
    sid = fleet.ids[7]
    async with session() as s:
        await login(s, hub.url)
        token = csrf(await (await s.get(f"{hub.url}/fleet/stations/{sid}")).text())
        r = await s.post(f"{hub.url}/fleet/stations/{sid}/command", data={"kind": "resync", "csrf_token": token})
        assert r.status == 200 and "Đã gửi lệnh" in await r.text()
        r = await s.post(f"{hub.url}/fleet/stations/{sid}/command", data={"kind": "wipe", "csrf_token": token})
        assert r.status == 400  # a wipe needs the station id typed
        rows, _ = hub.storage.feed(hub.storage.get_station(sid), since=0, limit=100)
        commands = [row.data["command"]["kind"] for row in rows if row.type == FeedType.COMMAND]
        assert commands == ["resync"]
        r = await s.post(f"{hub.url}/fleet/stations/{sid}/replace", data={"confirm": sid, "csrf_token": token})
        html = await r.text()
        assert r.status == 200, html
        shown = re.search(r'id="replacement-token">([^<]+)<', html).group(1)
        assert hub.storage.get_station(sid).token_pending
        promised = [p for p in hub.storage.partitions(agency_code=hub.storage.get_station(sid).agency_code,
                                                      now=hub.now_ms()) if p.kind == "pending"]
        assert [p.station_id for p in promised] == [sid]
        # the token shown enrolls the replacement box
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from hubclient import Station

        box = Station(hub.url, sid, Ed25519PrivateKey.generate())
        assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4})+", shown)  # grouped as the CLI prints it
        assert box.enroll(shown).status == 200
        audit = [a[2] for a in hub.storage.admin_audit_entries(station_id=sid)]
        assert audit == ["replace", "command.resync"]


async def test_logout_ends_the_session(fleet_hub):
    hub, _ = fleet_hub
    async with session() as s:
        html = await (await login(s, hub.url)).text()
        await s.post(f"{hub.url}/fleet/logout", data={"csrf_token": csrf(html)})
        r = await s.get(f"{hub.url}/fleet/", allow_redirects=False)
        assert r.status == 303


def test_cli_adds_lists_and_disables_admins(tmp_path):
    from edge.cli import cli
    from sync.hub import init_data_dir

    data = tmp_path / "hub"
    init_data_dir(data, kem="X25519")
    runner = CliRunner()
    args = ["hub", "admin", "add", "--data-dir", str(data), "cntt", "--password-stdin"]
    short = runner.invoke(cli, args, input="ngan\n")
    assert short.exit_code == 2 and "ít nhất 10 ký tự" in short.output
    done = runner.invoke(cli, args, input=PASSWORD + "\n")
    assert done.exit_code == 0 and "admin cntt created" in done.output, done.output
    listed = runner.invoke(cli, ["hub", "admin", "list", "--data-dir", str(data)])
    assert "cntt\tcntt\tactive" in listed.output
    assert runner.invoke(cli, ["hub", "admin", "disable", "--data-dir", str(data), "cntt"]).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["hub", "admin", "list", "--data-dir", str(data)]).output
    gone = runner.invoke(cli, ["hub", "admin", "disable", "--data-dir", str(data), "nobody"])
    assert gone.exit_code == 1 and "no admin 'nobody'" in gone.output
    token = runner.invoke(cli, ["hub", "metrics-token", "--data-dir", str(data)])
    assert token.exit_code == 0 and len(token.output.strip()) >= 40
    stored = (data / "metrics-token.sha256").read_text().strip()
    import hashlib

    assert stored == hashlib.sha256(token.output.strip().encode()).hexdigest()
    assert (data / "metrics-token.sha256").stat().st_mode & 0o777 == 0o600
