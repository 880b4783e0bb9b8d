"""Bundles: signature over the payload, refusal of anything altered or signed by another key."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning import BundleError, BundlePayload, sign_bundle, verify_bundle
from provisioning._batch import StationPlan, _payload

PLAN = StationPlan(serial="PI1", station_id="000.00.06.H56-S0000", station_name="Điểm Phúc Xá",
                   agency_code="000.00.06.H56", kind="commune", address="1 Lê Lợi", hub_url="https://hub.example",
                   partition_index=0, partition_size=3333)


@pytest.fixture
def signed(prov_keys) -> tuple[bytes, BundlePayload]:
    import datetime as dt

    now = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    payload = _payload(PLAN, prov_keys, "A" * 32, now, now + dt.timedelta(days=7))
    return sign_bundle(payload, prov_keys.private_key), payload


def test_round_trip(signed, prov_keys):
    data, payload = signed
    got = verify_bundle(data, prov_keys.public_key)
    assert got == payload
    assert got.station["code_partition_size"] == 3333
    assert got.anchors.city_public_key == prov_keys.anchors.city_public_key


def _mutate(data: bytes, fn) -> bytes:
    env = json.loads(data)
    body = json.loads(base64.b64decode(env["payload"]))
    fn(body)
    env["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    return json.dumps(env).encode()


@pytest.mark.parametrize("change", [
    lambda b: b["station"].update(agency_code="000.00.07.H56"),
    lambda b: b.update(token="B" * 32),
    lambda b: b["sync"].update(hub_url="https://evil.example"),
    lambda b: b["anchors"].update(ca_pem="-----BEGIN CERTIFICATE-----"),
])
def test_tampered_payload_refused(signed, prov_keys, change):
    with pytest.raises(BundleError, match="signature does not verify"):
        verify_bundle(_mutate(signed[0], change), prov_keys.public_key)


def test_other_key_refused(signed, prov_keys):
    data, payload = signed
    other = Ed25519PrivateKey.generate()
    with pytest.raises(BundleError, match="signed by another provisioning key"):
        verify_bundle(sign_bundle(payload, other), prov_keys.public_key)
    # Even with the fingerprint field forged to ours, the signature gives it away.
    env = json.loads(sign_bundle(payload, other))
    env["key_fingerprint"] = json.loads(data)["key_fingerprint"]
    with pytest.raises(BundleError, match="signature does not verify"):
        verify_bundle(json.dumps(env).encode(), prov_keys.public_key)


@pytest.mark.parametrize("data, message", [
    (b"not json", "malformed bundle, not JSON"),
    (b"[]", "not a provisioning bundle"),
    (b'{"format": "motcua-provisioning-bundle", "version": 9}', "unsupported bundle version 9"),
    (b'{"format": "motcua-provisioning-bundle", "version": 1, "payload": "%%%", "signature": ""}', "not base64"),
    (b"\xff\xfe", "malformed bundle"),
])
def test_malformed_refused(prov_keys, data, message):
    with pytest.raises(BundleError, match=message):
        verify_bundle(data, prov_keys.public_key)


def test_signed_but_incomplete_payload_refused(prov_keys):
    from provisioning._bundle import _CONTEXT, FORMAT

    body = json.dumps({"serial": "X"}).encode()
    env = {"format": FORMAT, "version": 1, "key_fingerprint": prov_keys.fingerprint,
           "payload": base64.b64encode(body).decode(),
           "signature": base64.b64encode(prov_keys.private_key.sign(_CONTEXT + body)).decode()}
    with pytest.raises(BundleError, match="lacks"):
        verify_bundle(json.dumps(env).encode(), prov_keys.public_key)
