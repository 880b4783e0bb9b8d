"""Pull: each feed batch and its checkpoint commit together; every item type lands where it belongs."""

from __future__ import annotations

import json

import pytest
from boxkit import AGENCY, add_dossier

from edge.reception import DEMO_CATALOG
from sync.hub._core import signed_command

HASH = "$argon2id$v=19$m=65536,t=3,p=4$spu3srgIf6j2rqorLAUdiQ$gjdGBSmMZqKfXtRA//5Q+EO/9mODnl1Qb855UT/Cj94"




async def test_every_item_type_is_applied_with_its_checkpoint(box, hub):
    settings, store, client = box
    dossier_id = add_dossier(store, pages=1)
    await client.sync_once()
    now = hub.now_ms()
    catalog = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    hub.storage.append_feed("procedure_catalog", {"version": "2026.11", "procedures": catalog["procedures"]},
                            now=now, agency_code=AGENCY)
    hub.storage.append_feed("clerk_account", {"username": "lan.nt", "display_name": "Nguyễn Thị Lan", "role": "clerk",
                                              "password_hash": HASH, "active": True}, now=now, agency_code=AGENCY)
    hub.storage.append_feed("calendar_override", {"date": "2026-12-26", "kind": "working_day", "reason": "làm bù"},
                            now=now)
    hub.storage.append_feed("calendar_override", {"date": "2026-12-31", "kind": "day_off", "reason": "nghỉ bù"}, now=now)
    hub.storage.append_feed("calendar_override", {"date": "2026-12-31", "kind": "none", "reason": ""}, now=now)
    hub.storage.set_status(dossier_id, status=4, note="đang thẩm định", now=now)
    hub.storage.append_feed("code_partition", {"agency_code": AGENCY, "partition_index": 7, "partition_size": 100},
                            now=now, station_id="HN-0001")
    hub.storage.append_feed("some_future_type", {"x": 1}, now=now)
    head = hub.storage.append_feed("clerk_account", {"username": "BAD USER"}, now=now).seq  # invalid: skipped

    report = await client.pull()
    assert int(store.meta_get("sync.feed_since")) == head == report.since
    # one row per procedure code, one version row per record (the demo has a future version)
    assert store.query("SELECT COUNT(*) AS n FROM procedures")[0]["n"] == len({p["code"] for p in catalog["procedures"]})
    assert store.query("SELECT COUNT(*) AS n FROM procedure_versions")[0]["n"] == len(catalog["procedures"])
    account = store.query("SELECT role, disabled, source FROM web_accounts WHERE username = 'lan.nt'")[0]
    assert account == {"role": "clerk", "disabled": 0, "source": "city"}
    overrides = {r["date"]: r["kind"] for r in store.query("SELECT date, kind FROM calendar_overrides")}
    assert overrides == {"2026-12-26": "working_day"}
    assert store.query("SELECT city_status FROM dossiers WHERE id = ?", (dossier_id,))[0]["city_status"] == "4"
    assert store.query("SELECT status_name FROM sync_city_status")[0]["status_name"]
    assert store.meta_get("code_partition_index") == "7"
    refused = [json.loads(r["details"]) for r in store.query("SELECT details FROM audit WHERE action = 'sync.feed_item_refused'")]
    assert [r["type"] for r in refused] == ["clerk_account"]
    # Nothing is applied twice: a second pull finds nothing new.
    again = await client.pull()
    assert again.applied == 0 and again.since == head


async def test_a_failed_batch_leaves_neither_effects_nor_checkpoint(box, hub, monkeypatch):
    settings, store, client = box
    now = hub.now_ms()
    hub.storage.append_feed("calendar_override", {"date": "2027-01-02", "kind": "day_off", "reason": "a"}, now=now)
    hub.storage.append_feed("calendar_override", {"date": "2027-01-03", "kind": "day_off", "reason": "b"}, now=now)
    from sync.client import _feed

    calls = {"n": 0}
    original = _feed.FeedApplier.apply

    def crash_on_second(self, conn, item, report):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")  # not an item error: the whole batch must roll back
        return original(self, conn, item, report)

    monkeypatch.setattr(_feed.FeedApplier, "apply", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        await client.pull()
    assert store.query("SELECT COUNT(*) AS n FROM calendar_overrides")[0]["n"] == 0
    assert int(store.meta_get("sync.feed_since") or 0) == 0
    monkeypatch.setattr(_feed.FeedApplier, "apply", original)
    await client.pull()
    assert store.query("SELECT COUNT(*) AS n FROM calendar_overrides")[0]["n"] == 2


async def test_forged_command_is_not_obeyed(box, hub):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync.hub import HubKeys

    settings, store, client = box
    add_dossier(store, pages=1)
    forger = HubKeys(receipt_key=Ed25519PrivateKey.generate(), city_public=hub.keys.city_public)
    forged = signed_command(forger, station_id="HN-0001", kind="wipe", now=hub.now_ms(), args={})
    hub.storage.append_feed("command", forged, now=hub.now_ms(), station_id="HN-0001")
    await client.pull()
    assert store.query("SELECT COUNT(*) AS n FROM sync_commands")[0]["n"] == 0
    assert store.query("SELECT COUNT(*) AS n FROM dossiers WHERE status = 'shredded'")[0]["n"] == 0
    # A genuine resync command is obeyed once.
    real = signed_command(hub.keys, station_id="HN-0001", kind="resync", now=hub.now_ms(), args={})
    hub.storage.append_feed("command", real, now=hub.now_ms(), station_id="HN-0001")
    await client.pull()
    assert [r["state"] for r in store.query("SELECT state FROM sync_commands")] == ["done"]
