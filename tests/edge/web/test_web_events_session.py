"""The event stream (``/events``) ends with its session: logout, account disable, idle expiry;
and a browser leaving a page (closing its stream) is normal, not an error."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from web_helpers import PASSWORDS, csrf_of

from edge.devices import DeviceEvent, DeviceManager
from edge.devices.cccd import parse_cccd_qr
from edge.web import accounts, create_app
from edge.web._keys import EVENTS

QR = "001190012345|012345678|Lê Thị Hồng Nhung|17051990|Nữ|12 Phố Huế, Hà Nội|01012021"


@pytest.fixture
async def live(serve, settings, store):
    devices = DeviceManager(settings=settings, store=store, start_qr_readers=False)
    app = create_app(settings=settings, store=store, devices=devices)
    base = await serve(app)
    return base, app, devices


async def _cookie_session(base: str) -> tuple[aiohttp.ClientSession, str]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(f"{base}/login", data={"username": "clerk", "password": PASSWORDS["clerk"]},
                            allow_redirects=False) as resp:
        assert resp.status == 303
    async with session.get(f"{base}/dossiers/new") as resp:
        return session, csrf_of(await resp.text())


async def _rest_of_stream(resp: aiohttp.ClientResponse, within: float = 5) -> bytes:
    """Everything the server still sends until it closes the stream (fails if it does not)."""
    return await asyncio.wait_for(resp.content.read(), within)


async def _opened(resp: aiohttp.ClientResponse) -> None:
    assert resp.status == 200
    assert (await asyncio.wait_for(resp.content.readline(), 5)).startswith(b"retry:")
    await asyncio.sleep(0.05)


async def test_logout_closes_the_stream_before_the_next_scan(live):
    base, _app, devices = live
    session, csrf = await _cookie_session(base)
    async with session:
        resp = await session.get(f"{base}/events")
        await _opened(resp)
        async with session.post(f"{base}/logout", data={"csrf_token": csrf}, allow_redirects=False) as out:
            assert out.status == 303
        devices.publish(DeviceEvent(type="cccd_scanned", data=parse_cccd_qr(QR)))
        rest = await _rest_of_stream(resp)
        assert b"001190012345" not in rest and b"Nhung" not in rest


@pytest.mark.parametrize("how", ["api_logout", "disabled"])
async def test_bearer_stream_ends_with_its_session(live, store, how):
    base, _app, devices = live
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/v1/session",
                                json={"username": "clerk", "password": PASSWORDS["clerk"]}) as resp:
            headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        resp = await session.get(f"{base}/events", headers=headers)
        await _opened(resp)
        if how == "api_logout":
            async with session.delete(f"{base}/api/v1/session", headers=headers) as out:
                assert out.status == 200
        else:
            # As the city's account feed does it: no web request involved.
            accounts.set_disabled(store, "clerk", True)
        devices.publish(DeviceEvent(type="cccd_scanned", data=parse_cccd_qr(QR)))
        rest = await _rest_of_stream(resp)
        assert b"001190012345" not in rest


async def test_a_quiet_stream_is_closed_soon_after_its_session_ends(live, store):
    base, app, _devices = live
    app[EVENTS].heartbeat = 0.2
    session, _csrf = await _cookie_session(base)
    async with session:
        resp = await session.get(f"{base}/events")
        await _opened(resp)
        # the session ends without any request or event
        await store.awrite(lambda conn: conn.execute("DELETE FROM web_sessions"))
        rest = await _rest_of_stream(resp, within=3)
        assert b"event:" not in rest


async def test_a_live_session_keeps_its_stream(live):
    base, _app, devices = live
    session, _csrf = await _cookie_session(base)
    async with session:
        resp = await session.get(f"{base}/events")
        await _opened(resp)
        devices.publish(DeviceEvent(type="cccd_scanned", data=parse_cccd_qr(QR)))
        while True:
            line = await asyncio.wait_for(resp.content.readline(), 5)
            if line.startswith(b"data: "):
                assert b"001190012345" in line
                break
        resp.close()


async def test_a_browser_leaving_the_page_logs_no_error(live, caplog):
    base, _app, devices = live
    caplog.set_level(logging.DEBUG)
    session, _csrf = await _cookie_session(base)
    async with session:
        for _ in range(3):
            resp = await session.get(f"{base}/events")
            await _opened(resp)
            resp.close()  # the browser went to another page
            await asyncio.sleep(0.05)
            for _ in range(5):
                devices.publish(DeviceEvent(type="receipt_scanned", data="000.00.06.H56-270203-0001"))
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        async with session.get(f"{base}/healthz") as resp:
            assert resp.status in (200, 503)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not errors, [(r.name, r.getMessage()) for r in errors]
