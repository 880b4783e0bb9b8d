"""Codes on the wire: ASCII digits only, a real date, a daily number 0001-9999 (core.codes)."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.errors import ProtocolError
from sync.protocol import SignedHeaders, parse_manifest, parse_station_line, sign_request

AGENCY = "000.00.06.H56"


def _manifest(**changes) -> dict:
    m = {
        "version": 1, "dossier_id": "abcdefgh1234", "station_id": "HN-0001", "agency_code": AGENCY,
        "code": f"{AGENCY}-261122-0001", "procedure_code": "1.001612",
        "received_at": "2026-11-22T09:00:00+07:00", "due_at": None, "counter": 1, "hlc": "x",
        "clock_anchored": False, "dek": {"kem": "X25519", "ciphertext": "AAAA"},
        "personal": {"applicant": "AAAA", "form": "AAAA"},
        "blobs": [{"index": 1, "sha256": "a" * 64, "size": 10, "component": "", "media_type": "image/png"}],
    }
    m.update(changes)
    return m


def test_a_good_code_is_parsed_into_its_date_and_number():
    m = parse_manifest(_manifest(code=f"{AGENCY}-261122-3001"))
    assert (m.code_date, m.code_number) == (dt.date(2026, 11, 22), 3001)


@pytest.mark.parametrize("code", [
    f"{AGENCY}-２６１１２２-0001",           # full-width digits in the date
    f"{AGENCY}-261122-٠٠٠١",               # Arabic-Indic digits in the number
    f"{AGENCY}-999999-0001",               # month 99
    f"{AGENCY}-260230-0001",               # 30 February
    f"{AGENCY}-261122-0000",               # no number 0000
    f"{AGENCY}-261122-00001",
    f"{AGENCY}-261122-0001\n",
    "000.00.06.H57-261122-0001",           # another agency's code
])
def test_a_bad_code_is_refused_naming_the_field(code):
    with pytest.raises(ProtocolError) as info:
        parse_manifest(_manifest(code=code))
    assert info.value.field == "code" and info.value.reason


@pytest.mark.parametrize("agency", ["０００.00.06.H56", "000.00.06.H5٦", f"{AGENCY}\n"])
def test_agency_codes_are_ascii_only(agency):
    with pytest.raises(ProtocolError) as info:
        parse_manifest(_manifest(agency_code=agency, code=f"{agency}-261122-0001"))
    assert info.value.field == "agency_code"
    line = {"station_id": "HN-0001", "agency_code": agency, "token_sha256": "a" * 64,
            "token_expires_at": "2026-12-31T00:00:00Z"}
    with pytest.raises(ProtocolError) as info:
        parse_station_line(line)
    assert info.value.field == "agency_code"


@pytest.mark.parametrize("field, value", [
    ("dossier_id", "abcdefgh1234\n"), ("station_id", "HN-0001\n"), ("procedure_code", "1.００1612"),
    ("procedure_code", "1.001612\n"),
])
def test_identifiers_match_whole_and_ascii(field, value):
    with pytest.raises(ProtocolError) as info:
        parse_manifest(_manifest(**{field: value}))
    assert info.value.field == field


def test_signed_timestamp_must_be_ascii_digits():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    headers = sign_request(Ed25519PrivateKey.generate(), station_id="HN-0001", method="GET", path_qs="/v1/station")
    headers["X-Motcua-Timestamp"] = "１７９６１８５２１４２４８"
    with pytest.raises(ProtocolError) as info:
        SignedHeaders.parse(headers)
    assert info.value.field == "X-Motcua-Timestamp"
