"""The card's side of PACE-ECDH-GM for the eMRTD emulator: MSE:Set AT and four GENERAL AUTHENTICATEs.

Fault switches (``fault``) make the card answer wrongly on purpose:
``"nonce"`` sends a random encrypted nonce (as if tampered in transit), ``"map_point"`` a mapping
key that is not on the curve, ``"echo"`` the reader's own ephemeral key back, ``"token"`` a wrong
authentication token, ``"tlv"`` a mapping answer without its 82 object.
"""

from __future__ import annotations

import os

from asn1crypto import core

from edge.devices.cccd._errors import CardProtocolError
from edge.devices.cccd._pace import (
    CURVES,
    GM_SUITES,
    PACE_PREFIX,
    decode_point,
    encode_point,
    map_generator,
    new_private_key,
    public_key_object,
    session_keys,
    shared_secret,
)
from edge.devices.cccd._tlv import encode, parse_all

SW_OK, SW_WRONG_DATA, SW_CONDITIONS, SW_TOKEN_REFUSED = 0x9000, 0x6A80, 0x6985, 0x6300


def build_card_access(offers: list[tuple[str, int]]) -> bytes:
    """EF.CardAccess listing PACEInfo(oid suffix, version 2, parameter ID) for each offer."""
    infos = b"".join(
        encode(0x30, core.ObjectIdentifier(PACE_PREFIX + suffix).dump() + core.Integer(2).dump()
               + core.Integer(param_id).dump())
        for suffix, param_id in offers)
    return encode(0x31, infos)


class PaceCard:
    """One card's PACE state machine; ``established`` holds (suite, KS_Enc, KS_MAC) when done."""

    def __init__(self, offers: list[tuple[str, int]], passwords: dict[int, bytes]) -> None:
        self.offers = offers
        self.passwords = passwords        # password reference -> f(pi)
        self.fault: str | None = None
        self.reset()

    def reset(self) -> None:
        self.step = 0
        self.state: dict = {}
        self.established: tuple | None = None
        self.password_ref: int | None = None

    def set_at(self, data: bytes) -> int:
        self.reset()
        try:
            items = {o.tag: o.value for o in parse_all(data, what="MSE:Set AT")}
        except CardProtocolError:
            return SW_WRONG_DATA
        try:
            oid = core.ObjectIdentifier.load(encode(0x06, items.get(0x80, b""))).dotted
        except ValueError:
            return SW_WRONG_DATA
        suffix = oid[len(PACE_PREFIX):] if oid.startswith(PACE_PREFIX) else ""
        ids = [pid for s, pid in self.offers if s == suffix]
        if 0x84 in items:
            ids = [pid for pid in ids if bytes([pid]) == items[0x84]]
        ref = items.get(0x83, b"")
        if len(ids) != 1 or suffix not in GM_SUITES or len(ref) != 1 or ref[0] not in self.passwords:
            return SW_WRONG_DATA
        self.state = {"suite": GM_SUITES[suffix], "curve": CURVES[ids[0]],
                      "oid": items[0x80], "password": self.passwords[ref[0]]}
        self.password_ref = ref[0]
        self.step = 1
        return SW_OK

    def general_authenticate(self, cla: int, data: bytes) -> tuple[bytes, int]:
        """One GA step; any misuse ends the PACE attempt."""
        step = self.step
        last = step == 4
        if step == 0 or (cla & 0x10 == 0) != last:
            self.reset()
            return b"", SW_CONDITIONS
        try:
            outer = parse_all(data, what="GA")
            objects = {o.tag: o.value for o in parse_all(outer[0].value, what="GA")} if outer else None
        except CardProtocolError:
            objects = None
        if not outer or outer[0].tag != 0x7C or objects is None:
            self.reset()
            return b"", SW_WRONG_DATA
        try:
            out, sw = (self._nonce, self._mapping, self._agreement, self._tokens)[step - 1](objects)
        except (CardProtocolError, KeyError):
            self.reset()
            return b"", SW_WRONG_DATA
        if sw != SW_OK:
            self.reset()
            return b"", sw
        self.step = step + 1 if step < 4 else 0
        return encode(0x7C, out), sw

    def _nonce(self, objects: dict) -> tuple[bytes, int]:
        suite = self.state["suite"]
        nonce = os.urandom(suite.block)
        self.state["nonce"] = nonce
        z = suite.encrypt(suite.kdf(self.state["password"], 3), nonce)
        if self.fault == "nonce":
            z = os.urandom(len(z))
        return encode(0x80, z), SW_OK

    def _mapping(self, objects: dict) -> tuple[bytes, int]:
        curve = self.state["curve"]
        peer = decode_point(curve, objects[0x81], what="reader mapping key")
        sk = new_private_key(curve)
        self.state["generator"] = map_generator(curve, self.state["nonce"], sk, peer)
        mine = encode_point(curve, curve.generator * sk)
        if self.fault == "map_point":
            mine = mine[:-1] + bytes([mine[-1] ^ 0x01])
        if self.fault == "tlv":
            return encode(0x83, mine), SW_OK
        return encode(0x82, mine), SW_OK

    def _agreement(self, objects: dict) -> tuple[bytes, int]:
        curve, suite = self.state["curve"], self.state["suite"]
        peer_bytes = objects[0x83]
        peer = decode_point(curve, peer_bytes, what="reader ephemeral key")
        sk = new_private_key(curve)
        mine = encode_point(curve, self.state["generator"] * sk)
        if peer_bytes == mine:
            return b"", SW_WRONG_DATA
        self.state.update(peer=peer_bytes, mine=mine,
                          keys=session_keys(suite, shared_secret(curve, sk, peer)))
        if self.fault == "echo":
            mine = peer_bytes
        return encode(0x84, mine), SW_OK

    def _tokens(self, objects: dict) -> tuple[bytes, int]:
        suite, oid = self.state["suite"], self.state["oid"]
        ks_enc, ks_mac = self.state["keys"]
        if objects[0x85] != suite.token(ks_mac, public_key_object(oid, self.state["mine"])):
            return b"", SW_TOKEN_REFUSED
        token = suite.token(ks_mac, public_key_object(oid, self.state["peer"]))
        if self.fault == "token":
            token = bytes([token[0] ^ 0xFF]) + token[1:]
        self.established = (suite, ks_enc, ks_mac)
        return encode(0x86, token), SW_OK
