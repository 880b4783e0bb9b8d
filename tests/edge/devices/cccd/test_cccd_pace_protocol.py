"""PACE without a reader: the ICAO 9303-11 Appendix G.1 worked example, AES secure messaging,
EF.CardAccess parsing, point validation and malformed card answers."""

from __future__ import annotations

import pytest
from ecdsa import curves
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.devices.cccd import (
    AccessDeniedError,
    CanRejectedError,
    CardProtocolError,
    CccdError,
    MrzKey,
    NotSupportedError,
)
from edge.devices.cccd._apdu import command
from edge.devices.cccd._crypto import AES_128, AES_256, TDES, pad
from edge.devices.cccd._pace import (
    PaceInfo,
    PacePassword,
    choose,
    decode_point,
    encode_point,
    map_generator,
    pace_protocols,
    parse_card_access,
    perform_pace,
)
from edge.devices.cccd._sm import SecureMessaging
from edge.devices.cccd._tlv import encode

# ICAO 9303-11 Appendix G.1: PACE-ECDH-GM-AES-CBC-CMAC-128, brainpoolP256r1, MRZ password.
G1 = {
    "k": "7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD",
    "k_pi": "89DED1B26624EC1E634C1989302849DD",
    "z": "95A3A016522EE98D01E76CB6B98B42C3",
    "s": "3F00C4D39D153F2B2A214A078D899B22",
    "sk_map_ifd": 0x7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99,
    "pk_map_ifd": "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
                  "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D",
    "sk_map_ic": 0x498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560,
    "pk_map_ic": "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
                 "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54",
    "g_mapped": "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2"
                "8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522",
    "sk_ifd": 0xA73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595,
    "pk_ifd": "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
              "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462",
    "sk_ic": 0x107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A,
    "pk_ic": "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
             "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094",
    "ks_enc": "F5F0E35C0D7161EE6724EE513A0D9A7F",
    "ks_mac": "FE251C7858B356B24514B3BD5F4297D1",
    "t_ifd": "C2B0BD78D94BA866",
    "t_ic": "3ABB9674BCE93C08",
}
G1_INFO = PaceInfo(oid="0.4.0.127.0.7.2.2.4.2.2", version=2, parameter_id=13)
G1_PASSWORD = PacePassword.from_mrz(MrzKey.from_fields("T22000129", "640812", "101031"))
G1_CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")


def _g1_script() -> list[tuple[str, str]]:
    return [
        ("0022C1A412800A04007F0007020204020283010184010D", "9000"),
        ("10860000027C0000", "7C1280" + "10" + G1["z"] + "9000"),
        ("10860000457C438141" + G1["pk_map_ifd"] + "00", "7C438241" + G1["pk_map_ic"] + "9000"),
        ("10860000457C438341" + G1["pk_ifd"] + "00", "7C438441" + G1["pk_ic"] + "9000"),
        ("008600000C7C0A8508" + G1["t_ifd"] + "00", "7C0A8608" + G1["t_ic"] + "9000"),
    ]


class ScriptedCard:
    """A transport that checks each command against a script and plays the card's answers."""

    def __init__(self, script: list[tuple[str, str]]) -> None:
        self.script = list(script)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        expected, answer = self.script.pop(0)
        if expected:
            assert apdu.hex().upper() == expected.upper()
        return bytes.fromhex(answer)


def _g1_keys():
    keys = iter([G1["sk_map_ifd"], G1["sk_ifd"]])
    return lambda curve: next(keys)


def test_appendix_g1_password_key_and_nonce():
    assert G1_PASSWORD.ref == 1 and G1_PASSWORD.secret.hex().upper() == G1["k"]
    assert G1_PASSWORD.k_pi(AES_128).hex().upper() == G1["k_pi"]
    assert AES_128.decrypt(G1_PASSWORD.k_pi(AES_128), bytes.fromhex(G1["z"])).hex().upper() == G1["s"]


def test_appendix_g1_generic_mapping_from_both_sides():
    curve = curves.BRAINPOOLP256r1
    pk_map_ifd = decode_point(curve, bytes.fromhex(G1["pk_map_ifd"]), what="t")
    pk_map_ic = decode_point(curve, bytes.fromhex(G1["pk_map_ic"]), what="t")
    assert encode_point(curve, curve.generator * G1["sk_map_ifd"]).hex().upper() == G1["pk_map_ifd"]
    s = bytes.fromhex(G1["s"])
    reader_side = map_generator(curve, s, G1["sk_map_ifd"], pk_map_ic)
    card_side = map_generator(curve, s, G1["sk_map_ic"], pk_map_ifd)
    assert encode_point(curve, reader_side).hex().upper() == G1["g_mapped"]
    assert encode_point(curve, card_side).hex().upper() == G1["g_mapped"]
    assert encode_point(curve, card_side * G1["sk_ic"]).hex().upper() == G1["pk_ic"]


def test_appendix_g1_transcript_byte_for_byte():
    card = ScriptedCard(_g1_script())
    sm = perform_pace(card, G1_PASSWORD, G1_INFO, private_key=_g1_keys())
    assert not card.script
    assert sm.suite is AES_128 and sm.ssc == bytes(16)
    # The session keys of the example protect the next command: SELECT of the eMRTD application.
    assert sm.protect(command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))).hex().upper() == (
        "0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00")


def test_aes_secure_messaging_round_trip_and_tamper():
    ks_enc, ks_mac = bytes.fromhex(G1["ks_enc"]), bytes.fromhex(G1["ks_mac"])
    reader = SecureMessaging(ks_enc, ks_mac, bytes(16), AES_128)
    protected = reader.protect(command(0x00, 0xB0, 0x00, 0x00, le=0x12))
    assert protected[:4] == bytes.fromhex("0CB00000") and protected.endswith(b"\x00")
    # The card's answer (18 bytes) under SSC = 2: DO87 with IV = E(KS_Enc, SSC), DO99, CMAC in DO8E.
    ssc = (2).to_bytes(16, "big")
    plain = bytes(range(18))
    do87 = encode(0x87, b"\x01" + AES_128.encrypt(ks_enc, pad(plain, 16), AES_128.sm_iv(ks_enc, ssc)))
    do99 = encode(0x99, b"\x90\x00")
    good = do87 + do99 + encode(0x8E, AES_128.mac(ks_mac, pad(ssc + do87 + do99, 16))) + b"\x90\x00"
    assert reader.unprotect(good).data == plain and reader.ssc == ssc
    replay = SecureMessaging(ks_enc, ks_mac, (2).to_bytes(16, "big"), AES_128)  # counter out of step
    with pytest.raises(CardProtocolError, match="MAC"):
        replay.unprotect(good)
    tampered = SecureMessaging(ks_enc, ks_mac, (1).to_bytes(16, "big"), AES_128)
    with pytest.raises(CardProtocolError, match="MAC"):
        tampered.unprotect(good[:-10] + bytes(8) + b"\x90\x00")
    with pytest.raises(ValueError):
        SecureMessaging(ks_enc, ks_mac, bytes(8), AES_128)


def test_kdf_lengths_per_suite():
    assert len(AES_128.kdf(b"k", 1)) == 16 and len(AES_256.kdf(b"k", 1)) == 32
    assert AES_256.kdf(b"k", 1) != AES_256.kdf(b"k", 2)
    assert len(TDES.kdf(b"k", 3)) == 16


@pytest.mark.parametrize(("sw", "password", "error"), [
    ("6300", PacePassword.from_can("123456"), CanRejectedError),
    ("63C2", PacePassword.from_can("123456"), CanRejectedError),
    ("6300", G1_PASSWORD, AccessDeniedError),
])
def test_refused_token_names_the_password(sw, password, error):
    script = _g1_script()
    script = [("", a) for _e, a in script[:4]] + [("", sw)]
    with pytest.raises(AccessDeniedError) as info:
        perform_pace(ScriptedCard(script), password, G1_INFO, private_key=_g1_keys())
    assert type(info.value) is error


def test_wrong_card_token_is_a_protocol_error():
    script = _g1_script()
    script[-1] = (script[-1][0], "7C0A8608" + "00" * 8 + "9000")
    with pytest.raises(CardProtocolError, match="token"):
        perform_pace(ScriptedCard(script), G1_PASSWORD, G1_INFO, private_key=_g1_keys())


def test_card_access_parsing_and_choice():
    infos = parse_card_access(G1_CARD_ACCESS)
    assert infos == [G1_INFO] and pace_protocols(G1_CARD_ACCESS) == ["PACE-ECDH-GM-AES-128"]
    im = PaceInfo(oid="0.4.0.127.0.7.2.2.4.4.2", version=2, parameter_id=13)
    explicit = PaceInfo(oid="0.4.0.127.0.7.2.2.4.2.2", version=2, parameter_id=None)
    dh = PaceInfo(oid="0.4.0.127.0.7.2.2.4.1.2", version=2, parameter_id=2)
    p256 = PaceInfo(oid="0.4.0.127.0.7.2.2.4.2.4", version=2, parameter_id=12)
    assert choose([im, explicit, dh, p256, G1_INFO]) == p256
    assert choose([im, explicit, dh]) is None
    with pytest.raises(NotSupportedError):
        perform_pace(ScriptedCard([]), G1_PASSWORD, im)


@pytest.mark.parametrize("mutate", [
    lambda p: p[:-1] + bytes([p[-1] ^ 1]),   # off the curve
    lambda p: b"\x02" + p[1:33],             # compressed: not accepted
    lambda p: p[:-1],                        # short
    lambda p: b"\x04" + b"\xff" * 64,        # coordinates beyond the field
    lambda p: b"\x04" + bytes(64),           # (0, 0)
])
def test_invalid_points_are_refused(mutate):
    point = bytes.fromhex(G1["pk_map_ic"])
    with pytest.raises(CardProtocolError):
        decode_point(curves.BRAINPOOLP256r1, mutate(point), what="test point")


@settings(max_examples=60, deadline=None)
@given(step=st.integers(1, 4), answer=st.binary(max_size=80))
def test_garbage_ga_answers_never_escape_as_anything_but_a_card_error(step, answer):
    script = [("", a) for _e, a in _g1_script()]
    script[step] = ("", (answer + b"\x90\x00").hex())
    try:
        perform_pace(ScriptedCard(script), G1_PASSWORD, G1_INFO, private_key=_g1_keys())
    except CccdError:
        return
    raise AssertionError("a garbage answer was accepted")
