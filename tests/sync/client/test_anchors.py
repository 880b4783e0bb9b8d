"""A box provisioned with trust anchors refuses an enrollment answer that carries other keys."""

from __future__ import annotations

import json

import pytest
from boxkit import AGENCY, box_settings

from edge.store import Store
from sync.client import AnchorMismatchError, CityKeyChangeError, enroll_async
from sync.protocol import b64e


def _provisioned_box(tmp_path, hub, *, city_from, receipt_from):
    """Store.init as first boot does it, from a bundle's anchors (here: another hub's, or this one's)."""
    settings = box_settings(tmp_path / "box")
    city = (city_from.data_dir / "keys" / "city-public-key.json").read_bytes()
    Store.init(settings, agency_code=AGENCY, city_public_key=city,
               hub_receipt_key=b64e(receipt_from.keys.receipt_public_raw))
    store = Store.open(settings)
    store.station_signing_key()  # first boot makes the station key before it enrolls
    return store


def _everything(store: Store) -> dict:
    return {"meta": store.query("SELECT key, value FROM meta ORDER BY key"),
            "city": json.loads((store.root / "keys" / "city.pub.json").read_text()),
            "audit": store.query("SELECT COUNT(*) AS n FROM audit")[0]["n"]}


@pytest.mark.parametrize("which", ["city", "receipt"])
async def test_an_answer_with_other_anchors_is_refused_and_nothing_changes(tmp_path, hub, proxy, hub_factory, which):
    other = hub_factory("sqlite")
    store = _provisioned_box(tmp_path, hub, city_from=other if which == "city" else hub,
                             receipt_from=other if which == "receipt" else hub)
    try:
        before = _everything(store)
        with pytest.raises(AnchorMismatchError) as info:
            await enroll_async(store, proxy.url, hub.add_station("HN-0401"), station_id="HN-0401")
        assert "provisioned with" in str(info.value) and info.value.message_vi
        assert _everything(store) == before
        assert not store.meta_get("sync.receipt_key")
    finally:
        store.close()


async def test_an_answer_with_the_provisioned_anchors_enrolls(tmp_path, hub, proxy):
    store = _provisioned_box(tmp_path, hub, city_from=hub, receipt_from=hub)
    try:
        result = await enroll_async(store, proxy.url, hub.add_station("HN-0402"), station_id="HN-0402")
        assert not result.city_key_changed
        assert store.meta_get("sync.receipt_key") == store.anchors()["hub_receipt_key"]
    finally:
        store.close()


async def test_a_new_city_key_is_refused_while_the_hub_holds_partly_sent_dossiers(tmp_path, hub, proxy, hub_factory):
    from boxkit import add_dossier, make_box

    settings, store = make_box(tmp_path, name="partly")
    try:
        await enroll_async(store, proxy.url, hub.add_station("HN-0403"), station_id="HN-0403")
        dossier_id = add_dossier(store, pages=1, page_bytes=1000)
        store.station_signing_key()
        # what a push cut after the hub's create answer leaves
        await store.awrite(lambda conn: conn.execute("UPDATE outbox SET state = 'created' WHERE dossier_id = ?",
                                                     (dossier_id,)))
        before = _everything(store)
        other = hub_factory("sqlite")
        from faultproxy import FaultProxy

        with FaultProxy("127.0.0.1", int(other.url.rsplit(":", 1)[1])) as p2, pytest.raises(CityKeyChangeError):
            await enroll_async(store, p2.url, other.add_station("HN-0403"), station_id="HN-0403")
        assert _everything(store) == before
    finally:
        store.close()
