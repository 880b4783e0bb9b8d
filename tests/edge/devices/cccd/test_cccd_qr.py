"""CCCD QR and receipt QR parsing, and `motcua cccd parse-qr`."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from edge.cli._main import cli
from edge.devices.cccd import CccdError, CccdQrError, parse_cccd_qr, parse_receipt_qr
from edge.errors import ValidationError

NAME = "Nguyễn Thị Thu Hằng"
ADDRESS = "Số 12 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh"
GOOD = f"079190001234|023456789|{NAME}|15021990|Nữ|{ADDRESS}|20042021"


def test_parses_fields_by_index_and_dates_to_iso():
    data = parse_cccd_qr(GOOD)
    assert data.id_number == "079190001234"
    assert data.old_id_number == "023456789"
    assert data.full_name == NAME
    assert data.date_of_birth == "1990-02-15"
    assert data.gender == "Nữ"
    assert data.address == ADDRESS
    assert data.issue_date == "2021-04-20"
    assert data.extra == ()


def test_to_applicant_uses_store_keys():
    from edge.store._model import Applicant

    applicant = parse_cccd_qr(GOOD).to_applicant()
    assert applicant == {"full_name": NAME, "id_number": "079190001234", "date_of_birth": "1990-02-15",
                         "gender": "Nữ", "address": ADDRESS, "old_id_number": "023456789"}
    assert Applicant.from_dict(applicant).full_name == NAME


def test_nfd_input_is_normalised_to_nfc():
    nfd = unicodedata.normalize("NFD", GOOD)
    assert nfd != GOOD
    data = parse_cccd_qr(nfd)
    assert data.full_name == NAME and unicodedata.is_normalized("NFC", data.full_name)
    assert data.gender == "Nữ"
    assert data.address == ADDRESS


def test_empty_old_id_and_extra_trailing_fields():
    data = parse_cccd_qr(f"079190001234||{NAME}|15021990|Nữ|{ADDRESS}|20042021||ABC|")
    assert data.old_id_number == ""
    assert data.extra == ("", "ABC", "")
    assert data.to_applicant()["old_id_number"] == ""


def test_keyboard_wedge_line_end_is_tolerated():
    assert parse_cccd_qr(GOOD + "\r\n").id_number == "079190001234"


@pytest.mark.parametrize(("payload", "field"), [
    ("079190001234|023456789|" + NAME, "payload"),                       # truncated
    (GOOD[:-30], "payload"),                                              # cut inside the address
    ("", "payload"),
    ("|" * 40, "payload"),                                                # too many fields
    (GOOD + "|" + "x" * 1000, "payload"),                                 # overlong
    ("07919000123|023456789|" + GOOD.split("|", 2)[2], "id_number"),      # 11 digits
    ("07919000123A|023456789|" + GOOD.split("|", 2)[2], "id_number"),
    (GOOD.replace("|023456789|", "|0234|"), "old_id_number"),
    (GOOD.replace("15021990", "31021990"), "date_of_birth"),              # 31 February
    (GOOD.replace("15021990", "1990-02-15"), "date_of_birth"),
    (GOOD.replace("15021990", "15022990"), "date_of_birth"),              # future
    (GOOD.replace("20042021", "20041980"), "issue_date"),                 # before birth
    (GOOD.replace("|Nữ|", "|X|"), "gender"),
    (GOOD.replace(NAME, ""), "full_name"),
    (GOOD.replace(NAME, "Nguyễn\x07 Hằng"), "payload"),                   # control character
    (GOOD.replace(NAME, "Nguyễn\u202e Hằng"), "payload"),                 # bidi override
])
def test_malformed_payloads_name_the_field(payload, field):
    with pytest.raises(CccdQrError) as info:
        parse_cccd_qr(payload, today=dt.date(2026, 1, 1))
    assert isinstance(info.value, ValidationError) and isinstance(info.value, CccdError)
    assert info.value.field == field
    assert info.value.message_vi


def test_non_text_payload():
    with pytest.raises(CccdQrError):
        parse_cccd_qr(b"079190001234|...")  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [
    "000.00.06.H56-231027-0361",
    "https://dichvucong.example.gov.vn/tra-cuu?ma=000.00.06.H56-231027-0361",
    "https://dichvucong.example.gov.vn/ho-so/000.00.06.H56-231027-0361",
    "https://x.example/tra-cuu?lang=vi&ma=000.00.06.H56-231027-0361\n",
])
def test_receipt_qr_gives_the_dossier_code(payload):
    assert parse_receipt_qr(payload) == "000.00.06.H56-231027-0361"


@pytest.mark.parametrize("payload", [
    "000.00.06.H56-231327-0361",                       # month 13
    "000.00.06.H56-231027-361",
    "xx000.00.06.H56-231027-0361",
    "ftp://x/000.00.06.H56-231027-0361",
    "https://x.example/tra-cuu?ma=nothing",
    "javascript:alert(1)",
])
def test_receipt_qr_rejects_other_payloads(payload):
    with pytest.raises(CccdQrError):
        parse_receipt_qr(payload)


def test_cli_parse_qr_json_ok():
    result = CliRunner().invoke(cli, ["cccd", "parse-qr", GOOD, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "cccd" and out["full_name"] == NAME and out["date_of_birth"] == "1990-02-15"
    assert out["applicant"]["id_number"] == "079190001234"


def test_cli_parse_qr_receipt():
    result = CliRunner().invoke(cli, ["cccd", "parse-qr", "000.00.53.H48-220921-0099", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"ok": True, "kind": "receipt", "dossier_code": "000.00.53.H48-220921-0099"}


def test_cli_parse_qr_error_is_non_zero_and_precise():
    result = CliRunner().invoke(cli, ["cccd", "parse-qr", "079190001234|023456789|" + NAME, "--json"])
    assert result.exit_code != 0
    out = json.loads(result.output)
    assert out["ok"] is False and out["field"] == "payload" and "truncated" in out["message"]
    assert out["message_vi"]


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_unicode_digits_in_a_card_qr_are_read_as_ascii():
    payload = "|".join([
        "079190001234".translate(FULL_WIDTH), "023456789".translate(FULL_WIDTH), NAME,
        "15021990".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")), "Nữ", ADDRESS, "20042021".translate(FULL_WIDTH)])
    data = parse_cccd_qr(payload, today=dt.date(2026, 1, 1))
    assert data.id_number == "079190001234" and data.old_id_number == "023456789"
    assert data.date_of_birth == "1990-02-15" and data.issue_date == "2021-04-20"
    assert data.id_number.isascii() and data.old_id_number.isascii()


@pytest.mark.parametrize(("payload", "field"), [
    (GOOD.replace("079190001234", "07919000123²"), "id_number"),      # superscript: a digit, not decimal
    (GOOD.replace("023456789", "02345678⑨"), "old_id_number"),
    (GOOD.replace("15021990", "1502199⁰"), "date_of_birth"),
    (GOOD.replace("20042021", "2004202¹"), "issue_date"),
])
def test_non_decimal_digits_in_a_card_qr_are_refused(payload, field):
    with pytest.raises(CccdQrError) as info:
        parse_cccd_qr(payload, today=dt.date(2026, 1, 1))
    assert info.value.field == field and info.value.message_vi


@pytest.mark.parametrize("payload", [
    "000.00.06.H56-231027-0361".translate(FULL_WIDTH),               # our receipts print ASCII
    "https://x.example/tra-cuu?ma=" + "000.00.06.H56-231027-0361".translate(FULL_WIDTH),
    "000.00.06.H56-231027-0000",                                      # no dossier has number 0
])
def test_receipt_qr_takes_ascii_codes_only(payload):
    with pytest.raises(CccdQrError) as info:
        parse_receipt_qr(payload)
    assert info.value.message_vi


_DIGITS = "0123456789０１２３４５６７８９٠١٢²⁰①"
_FIELD = st.one_of(st.text(alphabet=st.sampled_from(_DIGITS), max_size=13),
                   st.text(max_size=12), st.sampled_from(["", "Nam", "Nữ", NAME, ADDRESS]))


@given(st.lists(_FIELD, min_size=5, max_size=9))
def test_card_qr_fuzz(fields):
    payload = "|".join(fields)
    try:
        data = parse_cccd_qr(payload, today=dt.date(2026, 1, 1))
    except CccdQrError as exc:
        assert exc.message_vi and exc.field
        return
    assert data.id_number.isascii() and data.id_number.isdigit() and len(data.id_number) == 12
    assert data.old_id_number == "" or (data.old_id_number.isascii() and data.old_id_number.isdigit())
    for day in (data.date_of_birth, data.issue_date):
        assert day == "" or dt.date.fromisoformat(day)


@given(st.one_of(st.text(max_size=60), st.sampled_from(_DIGITS).map(lambda d: f"000.00.06.H56-2310{d}7-0361")))
def test_qr_classify_fuzz(payload):
    from edge.devices.cccd import classify_qr

    try:
        result = classify_qr(payload)
    except CccdQrError as exc:
        assert exc.message_vi
        return
    assert isinstance(result, str) is False or result.isascii()
