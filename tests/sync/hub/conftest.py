"""Hub tests: the shared fixtures in tests/sync/conftest.py plus an enrolled station."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hubclient import Station


@pytest.fixture
def station(hub) -> Station:
    """A station enrolled on the hub."""
    token = hub.add_station("HN-0001")
    st = Station(hub.url, "HN-0001")
    reply = st.enroll(token)
    assert reply.status == 200, reply.body
    return st


@pytest.fixture
def limited_hub(hub):
    """``start(**limits)``: another hub worker on ``hub``'s storage, with its own connection limits
    (``sync.hub.HubLimits``); returns its URL. Stopped at the end of the test."""
    import asyncio
    import threading

    from sync.hub import HubLimits, create_hub_app, start_hub

    started = []

    def start(**limits) -> str:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="limited-hub", daemon=True)
        thread.start()
        app = create_hub_app(hub.storage, hub.keys, data_dir=hub.data_dir, clock=hub.now_ms, read_timeout=5.0,
                             limits=HubLimits(**limits))
        running = asyncio.run_coroutine_threadsafe(start_hub(app, host="127.0.0.1", port=0), loop).result(30)
        started.append((loop, thread, running))
        return running.url

    yield start
    for loop, thread, running in started:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
