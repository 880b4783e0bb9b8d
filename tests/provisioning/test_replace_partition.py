"""A replacement box gets a new dossier-number partition; the hub keeps the old box's range apart.

The real CLI (``provision batch/replace``, ``hub import-stations``), a real hub process on
127.0.0.1, boxes that run first boot and sync with the real client.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from edge.store import PageSource, Store
from provisioning import run_firstboot
from provisioning._errors import ProvisioningError
from provisioning._partition import replacement_partition
from sync.client import SyncClient

from .hubproc import HubProcess, motcua, motcua_proc
from .test_end_to_end import Box, provision


@pytest.fixture
def hub(tmp_path: Path):
    h = HubProcess(tmp_path / "hub")
    h.start()
    yield h
    h.stop()


def take(box: Box, n: int) -> list[str]:
    """Intake of ``n`` dossiers, offline (no sync)."""
    codes = []
    with Store.open(box.settings()) as store:
        for i in range(n):
            _, code = store.ingest(procedure_code="1.001612",
                                   applicant={"full_name": "Trần Thị Bình", "id_number": f"00109900{i:04d}"},
                                   pages=[PageSource(source=bytes([i]) * 300, component="Tờ khai",
                                                     media_type="image/png")], actor="clerk")
            codes.append(code)
    return codes


def sync_all(box: Box) -> dict[str, str]:
    with Store.open(box.settings()) as store:
        async def run() -> None:
            client = SyncClient(settings=box.settings(), store=store)
            try:
                await client.sync_once()
            finally:
                await client.stop()

        asyncio.run(run())
        states = {r["code"]: r["state"] for r in store.query(
            "SELECT d.code, o.state FROM outbox o JOIN dossiers d ON d.id = o.dossier_id")}
    assert set(states.values()) <= {"committed", "confirmed"}, states
    return states


def test_replacement_partition_choice():
    held = [(0, 1000), (1, 1000), (3, 1000)]
    assert replacement_partition("000.00.06.H56", 1000, held).index == 2
    assert replacement_partition("000.00.06.H56", 1000, held, index=5).index == 5
    with pytest.raises(ProvisioningError, match="overlaps partition 1"):
        replacement_partition("000.00.06.H56", 500, held, index=2)        # 1001-1500
    with pytest.raises(ProvisioningError, match="runs past 9999"):
        replacement_partition("000.00.06.H56", 1000, held, index=9)
    with pytest.raises(ProvisioningError, match=r"agency 000\.00\.06\.H56 has no free .* 2 partitions in use"):
        replacement_partition("000.00.06.H56", 4999, [(0, 4999), (1, 4999)])


def test_replacement_same_day_both_boxes_sync_everything(tmp_path: Path, hub: HubProcess):
    batch = provision(tmp_path, hub, 1)
    serial = batch.serials[0]
    station = batch.station(serial)
    sid = station["station_id"]
    assert station["partition_size"] == 4999  # one box in the agency, one spare partition
    old = Box(tmp_path / "old")
    old.insert(batch.bundle(serial))
    assert run_firstboot(old.options(batch.pub)).enrolled
    old_codes = take(old, 3)                  # today, never synced: the old box breaks

    out = tmp_path / "replace"
    motcua("provision", "replace", "NEWPI-1", "--station", sid, "--from", str(batch.out), "--out", str(out),
           "--keys", str(batch.keys))
    plan = json.loads((out / "manifest.json").read_text())["stations"][0]
    assert (plan["partition_index"], plan["partition_size"]) == (1, 4999)
    hub.admin("import-stations", str(out / "stations.jsonl"), "--partition-size", "4999")
    new = Box(tmp_path / "new")
    new.insert(out / "bundles" / "NEWPI-1.motcua-bundle")
    # Intake on the replacement before it even enrolled uses the bundle's (new) partition.
    report = run_firstboot(new.options(batch.pub, enroll=False))
    assert not report.enrolled
    new_codes = take(new, 2)
    assert run_firstboot(new.options(batch.pub)).enrolled
    new_codes += take(new, 1)
    assert all(5000 <= int(c.rsplit("-", 1)[1]) <= 9998 for c in new_codes), new_codes
    assert all(1 <= int(c.rsplit("-", 1)[1]) <= 4999 for c in old_codes), old_codes

    sync_all(new)
    sync_all(old)                              # the old box is repaired: it drains
    at_hub = sorted(d["code"] for d in hub.dossiers() if d["station_id"] == sid)
    assert at_hub == sorted(old_codes + new_codes)  # every dossier exactly once, no code_conflict
    with Store.open(old.settings()) as store:
        assert store.meta_get("code_partition_retired") == "replaced"
    parts = json.loads(hub.admin("partitions", "--json"))
    held = {(p["kind"], p["partition_index"]) for p in parts if p["station_id"] == sid}
    assert held == {("station", 1), ("retired", 0)}

    # A second replacement planned from the first manifest only would reuse partition 1: the hub
    # refuses the import, names the holder, and changes nothing.
    again = tmp_path / "again"
    motcua("provision", "replace", "NEWPI-2", "--station", sid, "--from", str(batch.out), "--out", str(again),
           "--keys", str(batch.keys))
    before = hub.stations()[sid]
    refused = motcua_proc("hub", "import-stations", str(again / "stations.jsonl"), "--data-dir", str(hub.data_dir),
                          "--partition-size", "4999")
    assert refused.returncode != 0
    assert f"station {sid}" in refused.stderr and "partition 1" in refused.stderr, refused.stderr
    assert hub.stations()[sid] == before
    # With every manifest, no free partition is left in the agency today: a clear refusal.
    none_left = motcua_proc("provision", "replace", "NEWPI-2", "--station", sid, "--from", str(batch.out),
                            "--from", str(out), "--out", str(tmp_path / "third"), "--keys", str(batch.keys))
    assert none_left.returncode != 0
    assert f"agency {station['agency_code']} has no free" in none_left.stderr and "2 partitions in use" in none_left.stderr
