"""PACE (ICAO 9303-11 §4.4): EF.CardAccess, and the reader's side of ECDH Generic Mapping.

Supported: id-PACE-ECDH-GM-3DES / -AES-CBC-CMAC-128 / -192 / -256 over the standardized
elliptic-curve domain parameters 8-18 (NIST P-192 ... P-521, brainpoolP192r1 ... P512r1).
The password is the CAN (reference 2) or the MRZ information (reference 1).

The exchange: MSE:Set AT names protocol, password and domain parameters; four chained GENERAL
AUTHENTICATE commands then carry (1) the nonce s encrypted under K_pi = KDF_pi(password),
(2) the mapping key pairs, whose ECDH point H gives the new generator G~ = s*G + H,
(3) ephemeral key pairs on G~, whose ECDH x-coordinate K gives KS_Enc and KS_MAC, and
(4) the authentication tokens, each a MAC over the other side's public-key data object.
Elliptic-curve arithmetic comes from python-ecdsa; ciphers, MACs and hashes from cryptography.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from asn1crypto import core
from ecdsa import curves
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from . import _tlv
from ._apdu import Response, Transport, command, sw_text, transmit
from ._crypto import AES_128, AES_192, AES_256, TDES, CipherSuite
from ._errors import AccessDeniedError, CanRejectedError, CardProtocolError, NotSupportedError
from ._mrz import MrzKey, validate_can
from ._sm import SecureMessaging

logger = logging.getLogger(__name__)

PACE_PREFIX = "0.4.0.127.0.7.2.2.4."
PACE_NAMES = {
    "1.1": "PACE-DH-GM-3DES", "1.2": "PACE-DH-GM-AES-128", "2.1": "PACE-ECDH-GM-3DES",
    "2.2": "PACE-ECDH-GM-AES-128", "2.3": "PACE-ECDH-GM-AES-192", "2.4": "PACE-ECDH-GM-AES-256",
    "3.1": "PACE-DH-IM-3DES", "4.1": "PACE-ECDH-IM-3DES", "4.2": "PACE-ECDH-IM-AES-128",
    "6.2": "PACE-ECDH-CAM-AES-128",
}
# The protocols implemented here: ECDH with Generic Mapping, by their OID suffix.
GM_SUITES: dict[str, CipherSuite] = {"2.1": TDES, "2.2": AES_128, "2.3": AES_192, "2.4": AES_256}
# Standardized domain parameters (ICAO 9303-11 §9.5.1, table of parameter IDs), elliptic curves only.
CURVES: dict[int, curves.Curve] = {
    8: curves.NIST192p, 9: curves.BRAINPOOLP192r1, 10: curves.NIST224p, 11: curves.BRAINPOOLP224r1,
    12: curves.NIST256p, 13: curves.BRAINPOOLP256r1, 14: curves.BRAINPOOLP320r1, 15: curves.NIST384p,
    16: curves.BRAINPOOLP384r1, 17: curves.BRAINPOOLP512r1, 18: curves.NIST521p,
}
PASSWORD_MRZ, PASSWORD_CAN = 1, 2
# Status words with which a card refuses the reader's authentication token (wrong password).
_TOKEN_REFUSED = {0x6300, 0x6982, 0x6A80, 0x6988, 0x6985}


@dataclass(frozen=True, slots=True, kw_only=True)
class PaceInfo:
    """One PACEInfo of EF.CardAccess: protocol OID, version, standardized parameter ID."""

    oid: str
    version: int
    parameter_id: int | None

    @property
    def suffix(self) -> str:
        return self.oid[len(PACE_PREFIX):]

    @property
    def name(self) -> str:
        return PACE_NAMES.get(self.suffix, f"PACE-{self.suffix}")

    @property
    def supported(self) -> bool:
        return self.suffix in GM_SUITES and self.parameter_id in CURVES

    @property
    def oid_value(self) -> bytes:
        """The OID's content octets (without tag and length), as MSE:Set AT and tokens carry it."""
        return core.ObjectIdentifier(self.oid).contents

    @property
    def suite(self) -> CipherSuite:
        return GM_SUITES[self.suffix]

    @property
    def curve(self) -> curves.Curve:
        return CURVES[self.parameter_id or 0]


def parse_card_access(card_access: bytes) -> list[PaceInfo]:
    """The PACEInfos listed in EF.CardAccess (a SET OF SecurityInfo), in the card's order."""
    try:
        infos = _tlv.expect(card_access, 0x31, what="EF.CardAccess")
        out: list[PaceInfo] = []
        for info in _tlv.parse_all(infos.value, what="EF.CardAccess"):
            parts = _tlv.parse_all(info.value, what="EF.CardAccess") if info.tag == 0x30 else []
            if not parts or parts[0].tag != 0x06:
                continue
            oid = core.ObjectIdentifier.load(parts[0].encoded, strict=True).dotted
            if not (oid.startswith(PACE_PREFIX) and oid.count(".") > PACE_PREFIX.count(".")):
                continue  # another SecurityInfo (PACEDomainParameterInfo, ChipAuthenticationInfo, ...)
            if len(parts) < 2 or parts[1].tag != 0x02:
                raise CardProtocolError(f"EF.CardAccess: PACEInfo {oid} lacks its version")
            version = core.Integer.load(parts[1].encoded, strict=True).native
            parameter_id = None
            if len(parts) > 2 and parts[2].tag == 0x02:
                parameter_id = core.Integer.load(parts[2].encoded, strict=True).native
            out.append(PaceInfo(oid=oid, version=version, parameter_id=parameter_id))
        return out
    except (ValueError, TypeError) as exc:
        raise CardProtocolError(f"EF.CardAccess is malformed: {exc}") from None


def pace_protocols(card_access: bytes) -> list[str]:
    """Names of the PACE protocols listed in EF.CardAccess."""
    return [info.name for info in parse_card_access(card_access)]


def choose(infos: list[PaceInfo]) -> PaceInfo | None:
    """The first PACEInfo (in the card's order) implemented here, if any."""
    return next((info for info in infos if info.supported and info.version == 2), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacePassword:
    """The shared password: its reference in MSE:Set AT and f(pi), the input of KDF_pi."""

    ref: int
    secret: bytes = field(repr=False)

    @classmethod
    def from_can(cls, can: str) -> PacePassword:
        return cls(ref=PASSWORD_CAN, secret=validate_can(can).encode("ascii"))

    @classmethod
    def from_mrz(cls, key: MrzKey) -> PacePassword:
        # §9.7.3: f(pi) = SHA-1(MRZ information), all 20 bytes (BAC keeps only 16).
        return cls(ref=PASSWORD_MRZ, secret=hashlib.sha1(key.mrz_information().encode("ascii")).digest())

    def k_pi(self, suite: CipherSuite) -> bytes:
        return suite.kdf(self.secret, 3)

    def rejected(self, detail: str) -> AccessDeniedError:
        if self.ref == PASSWORD_CAN:
            return CanRejectedError(f"PACE with the CAN refused: {detail}")
        return AccessDeniedError(f"PACE with the MRZ data refused: {detail}")


# --- elliptic-curve helpers (shared with the test card emulator) -------------------------------

def field_len(curve: curves.Curve) -> int:
    return (curve.curve.p().bit_length() + 7) // 8


def encode_point(curve: curves.Curve, point: PointJacobi) -> bytes:
    """Uncompressed encoding 04 || x || y."""
    n = field_len(curve)
    return b"\x04" + point.x().to_bytes(n, "big") + point.y().to_bytes(n, "big")


def decode_point(curve: curves.Curve, data: bytes, *, what: str) -> PointJacobi:
    """Decode and validate a peer's public point: uncompressed, coordinates in range, on the curve."""
    n = field_len(curve)
    if len(data) != 1 + 2 * n or data[0] != 0x04:
        raise CardProtocolError(f"{what}: not an uncompressed point of {curve.name} ({len(data)} bytes)")
    x, y = int.from_bytes(data[1:1 + n], "big"), int.from_bytes(data[1 + n:], "big")
    p = curve.curve.p()
    if x >= p or y >= p or not curve.curve.contains_point(x, y):
        raise CardProtocolError(f"{what}: the point is not on {curve.name}")
    # Every curve in CURVES has cofactor 1: a point on the curve lies in the prime-order group.
    return PointJacobi(curve.curve, x, y, 1, curve.order)


def new_private_key(curve: curves.Curve) -> int:
    return secrets.randbelow(curve.order - 1) + 1


def map_generator(curve: curves.Curve, nonce: bytes, private_key: int, peer_mapping_key: PointJacobi) -> PointJacobi:
    """Generic Mapping (§4.4.3.3.1): G~ = s*G + H with H = private_key * peer_mapping_key."""
    shared = peer_mapping_key * private_key
    if shared == INFINITY:
        raise CardProtocolError("PACE mapping: the shared point H is the point at infinity")
    mapped = curve.generator * int.from_bytes(nonce, "big") + shared
    if mapped == INFINITY:
        raise CardProtocolError("PACE mapping: the mapped generator is the point at infinity")
    return mapped


def shared_secret(curve: curves.Curve, private_key: int, peer_key: PointJacobi) -> bytes:
    """ECDH on the mapped group: the x-coordinate of private_key * peer_key."""
    point = peer_key * private_key
    if point == INFINITY:
        raise CardProtocolError("PACE key agreement gave the point at infinity")
    return point.x().to_bytes(field_len(curve), "big")


def public_key_object(oid_value: bytes, point: bytes) -> bytes:
    """The public-key data object the tokens cover (§4.4.3.4): 7F49 { 06 OID, 86 point }."""
    return _tlv.encode(0x7F49, _tlv.encode(0x06, oid_value) + _tlv.encode(0x86, point))


def session_keys(suite: CipherSuite, secret: bytes) -> tuple[bytes, bytes]:
    return suite.kdf(secret, 1), suite.kdf(secret, 2)


# --- the reader's side ---------------------------------------------------------------------------

def _general_authenticate(transport: Transport, tag: int | None, value: bytes, *, last: bool) -> Response:
    body = _tlv.encode(tag, value) if tag is not None else b""
    return transmit(transport, command(0x00 if last else 0x10, 0x86, 0x00, 0x00, _tlv.encode(0x7C, body), le=0))


def _answer_object(answer: Response, tag: int, *, step: str) -> bytes:
    """The value of ``tag`` inside the 7C dynamic authentication data of a GA answer."""
    if not answer.ok:
        raise CardProtocolError(f"GENERAL AUTHENTICATE ({step}) answered {sw_text(answer.sw)}", sw=answer.sw)
    outer = _tlv.expect(answer.data, 0x7C, what=f"GENERAL AUTHENTICATE ({step}) answer")
    item = _tlv.find(_tlv.parse_all(outer.value, what=f"GENERAL AUTHENTICATE ({step}) answer"), tag)
    if item is None:
        raise CardProtocolError(f"GENERAL AUTHENTICATE ({step}) answer lacks object {tag:02X}")
    return item.value


def _set_at(transport: Transport, info: PaceInfo, password: PacePassword) -> None:
    data = (_tlv.encode(0x80, info.oid_value) + _tlv.encode(0x83, bytes([password.ref]))
            + _tlv.encode(0x84, bytes([info.parameter_id or 0])))
    answer = transmit(transport, command(0x00, 0x22, 0xC1, 0xA4, data))
    if answer.ok or answer.sw & 0xFFF0 == 0x63C0:
        return
    if answer.sw in (0x6A80, 0x6A88, 0x6A86, 0x6985):
        raise NotSupportedError(f"the card refused MSE:Set AT for {info.name} with password "
                                f"reference {password.ref}: {sw_text(answer.sw)}")
    raise CardProtocolError(f"MSE:Set AT answered {sw_text(answer.sw)}", sw=answer.sw)


KeySource = Callable[[curves.Curve], int]


def perform_pace(transport: Transport, password: PacePassword, info: PaceInfo, *,
                 private_key: KeySource = new_private_key) -> SecureMessaging:
    """Run PACE-ECDH-GM; return the secure-messaging session (SSC = 0) it establishes.

    ``private_key`` draws the reader's mapping then ephemeral private keys (fixed ones reproduce
    ICAO 9303-11 Appendix G). A refused token raises CanRejectedError (CAN) or AccessDeniedError
    (MRZ); anything malformed or inconsistent raises CardProtocolError.
    """
    if not info.supported:
        raise NotSupportedError(f"{info.name} with parameter ID {info.parameter_id} is not implemented")
    suite, curve = info.suite, info.curve
    _set_at(transport, info, password)

    # 1. Encrypted nonce.
    z = _answer_object(_general_authenticate(transport, None, b"", last=False), 0x80, step="nonce")
    if not z or len(z) % suite.block:
        raise CardProtocolError(f"PACE: the encrypted nonce has {len(z)} bytes, not whole {suite.name} blocks")
    nonce = suite.decrypt(password.k_pi(suite), z)

    # 2. Mapping: G~ = s*G + sk_map * PK_map,IC.
    sk_map = private_key(curve)
    pk_map = encode_point(curve, curve.generator * sk_map)
    answer = _general_authenticate(transport, 0x81, pk_map, last=False)
    pk_map_ic = decode_point(curve, _answer_object(answer, 0x82, step="mapping"), what="PACE mapping key of the card")
    generator = map_generator(curve, nonce, sk_map, pk_map_ic)

    # 3. Ephemeral key agreement on G~.
    sk = private_key(curve)
    pk = encode_point(curve, generator * sk)
    answer = _general_authenticate(transport, 0x83, pk, last=False)
    pk_ic_bytes = _answer_object(answer, 0x84, step="key agreement")
    pk_ic = decode_point(curve, pk_ic_bytes, what="PACE ephemeral key of the card")
    if pk_ic_bytes == pk:
        raise CardProtocolError("PACE: the card echoed the reader's ephemeral public key")
    ks_enc, ks_mac = session_keys(suite, shared_secret(curve, sk, pk_ic))

    # 4. Mutual authentication.
    t_pcd = suite.token(ks_mac, public_key_object(info.oid_value, pk_ic_bytes))
    answer = _general_authenticate(transport, 0x85, t_pcd, last=True)
    if answer.sw in _TOKEN_REFUSED or answer.sw & 0xFFF0 == 0x63C0:
        logger.info("PACE token refused by the card: SW=%04X", answer.sw)
        raise password.rejected(f"the card refused the authentication token ({sw_text(answer.sw)})")
    t_picc = _answer_object(answer, 0x86, step="mutual authentication")
    if not hmac.compare_digest(t_picc, suite.token(ks_mac, public_key_object(info.oid_value, pk))):
        raise CardProtocolError("PACE: the card's authentication token does not verify",
                                message_vi="Thẻ không xác thực được với đầu đọc (mã xác thực PACE sai). "
                                           "Thẻ có thể bị làm giả hoặc hỏng.")
    logger.debug("PACE established: %s, parameter ID %s", info.name, info.parameter_id)
    return SecureMessaging(ks_enc, ks_mac, bytes(suite.block), suite)
