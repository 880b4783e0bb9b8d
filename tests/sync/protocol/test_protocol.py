"""sync.protocol: canonical forms, signatures, tokens and message validation."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.errors import ProtocolError, SignatureError
from sync.protocol import (
    SignedHeaders,
    canonical_json,
    canonical_request,
    format_token,
    manifest_sha256,
    new_token,
    normalize_token,
    parse_feed_page,
    parse_manifest,
    sign_object,
    sign_request,
    token_sha256,
    verify_command,
    verify_receipt,
)

STATION = "HN-0001"


def _manifest() -> dict:
    return {
        "version": 1, "dossier_id": "abcdefgh1234", "station_id": STATION, "agency_code": "000.00.06.H56",
        "code": "000.00.06.H56-261122-0001", "procedure_code": "1.001612",
        "received_at": "2026-11-22T09:00:00+07:00", "due_at": None, "counter": 1, "hlc": "x",
        "clock_anchored": False, "dek": {"kem": "X25519", "ciphertext": "AAAA"},
        "personal": {"applicant": "AAAA", "form": "AAAA"},
        "blobs": [{"index": 1, "sha256": "a" * 64, "size": 10, "component": "", "media_type": "image/png"}],
    }


def test_canonical_request_layout():
    text = canonical_request(method="get", path_qs="/v1/feed?since=1", timestamp_ms=5, nonce="n" * 22,
                             content_sha256="e" * 64, station_id=STATION).decode()
    assert text.split("\n") == ["MOTCUA-SIG-V1", "GET", "/v1/feed?since=1", "5", "n" * 22, "e" * 64, STATION]


def test_sign_and_verify_round_trip_and_tampering():
    key = Ed25519PrivateKey.generate()
    headers = sign_request(key, station_id=STATION, method="POST", path_qs="/v1/heartbeat", body=b"{}", timestamp_ms=10)
    parsed = SignedHeaders.parse(headers)
    parsed.verify(key.public_key(), method="POST", path_qs="/v1/heartbeat")
    with pytest.raises(SignatureError):
        parsed.verify(key.public_key(), method="POST", path_qs="/v1/heartbeat?x=1")
    with pytest.raises(SignatureError):
        parsed.verify(Ed25519PrivateKey.generate().public_key(), method="POST", path_qs="/v1/heartbeat")
    broken = dict(headers, **{"X-Motcua-Nonce": "bad nonce"})
    with pytest.raises(ProtocolError) as err:
        SignedHeaders.parse(broken)
    assert err.value.field == "X-Motcua-Nonce"


def test_tokens():
    token = new_token()
    assert len(token) == 32 and len(base64.b32decode(token)) == 20
    assert normalize_token(format_token(token).lower()) == token
    assert token_sha256(format_token(token)) == token_sha256(token)
    with pytest.raises(ProtocolError):
        normalize_token("short")


def test_manifest_validation_and_hash_is_order_independent():
    m = _manifest()
    parsed = parse_manifest(m)
    assert parsed.sha256 == manifest_sha256(dict(reversed(list(m.items()))))
    for mutate, field in [
        (lambda x: x.update(code="000.00.06.H56-2611-1"), "code"),
        (lambda x: x.update(received_at="yesterday"), "received_at"),
        (lambda x: x["dek"].update(kem="RSA"), "dek.kem"),
        (lambda x: x["blobs"].append(dict(x["blobs"][0])), "blobs"),
        (lambda x: x.update(meta={"fee": 1.5}), "$.fee"),
    ]:
        bad = _manifest()
        mutate(bad)
        with pytest.raises(ProtocolError) as err:
            parse_manifest(bad)
        assert err.value.field == field


def test_canonical_json_refuses_floats_and_sorts():
    assert canonical_json({"b": 1, "a": "ệ"}) == '{"a":"ệ","b":1}'.encode()
    with pytest.raises(ProtocolError):
        canonical_json({"x": [1.0]})


def test_receipt_and_command_verification():
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    receipt = {"type": "motcua.receipt.v1", "dossier_id": "d" * 10, "code": "c", "agency_code": "a", "station_id": STATION,
               "manifest_sha256": "m" * 64, "blobs": ["b"], "hub_seq": 1, "committed_at": "t", "key_id": "k"}
    answer = {"receipt": receipt, "signature": sign_object(key, receipt)}
    assert verify_receipt(answer, pub, manifest_sha256="m" * 64, blobs=["b"]) == receipt
    with pytest.raises(SignatureError):
        verify_receipt({**answer, "receipt": {**receipt, "hub_seq": 2}}, pub)
    with pytest.raises(SignatureError):
        verify_receipt(answer, pub, blobs=["other"])
    command = {"type": "motcua.command.v1", "command_id": "1", "station_id": STATION, "kind": "wipe", "args": {},
               "issued_at": "t", "key_id": "k"}
    signed = {"command": command, "signature": sign_object(key, command)}
    assert verify_command(signed, pub, station_id=STATION)["kind"] == "wipe"
    with pytest.raises(SignatureError):
        verify_command(signed, pub, station_id="HN-0002")


def test_feed_page_validation():
    item = {"seq": 3, "type": "x", "created_at": "t", "data": {}}
    assert parse_feed_page({"items": [item], "next": 5, "more": False, "head": 5})[1] == 5
    with pytest.raises(ProtocolError):
        parse_feed_page({"items": [item, {**item, "seq": 2}], "next": 5, "more": False, "head": 5})
    with pytest.raises(ProtocolError):
        parse_feed_page({"items": [item], "next": 2, "more": True, "head": 5})


def test_manifest_signatures_are_validated():
    good = {"index": 1, "component": "TK", "cert_sha256": "b" * 64, "signed_at": "2026-11-22T02:00:00+00:00",
            "level": "B-B"}
    parse_manifest({**_manifest(), "signatures": [good]})
    for bad, field in (({**good, "level": "B-LTA"}, "level"), ({**good, "cert_sha256": "xyz"}, "cert_sha256"),
                       ({**good, "signed_at": "yesterday"}, "signed_at"), ({**good, "extra": 1}, "signatures[0]"),
                       ({k: v for k, v in good.items() if k != "index"}, "signatures[0]")):
        with pytest.raises(ProtocolError) as err:
            parse_manifest({**_manifest(), "signatures": [bad]})
        assert field in str(err.value)
    with pytest.raises(ProtocolError):
        parse_manifest({**_manifest(), "signatures": {"index": 1}})
