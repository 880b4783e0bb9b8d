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
