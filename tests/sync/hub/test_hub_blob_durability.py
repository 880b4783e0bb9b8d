"""Blob completion on the hub's disk: verified before it counts, recorded with the commit, and a
blob whose every byte was acknowledged survives a hub that stopped before moving it into place."""

from __future__ import annotations

import hashlib
import os

from hubclient import fake_manifest

from sync.protocol import manifest_sha256, verify_receipt


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _left_partial(hub, blob: bytes) -> None:
    """What a hub stopped between the chunk's fsync and the rename leaves: a full partial file."""
    (hub.data_dir / "partial" / _sha(blob)).write_bytes(blob)


def test_full_partial_is_verified_and_completed_by_head_and_commit(hub, station):
    blobs = [os.urandom(40_000), os.urandom(30_000)]
    m = fake_manifest(station.station_id, blobs=blobs)
    did = m["dossier_id"]
    assert station.put(m).status == 201
    for b in blobs:
        _left_partial(hub, b)
    head = station.head(did, _sha(blobs[0]))
    assert head.status == 200
    assert head.headers["x-motcua-blob-state"] == "complete" and head.headers["upload-offset"] == str(len(blobs[0]))
    assert (hub.data_dir / "blobs" / _sha(blobs[0])[:2] / _sha(blobs[0])).read_bytes() == blobs[0]
    # The second one is completed by the commit itself, and recorded in its transaction.
    commit = station.commit(m)
    assert commit.status == 200, commit.body
    verify_receipt(commit.json, hub.keys.receipt_public_raw, dossier_id=did, manifest_sha256=manifest_sha256(m),
                   blobs=[_sha(b) for b in blobs])
    assert [b.complete for b in hub.storage.get_dossier(did).blobs] == [True, True]
    assert not any((hub.data_dir / "partial").iterdir())


def test_full_partial_with_wrong_bytes_is_discarded_not_completed(hub, station):
    blob = os.urandom(20_000)
    m = fake_manifest(station.station_id, blobs=[blob])
    did = m["dossier_id"]
    assert station.put(m).status == 201
    (hub.data_dir / "partial" / _sha(blob)).write_bytes(bytes([blob[0] ^ 1]) + blob[1:])
    head = station.head(did, _sha(blob))
    assert head.headers["x-motcua-blob-state"] == "partial" and head.headers["upload-offset"] == "0"
    early = station.commit(m)
    assert early.status == 409 and early.json["error"]["code"] == "blobs_incomplete"
    assert not (hub.data_dir / "blobs" / _sha(blob)[:2] / _sha(blob)).exists()
    assert station.patch(did, _sha(blob), 0, blob).status == 204
    assert station.commit(m).status == 200


def test_whole_chunk_completes_without_a_database_write_until_commit(hub, station):
    """One PATCH carries a whole blob: complete on disk at once, recorded by the commit."""
    blob = os.urandom(300_000)
    m = fake_manifest(station.station_id, blobs=[blob])
    did, sha = m["dossier_id"], _sha(blob)
    assert station.put(m).status == 201
    reply = station.patch(did, sha, 0, blob)
    assert reply.status == 204 and reply.headers["x-motcua-blob-state"] == "complete"
    assert (hub.data_dir / "blobs" / sha[:2] / sha).read_bytes() == blob
    state = station.put(m).json  # the dossier's state already says complete
    assert state["blobs"] == [{"sha256": sha, "size": len(blob), "offset": len(blob), "complete": True}]
    again = station.patch(did, sha, 0, blob)
    assert again.status == 409 and again.json["error"]["code"] == "offset_mismatch"
    assert station.commit(m).status == 200
    assert [b.complete for b in hub.storage.get_dossier(did).blobs] == [True]
