"""Exactly once, whatever happens: each case compares the hub's rows and blob hashes."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from boxkit import add_dossier, assert_exactly_once, hub_dossiers, make_box
from click.testing import CliRunner

from edge.cli import cli
from sync.client import SyncClient, enroll
from sync.hub import system_clock
from sync.protocol import STICK_DIR
from sync.transfer import export_transfer, import_stick


def _committed(hub, ids) -> dict:
    held = hub_dossiers(hub)
    assert set(held) == set(ids), (sorted(held), sorted(ids))
    for v in held.values():
        assert v["state"] == "committed"
        assert all(complete and digest == sha for sha, complete, digest in v["blobs"])
    return held


@pytest.fixture
def origin(make_station, sticks):
    """Box MOBILE-01 with three dossiers taken offline, exported to a stick."""
    settings, store = make_station("MOBILE-01")
    ids = [add_dossier(store, pages=2, page_bytes=150_000) for _ in range(3)]
    stick = sticks.make("dir")
    export_transfer(store, stick)
    return settings, store, ids, stick


def test_the_same_stick_twice_and_at_two_relays(hub, make_station, origin):
    _, _, ids, stick = origin
    settings_b, box_b = make_station("BRANCH-01")
    settings_c, box_c = make_station("BRANCH-02")
    first = import_stick(box_b, settings_b, stick)
    assert sorted(first.transfers[0].forwarded) == sorted(ids)
    held = _committed(hub, ids)
    again = import_stick(box_b, settings_b, stick)
    assert again.transfers[0].forwarded == [] and sorted(again.transfers[0].already) == sorted(ids)
    other = import_stick(box_c, settings_c, stick)
    assert other.transfers[0].forwarded == [] and sorted(other.transfers[0].already) == sorted(ids)
    assert hub_dossiers(hub) == held
    # Each relay holds the same receipts, byte for byte the hub's.
    rows = {tuple(sorted((r["dossier_id"], r["receipt"]) for r in s.query("SELECT * FROM transfer_relayed")))
            for s in (box_b, box_c)}
    assert len(rows) == 1


def test_online_first_then_the_stick(hub, make_station, origin):
    settings_a, box_a, ids, stick = origin
    client = SyncClient(settings=settings_a, store=box_a)

    async def online():
        try:
            return await client.sync_once()
        finally:
            await client.stop()

    assert asyncio.run(online()).pending == 0
    held = _committed(hub, ids)
    settings_b, box_b = make_station("BRANCH-01")
    late = import_stick(box_b, settings_b, stick)
    assert late.ok and sorted(late.transfers[0].already) == sorted(ids) and late.transfers[0].forwarded == []
    assert hub_dossiers(hub) == held
    assert_exactly_once(box_a, hub)


def test_a_revoked_box_s_stick_is_refused_with_why(hub, make_station, origin):
    from sync.hub._core import wipe_builder

    _, _, _, stick = origin
    hub.storage.revoke("MOBILE-01", reason="máy bị mất", now=system_clock(), command_id=uuid.uuid4().hex,
                       build_command=wipe_builder(hub.keys, "lost"))
    settings_b, box_b = make_station("BRANCH-01")
    got = import_stick(box_b, settings_b, stick)
    (t,) = got.transfers
    assert not got.ok and t.code == "origin_revoked" and "revoked" in t.refused and "thu hồi" in t.refused_vi
    assert t.forwarded == [] and hub_dossiers(hub) == {}


def test_a_replaced_box_s_stick_is_refused_with_why(hub, make_station, origin, tmp_path):
    _, _, _, stick = origin
    _, replacement = make_box(tmp_path, name="box-replacement")
    enroll(replacement, hub.url, hub.add_station("MOBILE-01"), station_id="MOBILE-01", timeout_seconds=5)
    settings_b, box_b = make_station("BRANCH-01")
    (t,) = import_stick(box_b, settings_b, stick).transfers
    assert t.code == "origin_retired" and "replaced" in t.refused and "thay thế" in t.refused_vi
    assert hub_dossiers(hub) == {}
    replacement.close()


@pytest.mark.parametrize("damage", ["blob", "manifest", "document", "missing_blob"])
def test_a_tampered_stick_is_refused_whole(hub, make_station, origin, damage):
    _, _, _, stick = origin
    (transfer,) = (stick / STICK_DIR).iterdir()
    if damage == "blob":
        blob = sorted(p for p in (transfer / "blobs").rglob("*") if p.is_file())[-1]
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 1
        blob.write_bytes(bytes(data))
    elif damage == "manifest":
        path = sorted((transfer / "dossiers").iterdir())[-1]
        manifest = json.loads(path.read_text())
        manifest["procedure_code"] = "1.000001"
        path.write_text(json.dumps(manifest))
    elif damage == "document":
        path = transfer / "transfer.json"
        doc = json.loads(path.read_text())
        doc["transfer"]["dossiers"].pop()
        path.write_text(json.dumps(doc))
    else:
        sorted(p for p in (transfer / "blobs").rglob("*") if p.is_file())[0].unlink()
    settings_b, box_b = make_station("BRANCH-01")
    (t,) = import_stick(box_b, settings_b, stick).transfers
    assert t.code == "invalid_transfer" and "sửa đổi" in t.refused_vi, t
    assert hub_dossiers(hub) == {}  # not one dossier of it reached the hub


def test_a_forged_stick_is_refused(hub, make_station, tmp_path, sticks):
    """A box that copies MOBILE-01's identity but not its key cannot speak for it."""
    _, box_a = make_station("MOBILE-01")
    settings_f, forger = make_box(tmp_path, name="box-forger")
    values = {k: box_a.meta_get(k) for k in ("sync.station_id", "sync.receipt_key")}
    forger.write(lambda conn: [conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                                            "SET value = excluded.value", kv) for kv in values.items()])
    add_dossier(forger, pages=1)
    stick = sticks.make("dir")
    export_transfer(forger, stick)
    settings_b, box_b = make_station("BRANCH-01")
    (t,) = import_stick(box_b, settings_b, stick).transfers
    assert t.code == "origin_bad_signature" and hub_dossiers(hub) == {}
    forger.close()


def test_a_stick_from_another_city(hub, hub_factory, make_station, sticks):
    other_city = hub_factory("sqlite")
    _, far = make_station("MOBILE-09", target_hub=other_city)
    add_dossier(far, pages=1)
    stick = sticks.make("dir")
    export_transfer(far, stick)
    settings_b, box_b = make_station("BRANCH-01")
    (t,) = import_stick(box_b, settings_b, stick).transfers
    assert t.code == "wrong_city" and "thành phố khác" in t.refused_vi
    assert hub_dossiers(hub) == {} and hub_dossiers(other_city) == {}
    # Nor does this hub take it directly.
    out = CliRunner().invoke(cli, ["hub", "import-transfer", "--data-dir", str(hub.data_dir), "--json", str(stick)])
    assert out.exit_code == 1 and "another city" in out.output
    assert hub_dossiers(hub) == {}


def test_the_hub_imports_a_stick_and_writes_the_receipts(hub, make_station, origin, sticks):
    settings_a, box_a, ids, stick = origin
    args = ["hub", "import-transfer", "--data-dir", str(hub.data_dir), "--json", str(stick)]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert sorted(json.loads(out.output)["transfers"][0]["committed"]) == sorted(ids)
    held = _committed(hub, ids)
    again = CliRunner().invoke(cli, args)
    assert sorted(json.loads(again.output)["transfers"][0]["already"]) == sorted(ids)
    assert hub_dossiers(hub) == held
    back = sticks.make("dir")
    out = CliRunner().invoke(cli, ["hub", "transfer-receipts", "--data-dir", str(hub.data_dir), "--station",
                                   "MOBILE-01", "--to", str(back)])
    assert out.exit_code == 0, out.output
    got = import_stick(box_a, settings_a, back)
    assert sorted(got.receipts_applied) == sorted(ids)
    assert_exactly_once(box_a, hub)
    # The same receipts again change nothing.
    assert import_stick(box_a, settings_a, back).receipts_known == 3


def test_a_receipt_that_does_not_verify_does_not_let_the_box_shred(hub, make_station, origin, sticks):
    settings_a, box_a, ids, stick = origin
    settings_b, box_b = make_station("BRANCH-01")
    import_stick(box_b, settings_b, stick)
    from sync.transfer import write_receipts_stick

    back = sticks.make("dir")
    path, _ = write_receipts_stick(box_b, back)
    doc = json.loads((path / "receipts.json").read_text())
    doc["receipts"][0]["receipt"]["hub_seq"] += 1000  # the signature no longer covers it
    (path / "receipts.json").write_text(json.dumps(doc))
    got = import_stick(box_a, settings_a, back)
    assert not got.ok and len(got.receipts_refused) == 1 and len(got.receipts_applied) == 2
    client = SyncClient(settings=settings_a, store=box_a)
    assert len(client.retention().shredded) == 2
    assert client.status().pending == 1


def test_a_relay_without_a_link_says_so_and_keeps_nothing(hub, make_station, origin):
    from sync.transfer import TransferError

    _, _, _, stick = origin
    settings_b, box_b = make_station("BRANCH-01")
    hub.stop()
    with pytest.raises(TransferError) as info:
        import_stick(box_b, settings_b, stick)
    assert "mất kết nối" in info.value.message_vi
    assert box_b.query("SELECT COUNT(*) AS n FROM transfer_relayed")[0]["n"] == 0
    assert hub_dossiers(hub) == {}
