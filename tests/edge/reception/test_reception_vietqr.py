"""VietQR: the reference payload byte for byte, parsing, CRC checks and field validation."""

from __future__ import annotations

import pytest

from edge.reception import VietQRError, build_vietqr, crc16, fold_purpose, parse_vietqr, vietqr_png

REFERENCE = ("00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
             "530370454061200005802VN62170813ung ho lu lut6304C15C")


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == "29B1"  # the catalogued check value of CRC-16/CCITT-FALSE


def test_reference_example_byte_for_byte():
    payload = build_vietqr(bank_bin="970415", account="0011001932418", amount=120000, purpose="ủng hộ lũ lụt")
    assert payload == REFERENCE
    assert payload.encode() == REFERENCE.encode()


def test_parse_reference():
    parsed = parse_vietqr(REFERENCE)
    assert (parsed.bin, parsed.account, parsed.amount, parsed.purpose, parsed.service) == (
        "970415", "0011001932418", 120000, "ung ho lu lut", "QRIBFTTA")
    assert parsed.dynamic


@pytest.mark.parametrize("position", [-1, -3, 30, 55, len(REFERENCE) - 12])
def test_crc_mismatch_is_detected(position):
    chars = list(REFERENCE)
    chars[position] = "9" if chars[position] != "9" else "8"
    with pytest.raises(VietQRError) as err:
        parse_vietqr("".join(chars))
    assert err.value.field == "crc"
    assert "CRC" in err.value.message_vi


def test_structure_errors_even_with_a_good_crc():
    body = REFERENCE[:-4].replace("5303704", "5303840")  # USD instead of VND
    with pytest.raises(VietQRError, match="704"):
        parse_vietqr(body + crc16(body))
    truncated = "000201010212385700" + "6304"
    with pytest.raises(VietQRError, match="truncated"):
        parse_vietqr(truncated + crc16(truncated))
    with pytest.raises(VietQRError, match="6304"):
        parse_vietqr(REFERENCE[:-8])


def test_static_code_and_dossier_code_purpose():
    static = build_vietqr(bank_bin="970436", account="1234567890", amount=None)
    assert static.startswith("000201010211")
    assert parse_vietqr(static).amount is None and not parse_vietqr(static).dynamic
    assert "5406" not in static
    fee = build_vietqr(bank_bin="970436", account="1234567890", amount=50000, purpose="000.00.06.H56-231027-0361")
    parsed = parse_vietqr(fee)
    assert parsed.purpose == "000.00.06.H56-231027-0361" and parsed.amount == 50000


def test_purpose_folding_and_configurable_length():
    assert fold_purpose("Nộp lệ phí Đăng ký  hộ kinh doanh!", max_length=50) == "Nop le phi Dang ky ho kinh doanh"
    with pytest.raises(VietQRError, match="at most 25"):
        build_vietqr(bank_bin="970415", account="1", amount=1, purpose="Nộp lệ phí đăng ký hộ kinh doanh")
    longer = build_vietqr(bank_bin="970415", account="1", amount=1, purpose="Nộp lệ phí đăng ký hộ kinh doanh",
                          max_purpose=50)
    assert parse_vietqr(longer).purpose == "Nop le phi dang ky ho kinh doanh"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"bank_bin": "97041"}, "bin"),
    ({"bank_bin": "97041a"}, "bin"),
    ({"account": "1" * 20}, "account"),
    ({"account": "12 34"}, "account"),
    ({"account": ""}, "account"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": 12.5}, "amount"),
    ({"amount": True}, "amount"),
    ({"service": "QRPUSH"}, "service"),
])
def test_field_validation(kwargs, field):
    args = {"bank_bin": "970415", "account": "0011001932418", "amount": 1000, **kwargs}
    with pytest.raises(VietQRError) as err:
        build_vietqr(**args)
    assert err.value.field == field
    assert err.value.message_vi


def test_png():
    png = vietqr_png(REFERENCE)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
