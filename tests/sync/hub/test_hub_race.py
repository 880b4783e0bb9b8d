"""Two hub workers racing on the same dossier, many times: always exactly one 201, never a 409."""

from __future__ import annotations

import concurrent.futures
import os
import threading

import pytest
from hubclient import Station, fake_manifest

from sync.protocol import StationImport


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


@pytest.mark.postgres
def test_concurrent_imports_listing_agencies_in_other_orders_do_not_deadlock(hub_factory):
    """Two workers import station files naming the same agencies in opposite orders, many times."""
    hub = hub_factory("postgres", start=False)
    other = hub.new_worker_storage()
    agencies = [f"000.00.{i:02d}.H56" for i in range(1, 7)]
    errors: list[BaseException] = []
    try:
        for round_ in range(6):
            lines = [[StationImport(station_id=f"R{round_}-{w}-{i}", agency_code=agency, name="", kind="branch",
                                    address="", token_sha256="a" * 64, token_expires_at_ms=hub.now_ms() + 3_600_000,
                                    partition_index=None)
                      for i, agency in enumerate(order)]
                     for w, order in enumerate((agencies, agencies[::-1]))]
            barrier = threading.Barrier(2)

            def run(storage, rows, barrier=barrier):
                barrier.wait()
                try:
                    storage.import_stations(rows, now=hub.now_ms(), partition_size=10)
                except BaseException as exc:  # collected and shown below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(s, rows)) for s, rows in zip((hub.storage, other), lines, strict=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        assert errors == []
        assert len(hub.storage.list_stations()) == 6 * 2 * len(agencies)
    finally:
        other.close()
