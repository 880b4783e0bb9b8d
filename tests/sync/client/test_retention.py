"""Retention shreds only after a VERIFIED hub receipt and the window; forged receipts are refused."""

from __future__ import annotations

import base64
import json

import pytest
from boxkit import add_dossier, make_box
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.client import SyncClient, enroll_async
from sync.protocol import b64e


@pytest.fixture
async def box(make_enrolled):
    return await make_enrolled(retention_days=0)


def _status(store, dossier_id):
    return store.query("SELECT d.status, o.state, o.receipt_verified FROM dossiers d JOIN outbox o "
                       "ON o.dossier_id = d.id WHERE d.id = ?", (dossier_id,))[0]


async def test_shreds_only_receipted_dossiers_after_the_window(box, proxy):
    settings, store, client = box
    sent = add_dossier(store, pages=2)
    await client.sync_once()
    proxy.set_mode("refuse")  # the link is down: this one stays unsynced
    unsent = add_dossier(store, pages=2)
    with pytest.raises(Exception):  # noqa: B017 - any sync failure; the point is what retention does next
        await client.sync_once()
    report = client.retention()
    assert report.shredded == [sent]
    assert _status(store, sent)["status"] == "shredded"
    assert _status(store, unsent)["status"] == "finalized" and _status(store, unsent)["state"] != "shredded"
    assert store.pages(unsent)  # still readable locally
    assert not store.pages(sent)


async def test_window_not_reached_keeps_the_dossier(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path, name="box2", retention_days=30)
    token = hub.add_station("HN-0002")
    await enroll_async(store, proxy.url, token, station_id="HN-0002")
    client = SyncClient(settings=settings, store=store)
    try:
        dossier_id = add_dossier(store, pages=1)
        await client.sync_once()
        assert _status(store, dossier_id)["receipt_verified"] == 1
        assert client.retention().shredded == []
        assert _status(store, dossier_id)["status"] == "finalized"
    finally:
        await client.stop()
        store.close()


async def test_tampered_stored_receipt_is_never_trusted(box):
    settings, store, client = box
    dossier_id = add_dossier(store, pages=1)
    await client.sync_once()
    row = store.query("SELECT receipt FROM outbox WHERE dossier_id = ?", (dossier_id,))[0]
    answer = json.loads(row["receipt"])
    answer["receipt"]["manifest_sha256"] = "0" * 64  # altered after the fact
    store.write(lambda conn: conn.execute("UPDATE outbox SET receipt = ? WHERE dossier_id = ?",
                                          (json.dumps(answer), dossier_id)))
    report = client.retention()
    assert report.shredded == [] and report.refused == [dossier_id]
    assert _status(store, dossier_id)["status"] == "finalized"


async def test_receipt_signed_by_another_key_is_refused(box, hub):
    """A hub (or a man in the middle) whose receipt does not verify gets no shredding, ever."""
    settings, store, client = box
    impostor = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    store.write(lambda conn: conn.execute("UPDATE meta SET value = ? WHERE key = 'sync.receipt_key'",
                                          (b64e(impostor),)))
    dossier_id = add_dossier(store, pages=1)
    status = await client.sync_once()
    state = _status(store, dossier_id)
    assert state["state"] == "rejected" and state["receipt_verified"] == 0
    assert status.rejected == 1
    row = store.query("SELECT last_error FROM outbox WHERE dossier_id = ?", (dossier_id,))[0]
    assert "receipt" in row["last_error"]
    assert client.retention().shredded == []
    assert _status(store, dossier_id)["status"] == "finalized"
    # IT fixes the key and a person asks to send it again: the same receipt now verifies.
    store.write(lambda conn: conn.execute("UPDATE meta SET value = ? WHERE key = 'sync.receipt_key'",
                                          (base64.b64encode(hub.keys.receipt_public_raw).decode(),)))
    client.retry_rejected(dossier_id, actor="supervisor")
    await client.sync_once()
    assert _status(store, dossier_id)["receipt_verified"] == 1


async def test_disk_pressure_raises_an_alarm_and_spares_unconfirmed(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path, name="box3", retention_days=365)
    settings = settings.replace("store", disk_alarm_free_mb=10**9)  # any disk is "full"
    token = hub.add_station("HN-0003")
    await enroll_async(store, proxy.url, token, station_id="HN-0003")
    client = SyncClient(settings=settings, store=store)
    try:
        confirmed = add_dossier(store, pages=1)
        await client.sync_once()
        assert _status(store, confirmed)["state"] == "confirmed"
        proxy.set_mode("refuse")
        unsynced = add_dossier(store, pages=1)
        report = client.retention()
        assert report.disk_alarm
        assert confirmed in report.shredded  # early, because the city confirmed it
        assert _status(store, unsynced)["status"] == "finalized"
        status = client.status()
        assert status.disk_alarm and "Ổ đĩa" in (status.last_error_vi or "")
        actions = [r["action"] for r in store.query("SELECT action FROM audit")]
        assert "sync.disk_alarm" in actions
    finally:
        await client.stop()
        store.close()
