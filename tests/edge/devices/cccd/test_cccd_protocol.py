"""ICAO 9303 worked examples (Part 11, Appendix D) and malformed-input handling without a reader."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.devices.cccd import CccdError, MrzKey, check_digit, parse_dg1, parse_dg13, parse_sod
from edge.devices.cccd._apdu import split_response
from edge.devices.cccd._crypto import pad, retail_mac, session_keys, unpad
from edge.devices.cccd._pace import pace_protocols
from edge.devices.cccd._sm import SecureMessaging
from edge.errors import ValidationError

KS_ENC = bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = bytes.fromhex("887022120C06C226")


def test_check_digits():
    assert check_digit("L898902C<") == "3"
    assert check_digit("690806") == "1"
    assert check_digit("940623") == "6"


def test_bac_key_derivation_matches_icao_example():
    key = MrzKey.from_fields("L898902C", "690806", "940623")
    assert key.mrz_information() == "L898902C<369080619406236"
    assert key.key_seed().hex().upper() == "239AB9CB282DAF66231DC5A4DF6BFBAE"
    k_enc, k_mac = session_keys(key.key_seed())
    assert k_enc.hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert k_mac.hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"


def test_twelve_digit_id_uses_its_last_nine_digits():
    assert MrzKey.from_fields("079190001234", "900215", "300215").document_number == "190001234"


@pytest.mark.parametrize(("doc", "dob", "exp"), [("", "900215", "300215"), ("ABC", "9002", "300215"),
                                                 ("ABC", "900231", "300215"), ("AB-C", "900215", "300215")])
def test_bad_mrz_inputs(doc, dob, exp):
    with pytest.raises(ValidationError):
        MrzKey.from_fields(doc, dob, exp)


def test_secure_messaging_matches_icao_example():
    sm = SecureMessaging(KS_ENC, KS_MAC, SSC)
    assert sm.protect(bytes.fromhex("00A4020C02011E")).hex().upper() == \
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800"
    assert sm.unprotect(bytes.fromhex("990290008E08FA855A5D4C50A8ED9000")).sw == 0x9000
    assert sm.protect(bytes.fromhex("00B0000004")).hex().upper() == "0CB000000D9701048E08ED6705417E96BA5500"
    answer = sm.unprotect(bytes.fromhex("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"))
    assert answer.data.hex().upper() == "60145F01"


def test_secure_messaging_rejects_a_bad_mac():
    sm = SecureMessaging(KS_ENC, KS_MAC, SSC)
    sm.protect(bytes.fromhex("00A4020C02011E"))
    with pytest.raises(CccdError, match="MAC"):
        sm.unprotect(bytes.fromhex("990290008E08FA855A5D4C50A8EE9000"))


def test_padding_round_trip_and_mac_shape():
    assert pad(b"") == b"\x80" + bytes(7)
    assert unpad(pad(b"abc")) == b"abc"
    with pytest.raises(ValueError):
        unpad(bytes(8))
    assert len(retail_mac(KS_MAC, pad(b"x" * 20))) == 8


@pytest.mark.parametrize("raw", [b"", b"\x90", b"\x12\x34", b"\x00\x00"])
def test_answers_without_a_valid_status_word(raw):
    with pytest.raises(CccdError):
        split_response(raw)


def test_pace_protocols_from_card_access():
    from asn1crypto import core

    oid = core.ObjectIdentifier("0.4.0.127.0.7.2.2.4.2.2").dump() + core.Integer(2).dump()
    info = bytes([0x30, len(oid)]) + oid
    assert pace_protocols(bytes([0x31, len(info)]) + info) == ["PACE-ECDH-GM-AES-128"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_escapes_as_anything_but_a_card_error(data):
    for parse in (parse_dg1, parse_dg13, parse_sod, pace_protocols):
        try:
            parse(data)
        except CccdError:
            pass
    sm = SecureMessaging(KS_ENC, KS_MAC, SSC)
    try:
        sm.unprotect(data)
    except CccdError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.text(max_size=20)), max_size=8))
def test_dg13_structure_fuzz(entries):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from cccd_cardfiles import build_dg13

    dg13 = parse_dg13(build_dg13(dict(entries)))
    for number, text in dict(entries).items():
        if 1 <= number <= 32:
            assert dg13.get(number) == unicodedata.normalize("NFC", text).strip()
