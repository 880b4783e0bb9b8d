"""`provision init` with a bad anchor writes nothing."""

from __future__ import annotations

import json

import pytest

from edge.store import CityPrivateKey
from provisioning._errors import ProvisioningError
from provisioning._keys import init_keys


def test_a_private_city_key_is_refused_and_nothing_is_written(tmp_path):
    private = tmp_path / "city-private.json"
    private.write_text(json.dumps(CityPrivateKey.generate("X25519").to_json()))
    with pytest.raises(ProvisioningError, match="PRIVATE"):
        init_keys(tmp_path / "keys", city_key=private)
    assert not (tmp_path / "keys").exists()
