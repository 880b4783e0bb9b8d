"""The sealed formats of the core: STREAM pages, sealed values and the city's HPKE seal."""

from __future__ import annotations

import io
import json
import os

import pytest

from core.errors import IntegrityError, KeyFormatError, MotcuaError, SealedError
from core.sealed import (
    HEADER_SIZE,
    KEMS,
    SEGMENT_SIZE,
    TAG_SIZE,
    CityPrivateKey,
    CityPublicKey,
    decrypt_page,
    decrypt_stream,
    encrypt_stream,
    load_city_private_key,
    open_bytes,
    open_from_city,
    personal_aad,
    seal_bytes,
    seal_to_city,
)


def _read(key: bytes, context: str, blob: bytes) -> bytes:
    return b"".join(decrypt_stream(key, context, io.BytesIO(blob)))


@pytest.mark.parametrize("cipher", ["chacha20-poly1305", "aes-256-gcm"])
@pytest.mark.parametrize("size", [0, 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 2 * SEGMENT_SIZE + 7])
def test_page_stream_round_trip(cipher: str, size: int) -> None:
    key, data = os.urandom(32), os.urandom(size)
    blob = b"".join(encrypt_stream(key, "01JD3ABCDEFGH", data, cipher=cipher))
    assert len(blob) == HEADER_SIZE + max(1, -(-size // SEGMENT_SIZE)) * TAG_SIZE + size
    assert _read(key, "01JD3ABCDEFGH", blob) == data
    assert b"".join(decrypt_page(key, "01JD3ABCDEFGH", io.BytesIO(blob))) == data


def test_page_stream_refuses_wrong_key_other_dossier_flip_and_truncation() -> None:
    key, data = os.urandom(32), os.urandom(2 * SEGMENT_SIZE + 3)
    blob = b"".join(encrypt_stream(key, "d1", data, cipher="chacha20-poly1305"))
    flipped = bytearray(blob)
    flipped[HEADER_SIZE + 5] ^= 1
    header_flipped = bytearray(blob)
    header_flipped[10] ^= 1  # the salt: authenticated as every segment's associated data
    cases = [(os.urandom(32), "d1", blob, "segment 0"), (key, "d2", blob, "segment 0"),
             (key, "d1", bytes(flipped), "segment 0"), (key, "d1", bytes(header_flipped), "segment 0"),
             (key, "d1", blob[:HEADER_SIZE + 2 * (SEGMENT_SIZE + TAG_SIZE)], "truncated"),
             (key, "d1", blob[:HEADER_SIZE], "truncated"), (key, "d1", b"XXXX" + blob[4:], "no valid header"),
             (key, "d1", blob + b"\0" * 20, "final segment does not authenticate")]
    for k, ctx, data_, message in cases:
        with pytest.raises(IntegrityError, match=message):
            _read(k, ctx, data_)


def test_sealed_value_is_bound_to_its_key_and_associated_data() -> None:
    key = os.urandom(32)
    for cipher in ("chacha20-poly1305", "aes-256-gcm"):
        sealed = seal_bytes(key, b'{"full_name": "x"}', personal_aad("applicant", "d1"), cipher=cipher)
        assert open_bytes(key, sealed, b"applicant|d1") == b'{"full_name": "x"}'
        for k, aad in ((os.urandom(32), b"applicant|d1"), (key, personal_aad("form", "d1")),
                       (key, personal_aad("applicant", "d2"))):
            with pytest.raises(IntegrityError, match="does not authenticate"):
                open_bytes(k, sealed, aad)
        tampered = bytearray(sealed)
        tampered[-1] ^= 1
        with pytest.raises(IntegrityError):
            open_bytes(key, bytes(tampered), b"applicant|d1")
    with pytest.raises(IntegrityError, match="malformed"):
        open_bytes(key, b"\x01short", b"")


@pytest.mark.parametrize("kem", KEMS)
def test_city_seal_opens_only_with_the_city_key_for_the_same_dossier(kem: str) -> None:
    city = CityPrivateKey.generate(kem)
    dek = os.urandom(32)
    sealed = seal_to_city(city.public(), dek, "01JD3ABCDEFGH")
    assert open_from_city(city, sealed, "01JD3ABCDEFGH") == dek
    with pytest.raises(IntegrityError, match="does not open with this city key"):
        open_from_city(CityPrivateKey.generate(kem), sealed, "01JD3ABCDEFGH")
    with pytest.raises(IntegrityError):
        open_from_city(city, sealed, "01JD3OTHERDOSS")  # the dossier id is HPKE's info
    with pytest.raises(IntegrityError):
        open_from_city(city, sealed[:-1] + bytes([sealed[-1] ^ 1]), "01JD3ABCDEFGH")
    with pytest.raises(IntegrityError):
        open_from_city(city, b"", "01JD3ABCDEFGH")


@pytest.mark.parametrize("kem", KEMS)
def test_city_keys_round_trip_through_json(kem: str) -> None:
    private = CityPrivateKey.generate(kem)
    again = load_city_private_key(json.dumps(private.to_json()))
    assert again == private and again.public() == private.public()
    public = CityPublicKey.from_json(json.loads(json.dumps(private.public().to_json())))
    assert public == private.public() and len(public.fingerprint()) == 16


@pytest.mark.parametrize(("data", "message"), [
    ([], "JSON object"),
    ({"kem": "RSA"}, "unsupported KEM"),
    ({"kem": "X25519"}, "malformed"),
    ({"kem": "X25519", "x25519": "!!"}, "malformed"),
    ({"kem": "X25519", "x25519": "AAAA"}, "wrong key length"),
    ({"kem": "MLKEM768_X25519", "x25519": "A" * 43 + "="}, "malformed"),
])
def test_malformed_public_keys_are_refused_by_name(data, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        CityPublicKey.from_json(data)


def test_malformed_private_keys_are_refused_by_name() -> None:
    public = CityPrivateKey.generate("X25519").public().to_json()
    with pytest.raises(KeyFormatError, match="not a city private key"):
        CityPrivateKey.from_json(public)
    with pytest.raises(KeyFormatError, match="not JSON"):
        load_city_private_key("{")
    with pytest.raises(KeyFormatError, match="JSON object"):
        load_city_private_key("[1]")


def test_core_errors_have_one_base() -> None:
    for cls in (SealedError, KeyFormatError, IntegrityError):
        assert issubclass(cls, MotcuaError)
    err = IntegrityError("x", message_vi="Dữ liệu hỏng")
    assert str(err) == "x" and err.message_vi == "Dữ liệu hỏng"
    assert MotcuaError("y").message_vi is None
