"""PACE discovery: which protocols EF.CardAccess offers (PACE itself is not implemented yet).

PACE with the generic mapping needs elliptic-curve point addition (G~ = s·G + H), which the
`cryptography` package does not expose; until a vetted library for it is adopted, a CAN-only
read stops with :class:`NotSupportedError` and the clerk is asked for the MRZ data instead.
"""

from __future__ import annotations

from asn1crypto import core

from . import _tlv
from ._errors import CardProtocolError

PACE_PREFIX = "0.4.0.127.0.7.2.2.4."
PACE_NAMES = {
    "1.1": "PACE-DH-GM-3DES", "1.2": "PACE-DH-GM-AES-128", "2.1": "PACE-ECDH-GM-3DES",
    "2.2": "PACE-ECDH-GM-AES-128", "2.3": "PACE-ECDH-GM-AES-192", "2.4": "PACE-ECDH-GM-AES-256",
    "3.1": "PACE-DH-IM-3DES", "4.1": "PACE-ECDH-IM-3DES", "4.2": "PACE-ECDH-IM-AES-128",
    "6.2": "PACE-ECDH-CAM-AES-128",
}


def pace_protocols(card_access: bytes) -> list[str]:
    """Names of the PACE protocols listed in EF.CardAccess (a SET OF SecurityInfo)."""
    try:
        infos = _tlv.expect(card_access, 0x31, what="EF.CardAccess")
        out = []
        for info in _tlv.parse_all(infos.value, what="EF.CardAccess"):
            parts = _tlv.parse_all(info.value, what="EF.CardAccess") if info.tag == 0x30 else []
            if parts and parts[0].tag == 0x06:
                oid = core.ObjectIdentifier.load(parts[0].encoded, strict=True).dotted
                if oid.startswith(PACE_PREFIX) and oid.count(".") > PACE_PREFIX.count("."):
                    suffix = oid[len(PACE_PREFIX):]
                    out.append(PACE_NAMES.get(suffix, f"PACE-{suffix}"))
        return out
    except (ValueError, TypeError) as exc:
        raise CardProtocolError(f"EF.CardAccess is malformed: {exc}") from None
