"""Fixtures of the daemon tests: a passphrase-protected box that starts locked."""

from __future__ import annotations

import pytest

from edge.store import Store
from tests.conftest import AGENCY, make_settings

PASSPHRASE = "mật khẩu buổi sáng"


@pytest.fixture
def locked_settings(tmp_path):
    settings = make_settings(tmp_path / "box", store={"key_provider": "passphrase"})
    Store.init(settings, agency_code=AGENCY, passphrase=PASSPHRASE)
    return settings
