"""What a clerk types to open a chip (CAN, MRZ document number and dates): Unicode digits are
normalized to ASCII, anything else is a ValidationError with a Vietnamese message, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.devices.cccd import MrzKey, PacePassword, check_digit, validate_can
from edge.errors import ValidationError

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("table", [FULL_WIDTH, ARABIC_INDIC])
def test_unicode_digits_are_normalized(table):
    key = MrzKey.from_fields("079190001234".translate(table), "900215".translate(table), "300215".translate(table))
    assert key == MrzKey.from_fields("079190001234", "900215", "300215")
    assert key.key_seed() == MrzKey.from_fields("190001234", "900215", "300215").key_seed()
    assert validate_can("246810".translate(table)) == "246810"
    assert PacePassword.from_can("246810".translate(table)).secret == b"246810"
    assert PacePassword.from_mrz(key).secret == PacePassword.from_mrz(MrzKey.from_fields("190001234", "900215",
                                                                                         "300215")).secret


@pytest.mark.parametrize(("fields", "field"), [
    (("190001234", "9002１x", "300215"), "date_of_birth"),
    (("190001234", "900215", "３００２３１"), "date_of_expiry"),   # 31 February
    (("190001234", "²⁰⁰²¹⁵", "300215"), "date_of_birth"),         # superscripts: digits, not decimal
    (("19000123４é", "900215", "300215"), "document_number"),
    (("C12ß", "900215", "300215"), "document_number"),              # "ß".upper() == "SS"
])
def test_bad_mrz_fields_are_validation_errors(fields, field):
    with pytest.raises(ValidationError) as info:
        MrzKey.from_fields(*fields)
    assert info.value.field == field and info.value.message_vi


@pytest.mark.parametrize("can", ["²⁴⁶⁸¹⁰", "24681", "2468100", "24681x", "", "①②③④⑤⑥"])
def test_bad_can_is_a_validation_error(can):
    with pytest.raises(ValidationError) as info:
        validate_can(can)
    assert info.value.field == "can" and "6 chữ số" in info.value.message_vi


def test_check_digit_takes_ascii_only():
    assert check_digit("900215") == "5" and check_digit("L898902C<") == "3"  # ICAO 9303-3 example
    with pytest.raises(ValueError):
        check_digit("９00215")


_CHARS = "0123456789０１２３４５６７８９٠١²①AZaz<-/ .é\u00a0\u200b"
_DIGITISH = st.text(alphabet=st.sampled_from("0123456789０１２３４５６７８９٠١²①"), min_size=5, max_size=7)
_TYPED = st.one_of(st.text(alphabet=st.sampled_from(_CHARS), max_size=14), _DIGITISH)
_DOC = st.one_of(_TYPED, st.sampled_from(["190001234", "079190001234", "０７９１９０００１２３４", "C1234567"]))
_DATE = st.one_of(_TYPED, st.sampled_from(["900215", "９００２１５", "300215", "٣٠٠٢١٥"]))


@given(_DOC, _DATE, _DATE)
def test_mrz_input_fuzz(doc, dob, expiry):
    try:
        key = MrzKey.from_fields(doc, dob, expiry)
    except ValidationError as exc:
        assert exc.message_vi and exc.field in ("document_number", "date_of_birth", "date_of_expiry")
        return
    assert key.mrz_information().isascii() and len(key.key_seed()) == 16


@given(_TYPED)
def test_can_input_fuzz(can):
    try:
        value = validate_can(can)
    except ValidationError as exc:
        assert exc.message_vi and exc.field == "can"
        return
    assert value.isascii() and len(value) == 6 and PacePassword.from_can(can).secret == value.encode()
