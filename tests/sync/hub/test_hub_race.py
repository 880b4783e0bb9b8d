"""Two hub workers racing on the same dossier, many times: always exactly one 201, never a 409."""

from __future__ import annotations

import concurrent.futures
import os

from hubclient import Station, fake_manifest


def test_concurrent_creates_of_one_dossier_never_conflict_with_themselves(hub, hub_factory):
    other = hub_factory(worker_of=hub)
    a = Station(hub.url, "HN-0001")
    assert a.enroll(hub.add_station("HN-0001")).status == 200
    b = Station(other.url, "HN-0001", key=a.key)
    odd = []
    for i in range(30):
        m = fake_manifest("HN-0001", blobs=[os.urandom(500)], number=i + 1)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            puts = list(pool.map(lambda s, m=m: s.put(m), [a, b] * 4))
        statuses = sorted(r.status for r in puts)
        if statuses != [200] * 7 + [201]:
            odd.append((i, statuses, [r.json for r in puts if r.status >= 300]))
    assert odd == []
    assert len(hub.storage.list_dossiers()) == 30
