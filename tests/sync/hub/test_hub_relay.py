"""The relay endpoints (docs/sync-protocol.md §14.2–14.3) over real HTTP, on both storage backends:
a dossier is accepted under the origin's voucher only, and stored once whoever brings it."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import pytest
from hubclient import Station, fake_manifest

from sync.hub import system_clock
from sync.hub._core import wipe_builder
from sync.protocol import CHUNK_MEDIA_TYPE, make_voucher, manifest_sha256, sha256_hex


@pytest.fixture
def relay(hub, station) -> Station:
    """A second enrolled station (BR-0001) that relays for HN-0001 (the ``station`` fixture)."""
    st = Station(hub.url, "BR-0001")
    assert st.enroll(hub.add_station("BR-0001")).status == 200
    return st


def _voucher(hub, key, manifest, *, station="HN-0001", city=None):
    return make_voucher(key, station=station, dossier=manifest["dossier_id"], manifest_sha256=manifest_sha256(manifest),
                        receipt_key_id=city or hub.keys.receipt_key_id, transfer_id=uuid.uuid4().hex)


def _put(relay, manifest, voucher):
    return relay.json_call("PUT", f"/v1/relay/dossiers/{manifest['dossier_id']}",
                           {"voucher": voucher, "manifest": manifest})


def _patch(relay, dossier_id, blob, offset=0, end=None):
    sha = hashlib.sha256(blob).hexdigest()
    chunk = blob[offset:end]
    return relay.signed("PATCH", f"/v1/relay/dossiers/{dossier_id}/blobs/{sha}", chunk,
                        content_type=CHUNK_MEDIA_TYPE, extra={"Upload-Offset": str(offset)},
                        content_sha256=sha256_hex(chunk))


def test_a_relayed_dossier_is_the_origin_s_and_stored_once(hub, station, relay):
    blobs = [os.urandom(5000), os.urandom(7000)]
    m = fake_manifest("HN-0001", blobs=blobs)
    v = _voucher(hub, station.key, m)
    assert _put(relay, m, v).status == 201
    sha0 = hashlib.sha256(blobs[0]).hexdigest()
    # Half of the first blob, then where to resume, then the rest.
    assert _patch(relay, m["dossier_id"], blobs[0], 0, 2000).status == 204
    head = relay.signed("HEAD", f"/v1/relay/dossiers/{m['dossier_id']}/blobs/{sha0}")
    assert head.headers["upload-offset"] == "2000"
    assert _patch(relay, m["dossier_id"], blobs[0], 2000).status == 204
    assert _patch(relay, m["dossier_id"], blobs[1]).status == 204
    commit = relay.json_call("POST", f"/v1/relay/dossiers/{m['dossier_id']}/commit",
                             {"manifest_sha256": manifest_sha256(m)})
    assert commit.status == 200
    receipt = commit.json["receipt"]
    assert receipt["station_id"] == "HN-0001" and receipt["blobs"] == [hashlib.sha256(b).hexdigest() for b in blobs]
    d = hub.storage.get_dossier(m["dossier_id"])
    assert d.station_id == "HN-0001" and d.state == "committed"
    for b in blobs:
        sha = hashlib.sha256(b).hexdigest()
        assert (hub.data_dir / "blobs" / sha[:2] / sha).read_bytes() == b
    # The same dossier again, by the relay or by its origin online: the same receipt, nothing new.
    again = _put(relay, m, v)
    assert again.status == 200 and again.json["receipt"] == commit.json
    online = station.put(m)
    assert online.status == 200 and online.json["state"] == "committed" and online.json["receipt"] == commit.json
    assert len(hub.storage.list_dossiers()) == 1


def test_a_manifest_changed_after_its_voucher_is_refused(hub, station, relay):
    m = fake_manifest("HN-0001")
    v = _voucher(hub, station.key, m)
    m["procedure_code"] = "1.000001"
    reply = _put(relay, m, v)
    assert reply.status == 400 and reply.code == "invalid_request" and reply.json["field"] == "manifest"
    assert hub.storage.list_dossiers() == []


def test_a_voucher_not_signed_by_the_origin_is_refused(hub, station, relay):
    m = fake_manifest("HN-0001")
    reply = _put(relay, m, _voucher(hub, relay.key, m))  # the relay cannot speak for HN-0001
    assert reply.status == 403 and reply.code == "origin_bad_signature"
    bad = _voucher(hub, station.key, m)
    bad["signature"] = _voucher(hub, station.key, fake_manifest("HN-0001"))["signature"]
    assert _put(relay, m, bad).code == "origin_bad_signature"
    assert hub.storage.list_dossiers() == []


def test_a_revoked_origin_and_another_city_are_refused(hub, station, relay):
    m = fake_manifest("HN-0001")
    reply = _put(relay, m, _voucher(hub, station.key, m, city="0123456789abcdef"))
    assert reply.status == 403 and reply.code == "wrong_city"
    unknown = fake_manifest("XX-0009")
    assert _put(relay, unknown, _voucher(hub, station.key, unknown, station="XX-0009")).code == "origin_unknown"
    hub.storage.revoke("HN-0001", reason="stolen", now=system_clock(), command_id=uuid.uuid4().hex,
                       build_command=wipe_builder(hub.keys, "stolen"))
    reply = _put(relay, m, _voucher(hub, station.key, m))
    assert reply.status == 403 and reply.code == "origin_revoked" and "stolen" in reply.json["error"]["message"]
    assert hub.storage.list_dossiers() == []


def test_the_relay_itself_must_be_enrolled_and_blobs_must_be_in_the_manifest(hub, station, relay):
    m = fake_manifest("HN-0001")
    stranger = Station(hub.url, "NOPE-1")
    assert _put(stranger, m, _voucher(hub, station.key, m)).code == "unknown_station"
    assert _put(relay, m, _voucher(hub, station.key, m)).status == 201
    reply = _patch(relay, m["dossier_id"], os.urandom(100))
    assert reply.status == 404 and reply.code == "not_found"
    body = json.loads(relay.json_call("POST", f"/v1/relay/dossiers/{m['dossier_id']}/commit",
                                      {"manifest_sha256": manifest_sha256(m)}).body)
    assert body["error"]["code"] == "blobs_incomplete"
