"""Devices panel (live events over SSE from the real DeviceManager's publish), the QR scan
filling path, and the sync panel from the real SyncClient's status."""

from __future__ import annotations

import asyncio
import json

import pytest
from web_helpers import APPLICANT, PDF, PNG, api_token, login

from edge.devices import DeviceEvent, DeviceKind, DeviceManager, DeviceRecord
from edge.devices.cccd import parse_cccd_qr
from edge.web import create_app

QR = "001190012345|012345678|Lê Thị Hồng Nhung|17051990|Nữ|12 Phố Huế, Hà Nội|01012021"


@pytest.fixture
async def live(aiohttp_client, settings, store):
    from sync.client import SyncClient

    devices = DeviceManager(settings=settings, store=store, start_qr_readers=False)
    sync = SyncClient(settings=settings, store=store)
    client = await aiohttp_client(create_app(settings=settings, store=store, devices=devices, sync=sync))
    return client, devices


async def _read_events(resp, count: int) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    kind = None
    while len(out) < count:
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            out.append((kind, json.loads(line[6:])))
    return out


async def test_events_stream_devices_and_qr(live):
    client, devices = live
    headers = await api_token(client)
    resp = await client.get("/events", headers=headers)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    await asyncio.sleep(0.05)
    scanner = DeviceRecord(id="sane:test:0", kind=DeviceKind.SCANNER, vendor="Noname", model="frontend-tester",
                           name="test:0", transport="virtual", source="sane")
    devices.publish(DeviceEvent(type="added", device=scanner))
    devices.publish(DeviceEvent(type="cccd_scanned", data=parse_cccd_qr(QR)))
    devices.publish(DeviceEvent(type="receipt_scanned", data="000.00.06.H56-270203-0001"))
    (k1, e1), (k2, e2), (k3, e3) = await _read_events(resp, 3)
    assert k1 == "added" and e1["device"]["model"] == "frontend-tester"
    assert k2 == "cccd_scanned" and e2["data"]["id_number"] == "001190012345"
    assert e2["data"]["full_name"] == APPLICANT["full_name"] and e2["data"]["date_of_birth"] == "1990-05-17"
    assert k3 == "receipt_scanned" and e3["data"] == "000.00.06.H56-270203-0001"
    resp.close()
    # Polling alternative keeps the last QR scans.
    recent = await (await client.get("/qr/recent?since=0", headers=headers)).json()
    assert [e["type"] for e in recent["events"]] == ["cccd_scanned", "receipt_scanned"]
    state = await (await client.get("/api/v1/devices", headers=headers)).json()
    assert state["available"] is True


async def test_events_need_a_session(live):
    client, _devices = live
    resp = await client.get("/events", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")


async def test_sync_panel_counts_pending(live, store):
    client, _devices = live
    h = await api_token(client)
    resp = await client.post("/api/v1/dossiers", headers=h, json={"procedure_code": "1.004222", "applicant": APPLICANT})
    did = (await resp.json())["id"]
    for comp, data in (("CT01", PNG), ("CMCH", PDF)):
        assert (await client.post(f"/api/v1/dossiers/{did}/pages?component={comp}", headers=h, data=data)).status == 201
    assert (await client.post(f"/api/v1/dossiers/{did}/finalize", headers=h,
                              json={"fee": {"method": "later"}})).status == 200
    body = await (await client.get("/api/v1/sync", headers=h)).json()
    assert body["available"] and body["status"]["pending"] == 1
    await login(client)
    html = await (await client.get("/sync")).text()
    assert 'id="sync-pending">1<' in html
    html = await (await client.get(f"/dossiers/{did}")).text()
    assert "Chờ gửi" in html
