"""Dossier-code partitions: replacement boxes, ``set-partition`` through the feed, overlap, exhaustion.

Real hubs (SQLite and PostgreSQL) on 127.0.0.1; the boxes are real stores with the real sync client.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))  # boxkit

from boxkit import AGENCY, add_dossier, box_dossiers, make_box
from hubclient import Station

from edge.errors import StoreError
from sync.client import SyncClient, enroll_async
from sync.errors import HubError

DAY_MS = 86400 * 1000


def numbers(store) -> list[int]:
    return sorted(int(r["code"].rsplit("-", 1)[1]) for r in store.query("SELECT code FROM dossiers WHERE code IS NOT NULL"))


async def sync(settings, store) -> SyncClient:
    client = SyncClient(settings=settings, store=store)
    try:
        await client.sync_once()
    finally:
        await client.stop()
    return client


def reservations(hub, kind: str | None = None) -> list:
    return [r for r in hub.storage.partitions(agency_code=AGENCY, now=hub.now_ms()) if kind in (None, r.kind)]


async def test_replacement_box_same_day_no_conflict(tmp_path, hub):
    """The old box issues codes offline, a replacement takes over the same day, both sync everything."""
    old_settings, old = make_box(tmp_path, "old")
    new_settings, new = make_box(tmp_path, "new")
    try:
        await enroll_async(old, hub.url, hub.add_station("HN-0001"), station_id="HN-0001")
        # The old box was moved once (its feed carries a code_partition item for the station).
        hub.storage.set_partition("HN-0001", index=2, size=None, now=hub.now_ms())
        await sync(old_settings, old)
        assert old.meta_get("code_partition_index") == "2"
        # Offline from here on: today's intake on the old box.
        old_ids = [add_dossier(old, pages=1, page_bytes=2000) for _ in range(3)]
        assert numbers(old) == [2001, 2002, 2003]

        # IT re-issues the station for a replacement box: it is promised a new, free partition.
        token = hub.add_station("HN-0001")
        promised = reservations(hub, "pending")
        assert [(r.station_id, r.partition_index) for r in promised] == [("HN-0001", 1)]  # 0 and 2 stay reserved
        result = await enroll_async(new, hub.url, token, station_id="HN-0001")
        assert (result.partition_index, result.partition_size) == (1, 1000)
        new_ids = [add_dossier(new, pages=1, page_bytes=2000) for _ in range(3)]
        await sync(new_settings, new)
        # The station's earlier code_partition item (index 2, the old box's) is not the new box's.
        assert new.meta_get("code_partition_index") == "1"
        assert numbers(new) == [1001, 1002, 1003]

        # The old box comes back: it still uploads what it holds, and learns it was replaced.
        client = await sync(old_settings, old)
        assert client.status().pending == 0 and not client.locked
        assert old.meta_get("code_partition_retired") == "replaced"
        with pytest.raises(StoreError, match="replaced"):
            add_dossier(old, pages=1, page_bytes=100)

        held = {d.dossier_id: d for d in hub.storage.list_dossiers(station_id="HN-0001")}
        assert set(held) == set(old_ids) | set(new_ids) == set(box_dossiers(old)) | set(box_dossiers(new))
        assert all(d.state == "committed" for d in held.values())
        assert len({d.code for d in held.values()}) == 6
        outbox = {r["state"] for s in (old, new) for r in s.query("SELECT state FROM outbox")}
        assert outbox <= {"committed", "confirmed"}, outbox

        # The retired ranges stay reserved today; once the old box has acknowledged its notice
        # (its next feed read) they are free from the next day on.
        assert {r.partition_index for r in reservations(hub, "retired")} == {0, 2}
        hub.add_station("HN-0002")
        assert hub.storage.get_station("HN-0002").partition_index == 3
        with pytest.raises(HubError, match="overlaps partition 2 .* retired"):
            hub.add_station("HN-0003", partition_index=2)
    finally:
        old.close()
        new.close()


async def test_retired_box_acknowledges_then_range_is_free_next_day(tmp_path, hub):
    old_settings, old = make_box(tmp_path, "old")
    new_settings, new = make_box(tmp_path, "new")
    try:
        await enroll_async(old, hub.url, hub.add_station("HN-0001"), station_id="HN-0001")
        add_dossier(old, pages=1, page_bytes=500)
        await enroll_async(new, hub.url, hub.add_station("HN-0001"), station_id="HN-0001")
        await sync(old_settings, old)   # uploads, reads the notice (applied with its checkpoint)
        assert reservations(hub, "retired")[0].stopped_at is None
        await sync(old_settings, old)   # the next feed read proves the notice was applied
        retired = reservations(hub, "retired")
        assert len(retired) == 1 and retired[0].stopped_at is not None
        # Still today: partition 0 is reserved, a new station gets 2.
        assert Station(hub.url, "HN-0002").enroll(hub.add_station("HN-0002")).status == 200
        assert hub.storage.get_station("HN-0002").partition_index == 2
        # Tomorrow the old range is free again.
        hub.clock_offset_ms += DAY_MS
        assert reservations(hub, "retired") == []
        hub.add_station("HN-0003")
        assert hub.storage.get_station("HN-0003").partition_index == 0
    finally:
        old.close()
        new.close()


async def test_set_partition_reaches_the_box_and_no_code_repeats(tmp_path, hub):
    settings, store = make_box(tmp_path)
    try:
        await enroll_async(store, hub.url, hub.add_station("HN-0001"), station_id="HN-0001")
        add_dossier(store, pages=1, page_bytes=500)
        assert numbers(store) == [1]
        _st, item = hub.storage.set_partition("HN-0001", index=3, size=None, now=hub.now_ms())
        assert item is not None and item.type == "code_partition"
        await sync(settings, store)
        assert (store.meta_get("code_partition_index"), store.meta_get("code_partition_size")) == ("3", "1000")
        add_dossier(store, pages=1, page_bytes=500)
        assert numbers(store) == [1, 3001]
        # Back to the first range the same day, with a smaller size: 0001 is not issued again.
        hub.storage.set_partition("HN-0001", index=0, size=500, now=hub.now_ms())
        await sync(settings, store)
        add_dossier(store, pages=1, page_bytes=500)
        assert numbers(store) == [1, 2, 3001]
        await sync(settings, store)
        held = hub.storage.list_dossiers(station_id="HN-0001")
        assert sorted(d.code for d in held) == sorted(r["code"] for r in store.query("SELECT code FROM dossiers"))
        assert {d.state for d in held} == {"committed"}
    finally:
        store.close()


def test_set_partition_refuses_overlap(hub):
    hub.add_station("HN-0001")                    # 0: 0001-1000
    hub.add_station("HN-0002")                    # 1: 1001-2000
    now = hub.now_ms()
    with pytest.raises(HubError, match="overlaps partition 0 .* station HN-0001"):
        hub.storage.set_partition("HN-0002", index=0, size=None, now=now)
    with pytest.raises(HubError, match="overlaps partition 0"):
        hub.storage.set_partition("HN-0002", index=1, size=600, now=now)    # 0601-1200
    with pytest.raises(HubError, match="does not fit"):
        hub.storage.set_partition("HN-0002", index=9, size=1000, now=now)   # 9001-10000
    st, item = hub.storage.set_partition("HN-0002", index=4, size=250, now=now)  # 1001-1250: its own old range
    assert (st.partition_index, st.partition_size, item) == (4, 250, None)     # not enrolled: no feed item
    # Its old range stays reserved (a box may have taken dossiers with its bundle before enrolling).
    with pytest.raises(HubError, match="overlaps partition 1 .* retired"):
        hub.storage.set_partition("HN-0001", index=7, size=250, now=now)  # 1751-2000


def test_agency_space_exhausted(hub):
    from sync.hub.storage import NewStation
    from sync.protocol import new_token, token_sha256

    def add(station_id: str, size: int | None = 3333):
        hub.storage.add_station(NewStation(station_id=station_id, agency_code=AGENCY, partition_size=size),
                                token_sha256=token_sha256(new_token()), token_expires_at=hub.now_ms() + DAY_MS,
                                now=hub.now_ms())

    for i in range(3):
        add(f"HN-000{i}")
    assert [hub.storage.get_station(f"HN-000{i}").partition_index for i in range(3)] == [0, 1, 2]
    with pytest.raises(HubError, match=rf"agency {AGENCY} has no free code partition of 3333 numbers: "
                                       r"3 partitions in use \(3 stations"):
        add("HN-0009")
    # A replacement for an enrolled station needs a fourth range: refused the same way.
    first = Station(hub.url, "HN-0000")
    token = new_token()
    hub.storage.add_station(NewStation(station_id="HN-0000", agency_code=AGENCY), token_sha256=token_sha256(token),
                            token_expires_at=hub.now_ms() + DAY_MS, now=hub.now_ms())
    assert first.enroll(token).status == 200
    with pytest.raises(HubError, match="no free code partition"):
        add("HN-0000", None)


def test_replacement_partition_must_be_new(hub, station):
    with pytest.raises(HubError, match="needs a new code partition"):
        hub.add_station("HN-0001", partition_index=0)
    hub.add_station("HN-0001", partition_index=1)   # promised to the replacement box
    with pytest.raises(HubError, match="promised to the replacement box of station HN-0001"):
        hub.add_station("HN-0002", partition_index=1)


def test_retired_box_may_only_drain(hub, station):
    new = Station(hub.url, "HN-0001")
    assert new.enroll(hub.add_station("HN-0001")).status == 200
    assert station.heartbeat().status == 200
    reply = station.signed("GET", "/v1/station")
    assert reply.status == 200 and reply.json["station"]["retired"] is True
    assert reply.json["code_partition"]["partition_index"] == 0
    items = station.feed().json["items"]
    assert [(i["type"], i["data"]["retired"]) for i in items] == [("code_partition", True)]
    rotate = station.json_call("POST", "/v1/keys/rotate", {"new_public_key": "AAAA", "proof": "AAAA"})
    assert rotate.status == 403 and rotate.code == "forbidden"
    assert new.signed("GET", "/v1/station").json["code_partition"]["partition_index"] == 1


def test_cli_set_partition_partitions_and_release(hub_factory, tmp_path):
    from edge.cli._main import cli

    hub = hub_factory("sqlite")
    hub.add_station("HN-0001")
    hub.add_station("HN-0002")
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(cli, ["hub", *args, "--data-dir", str(hub.data_dir)])
        return result.exit_code, result.output + (str(result.exception) if result.exception else "")

    code, out = run("set-partition", "HN-0002", "--index", "0")
    assert code != 0 and "overlaps partition 0" in out and "HN-0001" in out
    code, out = run("set-partition", "HN-0002", "--index", "5")
    assert code == 0, out
    assert "5 × 1000 (numbers 5001-6000)" in out
    code, out = run("partitions")
    assert code == 0 and "retired" in out and "1001-2000" in out
    code, out = run("release-partition", AGENCY, "1")
    assert code != 0 and "from the next day on" in out
