"""The dossier manifest's one shape: built from store data, valid for the protocol, opened by the city."""

from __future__ import annotations

import copy
import json
import os

import pytest

from core.errors import IntegrityError
from core.manifest import OPTIONAL_KEYS, REQUIRED_KEYS, open_manifest, wire_manifest
from core.sealed import CityPrivateKey, personal_aad, seal_bytes, seal_to_city
from sync.protocol import parse_manifest

DOSSIER = "01JD3ABCDEFGH"


def _manifest(city: CityPrivateKey, *, applicant=None, form=None, **extra) -> tuple[dict, bytes]:
    dek = os.urandom(32)
    seal = lambda purpose, value: seal_bytes(  # noqa: E731
        dek, json.dumps(value, ensure_ascii=False).encode(), personal_aad(purpose, DOSSIER))
    fields = dict(
        dossier_id=DOSSIER, station_id="HN-0001", agency_code="000.00.06.H56",
        code="000.00.06.H56-261122-0001", procedure_code="1.001612",
        received_at="2026-11-22T09:00:00+07:00", due_at=None, counter=1, hlc="0000000001-0000",
        clock_anchored=True, kem=city.kem, sealed_dek=seal_to_city(city.public(), dek, DOSSIER),
        sealed_applicant=seal("applicant", applicant or {"full_name": "Lê Thị Hoa"}),
        sealed_form=seal("form", form or {"noi_dung": "Cấp bản sao"}),
        blobs=[{"index": 3, "sha256": "b" * 64, "size": 9, "component": None, "media_type": "image/png"},
               {"index": 1, "sha256": "a" * 64, "size": 4, "component": "Tờ khai", "media_type": "image/png"}])
    fields.update(extra)
    return wire_manifest(**fields), dek


def test_the_built_manifest_is_what_the_protocol_accepts_and_the_city_opens() -> None:
    city = CityPrivateKey.generate("X25519")
    manifest, dek = _manifest(city, meta={"fee": 1.5, "paid": True}, documents=[{"kind": "copy", "n": 2.0}],
                              finalized_at="2026-11-22T09:05:00+07:00", cipher="aes-256-gcm")
    assert set(REQUIRED_KEYS) <= set(manifest) <= set(REQUIRED_KEYS) | set(OPTIONAL_KEYS)
    assert manifest["meta"] == {"fee": "1.5", "paid": True} and manifest["documents"] == [{"kind": "copy", "n": "2.0"}]
    parsed = parse_manifest(manifest)
    assert [b.index for b in parsed.blobs] == [1, 3] and [b["index"] for b in manifest["blobs"]] == [1, 3]
    assert manifest["blobs"][1]["component"] == "" and parsed.raw is manifest
    opened = open_manifest(manifest, city)
    assert opened.dossier_id == DOSSIER and opened.dek == dek
    assert opened.applicant == {"full_name": "Lê Thị Hoa"} and opened.form == {"noi_dung": "Cấp bản sao"}
    # Through JSON (as the hub stores it) it opens the same.
    assert open_manifest(json.loads(json.dumps(manifest)), city) == opened


def test_optional_keys_are_left_out_when_empty() -> None:
    manifest, _ = _manifest(CityPrivateKey.generate("X25519"), meta={}, documents=[])
    assert not set(OPTIONAL_KEYS) & set(manifest)
    parse_manifest(manifest)
    assert _manifest(CityPrivateKey.generate("X25519"), hlc=None)[0]["hlc"] == ""


def test_the_manifest_opens_only_with_its_city_key_and_dossier() -> None:
    city = CityPrivateKey.generate("MLKEM768_X25519")
    manifest, _ = _manifest(city)
    with pytest.raises(IntegrityError, match="does not open with this city key"):
        open_manifest(manifest, CityPrivateKey.generate("MLKEM768_X25519"))
    moved = {**manifest, "dossier_id": "01JD3OTHERDOSS"}  # the key is bound to the dossier id
    with pytest.raises(IntegrityError):
        open_manifest(moved, city)


def test_personal_data_swapped_between_purposes_is_refused() -> None:
    city = CityPrivateKey.generate("X25519")
    manifest, _ = _manifest(city)
    swapped = copy.deepcopy(manifest)
    swapped["personal"] = {"applicant": manifest["personal"]["form"], "form": manifest["personal"]["applicant"]}
    with pytest.raises(IntegrityError, match="does not authenticate"):
        open_manifest(swapped, city)


@pytest.mark.parametrize("damage", [
    lambda m: m.pop("dek"),
    lambda m: m.pop("personal"),
    lambda m: m["dek"].pop("ciphertext"),
    lambda m: m["personal"].update(form="not base64!"),
    lambda m: m.update(dossier_id=7),
    lambda m: m.update(dek="x"),
])
def test_a_malformed_manifest_is_an_integrity_error_with_a_message(damage) -> None:
    city = CityPrivateKey.generate("X25519")
    manifest, _ = _manifest(city)
    broken = copy.deepcopy(manifest)
    damage(broken)
    with pytest.raises(IntegrityError, match="manifest is malformed"):
        open_manifest(broken, city)
