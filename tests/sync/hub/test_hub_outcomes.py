"""The hub stores each dossier's counter outcome and counts them, on SQLite and PostgreSQL; an
unknown outcome is refused at the door."""

from __future__ import annotations

from hubclient import fake_manifest


def _send(station, manifest: dict) -> None:
    assert station.put(manifest).status == 201
    for blob in manifest.pop("_blobs", []):
        station.upload(manifest["dossier_id"], blob)
    reply = station.commit(manifest)
    assert reply.status == 200, reply.body


def test_outcomes_are_stored_and_counted(hub, station):
    for number, outcome in ((1, None), (2, "refused"), (3, "supplement_requested"), (4, "refused")):
        m = fake_manifest(station.station_id, number=number, blobs=[])
        if outcome:
            m["outcome"] = outcome
        if number == 1:
            m["meta"] = {"supplement_of": "000.00.21.H29-261121-0042"}
        _send(station, m)
    pending = fake_manifest(station.station_id, number=5, blobs=[], dossier_id=None)
    pending["outcome"] = "refused"
    assert station.put(pending).status == 201  # created, not committed: not counted yet
    assert hub.storage.outcome_counts() == {"received": 1, "refused": 2, "supplement_requested": 1}
    assert hub.storage.outcome_counts(committed_only=False)["refused"] == 3


def test_an_unknown_outcome_is_refused(hub, station):
    m = fake_manifest(station.station_id, blobs=[])
    m["outcome"] = "lost"
    reply = station.put(m)
    assert reply.status == 400 and "outcome" in reply.body.decode()
    assert hub.storage.list_dossiers() == []
