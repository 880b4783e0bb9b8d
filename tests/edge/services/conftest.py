"""Fixtures: a real store with the demo catalog in a temporary directory."""

from __future__ import annotations

import pytest

from edge import reception
from edge.config import load_settings
from edge.store import Store

AGENCY = "000.00.06.H56"
BIN, ACCOUNT = "970415", "0011001932418"


@pytest.fixture
def settings(tmp_path):
    settings = load_settings(None, env={}, overrides={"store": {"state_dir": str(tmp_path / "state")}})
    return settings.replace("reception", vietqr_bin=BIN, vietqr_account=ACCOUNT)


@pytest.fixture
def store(tmp_path, settings):
    Store.init(settings, agency_code=AGENCY, demo_key_out=tmp_path / "city.key.json")
    store = Store.open(settings)
    reception.import_catalog(store, reception.load_catalog_json(reception.DEMO_CATALOG), source="demo")
    yield store
    store.close()
