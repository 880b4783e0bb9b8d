"""The city connector: committed dossiers reach the reference city system once, through its being
down for a day and a lost acknowledgement; its status changes come back to the box on the feed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.request

import pytest
from cityref import CityReceiver
from click.testing import CliRunner
from hubclient import Station, fake_manifest

from edge.cli._main import cli
from sync.hub import CityConfig
from sync.hub._app import Hub
from sync.hub._city import DEAD_AFTER, outbox_view
from sync.protocol import parse_feed_page

SECRET = secrets.token_bytes(32)
DAY_MS = 86_400_000


def _wait(cond, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(autouse=True)
def quick_rounds(monkeypatch):
    monkeypatch.setattr(Hub, "city_interval", 0.1)


def test_events_wait_through_a_day_down_and_arrive_once(hub_factory) -> None:
    with CityReceiver(SECRET) as city:
        city.mode = "down"
        hub = hub_factory("sqlite", city=CityConfig(secret=SECRET, url=city.url))
        token = hub.add_station("HN-0001")
        box = Station(hub.url, "HN-0001")
        assert box.enroll(token).status == 200
        pages = [secrets.token_bytes(5000)]
        manifest = fake_manifest("HN-0001", blobs=pages)
        assert box.put(manifest).status == 201
        box.upload(manifest["dossier_id"], pages[0])
        assert box.commit(manifest).status == 200

        waiting = _wait(lambda: [e for e in hub.storage.city_events() if e.attempts >= 1])
        assert waiting[0].last_error == "HTTP 503" and not city.events
        # A day later the event still waits, and the dead-letter view says for how long.
        hub.clock_offset_ms = DAY_MS
        for _ in range(DEAD_AFTER):
            hub.storage.retry_city_events(now=hub.now_ms())
            attempts = hub.storage.city_events()[0].attempts
            _wait(lambda attempts=attempts: hub.storage.city_events()[0].attempts > attempts)
        view = outbox_view(hub.storage.city_events()[0], now=hub.now_ms())
        assert view["age_s"] >= DAY_MS // 1000 and view["dead"] and view["code"] == manifest["code"]
        listed = CliRunner().invoke(cli, ["hub", "city-events", "--json", "--data-dir", str(hub.data_dir)],
                                    catch_exceptions=False)
        assert json.loads(listed.output)[0]["last_error"] == "HTTP 503"

        # Back up, but the first answer is lost: the event comes twice, the key makes it one.
        city.mode = "ack_lost"
        hub.storage.retry_city_events(now=hub.now_ms())
        _wait(lambda: city.deliveries)
        city.mode = "up"
        hub.storage.retry_city_events(now=hub.now_ms())
        _wait(lambda: not hub.storage.city_events())
        assert len(city.deliveries) == 2 and len(set(city.deliveries)) == 1 and len(city.events) == 1
        event = next(iter(city.events.values()))
        assert event["dossier_id"] == manifest["dossier_id"] and event["code"] == manifest["code"]
        assert event["blobs"][0]["sha256"] == hashlib.sha256(pages[0]).hexdigest()
        assert "personal" not in event and "dek" not in event  # metadata only
        assert city.bad_signatures == 0
        hub.clock_offset_ms = 0


def _signed_post(url: str, body: dict, *, secret: bytes = SECRET, ts: int | None = None):
    raw = json.dumps(body).encode()
    ts = ts if ts is not None else int(time.time() * 1000)
    mac = hmac.new(secret, f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url + "/v1/city/status", data=raw, method="POST", headers={
        "Content-Type": "application/json", "X-Motcua-City-Signature": f"t={ts},v1={mac}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_city_status_reaches_the_box(hub) -> None:
    hub.stop()
    hub.city = CityConfig(secret=SECRET, status_map={"TIEP_NHAN": 2, "DANG_XU_LY": 4, "DA_TRA_KET_QUA": 10})
    hub.start()
    token = hub.add_station("HN-0001")
    box = Station(hub.url, "HN-0001")
    assert box.enroll(token).status == 200
    manifest = fake_manifest("HN-0001")
    assert box.put(manifest).status == 201

    # Not committed yet: refused.
    status, answer = _signed_post(hub.url, {"code": manifest["code"], "status": "DANG_XU_LY"})
    assert status == 409 and answer["error"]["code"] == "not_committed"


def test_city_status_after_commit(hub) -> None:
    hub.stop()
    hub.city = CityConfig(secret=SECRET, status_map={"TIEP_NHAN": 2, "DANG_XU_LY": 4, "DA_TRA_KET_QUA": 10})
    hub.start()
    token = hub.add_station("HN-0001")
    box = Station(hub.url, "HN-0001")
    assert box.enroll(token).status == 200
    page = secrets.token_bytes(3000)
    manifest = fake_manifest("HN-0001", blobs=[page])
    assert box.put(manifest).status == 201
    box.upload(manifest["dossier_id"], page)
    assert box.commit(manifest).status == 200

    status, answer = _signed_post(hub.url, {"code": manifest["code"], "status": "DANG_XU_LY", "note": "đang xử lý"})
    assert status == 200 and answer["changed"] and answer["status"] == 4
    status, answer = _signed_post(hub.url, {"code": manifest["code"], "status": "DANG_XU_LY"})
    assert status == 200 and not answer["changed"]  # a duplicate delivery changes nothing
    assert _signed_post(hub.url, {"code": manifest["code"], "status": "XYZ"})[0] == 400
    assert _signed_post(hub.url, {"code": manifest["code"], "status": "DA_TRA_KET_QUA"},
                        secret=b"x" * 32)[1]["error"]["code"] == "bad_signature"
    assert _signed_post(hub.url, {"code": manifest["code"], "status": "DA_TRA_KET_QUA"},
                        ts=int(time.time() * 1000) - 3_600_000)[1]["error"]["code"] == "clock_skew"
    items = parse_feed_page(box.feed().json)[0]
    statuses = [(i.data["status"], i.data["note"]) for i in items if i.type == "dossier_status"]
    assert statuses == [(2, ""), (4, "đang xử lý")]  # on the box's feed once, nobody typing it
