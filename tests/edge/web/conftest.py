"""Fixtures: a real store in a temporary directory, the demo catalog, three accounts, the app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from web_helpers import make_settings, open_store

from edge.web import create_app


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, lockout_attempts=3, max_upload_mb=1)


@pytest.fixture
def store(tmp_path, settings):
    store = open_store(tmp_path, settings)
    yield store
    store.close()


@pytest.fixture
async def client(aiohttp_client, settings, store):
    return await aiohttp_client(create_app(settings=settings, store=store))


