"""Fixtures for the box-side sync tests: a real hub (tests/sync/conftest.py) behind the fault proxy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/sync: faultproxy
sys.path.insert(0, str(Path(__file__).resolve().parent))       # boxkit

from faultproxy import FaultProxy


@pytest.fixture
def hub(hub_factory):
    """One real hub over SQLite on 127.0.0.1 (the hub's own suite covers PostgreSQL)."""
    return hub_factory("sqlite")


@pytest.fixture
def proxy(hub):
    port = int(hub.url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as p:
        yield p


@pytest.fixture
async def make_enrolled(tmp_path, hub, proxy):
    """Make a box enrolled as HN-0001 through the proxy: (settings, store, client); stopped after."""
    from boxkit import make_box

    from sync.client import SyncClient, enroll_async

    made = []

    async def make(**sync):
        settings, store = make_box(tmp_path, **sync)
        await enroll_async(store, proxy.url, hub.add_station("HN-0001"), station_id="HN-0001")
        client = SyncClient(settings=settings, store=store)
        made.append((client, store))
        return settings, store, client

    yield make
    for client, store in made:
        await client.stop()
        store.close()


@pytest.fixture
async def box(make_enrolled):
    return await make_enrolled()
