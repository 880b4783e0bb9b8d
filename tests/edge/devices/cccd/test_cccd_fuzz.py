"""Fuzzing the card-side parsers with damaged copies of good files: DG1, DG13, EF.CardAccess,
EF.COM, APDU answers and secure-messaging answers. Property: a result, or CardProtocolError with a
message (English and Vietnamese); never another exception."""

from __future__ import annotations

import cccd_cardfiles as cardfiles
from hypothesis import given
from hypothesis import strategies as st
from pace_card import build_card_access

from edge.devices.cccd import CardProtocolError, parse_card_access, parse_dg1, parse_dg13
from edge.devices.cccd._apdu import command, transmit
from edge.devices.cccd._dg import parse_com, vn_date
from edge.devices.cccd._sm import SecureMessaging

GOOD = {
    "dg1": cardfiles.build_dg1(), "dg13": cardfiles.build_dg13(), "com": cardfiles.build_com(),
    "card_access": build_card_access([("2.2", 13), ("2.4", 16)]),
}
PARSERS = {"dg1": parse_dg1, "dg13": parse_dg13, "com": parse_com, "card_access": parse_card_access}


@st.composite
def damaged(draw, good: bytes) -> bytes:
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 5))):
        if len(data) < 2:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "flip", "flip", "cut", "insert", "delete"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 0xFF))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i:i + draw(st.integers(1, 6))]
    return bytes(data)


def _only_card_errors(parse, data: bytes):
    try:
        return parse(data)
    except CardProtocolError as exc:
        assert str(exc) and exc.message_vi
        return None


@given(st.sampled_from(sorted(GOOD)).flatmap(lambda name: st.tuples(st.just(name), damaged(GOOD[name]))))
def test_damaged_files(case):
    name, data = case
    result = _only_card_errors(PARSERS[name], data)
    if name == "dg13" and result is not None:
        for value in result.named().values():
            assert isinstance(value, str)


@given(damaged(GOOD["dg13"]))
def test_dg13_dates_from_a_damaged_file_are_iso_or_left_as_they_are(data):
    result = _only_card_errors(parse_dg13, data)
    if result is not None:
        for number in (3, 11, 12):
            text = result.get(number)
            day = vn_date(text)
            assert day == text or (day.isascii() and len(day) == 10)


def test_vn_date_reads_ascii_digits_only():
    assert vn_date("15/02/1990") == "1990-02-15"
    assert vn_date("１５/０２/１９９０") == "１５/０２/１９９０"  # left as it is: the clerk sees and types it


class _Card:
    """A Transport answering a scripted list of raw responses."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)

    def transmit(self, apdu: bytes) -> bytes:
        return self.answers.pop(0) if self.answers else b"\x6f\x00"


@given(st.lists(st.one_of(st.binary(max_size=12), st.sampled_from([b"\x61\x10", b"\x6c\x08", b"\x90\x00"])),
                min_size=1, max_size=70))
def test_apdu_answers(answers):
    try:
        response = transmit(_Card(answers), command(0x00, 0xB0, 0, 0, le=8))
    except CardProtocolError as exc:
        assert str(exc) and exc.message_vi
        return
    assert isinstance(response.data, bytes) and 0 <= response.sw <= 0xFFFF


KS_ENC = bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = bytes.fromhex("887022120C06C226")
SM_ANSWER = bytes.fromhex("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000")


@given(damaged(SM_ANSWER))
def test_secure_messaging_answers(data):
    sm = SecureMessaging(KS_ENC, KS_MAC, SSC)
    sm.protect(bytes.fromhex("00A4020C02011E"))
    sm.unprotect(bytes.fromhex("990290008E08FA855A5D4C50A8ED9000"))
    sm.protect(bytes.fromhex("00B0000004"))
    _only_card_errors(sm.unprotect, data)
