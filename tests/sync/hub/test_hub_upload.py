"""Idempotent create, chunked resumable upload, commit receipts: exactly once, permanently."""

from __future__ import annotations

import hashlib
import os
import socket

from hubclient import Station, fake_manifest

from sync.protocol import manifest_sha256, sign_request, verify_receipt


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_create_is_idempotent(hub, station):
    m = fake_manifest(station.station_id)
    first = station.put(m)
    assert first.status == 201, first.body
    again = station.put(m)
    assert again.status == 200 and again.json == first.json
    assert len(hub.storage.list_dossiers()) == 1
    assert first.json["manifest_sha256"] == manifest_sha256(m)


def test_conflicting_manifest_and_code_refused(hub, station):
    m = fake_manifest(station.station_id, number=7)
    assert station.put(m).status == 201
    changed = dict(m, procedure_code="1.000001")
    reply = station.put(changed)
    assert reply.status == 409 and reply.json["error"]["code"] == "manifest_conflict"
    assert reply.json["error"]["retryable"] is False and reply.json["manifest_sha256"] == manifest_sha256(m)
    same_code = fake_manifest(station.station_id, number=7)
    reply = station.put(same_code)
    assert reply.status == 409 and reply.json["error"]["code"] == "code_conflict"
    assert reply.json["dossier_id"] == m["dossier_id"]
    assert len(hub.storage.list_dossiers()) == 1


def test_manifest_validation_names_the_field(station):
    m = fake_manifest(station.station_id)
    m["blobs"][0]["size"] = 0
    reply = station.put(m)
    assert reply.status == 400 and reply.json["field"] == "blobs[0].size"
    m = fake_manifest(station.station_id, agency="000.00.07.H56")
    assert station.put(m).json["field"] == "agency_code"
    m = fake_manifest(station.station_id)
    m["surprise"] = 1
    assert station.put(m).json["field"] == "surprise"


def test_other_station_cannot_touch_a_dossier(hub, station):
    m = fake_manifest(station.station_id)
    assert station.put(m).status == 201
    other = Station(hub.url, "HN-0002")
    assert other.enroll(hub.add_station("HN-0002")).status == 200
    reply = other.signed("GET", f"/v1/dossiers/{m['dossier_id']}")
    assert reply.status == 403 and reply.json["error"]["code"] == "forbidden"


def test_chunked_upload_offset_mismatch_and_resume(hub, station):
    blob = os.urandom(200_000)
    m = fake_manifest(station.station_id, blobs=[blob])
    did, sha = m["dossier_id"], _sha(blob)
    assert station.put(m).status == 201
    assert station.head(did, sha).headers["upload-offset"] == "0"
    reply = station.patch(did, sha, 0, blob[:50_000])
    assert reply.status == 204 and reply.headers["upload-offset"] == "50000"
    # The box thinks it is elsewhere: the hub says where it really is.
    reply = station.patch(did, sha, 80_000, blob[80_000:90_000])
    assert reply.status == 409 and reply.json["error"]["code"] == "offset_mismatch"
    assert reply.json["offset"] == 50_000 and reply.headers["upload-offset"] == "50000"
    # A duplicated chunk (retry of an acknowledged PATCH) is an offset mismatch too, not a double write.
    assert station.patch(did, sha, 0, blob[:50_000]).status == 409
    # Bad chunk checksum: discarded, offset unchanged.
    reply = station.patch(did, sha, 50_000, blob[50_000:60_000], checksum=_sha(b"other"))
    assert reply.status == 460 and reply.json["error"]["code"] == "checksum_mismatch"
    assert station.head(did, sha).headers["upload-offset"] == "50000"
    # Hub restart in the middle: nothing acknowledged is lost.
    hub.restart()
    station.url = __import__("urllib.parse").parse.urlsplit(hub.url)
    head = station.head(did, sha)
    assert head.headers["upload-offset"] == "50000" and head.headers["x-motcua-blob-state"] == "partial"
    station.upload(did, blob, chunk=64 * 1024)
    head = station.head(did, sha)
    assert head.headers["upload-offset"] == str(len(blob)) and head.headers["x-motcua-blob-state"] == "complete"
    assert (hub.data_dir / "blobs" / sha[:2] / sha).read_bytes() == blob
    assert not (hub.data_dir / "partial" / sha).exists()


def test_connection_cut_mid_chunk_keeps_received_bytes(hub, station):
    blob = os.urandom(300_000)
    m = fake_manifest(station.station_id, blobs=[blob])
    did, sha = m["dossier_id"], _sha(blob)
    assert station.put(m).status == 201
    path = f"/v1/dossiers/{did}/blobs/{sha}"
    chunk = blob[:200_000]
    headers = sign_request(station.key, station_id=station.station_id, method="PATCH", path_qs=path, body=chunk,
                           timestamp_ms=station.signer.now_ms())
    head = (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: 0\r\nContent-Length: {len(chunk)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    import time

    with socket.create_connection((station.url.hostname, station.url.port)) as s:
        s.sendall(head + chunk[:120_000])
        time.sleep(1.0)  # let the hub consume what was sent, then the link drops mid-chunk
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    # The hub kept (and fsynced) what arrived; the box resumes from there.
    deadline = time.monotonic() + 10
    while int(station.head(did, sha).headers["upload-offset"]) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    offset = int(station.head(did, sha).headers["upload-offset"])
    assert 0 < offset <= 120_000
    station.upload(did, blob)
    assert station.commit(m).status == 200


def test_corrupt_blob_discarded_at_completion(station):
    blob = os.urandom(10_000)
    m = fake_manifest(station.station_id, blobs=[blob])
    did, sha = m["dossier_id"], _sha(blob)
    assert station.put(m).status == 201
    evil = bytes([blob[0] ^ 1]) + blob[1:]
    reply = station.patch(did, sha, 0, evil)
    assert reply.status == 460 and reply.json["error"]["code"] == "blob_hash_mismatch"
    assert station.head(did, sha).headers["upload-offset"] == "0"
    assert station.patch(did, sha, 0, blob).status == 204


def test_commit_requires_blobs_and_repeats_identical_receipt(hub, station):
    blobs = [os.urandom(70_000), os.urandom(1000)]
    m = fake_manifest(station.station_id, blobs=blobs)
    did = m["dossier_id"]
    assert station.put(m).status == 201
    early = station.commit(m)
    assert early.status == 409 and early.json["error"]["code"] == "blobs_incomplete"
    assert {x["sha256"] for x in early.json["missing"]} == {_sha(b) for b in blobs}
    for b in blobs:
        station.upload(did, b, chunk=32 * 1024)
    first = station.commit(m)
    assert first.status == 200, first.body
    receipt = verify_receipt(first.json, hub.keys.receipt_public_raw, dossier_id=did,
                             manifest_sha256=manifest_sha256(m), blobs=[_sha(b) for b in blobs])
    assert receipt["station_id"] == station.station_id and receipt["code"] == m["code"]
    second = station.commit(m)
    assert second.status == 200 and second.body == first.body
    # Creating again after commit is still idempotent and reports the receipt.
    state = station.put(m)
    assert state.status == 200 and state.json["state"] == "committed" and state.json["receipt"] == first.json
    wrong = station.json_call("POST", f"/v1/dossiers/{did}/commit", {"manifest_sha256": "0" * 64})
    assert wrong.status == 409 and wrong.json["error"]["code"] == "manifest_conflict"
    assert len(hub.storage.list_dossiers()) == 1


def test_hub_seq_increases(station):
    seqs = []
    for n in range(3):
        blob = os.urandom(100)
        m = fake_manifest(station.station_id, blobs=[blob], number=n + 1)
        station.put(m)
        station.upload(m["dossier_id"], blob)
        seqs.append(station.commit(m).json["receipt"]["hub_seq"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_patch_to_blob_outside_manifest_or_past_size(station):
    blob = os.urandom(1000)
    m = fake_manifest(station.station_id, blobs=[blob])
    station.put(m)
    assert station.head(m["dossier_id"], _sha(b"x")).status == 404
    reply = station.patch(m["dossier_id"], _sha(blob), 0, blob + b"extra")
    assert reply.status == 413 and reply.json["error"]["code"] == "too_large"
