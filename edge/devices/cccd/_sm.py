"""ICAO 9303-11 secure messaging: DO87/DO97/DO99/DO8E and the SSC, for any cipher suite.

BAC (and PACE-3DES) run it with 3DES (8-byte SSC, IV = 0, retail MAC); PACE with AES runs it
with AES (16-byte SSC starting at 0, IV = E(KS_Enc, SSC), AES-CMAC truncated to 8 bytes).
"""

from __future__ import annotations

import hmac
import logging

from . import _tlv
from ._apdu import Response, Transport, split_response, sw_text
from ._crypto import TDES, CipherSuite, pad, unpad
from ._errors import CardProtocolError

logger = logging.getLogger(__name__)


class SecureMessaging:
    """Wraps command APDUs and unwraps responses under one session's keys and counter."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes, suite: CipherSuite = TDES) -> None:
        if len(ks_enc) != suite.key_len or len(ks_mac) != suite.key_len or len(ssc) != suite.block:
            raise ValueError(f"{suite.name} secure messaging needs {suite.key_len}-byte keys "
                             f"and a {suite.block}-byte SSC")
        self.suite = suite
        self._ks_enc = ks_enc
        self._ks_mac = ks_mac
        self._ssc = int.from_bytes(ssc, "big")

    @property
    def ssc(self) -> bytes:
        return self._ssc.to_bytes(self.suite.block, "big")

    def _next_ssc(self) -> bytes:
        self._ssc = (self._ssc + 1) % (1 << (8 * self.suite.block))
        return self.ssc

    def _pad(self, data: bytes) -> bytes:
        return pad(data, self.suite.block)

    def protect(self, apdu: bytes) -> bytes:
        """Turn a plain short APDU (cases 1-4) into its protected form."""
        if len(apdu) < 4:
            raise ValueError("APDU shorter than its header")
        header = bytes([apdu[0] | 0x0C]) + apdu[1:4]
        body = apdu[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0]
        elif body:
            lc = body[0]
            data = body[1:1 + lc]
            if len(body) == lc + 2:
                le = body[-1]
            elif len(body) != lc + 1:
                raise ValueError("APDU length does not match Lc")
        ssc = self._next_ssc()
        objects = b""
        if data:
            iv = self.suite.sm_iv(self._ks_enc, ssc)
            objects += _tlv.encode(0x87, b"\x01" + self.suite.encrypt(self._ks_enc, self._pad(data), iv))
        if le is not None:
            objects += _tlv.encode(0x97, bytes([le]))
        mac = self.suite.mac(self._ks_mac, self._pad(ssc + self._pad(header) + objects))
        objects += _tlv.encode(0x8E, mac)
        return header + bytes([len(objects)]) + objects + b"\x00"

    def unprotect(self, raw: bytes) -> Response:
        """Check and open a protected response; a plain error status word ends the session."""
        outer = split_response(raw)
        self._next_ssc()
        if not outer.data:
            # The card drops secure messaging on errors (e.g. 6987, 6988, 6982).
            raise CardProtocolError(f"card answered {sw_text(outer.sw)} without secure messaging", sw=outer.sw)
        items = _tlv.parse_all(outer.data, what="secure messaging response")
        do87 = _tlv.find(items, 0x87)
        do99 = _tlv.find(items, 0x99)
        do8e = _tlv.find(items, 0x8E)
        if do99 is None or do8e is None or len(do99.value) != 2:
            raise CardProtocolError("secure messaging response lacks DO99/DO8E", sw=outer.sw)
        covered = b"".join(i.encoded for i in items if i.tag in (0x85, 0x87, 0x99))
        expected = self.suite.mac(self._ks_mac, self._pad(self.ssc + covered))
        if not hmac.compare_digest(expected, do8e.value):
            raise CardProtocolError("secure messaging MAC does not verify", sw=outer.sw)
        sw = int.from_bytes(do99.value, "big")
        data = b""
        if do87 is not None:
            block = self.suite.block
            if len(do87.value) < 1 + block or do87.value[0] != 0x01 or (len(do87.value) - 1) % block:
                raise CardProtocolError("DO87 is malformed")
            try:
                iv = self.suite.sm_iv(self._ks_enc, self.ssc)
                data = unpad(self.suite.decrypt(self._ks_enc, do87.value[1:], iv), block)
            except ValueError as exc:
                raise CardProtocolError(f"DO87 does not decrypt: {exc}") from None
        return Response(data=data, sw=sw)


class SecureTransport:
    """A transport that protects every APDU it sends."""

    def __init__(self, inner: Transport, sm: SecureMessaging) -> None:
        self.inner = inner
        self.sm = sm

    def send(self, apdu: bytes) -> Response:
        response = self.sm.unprotect(self.inner.transmit(self.sm.protect(apdu)))
        logger.debug("SM APDU INS=%02X -> SW=%04X, %d bytes", apdu[1], response.sw, len(response.data))
        return response
