"""Dossier codes at the hub: only in a range the sending box holds (or held) on the code's date.

Real hubs (SQLite and PostgreSQL) on 127.0.0.1, signed requests over real HTTP.
"""

from __future__ import annotations

import datetime as dt

from hubclient import AGENCY, Station, fake_manifest

from core.vntime import vn_date

DAY_MS = 86400 * 1000


def today(hub) -> dt.date:
    return vn_date(dt.datetime.fromtimestamp(hub.now_ms() / 1000, dt.UTC))


def manifest(station: Station, number: int, day: dt.date) -> dict:
    m = fake_manifest(station.station_id, number=number)
    m["code"] = f"{AGENCY}-{day.strftime('%y%m%d')}-{number:04d}"
    return m


def put(station: Station, number: int, day: dt.date):
    m = manifest(station, number, day)
    return m, station.put(m)


def resync(station: Station) -> None:
    """Take the hub's clock again (the tests move it)."""
    assert station.raw("GET", "/v1/time").status == 200


def acknowledge_feed(station: Station) -> None:
    head = station.feed(0).json["head"]
    assert station.feed(head).status == 200


def test_code_outside_the_box_partition_is_refused(hub, station):
    day = today(hub)
    _, reply = put(station, 1500, day)  # partition 1 (1001-2000): not this box's (0: 0001-1000)
    assert reply.status == 403 and reply.code == "code_out_of_partition", reply.body
    assert reply.json["error"]["retryable"] is False and "0001" in reply.json["error"]["message"]
    assert hub.storage.list_dossiers() == []
    for number in (1, 1000):
        assert put(station, number, day)[1].status == 201
    m = manifest(station, 5, day)
    m["code"] = f"{AGENCY}-{day.strftime('%y%m%d')}-0000"
    reply = station.put(m)
    assert reply.status == 400 and reply.json["field"] == "code"
    m["code"] = f"{AGENCY}-999999-0005"
    assert station.put(m).json["field"] == "code"
    assert len(hub.storage.list_dossiers()) == 2


def test_a_moved_box_keeps_its_old_range_until_the_day_it_stopped(hub, station):
    day = today(hub)
    hub.storage.set_partition(station.station_id, index=2, size=None, now=hub.now_ms())
    # Not yet told (offline): it still numbers from its old range, and may already use the new one.
    assert put(station, 7, day)[1].status == 201
    assert put(station, 2001, day)[1].status == 201
    assert put(station, 1500, day)[1].code == "code_out_of_partition"
    acknowledge_feed(station)  # it applied the move today
    assert put(station, 8, day)[1].status == 201
    _, reply = put(station, 9, day + dt.timedelta(days=1))
    assert reply.status == 403 and reply.code == "code_out_of_partition", reply.body
    assert put(station, 2002, day + dt.timedelta(days=1))[1].status == 201


def test_a_replaced_box_codes_must_not_postdate_its_retirement(hub, station):
    day = today(hub)
    new = Station(hub.url, station.station_id)
    assert new.enroll(hub.add_station(station.station_id)).status == 200
    new_first = hub.storage.get_station(station.station_id).partition_index * 1000 + 1
    assert new_first != 1
    # The old box drains what it numbered before it was replaced...
    m, reply = put(station, 11, day)
    assert reply.status == 201, reply.body
    assert station.commit(m).status in (200, 409)
    # ... but a code it dates after its replacement is refused, and so is the new box's range.
    _, reply = put(station, 12, day + dt.timedelta(days=1))
    assert reply.status == 403 and reply.code == "code_after_retirement", reply.body
    assert put(station, new_first, day)[1].code == "code_out_of_partition"
    assert put(new, new_first, day)[1].status == 201
    assert put(new, 13, day)[1].code == "code_out_of_partition"  # the old box's range stays its own


def test_code_conflict_does_not_name_another_station_dossier(hub, station):
    day = today(hub)
    first, reply = put(station, 5, day)
    assert reply.status == 201
    # Two days later the box moves away and says so; two more days and range 0 is free again.
    hub.clock_offset_ms += 2 * DAY_MS
    resync(station)
    hub.storage.set_partition(station.station_id, index=2, size=None, now=hub.now_ms())
    acknowledge_feed(station)
    hub.clock_offset_ms += 2 * DAY_MS
    other = Station(hub.url, "HN-0002")
    assert other.enroll(hub.add_station("HN-0002", partition_index=0)).status == 200
    _, reply = put(other, 5, day)
    assert reply.status == 409 and reply.code == "code_conflict", reply.body
    assert first["dossier_id"] not in reply.body.decode()
    assert "dossier_id" not in reply.json
    # The box's own duplicate is still named to it.
    resync(station)
    _, reply = put(station, 5, day)
    assert reply.code == "code_conflict" and reply.json["dossier_id"] == first["dossier_id"]
