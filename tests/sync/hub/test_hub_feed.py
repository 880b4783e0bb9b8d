"""The pull feed: ordering, `since`, visibility, statuses, master data."""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from hubclient import Station, fake_manifest

from sync.protocol import FeedType, parse_feed_page


def _committed(station: Station, number: int) -> dict:
    blob = os.urandom(500)
    m = fake_manifest(station.station_id, blobs=[blob], number=number)
    assert station.put(m).status == 201
    station.upload(m["dossier_id"], blob)
    assert station.commit(m).status == 200
    return m


def test_feed_ordering_since_and_paging(hub, station):
    for i in range(5):
        hub.storage.append_feed(FeedType.CALENDAR_OVERRIDE, {"date": f"2026-12-0{i + 1}", "kind": "day_off",
                                                             "reason": "test"}, now=hub.now_ms())
    reply = station.feed(0, limit=2)
    items, nxt, more, head = parse_feed_page(reply.json)
    assert [i.data["date"] for i in items] == ["2026-12-01", "2026-12-02"] and more and nxt == items[-1].seq
    seen = [i.seq for i in items]
    since = nxt
    while more:
        items, since, more, head = parse_feed_page(station.feed(since, limit=2).json)
        seen += [i.seq for i in items]
    assert seen == sorted(seen) and len(seen) == 5 and since == head
    assert parse_feed_page(station.feed(since).json)[0] == []
    bad = station.signed("GET", "/v1/feed?since=-1")
    assert bad.status == 400 and bad.json["field"] == "since"


def test_set_status_shows_on_the_feed_only_for_its_station(hub, station):
    other = Station(hub.url, "HN-0002")
    assert other.enroll(hub.add_station("HN-0002")).status == 200
    m = _committed(station, 1)
    row = hub.storage.set_status(m["dossier_id"], status=4, note="đang xử lý", now=hub.now_ms())
    items = parse_feed_page(station.feed().json)[0]
    statuses = [(i.data["dossier_id"], i.data["status"]) for i in items if i.type == FeedType.DOSSIER_STATUS]
    assert statuses == [(m["dossier_id"], 2), (m["dossier_id"], 4)]
    assert items[-1].seq == row.seq and items[-1].data["note"] == "đang xử lý"
    assert [i for i in parse_feed_page(other.feed().json)[0] if i.type == FeedType.DOSSIER_STATUS] == []


def test_agency_scoped_master_data(hub, station):
    far = Station(hub.url, "HCM-01")
    assert far.enroll(hub.add_station("HCM-01", agency="000.00.01.H29")).status == 200
    account = {"username": "lan", "display_name": "Nguyễn Thị Lan", "role": "clerk",
               "password_hash": PasswordHasher().hash("mat-khau-dai"), "active": True}
    hub.storage.append_feed(FeedType.CLERK_ACCOUNT, account, now=hub.now_ms(), agency_code="000.00.06.H56")
    hub.storage.append_feed(FeedType.PROCEDURE_CATALOG, {"version": "2026.1", "procedures": []}, now=hub.now_ms())
    mine = [i.type for i in parse_feed_page(station.feed().json)[0]]
    theirs = [i.type for i in parse_feed_page(far.feed().json)[0]]
    assert mine == [FeedType.CLERK_ACCOUNT, FeedType.PROCEDURE_CATALOG]
    assert theirs == [FeedType.PROCEDURE_CATALOG]


def test_heartbeat_recorded(hub, station):
    reply = station.heartbeat(pending=3, oldest_unsynced_age_s=120, disk_free_bytes=5 * 10**9,
                              devices={"scanner": "ok"}, versions={"motcua": "0.1.0"})
    assert reply.status == 200
    st = hub.storage.get_station(station.station_id)
    assert st.last_seen_at and st.last_heartbeat["pending"] == 3 and st.last_heartbeat["devices"] == {"scanner": "ok"}
    bad = station.heartbeat(pending="many")
    assert bad.status == 400 and bad.json["field"] == "pending"
