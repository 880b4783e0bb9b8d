"""Passive authentication: EF.SOD (CMS SignedData over an LDSSecurityObject) against CSCAs."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from core.vntime import vn_date

from . import _tlv
from ._errors import CardProtocolError

logger = logging.getLogger(__name__)

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
# What asn1crypto (lazy parsing of the card's structures) and cryptography (keys and signatures
# of the card's certificates) raise on hostile or unsupported input (x509.InvalidVersion, for a
# certificate version outside v1-v3, is not a ValueError).
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, OverflowError, UnsupportedAlgorithm,
              x509.InvalidVersion)
_HASHES = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
           "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class DataGroupHash(core.Sequence):
    _fields = [("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class LdsSecurityObject(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class PassiveAuthResult:
    """Outcome of passive authentication; ``verified`` only when every check passed."""

    verified: bool
    reason: str
    reason_vi: str
    hashes_ok: dict[int, bool] = field(default_factory=dict)
    signature_ok: bool = False
    chain_ok: bool = False
    dates_ok: bool = False   # the DS (and the CSCA, when found) are valid at the clock's time
    expired: bool = False    # the DS or the CSCA certificate has expired at the clock's time
    signer: str = ""
    csca: str = ""

    def to_dict(self) -> dict:
        return {"verified": self.verified, "reason": self.reason, "reason_vi": self.reason_vi,
                "hashes_ok": {str(k): v for k, v in sorted(self.hashes_ok.items())},
                "signature_ok": self.signature_ok, "chain_ok": self.chain_ok,
                "dates_ok": self.dates_ok, "expired": self.expired,
                "signer": self.signer, "csca": self.csca}


def load_csca_dir(path: str | Path | None) -> list[x509.Certificate]:
    """Every PEM or DER certificate in ``path`` (unreadable files are logged and skipped)."""
    if not path:
        return []
    folder = Path(path)
    if not folder.is_dir():
        logger.warning("CSCA directory %s does not exist", folder)
        return []
    certs: list[x509.Certificate] = []
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.stat().st_size > 1 << 20:
            continue
        data = file.read_bytes()
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                certs.extend(x509.load_pem_x509_certificates(data))
            else:
                certs.append(x509.load_der_x509_certificate(data))
        except ValueError:
            logger.warning("skipping %s: not a certificate", file.name)
    return certs


@dataclass(frozen=True, slots=True, kw_only=True)
class Sod:
    signed_data: cms.SignedData
    lds: LdsSecurityObject
    encap_bytes: bytes

    @property
    def hash_name(self) -> str:
        return self.lds["hash_algorithm"]["algorithm"].native

    def expected_hashes(self) -> dict[int, bytes]:
        return {item["data_group_number"].native: item["data_group_hash_value"].native
                for item in self.lds["data_group_hash_values"]}


def parse_sod(data: bytes) -> Sod:
    outer = _tlv.expect(data, 0x77, what="EF.SOD")
    try:
        info = cms.ContentInfo.load(outer.value, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("EF.SOD is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != LDS_SECURITY_OBJECT_OID:
            raise ValueError("EF.SOD does not carry an LDSSecurityObject")
        encap_bytes = encap["content"].contents
        lds = LdsSecurityObject.load(encap_bytes, strict=True)
        lds.native  # force a full parse now, so malformation surfaces here  # noqa: B018
        if len(signed["signer_infos"]) != 1:
            raise ValueError("EF.SOD must have exactly one signer")
    except _MALFORMED as exc:
        raise CardProtocolError(f"EF.SOD is malformed: {exc}") from None
    return Sod(signed_data=signed, lds=lds, encap_bytes=encap_bytes)


def _digest(name: str, data: bytes) -> bytes:
    if name not in _HASHES:
        raise ValueError(f"unsupported hash {name}")
    return hashlib.new(name, data).digest()


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return x509.load_der_x509_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    raise ValueError("the Document Signer certificate is not in EF.SOD")


def _single_value(attrs: cms.CMSAttributes, name: str):
    """The one value of the one signed attribute ``name`` (RFC 5652 §5.3, §11.1-11.2)."""
    label = name.replace("_", " ")
    found = [a for a in attrs if a["type"].native == name]
    if len(found) != 1:
        raise ValueError(f"the signed attributes carry {len(found)} {label} attributes, not 1")
    values = found[0]["values"]
    if len(values) != 1:
        raise ValueError(f"the {label} attribute has {len(values)} values, not 1")
    return values[0]


def _verify_signature(cert: x509.Certificate, signer: cms.SignerInfo, message: bytes) -> None:
    hash_cls = _HASHES[signer["digest_algorithm"]["algorithm"].native]
    algo = signer["signature_algorithm"]
    signature = signer["signature"].native
    try:
        key = cert.public_key()
    except UnsupportedAlgorithm as exc:
        raise ValueError(f"the Document Signer key is of an unsupported algorithm ({exc})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if algo.signature_algo == "rsassa_pss":
            params = algo["parameters"]
            pad = padding.PSS(mgf=padding.MGF1(_HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()),
                              salt_length=params["salt_length"].native)
        else:
            pad = padding.PKCS1v15()
        key.verify(signature, message, pad, hash_cls())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, message, ec.ECDSA(hash_cls()))
    else:
        raise ValueError("unsupported Document Signer key type")


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _issuing_csca(cert: x509.Certificate, cscas: list[x509.Certificate], now: dt.datetime) -> x509.Certificate | None:
    """The CSCA whose key signed ``cert``; among several (a renewed CSCA), one valid now if any."""
    issuers = []
    for csca in cscas:
        if csca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(csca)
        except (*_MALFORMED, InvalidSignature):
            continue
        issuers.append(csca)
    return next((c for c in issuers if _valid_at(c, now)), issuers[0] if issuers else None)


def _date_problems(certs: list[tuple[str, x509.Certificate]], now: dt.datetime) -> tuple[list[str], list[str], bool]:
    """(problems, Vietnamese phrases, expired) for the certificates not valid at ``now``."""
    problems, phrases, expired = [], [], False
    for role, cert in certs:
        if now > cert.not_valid_after_utc:
            expired = True
            day = vn_date(cert.not_valid_after_utc).strftime("%d/%m/%Y")
            problems.append(f"the {role} certificate expired on {cert.not_valid_after_utc.date().isoformat()}")
            phrases.append(f"đã hết hạn từ ngày {day}")
        elif now < cert.not_valid_before_utc:
            day = vn_date(cert.not_valid_before_utc).strftime("%d/%m/%Y")
            problems.append(f"the {role} certificate is not yet valid (from "
                            f"{cert.not_valid_before_utc.date().isoformat()})")
            phrases.append(f"chưa có hiệu lực (từ ngày {day})")
    return problems, phrases, expired


def passive_authentication(sod: Sod, groups: dict[int, bytes], cscas: list[x509.Certificate], *,
                           now: dt.datetime | None = None) -> PassiveAuthResult:
    """Check DG hashes, the SOD signature, the Document Signer's chain to a CSCA, and that both
    certificates are valid at ``now`` (the box's corrected clock; default: the system clock).

    Whatever the card's security object holds, the answer is a verdict: a malformed or
    unsupported part makes it unverified, with the reason.
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise ValueError("passive authentication needs an aware time (the box's corrected clock)")
    expected = sod.expected_hashes()
    try:
        hashes_ok = {n: _digest(sod.hash_name, raw) == expected.get(n) for n, raw in groups.items()}
    except ValueError as exc:
        return PassiveAuthResult(verified=False, reason=str(exc), reason_vi="Thuật toán băm của thẻ chưa được hỗ trợ.")
    bad = sorted(n for n, ok in hashes_ok.items() if not ok)
    signature_ok, chain_ok, subject, csca_name, problems = False, False, "", "", []
    dated: list[tuple[str, x509.Certificate]] = []
    try:
        signer = sod.signed_data["signer_infos"][0]
        cert = _signer_certificate(sod.signed_data, signer)
        subject = cert.subject.rfc4514_string()
        attrs = signer["signed_attrs"]
        if attrs:
            content_type = _single_value(attrs, "content_type")
            digest = _single_value(attrs, "message_digest").native
            if content_type.dotted != LDS_SECURITY_OBJECT_OID:
                raise ValueError("signed attributes name another content type")
            if digest != _digest(signer["digest_algorithm"]["algorithm"].native, sod.encap_bytes):
                raise ValueError("the message digest does not match the LDSSecurityObject")
            message = b"\x31" + attrs.dump()[1:]  # signed over the DER SET OF, not the [0] tag
        else:
            message = sod.encap_bytes
        _verify_signature(cert, signer, message)
        signature_ok = True
        dated.append(("Document Signer", cert))
        csca = _issuing_csca(cert, cscas, now)
        if csca is None:
            problems.append("no CSCA certificate issued the Document Signer")
        else:
            chain_ok, csca_name = True, csca.subject.rfc4514_string()
            dated.append(("CSCA", csca))
    except InvalidSignature:
        problems.append("the SOD signature does not verify")
    except _MALFORMED as exc:
        problems.append(f"SOD signature check failed: {exc}")
    date_problems, date_phrases, expired = _date_problems(dated, now)
    dates_ok = bool(dated) and not date_problems
    problems.extend(date_problems)
    if bad:
        problems.insert(0, f"hash mismatch for DG{', DG'.join(map(str, bad))}")
    verified = signature_ok and chain_ok and dates_ok and not bad and bool(hashes_ok)
    if verified:
        reason, reason_vi = "verified", "Dữ liệu chip đã được xác thực (chữ ký số hợp lệ)."
    elif bad:
        reason, reason_vi = "; ".join(problems), "Dữ liệu chip bị thay đổi (mã băm không khớp): CHƯA XÁC THỰC."
    elif signature_ok and not chain_ok:
        reason, reason_vi = "; ".join(problems), "Không xác minh được chứng thư của cơ quan cấp thẻ (CSCA): dữ liệu CHƯA XÁC THỰC."
    elif signature_ok and date_problems:
        reason = "; ".join(problems)
        reason_vi = (f"Chứng thư số của thẻ {'; '.join(date_phrases)}"
                     + (": thẻ có thể đã hết hạn sử dụng" if expired else ": hãy kiểm tra đồng hồ của máy")
                     + "; dữ liệu CHƯA XÁC THỰC.")
    else:
        reason, reason_vi = "; ".join(problems) or "no data group checked", "Chữ ký số trên chip không hợp lệ: dữ liệu CHƯA XÁC THỰC."
    logger.info("passive authentication: verified=%s hashes_ok=%s signature_ok=%s chain_ok=%s dates_ok=%s",
                verified, {k: v for k, v in hashes_ok.items()}, signature_ok, chain_ok, dates_ok)
    return PassiveAuthResult(verified=verified, reason=reason, reason_vi=reason_vi, hashes_ok=hashes_ok,
                             signature_ok=signature_ok, chain_ok=chain_ok, dates_ok=dates_ok, expired=expired,
                             signer=subject, csca=csca_name)
