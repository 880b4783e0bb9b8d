"""Sealed transfers into a hub whose blobs are in S3 (a real Ceph RGW, ``rgw`` in tests/sync/conftest.py):
relayed by a box over HTTP, and read by ``motcua hub import-transfer``. Each blob ends up in the bucket
once, named by its SHA-256, and the upload lock between workers (the database's lease) holds for both."""

from __future__ import annotations

import json
import secrets
import sqlite3

import pytest
from boxkit import add_dossier, box_dossiers
from click.testing import CliRunner

from edge.cli import cli
from sync.hub import S3BlobStore, S3Config
from sync.hub._keys import read_config, write_config
from sync.hub._s3 import PART_SIZE
from sync.transfer import TransferError, export_transfer, import_stick

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_hub(rgw, hub_factory, tmp_path, monkeypatch):
    """A hub whose hub.json keeps blobs in a bucket of its own (as `hub init --blobs` writes it),
    credentials from the environment (as `hub serve` takes them); and an admin client of the bucket."""
    name = f"motcua-{secrets.token_hex(6)}"
    admin = S3BlobStore(tmp_path / "admin", S3Config(bucket=name, endpoint=rgw.endpoint), access_key=rgw.access_key,
                        secret_key=rgw.secret_key)
    admin._call("create_bucket")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", rgw.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rgw.secret_key)
    hub = hub_factory("sqlite", start=False)
    write_config(hub.data_dir, {**read_config(hub.data_dir), "blobs": {"url": f"s3://{name}", "endpoint": rgw.endpoint}})
    hub.start()  # blobs=None: the store hub.json names
    yield hub, admin
    admin.close()


def _objects(admin: S3BlobStore) -> list[str]:
    """Every object key in the bucket, each checked: its bytes hash to its name."""
    keys = sorted(o["Key"] for o in admin._call("list_objects_v2").get("Contents", []))
    for key in keys:
        with admin.open(key) as r:  # the reader checks the SHA-256 at the end (BlobCorrupt else)
            while r.read(1 << 20):
                pass
    return keys


def _held(hub, box) -> list[str]:
    """The box's dossiers are at the hub once each, committed under its station: their blobs' ids."""
    held = {d.dossier_id: d for d in hub.storage.list_dossiers()}
    mine = box_dossiers(box)
    assert set(held) == set(mine)
    for dossier_id, shas in mine.items():
        d = held[dossier_id]
        assert d.state == "committed" and d.station_id == "MOBILE-01"
        assert [b.sha256 for b in sorted(d.blobs, key=lambda b: b.index)] == shas and all(b.complete for b in d.blobs)
    return sorted({sha for shas in mine.values() for sha in shas})


def _nothing_left_over(hub, admin: S3BlobStore) -> None:
    assert not admin._call("list_multipart_uploads").get("Uploads")  # no multipart upload left open
    assert not any((hub.data_dir / "blobs").rglob("*")) and not any((hub.data_dir / "partial").iterdir())
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM blob_leases").fetchone() == (0,)


def _hold_lease(hub, sha: str) -> None:
    """Another hub worker writes this blob right now (its lease in the database)."""
    assert hub.storage.lease_blob(sha, holder="other-worker", until=hub.now_ms() + 60_000, now=hub.now_ms())


def test_a_stick_relayed_into_a_hub_on_s3(s3_hub, make_station, sticks):
    hub, admin = s3_hub
    settings_a, box_a = make_station("MOBILE-01", target_hub=hub)
    settings_b, box_b = make_station("BRANCH-01", target_hub=hub)
    big = add_dossier(box_a, pages=1, page_bytes=PART_SIZE + 1_500_000)  # S3 multipart, over several chunks
    ids = [big] + [add_dossier(box_a, pages=2, page_bytes=120_000) for _ in range(2)]
    stick = sticks.make("dir")
    export_transfer(box_a, stick)

    # While another worker holds the big blob's upload, the relay may not write it: "try again".
    big_sha = box_dossiers(box_a)[big][0]
    _hold_lease(hub, big_sha)
    with pytest.raises(TransferError, match="upload_locked"):
        import_stick(box_b, settings_b, stick)
    assert big_sha not in _objects(admin)
    hub.storage.release_blob(big_sha, holder="other-worker")

    relayed = import_stick(box_b, settings_b, stick)
    assert relayed.ok and sorted(relayed.transfers[0].forwarded + relayed.transfers[0].already) == sorted(ids)
    shas = _held(hub, box_a)
    assert _objects(admin) == shas  # each blob once, named by its SHA-256, and nothing else
    _nothing_left_over(hub, admin)

    # The same stick at a second relay: the same receipts, nothing new in the bucket.
    settings_c, box_c = make_station("BRANCH-02", target_hub=hub)
    again = import_stick(box_c, settings_c, stick)
    assert again.ok and sorted(again.transfers[0].already) == sorted(ids) and not again.transfers[0].forwarded
    assert _held(hub, box_a) == shas and _objects(admin) == shas


def test_hub_import_transfer_on_s3(s3_hub, make_station, sticks):
    hub, admin = s3_hub
    _, box_a = make_station("MOBILE-01", target_hub=hub)
    ids = [add_dossier(box_a, pages=1, page_bytes=PART_SIZE + 700_000)] + [add_dossier(box_a, pages=2)]
    stick = sticks.make("dir")
    export_transfer(box_a, stick)
    args = ["hub", "import-transfer", "--data-dir", str(hub.data_dir), "--json", str(stick)]

    big_sha = box_dossiers(box_a)[ids[0]][0]
    _hold_lease(hub, big_sha)
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 1 and json.loads(out.output)["transfers"][0]["code"] == "upload_locked", out.output
    assert big_sha not in _objects(admin)
    hub.storage.release_blob(big_sha, holder="other-worker")

    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)["transfers"][0]
    assert sorted(report["committed"] + report["already"]) == sorted(ids)
    shas = _held(hub, box_a)
    assert _objects(admin) == shas
    _nothing_left_over(hub, admin)
    again = CliRunner().invoke(cli, args)
    assert sorted(json.loads(again.output)["transfers"][0]["already"]) == sorted(ids)
    assert _objects(admin) == shas

    # The credentials come from the environment, never from hub.json: without them, a clear refusal.
    out = CliRunner().invoke(cli, args, env={"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "wrong-secret"})
    assert out.exit_code != 0 and "credentials" in str(out.exception or out.output)
    assert "wrong-secret" not in str(out.exception) + out.output
