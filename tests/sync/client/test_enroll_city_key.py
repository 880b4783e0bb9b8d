"""An enrollment answer whose city key is malformed is a protocol error naming the field."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.sealed import CityPrivateKey
from sync.client._enroll import _validate
from sync.errors import ProtocolError
from sync.protocol import key_id


def _answer(city_key) -> dict:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return {"station": {"station_id": "HN-0001", "agency_code": "000.00.06.H56", "kind": "branch"},
            "code_partition": {"partition_index": 1, "partition_size": 1000},
            "hub": {"receipt_public_key": base64.b64encode(raw).decode(), "receipt_key_id": key_id(raw),
                    "city_public_key": city_key, "feed_head": 0}}


def test_a_good_city_key_is_taken() -> None:
    city = CityPrivateKey.generate("X25519").public()
    assert _validate(_answer(city.to_json()), "HN-0001")["city"] == city


@pytest.mark.parametrize("city_key", [None, [], {"kem": "RSA"}, {"kem": "X25519", "x25519": "AAAA"},
                                      {"kind": "motcua-city-public-key", "kem": "X25519"}])
def test_a_malformed_city_key_is_a_protocol_error(city_key) -> None:
    with pytest.raises(ProtocolError, match="hub.city_public_key") as err:
        _validate(_answer(city_key), "HN-0001")
    assert err.value.field == "hub.city_public_key"
