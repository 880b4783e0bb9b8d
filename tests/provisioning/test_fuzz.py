"""Fuzzing (Hypothesis) of what provisioning reads from outside: bundles, a stick's folder, inventories.

Property: only the provisioning layer's own errors (with a message) ever come out, and nothing is
written on refusal.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning import (
    FirstbootOptions,
    ProvisioningError,
    parse_inventory,
    run_firstboot,
    verify_bundle,
)
from provisioning._errors import BundleError, InventoryError
from provisioning._inventory import REQUIRED_COLUMNS, read_inventory

from .test_firstboot_files import SERIAL, bundle_bytes

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    import json as _json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edge.store import CityPrivateKey
    from provisioning import init_keys

    base = tmp_path_factory.mktemp("anchors")
    city = CityPrivateKey.generate("X25519")
    (base / "city.pub").write_text(_json.dumps(city.public().to_json()))
    receipt = Ed25519PrivateKey.generate()
    (base / "receipt.pub").write_bytes(receipt.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    prov, _ = init_keys(base / "keys", receipt_key=base / "receipt.pub", city_key=base / "city.pub")
    return prov


def _envelopes(good: bytes):
    env = json.loads(good)
    fields = st.fixed_dictionaries({}, optional={
        "format": st.sampled_from([env["format"], "x"]) | json_values,
        "version": st.sampled_from([1, 2, "1"]) | json_values,
        "key_fingerprint": st.just(env["key_fingerprint"]) | json_values,
        "payload": st.builds(lambda v: base64.b64encode(json.dumps(v).encode()).decode(), json_values) | json_values,
        "signature": st.just(env["signature"]) | st.text(max_size=90) | json_values,
    })
    return fields.map(lambda d: json.dumps(d).encode())


def _check(exc: BaseException) -> None:
    assert isinstance(exc, ProvisioningError), repr(exc)
    assert str(exc).strip()


@given(data=st.data())
def test_fuzz_verify_bundle(keys, data):
    good = bundle_bytes(keys)
    kind = data.draw(st.sampled_from(["bytes", "envelope", "flip"]))
    if kind == "bytes":
        blob = data.draw(st.binary(max_size=300))
    elif kind == "envelope":
        blob = data.draw(_envelopes(good))
    else:
        i = data.draw(st.integers(0, len(good) - 1))
        blob = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1:]
    try:
        payload = verify_bundle(blob, keys.public_key)
    except BundleError as exc:
        _check(exc)
    else:  # only an unaltered signature can verify, and then the payload is what was signed
        assert payload.serial == SERIAL


@given(blobs=st.lists(st.binary(max_size=200) | st.text(max_size=200).map(str.encode), min_size=0, max_size=3))
def test_fuzz_firstboot_discovery_writes_nothing_on_refusal(keys, blobs):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        boot = root / "boot"
        boot.mkdir()
        for i, blob in enumerate(blobs):
            (boot / f"{SERIAL}-{i}.motcua-bundle").write_bytes(blob)
        options = FirstbootOptions(state_dir=root / "state", public_key=keys.directory / "provisioning.pub",
                                   config_dir=root / "etc", search=(str(boot),), serial=SERIAL, enroll=False)
        with pytest.raises(ProvisioningError) as info:
            run_firstboot(options)
        _check(info.value)
        assert not (root / "etc").exists()
        assert not list((root / "state").rglob("*"))
        assert not (root / "state-firstboot" / "journal.json").exists()
        assert sorted(p.name for p in boot.iterdir()) == [f"{SERIAL}-{i}.motcua-bundle" for i in range(len(blobs))]


cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=16) | st.sampled_from(
    ["000.00.06.H56", "０００.00.06.H56", "PI1", "https://hub.example", "http://10.0.0.1", "branch", "١", "9999", "-1"])


@given(header=st.lists(st.sampled_from([*REQUIRED_COLUMNS, "partition_index", "x", ""]), max_size=8) | st.just(list(REQUIRED_COLUMNS)),
       rows=st.lists(st.lists(cells, max_size=8), max_size=4), sep=st.sampled_from([",", ";", "\t"]),
       junk=st.text(max_size=30))
def test_fuzz_inventory_parser(header, rows, sep, junk):
    text = "\n".join(sep.join(line) for line in [header, *rows]) + junk
    try:
        parsed = parse_inventory(text)
    except InventoryError as exc:
        _check(exc)
        assert exc.errors and all(e.message for e in exc.errors)
    else:
        assert parsed and all(r.agency_code.isascii() for r in parsed)


@given(blob=st.binary(max_size=400))
def test_fuzz_inventory_file_bytes(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inv.csv"
        path.write_bytes(blob)
        try:
            read_inventory(path)
        except InventoryError as exc:
            _check(exc)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["inv.csv"]
