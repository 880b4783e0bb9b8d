"""Several hub workers on one database: dedup, nonces and receipts live in the database."""

from __future__ import annotations

import concurrent.futures
import os

from hubclient import Station, fake_manifest


def test_two_workers_dedup_replay_and_same_receipt(hub, hub_factory):
    other = hub_factory(worker_of=hub)
    a = Station(hub.url, "HN-0001")
    assert a.enroll(hub.add_station("HN-0001")).status == 200
    b = Station(other.url, "HN-0001", key=a.key)
    blob = os.urandom(50_000)
    m = fake_manifest("HN-0001", blobs=[blob])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        puts = list(pool.map(lambda s: s.put(m), [a, b] * 4))
    assert sorted(r.status for r in puts) == [200] * 7 + [201]
    # Nonces are shared: a request replayed against the other worker is refused.
    assert a.heartbeat().status == 200
    replay = b.raw("POST", "/v1/heartbeat", b'{"pending": 0}', a.last_signed_headers)
    assert replay.json["error"]["code"] == "replayed_request"
    a.upload(m["dossier_id"], blob, chunk=20_000)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        commits = list(pool.map(lambda s: s.commit(m), [a, b] * 4))
    assert {r.status for r in commits} == {200} and len({r.body for r in commits}) == 1
    assert len(hub.storage.list_dossiers()) == 1
