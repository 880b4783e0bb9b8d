"""Signed requests: verification, replays, tampering, clock skew, revocation, key rotation."""

from __future__ import annotations

import base64
import json
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hubclient import Station

from sync.hub._core import wipe_builder
from sync.protocol import rotation_message, verify_command


def test_signed_request_verifies(station):
    reply = station.heartbeat(disk_free_bytes=10**9, versions={"motcua": "0.1.0"})
    assert reply.status == 200, reply.body
    assert "feed_head" in reply.json


def test_unsigned_and_unknown_station_refused(hub, station):
    reply = station.raw("GET", "/v1/station")
    assert reply.status == 401 and reply.json["error"]["code"] == "unsigned"
    stranger = Station(hub.url, "HN-9999")
    assert stranger.signed("GET", "/v1/station").json["error"]["code"] == "unknown_station"


def test_replayed_request_refused(station):
    first = station.heartbeat()
    assert first.status == 200
    body = json.dumps({"pending": 0}).encode()
    replay = station.raw("POST", "/v1/heartbeat", body, station.last_signed_headers)
    assert replay.status == 401 and replay.json["error"]["code"] == "replayed_request"
    assert replay.json["error"]["retryable"] is False


def test_tampered_body_refused(station):
    station.heartbeat(pending=1)
    headers = dict(station.last_signed_headers)
    headers["X-Motcua-Nonce"] = headers["X-Motcua-Nonce"][:-2] + "zz"  # fresh nonce, signature now stale
    reply = station.raw("POST", "/v1/heartbeat", json.dumps({"pending": 1}).encode(), headers)
    assert reply.status == 401 and reply.json["error"]["code"] == "bad_signature"
    # Same signed headers (new nonce, properly signed) but a different body than the one hashed.
    body = json.dumps({"pending": 2}).encode()
    headers = station.signer.headers("POST", "/v1/heartbeat", json.dumps({"pending": 3}).encode())
    headers["Content-Type"] = "application/json"
    reply = station.raw("POST", "/v1/heartbeat", body, headers)
    assert reply.status == 460 and reply.json["error"]["code"] == "checksum_mismatch"


def test_tampered_path_refused(station):
    headers = station.signer.headers("GET", "/v1/feed?since=0")
    reply = station.raw("GET", "/v1/feed?since=5", headers=headers)
    assert reply.json["error"]["code"] == "bad_signature"


def test_clock_days_off_is_corrected_from_any_answer(hub, station):
    station.signer.offset_ms = -3 * 86400_000  # the box believes it is three days ago
    reply = station.signed("GET", "/v1/station")
    assert reply.status == 401 and reply.json["error"]["code"] == "clock_skew"
    assert reply.json["error"]["retryable"] is True
    server = int(reply.headers["x-motcua-server-time"])
    station.signer.offset_ms = server - int(time.time() * 1000)
    assert station.signed("GET", "/v1/station").status == 200


def test_revoked_station_refused_and_told_to_wipe(hub, station):
    hub.storage.revoke(station.station_id, reason="stolen", now=hub.now_ms(), command_id=uuid.uuid4().hex,
                       build_command=wipe_builder(hub.keys, "stolen"))
    for reply in (station.heartbeat(), station.feed(), station.signed("GET", "/v1/station")):
        assert reply.status == 403
        body = reply.json
        assert body["error"]["code"] == "station_revoked"
        cmd = verify_command(body["command"], hub.keys.receipt_public_raw, station_id=station.station_id)
        assert cmd["kind"] == "wipe"
    other = Station(hub.url, "HN-0002")
    assert other.enroll(hub.add_station("HN-0002")).status == 200
    items = other.feed().json["items"]
    assert [i["type"] for i in items] == ["revocation"]


def test_key_rotation(hub, station):
    new = Ed25519PrivateKey.generate()
    new_b64 = base64.b64encode(new.public_key().public_bytes_raw()).decode()
    ts = station.signer.now_ms()
    proof = base64.b64encode(new.sign(rotation_message(station.station_id, new_b64, ts))).decode()
    body = json.dumps({"new_public_key": new_b64, "proof": proof}).encode()
    reply = station.signed("POST", "/v1/keys/rotate", body, timestamp_ms=ts)
    assert reply.status == 200, reply.body
    assert station.heartbeat().json["error"]["code"] == "bad_signature"
    station.signer.key = new
    assert station.heartbeat().status == 200


def test_key_rotation_needs_proof_of_the_new_key(station):
    new = Ed25519PrivateKey.generate()
    new_b64 = base64.b64encode(new.public_key().public_bytes_raw()).decode()
    bogus = base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()
    reply = station.signed("POST", "/v1/keys/rotate", json.dumps({"new_public_key": new_b64, "proof": bogus}).encode())
    assert reply.status == 400 and reply.json["field"] == "proof"
    assert station.heartbeat().status == 200


def test_wrong_protocol_version_refused(station):
    reply = station.signed("GET", "/v1/station", extra={"X-Motcua-Protocol": "2"})
    assert reply.status == 400 and reply.json["error"]["code"] == "unsupported_version"
