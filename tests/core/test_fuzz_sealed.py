"""Fuzzing the sealed formats' readers: only the core's own errors, each with a message, come out."""

from __future__ import annotations

import io
import json
import os

from hypothesis import given
from hypothesis import strategies as st

from core.errors import IntegrityError, KeyFormatError, SealedError
from core.manifest import open_manifest
from core.sealed import (
    CityPrivateKey,
    CityPublicKey,
    decrypt_stream,
    encrypt_stream,
    load_city_private_key,
)

CITY = CityPrivateKey.generate("X25519")
KEY = os.urandom(32)
BLOB = b"".join(encrypt_stream(KEY, "d1", os.urandom(3000), cipher="chacha20-poly1305"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)
key_like = st.fixed_dictionaries(
    {}, optional={"kind": st.sampled_from(["motcua-city-private-key", "motcua-city-public-key"]) | st.text(max_size=8),
                  "kem": st.sampled_from(["X25519", "MLKEM768_X25519"]) | json_values,
                  "x25519": st.sampled_from(["", "AAAA", "A" * 43 + "="]) | json_values,
                  "mlkem768": json_values, "mlkem768_seed": json_values})
manifest_like = st.fixed_dictionaries(
    {}, optional={"dossier_id": st.sampled_from(["01JD3ABCDEFGH"]) | json_values,
                  "dek": st.fixed_dictionaries({}, optional={"kem": json_values,
                                                             "ciphertext": st.sampled_from(["", "AAAA"]) | json_values}),
                  "personal": st.fixed_dictionaries({}, optional={"applicant": st.sampled_from(["AAAA"]) | json_values,
                                                                  "form": json_values})}) | json_values


def _refused(fn, *args, expected=SealedError) -> None:
    try:
        fn(*args)
    except expected as exc:
        assert str(exc)
    else:
        raise AssertionError("accepted")


@given(key_like | json_values)
def test_public_key_reader(data) -> None:
    try:
        CityPublicKey.from_json(data)
    except KeyFormatError as exc:
        assert str(exc)


@given(key_like | json_values)
def test_private_key_reader(data) -> None:
    try:
        CityPrivateKey.from_json(data)
    except KeyFormatError as exc:
        assert str(exc)
    text = json.dumps(data)
    try:
        load_city_private_key(text[:-1] if len(text) > 1 else text)
    except KeyFormatError as exc:
        assert str(exc)


@given(manifest_like)
def test_manifest_opener(manifest) -> None:
    _refused(open_manifest, manifest, CITY, expected=IntegrityError)


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=len(BLOB)), st.binary(max_size=40))
def test_page_stream_reader(noise: bytes, cut: int, tail: bytes) -> None:
    for data in (noise, BLOB[:cut] + tail if (tail or cut < len(BLOB)) else noise):
        _refused(lambda d: b"".join(decrypt_stream(KEY, "d1", io.BytesIO(d))), data, expected=IntegrityError)
