"""The intake page's scanner button over real HTTP: SANE's test backend behind a real
DeviceManager, pages into the real encrypted store, progress and errors as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json

import pytest
from web_helpers import APPLICANT, login

from edge.web import create_app

pytestmark = pytest.mark.sane

PROC = "1.004222"  # Đăng ký tạm trú: components CT01, CMCH


@pytest.fixture
async def scan_client(aiohttp_client, settings, store, devices):
    app = create_app(settings=settings.replace("devices", scan_resolution=75), store=store, devices=devices)
    return await aiohttp_client(app)


def _draft(store) -> str:
    return store.create_draft(procedure_code=PROC, applicant=APPLICANT, actor="clerk")


async def _until_done(resp, dossier_id: str) -> tuple[list[dict], dict]:
    statuses, kind = [], None
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), 30)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            if kind == "scan_status" and data["dossier_id"] == dossier_id:
                statuses.append(data["data"])
            elif kind == "scan_done" and data["dossier_id"] == dossier_id:
                return statuses, data


async def _scan(client, csrf: str, dossier_id: str, **body):
    return await client.post(f"/dossiers/{dossier_id}/scan", json=body, headers={"X-CSRF-Token": csrf})


async def test_three_feeder_pages_become_encrypted_pages_and_one_pdf(scan_client, store, devices):
    csrf = await login(scan_client)
    dossier_id = _draft(store)
    html = await (await scan_client.get(f"/dossiers/{dossier_id}")).text()
    assert 'data-scan="CT01"' in html and '<option value="test:0">' in html
    events = await scan_client.get("/events")
    resp = await _scan(scan_client, csrf, dossier_id, component="CT01", pages=3, source="ADF", device="test:0")
    assert resp.status == 202, await resp.text()
    statuses, done = await _until_done(events, dossier_id)
    events.close()
    assert "error_vi" not in done and done["stored"] == 3 and done["component"] == "CT01"
    assert [s["page"] for s in statuses if s["state"] == "page_stored"] == [1, 2, 3]
    assert {"starting", "assembling", "done"} <= {s["state"] for s in statuses}
    dossier = store.get(dossier_id)
    assert [(p.component, p.media_type) for p in dossier.pages] == [("CT01", "image/png")] * 3 + [("CT01", "application/pdf")]
    pdf = b"".join(store.read_page(dossier_id, dossier.pages[-1].index))
    assert pdf.startswith(b"%PDF")
    for page in dossier.pages[:3]:
        assert b"".join(store.read_page(dossier_id, page.index)).startswith(b"\x89PNG")
    # Stored encrypted: no PNG or PDF stands in the clear under the state directory.
    store.checkpoint()
    for path in (p for p in store.root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert b"\x89PNG\r\n\x1a\n" not in data and b"%PDF-" not in data, path
    # The page now shows the component complete with its four pages; the scanner is ready again.
    html = await (await scan_client.get(f"/dossiers/{dossier_id}?msg=scanned")).text()
    assert "Đã quét và lưu các trang" in html and "· 4 trang" in html
    assert str(devices.find_scanner("test:0").status) == "ready"
    rows = store.query("SELECT actor, details FROM audit WHERE action = 'scan.start' AND dossier_id = ?", (dossier_id,))
    assert rows and rows[0]["actor"] == "clerk"


async def test_feeder_running_empty_keeps_pages_and_says_so(scan_client, store):
    csrf = await login(scan_client)
    dossier_id = _draft(store)
    events = await scan_client.get("/events")
    resp = await _scan(scan_client, csrf, dossier_id, component="CMCH", pages=12, source="ADF", device="test:1")
    assert resp.status == 202
    _statuses, done = await _until_done(events, dossier_id)
    events.close()
    # The test backend's feeder holds ten sheets.
    assert done["stored"] == 10 and "Khay nạp giấy đã hết" in done["error_vi"]
    dossier = store.get(dossier_id)
    assert dossier.status == "draft" and dossier.applicant.full_name == APPLICANT["full_name"]
    assert sum(p.media_type == "image/png" for p in dossier.pages) == 10


async def test_scanner_errors_answer_in_vietnamese(scan_client, store):
    csrf = await login(scan_client)
    dossier_id = _draft(store)
    cases = [
        ({"device": "test:9"}, 409, "Không tìm thấy máy quét"),
        ({"component": "NOPE"}, 422, "thành phần"),
        ({"pages": 0}, 422, "Số trang"),
        ({"pages": "ba"}, 422, "Số trang phải là một số"),
        ({"source": "Tray 7"}, 422, "Nguồn giấy"),
    ]
    for over, status, words in cases:
        body = {"component": "CT01", "pages": 1, "source": "ADF", "device": "test:0", **over}
        resp = await _scan(scan_client, csrf, dossier_id, **body)
        assert resp.status == status, (over, await resp.text())
        assert words.lower() in (await resp.json())["error"]["message_vi"].lower(), over
    resp = await scan_client.post(f"/dossiers/{dossier_id}/scan", json={"component": "CT01"})
    assert resp.status == 403  # no CSRF token
    assert store.get(dossier_id).pages == ()


async def test_a_scan_the_store_could_not_hold_is_refused_before_it_starts(aiohttp_client, settings, store, devices):
    """Offline guardrail: refused with a precise message only when the pages would not fit."""
    import shutil

    free_mb = shutil.disk_usage(store.root).free // 2**20
    tight = settings.replace("devices", scan_resolution=75).replace("guardrails", scan_reserve_mb=free_mb + 100)
    client = await aiohttp_client(create_app(settings=tight, store=store, devices=devices))
    csrf = await login(client)
    dossier_id = _draft(store)
    resp = await _scan(client, csrf, dossier_id, component="CT01", pages=2, source="ADF", device="test:0")
    assert resp.status == 507
    assert "không còn đủ chỗ cho 2 trang" in (await resp.json())["error"]["message_vi"]
    assert store.pages(dossier_id) == ()
