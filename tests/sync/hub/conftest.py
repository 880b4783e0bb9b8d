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
