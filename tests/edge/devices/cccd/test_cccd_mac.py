"""MAC checks of BAC and secure messaging: a wrong MAC (any byte, any length) is refused."""

from __future__ import annotations

import os

import pytest

from edge.devices.cccd import AccessDeniedError, CardProtocolError, MrzKey
from edge.devices.cccd._bac import perform_bac
from edge.devices.cccd._crypto import pad, retail_mac, session_keys, tdes_cbc_encrypt
from edge.devices.cccd._sm import SecureMessaging
from edge.devices.cccd._tlv import encode

KEY = MrzKey.from_fields("L898902C", "690806", "940623")


class _BacCard:
    """The card's side of BAC (a Transport); ``damage`` alters the MAC it sends back."""

    def __init__(self, damage) -> None:
        self.k_enc, self.k_mac = session_keys(KEY.key_seed())
        self.rnd_ic = os.urandom(8)
        self.damage = damage

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == 0x84:
            return self.rnd_ic + b"\x90\x00"
        from edge.devices.cccd._crypto import tdes_cbc_decrypt

        plain = tdes_cbc_decrypt(self.k_enc, apdu[5:5 + 32])
        rnd_ifd = plain[:8]
        e_ic = tdes_cbc_encrypt(self.k_enc, self.rnd_ic + rnd_ifd + os.urandom(16))
        return e_ic + self.damage(retail_mac(self.k_mac, pad(e_ic))) + b"\x90\x00"


def test_bac_with_the_right_mac_opens():
    assert isinstance(perform_bac(_BacCard(lambda mac: mac), KEY), SecureMessaging)


@pytest.mark.parametrize("position", range(8))
def test_bac_refuses_a_mac_wrong_in_any_byte(position):
    def damage(mac: bytes) -> bytes:
        return mac[:position] + bytes([mac[position] ^ 0x01]) + mac[position + 1:]

    with pytest.raises(AccessDeniedError, match="MAC"):
        perform_bac(_BacCard(damage), KEY)


KS_ENC = bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = bytes.fromhex("887022120C06C226")
GOOD = bytes.fromhex("FA855A5D4C50A8ED")  # ICAO 9303-11 Appendix D.4: the MAC of 99 02 90 00


@pytest.mark.parametrize("mac", [GOOD[:7], GOOD + b"\x00", b"", bytes(8),
                                 *(GOOD[:i] + bytes([GOOD[i] ^ 0x80]) + GOOD[i + 1:] for i in range(8))])
def test_secure_messaging_refuses_a_wrong_mac(mac):
    sm = SecureMessaging(KS_ENC, KS_MAC, SSC)
    sm.protect(bytes.fromhex("00A4020C02011E"))
    with pytest.raises(CardProtocolError, match="MAC"):
        sm.unprotect(bytes.fromhex("99029000") + encode(0x8E, mac) + b"\x90\x00")


def test_secure_messaging_accepts_the_right_mac():
    sm = SecureMessaging(KS_ENC, KS_MAC, SSC)
    sm.protect(bytes.fromhex("00A4020C02011E"))
    assert sm.unprotect(bytes.fromhex("99029000") + encode(0x8E, GOOD) + b"\x90\x00").sw == 0x9000
